package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/edgectl/edgectl/internal/cli"
	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/internal/runtime"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	"github.com/edgectl/edgectl/pkg/build/nodeimage"
)

// CreateOptions control Create.
type CreateOptions struct {
	Config *v1alpha1.Cluster
	// Wait bounds the wait for a usable cluster (API ready, nodes Ready,
	// CoreDNS ready). Zero means do not wait for readiness.
	Wait time.Duration
	// Retain keeps the containers of a failed create, for debugging.
	Retain bool
	// SwitchContext makes the new context the current one.
	SwitchContext bool
	// Kubeconfig is the file to merge into ("" = $KUBECONFIG's first file or ~/.kube/config).
	Kubeconfig string
	// LogsDir receives node logs when the create fails ("" = a temp dir).
	LogsDir string
	// DecodeError is what a lenient decode of the config file let through
	// (an unknown field): reported with the validation problems.
	DecodeError error
}

// Create creates a cluster. Nothing is created when the config is invalid,
// the name is taken, the image is missing or a port is in use; a failure
// after that removes everything that was created unless opts.Retain.
func (p *Provider) Create(ctx context.Context, opts CreateOptions) (err error) {
	cfg := opts.Config
	v1alpha1.SetDefaults(cfg)
	if err := errors.Join(opts.DecodeError, cfg.Validate()); err != nil {
		return edgeerrors.Wrap(edgeerrors.KindInvalidConfig, "fix the config and run again; `edgectl config init` prints a commented example", err)
	}
	status := cli.NewStatus(p.logger.Writer())
	defer func() { status.End(err == nil) }()
	status.Start("Checking the engine, name, image and ports")
	info, err := p.rt.Info(ctx)
	if err != nil {
		return engineError(err)
	}
	p.logger.Vf(1, "engine: %s %s, cgroup %s (%s driver)", info.Name, info.Version, info.CgroupVersion, info.CgroupDriver)
	if nodes, err := p.Nodes(ctx, cfg.Name); err != nil {
		return err
	} else if len(nodes) > 0 {
		return edgeerrors.New(edgeerrors.KindExists, fmt.Sprintf("delete it first (`edgectl cluster delete %s`) or pick another name", cfg.Name),
			"cluster %q already exists", cfg.Name)
	}
	if _, ok, err := p.rt.ImageLabel(ctx, cfg.Image, nodeimage.LabelInputs); err != nil {
		return engineError(err)
	} else if !ok {
		return edgeerrors.New(edgeerrors.KindImageMissing, "build it with `edgectl image build` (or `make image`), or pass --image",
			"node image %q not found in the engine", cfg.Image)
	}
	p.warnInotify(ctx, cfg.Servers, cfg.Agents)
	apiPort := cfg.Network.APIPort
	if apiPort == 0 {
		if apiPort, err = freePort(cfg.Network.APIHostIP); err != nil {
			return fmt.Errorf("find a free API port: %w", err)
		}
	} else if !portFree(cfg.Network.APIHostIP, apiPort) {
		return edgeerrors.New(edgeerrors.KindPortInUse, "pick another --api-port, or omit it to get a free one",
			"API port %s:%d is already in use", cfg.Network.APIHostIP, apiPort)
	}
	var busy []string
	for _, port := range cfg.Ports {
		if port.Protocol == "tcp" && !portFree(orDefault(port.HostIP, "0.0.0.0"), port.HostPort) {
			busy = append(busy, fmt.Sprintf("%d/%s", port.HostPort, port.Protocol))
		}
	}
	if len(busy) > 0 {
		return edgeerrors.New(edgeerrors.KindPortInUse, "free the port or publish another one", "host port(s) already in use: %s", strings.Join(busy, ", "))
	}
	subnet := cfg.Network.Subnet
	if subnet == "" {
		used, err := p.rt.NetworkSubnets(ctx)
		if err != nil {
			return engineError(err)
		}
		// The host's own networks count too: another engine's bridges
		// (Docker and Podman side by side), VPNs, the LAN.
		used = append(used, hostSubnets()...)
		if subnet, err = pickSubnet(used); err != nil {
			return err
		}
	}
	token, err := randomToken()
	if err != nil {
		return err
	}
	pl, err := makePlan(cfg, subnet, apiPort, token, true)
	if err != nil {
		return err
	}
	status.End(true)

	defer func() {
		if err == nil {
			return
		}
		if opts.Retain {
			p.logger.Warnf("create failed; keeping the cluster's containers (--retain). Remove them with `edgectl cluster delete %s`", cfg.Name)
			return
		}
		// ctx may be cancelled (SIGINT); cleanup must still run.
		cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		status.End(false) // the step that failed
		status.Start("Removing what was created")
		derr := p.deleteCluster(cleanup, cfg.Name, opts.Kubeconfig)
		status.End(derr == nil)
		if derr != nil {
			p.logger.Warnf("cleanup after failed create: %v", derr)
		}
	}()

	status.Start(fmt.Sprintf("Creating network %s (%s)", pl.Network, subnet))
	if err := p.rt.EnsureNetwork(ctx, pl.Network, pl.Subnet, pl.Gateway, map[string]string{runtime.LabelCluster: cfg.Name}); err != nil {
		return err
	}
	status.Start(fmt.Sprintf("Starting %d server(s) and the load balancer", cfg.Servers))
	if err := p.rt.CreateNode(ctx, pl.LB); err != nil {
		return err
	}
	privileged, err := p.startFirst(ctx, &pl.Servers[0])
	if err != nil {
		return err
	}
	status.Start("Writing kubeconfig")
	kc, err := p.fetchKubeconfig(ctx, cfg.Name, pl.Servers[0].Name, cfg.Network.APIHostIP, apiPort)
	if err != nil {
		return p.failWithLogs(ctx, cfg.Name, opts.LogsDir, err)
	}
	// HA servers join one at a time: each adds itself as an etcd member, and
	// etcd must see the new member up before the next is added, or quorum
	// is lost.
	for i := 1; i < len(pl.Servers); i++ {
		status.Start(fmt.Sprintf("Joining server %d of %d", i+1, len(pl.Servers)))
		pl.Servers[i].Privileged = privileged
		pl.Servers[i].Labels[labelPrivileged] = strconv.FormatBool(privileged)
		if err := p.rt.CreateNode(ctx, withHostMounts(pl.Servers[i])); err != nil {
			return err
		}
		if _, err := p.fetchKubeconfig(ctx, cfg.Name, pl.Servers[i].Name, cfg.Network.APIHostIP, apiPort); err != nil {
			return p.failWithLogs(ctx, cfg.Name, opts.LogsDir, err)
		}
	}
	if err := mergeKubeconfig(opts.Kubeconfig, kc, Context(cfg.Name), opts.SwitchContext); err != nil {
		return fmt.Errorf("merge kubeconfig: %w", err)
	}
	if cfg.Agents > 0 {
		status.Start(fmt.Sprintf("Starting %d agent(s)", cfg.Agents))
		joinToken, err := p.joinToken(ctx, pl.Servers[0].Name)
		if err != nil {
			return err
		}
		if err := p.startAgents(ctx, cfg, subnet, apiPort, 0, cfg.Agents, joinToken, privileged); err != nil {
			return err
		}
	}
	if opts.Wait > 0 {
		status.Start(fmt.Sprintf("Waiting ≤ %s for the API, %d node(s) Ready and CoreDNS", opts.Wait, cfg.Servers+cfg.Agents))
		progress := func(s string) { p.logger.Vf(1, "waiting for %s", s) }
		if err := waitUsable(ctx, kc, cfg.Servers+cfg.Agents, opts.Wait, progress); err != nil {
			return p.failWithLogs(ctx, cfg.Name, opts.LogsDir, err)
		}
	}
	status.End(true)
	return nil
}

