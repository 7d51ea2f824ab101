package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStats(t *testing.T) {
	for _, c := range []struct {
		in            []float64
		med, min, max float64
	}{
		{[]float64{3, 1, 2}, 2, 1, 3},
		{[]float64{4, 1, 2, 3}, 2.5, 1, 4},
		{[]float64{7}, 7, 7, 7},
	} {
		med, lo, hi := stats(c.in)
		if med != c.med || lo != c.min || hi != c.max {
			t.Errorf("stats(%v) = %v %v %v, want %v %v %v", c.in, med, lo, hi, c.med, c.min, c.max)
		}
	}
}

func TestParseMemory(t *testing.T) {
	m, err := parseMemory("Rss: 102400\nPss: 51200\nRss: 20480\nPss: 20480\n")
	if err != nil || m.RSS != 120 || m.PSS != 70 {
		t.Errorf("parseMemory = %+v %v, want RSS 120, PSS 70", m, err)
	}
	// No process found is no figure, not 0 MB; nor is edgelet alone.
	for _, out := range []string{"", "Rss: 102400\nPss: 51200\n"} {
		if _, err := parseMemory(out); err == nil {
			t.Errorf("%q parsed: edgelet and containerd were not both there", out)
		}
	}
	if _, err := parseMemory("Rss: 1\nRss: x\n"); err == nil {
		t.Error("a bad number parsed")
	}
}

func report(figs ...Figure) *Report {
	r := &Report{Date: "2026-12-07T00:00:00Z", Edgectl: "dev", Runs: 3}
	for _, f := range figs {
		f.Median, f.Min, f.Max = stats(f.Runs)
		r.Figures = append(r.Figures, f)
	}
	return r
}

func TestCompare(t *testing.T) {
	base := report(Figure{Key: "create-1", Name: "create", Unit: "s", Goal: 6, Runs: []float64{5, 5.2, 5.4}},
		Figure{Key: "server-rss", Name: "rss", Unit: "MB", Runs: []float64{290, 291, 292}})
	// Within the noise of the runs (spread 0.4 s): not worse.
	if worse := Compare(report(Figure{Key: "create-1", Name: "create", Unit: "s", Goal: 6, Runs: []float64{5.3, 5.5, 5.6}}), base); len(worse) != 0 {
		t.Errorf("within the noise: %v", worse)
	}
	// Beyond it, and past the goal.
	worse := Compare(report(Figure{Key: "create-1", Name: "create", Unit: "s", Goal: 6, Runs: []float64{6.4, 6.5, 6.6}},
		Figure{Key: "server-rss", Name: "rss", Unit: "MB", Runs: []float64{300, 301, 302}}), base)
	want := []string{"create: 6.50 s misses its goal (≤ 6 s)", "create: 6.50 s, worse than the recorded 5.20 s by 1.30 s (noise 0.40 s)",
		"rss: 301 MB, worse than the recorded 291 MB by 10 MB (noise 2 MB)"}
	if strings.Join(worse, "\n") != strings.Join(want, "\n") {
		t.Errorf("Compare =\n%s\nwant\n%s", strings.Join(worse, "\n"), strings.Join(want, "\n"))
	}
	// Better is not reported; no baseline checks goals only.
	if worse := Compare(report(Figure{Key: "create-1", Name: "create", Unit: "s", Goal: 6, Runs: []float64{4}}), base); len(worse) != 0 {
		t.Errorf("a better figure reported: %v", worse)
	}
	if worse := Compare(report(Figure{Key: "create-1", Name: "create", Unit: "s", Goal: 6, Runs: []float64{7}}), nil); len(worse) != 1 {
		t.Errorf("no baseline: %v", worse)
	}
}

func TestWriteMarkdown(t *testing.T) {
	file := filepath.Join(t.TempDir(), "b.md")
	doc := "# B\n\nbefore\n" + MarkBegin + "\nold table\n" + MarkEnd + "\nafter\n"
	if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	r := report(Figure{Key: "create-1", Name: "create, 1 server", Unit: "s", Goal: 6, Runs: []float64{5, 7, 8}},
		Figure{Key: "image-build-cached", Name: "image build, cached", Unit: "s", Note: "not measured"})
	if err := WriteMarkdown(file, r); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(file)
	got := string(data)
	for _, want := range []string{"before\n" + MarkBegin + "\n`make bench`", "| create, 1 server | **7.00 s** (missed) | 5.00 s – 8.00 s | ≤ 6 s |",
		"| image build, cached | – | not measured |  |", MarkEnd + "\nafter\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("the Markdown lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "old table") {
		t.Errorf("the old section is still there:\n%s", got)
	}
	if err := os.WriteFile(file, []byte("no markers"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteMarkdown(file, r); err == nil || !strings.Contains(err.Error(), "no section") {
		t.Errorf("a file without markers: %v", err)
	}
}

func TestOptions(t *testing.T) {
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{Runs: 0}, "--runs 0"},
		{Options{Runs: 1, Only: []string{"nope"}}, `--only "nope"`},
	} {
		if err := c.o.complete(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.o, err, c.want)
		}
	}
	o := Options{Runs: 1}
	if err := o.complete(); err != nil || len(o.Only) != len(Scenarios) || o.Prefix != "bench" || o.Edgectl == "" {
		t.Errorf("defaults: %+v %v", o, err)
	}
}
