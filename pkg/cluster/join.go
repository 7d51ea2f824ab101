package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/internal/remote"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	nodev1 "github.com/edgectl/edgectl/pkg/apis/node/v1alpha1"
	"github.com/edgectl/edgectl/pkg/board"
	"github.com/edgectl/edgectl/pkg/build/nodeimage"
	edgelettoken "github.com/edgectl/edgectl/pkg/edgelet/token"
)

// A joined node is a host edgectl did not create that runs edgelet from a
// board bundle. Its Node carries the label and the annotation below, which
// is how `node leave` finds the host again.
const (
	LabelJoined       = "edgectl.io/joined"
	AnnotationSSH     = "edgectl.io/ssh"
	AnnotationBastion = "edgectl.io/ssh-bastion"
)

// JoinOptions control JoinHost.
type JoinOptions struct {
	Cluster string
	Target  remote.Target
	// Name of the Node (default: the host's name).
	Name   string
	Labels map[string]string
	Taints []string
	// Force installs beside another Kubernetes (k3s, a kubelet).
	Force bool
	// Bundle is a board bundle file to install (default: the build
	// cache's, built from the source tree when missing).
	Bundle string
	// Token is the join token to give the host (default: a new one that
	// joins this node only and expires soon after the wait).
	Token  string
	Wait   time.Duration
	Retain bool
	// Out gets the preflight.
	Out io.Writer
}

// JoinHost joins a host to a cluster over SSH as an agent: it runs the
// preflight and prints it, installs the board bundle of the host's
// architecture, writes the node config and the join token, starts edgelet
// under systemd and waits for the Node. Every step can be run again; a
// failure removes what the join installed, unless Retain.
func (p *Provider) JoinHost(ctx context.Context, opts JoinOptions) (string, error) {
	cfg, own, err := p.joinable(ctx, opts.Cluster)
	if err != nil {
		return "", err
	}
	if opts.Token != "" {
		if err := p.checkJoinToken(ctx, opts.Cluster, own, opts.Token); err != nil {
			return "", err
		}
	}
	h, err := remote.Dial(ctx, opts.Target)
	var auth *remote.AuthError
	if errors.As(err, &auth) {
		return "", edgeerrors.Wrap(edgeerrors.KindInvalidConfig, "check --ssh USER@HOST and -i KEY: `ssh -i KEY USER@HOST true` must work", err)
	}
	if err != nil {
		return "", edgeerrors.Wrap(edgeerrors.KindNotFound, "check the address, and that sshd runs there", err)
	}
	defer h.Close()
	api := net.JoinHostPort(cfg.Network.APIAddress, strconv.Itoa(cfg.Network.APIPort))
	pre, err := board.RunPreflight(ctx, h, api, opts.Force)
	if err != nil {
		return "", err
	}
	pre.Print(opts.Out)
	if err := pre.Err(); err != nil {
		return "", edgeerrors.Wrap(edgeerrors.KindInvalidConfig, "fix the host and run the join again; nothing was installed", err)
	}
	name := orDefault(opts.Name, pre.Facts["hostname"])
	if err := p.checkJoinName(ctx, opts.Cluster, name, opts.Target); err != nil {
		return "", err
	}
	join, err := joinFor(cfg, name, pre.Arch, opts.Token, opts.Labels, opts.Taints)
	if err != nil {
		return "", err
	}
	bundle := opts.Bundle
	if bundle == "" {
		p.logger.Infof("Using the linux/%s agent bundle from the build cache (built once per edgectl source change)", pre.Arch)
		bundle, err = nodeimage.CachedBundle(ctx, nodeimage.Options{Arch: pre.Arch, Role: nodeimage.RoleAgent}, p.logger.Writer())
		if err != nil {
			return "", fmt.Errorf("board bundle for linux/%s: %w", pre.Arch, err)
		}
	}
	undo := func(ctx context.Context) error {
		left, err := board.Uninstall(ctx, h)
		if err == nil && len(left) > 0 {
			err = fmt.Errorf("left on %s: %s", h.Target, strings.Join(left, ", "))
		}
		return err
	}
	var steps []step
	if opts.Token == "" {
		// One token per join: it joins this node only, and expires soon
		// after the join's wait. A failed join takes it with it.
		var id string
		steps = append(steps, step{title: "Making a single-use join token",
			do: func(ctx context.Context) error {
				tok, err := p.CreateToken(ctx, TokenOptions{Cluster: opts.Cluster, TTL: max(opts.Wait+10*time.Minute, 15*time.Minute), Uses: 1,
					Description: fmt.Sprintf("node join of %s (%s)", name, opts.Target.Host)})
				join.Token, id = tok, tokenID(tok)
				return err
			},
			undo: func(ctx context.Context) error {
				if id == "" {
					return nil
				}
				return p.DeleteTokens(ctx, opts.Cluster, []string{id})
			}})
	}
	steps = append(steps, step{title: fmt.Sprintf("Installing the linux/%s agent on %s", pre.Arch, h.Target.Host),
		do: func(ctx context.Context) error { return board.Install(ctx, h, join, bundle) }, undo: undo})
	if opts.Wait > 0 {
		steps = append(steps, step{title: fmt.Sprintf("Waiting ≤ %s for %s to be Ready", opts.Wait, name),
			do: func(ctx context.Context) error { return p.waitJoined(ctx, h, opts.Cluster, name, opts.Wait) }})
	}
	steps = append(steps, step{title: "Recording how to reach " + name,
		do: func(ctx context.Context) error { return p.recordJoined(ctx, opts.Cluster, name, opts.Target) }})
	if err := p.runSteps(ctx, steps, opts.Retain, fmt.Sprintf("keeping edgelet on %s; remove it with `edgelet-uninstall` there", h.Target.Host)); err != nil {
		return "", err
	}
	return name, nil
}

