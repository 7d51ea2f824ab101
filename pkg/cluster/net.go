package cluster

import (
	"context"
	"encoding/json"
	"strconv"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	netv1 "github.com/edgectl/edgectl/pkg/apis/netem/v1alpha1"
)

// DegradeOptions impair the links of some nodes.
type DegradeOptions struct {
	// Cluster is optional when Nodes are full container names.
	Cluster string
	Nodes   []string
	// To limits the impairment to packets to these nodes.
	To   []string
	Spec netv1.Spec
}

// NodeNet is a node's link state, as `net show` prints it.
type NodeNet struct {
	Node    string     `json:"node"`
	Cluster string     `json:"cluster"`
	IP      string     `json:"ip"`
	Net     netv1.Spec `json:"net"`
}

// Degrade impairs the egress link of each node (edgelet net apply in the
// node): real delay, loss and rate limits on its real packets, which the
// nodes' kubelets, flannel tunnels and pods all feel.
func (p *Provider) Degrade(ctx context.Context, opts DegradeOptions) error {
	if err := opts.Spec.Validate(); err != nil {
		return edgeerrors.Wrap(edgeerrors.KindInvalidConfig, "see `edgectl net degrade --help`", err)
	}
	if len(opts.Nodes) == 0 {
		return edgeerrors.New(edgeerrors.KindInvalidConfig, "", "name the nodes to degrade")
	}
	targets, err := p.selectNodes(ctx, opts.Cluster, opts.Nodes)
	if err != nil {
		return err
	}
	spec := opts.Spec
	if len(opts.To) > 0 {
		peers, err := p.selectNodes(ctx, targets[0].Cluster, opts.To)
		if err != nil {
			return err
		}
		for _, n := range peers {
			spec.Peers = append(spec.Peers, n.IP)
		}
	}
	args := applyArgs(spec)
	return inParallel(ctx, targets, func(ctx context.Context, n Node) error {
		return p.edgeletNet(ctx, n.Name, args...)
	})
}

// applyArgs is the `edgelet net apply` command line of a spec.
func applyArgs(s netv1.Spec) []string {
	args := []string{"apply"}
	if s.Delay > 0 {
		args = append(args, "--delay", s.Delay.String())
	}
	if s.Jitter > 0 {
		args = append(args, "--jitter", s.Jitter.String())
	}
	if s.Loss > 0 {
		args = append(args, "--loss", strconv.FormatFloat(s.Loss, 'f', -1, 64))
	}
	if s.Rate != "" {
		args = append(args, "--rate", s.Rate)
	}
	for _, peer := range s.Peers {
		args = append(args, "--peer", peer)
	}
	return args
}

// Heal removes the impairment of the nodes named, or of every node of the
// cluster.
func (p *Provider) Heal(ctx context.Context, cluster string, nodes []string) error {
	if cluster == "" && len(nodes) == 0 {
		return edgeerrors.New(edgeerrors.KindInvalidConfig, "", "name the nodes to heal, or a cluster (-c) to heal all of its nodes")
	}
	targets, err := p.selectNodes(ctx, cluster, nodes)
	if err != nil {
		return err
	}
	return inParallel(ctx, targets, func(ctx context.Context, n Node) error {
		return p.edgeletNet(ctx, n.Name, "clear")
	})
}

// NetStatus reads the link state of every running node of a cluster ("" for
// every cluster).
func (p *Provider) NetStatus(ctx context.Context, cluster string) ([]NodeNet, error) {
	nodes, err := p.selectNodes(ctx, cluster, nil)
	if err != nil {
		return nil, err
	}
	out := make([]NodeNet, len(nodes))
	byName := map[string]*NodeNet{}
	for i, n := range nodes {
		out[i] = NodeNet{Node: n.Name, Cluster: n.Cluster, IP: n.IP}
		byName[n.Name] = &out[i]
	}
	err = inParallel(ctx, nodes, func(ctx context.Context, n Node) error {
		state, err := p.run(ctx, n.Name, nil, "edgelet", "net", "show")
		if err != nil {
			return err
		}
		return json.Unmarshal([]byte(state), &byName[n.Name].Net)
	})
	return out, err
}

// edgeletNet runs `edgelet net ARGS` in a node.
func (p *Provider) edgeletNet(ctx context.Context, node string, args ...string) error {
	_, err := p.run(ctx, node, nil, append([]string{"edgelet", "net"}, args...)...)
	return err
}
