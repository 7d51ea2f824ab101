package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/internal/runtime"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
)

// Delete removes a cluster: its containers, volumes, network and kubeconfig
// entries. Only objects labelled with this cluster's name are touched.
func (p *Provider) Delete(ctx context.Context, name, kubeconfig string) error {
	if err := v1alpha1.ValidateName(name); err != nil {
		return edgeerrors.Wrap(edgeerrors.KindInvalidConfig, "", err)
	}
	nodes, err := p.Nodes(ctx, name)
	if err != nil {
		return err
	}
	nets, err := p.rt.ListNetworks(ctx, map[string]string{runtime.LabelCluster: name})
	if err != nil {
		return engineError(err)
	}
	if len(nodes) == 0 && len(nets) == 0 {
		return edgeerrors.New(edgeerrors.KindNotFound, "see `edgectl cluster list`", "cluster %q not found", name)
	}
	return p.deleteCluster(ctx, name, kubeconfig)
}

// deleteCluster removes whatever exists of the cluster (also a half-made one).
func (p *Provider) deleteCluster(ctx context.Context, name, kubeconfig string) error {
	labels := map[string]string{runtime.LabelCluster: name}
	cs, err := p.rt.List(ctx, labels)
	if err != nil {
		return engineError(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(cs))
	for i, c := range cs {
		if c.Labels[runtime.LabelCluster] != name { // never trust a filter alone
			continue
		}
		wg.Add(1)
		go func(i int, n string) {
			defer wg.Done()
			errs[i] = p.rt.Remove(ctx, n)
		}(i, c.Name)
	}
	wg.Wait()
	all := errs
	vols, err := p.rt.ListVolumes(ctx, labels)
	if err != nil {
		all = append(all, err)
	}
	for _, v := range vols {
		all = append(all, p.rt.RemoveVolume(ctx, v))
	}
	nets, err := p.rt.ListNetworks(ctx, labels)
	if err != nil {
		all = append(all, err)
	}
	if len(nets) > 0 {
		// A registry the cluster used stays; it only leaves the network.
		all = append(all, p.detachRegistries(ctx, name))
	}
	for _, n := range nets {
		all = append(all, p.rt.DeleteNetwork(ctx, n))
	}
	if err := removeKubeconfig(kubeconfig, Context(name)); err != nil {
		all = append(all, fmt.Errorf("remove kubeconfig entry: %w", err))
	}
	return errors.Join(all...)
}

// Clusters lists the names of all clusters.
func (p *Provider) Clusters(ctx context.Context) ([]string, error) {
	nodes, err := p.Nodes(ctx, "")
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, n := range nodes {
		if !seen[n.Cluster] {
			seen[n.Cluster] = true
			out = append(out, n.Cluster)
		}
	}
	return out, nil
}
