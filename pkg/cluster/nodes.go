package cluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"

	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/edgectl/edgectl/internal/runtime"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	nodev1 "github.com/edgectl/edgectl/pkg/apis/node/v1alpha1"
)

// job is a create or a node add in progress: the spec it works from and
// what it has learned on the way.
type job struct {
	p   *Provider
	cfg *v1alpha1.Cluster // the spec: defaulted, subnet and API port resolved
	// privileged is whether nodes run --privileged; probe makes the first
	// node find out (the engine may refuse it).
	privileged bool
	probe      bool
	engine     runtime.Info // where the probe's answer is remembered
	secret     string       // the servers' shared secret
	joinToken  string       // the full join token agents get
	logsDir    string
	kc         *clientcmdapi.Config

	mu      sync.Mutex
	started []startedNode
	native  map[string][]byte // emulationFiles, read once
}

// startedNode is a node this job created, for its undo.
type startedNode struct {
	name      string
	memberVia string // a server that holds this node's etcd member, if any
}

// nodeStep starts the nodes of role with the given indexes: a server joins
// through join (an IP; "" starts the first server) and is waited for until
// it serves, one at a time, because each adds an etcd member that etcd must
// see up before the next; agents start in parallel. Create and node add both
// use it. Its undo removes every node it created, and the etcd member of a
// server it joined when removeMembers.
func (j *job) nodeStep(title, role string, indexes []int, join string, removeMembers bool) step {
	return step{title: title,
		do: func(ctx context.Context) error {
			if role == RoleServer {
				for _, i := range indexes {
					if err := j.startNode(ctx, role, i, join, removeMembers); err != nil {
						return err
					}
				}
				return nil
			}
			if j.joinToken == "" {
				tok, err := j.p.joinToken(ctx, j.cfg.Name)
				if err != nil {
					return err
				}
				j.joinToken = tok
			}
			errs := make([]error, len(indexes))
			var wg sync.WaitGroup
			for k, i := range indexes {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[k] = j.startNode(ctx, role, i, "", false)
				}()
			}
			wg.Wait()
			return errors.Join(errs...)
		},
		undo: j.removeStarted,
	}
}

// joinStep joins servers through the first one, whose address is known
// once the network is.
func (j *job) joinStep(title string, indexes []int) step {
	return step{title: title,
		do: func(ctx context.Context) error {
			addr, err := newAddresses(j.cfg.Network.Subnet)
			if err != nil {
				return err
			}
			return j.nodeStep(title, RoleServer, indexes, addr.server(0), false).do(ctx)
		},
		undo: j.removeStarted,
	}
}

// startNode plans and starts one node and, for a server, waits until it has
// written its admin kubeconfig (its API serves).
func (j *job) startNode(ctx context.Context, role string, i int, join string, removeMember bool) error {
	name, err := j.startContainer(ctx, role, i, join, removeMember)
	if err != nil || role != RoleServer {
		return err
	}
	return j.awaitServer(ctx, name, false)
}

// startContainer plans one node and starts its container, and returns its
// name.
func (j *job) startContainer(ctx context.Context, role string, i int, join string, removeMember bool) (string, error) {
	token := j.joinToken
	if role == RoleServer {
		token = j.secret
	}
	plan, err := planNode(j.cfg, role, i, join, token, j.privileged)
	if err != nil {
		return "", err
	}
	spec := withHostMounts(plan.Spec)
	native, err := j.emulationFiles(ctx, j.cfg.Platform(role, i))
	if err != nil {
		return "", err
	}
	maps.Copy(spec.Files, native)
	j.mu.Lock()
	memberVia := ""
	if removeMember && join != "" {
		memberVia = join
	}
	j.started = append(j.started, startedNode{name: spec.Name, memberVia: memberVia})
	probe := j.probe
	j.probe = false
	j.mu.Unlock()
	if probe {
		return spec.Name, j.startProbing(ctx, spec)
	}
	return spec.Name, j.p.rt.CreateNode(ctx, spec)
}

// awaitServer waits until server has written its admin kubeconfig (its API
// serves); the first one's is the job's. first is the cluster's first
// server, the only one behind the load balancer yet.
func (j *job) awaitServer(ctx context.Context, server string, first bool) error {
	kc, err := j.p.fetchKubeconfig(ctx, j.cfg.Name, server, j.cfg.Network.APIHostIP, j.cfg.Network.APIPort, first)
	if err != nil {
		return j.p.failWithLogs(ctx, j.cfg.Name, j.logsDir, err)
	}
	if j.kc == nil {
		j.kc = kc
	}
	return nil
}

