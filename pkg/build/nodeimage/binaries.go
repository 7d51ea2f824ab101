package nodeimage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
)

// goBuild is one `go build` of one or more main packages of a module.
type goBuild struct {
	ModuleDir string   // relative to the source tree
	Packages  []string // import paths or ./relative
	Out       string   // file (one package) or directory ending in /
	CGO       bool
	// HostOnly binaries run in the engine beside the nodes, so they are
	// built for the host's architecture only.
	HostOnly bool
	Tags     []string
	LDFlags  []string
}

// EdgeletTags are the build tags of edgelet: no in-tree cloud providers, and
// no plugin support in kustomize (it makes the linker export every symbol).
var EdgeletTags = []string{"providerless", "kustomize_disable_go_plugin_support"}

var containerdTags = []string{"no_btrfs", "no_devmapper", "no_zfs", "no_tracing"}

// EdgeletLDFlags stamps the Kubernetes version into the components, which
// otherwise report v0.0.0-master in a module build.
func EdgeletLDFlags(edgeletVersion string) []string {
	minor := strings.Split(strings.TrimPrefix(KubernetesVersion, "v"), ".")[1]
	var flags []string
	for _, pkg := range []string{"k8s.io/component-base/version", "k8s.io/client-go/pkg/version"} {
		flags = append(flags,
			"-X", pkg+".gitVersion="+KubernetesVersion,
			"-X", pkg+".gitMajor=1",
			"-X", pkg+".gitMinor="+minor,
			"-X", pkg+".gitTreeState=clean",
			"-X", pkg+".buildDate=2026-01-01T00:00:00Z")
	}
	return append(flags, "-X", ModulePath+"/pkg/edgelet/app.edgeletVersion="+edgeletVersion)
}

// AgentTag builds edgelet without its server: `edgelet agent`, `net` and
// `version` only, for an agent bundle (about 40 % smaller).
const AgentTag = "agentonly"

// builds lists every binary of the node image (and, with agent, the agent
// build of edgelet that agent bundles hold). Paths in Out are relative to
// the binary cache directory.
func builds(edgeletVersion string, agent bool) []goBuild {
	var agentBuild []goBuild
	if agent {
		agentBuild = append(agentBuild, goBuild{ModuleDir: ".", Packages: []string{"./cmd/edgelet"}, Out: "edgelet-agent",
			Tags: append(slices.Clone(EdgeletTags), AgentTag), LDFlags: EdgeletLDFlags(edgeletVersion)})
	}
	return append(agentBuild, []goBuild{
		{ModuleDir: ".", Packages: []string{"./cmd/edgelet"}, Out: "edgelet", Tags: EdgeletTags, LDFlags: EdgeletLDFlags(edgeletVersion)},
		{ModuleDir: ".", Packages: []string{"./images/pause", "./images/echo"}, Out: "sys/"},
		// containerd and ctr are one binary (ctr is a link to it). btrfs
		// support needs C headers the build host may lack, and nodes use
		// overlayfs; devmapper, zfs and OpenTelemetry export are unused.
		// Its version is stamped as a release build stamps it, or the node
		// reports a runtime of containerd://2.2.1+unknown.
		{ModuleDir: "images/nodetools", Tags: containerdTags, Out: "node/",
			LDFlags: []string{"-X", "github.com/containerd/containerd/v2/version.Version=" + ContainerdVersion}, Packages: []string{
				"./cmd/containerd",
				"github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2",
			}},
		// runc's nsenter is C, so runc needs cgo; without the seccomp tag every
		// pod sandbox fails ("seccomp: config provided but seccomp not
		// supported"), since containerd 2 confines sandboxes by default. It
		// links libseccomp (libseccomp-dev on the build host, libseccomp2 in
		// the node).
		{ModuleDir: "images/nodetools", CGO: true, Tags: []string{"seccomp"}, Out: "node/", Packages: []string{
			"github.com/opencontainers/runc",
		}},
		{ModuleDir: "images/nodetools", Out: "cni/", Packages: []string{
			"github.com/containernetworking/plugins/plugins/main/bridge",
			"github.com/containernetworking/plugins/plugins/main/loopback",
			"github.com/containernetworking/plugins/plugins/ipam/host-local",
			"github.com/containernetworking/plugins/plugins/meta/portmap",
		}},
		{ModuleDir: "images/coredns", Out: "sys/coredns", Packages: []string{"./cmd/coredns"}},
		// The registry runs beside the nodes, in the engine (its own image).
		{ModuleDir: "images/registry", Out: "sys/registry", Packages: []string{"."}, HostOnly: true},
	}...)
}

