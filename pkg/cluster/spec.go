package cluster

import (
	"context"
	"errors"
	"fmt"

	"sigs.k8s.io/yaml"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/internal/runtime"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
)

// The cluster's spec, the whole defaulted v1alpha1 Cluster with its subnet
// and API port resolved, is kept as a file in the load balancer container:
// the engine reads and writes a container's files while it is stopped too,
// and the spec goes when the cluster goes. Node add, start and every later
// feature read it instead of piecing the config together from labels.

// Spec returns the stored spec of a cluster.
func (p *Provider) Spec(ctx context.Context, cluster string) (*v1alpha1.Cluster, error) {
	lb, err := p.lbContainer(ctx, cluster)
	if err != nil {
		return nil, err
	}
	data, err := p.rt.ReadFile(ctx, lb, specPath)
	if errors.Is(err, runtime.ErrNotFound) {
		return nil, edgeerrors.New(edgeerrors.KindNotFound,
			fmt.Sprintf("it was made by an earlier edgectl; start, stop, delete and kubeconfig still work. To add nodes, re-create it: `edgectl cluster delete %s` and `edgectl cluster create`", cluster),
			"cluster %q has no stored spec", cluster)
	}
	if err != nil {
		return nil, engineError(err)
	}
	cfg, err := v1alpha1.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("stored spec of cluster %q: %w", cluster, err)
	}
	return cfg, nil
}

// saveSpec stores cfg with its cluster.
func (p *Provider) saveSpec(ctx context.Context, cfg *v1alpha1.Cluster) error {
	data, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	if err := p.rt.WriteFiles(ctx, lbName(cfg.Name), map[string][]byte{specPath: data}); err != nil {
		return fmt.Errorf("store the cluster spec: %w", err)
	}
	return nil
}

// lbContainer is the name of the cluster's load balancer container.
func (p *Provider) lbContainer(ctx context.Context, cluster string) (string, error) {
	cs, err := p.rt.List(ctx, map[string]string{runtime.LabelCluster: cluster, runtime.LabelRole: RoleLoadBalancer})
	if err != nil {
		return "", engineError(err)
	}
	for _, c := range cs {
		if c.Labels[runtime.LabelCluster] == cluster {
			return c.Name, nil
		}
	}
	if nodes, err := p.Nodes(ctx, cluster); err == nil && len(nodes) > 0 {
		return "", edgeerrors.New(edgeerrors.KindNotFound, fmt.Sprintf("delete it with `edgectl cluster delete %s`", cluster),
			"cluster %q has lost its load balancer container", cluster)
	}
	return "", edgeerrors.New(edgeerrors.KindNotFound, "see `edgectl cluster list`", "cluster %q not found", cluster)
}

// SpecYAML is the stored spec as `cluster get -o yaml` prints it.
func (p *Provider) SpecYAML(ctx context.Context, cluster string) ([]byte, error) {
	cfg, err := p.Spec(ctx, cluster)
	if err != nil {
		return nil, err
	}
	return yaml.Marshal(cfg)
}
