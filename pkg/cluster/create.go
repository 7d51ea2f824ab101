package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/edgectl/edgectl/internal/cli"
	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/internal/hostport"
	"github.com/edgectl/edgectl/internal/runtime"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
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
func (p *Provider) Create(ctx context.Context, opts CreateOptions) error {
	cfg := opts.Config
	v1alpha1.SetDefaults(cfg)
	if err := errors.Join(opts.DecodeError, cfg.Validate()); err != nil {
		return edgeerrors.Wrap(edgeerrors.KindInvalidConfig, "fix the config and run again; `edgectl config init` prints a commented example", err)
	}
	status := cli.NewStatus(p.logger.Writer())
	status.Start("Checking the engine, name, image and ports")
	autoPort := cfg.Network.APIPort == 0
	info, err := p.preflight(ctx, cfg)
	status.End(err == nil)
	if err != nil {
		return err
	}
	secret, err := randomToken()
	if err != nil {
		return err
	}
	// Planned up front, so that a config no node can be made from fails
	// before anything is created.
	if err := checkNodes(cfg); err != nil {
		return err
	}
	j := &job{p: p, cfg: cfg, probe: true, engine: info, secret: secret, logsDir: opts.LogsDir}
	if p.privilegeRefused(info) {
		p.logger.Vf(1, "nodes run with all capabilities but CAP_SYS_RESOURCE: this engine refused --privileged earlier today (remembered in %s)", p.memoFile)
		j.probe = false
	}
	others := indexes(1, cfg.Servers-1)
	steps := []step{
		{title: fmt.Sprintf("Creating network %s", networkName(cfg.Name)),
			do: func(ctx context.Context) error { return p.createNetwork(ctx, cfg) },
			undo: func(ctx context.Context) error {
				return errors.Join(p.detachRegistries(ctx, cfg.Name), p.rt.DeleteNetwork(ctx, networkName(cfg.Name)))
			}},
		j.firstServerStep(autoPort),
	}
	if len(cfg.Registries) > 0 {
		// Before any node starts, so that its first pull finds the registry.
		steps = slices.Insert(steps, 1, step{title: "Attaching registries " + strings.Join(cfg.Registries, ", "),
			do: func(ctx context.Context) error { return p.attachRegistries(ctx, cfg) }})
	}
	if len(others) > 0 {
		steps = append(steps, j.joinStep(fmt.Sprintf("Joining %d more server(s), one at a time", len(others)), others))
	}
	steps = append(steps, step{title: "Writing kubeconfig",
		do: func(context.Context) error {
			if err := mergeKubeconfig(opts.Kubeconfig, j.kc, Context(cfg.Name), opts.SwitchContext); err != nil {
				return fmt.Errorf("merge kubeconfig: %w", err)
			}
			return nil
		},
		undo: func(context.Context) error { return removeKubeconfig(opts.Kubeconfig, Context(cfg.Name)) }})
	if cfg.Agents > 0 {
		steps = append(steps, j.nodeStep(fmt.Sprintf("Starting %d agent(s)", cfg.Agents), RoleAgent, indexes(0, cfg.Agents), "", false))
	}
	if opts.Wait > 0 {
		steps = append(steps, step{title: fmt.Sprintf("Waiting ≤ %s for the API, %d node(s) Ready and CoreDNS", opts.Wait, cfg.Servers+cfg.Agents),
			do: func(ctx context.Context) error {
				progress := func(s string) { p.logger.Vf(1, "waiting for %s", s) }
				if err := waitUsable(ctx, j.kc, cfg.Servers+cfg.Agents, !slices.Contains(cfg.Disable, "coredns"), opts.Wait, progress); err != nil {
					return p.failWithLogs(ctx, cfg.Name, opts.LogsDir, err)
				}
				return nil
			}})
	}
	return p.runSteps(ctx, steps, opts.Retain,
		fmt.Sprintf("create failed; keeping the cluster's containers. Remove them with `edgectl cluster delete %s`", cfg.Name))
}

// preflight checks what must hold before anything is created, and resolves
// the spec's subnet and API port.
func (p *Provider) preflight(ctx context.Context, cfg *v1alpha1.Cluster) (runtime.Info, error) {
	info, err := p.rt.Info(ctx)
	if err != nil {
		return info, engineError(err)
	}
	return info, p.checkCreate(ctx, cfg, info)
}

