// Command testtable reads `go test -json` on stdin, prints the tests' own
// output as `go test -v` would, and ends with a table: each top-level test's
// duration (slowest first), the counts of passed, failed and skipped tests
// and subtests, and why each skipped one was skipped. CI runs the e2e suite
// through it, so that a test that grew slower, or one that quietly stopped
// running, shows in the log.
//
//	go test -json ./tests/e2e/ | go run ./hack/testtable
//
// Its exit code is 1 when a test failed or the stream held no result at all;
// the caller keeps `go test`'s own status with pipefail.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Elapsed float64
	Output  string
}

type result struct {
	name    string
	action  string // pass, fail or skip
	elapsed time.Duration
	ran     time.Duration // a parallel test's own time, without its wait for its turn (0: elapsed)
	reason  string        // the skip's message
}

// laneLine is what the e2e suite logs when a test that ran in a lane ends:
// go test's elapsed time of a parallel test counts its wait too.
var laneLine = regexp.MustCompile(`lane \S+: ran (\S+)`)

// tail keeps a test's last few output lines: a skip's reason is the line
// that t.Skip logs just before "--- SKIP".
type tail []string

func (t *tail) add(line string) {
	*t = append(*t, line)
	if len(*t) > 4 {
		*t = (*t)[1:]
	}
}

func (t tail) reason() string {
	for i := len(t) - 1; i >= 0; i-- {
		l := strings.TrimSpace(t[i])
		if l == "" || strings.HasPrefix(l, "--- ") || strings.HasPrefix(l, "=== ") {
			continue
		}
		return l
	}
	return "(no reason given)"
}

func main() {
	results, pkgs, err := read(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testtable:", err)
		os.Exit(2)
	}
	failed := summarize(os.Stdout, results, pkgs)
	if failed || len(results) == 0 {
		os.Exit(1)
	}
}

// read echoes the stream's output to w and collects each test's result.
func read(r io.Reader, w io.Writer) ([]result, map[string]result, error) {
	var results []result
	pkgs := map[string]result{}
	tails := map[string]*tail{}
	ran := map[string]time.Duration{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1024*1024), 16*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		var ev event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &ev) != nil {
			fmt.Fprintf(w, "%s\n", line) // not JSON: a build error, say
			continue
		}
		if ev.Output != "" {
			fmt.Fprint(w, ev.Output)
		}
		key := ev.Package + " " + ev.Test
		switch ev.Action {
		case "output":
			if m := laneLine.FindStringSubmatch(ev.Output); m != nil && ev.Test != "" {
				ran[key], _ = time.ParseDuration(m[1])
			}
			if ev.Test != "" {
				tl := tails[key]
				if tl == nil {
					tl = &tail{}
					tails[key] = tl
				}
				tl.add(ev.Output)
			}
		case "pass", "fail", "skip":
			res := result{name: ev.Test, action: ev.Action, elapsed: time.Duration(ev.Elapsed * float64(time.Second)), ran: ran[key]}
			if ev.Test == "" {
				res.name = ev.Package
				pkgs[ev.Package] = res
				continue
			}
			if ev.Action == "skip" && tails[key] != nil {
				res.reason = tails[key].reason()
			}
			delete(tails, key)
			results = append(results, res)
		}
	}
	return results, pkgs, sc.Err()
}

// summarize prints the table and returns whether anything failed.
func summarize(w io.Writer, results []result, pkgs map[string]result) bool {
	var top []result
	count := map[string]int{}
	for _, r := range results {
		count[r.action]++
		if !strings.Contains(r.name, "/") {
			top = append(top, r)
		}
	}
	run := func(r result) time.Duration {
		if r.ran > 0 {
			return r.ran
		}
		return r.elapsed
	}
	sort.SliceStable(top, func(i, j int) bool { return run(top[i]) > run(top[j]) })
	fmt.Fprintln(w, "\n== Test durations (top-level tests, slowest first; of a test in a lane, the time it ran, not its wait)")
	fmt.Fprintf(w, "%-44s %5s %9s %9s\n", "TEST", "", "RAN", "WAITED")
	for _, r := range top {
		fmt.Fprintf(w, "%-44s %5s %9s %9s\n", r.name, strings.ToUpper(r.action), run(r).Round(time.Second), (r.elapsed - run(r)).Round(time.Second))
	}
	names := make([]string, 0, len(pkgs))
	for n := range pkgs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "package %s: %s in %s\n", n, strings.ToUpper(pkgs[n].action), pkgs[n].elapsed.Round(time.Second))
	}
	fmt.Fprintf(w, "== %d passed, %d failed, %d skipped (tests and subtests)\n", count["pass"], count["fail"], count["skip"])
	failed := count["fail"] > 0
	for _, r := range results {
		if r.action == "skip" {
			fmt.Fprintf(w, "skipped %s: %s\n", r.name, r.reason)
		}
	}
	for _, r := range results {
		if r.action == "fail" {
			fmt.Fprintf(w, "FAILED %s (%s)\n", r.name, r.elapsed.Round(time.Second))
		}
	}
	for _, p := range pkgs {
		failed = failed || p.action == "fail"
	}
	return failed
}
