// Package ci is `edgectl ci`: commands for CI jobs.
package ci

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/pkg/chartci"
	"github.com/edgectl/edgectl/pkg/cluster"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/cmdutil"
	"github.com/edgectl/edgectl/pkg/version"
)

// NewCommand returns `edgectl ci`.
func NewCommand(deps cmdutil.Deps) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ci",
		Short: "Commands for CI jobs: test Helm charts on throw-away clusters",
	}
	cmd.AddCommand(newChartCommand(deps))
	return cmd
}

func newChartCommand(deps cmdutil.Deps) *cobra.Command {
	var opts chartci.Options
	var junit, output string
	cmd := &cobra.Command{
		Use:   "chart PATH...",
		Short: "Lint, install, wait for, test, upgrade and uninstall Helm charts on throw-away clusters",
		Long: `Test Helm charts as chart-testing does on kind, in one command, offline, with
no helm binary. PATH is a chart directory (it holds Chart.yaml) or a directory
of charts. For each chart, in order:

  lint       helm lint with the default values and each ci/*-values.yaml (the
             values schema included); with --target-branch, a changed chart
             must have a higher version than there
  install    once per ci/*-values.yaml (or once with the default values), each
             in its own namespace ci-CHART[-VALUES]
  wait       every Deployment, StatefulSet, DaemonSet, Job and Pod ready, each
             PersistentVolumeClaim a pod uses bound, each LoadBalancer Service
             with an address; a failed Job fails at once; a timeout names every
             object that is not ready and why (conditions, pod states, events)
  test       helm test; a failure prints the test pods' logs
  upgrade    from the chart at --target-branch (--upgrade) and from the newest
             release at --upgrade-from, to this chart, waiting after each
  uninstall  helm uninstall, then nothing the release made may be left

Each chart gets its own cluster (ci-CHART-XXXXX), --parallel at a time, deleted
at the end, also on failure and on Ctrl-C (--retain keeps a failed one), unless
--cluster names one to use. A failure exits with its stage's code: lint 10,
install 11, wait 12, test 13, upgrade 14, uninstall 15 (docs/exit-codes.md).`,
		Example: `  edgectl ci chart ./charts --parallel 2 --junit junit.xml --artifacts artifacts/
  edgectl ci chart ./charts/app --cluster dev --wait 2m
  edgectl ci chart ./charts/app --target-branch origin/main --upgrade \
      --upgrade-from oci://localhost:5001/charts --load-image app:dev`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cmdutil.CheckOutput(output); err != nil {
				return err
			}
			if opts.Upgrade && opts.TargetBranch == "" {
				return edgeerrors.New(edgeerrors.KindInvalidConfig, "name the revision to upgrade from, e.g. --target-branch origin/main",
					"--upgrade needs --target-branch")
			}
			if opts.Cluster != "" && (opts.Agents > 0 || len(opts.Registries) > 0) {
				return edgeerrors.New(edgeerrors.KindInvalidConfig, "drop --agents/--registry, or drop --cluster",
					"--agents and --registry shape the clusters ci chart creates; --cluster uses an existing one")
			}
			charts, err := chartci.Discover(args)
			if err != nil {
				return err
			}
			opts.Charts = charts
			logger := deps.Logger()
			p, err := cluster.NewProvider(logger)
			if err != nil {
				return err
			}
			start := time.Now()
			r := chartci.NewRunner(p, logger, opts)
			runErr := r.Run(cmd.Context())
			if junit != "" {
				if err := r.Report().WriteJUnit(junit, time.Since(start)); err != nil {
					return err
				}
			}
			if output == "json" {
				if err := cmdutil.PrintJSON(deps.Streams.Out, r.Report()); err != nil {
					return err
				}
			}
			if runErr == nil {
				fmt.Fprintf(deps.Streams.ErrOut, "%d chart(s) passed in %s\n", len(charts), time.Since(start).Round(100*time.Millisecond))
			}
			return runErr
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Cluster, "cluster", "c", "", "test on this existing cluster instead of creating one per chart")
	f.IntVar(&opts.Parallel, "parallel", 1, "test this many charts at once, each on its own cluster")
	f.DurationVar(&opts.Wait, "wait", 5*time.Minute, "bound of each wait: workloads ready, helm test, leftovers gone")
	f.StringVar(&opts.TargetBranch, "target-branch", "", "git revision for the version-bump check and --upgrade")
	f.BoolVar(&opts.Upgrade, "upgrade", false, "also upgrade from the chart as it is at --target-branch")
	f.StringVar(&opts.UpgradeFrom, "upgrade-from", "", "also upgrade from the newest release in this chart repository URL or oci:// location")
	f.StringVar(&opts.Image, "image", "", "node image of the clusters it creates (default "+version.NodeImage()+")")
	f.IntVar(&opts.Agents, "agents", 0, "agents of each cluster it creates")
	f.StringSliceVar(&opts.Registries, "registry", nil, "edgectl registries the clusters it creates pull through")
	f.StringSliceVar(&opts.LoadImages, "load-image", nil, "images to copy from the container engine into each cluster")
	f.BoolVar(&opts.Retain, "retain", false, "keep a cluster whose chart failed, for debugging")
	f.StringVar(&junit, "junit", "", "write JUnit XML to this file")
	f.StringVar(&opts.Artifacts, "artifacts", "", "write DIR/CHART.tar.gz for each failed chart: events, describes, container and node logs")
	f.StringVarP(&output, "output", "o", "", "print the results as json")
	return cmd
}
