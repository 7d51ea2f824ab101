package chartci

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
)

// Stage is one step of a chart's test; each has its exit code
// (docs/exit-codes.md).
type Stage string

// The stages, in the order they run.
const (
	StageLint      Stage = "lint"
	StageCluster   Stage = "cluster"
	StageInstall   Stage = "install"
	StageWait      Stage = "wait"
	StageTest      Stage = "test"
	StageUpgrade   Stage = "upgrade"
	StageUninstall Stage = "uninstall"
)

var stageKinds = map[Stage]edgeerrors.Kind{
	StageLint:      edgeerrors.KindChartLint,
	StageInstall:   edgeerrors.KindChartInstall,
	StageWait:      edgeerrors.KindChartWait,
	StageTest:      edgeerrors.KindChartTest,
	StageUpgrade:   edgeerrors.KindChartUpgrade,
	StageUninstall: edgeerrors.KindChartUninstall,
}

// Case is the result of one stage of one chart.
type Case struct {
	Chart    string        `json:"chart"`
	Stage    Stage         `json:"stage"`
	Name     string        `json:"name"` // e.g. "install (ci/ha-values.yaml)"
	Duration time.Duration `json:"duration"`
	Error    string        `json:"error,omitempty"`
	Skipped  string        `json:"skipped,omitempty"`
	err      error
}

// Report collects the cases of a run; charts run in parallel.
type Report struct {
	mu    sync.Mutex
	Cases []Case `json:"cases"`
}

func (r *Report) add(c Case) {
	if c.err != nil {
		c.Error = c.err.Error()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Cases = append(r.Cases, c)
}

// stageError gives a stage's failure its exit code; an infrastructure
// failure (the cluster) keeps its own.
func stageError(s Stage, chart string, err error) error {
	kind, ok := stageKinds[s]
	if !ok {
		return err
	}
	hint := map[Stage]string{
		StageLint:      "fix what helm lint reports, or bump the chart's version",
		StageInstall:   "the chart does not install: see the error, and the artifacts (--artifacts DIR)",
		StageWait:      "the message names each object that did not get ready and why; the artifacts hold its pods' logs and events",
		StageTest:      "a `helm test` pod failed: its logs are above and in the artifacts",
		StageUpgrade:   "the upgrade from the older chart fails: a changed selector or another immutable field needs a new name or a major version",
		StageUninstall: "something the release made outlives `helm uninstall`: a finalizer, or a resource-policy keep annotation",
	}[s]
	return edgeerrors.Wrap(kind, hint, fmt.Errorf("chart %s, %s: %w", chart, s, err))
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// WriteJUnit writes the report as JUnit XML: a testsuite per chart, a
// testcase per stage.
func (r *Report) WriteJUnit(path string, total time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	all := junitSuites{Name: "edgectl ci chart", Time: seconds(total)}
	index := map[string]int{}
	for _, c := range r.Cases {
		i, ok := index[c.Chart]
		if !ok {
			i = len(all.Suites)
			index[c.Chart] = i
			all.Suites = append(all.Suites, junitSuite{Name: c.Chart})
		}
		s := &all.Suites[i]
		jc := junitCase{Name: c.Name, Classname: "chart." + c.Chart, Time: seconds(c.Duration)}
		switch {
		case c.Error != "":
			jc.Failure = &junitMessage{Message: firstLine(c.Error), Type: string(c.Stage), Text: c.Error}
			s.Failures++
			all.Failures++
		case c.Skipped != "":
			jc.Skipped = &junitMessage{Message: c.Skipped}
			s.Skipped++
			all.Skipped++
		}
		s.Tests++
		all.Tests++
		d, _ := time.ParseDuration(s.Time + "s")
		s.Time = seconds(d + c.Duration)
		s.Cases = append(s.Cases, jc)
	}
	for i := range all.Suites {
		if all.Suites[i].Time == "" {
			all.Suites[i].Time = seconds(0)
		}
	}
	out, err := xml.MarshalIndent(all, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte(xml.Header), append(out, '\n')...), 0o644)
}

func firstLine(s string) string {
	for i, c := range s {
		if c == '\n' {
			return s[:i]
		}
	}
	return s
}
