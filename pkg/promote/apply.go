package promote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/edgectl/edgectl/internal/cli"
	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/internal/log"
	"github.com/edgectl/edgectl/internal/remote"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	nodev1 "github.com/edgectl/edgectl/pkg/apis/node/v1alpha1"
	"github.com/edgectl/edgectl/pkg/board"
	"github.com/edgectl/edgectl/pkg/build/nodeimage"
	"github.com/edgectl/edgectl/pkg/cluster"
)

// ApplyOptions control Apply.
type ApplyOptions struct {
	// Kubeconfig is the file the context is written to ("": $KUBECONFIG's
	// first file or ~/.kube/config).
	Kubeconfig    string
	SwitchContext bool
	// Wait bounds each wait: a node to come up, the cluster to be usable.
	Wait time.Duration
	// Prune drains and deletes the Nodes whose hosts the file no longer
	// has, and resets those hosts.
	Prune  bool
	Logger *log.Logger
}

// ApplyResult is what an apply did.
type ApplyResult struct {
	Plan *Plan `json:"plan"`
	// Context is the kubeconfig context of the cluster.
	Context  string        `json:"context,omitempty"`
	Duration time.Duration `json:"duration"`
}

// ContextName is the kubeconfig context of a promoted cluster.
func ContextName(cluster string) string { return "edgectl-promote-" + cluster }

// kubectl on a server host, as its admin.
const kubectl = "/usr/local/bin/kubectl --kubeconfig " + nodev1.DefaultKubeconfig

// Apply makes the hosts of cfg run its cluster: it plans (connects to
// every host and runs the preflight; a host that fails stops the apply
// before anything is written anywhere), then installs or upgrades the
// first server, the other servers one at a time, and the agents, and
// rewrites the node files that differ. A host that already runs what the
// plan wants is not written to. Then it writes the kubeconfig context and
// waits until the cluster is usable. Every step can be run again: an apply
// that stopped half-way is finished by the next one.
func Apply(ctx context.Context, cfg *v1alpha1.Cluster, opts ApplyOptions) (*ApplyResult, error) {
	start := time.Now()
	lg := opts.Logger
	if lg == nil {
		lg = log.Discard()
	}
	if opts.Wait <= 0 {
		opts.Wait = 5 * time.Minute
	}
	plan, hosts, err := survey(ctx, cfg, opts.Prune)
	defer func() {
		for _, h := range hosts {
			h.close()
		}
	}()
	res := &ApplyResult{Plan: plan}
	if err != nil {
		return res, edgeerrors.Wrap(edgeerrors.KindInvalidConfig, "fix the hosts named, or their entries in the file, and apply again", err)
	}
	a := &applier{cfg: cfg, plan: plan, opts: opts, log: lg, status: cli.NewStatus(lg.Writer()), hosts: hosts, first: hosts[0]}
	if err := a.run(ctx); err != nil {
		a.status.End(false)
		return res, err
	}
	res.Context, res.Duration = ContextName(cfg.Name), time.Since(start)
	return res, nil
}

type applier struct {
	cfg     *v1alpha1.Cluster
	plan    *Plan
	opts    ApplyOptions
	log     *log.Logger
	status  *cli.Status
	hosts   []*host
	first   *host // server 0: the others join it; kubectl runs there
	bundles map[string]string
}