// waitJoined waits for the Node to be Ready, and stops early when edgelet on
// the host has stopped for good (a rejected token).
func (p *Provider) waitJoined(ctx context.Context, h *remote.Host, cluster, name string, wait time.Duration) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := make(chan error, 1)
	// A board is no container: its log is read over SSH.
	logs := fmt.Sprintf("ssh %s@%s journalctl -u edgelet", h.Target.User, h.Target.Host)
	if h.Target.Port != 22 && h.Target.Port != 0 {
		logs = fmt.Sprintf("ssh -p %d %s@%s journalctl -u edgelet", h.Target.Port, h.Target.User, h.Target.Host)
	}
	go func() { done <- p.waitNode(ctx, cluster, name, wait, logs) }()
	tick := time.NewTicker(3 * time.Second)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if cause := context.Cause(ctx); cause != nil && cause != context.Canceled {
				return cause
			}
			return err
		case <-tick.C:
			if err := board.Stopped(ctx, h); err != nil {
				if errors.Is(err, board.ErrTokenRejected) {
					err = edgeerrors.Wrap(edgeerrors.KindInvalidConfig, "the cluster was re-created or its token changed: join again with edgectl of this cluster", err)
				}
				cancel(err)
			}
		}
	}
}

// JoinScript is the join of a host of arch as one script (node join
// --print), for a host that edgectl cannot reach over SSH.
func (p *Provider) JoinScript(ctx context.Context, cluster, name, arch string, labels map[string]string, taints []string) (string, error) {
	cfg, _, err := p.joinable(ctx, cluster)
	if err != nil {
		return "", err
	}
	if name == "" {
		return "", edgeerrors.New(edgeerrors.KindInvalidConfig, "pass --name NODE", "--print needs the node's name: edgectl cannot ask the host")
	}
	// The script may run much later, on a host edgectl never sees: its
	// token joins this one node, within a day.
	tok, err := p.CreateToken(ctx, TokenOptions{Cluster: cluster, TTL: 24 * time.Hour, Uses: 1, Description: "node join --print of " + name})
	if err != nil {
		return "", err
	}
	join, err := joinFor(cfg, name, arch, tok, labels, taints)
	if err != nil {
		return "", err
	}
	return join.Script()
}

