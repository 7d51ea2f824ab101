// Package startstop is `edgectl cluster start` and `edgectl cluster stop`.
package startstop

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/edgectl/edgectl/pkg/cluster"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/cmdutil"
)

// NewStartCommand returns `edgectl cluster start NAME`.
func NewStartCommand(deps cmdutil.Deps) *cobra.Command {
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "start NAME",
		Short: "Start a stopped cluster and wait until it is usable",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := cluster.NewProvider(deps.Logger())
			if err != nil {
				return err
			}
			if err := p.Start(cmd.Context(), args[0], wait); err != nil {
				return fmt.Errorf("start cluster %q: %w", args[0], err)
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&wait, "wait", 3*time.Minute, "how long to wait for a usable cluster (0 = do not wait)")
	return cmd
}

// NewStopCommand returns `edgectl cluster stop NAME`.
func NewStopCommand(deps cmdutil.Deps) *cobra.Command {
	return &cobra.Command{
		Use:   "stop NAME",
		Short: "Stop a cluster's containers, keeping its state, IPs and volumes",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := cluster.NewProvider(deps.Logger())
			if err != nil {
				return err
			}
			if err := p.Stop(cmd.Context(), args[0]); err != nil {
				return fmt.Errorf("stop cluster %q: %w", args[0], err)
			}
			fmt.Fprintf(deps.Streams.ErrOut, "Stopped cluster %q\n", args[0])
			return nil
		},
	}
}
