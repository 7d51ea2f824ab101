// Package get is `edgectl cluster get`.
package get

import (
	"context"

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
		Short: "Show a cluster's nodes, addresses and state, or its stored spec (-o yaml)",
		Long: `Show a cluster's nodes, addresses and state.

-o yaml prints the cluster's stored spec: the whole config it was created
from, with its defaults, subnet and API port filled in and the nodes added
since. ` + "`edgectl cluster create --config`" + ` accepts it and makes the same cluster.`,
		Example: `  edgectl cluster get demo
  edgectl cluster get demo -o yaml > demo.yaml
  edgectl cluster delete demo && edgectl cluster create --config demo.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output == "yaml" {
				return cmdutil.PrintFrom(cmd.Context(), deps, func(ctx context.Context, p *cluster.Provider) ([]byte, error) {
					return p.SpecYAML(ctx, args[0])
				})
			}
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
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: table, json, or yaml (the stored spec)")
	return cmd
}
