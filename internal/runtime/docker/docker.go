// Package docker implements runtime.Provider with the Docker Engine API. It
// also serves Podman through Podman's Docker-compatible socket.
package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	cerrdefs "github.com/containerd/errdefs"
	"io"
	"io/fs"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/docker/go-connections/nat"

	"github.com/edgectl/edgectl/internal/archive"
	"github.com/edgectl/edgectl/internal/runtime"
)

// Provider talks to a Docker (or Docker-compatible) engine.
type Provider struct {
	cli        *client.Client
	podmanOnce sync.Once
	podman     bool
}

var _ runtime.Provider = (*Provider)(nil)

// New connects to the engine named by DOCKER_HOST (default: the local socket).
func New() (*Provider, error) {
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, err
	}
	return &Provider{cli: cli}, nil
}

// Info pings the engine.
func (p *Provider) Info(ctx context.Context) (runtime.Info, error) {
	info, err := p.cli.Info(ctx)
	if err != nil {
		return runtime.Info{}, err
	}
	name := "docker"
	if p.isPodman(ctx) {
		name = "podman"
	}
	rootless := false
	for _, o := range info.SecurityOptions {
		if strings.Contains(o, "rootless") {
			rootless = true
		}
	}
	return runtime.Info{Name: name, Version: info.ServerVersion, CgroupVersion: info.CgroupVersion,
		CgroupDriver: info.CgroupDriver, Rootless: rootless}, nil
}

func labelFilter(labels map[string]string) filters.Args {
	args := filters.NewArgs()
	for k, v := range labels {
		if v == "" {
			args.Add("label", k)
		} else {
			args.Add("label", k+"="+v)
		}
	}
	return args
}

// EnsureNetwork creates the network unless one of that name exists.
func (p *Provider) EnsureNetwork(ctx context.Context, name, subnet, gateway string, labels map[string]string) error {
	if _, err := p.cli.NetworkInspect(ctx, name, network.InspectOptions{}); err == nil {
		return nil
	}
	_, err := p.cli.NetworkCreate(ctx, name, network.CreateOptions{
		Driver: "bridge",
		IPAM:   &network.IPAM{Config: []network.IPAMConfig{{Subnet: subnet, Gateway: gateway}}},
		Labels: labels,
		// Docker's default 1500 is right for the bridge; setting it
		// explicitly keeps Podman from choosing another value.
		Options: map[string]string{"com.docker.network.driver.mtu": "1500"},
	})
	if err != nil && subnetTaken(err) {
		return fmt.Errorf("create network %s: %w (%v)", name, &runtime.SubnetTakenError{Subnet: subnet}, err)
	}
	if err != nil {
		return fmt.Errorf("create network %s (%s): %w", name, subnet, err)
	}
	return nil
}

// DeleteNetwork removes a network; a missing one is not an error.
func (p *Provider) DeleteNetwork(ctx context.Context, name string) error {
	if err := p.cli.NetworkRemove(ctx, name); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("delete network %s: %w", name, err)
	}
	return nil
}

