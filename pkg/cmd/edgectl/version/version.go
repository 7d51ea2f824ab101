// Package version is `edgectl version`.
package version

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/edgectl/edgectl/pkg/build/nodeimage"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/cmdutil"
	"github.com/edgectl/edgectl/pkg/version"
)

// NewCommand returns `edgectl version`.
func NewCommand(deps cmdutil.Deps) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print edgectl's version and the Kubernetes version of its node image",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := map[string]string{"edgectl": version.Version, "kubernetes": nodeimage.KubernetesVersion,
				"go": runtime.Version(), "platform": runtime.GOOS + "/" + runtime.GOARCH, "nodeImage": version.NodeImage()}
			if output == "json" {
				return cmdutil.PrintJSON(deps.Streams.Out, v)
			}
			fmt.Fprintf(deps.Streams.Out, "edgectl %s (kubernetes %s, %s, %s)\nnode image: %s\n", v["edgectl"], v["kubernetes"], v["go"], v["platform"], v["nodeImage"])
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json")
	return cmd
}
