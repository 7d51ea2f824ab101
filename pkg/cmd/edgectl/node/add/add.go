// Package add is `edgectl node add`.
package add

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/edgectl/edgectl/pkg/cluster"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/cmdutil"
)

// NewCommand returns `edgectl node add -c NAME [--role agent|server]`.
func NewCommand(deps cmdutil.Deps) *cobra.Command {
	var opts cluster.AddNodeOptions
	var labels, taints []string
	var count int
	cmd := &cobra.Command{
		Use:   "add -c CLUSTER [--role agent|server] [--count N] [--wait DUR]",
		Short: "Add nodes to a running cluster",
		Long: `Add agents or servers to a running cluster.

A new node gets what the cluster's stored spec gives its role (serverArgs or
agentArgs, with their labels, taints and component args), as a node made at
create does; --label and --taint add its own, and the spec records the node.

An agent joins with the cluster's join token. A server joins the embedded etcd
cluster (clusters created with --servers 3, or with the server arg cluster-init)
and the load balancer is reloaded to include it. Nodes are added one at a time,
each waited for until its Node is Ready (--wait).`,
		Example: `  edgectl node add -c demo
  edgectl node add -c demo --role server
  edgectl node add -c demo --label site=shop-7 --taint edge=true:NoSchedule`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cmdutil.RequireCluster(opts.Cluster); err != nil {
				return err
			}
			var err error
			if opts.Labels, err = cmdutil.ParseLabels(labels); err != nil {
				return err
			}
			opts.Taints = taints
			p, err := cluster.NewProvider(deps.Logger())
			if err != nil {
				return err
			}
			for i := 0; i < count; i++ {
				node, err := p.AddNode(cmd.Context(), opts)
				if err != nil {
					return fmt.Errorf("add %s to %q: %w", opts.Role, opts.Cluster, err)
				}
				fmt.Fprintln(deps.Streams.Out, node)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&opts.Cluster, "cluster", "c", "", "cluster to add to")
	cmd.Flags().StringVar(&opts.Role, "role", "agent", "node role: agent or server")
	cmd.Flags().IntVar(&count, "count", 1, "how many nodes to add")
	cmd.Flags().StringArrayVar(&labels, "label", nil, "Kubernetes label key=value of the new node(s) (repeatable); kept in the cluster spec")
	cmd.Flags().StringArrayVar(&taints, "taint", nil, "taint key[=value]:Effect of the new node(s) (repeatable); kept in the cluster spec")
	cmd.Flags().BoolVar(&opts.Retain, "retain", false, "keep a node whose add failed, for debugging")
	cmd.Flags().DurationVar(&opts.Wait, "wait", 3*time.Minute, "how long to wait for each new node to be Ready (0 = do not wait)")
	return cmd
}
