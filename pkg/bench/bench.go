// Package bench is `edgectl bench`: what a user waits for and what the
// nodes cost, measured by running edgectl itself as a user does (its
// commands' wall time, as `time edgectl ...` reads it) and by reading the
// nodes (their cgroups' CPU time, their processes' memory).
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/pkg/cluster"
)

// Scenarios are what a bench can run, in the order it runs them in each
// round.
var Scenarios = []string{"create", "agents", "ha", "image"}

// Options of a bench.
type Options struct {
	// Edgectl is the binary whose commands are timed (default: this one).
	Edgectl string
	// Runs is how many rounds each scenario runs (the figures are their
	// median, min and max).
	Runs int
	// Only limits the scenarios (default: all of Scenarios).
	Only []string
	// Idle is how long a cluster runs before its memory is read.
	Idle time.Duration
	// Prefix starts the names of the bench's clusters (PREFIX-1, ...).
	Prefix string
	// Image is the node image (default: edgectl's default).
	Image string
}

func (o *Options) complete() error {
	if o.Edgectl == "" {
		self, err := os.Executable()
		if err != nil {
			return err
		}
		o.Edgectl = self
	}
	if o.Runs < 1 {
		return edgeerrors.New(edgeerrors.KindInvalidConfig, "", "--runs %d: must be 1 or more", o.Runs)
	}
	if o.Prefix == "" {
		o.Prefix = "bench"
	}
	if len(o.Only) == 0 {
		o.Only = Scenarios
	}
	for _, s := range o.Only {
		if !slices.Contains(Scenarios, s) {
			return edgeerrors.New(edgeerrors.KindInvalidConfig, "", "--only %q: must be among %s", s, strings.Join(Scenarios, ", "))
		}
	}
	return nil
}

// Figure is one measure over the runs.
type Figure struct {
	Key    string    `json:"key"`
	Name   string    `json:"name"`
	Unit   string    `json:"unit"`
	Goal   float64   `json:"goal,omitempty"` // at most; 0 is none
	Runs   []float64 `json:"runs,omitempty"`
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	// Note says why a figure has no runs.
	Note string `json:"note,omitempty"`
}

// Report is a bench's result.
type Report struct {
	Date       string   `json:"date"`
	Edgectl    string   `json:"edgectl"`
	Kubernetes string   `json:"kubernetes"`
	Image      string   `json:"image"`
	Engine     string   `json:"engine"`
	CPUs       int      `json:"cpus"`
	Runs       int      `json:"runs"`
	Figures    []Figure `json:"figures"`
}

// Figure returns the figure of key, or nil.
func (r *Report) Figure(key string) *Figure {
	for i := range r.Figures {
		if r.Figures[i].Key == key {
			return &r.Figures[i]
		}
	}
	return nil
}

// figures are every figure a bench reports, in the order of its table,
// with the goals (this machine, add-ons on).
var figures = []Figure{
	{Key: "create-1", Name: "create, 1 server, to usable", Unit: "s", Goal: 6},
	{Key: "create-1-cpu", Name: "CPU time of that create (nodes + edgectl)", Unit: "CPU-s", Goal: 5},
	{Key: "create-1+3", Name: "create, 1 server + 3 agents, to usable", Unit: "s", Goal: 8},
	{Key: "create-ha", Name: "create, 3 servers + 1 agent (HA), to usable", Unit: "s", Goal: 20},
	{Key: "node-add", Name: "node add (agent), to Ready", Unit: "s"},
	{Key: "delete-1+1", Name: "delete, 1 server + 1 agent", Unit: "s"},
	{Key: "delete-1+3", Name: "delete, 1 server + 3 agents", Unit: "s"},
	{Key: "delete-ha", Name: "delete, 3 servers + 1 agent", Unit: "s"},
	{Key: "server-rss", Name: "server node alone at idle, RSS", Unit: "MB", Goal: 300},
	{Key: "server-pss", Name: "server node alone at idle, PSS", Unit: "MB"},
	{Key: "agent-rss", Name: "agent node at idle (of 1 + 3), RSS", Unit: "MB", Goal: 100},
	{Key: "agent-pss", Name: "agent node at idle (of 1 + 3), PSS", Unit: "MB"},
	{Key: "image-build-cached", Name: "image build, cached", Unit: "s"},
	{Key: "image-size", Name: "node image, uncompressed", Unit: "MB", Goal: 250},
	{Key: "image-compressed", Name: "node image, compressed (gzip)", Unit: "MB", Goal: 100},
}

