// Package fake is an in-memory container engine that implements
// runtime.Provider, so that pkg/cluster's create, delete, node add,
// start/stop and list are unit-tested in seconds without Docker. It keeps
// containers, their files, volumes, networks and images; what a node would
// do when it starts (write its kubeconfig, its token) is played by the
// test's OnStart. It proves the orchestration, never that a cluster works:
// that is the e2e suite's job, on the real engine.
package fake

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"sync"

	"github.com/edgectl/edgectl/internal/runtime"
)

// Container is a container of the fake engine.
type Container struct {
	Spec  runtime.NodeSpec
	State string
	Files map[string][]byte
	// Extra are the networks it was connected to after it was created.
	Extra []string
}

// Runtime is the fake engine. The zero value is not usable; call New.
type Runtime struct {
	mu         sync.Mutex
	info       runtime.Info
	networks   map[string]network
	containers map[string]*Container
	volumes    map[string]map[string]string
	images     map[string]map[string]string
	calls      []string

	// RefusePrivileged makes CreateNode of a privileged node fail as an
	// engine without CAP_SYS_RESOURCE does.
	RefusePrivileged bool
	// TakenPorts fail a start that publishes them, as a port bound by
	// another program since it was found free.
	TakenPorts map[int]bool
	// OnStart runs (under no lock) when a container starts.
	OnStart func(r *Runtime, name string)
	// OnExec answers commands; nil: `cat FILE` prints a file of the
	// container, anything else succeeds with no output.
	OnExec func(r *Runtime, name string, cmd []string, stdin string) (runtime.ExecResult, error)
	// Fail injects an error: it is called with the operation ("create",
	// "start", "exec", ...) and the object's name before the operation.
	Fail func(op, name string) error
}

type network struct {
	subnet string
	labels map[string]string
}

// New returns an empty engine that holds the given images (ref -> labels).
func New(images map[string]map[string]string) *Runtime {
	if images == nil {
		images = map[string]map[string]string{}
	}
	return &Runtime{
		info:     runtime.Info{Name: "fake", Version: "1", CgroupVersion: "2", CgroupDriver: "systemd"},
		networks: map[string]network{}, containers: map[string]*Container{},
		volumes: map[string]map[string]string{}, images: images,
	}
}

var _ runtime.Provider = (*Runtime)(nil)

// check records an operation and asks Fail about it, holding no lock so
// that Fail may call the engine itself.
func (r *Runtime) check(op, name string) error {
	r.mu.Lock()
	r.calls = append(r.calls, op+" "+name)
	fail := r.Fail
	r.mu.Unlock()
	if fail != nil {
		return fail(op, name)
	}
	return nil
}

// Calls returns the operations so far, "op name" each.
func (r *Runtime) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

// Container returns a copy of a container, or nil.
func (r *Runtime) Container(name string) *Container {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[name]
	if !ok {
		return nil
	}
	cp := *c
	cp.Files = map[string][]byte{}
	for k, v := range c.Files {
		cp.Files[k] = v
	}
	return &cp
}

// Objects lists every container, volume and network, sorted.
func (r *Runtime) Objects() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for n := range r.containers {
		out = append(out, "container "+n)
	}
	for n := range r.volumes {
		out = append(out, "volume "+n)
	}
	for n := range r.networks {
		out = append(out, "network "+n)
	}
	sort.Strings(out)
	return out
}

// SetFile writes a file into a container (what its processes would write).
func (r *Runtime) SetFile(name, path string, data []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.containers[name]; ok {
		c.Files[path] = data
	}
}

// Info describes the fake engine.
func (r *Runtime) Info(context.Context) (runtime.Info, error) {
	if err := r.check("info", ""); err != nil {
		return runtime.Info{}, err
	}
	return r.info, nil
}

// EnsureNetwork creates a network, refusing a subnet that overlaps another
// network's, as Docker does ("Pool overlaps with other one").
func (r *Runtime) EnsureNetwork(_ context.Context, name, subnet, _ string, labels map[string]string) error {
	if err := r.check("network-create", name); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.networks[name]; ok {
		return nil
	}
	want, err := netip.ParsePrefix(subnet)
	if err != nil {
		return err
	}
	for other, n := range r.networks {
		if p, err := netip.ParsePrefix(n.subnet); err == nil && p.Overlaps(want) {
			return fmt.Errorf("create network %s: %w", name, &runtime.SubnetTakenError{Subnet: subnet, By: other})
		}
	}
	r.networks[name] = network{subnet: subnet, labels: labels}
	return nil
}

// DeleteNetwork removes a network; a missing one is fine.
func (r *Runtime) DeleteNetwork(_ context.Context, name string) error {
	if err := r.check("network-delete", name); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.containers {
		if c.Spec.Network == name || slices.Contains(c.Extra, name) {
			return fmt.Errorf("network %s has active endpoints", name)
		}
	}
	delete(r.networks, name)
	return nil
}

// Connect attaches a container to one more network.
func (r *Runtime) Connect(_ context.Context, name, net, _ string) error {
	if err := r.check("connect", name); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[name]
	if _, exists := r.networks[net]; !ok || !exists {
		return fmt.Errorf("connect %s to %s: %w", name, net, runtime.ErrNotFound)
	}
	if c.Spec.Network != net && !slices.Contains(c.Extra, net) {
		c.Extra = append(c.Extra, net)
	}
	return nil
}

// Disconnect detaches a container from a network it was connected to.
func (r *Runtime) Disconnect(_ context.Context, name, net string) error {
	if err := r.check("disconnect", name); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.containers[name]; ok {
		c.Extra = slices.DeleteFunc(c.Extra, func(n string) bool { return n == net })
	}
	return nil
}

// NetworkSubnets lists every network's subnet.
func (r *Runtime) NetworkSubnets(context.Context) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, n := range r.networks {
		out = append(out, n.subnet)
	}
	return out, nil
}

// ListNetworks lists the networks with all the labels.
func (r *Runtime) ListNetworks(_ context.Context, labels map[string]string) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for name, n := range r.networks {
		if matches(n.labels, labels) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
}

// matches is the engine's label filter: a key with an empty value only
// needs the key.
func matches(have, want map[string]string) bool {
	for k, v := range want {
		got, ok := have[k]
		if !ok || (v != "" && got != v) {
			return false
		}
	}
	return true
}
