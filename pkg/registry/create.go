package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/internal/hostport"
	"github.com/edgectl/edgectl/internal/runtime"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	"github.com/edgectl/edgectl/pkg/build/nodeimage"
)

// Upstream is a registry to cache: images named Host/... are pulled from URL.
type Upstream struct {
	Host string
	URL  string
	// CAFile is a PEM bundle the upstream's certificate chains to, besides
	// the system's roots.
	CAFile string
	// Auth is where its credentials come from: a file whose first line is
	// USER:PASSWORD, or env:VAR for a variable that holds USER:PASSWORD.
	Auth string
}

// CreateOptions are the options of Create.
type CreateOptions struct {
	Name      string
	Upstreams []Upstream
	// Port publishes the local registry on 127.0.0.1:Port (0: none).
	Port int
	// Networks are more engine networks to join (an upstream may live there).
	Networks []string
	Image    string // default: the image `edgectl image build` loads
}

var nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?$`)

// hostRE is a registry host as images name it: docker.io, ghcr.io,
// registry.example.com:5000.
var hostRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$`)

// ParseUpstream parses HOST=URL (--upstream).
func ParseUpstream(s string) (Upstream, error) {
	host, raw, ok := strings.Cut(s, "=")
	if !ok || !hostRE.MatchString(host) {
		return Upstream{}, fmt.Errorf("--upstream %q: must be HOST=URL, for example docker.io=https://registry-1.docker.io", s)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return Upstream{}, fmt.Errorf("--upstream %q: the URL must be http(s)://HOST[:PORT], for example https://registry-1.docker.io", s)
	}
	return Upstream{Host: host, URL: strings.TrimSuffix(raw, "/")}, nil
}

// validate checks the options and reads the upstreams' CAs and credentials
// into the registry's config, before anything is created.
func (o *CreateOptions) validate() ([]byte, error) {
	var errs []error
	if !nameRE.MatchString(o.Name) {
		errs = append(errs, fmt.Errorf("registry name %q: lower-case letters, digits and '-', at most 42", o.Name))
	}
	if o.Port < 0 || o.Port > 65535 {
		errs = append(errs, fmt.Errorf("--port %d: must be 1-65535 (0: no local push registry on the host)", o.Port))
	}
	type upstream struct {
		Host     string `json:"host"`
		URL      string `json:"url"`
		CA       string `json:"ca,omitempty"`
		Username string `json:"username,omitempty"`
		Password string `json:"password,omitempty"`
	}
	cfg := struct {
		Listen    string     `json:"listen"`
		Root      string     `json:"root"`
		Upstreams []upstream `json:"upstreams"`
	}{Listen: ":" + strconv.Itoa(ContainerPort), Root: dataDir, Upstreams: []upstream{}}
	seen := map[string]bool{}
	for _, u := range o.Upstreams {
		if seen[u.Host] {
			errs = append(errs, fmt.Errorf("upstream %s is given twice", u.Host))
		}
		seen[u.Host] = true
		up := upstream{Host: u.Host, URL: u.URL}
		if u.CAFile != "" {
			pem, err := os.ReadFile(u.CAFile)
			if err != nil {
				errs = append(errs, fmt.Errorf("upstream %s: CA: %w", u.Host, err))
			}
			up.CA = string(pem)
		}
		if u.Auth != "" {
			user, pass, err := readAuth(u.Auth)
			if err != nil {
				errs = append(errs, fmt.Errorf("upstream %s: credentials: %w", u.Host, err))
			}
			up.Username, up.Password = user, pass
		}
		cfg.Upstreams = append(cfg.Upstreams, up)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, edgeerrors.Wrap(edgeerrors.KindInvalidConfig, "see `edgectl registry create --help`", err)
	}
	return json.MarshalIndent(cfg, "", "  ")
}

// readAuth reads USER:PASSWORD from a file or env:VAR.
func readAuth(src string) (string, string, error) {
	var raw string
	if v, ok := strings.CutPrefix(src, "env:"); ok {
		raw = os.Getenv(v)
		if raw == "" {
			return "", "", fmt.Errorf("$%s is empty", v)
		}
	} else {
		data, err := os.ReadFile(src)
		if err != nil {
			return "", "", err
		}
		raw, _, _ = strings.Cut(string(data), "\n")
	}
	user, pass, ok := strings.Cut(strings.TrimSpace(raw), ":")
	if !ok || user == "" {
		return "", "", fmt.Errorf("must be USER:PASSWORD")
	}
	return user, pass, nil
}

