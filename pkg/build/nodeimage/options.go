package nodeimage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"

	"golang.org/x/mod/semver"

	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	nodev1 "github.com/edgectl/edgectl/pkg/apis/node/v1alpha1"
	"github.com/edgectl/edgectl/pkg/version"
)

// ModulePath is the Go module of edgectl's source tree.
const ModulePath = "github.com/edgectl/edgectl"

// DefaultTag is the node image of a build from the source tree. A build
// with no --tag takes the node image edgectl uses (version.NodeImage), so
// that a release builds the image it would pull.
const DefaultTag = version.DevImage

// Versions of what goes into the node. Kubernetes comes from go.mod.
const (
	KubernetesVersion = "v1.35.4"
	// ContainerdVersion is the containerd of images/nodetools/go.mod
	// (TestContainerdVersionMatchesGoMod keeps them equal).
	ContainerdVersion = "v2.2.1"
	DebianSuite       = "bookworm"
	DefaultMirror     = "http://deb.debian.org/debian"
	PauseImage        = nodev1.DefaultPauseImage
	CoreDNSImage      = "ghcr.io/edgectl/coredns:1.14.7"
	EchoImage         = "ghcr.io/edgectl/echo:dev"
	// The upstream names of the same images: manifests (and the upstream
	// e2e tests) that name them start offline too.
	UpstreamPauseImage   = "registry.k8s.io/pause:3.10.1"
	UpstreamCoreDNSImage = "registry.k8s.io/coredns/coredns:v1.14.7"
)

// Options of a node image build.
type Options struct {
	// Tag names the image of the host's platform; another platform's is
	// Tag with "-ARCH" appended (v1alpha1.ImageFor).
	Tag string
	// Archs are the GOARCHes to build (default: Arch, else the host's).
	Archs []string
	// Arch is the one architecture of a bundle (default: the host's).
	Arch      string
	Output    string // "docker" (load into the engine) or "oci-tar"
	OutFile   string // for oci-tar: one image, or one index of every platform
	SourceDir string // edgectl's source tree
	CacheDir  string // rootfs and binary cache
	Mirror    string
	Force     bool // ignore the cache
	// Role is what a bundle runs: RoleServer (servers and agents, the
	// default) or RoleAgent (agents only, a smaller edgelet).
	Role string
}

// Bundle roles.
const (
	RoleServer = "server"
	RoleAgent  = "agent"
)

// Complete fills defaults and validates.
func (o *Options) Complete() error {
	if o.Arch == "" {
		o.Arch = goruntime.GOARCH
	}
	if len(o.Archs) == 0 {
		o.Archs = []string{o.Arch}
	}
	if o.Tag == "" {
		o.Tag = version.NodeImage()
	}
	if o.Output == "" {
		o.Output = "docker"
	}
	if o.Mirror == "" {
		o.Mirror = DefaultMirror
	}
	var errs []error
	if o.Role == "" {
		o.Role = RoleServer
	}
	if o.Role != RoleServer && o.Role != RoleAgent {
		errs = append(errs, fmt.Errorf("--role %q: must be server (runs servers and agents) or agent", o.Role))
	}
	for _, arch := range append([]string{o.Arch}, o.Archs...) {
		if !slices.Contains(v1alpha1.Platforms, "linux/"+arch) {
			errs = append(errs, fmt.Errorf("--platform linux/%s: must be one of %s", arch, strings.Join(v1alpha1.Platforms, ", ")))
			break
		}
	}
	switch o.Output {
	case "docker":
	case "oci-tar":
		if o.OutFile == "" && len(o.Archs) == 1 {
			o.OutFile = "edgectl-node-" + o.Archs[0] + ".tar"
		} else if o.OutFile == "" {
			o.OutFile = "edgectl-node.tar"
		}
	default:
		errs = append(errs, fmt.Errorf("--output %q: must be docker or oci-tar", o.Output))
	}
	if o.CacheDir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		o.CacheDir = filepath.Join(base, "edgectl", "build")
	}
	if o.SourceDir == "" {
		dir, err := FindSource(".")
		if err != nil && semver.IsValid(version.Version) {
			// A release outside a checkout: its own module source, from
			// the Go module proxy.
			dir = filepath.Join(o.CacheDir, "source-"+version.Version)
			if merr := ModuleSource(context.Background(), version.Version, dir); merr != nil {
				err = fmt.Errorf("%w; fetching the source of %s from the Go module proxy failed too: %v", err, version.Version, merr)
			} else {
				err = nil
			}
		}
		if err != nil {
			errs = append(errs, err)
		}
		o.SourceDir = dir
	}
	return errors.Join(errs...)
}

// FindSource walks up from dir to edgectl's go.mod.
func FindSource(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; d = filepath.Dir(d) {
		data, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && strings.HasPrefix(string(data), "module "+ModulePath+"\n") {
			return d, nil
		}
		if filepath.Dir(d) == d {
			checkout := "a checkout of " + ModulePath
			if v := version.Version; v != "dev" {
				// A release: its own source, or its published image.
				checkout = fmt.Sprintf("a checkout of %s at %s (git clone --branch %s https://%s), or pull the release's image: `edgectl image pull`", ModulePath, v, v, ModulePath)
			}
			return "", fmt.Errorf("edgectl's source tree not found above %s: the node image is built from it; pass --source DIR, DIR being %s", abs, checkout)
		}
	}
}
