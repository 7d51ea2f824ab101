// Package build is `edgectl image build`.
package build

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	"github.com/edgectl/edgectl/pkg/build/nodeimage"
	"github.com/edgectl/edgectl/pkg/cluster"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/cmdutil"
)

// NewCommand returns `edgectl image build`.
func NewCommand(deps cmdutil.Deps) *cobra.Command {
	o := nodeimage.Options{}
	var platform string
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Build the node image offline (Debian packages and Go modules only)",
		Long: `Build the node image from edgectl's source tree: a Debian rootfs made with
debootstrap, edgelet, containerd, runc and the CNI plugins built from Go
modules, and the offline system images (pause, CoreDNS). No registry is
contacted. Inputs are hashed: an unchanged build is a cache hit.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Arch == "" {
				arch, ok := strings.CutPrefix(platform, "linux/")
				if !ok {
					return edgeerrors.New(edgeerrors.KindInvalidConfig, "e.g. --platform linux/amd64", "--platform %q: must be linux/ARCH", platform)
				}
				o.Arch = arch
			}
			logger := deps.Logger()
			p, err := cluster.NewProvider(logger)
			if err != nil {
				return err
			}
			res, err := nodeimage.Build(cmd.Context(), o, p.Runtime(), logger.Writer())
			if err != nil {
				return fmt.Errorf("build node image: %w", err)
			}
			if res.CacheHit {
				fmt.Fprintf(deps.Streams.ErrOut, "Image %s is up to date (cache hit, %s)\n", res.Tag, res.Duration.Round(100_000_000))
				return nil
			}
			fmt.Fprintf(deps.Streams.ErrOut, "Built %s in %s: %.0f MB uncompressed\n", res.Tag, res.Duration.Round(1_000_000_000), float64(res.Size)/1e6)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&o.Tag, "tag", "t", "", "image tag (default "+nodeimage.DefaultTag+", with -ARCH appended for another platform than the host's)")
	fs.StringVar(&platform, "platform", v1alpha1.HostPlatform(), "platform of the image: linux/amd64 or linux/arm64 (another than the host's is built with qemu and a C cross compiler)")
	fs.StringVar(&o.Arch, "arch", "", "architecture")
	_ = fs.MarkDeprecated("arch", "use --platform linux/ARCH")
	fs.StringVar(&o.Output, "output", "docker", "docker (load into the engine) or oci-tar")
	fs.StringVar(&o.OutFile, "file", "", "file for --output oci-tar")
	fs.StringVar(&o.SourceDir, "source", "", "edgectl source tree (default: found from the current directory)")
	fs.StringVar(&o.CacheDir, "cache-dir", "", "build cache (default: ~/.cache/edgectl/build)")
	fs.StringVar(&o.Mirror, "mirror", nodeimage.DefaultMirror, "Debian package mirror")
	fs.BoolVar(&o.Force, "force", false, "rebuild even when the inputs are unchanged")
	return cmd
}
