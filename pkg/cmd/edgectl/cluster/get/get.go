// Package get is `edgectl cluster get`.
package get

import (
	"github.com/spf13/cobra"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/pkg/cluster"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/cmdutil"
)

// NewCommand returns `edgectl cluster get NAME`.
func NewCommand(deps cmdutil.Deps) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "get NAME",
		Short: "Show a cluster's nodes, addresses and state",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			nodes, err := cmdutil.Nodes(cmd.Context(), deps, args[0], output)
			if err != nil {
				return err
			}
			if len(nodes) == 0 {
				return edgeerrors.New(edgeerrors.KindNotFound, "see `edgectl cluster list`", "cluster %q not found", args[0])
			}
			if output == "json" {
				return cmdutil.PrintJSON(deps.Streams.Out, map[string]any{"name": args[0], "context": cluster.Context(args[0]), "nodes": nodes})
			}
			return cmdutil.PrintNodes(deps.Streams.Out, nodes)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: table or json")
	return cmd
}