// Create starts a registry. Nothing is left behind when it fails.
func (m *Manager) Create(ctx context.Context, o CreateOptions) (*Registry, error) {
	conf, err := o.validate()
	if err != nil {
		return nil, err
	}
	if o.Image == "" {
		o.Image = defaultImage()
	}
	if _, ok, err := m.rt.ImageLabel(ctx, o.Image, nodeimage.LabelInputs); err != nil {
		return nil, err
	} else if !ok && nodeimage.Pullable(o.Image) {
		// A release's registry image, published beside its node image.
		m.logger.Infof("registry image %s is not in the engine: pulling it", o.Image)
		if err := nodeimage.Pull(ctx, m.rt, o.Image, []string{v1alpha1.HostPlatform()}, nodeimage.RemoteOptions{}, m.logger.Writer()); err != nil {
			return nil, edgeerrors.New(edgeerrors.KindImageMissing, "check the reference and the registry, or build it with `edgectl image build`",
				"registry image %s is not in the engine, and the pull failed: %v", o.Image, err)
		}
	} else if !ok {
		return nil, imageMissing(o.Image)
	}
	if _, err := m.Get(ctx, o.Name); err == nil {
		return nil, edgeerrors.New(edgeerrors.KindExists, "see `edgectl registry list`, or delete it first",
			"registry %q already exists", o.Name)
	}
	if o.Port != 0 && !hostport.Free("127.0.0.1", o.Port) {
		return nil, portInUse(o.Port)
	}
	info, err := m.rt.Info(ctx)
	if err != nil {
		return nil, err
	}
	if len(o.Networks) > 0 {
		nets, err := m.rt.ListNetworks(ctx, nil)
		if err != nil {
			return nil, err
		}
		for _, n := range o.Networks {
			if !slices.Contains(nets, n) {
				return nil, edgeerrors.New(edgeerrors.KindNotFound, "see `docker network ls`", "network %q not found", n)
			}
		}
	}
	name := ContainerName(o.Name)
	var hosts []string
	for _, u := range o.Upstreams {
		hosts = append(hosts, u.Host+"="+u.URL)
	}
	labels := map[string]string{LabelRegistry: o.Name, LabelUpstreams: strings.Join(hosts, ","), runtime.LabelRole: "registry"}
	spec := runtime.NodeSpec{
		Name: name, Hostname: name, Image: o.Image, Network: defaultNetwork(info), Labels: labels,
		Mounts: []runtime.Mount{{Volume: name, Target: dataDir}},
		Files:  map[string][]byte{configPath: conf},
	}
	if o.Port != 0 {
		labels[LabelPort] = strconv.Itoa(o.Port)
		spec.Ports = []runtime.PortMapping{{HostIP: "127.0.0.1", HostPort: o.Port, ContainerPort: ContainerPort, Protocol: "tcp"}}
	}
	m.logger.Infof("Starting registry %s (%d upstream(s), local registry on %s)", o.Name, len(o.Upstreams), localAddr(o.Port))
	undo := func(err error) (*Registry, error) {
		_ = m.rt.Remove(context.WithoutCancel(ctx), name)
		_ = m.rt.RemoveVolume(context.WithoutCancel(ctx), name)
		var taken *runtime.PortTakenError
		if errors.As(err, &taken) {
			return nil, portInUse(o.Port)
		}
		return nil, err
	}
	if err := m.rt.CreateNode(ctx, spec); err != nil {
		return undo(err)
	}
	for _, n := range o.Networks {
		if err := m.rt.Connect(ctx, name, n, ""); err != nil {
			return undo(err)
		}
	}
	if err := m.waitReady(ctx, name); err != nil {
		return undo(err)
	}
	return m.Get(ctx, o.Name)
}

func localAddr(port int) string {
	if port == 0 {
		return "no host port"
	}
	return "localhost:" + strconv.Itoa(port)
}

// defaultNetwork is the engine's default bridge, through which the registry
// reaches its upstreams.
func defaultNetwork(info runtime.Info) string {
	if info.Name == "podman" {
		return "podman"
	}
	return "bridge"
}

func portInUse(port int) error {
	return edgeerrors.New(edgeerrors.KindPortInUse, "pick another with --port", "port %d on 127.0.0.1 is in use", port)
}
