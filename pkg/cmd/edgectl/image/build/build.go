// Package build is `edgectl image build`.
package build

import (
	"fmt"

	"github.com/spf13/cobra"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	"github.com/edgectl/edgectl/pkg/build/nodeimage"
	"github.com/edgectl/edgectl/pkg/cluster"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/cmdutil"
	"github.com/edgectl/edgectl/pkg/version"
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
contacted. Inputs are hashed: an unchanged build is a cache hit.

The source tree is the checkout around the current directory, or --source.
A release run outside a checkout fetches its own version's source through
the Go module proxy (go mod download: GOPROXY, GONOSUMDB apply).`,
		Args: cobra.NoArgs,
		Example: `  edgectl image build
  edgectl image build --platform linux/arm64        # edgectl/node:dev-arm64, under qemu
  edgectl image build --platform linux/amd64,linux/arm64 --output oci-tar --file node.tar`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Arch != "" {
				platform = "linux/" + o.Arch
			}
			archs, err := v1alpha1.ParsePlatforms(platform)
			if err != nil {
				return edgeerrors.Wrap(edgeerrors.KindInvalidConfig, "e.g. --platform linux/amd64,linux/arm64", err)
			}
			o.Archs = archs
			logger := deps.Logger()
			p, err := cluster.NewProvider(logger)
			if err != nil {
				return err
			}
			results, err := nodeimage.Build(cmd.Context(), o, p.Runtime(), logger.Writer())
			if err != nil {
				return fmt.Errorf("build node image: %w", err)
			}
			for _, res := range results {
				if res.CacheHit {
					fmt.Fprintf(deps.Streams.ErrOut, "Image %s (%s) is up to date (cache hit, %s)\n", res.Tag, res.Platform, res.Duration.Round(100_000_000))
					continue
				}
				fmt.Fprintf(deps.Streams.ErrOut, "Built %s (%s) in %s: %.0f MB uncompressed, %.0f MB compressed\n", res.Tag, res.Platform,
					res.Duration.Round(1_000_000_000), float64(res.Size)/1e6, float64(res.Compressed)/1e6)
			}
			if o.Output == "oci-tar" {
				fmt.Fprintf(deps.Streams.ErrOut, "Wrote %s\n", o.OutFile)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&o.Tag, "tag", "t", "", "image tag (default "+version.NodeImage()+"); another platform's than the host's gets -ARCH appended, where clusters look for it")
	fs.StringVar(&platform, "platform", v1alpha1.HostPlatform(), "platforms to build, comma-separated: linux/amd64, linux/arm64 (another than the host's is built with qemu and a C cross compiler)")
	fs.StringVar(&o.Arch, "arch", "", "architecture")
	_ = fs.MarkDeprecated("arch", "use --platform linux/ARCH")
	fs.StringVar(&o.Output, "output", "docker", "docker (load into the engine) or oci-tar")
	fs.StringVar(&o.OutFile, "file", "", "file for --output oci-tar (one OCI index for several platforms)")
	fs.StringVar(&o.SourceDir, "source", "", "edgectl source tree (default: the checkout around the current directory; for a release outside one, its source from the Go module proxy)")
	fs.StringVar(&o.CacheDir, "cache-dir", "", "build cache (default: ~/.cache/edgectl/build)")
	fs.StringVar(&o.Mirror, "mirror", nodeimage.DefaultMirror, "Debian package mirror")
	fs.BoolVar(&o.Force, "force", false, "rebuild even when the inputs are unchanged")
	return cmd
}