// runner is a bench under way.
type runner struct {
	opts     Options
	p        *cluster.Provider
	progress io.Writer
	samples  map[string][]float64
	notes    map[string]string
	dir      string // kubeconfig and other scratch files
	// defaultImage is the node image of the edgectl under test.
	defaultImage string
}

// Run runs the bench: each scenario of opts once per round, opts.Runs
// rounds, and reports every figure. Progress goes to progress. The
// clusters it makes are deleted however it ends.
func Run(ctx context.Context, p *cluster.Provider, opts Options, progress io.Writer) (*Report, error) {
	if err := opts.complete(); err != nil {
		return nil, err
	}
	r := &runner{opts: opts, p: p, progress: progress, samples: map[string][]float64{}, notes: map[string]string{}}
	for _, name := range r.clusterNames() {
		nodes, err := p.Nodes(ctx, name)
		if err != nil {
			return nil, err
		}
		if len(nodes) > 0 {
			return nil, fmt.Errorf("a cluster named %s exists: the bench makes and deletes clusters of that name; delete it, or pass --prefix", name)
		}
	}
	dir, err := os.MkdirTemp("", "edgectl-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	r.dir = dir
	info, err := p.Runtime().Info(ctx)
	if err != nil {
		return nil, err
	}
	report := &Report{Date: time.Now().UTC().Format(time.RFC3339),
		Engine: info.Name + " " + info.Version, CPUs: goruntime.NumCPU(), Runs: opts.Runs}
	var v struct{ Edgectl, Kubernetes, NodeImage string }
	out, err := exec.CommandContext(ctx, opts.Edgectl, "version", "-o", "json").Output()
	if err != nil {
		return nil, fmt.Errorf("%s version: %w", opts.Edgectl, err)
	}
	if err := json.Unmarshal(out, &v); err != nil {
		return nil, fmt.Errorf("%s version -o json: %w", opts.Edgectl, err)
	}
	report.Edgectl, report.Kubernetes, r.defaultImage = v.Edgectl, v.Kubernetes, v.NodeImage
	report.Image = r.imageRef()
	for round := 1; round <= opts.Runs; round++ {
		for _, s := range Scenarios {
			if !slices.Contains(opts.Only, s) {
				continue
			}
			r.logf("round %d/%d: %s", round, opts.Runs, s)
			if err := r.scenario(ctx, s, round); err != nil {
				return nil, fmt.Errorf("%s (round %d): %w", s, round, err)
			}
		}
	}
	for _, f := range figures {
		runs := r.samples[f.Key]
		if len(runs) == 0 && r.notes[f.Key] == "" {
			continue
		}
		f.Runs, f.Note = runs, r.notes[f.Key]
		f.Median, f.Min, f.Max = stats(runs)
		report.Figures = append(report.Figures, f)
	}
	return report, nil
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.progress, " • "+format+"\n", args...)
}

func (r *runner) add(key string, v float64) { r.samples[key] = append(r.samples[key], v) }

func (r *runner) clusterNames() []string {
	return []string{r.opts.Prefix + "-1", r.opts.Prefix + "-1-3", r.opts.Prefix + "-ha"}
}

func (r *runner) scenario(ctx context.Context, s string, round int) error {
	names := r.clusterNames()
	switch s {
	case "create":
		return r.withCluster(ctx, names[0], 1, 0, "create-1", func(created result) error {
			cpu, err := r.clusterCPU(ctx, names[0])
			if err != nil {
				return err
			}
			r.add("create-1-cpu", created.CPU+cpu)
			server, _, err := r.idleMemory(ctx, names[0])
			if err != nil {
				return err
			}
			r.add("server-rss", server.RSS)
			r.add("server-pss", server.PSS)
			added, err := r.edgectl(ctx, "node", "add", "-c", names[0])
			if err != nil {
				return err
			}
			r.add("node-add", added.Wall)
			return nil
		}, "delete-1+1")
	case "agents":
		return r.withCluster(ctx, names[1], 1, 3, "create-1+3", func(result) error {
			_, agent, err := r.idleMemory(ctx, names[1])
			if err != nil {
				return err
			}
			r.add("agent-rss", agent.RSS)
			r.add("agent-pss", agent.PSS)
			return nil
		}, "delete-1+3")
	case "ha":
		return r.withCluster(ctx, names[2], 3, 1, "create-ha", func(result) error { return nil }, "delete-ha")
	case "image":
		return r.image(ctx, round)
	}
	return fmt.Errorf("unknown scenario %q", s)
}