// goBuildArgs is the argv of a build (after "go").
func goBuildArgs(g goBuild, outDir string) []string {
	args := []string{"build", "-o", filepath.Join(outDir, g.Out)}
	if strings.HasSuffix(g.Out, "/") {
		args[2] += "/"
	}
	if len(g.Tags) > 0 {
		args = append(args, "-tags", strings.Join(g.Tags, ","))
	}
	ld := append([]string{"-s", "-w"}, g.LDFlags...)
	args = append(args, "-ldflags", strings.Join(ld, " "))
	return append(args, g.Packages...)
}

// buildBinaries runs every go build into dir, reusing Go's build cache.
func (b *builder) buildBinaries(ctx context.Context, dir, edgeletVersion string) error {
	if _, err := b.lookPath("go"); err != nil {
		return fmt.Errorf("the Go toolchain is needed to build the node image: install Go 1.25+ and put it on PATH")
	}
	cc, err := b.cgoToolchain()
	if err != nil {
		return err
	}
	// Start the output directories empty, so a binary that is no longer
	// built (ctr, before it joined containerd) cannot linger in the image.
	for _, sub := range []string{"sys", "node", "cni"} {
		if err := os.RemoveAll(filepath.Join(dir, sub)); err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return err
		}
	}
	for _, g := range builds(edgeletVersion, b.opts.Role == RoleAgent) {
		if g.HostOnly && b.opts.Arch != goruntime.GOARCH {
			continue
		}
		cgo := "0"
		if g.CGO {
			cgo = "1"
		}
		env := []string{"CGO_ENABLED=" + cgo, "GOOS=linux", "GOARCH=" + b.opts.Arch, "GOFLAGS=-buildvcs=false"}
		if g.CGO {
			env = append(env, cc...)
		}
		b.log("go build %s", strings.Join(g.Packages, " "))
		if _, err := b.runIn(ctx, filepath.Join(b.opts.SourceDir, g.ModuleDir), env, "go", goBuildArgs(g, dir)...); err != nil {
			return fmt.Errorf("build %s: %w", strings.Join(g.Packages, " "), err)
		}
	}
	return nil
}

// crossToolchains are Debian's C cross compilers per GOARCH, and where the
// target's libseccomp is (dpkg --add-architecture).
var crossToolchains = map[string]struct{ CC, LibDir string }{
	"arm64": {"aarch64-linux-gnu-gcc", "/usr/lib/aarch64-linux-gnu"},
	"amd64": {"x86_64-linux-gnu-gcc", "/usr/lib/x86_64-linux-gnu"},
}

// cgoToolchain checks what runc's cgo build needs for the target
// architecture, and returns the environment that selects it: the host's C
// compiler for the host's architecture, else Debian's cross compiler and the
// target's libseccomp.
func (b *builder) cgoToolchain() ([]string, error) {
	if _, err := os.Stat("/usr/include/seccomp.h"); err != nil {
		return nil, fmt.Errorf("libseccomp headers are needed to build runc: run `apt-get install -y libseccomp-dev` (or `make deps`)")
	}
	if b.opts.Arch == goruntime.GOARCH {
		return nil, nil
	}
	tc, ok := crossToolchains[b.opts.Arch]
	if !ok {
		return nil, fmt.Errorf("no C cross compiler known for %s", b.opts.Arch)
	}
	a := b.opts.Arch // Debian's architecture names match GOARCH for these two
	fix := fmt.Sprintf("run `dpkg --add-architecture %s && apt-get update && apt-get install -y gcc-%s libseccomp-dev:%s` (or `make deps-%s`)",
		a, strings.TrimSuffix(tc.CC, "-gcc"), a, a)
	if _, err := b.lookPath(tc.CC); err != nil {
		return nil, fmt.Errorf("runc for %s needs the C cross compiler %s: %s", b.opts.Arch, tc.CC, fix)
	}
	if _, err := os.Stat(filepath.Join(tc.LibDir, "libseccomp.so")); err != nil {
		return nil, fmt.Errorf("runc for %s needs libseccomp for %s: %s", b.opts.Arch, b.opts.Arch, fix)
	}
	return []string{"CC=" + tc.CC, "PKG_CONFIG_LIBDIR=" + filepath.Join(tc.LibDir, "pkgconfig")}, nil
}
