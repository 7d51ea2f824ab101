package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/edgectl/edgectl/internal/cli"
	edgeerrors "github.com/edgectl/edgectl/internal/errors"
)

// Stop stops every container of the cluster (agents first, the load balancer
// last). Volumes, static IPs and labels stay, so Start brings back the same
// cluster.
func (p *Provider) Stop(ctx context.Context, name string) error {
	nodes, err := p.existing(ctx, name)
	if err != nil {
		return err
	}
	for _, role := range []string{RoleAgent, RoleServer, RoleLoadBalancer} {
		if err := p.each(ctx, nodes, role, func(ctx context.Context, n Node) error {
			if n.State != "running" {
				return nil
			}
			return p.rt.Stop(ctx, n.Name)
		}); err != nil {
			return err
		}
	}
	return nil
}

// Start starts a stopped cluster (load balancer, servers, then agents) and
// waits up to wait for it to be usable again.
func (p *Provider) Start(ctx context.Context, name string, wait time.Duration) error {
	nodes, err := p.existing(ctx, name)
	if err != nil {
		return err
	}
	status := cli.NewStatus(p.logger.Writer())
	status.Start(fmt.Sprintf("Starting cluster %s", name))
	for _, role := range []string{RoleLoadBalancer, RoleServer, RoleAgent} {
		if err := p.each(ctx, nodes, role, func(ctx context.Context, n Node) error {
			if n.State == "running" {
				return nil
			}
			return p.rt.Start(ctx, n.Name)
		}); err != nil {
			status.End(false)
			return err
		}
		if role == RoleLoadBalancer {
			p.startRegistries(ctx, name)
		}
	}
	if wait <= 0 {
		status.End(true)
		return nil
	}
	status.Start(fmt.Sprintf("Waiting ≤ %s for the API, nodes Ready and CoreDNS", wait))
	kc, err := p.hostKubeconfig(ctx, name)
	if err != nil {
		status.End(false)
		return err
	}
	want := 0
	for _, n := range nodes {
		if n.Role == RoleServer || n.Role == RoleAgent {
			want++
		}
	}
	coreDNS := true
	if spec, err := p.Spec(ctx, name); err == nil {
		coreDNS = !slices.Contains(spec.Disable, "coredns")
	}
	err = waitUsable(ctx, kc, want, coreDNS, wait, func(s string) { p.logger.Vf(1, "waiting for %s", s) })
	status.End(err == nil)
	return err
}

func (p *Provider) existing(ctx context.Context, name string) ([]Node, error) {
	nodes, err := p.Nodes(ctx, name)
	if err != nil {
		return nil, err
	}
	if len(nodes) == 0 {
		return nil, edgeerrors.New(edgeerrors.KindNotFound, "see `edgectl cluster list`", "cluster %q not found", name)
	}
	return nodes, nil
}

// each runs fn on the nodes of a role in parallel.
func (p *Provider) each(ctx context.Context, nodes []Node, role string, fn func(context.Context, Node) error) error {
	var of []Node
	for _, n := range nodes {
		if n.Role == role {
			of = append(of, n)
		}
	}
	return inParallel(ctx, of, fn)
}

// inParallel runs fn on every node at once and returns every failure, each
// prefixed with its node.
func inParallel(ctx context.Context, nodes []Node, fn func(context.Context, Node) error) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(ctx, n); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", n.Name, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
