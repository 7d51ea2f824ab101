package cluster

import (
	"context"
	"fmt"
	"strings"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/internal/remote"
	"github.com/edgectl/edgectl/pkg/board"
)

// LeaveOptions control LeaveNode.
type LeaveOptions struct {
	Cluster string // empty: the cluster that has the node
	Node    string
	// KeyFile logs in to the host (default: the agent's and ~/.ssh keys).
	KeyFile string
	// Force deletes the Node even when its host cannot be reached to be
	// cleaned.
	Force bool
}

// LeaveNode removes a joined host from its cluster: it drains the node,
// removes edgelet and all it made from the host over SSH (the node's
// annotation says where), checks that nothing is left, and deletes the Node.
func (p *Provider) LeaveNode(ctx context.Context, opts LeaveOptions) error {
	cluster, target, err := p.findJoined(ctx, opts.Cluster, opts.Node)
	if err != nil {
		return err
	}
	if target.Host == "" && !opts.Force {
		return edgeerrors.New(edgeerrors.KindInvalidConfig,
			fmt.Sprintf("run /usr/local/sbin/edgelet-uninstall on its host, then `edgectl node leave %s --force`", opts.Node),
			"node %q joined with a script (node join --print): edgectl has no SSH address for its host", opts.Node)
	}
	target.KeyFile = opts.KeyFile
	if target.Bastion != nil {
		target.Bastion.KeyFile = opts.KeyFile
	}
	server, err := p.runningServer(ctx, cluster, "")
	if err != nil {
		return err
	}
	kubectl := func(args ...string) error {
		_, err := p.run(ctx, server.Name, nil, append([]string{"kubectl"}, args...)...)
		return err
	}
	var steps []step
	steps = append(steps, step{title: "Draining " + opts.Node, do: func(ctx context.Context) error {
		if err := kubectl("drain", opts.Node, "--ignore-daemonsets", "--delete-emptydir-data", "--force", "--timeout=90s"); err != nil {
			p.logger.Warnf("drain %s: %v", opts.Node, err)
		}
		return nil
	}})
	steps = append(steps, step{title: "Removing edgelet from " + orDefault(target.Host, "its host"), do: func(ctx context.Context) error {
		if target.Host == "" {
			p.logger.Warnf("--force: edgectl cannot reach the host of %s (joined with --print); run `edgelet-uninstall` there", opts.Node)
			return nil
		}
		err := p.cleanHost(ctx, target)
		if err != nil && opts.Force {
			p.logger.Warnf("%v; --force: deleting the Node anyway; run `edgelet-uninstall` on the host", err)
			return nil
		}
		return err
	}})
	steps = append(steps, step{title: "Deleting Node " + opts.Node, do: func(ctx context.Context) error {
		return kubectl("delete", "node", opts.Node, "--ignore-not-found")
	}})
	return p.runSteps(ctx, steps, true, "the node is cordoned; run `edgectl node leave` again once the host is reachable, or add --force")
}

// cleanHost uninstalls edgelet from a host and checks that nothing is left.
func (p *Provider) cleanHost(ctx context.Context, t remote.Target) error {
	h, err := remote.Dial(ctx, t)
	if err != nil {
		return edgeerrors.Wrap(edgeerrors.KindNotFound, "pass -i KEY if the join used one; or --force to delete the Node without cleaning the host", err)
	}
	defer h.Close()
	left, err := board.Uninstall(ctx, h)
	if err != nil {
		return err
	}
	if len(left) > 0 {
		return fmt.Errorf("%s still has: %s", t.Host, strings.Join(left, ", "))
	}
	return nil
}

// findJoined finds the cluster with a joined node of this name, and how to
// reach its host.
func (p *Provider) findJoined(ctx context.Context, cluster, node string) (string, remote.Target, error) {
	clusters := []string{cluster}
	if cluster == "" {
		var err error
		if clusters, err = p.Clusters(ctx); err != nil {
			return "", remote.Target{}, err
		}
	}
	for _, c := range clusters {
		server, err := p.runningServer(ctx, c, "")
		if err != nil {
			if cluster != "" {
				return "", remote.Target{}, err
			}
			continue
		}
		out, err := p.run(ctx, server.Name, nil, "kubectl", "get", "node", node, "--ignore-not-found",
			"-o", `jsonpath={.metadata.labels.edgectl\.io/joined}{"|"}{.metadata.annotations.edgectl\.io/ssh}{"|"}{.metadata.annotations.edgectl\.io/ssh-bastion}`)
		if err != nil || strings.TrimSpace(out) == "" {
			continue
		}
		f := strings.SplitN(strings.TrimSpace(out), "|", 3)
		if f[0] != "true" {
			return "", remote.Target{}, edgeerrors.New(edgeerrors.KindInvalidConfig, fmt.Sprintf("use `edgectl node delete %s`", node),
				"node %q of cluster %q is a container edgectl made, not a joined host", node, c)
		}
		if f[1] == "" {
			// Joined with --print: edgectl never knew how to reach it.
			return c, remote.Target{}, nil
		}
		t, err := remote.ParseTarget(f[1], 0)
		if err != nil {
			return "", remote.Target{}, fmt.Errorf("node %q: annotation %s: %w", node, AnnotationSSH, err)
		}
		if len(f) == 3 && f[2] != "" {
			b, err := remote.ParseTarget(f[2], 0)
			if err != nil {
				return "", remote.Target{}, fmt.Errorf("node %q: annotation %s: %w", node, AnnotationBastion, err)
			}
			t.Bastion = &b
		}
		return c, t, nil
	}
	where := "any cluster"
	if cluster != "" {
		where = fmt.Sprintf("cluster %q", cluster)
	}
	return "", remote.Target{}, edgeerrors.New(edgeerrors.KindNotFound, "see `kubectl get nodes -l edgectl.io/joined=true`", "no joined node %q in %s", node, where)
}
