package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgectl/edgectl/pkg/bench"
)

// TestBench runs `edgectl bench` as a user does, one round of its create
// scenario with a short idle: every figure comes from a real cluster (a
// create and its CPU time, the server's memory, node add, delete), a
// baseline it beats by far is reported as worse, the JSON it saves is what
// it printed, the Markdown section is rewritten, and no cluster is left.
// The figures themselves are not asserted: `make bench` is where they
// live.
func TestBench(t *testing.T) {
	e := setup(t)
	inLane(t, laneClusters)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := t.TempDir()
	// A baseline no real create can match: 1 ms.
	base, err := json.Marshal(bench.Report{Figures: []bench.Figure{{Key: "create-1", Name: "create, 1 server, to usable",
		Unit: "s", Runs: []float64{0.001}, Median: 0.001, Min: 0.001, Max: 0.001}}})
	if err != nil {
		t.Fatal(err)
	}
	baseline, saved, md := filepath.Join(dir, "base.json"), filepath.Join(dir, "bench.json"), filepath.Join(dir, "b.md")
	if err := os.WriteFile(baseline, base, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(md, []byte("# B\n"+bench.MarkBegin+"\nold\n"+bench.MarkEnd+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	prefixName := prefix + "bench"
	cmd := exec.CommandContext(ctx, edgectlBinary(t), "bench", "--runs", "1", "--only", "create", "--idle", "2s",
		"--prefix", prefixName, "--image", e.image, "-o", "json", "--baseline", baseline, "--save", saved, "--markdown", md)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	t.Logf("bench:\n%s\n%s", stderr.String(), out)
	if err != nil {
		t.Fatalf("edgectl bench: %v", err)
	}
	var r bench.Report
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("bench -o json: %v", err)
	}
	for _, key := range []string{"create-1", "create-1-cpu", "server-rss", "server-pss", "node-add", "delete-1+1"} {
		f := r.Figure(key)
		if f == nil || len(f.Runs) != 1 || f.Runs[0] <= 0 || f.Median != f.Runs[0] {
			t.Errorf("figure %s: %+v, want one run > 0", key, f)
		}
	}
	// Read from the node's processes, so a plausible size: not 0, not a
	// sum over the host.
	if f := r.Figure("server-rss"); f != nil && (f.Median < 50 || f.Median > 4000) {
		t.Errorf("server RSS %.0f MB", f.Median)
	}
	if r.Figure("create-ha") != nil || r.Figure("agent-rss") != nil {
		t.Errorf("--only create measured other scenarios: %+v", r.Figures)
	}
	if !strings.Contains(stderr.String(), "create, 1 server, to usable: ") || !strings.Contains(stderr.String(), "worse than the recorded 0.00 s") {
		t.Errorf("the bench did not report the create as worse than a 1 ms baseline")
	}
	var s bench.Report
	if data, err := os.ReadFile(saved); err != nil || json.Unmarshal(data, &s) != nil || s.Date != r.Date || len(s.Figures) != len(r.Figures) {
		t.Errorf("--save wrote %+v (%v), printed %+v", s, err, r)
	}
	if data, err := os.ReadFile(md); err != nil || strings.Contains(string(data), "old") || !strings.Contains(string(data), "| create, 1 server, to usable | **") {
		t.Errorf("--markdown wrote:\n%s", data)
	}
	for _, name := range []string{prefixName + "-1", prefixName + "-1-3", prefixName + "-ha"} {
		if nodes, err := e.p.Nodes(ctx, name); err != nil || len(nodes) > 0 {
			t.Errorf("the bench left cluster %s: %v %v", name, nodes, err)
		}
	}
}
