// Package delete is `edgectl node delete`.
package delete

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/edgectl/edgectl/pkg/cluster"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/cmdutil"
)

// NewCommand returns `edgectl node delete NODE...`.
func NewCommand(deps cmdutil.Deps) *cobra.Command {
	return &cobra.Command{
		Use:     "delete NODE...",
		Aliases: []string{"rm"},
		Short:   "Drain nodes, delete their Node objects (and etcd members) and remove their containers",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := cluster.NewProvider(deps.Logger())
			if err != nil {
				return err
			}
			var errs []error
			for _, n := range args {
				if err := p.DeleteNode(cmd.Context(), n); err != nil {
					errs = append(errs, fmt.Errorf("delete node %q: %w", n, err))
					continue
				}
				fmt.Fprintf(deps.Streams.ErrOut, "Deleted node %q\n", n)
			}
			return errors.Join(errs...)
		},
	}
}
