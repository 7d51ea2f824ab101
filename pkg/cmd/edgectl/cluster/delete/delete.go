// Package delete is `edgectl cluster delete`.
package delete

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/pkg/cluster"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/cmdutil"
)

// NewCommand returns `edgectl cluster delete`.
func NewCommand(deps cmdutil.Deps) *cobra.Command {
	var all, strict bool
	var kubeconfig string
	cmd := &cobra.Command{
		Use:     "delete NAME... | --all",
		Aliases: []string{"rm"},
		Short:   "Delete clusters: containers, volumes, network and kubeconfig entries",
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) > 0) {
				return edgeerrors.New(edgeerrors.KindInvalidConfig, "", "give cluster names or --all, not both or neither")
			}
			p, err := cluster.NewProvider(deps.Logger())
			if err != nil {
				return err
			}
			if all {
				if args, err = p.Clusters(cmd.Context()); err != nil {
					return err
				}
			}
			var errs []error
			for _, name := range args {
				err := p.Delete(cmd.Context(), name, kubeconfig)
				var e *edgeerrors.Error
				if err != nil && !strict && errors.As(err, &e) && e.Kind == edgeerrors.KindNotFound {
					// As kind does: a CI cleanup step must not fail on a
					// cluster that is already gone.
					fmt.Fprintf(deps.Logger().Writer(), "Cluster %q not found; nothing to delete\n", name)
					continue
				}
				if err != nil {
					errs = append(errs, fmt.Errorf("delete cluster %q: %w", name, err))
					continue
				}
				fmt.Fprintf(deps.Logger().Writer(), "Deleted cluster %q\n", name) // progress: -q leaves it out
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "A", false, "delete every edgectl cluster")
	cmd.Flags().BoolVar(&strict, "strict", false, "exit 4 when a named cluster does not exist (default: a note, exit 0, as kind does)")
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file to clean (default: first of $KUBECONFIG, or ~/.kube/config)")
	return cmd
}
