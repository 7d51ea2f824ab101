package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/internal/runtime"
)

// DeleteNode drains a node (when it runs), removes a server's etcd member,
// deletes the Node object, removes the container and its volumes, updates
// the stored spec and reloads the load balancer. A joined host leaves
// (LeaveNode).
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
		if _, _, err := p.findJoined(ctx, "", node); err == nil {
			return p.LeaveNode(ctx, LeaveOptions{Node: node})
		}
		return edgeerrors.New(edgeerrors.KindNotFound, "see `edgectl node list`", "node %q not found", node)
	}
	cluster, role := target.Labels[runtime.LabelCluster], target.Labels[runtime.LabelRole]
	index, _ := strconv.Atoi(target.Labels[runtime.LabelIndex])
	if role == RoleLoadBalancer {
		return edgeerrors.New(edgeerrors.KindInvalidConfig, fmt.Sprintf("delete the cluster with `edgectl cluster delete %s`", cluster), "%q is the load balancer of cluster %q", node, cluster)
	}
	if role == RoleServer && target.Labels[labelDatastore] != DatastoreEtcd {
		return edgeerrors.New(edgeerrors.KindInvalidConfig, fmt.Sprintf("delete the cluster with `edgectl cluster delete %s`", cluster),
			"%q is the only server of cluster %q (its data is not in embedded etcd)", node, cluster)
	}
	spec, err := p.Spec(ctx, cluster)
	var legacy *edgeerrors.Error
	if err != nil && !(errors.As(err, &legacy) && legacy.Kind == edgeerrors.KindNotFound) {
		return err
	}
	other, err := p.runningServer(ctx, cluster, node)
	if err != nil {
		return err
	}
	kubectl := func(args ...string) error {
		_, err := p.run(ctx, other.Name, nil, append([]string{"kubectl"}, args...)...)
		return err
	}
	if target.State == "running" {
		if err := kubectl("drain", node, "--ignore-daemonsets", "--delete-emptydir-data", "--force", "--timeout=90s"); err != nil {
			p.logger.Warnf("drain %s: %v", node, err)
		}
	} else {
		// A stopped node cannot confirm that its pods are gone, so a drain
		// would only time out; the pod garbage collector removes them once
		// the Node object is deleted.
		p.logger.Vf(1, "%s is %s; not draining it", node, target.State)
	}
	if role == RoleServer {
		// While the member stays listed it counts toward etcd's quorum.
		if err := p.removeMember(ctx, other.Name, node); err != nil {
			return err
		}
	}
	if err := p.removeNode(ctx, node); err != nil {
		return err
	}
	if err := kubectl("delete", "node", node, "--ignore-not-found"); err != nil {
		return fmt.Errorf("delete Node object %s: %w", node, err)
	}
	if spec == nil {
		return nil // a cluster of an earlier edgectl: no spec, no LB change
	}
	spec = shrunk(spec, role, index)
	if err := p.saveSpec(ctx, spec); err != nil {
		return err
	}
	return p.updateLB(ctx, spec)
}

// removeMember removes node's etcd member through the server via.
func (p *Provider) removeMember(ctx context.Context, via, node string) error {
	if _, err := p.run(ctx, via, nil, "edgelet", "member", "rm", node, "--ignore-not-found"); err != nil {
		return fmt.Errorf("remove the etcd member of %s: %w", node, err)
	}
	return nil
}
