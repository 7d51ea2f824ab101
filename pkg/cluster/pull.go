package cluster

import (
	"context"

	"github.com/edgectl/edgectl/pkg/build/nodeimage"
	"github.com/edgectl/edgectl/pkg/registry"
)

// pullImage fetches image's node image of platform into the engine, as
// image (or image-ARCH for another platform than the host's). When one of
// the cluster's registries caches image's registry and has a host port, the
// pull goes through it, so that a machine fetches the image from upstream
// once.
func (p *Provider) pullImage(ctx context.Context, registries []string, image, platform string) error {
	host, _ := nodeimage.RegistryHost(image)
	var o nodeimage.RemoteOptions
	m := registry.NewManager(p.rt, p.logger)
	for _, reg := range registries {
		r, err := m.Get(ctx, reg)
		if err != nil {
			return err
		}
		if t, err := r.PullThrough(host); err == nil {
			o.Transport = t
			p.logger.Infof("node image %s is not in the engine: pulling it through registry %s", image, reg)
			break
		}
	}
	if o.Transport == nil {
		p.logger.Infof("node image %s is not in the engine: pulling it", image)
	}
	return nodeimage.Pull(ctx, p.rt, image, []string{platform}, o, p.logger.Writer())
}
