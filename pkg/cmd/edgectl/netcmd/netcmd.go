// Package netcmd is `edgectl net degrade|heal|show`.
package netcmd

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	netv1 "github.com/edgectl/edgectl/pkg/apis/netem/v1alpha1"
	"github.com/edgectl/edgectl/pkg/cluster"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/cmdutil"
)

// NewCommand returns `edgectl net`.
func NewCommand(deps cmdutil.Deps) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "net",
		Short: "Make node links flaky like edge links: delay, jitter, loss, rate limits",
		Long: `Impair the network links of nodes, for real: packets leaving a degraded node are
delayed, dropped at random or rate-limited inside its network namespace, so its
kubelet, its pod network tunnel and its pods all see a bad link.

It works without the kernel's netem: loss is an iptables statistic rule, delay a
queue (NFQUEUE) that edgelet holds packets in, the rate an HTB class. Effects are
on egress, like tc netem on the node's interface: degrade both ends for a
symmetric link. A node restart heals its link.`,
	}
	cmd.AddCommand(newDegrade(deps), newHeal(deps), newShow(deps))
	return cmd
}

func newDegrade(deps cmdutil.Deps) *cobra.Command {
	var opts cluster.DegradeOptions
	var loss string
	cmd := &cobra.Command{
		Use:   "degrade NODE... [-c CLUSTER] [--delay D] [--jitter J] [--loss PCT] [--rate R] [--to NODE,...]",
		Short: "Impair the links of nodes (replaces any earlier impairment of them)",
		Example: `  edgectl net degrade edgectl-demo-agent-0 --delay 200ms --jitter 50ms --loss 5%
  edgectl net degrade -c demo agent-1 agent-2 --rate 1mbit
  edgectl net degrade -c demo agent-0 --to server-0 --loss 30%   # only its link to the server`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if loss != "" {
				v, err := strconv.ParseFloat(strings.TrimSuffix(loss, "%"), 64)
				if err != nil {
					return edgeerrors.New(edgeerrors.KindInvalidConfig, "", "--loss %q: want a percentage such as 5%% or 0.5", loss)
				}
				opts.Spec.Loss = v
			}
			opts.Nodes = args
			p, err := cluster.NewProvider(deps.Logger())
			if err != nil {
				return err
			}
			if err := p.Degrade(cmd.Context(), opts); err != nil {
				return err
			}
			what := Describe(opts.Spec)
			if len(opts.To) > 0 {
				what += ", to " + strings.Join(opts.To, ", ")
			}
			fmt.Fprintf(deps.Streams.ErrOut, "Degraded %s: %s\n", strings.Join(args, ", "), what)
			return nil
		},
	}
	cmd.Flags().StringVarP(&opts.Cluster, "cluster", "c", "", "cluster of the nodes (then short names such as agent-0 work)")
	cmd.Flags().DurationVar(&opts.Spec.Delay, "delay", 0, "added delay of each outgoing packet")
	cmd.Flags().DurationVar(&opts.Spec.Jitter, "jitter", 0, "the delay varies uniformly by ± this much")
	cmd.Flags().StringVar(&loss, "loss", "", "share of outgoing packets dropped, in percent (5%)")
	cmd.Flags().StringVar(&opts.Spec.Rate, "rate", "", "egress rate limit: 500kbit, 10mbit")
	cmd.Flags().StringSliceVar(&opts.To, "to", nil, "impair only packets to these nodes")
	return cmd
}

func newHeal(deps cmdutil.Deps) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:     "heal [NODE...] [-c CLUSTER]",
		Short:   "Remove the impairment of nodes (every node of the cluster when none is named)",
		Example: "  edgectl net heal edgectl-demo-agent-0\n  edgectl net heal -c demo",
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := cluster.NewProvider(deps.Logger())
			if err != nil {
				return err
			}
			return p.Heal(cmd.Context(), name, args)
		},
	}
	cmd.Flags().StringVarP(&name, "cluster", "c", "", "cluster of the nodes")
	return cmd
}

func newShow(deps cmdutil.Deps) *cobra.Command {
	var name, output string
	cmd := &cobra.Command{
		Use:   "show [-c CLUSTER] [-o json]",
		Short: "Print the link state of every node",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cmdutil.CheckOutput(output); err != nil {
				return err
			}
			p, err := cluster.NewProvider(deps.Logger())
			if err != nil {
				return err
			}
			state, err := p.NetStatus(cmd.Context(), name)
			if err != nil {
				return err
			}
			if output == "json" {
				return cmdutil.PrintJSON(deps.Streams.Out, state)
			}
			tw := tabwriter.NewWriter(deps.Streams.Out, 0, 4, 3, ' ', 0)
			fmt.Fprintln(tw, "NODE\tIP\tLINK\tSINCE")
			for _, s := range state {
				since := "-"
				if !s.Net.Since.IsZero() {
					since = s.Net.Since.Format("15:04:05")
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Node, s.IP, Describe(s.Net), since)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVarP(&name, "cluster", "c", "", "only this cluster")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "table or json")
	return cmd
}

// Describe is a spec in a few words: "delay 200ms ±50ms, loss 5%, rate 1mbit".
func Describe(s netv1.Spec) string {
	var parts []string
	if s.Delay > 0 {
		d := "delay " + s.Delay.String()
		if s.Jitter > 0 {
			d += " ±" + s.Jitter.String()
		}
		parts = append(parts, d)
	}
	if s.Loss > 0 {
		parts = append(parts, "loss "+strconv.FormatFloat(s.Loss, 'f', -1, 64)+"%")
	}
	if s.Rate != "" {
		parts = append(parts, "rate "+s.Rate)
	}
	if len(parts) == 0 {
		return "healthy"
	}
	if len(s.Peers) > 0 {
		parts = append(parts, "to "+strings.Join(s.Peers, ","))
	}
	return strings.Join(parts, ", ")
}
