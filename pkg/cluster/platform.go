package cluster

import (
	"context"
	"fmt"
	"strings"

	"github.com/edgectl/edgectl/internal/binfmt"
	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	"github.com/edgectl/edgectl/pkg/build/nodeimage"
)

// checkPlatforms checks, for every platform a node of cfg runs, that its
// node image is in the engine and built for it, and, for a platform other
// than the host's, that the kernel emulates it. It runs before anything is
// created.
func (p *Provider) checkPlatforms(ctx context.Context, cfg *v1alpha1.Cluster) error {
	seen := map[string]bool{}
	for _, role := range []string{RoleServer, RoleAgent} {
		for i := 0; i < count(cfg, role); i++ {
			platform := cfg.Platform(role, i)
			if seen[platform] {
				continue
			}
			seen[platform] = true
			if err := p.checkPlatform(ctx, cfg.Image, cfg.Registries, platform); err != nil {
				return err
			}
		}
	}
	// Emulated nodes run the host's containerd, runc and iptables, taken
	// from the host platform's node image (emulationFiles).
	if host := v1alpha1.HostPlatform(); cfg.Emulated() && !seen[host] {
		return p.checkPlatform(ctx, cfg.Image, cfg.Registries, host)
	}
	return nil
}

// checkPlatform checks one platform (see checkPlatforms). A node image
// that is missing and names its registry is pulled first (pullImage).
func (p *Provider) checkPlatform(ctx context.Context, image string, registries []string, platform string) error {
	arch := strings.TrimPrefix(platform, "linux/")
	if platform != v1alpha1.HostPlatform() {
		dir := p.binfmtDir
		if dir == "" {
			dir = binfmt.Dir
		}
		if err := binfmt.Check(dir, arch); err != nil {
			if prob, ok := err.(*binfmt.Problem); ok {
				return edgeerrors.New(edgeerrors.KindGeneric, "run as root: "+prob.Fix, "%s", prob.Error())
			}
			return err
		}
	}
	ref := v1alpha1.ImageFor(image, platform)
	have, ok, err := p.rt.ImageLabel(ctx, ref, nodeimage.LabelArch)
	if err != nil {
		return engineError(err)
	}
	if !ok && nodeimage.Pullable(image) {
		if err := p.pullImage(ctx, registries, image, platform); err != nil {
			return edgeerrors.New(edgeerrors.KindImageMissing,
				fmt.Sprintf("check the reference and the registry, or build the image here with `edgectl image build --platform %s --tag %s`", platform, image),
				"node image %q (for %s) is not in the engine, and the pull failed: %v", ref, platform, err)
		}
		if have, ok, err = p.rt.ImageLabel(ctx, ref, nodeimage.LabelArch); err != nil {
			return engineError(err)
		}
	}
	if !ok && ref == image {
		return edgeerrors.New(edgeerrors.KindImageMissing, "build it with `edgectl image build` (or `make image`), or pass --image",
			"node image %q not found in the engine", image)
	}
	if !ok {
		return edgeerrors.New(edgeerrors.KindImageMissing,
			fmt.Sprintf("build it with `edgectl image build --platform %s`", platform),
			"node image %q (for %s) not found in the engine", ref, platform)
	}
	if have != "" && have != arch {
		return edgeerrors.New(edgeerrors.KindImageMissing,
			fmt.Sprintf("rebuild it with `edgectl image build --platform %s`", platform),
			"node image %q is built for %s, not %s", ref, have, arch)
	}
	return nil
}
