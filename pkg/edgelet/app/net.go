package app

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/edgectl/edgectl/pkg/edgelet/netem"
)

// newNetCommand is `edgelet net apply|clear|show`: real impairment of this
// node's link (package netem), which `edgectl net degrade|heal|show` drives.
func newNetCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "net", Short: "Impair this node's network link (delay, jitter, loss, rate)"}
	var s netem.Spec
	apply := &cobra.Command{
		Use:   "apply [--delay D] [--jitter J] [--loss PCT] [--rate R] [--peer IP]...",
		Short: "Replace this node's link impairment",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			self, err := os.Executable()
			if err != nil {
				return err
			}
			return netem.Apply(cmd.Context(), s, self)
		},
	}
	apply.Flags().DurationVar(&s.Delay, "delay", 0, "added one-way delay of outgoing packets")
	apply.Flags().DurationVar(&s.Jitter, "jitter", 0, "delay varies uniformly by ± this much")
	apply.Flags().Float64Var(&s.Loss, "loss", 0, "percent of outgoing packets dropped at random")
	apply.Flags().StringVar(&s.Rate, "rate", "", "egress rate limit (500kbit, 10mbit)")
	apply.Flags().StringSliceVar(&s.Peers, "peer", nil, "impair only packets to these IPs")
	apply.Flags().StringVar(&s.Interface, "interface", "", "link to impair (default: the default route's)")
	clear := &cobra.Command{
		Use: "clear", Short: "Remove this node's link impairment", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return netem.Clear(cmd.Context()) },
	}
	show := &cobra.Command{
		Use: "show", Short: "Print this node's link impairment as JSON ({} when healthy)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cur, err := netem.Current()
			if err != nil {
				return err
			}
			return json.NewEncoder(cmd.OutOrStdout()).Encode(cur)
		},
	}
	var delay, jitter time.Duration
	line := &cobra.Command{
		Use: "delay-line", Short: "Serve the delay queue (started by apply)", Hidden: true, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(os.Stderr, "delay line: %s ± %s\n", delay, jitter)
			return netem.RunDelayLine(cmd.Context(), delay, jitter)
		},
	}
	line.Flags().DurationVar(&delay, "delay", 0, "")
	line.Flags().DurationVar(&jitter, "jitter", 0, "")
	cmd.AddCommand(apply, clear, show, line)
	return cmd
}
