// Package list is `edgectl node list`.
package list

import (
	"github.com/spf13/cobra"

	"github.com/edgectl/edgectl/pkg/cmd/edgectl/cmdutil"
)

// NewCommand returns `edgectl node list`.
func NewCommand(deps cmdutil.Deps) *cobra.Command {
	var output, name string
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List node containers (of one cluster with -c)",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			nodes, err := cmdutil.Nodes(cmd.Context(), deps, name, output)
			if err != nil {
				return err
			}
			if output == "json" {
				return cmdutil.PrintJSON(deps.Streams.Out, nodes)
			}
			return cmdutil.PrintNodes(deps.Streams.Out, nodes)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: table or json")
	cmd.Flags().StringVarP(&name, "cluster", "c", "", "only this cluster's nodes")
	return cmd
}
