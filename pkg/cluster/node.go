package cluster

import (
	"context"
	"fmt"
	"strconv"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/internal/runtime"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
)

// AddAgent adds one agent to a running cluster; it joins with the join token
// of the first server. It returns the new node's name.
func (p *Provider) AddAgent(ctx context.Context, name string) (string, error) {
	nodes, err := p.existing(ctx, name)
	if err != nil {
		return "", err
	}
	var server *runtime.Container
	cs, err := p.rt.List(ctx, map[string]string{runtime.LabelCluster: name, runtime.LabelRole: RoleServer})
	if err != nil {
		return "", engineError(err)
	}
	for i := range cs {
		if cs[i].State == "running" {
			server = &cs[i]
			break
		}
	}
	if server == nil {
		return "", edgeerrors.New(edgeerrors.KindNotFound, fmt.Sprintf("start it with `edgectl cluster start %s`", name), "cluster %q has no running server", name)
	}
	next := 0
	for _, n := range nodes {
		if n.Role == RoleAgent && n.Index >= next {
			next = n.Index + 1
		}
	}
	l := server.Labels
	cfg := &v1alpha1.Cluster{Name: name, Image: l[runtime.LabelImage],
		Kubernetes: v1alpha1.Kubernetes{ClusterCIDR: l[labelClusterCIDR], ServiceCIDR: l[labelServiceCIDR]}}
	v1alpha1.SetDefaults(cfg)
	apiPort, _ := strconv.Atoi(l[runtime.LabelAPIPort])
	privileged := l[labelPrivileged] == "true"
	joinToken, err := p.joinToken(ctx, server.Name)
	if err != nil {
		return "", err
	}
	if err := p.startAgents(ctx, cfg, l[runtime.LabelSubnet], apiPort, next, 1, joinToken, privileged); err != nil {
		return "", err
	}
	return nodeName(name, RoleAgent, next), nil
}

// DeleteNode drains a node, deletes its Node object and removes its
// container and volumes. Servers cannot be removed this way yet.
func (p *Provider) DeleteNode(ctx context.Context, node string) error {
	cs, err := p.rt.List(ctx, map[string]string{runtime.LabelCluster: ""})
	if err != nil {
		return engineError(err)
	}
	var target *runtime.Container
	for i := range cs {
		if cs[i].Name == node {
			target = &cs[i]
		}
	}
	if target == nil {
		return edgeerrors.New(edgeerrors.KindNotFound, "see `edgectl node list`", "node %q not found", node)
	}
	if target.Labels[runtime.LabelRole] != RoleAgent {
		return edgeerrors.New(edgeerrors.KindInvalidConfig, "only agents can be deleted today", "node %q is a %s", node, target.Labels[runtime.LabelRole])
	}
	cluster := target.Labels[runtime.LabelCluster]
	servers, err := p.rt.List(ctx, map[string]string{runtime.LabelCluster: cluster, runtime.LabelRole: RoleServer})
	if err != nil {
		return engineError(err)
	}
	for _, s := range servers {
		if s.State != "running" {
			continue
		}
		drain := []string{"kubectl", "drain", node, "--ignore-daemonsets", "--delete-emptydir-data", "--force", "--timeout=90s"}
		if res, err := p.rt.Exec(ctx, s.Name, drain, nil); err != nil || res.ExitCode != 0 {
			p.logger.Warnf("drain %s: %v %s", node, err, res.Stderr)
		}
		if res, err := p.rt.Exec(ctx, s.Name, []string{"kubectl", "delete", "node", node, "--ignore-not-found"}, nil); err != nil || res.ExitCode != 0 {
			return fmt.Errorf("delete Node object %s: %v %s", node, err, res.Stderr)
		}
		break
	}
	if err := p.rt.Remove(ctx, node); err != nil {
		return err
	}
	for _, v := range []string{node + "-containerd", node + "-edgelet"} {
		if err := p.rt.RemoveVolume(ctx, v); err != nil {
			return err
		}
	}
	return nil
}
