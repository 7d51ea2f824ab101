// Package distribute is `edgectl image push` and `edgectl image pull`.
package distribute

import (
	"github.com/spf13/cobra"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	"github.com/edgectl/edgectl/pkg/build/nodeimage"
	"github.com/edgectl/edgectl/pkg/cluster"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/cmdutil"
	"github.com/edgectl/edgectl/pkg/registry"
	"github.com/edgectl/edgectl/pkg/version"
)

// remoteFlags are how both commands reach a registry.
type remoteFlags struct {
	insecure bool
	through  string
}

func (f *remoteFlags) add(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.insecure, "insecure", false, "plain HTTP to a registry that is not on localhost")
	cmd.Flags().StringVar(&f.through, "through", "", "an edgectl registry (with --port) that caches the reference's registry: pull through it")
}

// options resolves the flags for ref.
func (f *remoteFlags) options(cmd *cobra.Command, p *cluster.Provider, ref string) (nodeimage.RemoteOptions, error) {
	o := nodeimage.RemoteOptions{Insecure: f.insecure}
	if f.through == "" {
		return o, nil
	}
	r, err := registry.NewManager(p.Runtime(), nil).Get(cmd.Context(), f.through)
	if err != nil {
		return o, err
	}
	host, _ := nodeimage.RegistryHost(ref)
	o.Transport, err = r.PullThrough(host)
	return o, err
}

// NewPushCommand returns `edgectl image push REF`.
func NewPushCommand(deps cmdutil.Deps) *cobra.Command {
	var local, platforms string
	var rf remoteFlags
	cmd := &cobra.Command{
		Use:   "push REF",
		Short: "Push the node image, every platform built here, to a registry as one multi-platform index",
		Long: `Push the engine's node image to REF as one OCI index: the image of the host's
platform and, when it was built, the other platform's (` + "`edgectl image build --platform`" + `),
and the registry image beside it (REPO/registry:TAG, for ` + "`edgectl registry create`" + `).
A cluster created with --image REF (or with EDGECTL_NODE_IMAGE=REF) on another
machine pulls from it the image of its platform.`,
		Example: `  edgectl image build --platform linux/amd64,linux/arm64
  edgectl image push registry.example.com/edgectl/node:v0.5.0
  edgectl image push localhost:5001/edgectl/node:v0.5.0 --image edgectl/node:dev --platform linux/amd64`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			logger := deps.Logger()
			p, err := cluster.NewProvider(logger)
			if err != nil {
				return err
			}
			var pfs []string
			if platforms == "" {
				// Every platform whose image is in the engine.
				for _, pf := range v1alpha1.Platforms {
					if _, ok, err := p.Runtime().ImageLabel(cmd.Context(), v1alpha1.ImageFor(local, pf), nodeimage.LabelInputs); err == nil && ok {
						pfs = append(pfs, pf)
					}
				}
				if len(pfs) == 0 {
					return edgeerrors.New(edgeerrors.KindImageMissing, "build it with `edgectl image build`", "node image %s is not in the engine", local)
				}
			} else {
				archs, err := v1alpha1.ParsePlatforms(platforms)
				if err != nil {
					return edgeerrors.Wrap(edgeerrors.KindInvalidConfig, "e.g. --platform linux/amd64,linux/arm64", err)
				}
				for _, a := range archs {
					pfs = append(pfs, "linux/"+a)
				}
			}
			o, err := rf.options(cmd, p, args[0])
			if err != nil {
				return err
			}
			if err := nodeimage.Push(cmd.Context(), p.Runtime(), local, pfs, args[0], o, logger.Writer()); err != nil {
				return err
			}
			// The registry image goes beside it, where a release's
			// `registry create` pulls it from (REPO/registry:TAG).
			reg := version.RegistryImage()
			if _, ok, err := p.Runtime().ImageLabel(cmd.Context(), reg, nodeimage.LabelInputs); err != nil || !ok {
				logger.Infof("registry image %s is not in the engine: pushing the node image alone", reg)
				return nil
			}
			return nodeimage.Push(cmd.Context(), p.Runtime(), reg, []string{v1alpha1.HostPlatform()}, version.RegistryImageBeside(args[0]), o, logger.Writer())
		},
	}
	cmd.Flags().StringVar(&local, "image", version.NodeImage(), "the engine's node image to push")
	cmd.Flags().StringVar(&platforms, "platform", "", "platforms to push, comma-separated (default: each one built here)")
	rf.add(cmd)
	return cmd
}

// NewPullCommand returns `edgectl image pull REF`.
func NewPullCommand(deps cmdutil.Deps) *cobra.Command {
	var platforms string
	var rf remoteFlags
	cmd := &cobra.Command{
		Use:   "pull [REF]",
		Short: "Pull a node image into the engine (cluster create does it by itself when the image is missing)",
		Long: `Pull the node image REF (default: the one this edgectl uses, ` + version.NodeImage() + `)
into the engine, for the host's platform or those of --platform. Another
platform's image is tagged REF-ARCH, where clusters look for it.`,
		Example: `  edgectl image pull
  edgectl image pull ghcr.io/edgectl/node:v0.5.0 --platform linux/amd64,linux/arm64
  edgectl image pull ghcr.io/edgectl/node:v0.5.0 --through cache   # through an edgectl registry cache`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref := version.NodeImage()
			if len(args) == 1 {
				ref = args[0]
			}
			if !nodeimage.Pullable(ref) {
				return edgeerrors.New(edgeerrors.KindInvalidConfig, "name the registry (ghcr.io/edgectl/node:VERSION), or build it with `edgectl image build`",
					"%s names no registry: it is a local build", ref)
			}
			archs, err := v1alpha1.ParsePlatforms(platforms)
			if err != nil {
				return edgeerrors.Wrap(edgeerrors.KindInvalidConfig, "e.g. --platform linux/amd64,linux/arm64", err)
			}
			logger := deps.Logger()
			p, err := cluster.NewProvider(logger)
			if err != nil {
				return err
			}
			o, err := rf.options(cmd, p, ref)
			if err != nil {
				return err
			}
			var pfs []string
			for _, a := range archs {
				pfs = append(pfs, "linux/"+a)
			}
			if err := nodeimage.Pull(cmd.Context(), p.Runtime(), ref, pfs, o, logger.Writer()); err != nil {
				return edgeerrors.Wrap(edgeerrors.KindImageMissing, "check the reference and that the registry answers", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&platforms, "platform", v1alpha1.HostPlatform(), "platforms to pull, comma-separated")
	rf.add(cmd)
	return cmd
}
