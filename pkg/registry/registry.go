// Package registry manages edgectl's registries: one container per registry
// (images/registry) that is a pull-through cache of several upstream
// registries and a local registry to push to, with its storage on a labelled
// volume. A registry belongs to no cluster: clusters that use it attach it to
// their network, and those attachments are the record of who uses it (an
// engine cannot change a container's labels after it is created).
package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/internal/log"
	"github.com/edgectl/edgectl/internal/runtime"
	"github.com/edgectl/edgectl/pkg/build/nodeimage"
	"github.com/edgectl/edgectl/pkg/version"
)

// Labels of a registry's container and volume.
const (
	LabelRegistry  = "io.edgectl.registry"           // its name
	LabelPort      = "io.edgectl.registry.port"      // host port of localhost:PORT ("" none)
	LabelUpstreams = "io.edgectl.registry.upstreams" // HOST=URL,... of the upstreams (never credentials)
)

// Where the registry listens in its container, and keeps its config and data.
const (
	ContainerPort = 5000
	configPath    = "/etc/edgectl/registry.json"
	dataDir       = "/var/lib/registry"
)

// ContainerName is the registry's container (and DNS name on the networks it
// joins); its volume has the same name.
func ContainerName(name string) string { return "edgectl-registry-" + name }

// Endpoint is the address nodes and pods reach the registry at.
func Endpoint(name string) string {
	return net.JoinHostPort(ContainerName(name), strconv.Itoa(ContainerPort))
}

// Registry is a registry as listed.
type Registry struct {
	Name      string   `json:"name"`
	Container string   `json:"container"`
	State     string   `json:"state"`
	Port      int      `json:"port,omitempty"` // localhost:PORT on the host
	Upstreams []string `json:"upstreams"`
	// UpstreamURLs maps each upstream host to its URL.
	UpstreamURLs map[string]string `json:"upstreamURLs,omitempty"`
	// Networks are the engine networks it is attached to.
	Networks []string `json:"networks"`
	// Endpoint is host:port on the networks of the clusters that use it.
	Endpoint string `json:"endpoint"`
}

// Manager manages registries on one engine.
type Manager struct {
	rt     runtime.Provider
	logger *log.Logger
}

// NewManager returns a manager of the registries of rt.
func NewManager(rt runtime.Provider, logger *log.Logger) *Manager {
	if logger == nil {
		logger = log.Discard()
	}
	return &Manager{rt: rt, logger: logger}
}