// NetworkSubnets lists the IPv4 subnets in use by any network.
func (p *Provider) NetworkSubnets(ctx context.Context) ([]string, error) {
	nets, err := p.cli.NetworkList(ctx, network.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range nets {
		for _, c := range n.IPAM.Config {
			if c.Subnet != "" {
				out = append(out, c.Subnet)
			}
		}
	}
	return out, nil
}

// ListNetworks returns the names of networks with the labels.
func (p *Provider) ListNetworks(ctx context.Context, labels map[string]string) ([]string, error) {
	nets, err := p.cli.NetworkList(ctx, network.ListOptions{Filters: labelFilter(labels)})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range nets {
		out = append(out, n.Name)
	}
	sort.Strings(out)
	return out, nil
}

// CreateNode creates, populates and starts a node container.
func (p *Provider) CreateNode(ctx context.Context, s runtime.NodeSpec) error {
	cfg, host, netCfg, err := translate(s)
	if err == nil && p.isPodman(ctx) {
		host.Ulimits = podmanUlimits()
	}
	if err != nil {
		return err
	}
	for _, m := range s.Mounts {
		if m.Volume == "" {
			continue
		}
		if _, err := p.cli.VolumeCreate(ctx, volume.CreateOptions{Name: m.Volume, Labels: s.Labels}); err != nil {
			return fmt.Errorf("create volume %s: %w", m.Volume, err)
		}
	}
	if _, err := p.cli.ContainerCreate(ctx, cfg, host, netCfg, nil, s.Name); err != nil {
		return fmt.Errorf("create container %s: %w", s.Name, err)
	}
	if err := p.WriteFiles(ctx, s.Name, s.Files); err != nil {
		return err
	}
	if err := p.cli.ContainerStart(ctx, s.Name, container.StartOptions{}); err != nil {
		if s.Privileged && privilegeRefused(err) {
			return fmt.Errorf("start container %s: %w: %v", s.Name, runtime.ErrPrivilegeRefused, err)
		}
		if port, ok := portTaken(err, s.Ports); ok {
			return fmt.Errorf("start container %s: %w (%v)", s.Name, &runtime.PortTakenError{Port: port}, err)
		}
		return fmt.Errorf("start container %s: %w", s.Name, err)
	}
	return nil
}

// WriteFiles writes files into a container through the archive endpoint.
func (p *Provider) WriteFiles(ctx context.Context, name string, files map[string][]byte) error {
	if len(files) == 0 {
		return nil
	}
	archive, err := tarFiles(files)
	if err != nil {
		return err
	}
	if err := p.cli.CopyToContainer(ctx, name, "/", archive, container.CopyToContainerOptions{}); err != nil {
		return fmt.Errorf("write files into %s: %w", name, err)
	}
	return nil
}

// ReadFile reads one regular file of a container through the archive endpoint.
func (p *Provider) ReadFile(ctx context.Context, name, path string) ([]byte, error) {
	rc, _, err := p.cli.CopyFromContainer(ctx, name, path)
	if cerrdefs.IsNotFound(err) {
		return nil, fmt.Errorf("%s in %s: %w", path, name, runtime.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s from %s: %w", path, name, err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	if _, err := tr.Next(); err != nil {
		return nil, fmt.Errorf("read %s from %s: %w", path, name, err)
	}
	return io.ReadAll(tr)
}

// translate turns a NodeSpec into the Engine API's create request. It is pure,
// so the exact flags a node gets are unit-tested.
func translate(s runtime.NodeSpec) (*container.Config, *container.HostConfig, *network.NetworkingConfig, error) {
	cfg := &container.Config{
		Hostname:   s.Hostname,
		Image:      s.Image,
		Labels:     s.Labels,
		Env:        s.Env,
		Entrypoint: s.Entrypoint,
		Cmd:        s.Cmd,
		StopSignal: s.StopSignal,
		// A TTY lets systemd print its boot to `docker logs`.
		Tty:          true,
		ExposedPorts: nat.PortSet{},
	}
	init := false
	host := &container.HostConfig{
		// systemd must be PID 1, not docker-init.
		Init:         &init,
		CgroupnsMode: container.CgroupnsModePrivate,
		Tmpfs:        map[string]string{},
		// Restart after an engine or host restart, but not after `cluster stop`.
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyUnlessStopped},
		PortBindings:  nat.PortMap{},
	}
	switch {
	case s.Node && s.Privileged:
		host.Privileged = true
		host.SecurityOpt = []string{"seccomp=unconfined", "apparmor=unconfined"}
	case s.Node:
		capAdd, capDrop, secOpt, rules := runtime.UnprivilegedCaps()
		host.CapAdd, host.CapDrop, host.SecurityOpt = capAdd, capDrop, secOpt
		host.Resources.DeviceCgroupRules = rules
		host.MaskedPaths, host.ReadonlyPaths = []string{}, []string{}
	}
	for _, t := range s.Tmpfs {
		host.Tmpfs[t] = ""
	}
	for _, m := range s.Mounts {
		mt := mount.Mount{Target: m.Target, ReadOnly: m.ReadOnly}
		if m.Volume != "" {
			mt.Type, mt.Source = mount.TypeVolume, m.Volume
		} else {
			mt.Type, mt.Source = mount.TypeBind, m.Source
		}
		host.Mounts = append(host.Mounts, mt)
	}
	for _, pm := range s.Ports {
		proto := pm.Protocol
		if proto == "" {
			proto = "tcp"
		}
		port, err := nat.NewPort(proto, strconv.Itoa(pm.ContainerPort))
		if err != nil {
			return nil, nil, nil, err
		}
		cfg.ExposedPorts[port] = struct{}{}
		host.PortBindings[port] = append(host.PortBindings[port], nat.PortBinding{HostIP: pm.HostIP, HostPort: strconv.Itoa(pm.HostPort)})
	}
	ep := &network.EndpointSettings{}
	if s.Network != "bridge" && s.Network != "podman" {
		// The engines' default networks take no aliases (and resolve no names).
		ep.Aliases = []string{s.Hostname}
	}
	if s.IP != "" {
		if _, err := netip.ParseAddr(s.IP); err != nil {
			return nil, nil, nil, fmt.Errorf("node %s: bad IP %q", s.Name, s.IP)
		}
		ep.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: s.IP}
	}
	host.NetworkMode = container.NetworkMode(s.Network)
	netCfg := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{s.Network: ep}}
	return cfg, host, netCfg, nil
}

