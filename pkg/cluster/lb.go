package cluster

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/edgectl/edgectl/internal/runtime"
)

// updateLB rewrites the load balancer's config from the cluster's current
// servers and nodes, checks it, and reloads haproxy without dropping
// connections (SIGUSR2 to its master process, PID 1 of the container).
func (p *Provider) updateLB(ctx context.Context, cluster string) error {
	cs, err := p.rt.List(ctx, map[string]string{runtime.LabelCluster: cluster})
	if err != nil {
		return engineError(err)
	}
	sort.Slice(cs, func(i, j int) bool {
		a, _ := strconv.Atoi(cs[i].Labels[runtime.LabelIndex])
		b, _ := strconv.Atoi(cs[j].Labels[runtime.LabelIndex])
		return a < b
	})
	var lb *runtime.Container
	var servers, agents []string
	for i, c := range cs {
		switch c.Labels[runtime.LabelRole] {
		case RoleLoadBalancer:
			lb = &cs[i]
		case RoleServer:
			servers = append(servers, c.Labels[runtime.LabelIP])
		case RoleAgent:
			agents = append(agents, c.Labels[runtime.LabelIP])
		}
	}
	if lb == nil {
		return fmt.Errorf("cluster %q has no load balancer container", cluster)
	}
	var ports []int
	for _, s := range strings.Split(lb.Labels[labelLBPorts], ",") {
		if n, err := strconv.Atoi(s); err == nil {
			ports = append(ports, n)
		}
	}
	conf := haproxyConfigFor(servers, append(servers, agents...), ports)
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
	p.logger.Vf(1, "load balancer reloaded: servers %s", strings.Join(servers, ", "))
	return nil
}
