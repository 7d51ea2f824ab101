package cluster

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/internal/runtime"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
)

// AddNodeOptions control AddNode.
type AddNodeOptions struct {
	Cluster string
	Role    string // agent (default) or server
	// Labels and Taints of the new node, kept in the spec as its nodes[] entry.
	Labels map[string]string
	Taints []string
	// Wait bounds the wait for the new Node to be Ready (0: do not wait).
	Wait time.Duration
	// Retain keeps a node whose add failed, for debugging.
	Retain bool
}

// AddNode adds one server or agent to a running cluster and returns the new
// node's name. The node is planned from the stored spec with the same node
// actions as create, so it gets its role's args, labels and taints. An
// agent joins with the join token of a running server; a server joins the
// embedded etcd cluster through one, and the load balancer is then reloaded
// with it. The spec is updated to include the node.
func (p *Provider) AddNode(ctx context.Context, opts AddNodeOptions) (string, error) {
	role := orDefault(opts.Role, RoleAgent)
	if role != RoleServer && role != RoleAgent {
		return "", edgeerrors.New(edgeerrors.KindInvalidConfig, "use --role agent or --role server", "role %q: must be agent or server", role)
	}
	nodes, err := p.existing(ctx, opts.Cluster)
	if err != nil {
		return "", err
	}
	old, err := p.Spec(ctx, opts.Cluster)
	if err != nil {
		return "", err
	}
	server, err := p.runningServer(ctx, opts.Cluster, "")
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
		return "", edgeerrors.New(edgeerrors.KindInvalidConfig, "", "cluster %q has no free %s address left (index %d)", opts.Cluster, role, next)
	}
	if role == RoleServer && DatastoreOf(old) != DatastoreEtcd {
		return "", edgeerrors.New(edgeerrors.KindInvalidConfig,
			"create the cluster with --servers 3, or with serverArgs [cluster-init] for one server that can grow",
			"cluster %q keeps its data in %s, not embedded etcd: servers cannot be added", opts.Cluster, DatastoreOf(old))
	}
	cfg := grown(old, role, next, opts.Labels, opts.Taints)
	if err := cfg.Validate(); err != nil {
		return "", edgeerrors.Wrap(edgeerrors.KindInvalidConfig, "", err)
	}
	if err := p.checkPlatform(ctx, cfg.Image, cfg.Registries, cfg.Platform(role, next)); err != nil {
		return "", err
	}
	if flannelBackend(cfg) != flannelBackend(old) {
		return "", edgeerrors.New(edgeerrors.KindInvalidConfig,
			"create the cluster with the emulated node in it (--agent-platform, or nodes[].platform)",
			"cluster %q carries pod traffic over VXLAN, which an emulated node cannot program; its nodes would not reach each other", opts.Cluster)
	}
	// The new node pulls through the cluster's registries, as the others do.
	if err := p.resolveRegistries(ctx, cfg); err != nil {
		return "", err
	}
	p.warnInotify(ctx, boolInt(role == RoleServer), boolInt(role == RoleAgent))
	j := &job{p: p, cfg: cfg, privileged: server.Labels[labelPrivileged] == "true"}
	node := nodeName(opts.Cluster, role, next)
	var add step
	if role == RoleServer {
		if j.secret, err = p.serverSecret(ctx, server.Name); err != nil {
			return "", err
		}
		add = j.nodeStep(fmt.Sprintf("Joining server %s through %s", node, server.Name), role, []int{next}, server.Labels[runtime.LabelIP], true)
	} else {
		add = j.nodeStep(fmt.Sprintf("Starting agent %s", node), role, []int{next}, "", false)
	}
	steps := []step{add,
		{title: "Reloading the load balancer",
			do:   func(ctx context.Context) error { return p.updateLB(ctx, cfg) },
			undo: func(ctx context.Context) error { return p.updateLB(ctx, old) }},
		{title: "Storing the cluster spec",
			do:   func(ctx context.Context) error { return p.saveSpec(ctx, cfg) },
			undo: func(ctx context.Context) error { return p.saveSpec(ctx, old) }},
	}
	if opts.Wait > 0 {
		steps = append(steps, step{title: fmt.Sprintf("Waiting ≤ %s for %s to be Ready", opts.Wait, node),
			do: func(ctx context.Context) error {
				return p.waitNode(ctx, opts.Cluster, node, opts.Wait, fmt.Sprintf("docker exec %s journalctl -u edgelet", node))
			}})
	}
	err = p.runSteps(ctx, steps, opts.Retain, fmt.Sprintf("keeping %s; remove it with `edgectl node delete %s`", node, node))
	if err != nil {
		return "", err
	}
	return node, nil
}

// grown is the spec with node index of role added, with its own labels and
// taints as a nodes[] entry.
func grown(old *v1alpha1.Cluster, role string, index int, labels map[string]string, taints []string) *v1alpha1.Cluster {
	cfg := old.DeepCopy()
	if role == RoleServer {
		cfg.Servers = max(cfg.Servers, index+1)
	} else {
		cfg.Agents = max(cfg.Agents, index+1)
	}
	if len(labels) > 0 || len(taints) > 0 {
		cfg.Nodes = append(cfg.Nodes, v1alpha1.Node{Role: role, Index: index, Labels: labels, Taints: taints})
	}
	return cfg
}

// shrunk is the spec without node index of role. Only the highest index can
// leave the count; a gap left by another stays counted, so that the nodes
// after it keep their names and addresses when the spec is re-created.
func shrunk(old *v1alpha1.Cluster, role string, index int) *v1alpha1.Cluster {
	cfg := old.DeepCopy()
	if n := count(cfg, role); index == n-1 {
		if role == RoleServer {
			cfg.Servers--
		} else {
			cfg.Agents--
		}
		var keep []v1alpha1.Node
		for _, n := range cfg.Nodes {
			if n.Role != role || n.Index != index {
				keep = append(keep, n)
			}
		}
		cfg.Nodes = keep
		var ports []v1alpha1.Port
		for _, p := range cfg.Ports {
			if p.Node != fmt.Sprintf("%s:%d", role, index) {
				ports = append(ports, p)
			}
		}
		cfg.Ports = ports
	}
	return cfg
}

func (p *Provider) waitNode(ctx context.Context, cluster, node string, wait time.Duration, logs string) error {
	kc, err := p.hostKubeconfig(ctx, cluster)
	if err != nil {
		return err
	}
	return waitNodeReady(ctx, kc, node, wait, logs)
}

// runningServer returns a running server of the cluster other than except.
func (p *Provider) runningServer(ctx context.Context, cluster, except string) (*runtime.Container, error) {
	cs, err := p.rt.List(ctx, map[string]string{runtime.LabelCluster: cluster, runtime.LabelRole: RoleServer})
	if err != nil {
		return nil, engineError(err)
	}
	sort.Slice(cs, func(i, j int) bool {
		a, _ := strconv.Atoi(cs[i].Labels[runtime.LabelIndex])
		b, _ := strconv.Atoi(cs[j].Labels[runtime.LabelIndex])
		return a < b
	})
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

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