// List returns every registry, by name.
func (m *Manager) List(ctx context.Context) ([]Registry, error) {
	cs, err := m.rt.List(ctx, map[string]string{LabelRegistry: ""})
	if err != nil {
		return nil, fmt.Errorf("list registries: %w", err)
	}
	out := []Registry{}
	for _, c := range cs {
		name := c.Labels[LabelRegistry]
		if name == "" || c.Name != ContainerName(name) {
			continue
		}
		r := Registry{Name: name, Container: c.Name, State: c.State, Networks: c.Networks, Endpoint: Endpoint(name), Upstreams: []string{}}
		r.Port, _ = strconv.Atoi(c.Labels[LabelPort])
		if u := c.Labels[LabelUpstreams]; u != "" {
			r.UpstreamURLs = map[string]string{}
			for _, pair := range strings.Split(u, ",") {
				host, url, _ := strings.Cut(pair, "=")
				r.Upstreams = append(r.Upstreams, host)
				r.UpstreamURLs[host] = url
			}
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Get returns the registry name, or a not-found error that says how to make it.
func (m *Manager) Get(ctx context.Context, name string) (*Registry, error) {
	all, err := m.List(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range all {
		if r.Name == name {
			return &r, nil
		}
	}
	return nil, edgeerrors.New(edgeerrors.KindNotFound,
		fmt.Sprintf("create it with `edgectl registry create %s`, or see `edgectl registry list`", name),
		"registry %q not found", name)
}

// Status is what `registry status` reports: the registry, and per upstream
// whether it answers, its blob hits and misses and the bytes cached.
type Status struct {
	Registry
	Upstreams  []UpstreamStatus `json:"upstreamStatus"`
	LocalBytes int64            `json:"localBytes"`
}

// UpstreamStatus is one upstream's counters (images/registry).
type UpstreamStatus struct {
	Host        string `json:"host"`
	URL         string `json:"url"`
	Reachable   bool   `json:"reachable"`
	Error       string `json:"error,omitempty"`
	Hits        int64  `json:"hits"`
	Misses      int64  `json:"misses"`
	BytesCached int64  `json:"bytesCached"`
}

// Status asks the running registry for its counters.
func (m *Manager) Status(ctx context.Context, name string) (*Status, error) {
	r, err := m.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	st := &Status{Registry: *r, Upstreams: []UpstreamStatus{}}
	if r.State != "running" {
		return st, nil
	}
	res, err := m.rt.ExecDirect(ctx, r.Container, []string{"/registry", "status"})
	if err != nil || res.ExitCode != 0 {
		return nil, fmt.Errorf("registry %s status: %v %s", name, err, res.Stderr)
	}
	var body struct {
		Upstreams  []UpstreamStatus `json:"upstreams"`
		LocalBytes int64            `json:"localBytes"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &body); err != nil {
		return nil, fmt.Errorf("registry %s status: %w", name, err)
	}
	st.Upstreams, st.LocalBytes = body.Upstreams, body.LocalBytes
	return st, nil
}

// Users are the clusters whose networks the registry is attached to
// (clusterNetworks: network -> cluster).
func (r Registry) Users(clusterNetworks map[string]string) []string {
	users := []string{}
	for _, n := range r.Networks {
		if c, ok := clusterNetworks[n]; ok {
			users = append(users, c)
		}
	}
	return users
}

// Delete removes the registry and its volume. It refuses while a cluster's
// network holds it (clusterNetworks: network -> cluster), unless force;
// removing the container takes it off every network.
func (m *Manager) Delete(ctx context.Context, name string, force bool, clusterNetworks map[string]string) error {
	r, err := m.Get(ctx, name)
	if err != nil {
		return err
	}
	if users := r.Users(clusterNetworks); len(users) > 0 && !force {
		return edgeerrors.New(edgeerrors.KindExists,
			"delete those clusters first, or pass --force (their nodes then pull from the upstreams directly)",
			"registry %q is in use by cluster(s) %s", name, strings.Join(users, ", "))
	}
	if err := m.rt.Remove(ctx, r.Container); err != nil {
		return err
	}
	return m.rt.RemoveVolume(ctx, r.Container)
}

// Attach joins the registry to a cluster's network at ip, starting it if
// it is stopped, and returns it.
func (m *Manager) Attach(ctx context.Context, name, network, ip string) (*Registry, error) {
	r, err := m.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	if r.State != "running" {
		if err := m.rt.Start(ctx, r.Container); err != nil {
			return nil, fmt.Errorf("start registry %s: %w", name, err)
		}
	}
	return r, m.rt.Connect(ctx, r.Container, network, ip)
}

// waitReady waits until the registry answers its status endpoint.
func (m *Manager) waitReady(ctx context.Context, container string) error {
	var last string
	err := wait.PollUntilContextTimeout(ctx, 300*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		res, err := m.rt.ExecDirect(ctx, container, []string{"/registry", "status"})
		last = res.Stderr
		if err != nil {
			last = err.Error()
		}
		return err == nil && res.ExitCode == 0, nil
	})
	if err != nil {
		return fmt.Errorf("registry %s did not start: %s (see `docker logs %s`)", container, strings.TrimSpace(last), container)
	}
	return nil
}

// imageMissing is the error of a registry image that is not built.
func imageMissing(image string) error {
	return edgeerrors.New(edgeerrors.KindImageMissing, "run `edgectl image build` (or `make image`): it builds the registry image too",
		"registry image %s not found", image)
}

// defaultImage is the registry image this edgectl uses (the one `edgectl
// image build` loads, or the release's).
func defaultImage() string { return version.RegistryImage() }

// PullThrough is the transport that pulls images of registry host through
// r from this machine (its host port, with ?ns=host as a node's containerd
// asks it), or an error that says why r cannot: no host port, or host is
// not one it caches.
func (r *Registry) PullThrough(host string) (http.RoundTripper, error) {
	if r.Port == 0 {
		return nil, edgeerrors.New(edgeerrors.KindInvalidConfig, "create it with --port", "registry %s has no host port to pull through", r.Name)
	}
	if !slices.Contains(r.Upstreams, host) {
		return nil, edgeerrors.New(edgeerrors.KindInvalidConfig, fmt.Sprintf("create a registry with `--upstream %s=https://%s`", host, host),
			"registry %s does not cache %s (it caches %s)", r.Name, host, strings.Join(r.Upstreams, ", "))
	}
	return nodeimage.CacheTransport(net.JoinHostPort("127.0.0.1", strconv.Itoa(r.Port)), host), nil
}
