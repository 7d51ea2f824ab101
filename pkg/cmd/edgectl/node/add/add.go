// Package add is `edgectl node add`.
package add

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/pkg/cluster"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/cmdutil"
)

// NewCommand returns `edgectl node add -c NAME [--role agent|server]`.
func NewCommand(deps cmdutil.Deps) *cobra.Command {
	var name, role string
	var count int
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "add -c CLUSTER [--role agent|server] [--count N] [--wait DUR]",
		Short: "Add nodes to a running cluster",
		Long: `Add agents or servers to a running cluster.

An agent joins with the cluster's join token. A server joins the embedded etcd
cluster (clusters created with --servers 3, or with the server arg cluster-init)
and the load balancer is reloaded to include it. Nodes are added one at a time,
each waited for until its Node is Ready (--wait).`,
		Example: `  edgectl node add -c demo
  edgectl node add -c demo --role server`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" {
				return edgeerrors.New(edgeerrors.KindInvalidConfig, "", "--cluster (-c) is required")
			}
			p, err := cluster.NewProvider(deps.Logger())
			if err != nil {
				return err
			}
			for i := 0; i < count; i++ {
				node, err := p.AddNode(cmd.Context(), name, role, wait)
				if err != nil {
					return fmt.Errorf("add %s to %q: %w", role, name, err)
				}
				fmt.Fprintln(deps.Streams.Out, node)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&name, "cluster", "c", "", "cluster to add to")
	cmd.Flags().StringVar(&role, "role", "agent", "node role: agent or server")
	cmd.Flags().IntVar(&count, "count", 1, "how many nodes to add")
	cmd.Flags().DurationVar(&wait, "wait", 3*time.Minute, "how long to wait for each new node to be Ready (0 = do not wait)")
	return cmd
}
