// Package bench is `edgectl bench`.
package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/pkg/bench"
	"github.com/edgectl/edgectl/pkg/cluster"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/cmdutil"
)

// NewCommand returns `edgectl bench`.
func NewCommand(deps cmdutil.Deps) *cobra.Command {
	var (
		o                        bench.Options
		output                   string
		baseline, save, markdown string
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure create and delete times, CPU, node memory and image size on this machine",
		Long: `Measure what a user of edgectl waits for and what its nodes cost, on this
machine: it runs edgectl's own commands, as you would, and times them.

  create       a 1-server cluster to usable, the CPU time that costs (the nodes'
               cgroups and edgectl), the server's memory at idle, node add, delete
  agents       a 1 + 3 cluster to usable, an agent's memory at idle, delete
  ha           a 3 + 1 cluster (HA) to usable, delete
  image        a cached image build (inside a checkout), the node image's size

Each scenario runs --runs times, interleaved; each figure is the median, min
and max of its runs, with its goal beside it. Memory is the RSS and PSS of
edgelet, containerd and the shims, --idle after the create. The clusters are
named PREFIX-1, PREFIX-1-3 and PREFIX-ha; the bench refuses to start when one
exists, and deletes its own however it ends.

With --baseline (an earlier -o json or --save), it lists each figure worse than
the baseline by more than the spread of either's runs, and each figure that
misses its goal. Timings are measured here, never asserted in tests.`,
		Args: cobra.NoArgs,
		Example: `  edgectl bench
  edgectl bench --only create --runs 5 -o json
  edgectl bench --baseline docs/bench.json --save docs/bench.json --markdown docs/benchmarks.md   # make bench`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cmdutil.CheckOutput(output); err != nil {
				return err
			}
			var base *bench.Report
			if baseline != "" {
				data, err := os.ReadFile(baseline)
				if err != nil && !os.IsNotExist(err) {
					return err
				}
				if err == nil {
					base = &bench.Report{}
					if err := json.Unmarshal(data, base); err != nil {
						return edgeerrors.Wrap(edgeerrors.KindInvalidConfig, "pass the -o json output of an earlier bench", fmt.Errorf("--baseline %s: %w", baseline, err))
					}
				}
			}
			logger := deps.Logger()
			p, err := cluster.NewProvider(logger)
			if err != nil {
				return err
			}
			report, err := bench.Run(cmd.Context(), p, o, logger.Writer())
			if err != nil {
				return fmt.Errorf("bench: %w", err)
			}
			if output == "json" {
				if err := cmdutil.PrintJSON(deps.Streams.Out, report); err != nil {
					return err
				}
			} else if err := bench.PrintTable(deps.Streams.Out, report); err != nil {
				return err
			}
			if worse := bench.Compare(report, base); len(worse) > 0 {
				fmt.Fprintln(deps.Streams.ErrOut, "\nWorse than a goal or than the baseline:")
				for _, w := range worse {
					fmt.Fprintln(deps.Streams.ErrOut, "  - "+w)
				}
			}
			if save != "" {
				f, err := os.Create(save)
				if err != nil {
					return err
				}
				if err := cmdutil.PrintJSON(f, report); err != nil {
					f.Close()
					return err
				}
				if err := f.Close(); err != nil {
					return err
				}
			}
			if markdown != "" {
				return bench.WriteMarkdown(markdown, report)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.IntVar(&o.Runs, "runs", 3, "runs of each scenario (figures are their median, min and max)")
	fs.StringSliceVar(&o.Only, "only", nil, "scenarios to run: create, agents, ha, image (default: all)")
	fs.DurationVar(&o.Idle, "idle", 60*time.Second, "how long a cluster runs before its memory is read")
	fs.StringVar(&o.Prefix, "prefix", "bench", "name prefix of the bench's clusters")
	fs.StringVar(&o.Image, "image", "", "node image (default: edgectl's)")
	fs.StringVarP(&output, "output", "o", "", "output format: table or json")
	fs.StringVar(&baseline, "baseline", "", "an earlier bench's JSON to compare with (a missing file is no baseline)")
	fs.StringVar(&save, "save", "", "write the report as JSON to this file")
	fs.StringVar(&markdown, "markdown", "", "replace the bench section of this Markdown file with the report's table")
	return cmd
}
