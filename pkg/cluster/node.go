package cluster

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/edgectl/edgectl/internal/cli"
	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/internal/runtime"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
)

// Highest node indexes: the static addresses of servers are .10–.19 and of
// agents .20 onwards.
const (
	maxServerIndex = 9
	maxAgentIndex  = 199
)

// AddNode adds one server or agent to a running cluster and returns the new
// node's name. An agent joins with the join token of a running server; a
// server joins the embedded etcd cluster through one, and the load balancer
// is then reloaded with it. With wait > 0 it waits that long for the new
// Node to be Ready; a node that is not Ready in time is kept, for debugging.
func (p *Provider) AddNode(ctx context.Context, name, role string, wait time.Duration) (node string, err error) {
	if role != RoleServer && role != RoleAgent {
		return "", edgeerrors.New(edgeerrors.KindInvalidConfig, "use --role agent or --role server", "role %q: must be agent or server", role)
	}
	nodes, err := p.existing(ctx, name)
	if err != nil {
		return "", err
	}
	server, err := p.runningServer(ctx, name, "")
	if err != nil {
		return "", err
	}
	next := 0
	for _, n := range nodes {
		if n.Role == role && n.Index >= next {
			next = n.Index + 1
		}
	}
	if (role == RoleServer && next > maxServerIndex) || next > maxAgentIndex {
		return "", edgeerrors.New(edgeerrors.KindInvalidConfig, "", "cluster %q has no free %s address left (index %d)", name, role, next)
	}
	if role == RoleServer {
		p.warnInotify(ctx, 1, 0)
	} else {
		p.warnInotify(ctx, 0, 1)
	}
	l := server.Labels
	cfg := &v1alpha1.Cluster{Name: name, Image: l[runtime.LabelImage],
		Kubernetes: v1alpha1.Kubernetes{ClusterCIDR: l[labelClusterCIDR], ServiceCIDR: l[labelServiceCIDR]}}
	v1alpha1.SetDefaults(cfg)
	apiPort, _ := strconv.Atoi(l[runtime.LabelAPIPort])
	privileged := l[labelPrivileged] == "true"
	subnet := l[runtime.LabelSubnet]
	status := cli.NewStatus(p.logger.Writer())
	defer func() { status.End(err == nil) }()
	node = nodeName(name, role, next)
	if role == RoleServer {
		if store := l[labelDatastore]; store != DatastoreEtcd {
			return "", edgeerrors.New(edgeerrors.KindInvalidConfig,
				"create the cluster with --servers 3, or with serverArgs [cluster-init] for one server that can grow",
				"cluster %q keeps its data in %s, not embedded etcd: servers cannot be added", name, orDefault(store, DatastoreSQLite))
		}
		addr, err := newAddresses(subnet)
		if err != nil {
			return "", err
		}
		spec, err := serverSpec(cfg, DatastoreEtcd, addr, subnet, apiPort, next, l[labelToken], l[runtime.LabelIP], privileged)
		if err != nil {
			return "", err
		}
		status.Start(fmt.Sprintf("Joining server %s through %s", node, server.Name))
		if err := p.rt.CreateNode(ctx, withHostMounts(spec)); err != nil {
			return "", p.removeFailed(ctx, node, server.Name, err)
		}
		if _, err := p.fetchKubeconfig(ctx, name, node, "127.0.0.1", apiPort); err != nil {
			return "", p.removeFailed(ctx, node, server.Name, err)
		}
	} else {
		status.Start(fmt.Sprintf("Starting agent %s", node))
		joinToken, err := p.joinToken(ctx, server.Name)
		if err != nil {
			return "", err
		}
		if err := p.startAgents(ctx, cfg, subnet, apiPort, next, 1, joinToken, privileged); err != nil {
			return "", p.removeFailed(ctx, node, "", err)
		}
	}
	status.Start("Reloading the load balancer")
	if err := p.updateLB(ctx, name); err != nil || wait <= 0 {
		return node, err
	}
	status.Start(fmt.Sprintf("Waiting ≤ %s for %s to be Ready", wait, node))
	kcYAML, err := p.Kubeconfig(ctx, name)
	if err != nil {
		return node, err
	}
	kc, err := clientcmd.Load(kcYAML)
	if err != nil {
		return node, err
	}
	return node, waitNodeReady(ctx, kc, node, wait)
}

// removeFailed removes a node whose add failed (and the etcd member of a
// server, through the server it joined), and returns err.
func (p *Provider) removeFailed(ctx context.Context, node, joinedThrough string, err error) error {
	cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if joinedThrough != "" {
		if rerr := p.removeMember(cleanup, joinedThrough, node); rerr != nil {
			p.logger.Warnf("%v", rerr)
		}
	}
	if rerr := p.removeNode(cleanup, node); rerr != nil {
		p.logger.Warnf("remove %s after the failed add: %v", node, rerr)
	}
	return err
}

// runningServer returns a running server of the cluster other than except.
func (p *Provider) runningServer(ctx context.Context, cluster, except string) (*runtime.Container, error) {
	cs, err := p.rt.List(ctx, map[string]string{runtime.LabelCluster: cluster, runtime.LabelRole: RoleServer})
	if err != nil {
		return nil, engineError(err)
	}
	for i := range cs {
		if cs[i].State == "running" && cs[i].Name != except {
			return &cs[i], nil
		}
	}
	other := ""
	if except != "" {
		other = "other "
	}
	return nil, edgeerrors.New(edgeerrors.KindNotFound, fmt.Sprintf("see `edgectl cluster list`; start it with `edgectl cluster start %s`", cluster),
		"cluster %q has no %srunning server", cluster, other)
}

// DeleteNode drains a node (when it runs), removes a server's etcd member,
// deletes the Node object, removes the container and its volumes, and
// reloads the load balancer.
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
	cluster, role := target.Labels[runtime.LabelCluster], target.Labels[runtime.LabelRole]
	if role == RoleLoadBalancer {
		return edgeerrors.New(edgeerrors.KindInvalidConfig, fmt.Sprintf("delete the cluster with `edgectl cluster delete %s`", cluster), "%q is the load balancer of cluster %q", node, cluster)
	}
	if role == RoleServer && target.Labels[labelDatastore] != DatastoreEtcd {
		return edgeerrors.New(edgeerrors.KindInvalidConfig, fmt.Sprintf("delete the cluster with `edgectl cluster delete %s`", cluster),
			"%q is the only server of cluster %q (its data is not in embedded etcd)", node, cluster)
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
	return p.updateLB(ctx, cluster)
}

// removeMember removes node's etcd member through the server via.
func (p *Provider) removeMember(ctx context.Context, via, node string) error {
	if _, err := p.run(ctx, via, nil, "edgelet", "member", "rm", node, "--ignore-not-found"); err != nil {
		return fmt.Errorf("remove the etcd member of %s: %w", node, err)
	}
	return nil
}

// removeNode removes a node's container and volumes.
func (p *Provider) removeNode(ctx context.Context, node string) error {
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

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
