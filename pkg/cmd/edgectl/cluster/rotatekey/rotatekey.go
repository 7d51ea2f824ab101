// Package rotatekey is `edgectl cluster rotate-key`.
package rotatekey

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/edgectl/edgectl/pkg/cluster"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/cmdutil"
)

// NewCommand returns `edgectl cluster rotate-key NAME`.
func NewCommand(deps cmdutil.Deps) *cobra.Command {
	return &cobra.Command{
		Use:   "rotate-key NAME",
		Short: "Encrypt the cluster's Secrets at rest with a new key, on every server",
		Long: `Encrypt the cluster's Secrets at rest with a new key, on every server.

Secrets are encrypted at rest by default, with a key made when the cluster
was created. rotate-key replaces it without a moment where one server writes
with a key another cannot read. It runs 'edgelet secrets-encrypt' on every
server in turn: prepare (the new key reads), promote (it writes), rewrite
(every Secret is stored again, once) and drop (the old keys go). Each server
restarts three times, one at a time; with one server the API is away for a
few seconds each time. Every step is idempotent: after a failure, run it
again.`,
		Example: "  edgectl cluster rotate-key demo",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := cluster.NewProvider(deps.Logger())
			if err != nil {
				return err
			}
			key, err := p.RotateKey(cmd.Context(), args[0])
			if err != nil {
				return fmt.Errorf("rotate the key of cluster %q: %w", args[0], err)
			}
			fmt.Fprintf(deps.Streams.Out, "Every Secret of %q is encrypted with %s\n", args[0], key)
			return nil
		},
	}
}
