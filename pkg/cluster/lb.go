package cluster

import (
	"context"
	"fmt"
	"strings"

	"github.com/edgectl/edgectl/internal/runtime"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
)

// updateLB rewrites the load balancer's config for the nodes of cfg that
// exist, checks it, and reloads haproxy without dropping connections (SIGUSR2
// to its master process, PID 1 of the container).
func (p *Provider) updateLB(ctx context.Context, cfg *v1alpha1.Cluster) error {
	cs, err := p.rt.List(ctx, map[string]string{runtime.LabelCluster: cfg.Name})
	if err != nil {
		return engineError(err)
	}
	exist := map[string]bool{}
	var lb *runtime.Container
	for i, c := range cs {
		exist[c.Name] = true
		if c.Labels[runtime.LabelRole] == RoleLoadBalancer {
			lb = &cs[i]
		}
	}
	if lb == nil {
		return fmt.Errorf("cluster %q has no load balancer container", cfg.Name)
	}
	var nodes []lbNode
	addr, err := newAddresses(cfg.Network.Subnet)
	if err != nil {
		return err
	}
	for _, role := range []string{RoleServer, RoleAgent} {
		for i := 0; i < count(cfg, role); i++ {
			if exist[nodeName(cfg.Name, role, i)] {
				nodes = append(nodes, lbNode{role, addr.node(role, i)})
			}
		}
	}
	conf := haproxyConfigFor(cfg, nodes)
	if lb.State != "running" {
		// The cluster has running servers (its nodes just changed), so
		// its load balancer belongs up too.
		p.logger.Vf(1, "load balancer %s is %s; starting it", lb.Name, lb.State)
		if err := p.rt.Start(ctx, lb.Name); err != nil {
			return fmt.Errorf("start the load balancer: %w", err)
		}
	}
	// Check the new file before it replaces the old one, so a bad config
	// never reaches the running haproxy.
	script := fmt.Sprintf("cat > %[1]s.new && haproxy -c -q -f %[1]s.new && mv %[1]s.new %[1]s", haproxyConfig)
	if _, err := p.run(ctx, lb.Name, strings.NewReader(conf), "sh", "-c", script); err != nil {
		return fmt.Errorf("write the load balancer config: %w", err)
	}
	if err := p.rt.Signal(ctx, lb.Name, "USR2"); err != nil {
		return fmt.Errorf("reload the load balancer: %w", err)
	}
	p.logger.Vf(1, "load balancer reloaded: %d node(s)", len(nodes))
	return nil
}