func (a *applier) run(ctx context.Context) error {
	if err := a.fetchBundles(ctx); err != nil {
		return err
	}
	secret, err := a.serverSecret(ctx)
	if err != nil {
		return err
	}
	var agents []*host
	for _, h := range a.hosts {
		if !h.server() {
			agents = append(agents, h)
			continue
		}
		if err := a.applyHost(ctx, h, secret, a.status); err != nil {
			return err
		}
	}
	if len(agents) > 0 {
		token, err := a.readFile(ctx, a.first, nodev1.ServerTokenPath(nodev1.DefaultDataDir))
		if err != nil {
			return fmt.Errorf("read the join token on %s: %w", a.first.plan.Hostname, err)
		}
		// Installs and file changes go at once; upgrades one at a time.
		var wg sync.WaitGroup
		errs := make([]error, len(agents))
		for i, h := range agents {
			if h.plan.Action == ActionUpgrade {
				continue
			}
			// Each its own steps (no spinner), so that each says its time.
			st := cli.NewStatus(struct{ io.Writer }{a.log.Writer()})
			wg.Add(1)
			go func() {
				defer wg.Done()
				if errs[i] = a.applyHost(ctx, h, token, st); errs[i] != nil {
					st.End(false)
				}
			}()
		}
		wg.Wait()
		for i, h := range agents {
			if errs[i] != nil {
				return errs[i]
			}
			if h.plan.Action == ActionUpgrade {
				if err := a.applyHost(ctx, h, token, a.status); err != nil {
					return err
				}
			}
		}
	}
	if a.opts.Prune {
		for _, p := range a.plan.Prune {
			if err := a.prune(ctx, p); err != nil {
				return err
			}
		}
	} else if n := len(a.plan.Prune); n > 0 {
		a.log.Warnf("%d node(s) of the cluster have hosts that the file no longer has; apply --prune removes them", n)
	}
	return a.finish(ctx)
}

// prune removes a Node whose host the file no longer has: it drains it,
// removes a server's etcd member (while listed it counts toward etcd's
// quorum), deletes the Node, and resets the host (reached with the file's
// keys).
func (a *applier) prune(ctx context.Context, p HostPlan) error {
	conn, err := a.dialPruned(ctx, p.SSH)
	if err != nil {
		return fmt.Errorf("prune %s: reach its host %s: %w (nothing was removed; when the host is gone for good, remove the Node by hand: %s)", p.Hostname, p.SSH, err, byHand(p))
	}
	defer conn.Close()
	if err := a.drain(ctx, p.Hostname); err != nil {
		return err
	}
	if p.Node == cluster.RoleServer && cluster.DatastoreOf(a.cfg) == cluster.DatastoreEtcd {
		a.status.Start(fmt.Sprintf("Removing the etcd member of %s", p.Hostname))
		if out, err := a.first.conn.Run(ctx, "/usr/local/bin/edgelet member rm --ignore-not-found "+remote.Quote(p.Hostname), nil); err != nil {
			return fmt.Errorf("remove the etcd member of %s through %s: %w\n%s", p.Hostname, a.first.plan.Hostname, err, strings.TrimSpace(out))
		}
		a.status.End(true)
	}
	a.status.Start(fmt.Sprintf("Removing %s and resetting its host %s", p.Hostname, p.SSH))
	if _, err := a.kubectl(ctx, "delete", "node", p.Hostname, "--ignore-not-found"); err != nil {
		return err
	}
	left, err := board.Uninstall(ctx, conn)
	if err == nil && len(left) > 0 {
		err = fmt.Errorf("reset %s: still there: %s", p.SSH, strings.Join(left, ", "))
	}
	if err != nil {
		return err
	}
	a.status.End(true)
	return nil
}

// byHand is how a user removes a pruned Node whose host cannot be reached.
func byHand(p HostPlan) string {
	steps := "`kubectl delete node " + p.Hostname + "`"
	if p.Node == cluster.RoleServer {
		steps = "`edgelet member rm " + p.Hostname + "` on a server, then " + steps
	}
	return steps
}

