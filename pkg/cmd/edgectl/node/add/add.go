// Package add is `edgectl node add`.
package add

import (
	"fmt"

	"github.com/spf13/cobra"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/pkg/cluster"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/cmdutil"
)

// NewCommand returns `edgectl node add -c NAME --role agent`.
func NewCommand(deps cmdutil.Deps) *cobra.Command {
	var name, role string
	var count int
	cmd := &cobra.Command{
		Use:   "add -c CLUSTER [--role agent] [--count N]",
		Short: "Add nodes to a running cluster",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" {
				return edgeerrors.New(edgeerrors.KindInvalidConfig, "", "--cluster (-c) is required")
			}
			if role != "agent" {
				return edgeerrors.New(edgeerrors.KindInvalidConfig, "add agents for now; servers come with HA (docs/status.md)", "--role %q: only agent is supported yet", role)
			}
			p, err := cluster.NewProvider(deps.Logger())
			if err != nil {
				return err
			}
			for i := 0; i < count; i++ {
				node, err := p.AddAgent(cmd.Context(), name)
				if err != nil {
					return fmt.Errorf("add agent to %q: %w", name, err)
				}
				fmt.Fprintln(deps.Streams.Out, node)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&name, "cluster", "c", "", "cluster to add to")
	cmd.Flags().StringVar(&role, "role", "agent", "node role (agent)")
	cmd.Flags().IntVar(&count, "count", 1, "how many nodes to add")
	return cmd
}