// result is one edgectl command's cost.
type result struct {
	Wall float64 // seconds
	CPU  float64 // CPU seconds of the edgectl process
}

// edgectl runs the edgectl under test, as a user would, with the bench's
// kubeconfig.
func (r *runner) edgectl(ctx context.Context, args ...string) (result, error) {
	res, err := r.edgectlOutput(ctx, args...)
	return res.result, err
}

// output is a command's cost and what it printed.
type output struct {
	result
	out string
}

func (r *runner) edgectlOutput(ctx context.Context, args ...string) (output, error) {
	cmd := exec.CommandContext(ctx, r.opts.Edgectl, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+filepath.Join(r.dir, "kubeconfig"))
	start := time.Now()
	out, err := cmd.CombinedOutput()
	wall := time.Since(start).Seconds()
	if err != nil {
		return output{}, fmt.Errorf("edgectl %s: %w\n%s", strings.Join(args, " "), err, tail(out))
	}
	st := cmd.ProcessState
	return output{result{Wall: wall, CPU: (st.UserTime() + st.SystemTime()).Seconds()}, string(out)}, nil
}

// withCluster creates a cluster of servers and agents (timed as createKey),
// runs measure on it, and deletes it (timed as deleteKey). A failure
// deletes it too, untimed.
func (r *runner) withCluster(ctx context.Context, name string, servers, agents int, createKey string, measure func(result) error, deleteKey string) (err error) {
	args := []string{"cluster", "create", name, "--servers", strconv.Itoa(servers), "--agents", strconv.Itoa(agents), "--no-switch-context"}
	if r.opts.Image != "" {
		args = append(args, "--image", r.opts.Image)
	}
	deleted := false
	defer func() {
		if !deleted {
			// Whatever happened, and even when ctx ended: no cluster left.
			dctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if _, derr := r.edgectl(dctx, "cluster", "delete", name); derr != nil {
				err = errors.Join(err, derr)
			}
		}
	}()
	created, err := r.edgectl(ctx, args...)
	if err != nil {
		return err
	}
	r.add(createKey, created.Wall)
	r.logf("%s: created in %.1f s", name, created.Wall)
	if err := measure(created); err != nil {
		return err
	}
	del, err := r.edgectl(ctx, "cluster", "delete", name)
	deleted = err == nil
	if err != nil {
		return err
	}
	r.add(deleteKey, del.Wall)
	return nil
}

// idleMemory lets the cluster idle for opts.Idle, then reads its memory.
func (r *runner) idleMemory(ctx context.Context, cluster string) (server, agent Memory, err error) {
	if r.opts.Idle > 0 {
		r.logf("idle for %s before reading memory", r.opts.Idle)
		select {
		case <-ctx.Done():
			return server, agent, ctx.Err()
		case <-time.After(r.opts.Idle):
		}
	}
	return r.memory(ctx, cluster)
}

// cpuScript prints the CPU time (ns) of the node's cgroup: every process of
// the node since its container started (cgroup v1, else v2).
const cpuScript = `cat /sys/fs/cgroup/cpuacct/cpuacct.usage 2>/dev/null ||
awk '$1 == "usage_usec" {printf "%.0f\n", $2 * 1000}' /sys/fs/cgroup/cpu.stat`

// clusterCPU is the CPU seconds every container of a cluster (its nodes and
// its load balancer) used so far.
func (r *runner) clusterCPU(ctx context.Context, name string) (float64, error) {
	nodes, err := r.p.Nodes(ctx, name)
	if err != nil {
		return 0, err
	}
	var total float64
	for _, n := range nodes {
		res, err := r.p.Runtime().Exec(ctx, n.Name, []string{"sh", "-c", cpuScript}, nil)
		if err != nil || res.ExitCode != 0 {
			return 0, fmt.Errorf("read the CPU time of %s: %v %s", n.Name, err, res.Stderr)
		}
		ns, err := strconv.ParseFloat(strings.TrimSpace(res.Stdout), 64)
		if err != nil {
			return 0, fmt.Errorf("CPU time of %s: %q: %w", n.Name, res.Stdout, err)
		}
		total += ns / 1e9
	}
	return total, nil
}

func stats(v []float64) (median, lo, hi float64) {
	if len(v) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(v)
	sort.Float64s(s)
	median = s[len(s)/2]
	if len(s)%2 == 0 {
		median = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return median, s[0], s[len(s)-1]
}

func tail(out []byte) string {
	s := strings.TrimSpace(string(out))
	if len(s) > 2000 {
		s = "..." + s[len(s)-2000:]
	}
	return s
}