// dialPruned connects to a host that is no longer in the file, trying
// each key file the file names (and the SSH agent's and ~/.ssh keys).
func (a *applier) dialPruned(ctx context.Context, ssh string) (*remote.Host, error) {
	t, err := remote.ParseTarget(ssh, 22)
	if err != nil {
		return nil, err
	}
	keys := []string{""}
	for _, h := range a.cfg.Hosts {
		if h.KeyFile != "" && !slices.Contains(keys, h.KeyFile) {
			keys = append(keys, h.KeyFile)
		}
	}
	var errs []error
	for _, k := range slices.Backward(keys) {
		t.KeyFile = k
		c, err := remote.Dial(ctx, t)
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// fetchBundles gets the bundle of every platform and role the plan
// installs, from the build cache (built there when missing).
func (a *applier) fetchBundles(ctx context.Context) error {
	a.bundles = map[string]string{}
	for _, h := range a.hosts {
		if h.plan.Action != ActionInstall && h.plan.Action != ActionUpgrade {
			continue
		}
		opts := nodeimage.Options{Arch: h.arch, Role: bundleRole(h.spec.Role)}
		key := opts.Arch + "/" + opts.Role
		if a.bundles[key] != "" {
			continue
		}
		a.log.Infof("Using the linux/%s %s bundle from the build cache (built once per edgectl source change)", opts.Arch, opts.Role)
		file, err := nodeimage.CachedBundle(ctx, opts, a.log.Writer())
		if err != nil {
			return fmt.Errorf("board bundle for linux/%s: %w", key, err)
		}
		a.bundles[key] = file
	}
	return nil
}

// serverSecret is the servers' shared secret: the first server's, when it
// has one, else a new one.
func (a *applier) serverSecret(ctx context.Context) (string, error) {
	if a.first.plan.Installed != "" {
		if s, err := a.readFile(ctx, a.first, board.TokenFile); err == nil && s != "" {
			return s, nil
		}
	}
	return cluster.RandomToken()
}

// applyHost does the host's action; token is what its token file gets
// when it is installed.
func (a *applier) applyHost(ctx context.Context, h *host, token string, st *cli.Status) error {
	name := h.plan.Hostname
	if h.plan.Action == ActionNone {
		return nil
	}
	verb, hook := "Installing", "apply"
	if h.plan.Action == ActionUpgrade {
		verb, hook = "Upgrading", "upgrade"
	}
	switch h.plan.Action {
	case ActionConfig:
		if err := runHooks(ctx, h.conn, h.spec, hook, "before"); err != nil {
			return err
		}
		files := map[string][]byte{}
		for _, p := range h.plan.Changed {
			files[p] = h.files[p]
		}
		if _, ok := files[board.TokenFile]; ok {
			files[board.TokenFile] = []byte(token + "\n")
		}
		st.Start(fmt.Sprintf("Writing %s on %s", strings.Join(h.plan.Changed, ", "), name))
		if err := board.Configure(ctx, h.conn, files); err != nil {
			return err
		}
	case ActionInstall, ActionUpgrade:
		if h.plan.Action == ActionUpgrade {
			if err := a.drain(ctx, name); err != nil {
				return err
			}
		}
		if err := runHooks(ctx, h.conn, h.spec, hook, "before"); err != nil {
			return err
		}
		st.Start(fmt.Sprintf("%s the linux/%s %s on %s (%s)", verb, h.arch, h.spec.Role, name, h.conn.Target.Host))
		j := board.Join{Cluster: a.cfg.Name, Node: name, Arch: h.arch, Role: h.spec.Role, Token: token, Files: h.files}
		j.Config = h.files[board.ConfigFile]
		if err := board.Install(ctx, h.conn, j, a.bundles[h.arch+"/"+bundleRole(h.spec.Role)]); err != nil {
			return err
		}
	}
	// The restarted node's last lease renewal is still the stopped one's.
	lease, _ := a.nodeState(ctx, name)
	st.End(true)
	st.Start(fmt.Sprintf("Waiting ≤ %s for %s to be Ready", a.opts.Wait, name))
	if err := a.waitReady(ctx, h, lease); err != nil {
		return err
	}
	if err := runHooks(ctx, h.conn, h.spec, hook, "after"); err != nil {
		return err
	}
	if h.plan.Action == ActionUpgrade {
		if _, err := a.kubectl(ctx, "uncordon", name); err != nil {
			return err
		}
	}
	st.End(true)
	return nil
}

// runHooks runs the hooks of spec's host for action (apply, upgrade,
// reset) at when (before, after), one at a time; the first that fails
// stops them.
func runHooks(ctx context.Context, c *remote.Host, spec v1alpha1.Host, action, when string) error {
	for _, cmd := range spec.Hooks.Commands(action, when) {
		if out, err := c.Run(ctx, "sh -c "+remote.Quote(cmd), nil); err != nil {
			return fmt.Errorf("%s:%d: the %s hook (%s) %s failed on %s: %w\n%s", spec.Role, spec.Index, action, when, remote.Quote(cmd), c.Target, err, strings.TrimSpace(out))
		}
	}
	return nil
}

// drain moves the pods off a node before its upgrade, as the cluster's
// PodDisruptionBudgets allow.
func (a *applier) drain(ctx context.Context, node string) error {
	a.status.Start("Draining " + node)
	_, err := a.kubectl(ctx, "drain", node, "--ignore-daemonsets", "--delete-emptydir-data", "--force", "--timeout="+a.opts.Wait.String())
	if err != nil {
		return fmt.Errorf("drain %s (its PodDisruptionBudgets may not allow it; the node stays cordoned: `kubectl uncordon %s`): %w", node, node, err)
	}
	a.status.End(true)
	return nil
}

// waitReady waits until the host's Node is Ready and its kubelet has
// renewed its lease since lease (the renewal read before: an upgraded
// node's new kubelet has to speak, not the stopped one's status), and
// stops early when edgelet there has failed for good.
func (a *applier) waitReady(ctx context.Context, h *host, lease string) error {
	ctx, cancel := context.WithTimeout(ctx, a.opts.Wait)
	defer cancel()
	for {
		renewed, ready := a.nodeState(ctx, h.plan.Hostname)
		if ready && renewed != "" && renewed != lease {
			return nil
		}
		if err := board.Stopped(ctx, h.conn); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s is not Ready after %s (journalctl -u edgelet on it says why): %w", h.plan.Hostname, a.opts.Wait, ctx.Err())
		case <-time.After(2 * time.Second):
		}
	}
}

// nodeState is when the Node's kubelet last renewed its lease, and
// whether the Node is Ready ("", false when the API does not answer).
func (a *applier) nodeState(ctx context.Context, node string) (renewed string, ready bool) {
	out, err := a.first.conn.Run(ctx, kubectl+" get -n kube-node-lease lease "+remote.Quote(node)+" -o jsonpath='{.spec.renewTime}' && echo && "+
		kubectl+" get node "+remote.Quote(node)+` -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}'`, nil)
	if err != nil {
		return "", false
	}
	renewed, status, _ := strings.Cut(strings.TrimSpace(out), "\n")
	return renewed, status == "True"
}

// finish writes the kubeconfig context, waits for the cluster to be
// usable, and notes on each Node how edgectl reaches its host.
func (a *applier) finish(ctx context.Context) error {
	raw, err := a.first.conn.Run(ctx, "cat "+nodev1.DefaultKubeconfig, nil)
	if err != nil {
		return fmt.Errorf("read the kubeconfig on %s: %w", a.first.plan.Hostname, err)
	}
	server := "https://" + net.JoinHostPort(a.first.conn.Target.Host, strconv.Itoa(cluster.APIPort))
	kc, err := cluster.KubeconfigFor([]byte(raw), ContextName(a.cfg.Name), server)
	if err != nil {
		return err
	}
	if err := cluster.MergeKubeconfigFile(a.opts.Kubeconfig, kc, a.opts.SwitchContext); err != nil {
		return err
	}
	if err := cluster.WaitUsable(ctx, kc, len(a.hosts), a.cfg.Disable, a.opts.Wait, func(s string) { a.status.Start(s) }); err != nil {
		return err
	}
	a.status.End(true)
	// Every time: an apply that stopped before this step left some out.
	// An annotation that is already there is not written again.
	for _, h := range a.hosts {
		args := []string{"annotate", "node", h.plan.Hostname, "--overwrite", cluster.AnnotationSSH + "=" + h.conn.Target.String()}
		if h.conn.Target.Bastion != nil {
			args = append(args, cluster.AnnotationBastion+"="+h.conn.Target.Bastion.String())
		}
		if _, err := a.kubectl(ctx, args...); err != nil {
			return err
		}
	}
	return nil
}

// kubectl runs kubectl on the first server.
func (a *applier) kubectl(ctx context.Context, args ...string) (string, error) {
	return runKubectl(ctx, a.first.conn, args...)
}

// readFile reads a one-line file on a host.
func (a *applier) readFile(ctx context.Context, h *host, path string) (string, error) {
	out, err := h.conn.Run(ctx, "cat "+remote.Quote(path), nil)
	return strings.TrimSpace(out), err
}
