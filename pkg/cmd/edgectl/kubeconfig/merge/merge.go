// Package merge is `edgectl kubeconfig merge`.
package merge

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/edgectl/edgectl/pkg/cluster"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/cmdutil"
)

// NewCommand returns `edgectl kubeconfig merge NAME`.
func NewCommand(deps cmdutil.Deps) *cobra.Command {
	var kubeconfig string
	var noSwitch bool
	cmd := &cobra.Command{
		Use:   "merge NAME",
		Short: "Merge a cluster's context into a kubeconfig file (and make it current)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := cluster.NewProvider(deps.Logger())
			if err != nil {
				return err
			}
			path, err := p.MergeKubeconfig(cmd.Context(), args[0], kubeconfig, !noSwitch)
			if err != nil {
				return fmt.Errorf("merge kubeconfig of %q: %w", args[0], err)
			}
			fmt.Fprintf(deps.Streams.ErrOut, "Merged context %s into %s\n", cluster.Context(args[0]), path)
			return nil
		},
	}
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "file to merge into (default: first of $KUBECONFIG, or ~/.kube/config)")
	cmd.Flags().BoolVar(&noSwitch, "no-switch-context", false, "do not make the context current")
	return cmd
}
