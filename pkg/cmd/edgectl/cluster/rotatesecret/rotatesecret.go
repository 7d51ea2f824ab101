// Package rotatesecret is `edgectl cluster rotate-secret`.
package rotatesecret

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/edgectl/edgectl/pkg/cluster"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/cmdutil"
)

// NewCommand returns `edgectl cluster rotate-secret NAME`.
func NewCommand(deps cmdutil.Deps) *cobra.Command {
	return &cobra.Command{
		Use:   "rotate-secret NAME",
		Short: "Give the cluster a new server secret and join token; the old one stops working",
		Long: `Give the cluster a new server secret, and with it a new cluster join token (the
one container nodes, new servers and promoted hosts join with).

Each server in turn gets the new secret and restarts (with one server the API is
away for a few seconds); then the agents' token files get the new join token, and
the old bootstrap token is deleted, so that nothing joins with it any more. Nodes
that run are not joined again: each holds its own certificate. Tokens made with
` + "`edgectl token create`" + ` are not touched (` + "`edgectl token delete`" + ` removes them).
After a failure, run it again.`,
		Example: "  edgectl cluster rotate-secret edge",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := cluster.NewProvider(deps.Logger())
			if err != nil {
				return err
			}
			id, err := p.RotateSecret(cmd.Context(), args[0])
			if err != nil {
				return fmt.Errorf("rotate the secret of cluster %q: %w", args[0], err)
			}
			fmt.Fprintf(deps.Streams.Out, "Cluster %q joins with token %s now\n", args[0], id)
			return nil
		},
	}
}
