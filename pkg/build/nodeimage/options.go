package nodeimage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"

	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	nodev1 "github.com/edgectl/edgectl/pkg/apis/node/v1alpha1"
)

// ModulePath is the Go module of edgectl's source tree.
const ModulePath = "github.com/edgectl/edgectl"

// DefaultTag is the node image edgectl uses when none is given.
const DefaultTag = "edgectl/node:dev"

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
	// RegistryImage is the image of `edgectl registry create`, built and
	// loaded into the engine with the node image.
	RegistryImage = "edgectl/registry:dev"
	// The upstream names of the same images: manifests (and the upstream
	// e2e tests) that name them start offline too.
	UpstreamPauseImage   = "registry.k8s.io/pause:3.10.1"
	UpstreamCoreDNSImage = "registry.k8s.io/coredns/coredns:v1.14.7"
)

// Options of a node image build.
type Options struct {
	Tag       string
	Arch      string // GOARCH: amd64 or arm64 (default: the host's)
	Output    string // "docker" (load into the engine) or "oci-tar"
	OutFile   string // for oci-tar
	SourceDir string // edgectl's source tree
	CacheDir  string // rootfs and binary cache
	Mirror    string
	Force     bool // ignore the cache
}

// Complete fills defaults and validates.
func (o *Options) Complete() error {
	if o.Arch == "" {
		o.Arch = goruntime.GOARCH
	}
	if o.Tag == "" {
		// Another platform's image takes the tag clusters look for it under.
		o.Tag = v1alpha1.ImageFor(DefaultTag, "linux/"+o.Arch)
	}
	if o.Output == "" {
		o.Output = "docker"
	}
	if o.Mirror == "" {
		o.Mirror = DefaultMirror
	}
	var errs []error
	if !slices.Contains(v1alpha1.Platforms, "linux/"+o.Arch) {
		errs = append(errs, fmt.Errorf("--platform linux/%s: must be one of %s", o.Arch, strings.Join(v1alpha1.Platforms, ", ")))
	}
	switch o.Output {
	case "docker":
	case "oci-tar":
		if o.OutFile == "" {
			o.OutFile = "edgectl-node-" + o.Arch + ".tar"
		}
	default:
		errs = append(errs, fmt.Errorf("--output %q: must be docker or oci-tar", o.Output))
	}
	if o.SourceDir == "" {
		dir, err := FindSource(".")
		if err != nil {
			errs = append(errs, err)
		}
		o.SourceDir = dir
	}
	if o.CacheDir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		o.CacheDir = filepath.Join(base, "edgectl", "build")
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
			return "", fmt.Errorf("edgectl's source tree not found above %s: run `edgectl image build` inside a checkout of %s, or pass --source DIR", abs, ModulePath)
		}
	}
}