// tokenID is the id part of a full join token (for messages and deletes).
func tokenID(full string) string {
	t, err := edgelettoken.Parse(full)
	if err != nil {
		return ""
	}
	return t.ID
}

// joinable returns the spec and the join token of a cluster that hosts can
// join: one that publishes its API on an address they reach.
func (p *Provider) joinable(ctx context.Context, cluster string) (*v1alpha1.Cluster, string, error) {
	cfg, err := p.Spec(ctx, cluster)
	if err != nil {
		return nil, "", err
	}
	if cfg.Network.APIAddress == "" {
		return nil, "", edgeerrors.New(edgeerrors.KindInvalidConfig,
			fmt.Sprintf("re-create it with `edgectl cluster create %s --api-address ADDR` (ADDR: this machine's LAN address, or a name that reaches it)", cluster),
			"cluster %q publishes its API on %s only, which other hosts cannot reach", cluster, cfg.Network.APIHostIP)
	}
	token, err := p.joinToken(ctx, cluster)
	if err != nil {
		return nil, "", err
	}
	return cfg, token, nil
}

// joinFor is what a joining host of arch is given: an agent's node config
// that reaches the servers at the cluster's API address.
func joinFor(cfg *v1alpha1.Cluster, name, arch, token string, labels map[string]string, taints []string) (board.Join, error) {
	nc := baseConfig(cfg, RoleAgent, name)
	nc.Server = "https://" + net.JoinHostPort(cfg.Network.APIAddress, strconv.Itoa(cfg.Network.APIPort))
	nc.Tunnel = true // nothing can connect to a host behind NAT
	nc.Labels = map[string]string{LabelJoined: "true"}
	for k, v := range labels {
		nc.Labels[k] = v
	}
	nc.Taints = taints
	if err := nc.ApplyArgs(cfg.AgentArgs); err != nil {
		return board.Join{}, edgeerrors.Wrap(edgeerrors.KindInvalidConfig, "", fmt.Errorf("%s: %w", name, err))
	}
	if err := checkConfig(nc); err != nil {
		return board.Join{}, edgeerrors.Wrap(edgeerrors.KindInvalidConfig, "", err)
	}
	conf, err := nc.Marshal()
	if err != nil {
		return board.Join{}, err
	}
	return board.Join{Cluster: cfg.Name, Node: name, Arch: arch, Config: conf, Token: token, Role: nodev1.RoleAgent}, nil
}

// checkJoinName refuses a name that a node of the cluster has, unless it is
// this host joining again.
func (p *Provider) checkJoinName(ctx context.Context, cluster, name string, t remote.Target) error {
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return edgeerrors.New(edgeerrors.KindInvalidConfig, "pass --name NODE (lower case letters, digits, '-' and '.')", "%q is not a valid node name", name)
	}
	server, err := p.runningServer(ctx, cluster, "")
	if err != nil {
		return err
	}
	out, err := p.run(ctx, server.Name, nil, "kubectl", "get", "node", name, "--ignore-not-found",
		"-o", `jsonpath={.metadata.annotations.edgectl\.io/ssh}{"|"}{.metadata.labels.edgectl\.io/joined}`)
	if err != nil {
		return err
	}
	out = strings.TrimSpace(out)
	if out == "" {
		return nil
	}
	ssh, joined, _ := strings.Cut(out, "|")
	if joined == "true" && (ssh == "" || ssh == t.String()) {
		return nil // this host again (or its earlier join that did not finish)
	}
	return edgeerrors.New(edgeerrors.KindExists, "pass --name with another name", "cluster %q already has a node %q", cluster, name)
}

// recordJoined notes on the Node how to reach its host.
func (p *Provider) recordJoined(ctx context.Context, cluster, name string, t remote.Target) error {
	server, err := p.runningServer(ctx, cluster, "")
	if err != nil {
		return err
	}
	args := []string{"kubectl", "annotate", "node", name, "--overwrite", AnnotationSSH + "=" + t.String()}
	if t.Bastion != nil {
		args = append(args, AnnotationBastion+"="+t.Bastion.String())
	}
	_, err = p.run(ctx, server.Name, nil, args...)
	return err
}
