// Package chartci tests Helm charts on throw-away clusters, as chart-testing
// does on kind, in one command: lint, install per ci/*-values.yaml, wait
// (with the reason an object is not ready), helm test, upgrade from an older
// chart, and uninstall with a check for leftovers. Each stage has its own
// exit code; results go to JUnit XML and failures to an artifacts tarball.
package chartci

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/internal/log"
	"github.com/edgectl/edgectl/pkg/cluster"
)

// Options are the flags of `edgectl ci chart`.
type Options struct {
	Charts []Chart
	// Cluster is an existing cluster to test on; "" creates one per chart
	// and deletes it at the end.
	Cluster  string
	Parallel int
	// Wait bounds each wait: for the workloads, for `helm test`, for the
	// leftovers to go.
	Wait time.Duration
	// TargetBranch is the git revision for the version-bump check and,
	// with Upgrade, the chart to upgrade from. "" skips both.
	TargetBranch string
	Upgrade      bool
	// UpgradeFrom is a chart repository URL or an oci:// location whose
	// newest release of each chart is upgraded from.
	UpgradeFrom string
	// For clusters ci chart creates.
	Image      string
	Agents     int
	Registries []string
	LoadImages []string
	Retain     bool
	// Artifacts, if set, receives a tarball per failed chart.
	Artifacts string
}

// Runner runs the charts of one `ci chart`.
type Runner struct {
	p      *cluster.Provider
	logger *log.Logger
	opts   Options
	report Report
	work   string // temp dir: kubeconfigs, chart cache
}

// NewRunner returns a runner.
func NewRunner(p *cluster.Provider, logger *log.Logger, opts Options) *Runner {
	if opts.Parallel < 1 {
		opts.Parallel = 1
	}
	if opts.Wait <= 0 {
		opts.Wait = 5 * time.Minute
	}
	return &Runner{p: p, logger: logger, opts: opts}
}

// Report is the result so far.
func (r *Runner) Report() *Report { return &r.report }

// Run tests every chart, Parallel at a time, and returns the first
// failure (in chart order) with the exit code of its stage.
func (r *Runner) Run(ctx context.Context) error {
	work, err := os.MkdirTemp("", "edgectl-ci-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	r.work = work
	errs := make([]error, len(r.opts.Charts))
	sem := make(chan struct{}, r.opts.Parallel)
	var wg sync.WaitGroup
	for i, c := range r.opts.Charts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			defer func() { <-sem }()
			errs[i] = r.runChart(ctx, c)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return ctx.Err()
}

// stage runs fn as one case of chart c and logs its result.
func (r *Runner) stage(c Chart, s Stage, name string, fn func() error) error {
	start := time.Now()
	err := fn()
	d := time.Since(start)
	if errors.Is(err, context.Canceled) {
		r.logger.Infof(" - %s: %s interrupted", c.Name, name)
		return edgeerrors.Wrap(edgeerrors.KindInterrupted, "", fmt.Errorf("interrupted during %s of chart %s", name, c.Name))
	}
	r.report.add(Case{Chart: c.Name, Stage: s, Name: name, Duration: d, err: err})
	mark := "✓"
	if err != nil {
		mark = "✗"
	}
	r.logger.Infof(" %s %s: %s (%s)", mark, c.Name, name, d.Round(100*time.Millisecond))
	if err != nil {
		return stageError(s, c.Name, err)
	}
	return nil
}

func (r *Runner) skip(c Chart, s Stage, name, why string) {
	r.report.add(Case{Chart: c.Name, Stage: s, Name: name, Skipped: why})
	r.logger.Infof(" - %s: %s skipped: %s", c.Name, name, why)
}

func (r *Runner) runChart(ctx context.Context, c Chart) error {
	if err := r.stage(c, StageLint, "lint", func() error { return lint(c, r.opts.TargetBranch) }); err != nil {
		return err
	}
	tc, err := r.cluster(ctx, c)
	if err != nil {
		r.report.add(Case{Chart: c.Name, Stage: StageCluster, Name: "cluster", err: err})
		return err
	}
	defer tc.close()
	err = r.releases(ctx, c, tc)
	if err != nil && len(tc.failed) > 0 && r.opts.Artifacts != "" && ctx.Err() == nil {
		r.saveArtifacts(c, tc, tc.failed[0].ns)
	}
	return err
}

// releases installs c once per values file, then runs the upgrades; it
// stops at the first failure.
func (r *Runner) releases(ctx context.Context, c Chart, tc *testCluster) error {
	files := c.Values
	if len(files) == 0 {
		files = []string{""}
	}
	for _, file := range files {
		ns := namespace(c, valuesName(file), "")
		if err := r.release(ctx, c, tc, file, ns); err != nil {
			return err
		}
	}
	for _, from := range r.upgradeSources() {
		ns := namespace(c, "", "upgrade-"+from.name)
		if err := r.upgradeFrom(ctx, c, tc, from, files[0], ns); err != nil {
			return err
		}
	}
	return nil
}

// saveArtifacts writes DIR/CHART.tar.gz: the failed namespace's events,
// describes and container logs, and the nodes' logs and journals.
func (r *Runner) saveArtifacts(c Chart, tc *testCluster, ns string) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := filepath.Join(r.opts.Artifacts, c.Name)
	_ = os.RemoveAll(dir)
	if err := tc.api.dumpNamespace(ctx, ns, filepath.Join(dir, "namespace-"+ns)); err != nil {
		r.logger.Warnf("artifacts of %s: %v", c.Name, err)
	}
	if _, err := r.p.ExportLogs(ctx, tc.name, filepath.Join(dir, "cluster")); err != nil {
		r.logger.Warnf("node logs of %s: %v", tc.name, err)
	}
	tarball, err := writeTarball(dir)
	if err != nil {
		r.logger.Warnf("artifacts of %s: %v", c.Name, err)
		return
	}
	r.logger.Infof("   artifacts of %s: %s", c.Name, tarball)
}