// tarFiles archives files (path -> content), readable by root only: they
// hold edgelet's config, which includes the join token.
func tarFiles(files map[string][]byte) (io.Reader, error) {
	entries := make([]archive.Entry, 0, len(files))
	for p, data := range files {
		mode := fs.FileMode(0o600)
		// Programs (ELF files, scripts) are executable.
		if bytes.HasPrefix(data, []byte("\x7fELF")) || bytes.HasPrefix(data, []byte("#!")) {
			mode = 0o755
		}
		entries = append(entries, archive.Entry{Path: p, Data: data, Mode: mode})
	}
	var buf bytes.Buffer
	return &buf, archive.Write(&buf, entries)
}

// List returns the containers with all the labels.
func (p *Provider) List(ctx context.Context, labels map[string]string) ([]runtime.Container, error) {
	cs, err := p.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: labelFilter(labels)})
	if err != nil {
		return nil, err
	}
	out := make([]runtime.Container, 0, len(cs))
	for _, c := range cs {
		rc := runtime.Container{ID: c.ID, Image: c.Image, State: c.State, Labels: c.Labels}
		if len(c.Names) > 0 {
			rc.Name = strings.TrimPrefix(c.Names[0], "/")
		}
		if c.NetworkSettings != nil {
			for name, ep := range c.NetworkSettings.Networks {
				rc.Network, rc.IP = name, ep.IPAddress
				rc.Networks = append(rc.Networks, name)
			}
			sort.Strings(rc.Networks)
		}
		out = append(out, rc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Connect attaches a container to a network; already attached is no error.
func (p *Provider) Connect(ctx context.Context, name, net, ip string) error {
	var ep *network.EndpointSettings
	if ip != "" {
		ep = &network.EndpointSettings{IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: ip}}
	}
	err := p.cli.NetworkConnect(ctx, net, name, ep)
	if err != nil && !strings.Contains(err.Error(), "already exists") {
		return fmt.Errorf("connect %s to network %s: %w", name, net, err)
	}
	return nil
}

// Disconnect detaches a container from a network; not attached is no error.
func (p *Provider) Disconnect(ctx context.Context, name, net string) error {
	err := p.cli.NetworkDisconnect(ctx, net, name, true)
	if err != nil && !cerrdefs.IsNotFound(err) && !strings.Contains(err.Error(), "is not connected") {
		return fmt.Errorf("disconnect %s from network %s: %w", name, net, err)
	}
	return nil
}

// Start starts a stopped container.
func (p *Provider) Start(ctx context.Context, name string) error {
	return p.cli.ContainerStart(ctx, name, container.StartOptions{})
}

// Stop stops a container, giving systemd time to shut down cleanly.
func (p *Provider) Stop(ctx context.Context, name string) error {
	timeout := 30
	return p.cli.ContainerStop(ctx, name, container.StopOptions{Timeout: &timeout})
}

// Signal sends a signal to a container's PID 1.
func (p *Provider) Signal(ctx context.Context, name, signal string) error {
	return p.cli.ContainerKill(ctx, name, signal)
}

// Remove force-removes a container and its anonymous volumes.
func (p *Provider) Remove(ctx context.Context, name string) error {
	err := p.cli.ContainerRemove(ctx, name, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove container %s: %w", name, err)
	}
	return nil
}

// ListVolumes returns the names of volumes with the labels.
func (p *Provider) ListVolumes(ctx context.Context, labels map[string]string) ([]string, error) {
	resp, err := p.cli.VolumeList(ctx, volume.ListOptions{Filters: labelFilter(labels)})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, v := range resp.Volumes {
		out = append(out, v.Name)
	}
	sort.Strings(out)
	return out, nil
}

// RemoveVolume deletes a volume; a missing one is not an error.
func (p *Provider) RemoveVolume(ctx context.Context, name string) error {
	if err := p.cli.VolumeRemove(ctx, name, true); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove volume %s: %w", name, err)
	}
	return nil
}

// Logs copies the container's log (its TTY output) to w.
func (p *Provider) Logs(ctx context.Context, name string, w io.Writer) error {
	rc, err := p.cli.ContainerLogs(ctx, name, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(w, rc)
	return err
}