// firstServerStep starts the load balancer and the first server at once
// (the server boots while the balancer starts, ~0.8 s), then waits for the
// server's API. The balancer may find the API host port taken by then and
// take another (autoPort): the server, whose labels name the port, is then
// made again.
func (j *job) firstServerStep(autoPort bool) step {
	p, cfg := j.p, j.cfg
	return step{title: "Starting the load balancer and the first server",
		do: func(ctx context.Context) error {
			lbCfg := *cfg // startLB may change its API port: not under the server's planning
			lbDone := make(chan error, 1)
			go func() { lbDone <- p.startLB(ctx, &lbCfg, autoPort) }()
			server, err := j.startContainer(ctx, RoleServer, 0, "", false)
			if err := errors.Join(err, <-lbDone); err != nil {
				return err
			}
			if lbCfg.Network.APIPort != cfg.Network.APIPort {
				p.logger.Vf(1, "API port %d was taken meanwhile; starting %s again for port %d", cfg.Network.APIPort, server, lbCfg.Network.APIPort)
				if err := j.removeStarted(ctx); err != nil {
					return err
				}
				cfg.Network.APIPort = lbCfg.Network.APIPort
				if server, err = j.startContainer(ctx, RoleServer, 0, "", false); err != nil {
					return err
				}
			}
			return j.awaitServer(ctx, server, true)
		},
		undo: func(ctx context.Context) error {
			return errors.Join(j.removeStarted(ctx), p.rt.Remove(ctx, lbName(cfg.Name)))
		},
	}
}

// startProbing starts the first node with --privileged and falls back to
// the explicit capability set where the engine refuses privilege. The answer
// is used for every later node of the job.
func (j *job) startProbing(ctx context.Context, spec runtime.NodeSpec) error {
	spec.Privileged = true
	spec.Labels[labelPrivileged] = "true"
	err := j.p.rt.CreateNode(ctx, spec)
	if err == nil {
		j.p.logger.Vf(1, "nodes run --privileged")
		j.privileged = true
		j.p.rememberPrivilege(j.engine, false)
		return nil
	}
	if !errors.Is(err, runtime.ErrPrivilegeRefused) {
		return err
	}
	j.p.rememberPrivilege(j.engine, true)
	j.p.logger.Vf(1, "%v; nodes run with all capabilities but CAP_SYS_RESOURCE instead", firstLine(err.Error()))
	if err := j.p.rt.Remove(ctx, spec.Name); err != nil {
		return err
	}
	j.privileged = false
	spec.Privileged = false
	spec.Labels[labelPrivileged] = "false"
	return j.p.rt.CreateNode(ctx, spec)
}

// removeStarted removes every node the job created, newest first.
func (j *job) removeStarted(ctx context.Context) error {
	j.mu.Lock()
	started := append([]startedNode(nil), j.started...)
	j.started = nil
	j.mu.Unlock()
	var errs []error
	for k := len(started) - 1; k >= 0; k-- {
		n := started[k]
		if n.memberVia != "" {
			if via, err := j.p.containerWithIP(ctx, j.cfg.Name, n.memberVia); err == nil {
				errs = append(errs, j.p.removeMember(ctx, via, n.name))
			}
		}
		errs = append(errs, j.p.removeNode(ctx, n.name))
	}
	return errors.Join(errs...)
}

// containerWithIP names the node of cluster with the static IP ip.
func (p *Provider) containerWithIP(ctx context.Context, cluster, ip string) (string, error) {
	nodes, err := p.Nodes(ctx, cluster)
	if err != nil {
		return "", err
	}
	for _, n := range nodes {
		if n.IP == ip {
			return n.Name, nil
		}
	}
	return "", fmt.Errorf("cluster %q has no node with IP %s", cluster, ip)
}

// joinToken reads the full join token (it pins the CA) from a running server.
func (p *Provider) joinToken(ctx context.Context, cluster string) (string, error) {
	server, err := p.runningServer(ctx, cluster, "")
	if err != nil {
		return "", err
	}
	return p.readNodeFile(ctx, server.Name, nodev1.ServerTokenPath(nodev1.DefaultDataDir), "the join token")
}

// serverSecret reads the servers' shared secret from a running server.
func (p *Provider) serverSecret(ctx context.Context, server string) (string, error) {
	return p.readNodeFile(ctx, server, nodev1.DefaultTokenFile, "the server secret")
}

// readNodeFile reads a one-line file of a running node (what names it for
// the error).
func (p *Provider) readNodeFile(ctx context.Context, node, path, what string) (string, error) {
	out, err := p.run(ctx, node, nil, "cat", path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", what, err)
	}
	return strings.TrimSpace(out), nil
}

// removeNode removes a node's container and volumes.
func (p *Provider) removeNode(ctx context.Context, node string) error {
	if err := p.rt.Remove(ctx, node); err != nil {
		return err
	}
	for _, v := range volumes(node) {
		if err := p.rt.RemoveVolume(ctx, v); err != nil {
			return err
		}
	}
	return nil
}

// withHostMounts drops bind mounts whose source the host lacks (/lib/modules
// is absent on some CI hosts and in WSL).
func withHostMounts(s runtime.NodeSpec) runtime.NodeSpec {
	var mounts []runtime.Mount
	for _, m := range s.Mounts {
		if m.Source != "" && !exists(m.Source) {
			continue
		}
		mounts = append(mounts, m)
	}
	s.Mounts = mounts
	return s
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
