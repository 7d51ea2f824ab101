// Package version is `edgectl version`.
package version

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/edgectl/edgectl/pkg/build/nodeimage"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/cmdutil"
)

// Version is set at link time (-X).
var Version = "dev" //nolint:gochecknoglobals // link-time constant

// NewCommand returns `edgectl version`.
func NewCommand(deps cmdutil.Deps) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print edgectl's version and the Kubernetes version of its node image",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := map[string]string{"edgectl": Version, "kubernetes": nodeimage.KubernetesVersion,
				"go": runtime.Version(), "platform": runtime.GOOS + "/" + runtime.GOARCH}
			if output == "json" {
				return cmdutil.PrintJSON(deps.Streams.Out, v)
			}
			fmt.Fprintf(deps.Streams.Out, "edgectl %s (kubernetes %s, %s, %s)\n", v["edgectl"], v["kubernetes"], v["go"], v["platform"])
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json")
	return cmd
}
