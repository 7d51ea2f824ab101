// Package get is `edgectl kubeconfig get`.
package get

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/edgectl/edgectl/pkg/cluster"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/cmdutil"
)

// NewCommand returns `edgectl kubeconfig get NAME`.
func NewCommand(deps cmdutil.Deps) *cobra.Command {
	return &cobra.Command{
		Use:   "get NAME",
		Short: "Print a cluster's kubeconfig (API on the host's published port)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmdutil.PrintFrom(cmd.Context(), deps, func(ctx context.Context, p *cluster.Provider) ([]byte, error) {
				return p.Kubeconfig(ctx, args[0])
			})
		},
	}
}
