package cluster

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"

	"sigs.k8s.io/yaml"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	"github.com/edgectl/edgectl/pkg/registry"
)

// resolveRegistries looks up the cluster's registries and fills cfg.Mirrors
// (every upstream host, localhost:PORT and the registry's own address go to
// the registry) and cfg.LocalRegistry (KEP-1755, from the first registry
// with a host port). A missing registry, or two that cache the same
// upstream, is an error before anything is created.
func (p *Provider) resolveRegistries(ctx context.Context, cfg *v1alpha1.Cluster) error {
	cfg.Mirrors, cfg.MirrorServers, cfg.LocalRegistry = nil, nil, nil
	if len(cfg.Registries) == 0 {
		return nil
	}
	m := registry.NewManager(p.rt, p.logger)
	mirrors := map[string]string{}
	owner := map[string]string{}
	claim := func(host, reg string) error {
		if other, ok := owner[host]; ok && other != reg {
			return edgeerrors.New(edgeerrors.KindInvalidConfig, "use one of them",
				"registries %s and %s both serve %s", other, reg, host)
		}
		owner[host], mirrors[host] = reg, "http://"+registry.Endpoint(reg)
		return nil
	}
	for _, name := range cfg.Registries {
		r, err := m.Get(ctx, name)
		if err != nil {
			return err
		}
		hosts := append([]string{registry.Endpoint(name)}, r.Upstreams...)
		if r.Port != 0 {
			local := "localhost:" + strconv.Itoa(r.Port)
			hosts = append(hosts, local)
			if cfg.LocalRegistry == nil {
				cfg.LocalRegistry = &v1alpha1.LocalRegistry{Host: local, HostFromContainerRuntime: registry.Endpoint(name),
					HostFromClusterNetwork: registry.Endpoint(name), Help: "https://github.com/edgectl/edgectl/blob/main/docs/registry.md"}
			}
		}
		for _, h := range hosts {
			if err := claim(h, name); err != nil {
				return err
			}
		}
		// A failed pull falls back to, and names, the upstream's own URL.
		for h, url := range r.UpstreamURLs {
			if cfg.MirrorServers == nil {
				cfg.MirrorServers = map[string]string{}
			}
			cfg.MirrorServers[h] = url
		}
	}
	cfg.Mirrors = mirrors
	return nil
}

// attachRegistries joins the cluster's registries to its network (and
// starts a stopped one). Each gets a fixed address (.3 to .9; the load
// balancer is .2, nodes start at .10): an address the engine hands out could
// be a stopped node's when the cluster starts again.
func (p *Provider) attachRegistries(ctx context.Context, cfg *v1alpha1.Cluster) error {
	addr, err := newAddresses(cfg.Network.Subnet)
	if err != nil {
		return err
	}
	m := registry.NewManager(p.rt, p.logger)
	for i, name := range cfg.Registries {
		if _, err := m.Attach(ctx, name, networkName(cfg.Name), addr.registry(i)); err != nil {
			return fmt.Errorf("registry %s: %w", name, err)
		}
	}
	return nil
}

// startRegistries starts the registries of a stopped cluster and re-attaches
// them, after its load balancer and before its nodes. A registry that is gone
// is only a warning: the nodes then pull from the upstreams themselves.
func (p *Provider) startRegistries(ctx context.Context, cluster string) {
	cfg, err := p.Spec(ctx, cluster)
	if err != nil || len(cfg.Registries) == 0 {
		return
	}
	if err := p.attachRegistries(ctx, cfg); err != nil {
		p.logger.Warnf("cluster %s: %v; its nodes pull from the upstreams directly", cluster, err)
	}
}

// detachRegistries takes every container that is not the cluster's (its
// registries) off the cluster's network, so the network can go.
func (p *Provider) detachRegistries(ctx context.Context, cluster string) error {
	cs, err := p.rt.List(ctx, map[string]string{registry.LabelRegistry: ""})
	if err != nil {
		return err
	}
	for _, c := range cs {
		for _, n := range c.Networks {
			if n == networkName(cluster) {
				if err := p.rt.Disconnect(ctx, c.Name, n); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// localRegistryManifest is the KEP-1755 ConfigMap, as a server manifest.
func localRegistryManifest(cfg *v1alpha1.Cluster) (map[string][]byte, error) {
	if cfg.LocalRegistry == nil {
		return nil, nil
	}
	hosting, err := yaml.Marshal(cfg.LocalRegistry)
	if err != nil {
		return nil, err
	}
	cm, err := yaml.Marshal(map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]string{"name": "local-registry-hosting", "namespace": "kube-public"},
		"data":     map[string]string{"localRegistryHosting.v1": string(hosting)},
	})
	if err != nil {
		return nil, err
	}
	return map[string][]byte{filepath.Join(serverManifestsDir, "edgectl-local-registry-hosting.yaml"): cm}, nil
}

// ClusterNetworks maps each cluster network to its cluster, for deciding
// whether a registry is in use.
func (p *Provider) ClusterNetworks(ctx context.Context) (map[string]string, error) {
	names, err := p.Clusters(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, n := range names {
		out[networkName(n)] = n
	}
	return out, nil
}
