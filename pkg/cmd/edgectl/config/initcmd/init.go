// Package initcmd is `edgectl config init`.
package initcmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/cmdutil"
)

// NewCommand returns `edgectl config init`.
func NewCommand(deps cmdutil.Deps) *cobra.Command {
	return &cobra.Command{
		Use:   "init",
		Short: "Print a fully commented default cluster config",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprint(deps.Streams.Out, v1alpha1.Example)
			return err
		},
	}
}