// checkCreate is preflight's checks on the engine info.
func (p *Provider) checkCreate(ctx context.Context, cfg *v1alpha1.Cluster, info runtime.Info) error {
	p.logger.Vf(1, "engine: %s %s, cgroup %s (%s driver)", info.Name, info.Version, info.CgroupVersion, info.CgroupDriver)
	if nodes, err := p.Nodes(ctx, cfg.Name); err != nil {
		return err
	} else if len(nodes) > 0 {
		return edgeerrors.New(edgeerrors.KindExists, fmt.Sprintf("delete it first (`edgectl cluster delete %s`) or pick another name", cfg.Name),
			"cluster %q already exists", cfg.Name)
	}
	if err := p.checkPlatforms(ctx, cfg); err != nil {
		return err
	}
	if _, err := userManifests(cfg); err != nil {
		return err
	}
	if err := p.resolveRegistries(ctx, cfg); err != nil {
		return err
	}
	p.warnInotify(ctx, cfg.Servers, cfg.Agents)
	if cfg.Network.APIPort == 0 {
		var err error
		if cfg.Network.APIPort, err = hostport.Pick(cfg.Network.APIHostIP); err != nil {
			return fmt.Errorf("find a free API port: %w", err)
		}
	} else if !hostport.Free(cfg.Network.APIHostIP, cfg.Network.APIPort) {
		return edgeerrors.New(edgeerrors.KindPortInUse, "pick another --api-port, or omit it to get a free one",
			"API port %s:%d is already in use", cfg.Network.APIHostIP, cfg.Network.APIPort)
	}
	var busy []string
	for _, port := range cfg.Ports {
		if port.Protocol == "tcp" && !hostport.Free(orDefault(port.HostIP, "0.0.0.0"), port.HostPort) {
			busy = append(busy, fmt.Sprintf("%d/%s", port.HostPort, port.Protocol))
		}
	}
	if len(busy) > 0 {
		return edgeerrors.New(edgeerrors.KindPortInUse, "free the port or publish another one", "host port(s) already in use: %s", strings.Join(busy, ", "))
	}
	return nil
}

// checkNodes plans every node's config once, so that a config no node can
// be made from fails before anything is created.
func checkNodes(cfg *v1alpha1.Cluster) error {
	check := cfg.DeepCopy()
	if check.Network.Subnet == "" {
		check.Network.Subnet = "10.89.0.0/24" // any subnet will do to check
	}
	for _, role := range []string{RoleServer, RoleAgent} {
		for i := 0; i < count(check, role); i++ {
			if _, err := nodeConfig(check, role, i, ""); err != nil {
				return edgeerrors.Wrap(edgeerrors.KindInvalidConfig, "fix the node's args in the config", err)
			}
		}
	}
	return nil
}

// networkAttempts bounds the retries of a subnet lost to a parallel create.
const networkAttempts = 20

// createNetwork creates the cluster's network. A subnet the config names is
// used as it is; otherwise a free one is picked under a host-wide lock, so
// that creates started together on this host take turns, and a subnet the
// engine refuses as taken (by an engine client elsewhere, or a network the
// engine has reserved but not listed yet) is skipped on the next pick.
func (p *Provider) createNetwork(ctx context.Context, cfg *v1alpha1.Cluster) error {
	fixed := cfg.Network.Subnet != ""
	if !fixed {
		unlock, err := lockFile(filepath.Join(os.TempDir(), "edgectl-network.lock"))
		if err != nil {
			return err
		}
		defer unlock()
	}
	var refused []string
	for attempt := 1; ; attempt++ {
		if !fixed {
			used, err := p.rt.NetworkSubnets(ctx)
			if err != nil {
				return engineError(err)
			}
			// The host's own networks count too: another engine's
			// bridges (Docker and Podman side by side), VPNs, the LAN.
			used = append(append(used, hostSubnets()...), refused...)
			if cfg.Network.Subnet, err = pickSubnet(used); err != nil {
				return err
			}
		}
		addr, err := newAddresses(cfg.Network.Subnet)
		if err != nil {
			return err
		}
		err = p.rt.EnsureNetwork(ctx, networkName(cfg.Name), cfg.Network.Subnet, addr.gateway(), map[string]string{runtime.LabelCluster: cfg.Name})
		var taken *runtime.SubnetTakenError
		if fixed || !errors.As(err, &taken) || attempt == networkAttempts {
			if err == nil {
				p.logger.Vf(1, "network %s: %s", networkName(cfg.Name), cfg.Network.Subnet)
				if cfg.Network.LoadBalancerRange == "" {
					cfg.Network.LoadBalancerRange = v1alpha1.DefaultLBRange(netip.MustParsePrefix(cfg.Network.Subnet)).String()
				}
			}
			return err
		}
		p.logger.Vf(1, "subnet %s is taken; picking another", cfg.Network.Subnet)
		refused = append(refused, cfg.Network.Subnet)
	}
}

// startLB starts the load balancer. A free API port picked by preflight
// can be taken by a create running at the same time before the engine binds
// it; then another is picked.
func (p *Provider) startLB(ctx context.Context, cfg *v1alpha1.Cluster, autoPort bool) error {
	for attempt := 1; ; attempt++ {
		lb, err := planLB(cfg)
		if err != nil {
			return err
		}
		err = p.rt.CreateNode(ctx, lb)
		var taken *runtime.PortTakenError
		if !autoPort || !errors.As(err, &taken) || attempt == networkAttempts {
			return err
		}
		p.logger.Vf(1, "API port %d was taken meanwhile; picking another", cfg.Network.APIPort)
		if err := p.rt.Remove(ctx, lb.Name); err != nil {
			return err
		}
		if cfg.Network.APIPort, err = hostport.Pick(cfg.Network.APIHostIP); err != nil {
			return fmt.Errorf("find a free API port: %w", err)
		}
	}
}

// count is how many nodes of role the spec has.
func count(cfg *v1alpha1.Cluster, role string) int {
	if role == RoleServer {
		return cfg.Servers
	}
	return cfg.Agents
}

// indexes is [first, first+n).
func indexes(first, n int) []int {
	out := make([]int, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, first+i)
	}
	return out
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