// startAgents creates agents first..first+n-1 in parallel.
func (p *Provider) startAgents(ctx context.Context, cfg *v1alpha1.Cluster, subnet string, apiPort, first, n int, joinToken string, privileged bool) error {
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		spec, err := agentSpec(cfg, subnet, apiPort, first+i, joinToken, privileged)
		if err != nil {
			return err
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = p.rt.CreateNode(ctx, withHostMounts(spec))
		}(i)
	}
	wg.Wait()
	return errors.Join(errs...)
}

// joinToken reads the full join token (it pins the CA) from a server.
func (p *Provider) joinToken(ctx context.Context, server string) (string, error) {
	out, err := p.run(ctx, server, nil, "cat", "/var/lib/edgelet/server/token")
	if err != nil {
		return "", fmt.Errorf("read join token: %w", err)
	}
	return strings.TrimSpace(out), nil
}

// startFirst starts the first server with --privileged and falls back to the
// explicit capability set where the engine refuses privilege (a host whose
// bounding set lacks CAP_SYS_RESOURCE fails with "unable to apply caps").
// The answer is reused for every other node of the cluster.
func (p *Provider) startFirst(ctx context.Context, spec *runtime.NodeSpec) (privileged bool, err error) {
	spec.Privileged = true
	err = p.rt.CreateNode(ctx, withHostMounts(*spec))
	if err == nil {
		p.logger.Vf(1, "nodes run --privileged")
		return true, nil
	}
	if !strings.Contains(err.Error(), "operation not permitted") && !strings.Contains(err.Error(), "apply caps") {
		return false, err
	}
	p.logger.Vf(1, "the engine refused --privileged (%v); nodes run with all capabilities but CAP_SYS_RESOURCE instead", firstLine(err.Error()))
	if err := p.rt.Remove(ctx, spec.Name); err != nil {
		return false, err
	}
	spec.Privileged = false
	spec.Labels[labelPrivileged] = "false"
	return false, p.rt.CreateNode(ctx, withHostMounts(*spec))
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
