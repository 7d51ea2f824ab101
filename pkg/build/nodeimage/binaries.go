package nodeimage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// goBuild is one `go build` of one or more main packages of a module.
type goBuild struct {
	ModuleDir string   // relative to the source tree
	Packages  []string // import paths or ./relative
	Out       string   // file (one package) or directory ending in /
	CGO       bool
	Tags      []string
	LDFlags   []string
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

// builds lists every binary of the node image. Paths in Out are relative to
// the binary cache directory.
func builds(edgeletVersion string) []goBuild {
	return []goBuild{
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
		{ModuleDir: "images/registry", Out: "sys/registry", Packages: []string{"."}},
	}
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
	if _, err := os.Stat("/usr/include/seccomp.h"); err != nil {
		return fmt.Errorf("libseccomp headers are needed to build runc: run `apt-get install -y libseccomp-dev` (or `make deps`)")
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
	for _, g := range builds(edgeletVersion) {
		cgo := "0"
		if g.CGO {
			cgo = "1"
		}
		env := []string{"CGO_ENABLED=" + cgo, "GOOS=linux", "GOARCH=" + b.opts.Arch, "GOFLAGS=-buildvcs=false"}
		b.log("go build %s", strings.Join(g.Packages, " "))
		if _, err := b.runIn(ctx, filepath.Join(b.opts.SourceDir, g.ModuleDir), env, "go", goBuildArgs(g, dir)...); err != nil {
			return fmt.Errorf("build %s: %w", strings.Join(g.Packages, " "), err)
		}
	}
	return nil
}
