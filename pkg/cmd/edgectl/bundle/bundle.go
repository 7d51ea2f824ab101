// Package bundle is `edgectl bundle build`.
package bundle

import (
	"fmt"

	"github.com/spf13/cobra"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	"github.com/edgectl/edgectl/pkg/build/nodeimage"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/cmdutil"
)

// NewCommand returns `edgectl bundle` with its build subcommand.
func NewCommand(deps cmdutil.Deps) *cobra.Command {
	cmd := &cobra.Command{Use: "bundle", Short: "Build board bundles: a node for a plain Debian host, offline"}
	cmd.AddCommand(newBuildCommand(deps))
	return cmd
}

func newBuildCommand(deps cmdutil.Deps) *cobra.Command {
	o := nodeimage.Options{}
	var platform, file string
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Write the board bundle of a platform: edgelet, containerd, runc, CNI, system images, unit, install scripts",
		Long: `Write one tarball that a plain Debian or Raspberry Pi OS host with systemd
needs to run an edgectl node, with no registry: edgelet, containerd, runc, the
CNI plugins, the offline system images, the systemd unit, and install.sh and
uninstall.sh. The binaries are built from edgectl's source tree, as for the
node image, and share its build cache.`,
		Example: `  edgectl bundle build --platform linux/arm64 -o edgectl-arm64.tar.gz
  edgectl bundle build --platform linux/arm64 --role agent   # a board that joins as an agent
  tar -xzf edgectl-arm64.tar.gz && sudo edgectl-bundle-linux-arm64/install.sh`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			archs, err := v1alpha1.ParsePlatforms(platform)
			if err == nil && len(archs) > 1 {
				err = fmt.Errorf("--platform %q: a bundle is for one platform", platform)
			}
			if err != nil {
				return edgeerrors.Wrap(edgeerrors.KindInvalidConfig, "e.g. --platform linux/arm64; run once per platform", err)
			}
			arch := archs[0]
			o.Arch = arch
			if file == "" {
				file = nodeimage.BundleDir(arch) + ".tar.gz"
				if o.Role == nodeimage.RoleAgent {
					file = nodeimage.BundleDir(arch) + "-agent.tar.gz"
				}
			}
			res, err := nodeimage.Bundle(cmd.Context(), o, file, deps.Logger().Writer())
			if err != nil {
				return fmt.Errorf("build bundle: %w", err)
			}
			fmt.Fprintf(deps.Streams.ErrOut, "Wrote %s in %s: %.1f MB (%.0f MB uncompressed)\n", res.File,
				res.Duration.Round(1_000_000_000), float64(res.Size)/1e6, float64(res.Uncompressed)/1e6)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&platform, "platform", v1alpha1.HostPlatform(), "platform of the bundle: linux/amd64 or linux/arm64")
	fs.StringVarP(&file, "output", "o", "", "file to write (default edgectl-bundle-linux-ARCH[-agent].tar.gz)")
	fs.StringVar(&o.Role, "role", nodeimage.RoleServer, "server (its edgelet runs servers and agents) or agent (agents only: a smaller edgelet, for boards that join)")
	fs.StringVar(&o.SourceDir, "source", "", "edgectl source tree (default: found from the current directory)")
	fs.StringVar(&o.CacheDir, "cache-dir", "", "build cache (default: ~/.cache/edgectl/build)")
	return cmd
}
