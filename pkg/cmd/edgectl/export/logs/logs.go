// Package logs is `edgectl export logs`.
package logs

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/edgectl/edgectl/pkg/cluster"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/cmdutil"
)

// NewCommand returns `edgectl export logs NAME [DIR]`.
func NewCommand(deps cmdutil.Deps) *cobra.Command {
	return &cobra.Command{
		Use:   "logs NAME [DIR]",
		Short: "Export every node's container log, journal, edgelet and containerd logs",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := cluster.NewProvider(deps.Logger())
			if err != nil {
				return err
			}
			dir := ""
			if len(args) == 2 {
				dir = args[1]
			}
			out, err := p.ExportLogs(cmd.Context(), args[0], dir)
			if err != nil {
				return err
			}
			fmt.Fprintln(deps.Streams.Out, out)
			return nil
		},
	}
}
