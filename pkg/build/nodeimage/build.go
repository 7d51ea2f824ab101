package nodeimage

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/edgectl/edgectl/internal/archive"
	"github.com/edgectl/edgectl/internal/ocitar"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	"github.com/edgectl/edgectl/pkg/build/sysimage"
	"github.com/edgectl/edgectl/pkg/version"
)

// Engine is what the build needs from the container engine.
type Engine interface {
	// ImageLabel returns the value of label on image ref, and whether the
	// image exists.
	ImageLabel(ctx context.Context, ref, label string) (string, bool, error)
	// LoadImage loads a `docker save` style archive.
	LoadImage(ctx context.Context, archive io.Reader) error
	// ImageID returns the ID of ref ("" when absent).
	ImageID(ctx context.Context, ref string) (string, error)
	// RemoveImage deletes an image by ID, unless a container uses it.
	RemoveImage(ctx context.Context, id string) error
}

// Labels of the node image.
const (
	LabelInputs     = "io.edgectl.inputs"
	LabelKubernetes = "io.edgectl.kubernetes"
	LabelPackages   = "io.edgectl.packages"
	LabelArch       = "io.edgectl.arch"
)

// Result describes a finished build.
type Result struct {
	Tag        string
	Platform   string // linux/ARCH
	CacheHit   bool
	Size       int64 // uncompressed bytes of all layers
	Compressed int64 // gzipped bytes of all layers
	Duration   time.Duration
}

type builder struct {
	opts   Options
	out    io.Writer
	engine Engine
}

func (b *builder) log(format string, args ...any) { fmt.Fprintf(b.out, " • "+format+"\n", args...) }

func (b *builder) lookPath(file string) (string, error) { return exec.LookPath(file) }

func (b *builder) run(ctx context.Context, name string, args ...string) (string, error) {
	return b.runIn(ctx, "", nil, name, args...)
}

// runIn runs a command and returns its combined output; on failure the
// output is part of the error, since that is where the reason is.
func (b *builder) runIn(ctx context.Context, dir string, env []string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		tail := string(out)
		if len(tail) > 4000 {
			tail = "..." + tail[len(tail)-4000:]
		}
		return string(out), fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, tail)
	}
	return string(out), nil
}

// Build builds the node image of each of opts.Archs, in turn. Progress goes
// to out. With --output docker each platform's image is loaded as its own
// tag (tag(), since an engine like Docker 20.10 keeps one platform per tag);
// with oci-tar they go into one file, as one image or as an index.
func Build(ctx context.Context, opts Options, engine Engine, out io.Writer) ([]*Result, error) {
	if err := opts.Complete(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.CacheDir, 0o755); err != nil {
		return nil, err
	}
	if v := moduleSourceVersion(opts.SourceDir); v != "" {
		fmt.Fprintf(out, " • building from the source of edgectl %s, fetched from the Go module proxy into %s\n", v, opts.SourceDir)
	}
	var results []*Result
	var images []v1.Image
	for _, arch := range opts.Archs {
		o := opts
		o.Arch = arch
		b := &builder{opts: o, out: out, engine: engine}
		res, img, err := b.build(ctx)
		if err != nil {
			return nil, fmt.Errorf("linux/%s: %w", arch, err)
		}
		results = append(results, res)
		if img != nil {
			images = append(images, img)
		}
	}
	if opts.Output == "oci-tar" {
		ref, err := name.NewTag(opts.Tag)
		if err != nil {
			return nil, fmt.Errorf("tag %q: %w", opts.Tag, err)
		}
		fmt.Fprintf(out, " • writing %s\n", opts.OutFile)
		if err := ocitar.Write(opts.OutFile, ocitar.Named{Ref: ref.String(), Images: images}); err != nil {
			return nil, err
		}
	}
	return results, nil
}

// build builds the image of one platform. It loads it into the engine, or,
// for oci-tar, returns it.
func (b *builder) build(ctx context.Context) (*Result, v1.Image, error) {
	start := time.Now()
	res := &Result{Tag: b.tag(), Platform: "linux/" + b.opts.Arch}
	inputs, err := b.inputs()
	if err != nil {
		return nil, nil, err
	}
	if b.opts.Output == "docker" && !b.opts.Force {
		if fresh, err := b.upToDate(ctx, inputs); err != nil {
			return nil, nil, err
		} else if fresh {
			b.log("%s is up to date (inputs %s)", res.Tag, inputs[:12])
			res.CacheHit, res.Duration = true, time.Since(start)
			return res, nil, nil
		}
	}
	rootfsTar, packages, err := b.rootfs(ctx)
	if err != nil {
		return nil, nil, err
	}
	binDir, err := b.binaries(ctx, inputs)
	if err != nil {
		return nil, nil, err
	}
	overlay, err := b.overlay(binDir)
	if err != nil {
		return nil, nil, err
	}
	img, size, err := b.assemble(rootfsTar, overlay, inputs, packages)
	if err != nil {
		return nil, nil, err
	}
	res.Size = size
	if res.Compressed, err = compressedSize(img); err != nil {
		return nil, nil, err
	}
	res.Duration = time.Since(start)
	if b.opts.Output == "oci-tar" {
		return res, img, nil
	}
	if err := b.load(ctx, res.Tag, img); err != nil {
		return nil, nil, err
	}
	if b.hostArch() {
		if err := b.registryImage(ctx, binDir, inputs); err != nil {
			return nil, nil, err
		}
	}
	res.Duration = time.Since(start)
	return res, nil, nil
}

// tag is the image's tag: another platform's than the host's takes the tag
// clusters look for it under.
func (b *builder) tag() string { return v1alpha1.ImageFor(b.opts.Tag, "linux/"+b.opts.Arch) }

// inputs is the hash of everything the build reads.
func (b *builder) inputs() (string, error) {
	o := b.opts
	h, err := inputsHash(o.SourceDir, "arch="+o.Arch, "mirror="+o.Mirror, "k8s="+KubernetesVersion, "layout=v1")
	if err != nil {
		return "", fmt.Errorf("hash build inputs: %w", err)
	}
	return h, nil
}

// binaries builds the node's programs for the inputs into the cache and
// returns their directory.
func (b *builder) binaries(ctx context.Context, inputs string) (string, error) {
	dir := filepath.Join(b.opts.CacheDir, "bin-"+b.opts.Arch)
	return dir, b.buildBinaries(ctx, dir, inputs[:12])
}

// hostArch tells whether the image is for the host's architecture: only
// then is the registry's image (it runs in the engine) built with it.
func (b *builder) hostArch() bool { return b.opts.Arch == goruntime.GOARCH }

// upToDate tells whether the engine holds the node image and the registry
// image of these inputs.
func (b *builder) upToDate(ctx context.Context, inputs string) (bool, error) {
	refs := []string{b.tag()}
	if b.hostArch() {
		refs = append(refs, version.RegistryImage())
	}
	for _, ref := range refs {
		have, ok, err := b.engine.ImageLabel(ctx, ref, LabelInputs)
		if err != nil || !ok || have != inputs {
			return false, err
		}
	}
	return true, nil
}

// registryImage loads the registry's image into the engine.
func (b *builder) registryImage(ctx context.Context, binDir, inputs string) error {
	img, err := sysimage.Build(sysimage.Spec{Arch: b.opts.Arch, Entrypoint: []string{"/registry"},
		Files:  map[string]string{"/registry": filepath.Join(binDir, "sys", "registry")},
		Labels: map[string]string{LabelInputs: inputs}})
	if err != nil {
		return fmt.Errorf("build the registry image: %w", err)
	}
	return b.load(ctx, version.RegistryImage(), img)
}

// systemImages writes the offline system images (pause, CoreDNS, echo) of
// the build's architecture as image tarballs under binDir/images, and
// returns their file names.
func (b *builder) systemImages(binDir string) ([]string, error) {
	imagesDir := filepath.Join(binDir, "images")
	if err := os.MkdirAll(imagesDir, 0o755); err != nil {
		return nil, err
	}
	sys := []sysimage.Spec{
		{Ref: PauseImage, Aliases: []string{UpstreamPauseImage}, Files: map[string]string{"/pause": filepath.Join(binDir, "sys", "pause")}, Entrypoint: []string{"/pause"}},
		{Ref: CoreDNSImage, Aliases: []string{UpstreamCoreDNSImage}, Files: map[string]string{"/coredns": filepath.Join(binDir, "sys", "coredns")}, Entrypoint: []string{"/coredns"}},
		{Ref: EchoImage, Files: map[string]string{"/echo": filepath.Join(binDir, "sys", "echo")}, Entrypoint: []string{"/echo"}, User: "65534"},
	}
	var files []string
	for _, s := range sys {
		s.Arch = b.opts.Arch
		file := strings.NewReplacer("/", "_", ":", "_").Replace(strings.TrimPrefix(s.Ref, "ghcr.io/edgectl/")) + ".tar"
		if err := sysimage.WriteTarball(filepath.Join(imagesDir, file), s); err != nil {
			return nil, err
		}
		files = append(files, file)
	}
	return files, nil
}

// nodeBinaries are the node's programs in the binary cache, relative to it.
var nodeBinaries = []string{"edgelet", "node/containerd", "node/containerd-shim-runc-v2", "node/runc"}

// cniPlugins are the CNI plugins a node uses (flannel's is in edgelet).
var cniPlugins = []string{"bridge", "loopback", "host-local", "portmap"}

// overlay writes the layer that goes over the Debian rootfs: binaries, the
// node-image files, the offline system images.
func (b *builder) overlay(binDir string) (string, error) {
	images, err := b.systemImages(binDir)
	if err != nil {
		return "", err
	}
	var entries []archive.Entry
	for _, file := range images {
		entries = append(entries, archive.Entry{Path: "/var/lib/edgelet/agent/images/" + file, Source: filepath.Join(binDir, "images", file), Mode: 0o644})
	}
	for _, bin := range nodeBinaries {
		entries = append(entries, archive.Entry{Path: "/usr/local/bin/" + filepath.Base(bin), Source: filepath.Join(binDir, bin), Mode: 0o755})
	}
	// Multi-call binaries: edgelet runs kubectl, containerd runs ctr.
	entries = append(entries,
		archive.Entry{Path: "/usr/local/bin/kubectl", Link: "edgelet", Mode: 0o777},
		archive.Entry{Path: "/usr/local/bin/ctr", Link: "containerd", Mode: 0o777})
	for _, p := range cniPlugins {
		entries = append(entries, archive.Entry{Path: "/opt/cni/bin/" + p, Source: filepath.Join(binDir, "cni", p), Mode: 0o755})
	}
	files, err := archive.Tree(filepath.Join(b.opts.SourceDir, "node-image", "files"))
	if err != nil {
		return "", err
	}
	entries = append(entries, files...)
	if !b.hostArch() {
		entries = append(entries, emulatedIptables(b.opts.SourceDir)...)
	}
	entries = append(entries,
		archive.Entry{Path: "/etc/systemd/system/multi-user.target.wants/edgelet.service", Link: "/etc/systemd/system/edgelet.service", Mode: 0o777},
		archive.Entry{Path: "/etc/cni/net.d", IsDir: true, Mode: 0o755},
		archive.Entry{Path: "/var/lib/containerd", IsDir: true, Mode: 0o711})
	dst := filepath.Join(binDir, "overlay.tar")
	return dst, archive.WriteFile(dst, entries)
}

// emulatedIptables are the iptables wrappers of an image for another
// platform than the build host's (node-image/emulated/iptables): under qemu
// they run the host's own iptables, which edgectl copies into the node.
func emulatedIptables(sourceDir string) []archive.Entry {
	entries := []archive.Entry{{Path: "/usr/local/sbin/iptables", Mode: 0o755, Source: filepath.Join(sourceDir, "node-image", "emulated", "iptables")}}
	for _, name := range []string{"iptables-save", "iptables-restore", "ip6tables", "ip6tables-save", "ip6tables-restore"} {
		entries = append(entries, archive.Entry{Path: "/usr/local/sbin/" + name, Link: "iptables", Mode: 0o777})
	}
	return entries
}

// assemble stacks the rootfs and overlay layers and sets the image config.
func (b *builder) assemble(rootfsTar, overlayTar, inputs string, packages []string) (v1.Image, int64, error) {
	var layers []v1.Layer
	var size int64
	for _, p := range []string{rootfsTar, overlayTar} {
		l, err := tarball.LayerFromFile(p)
		if err != nil {
			return nil, 0, err
		}
		fi, err := os.Stat(p)
		if err != nil {
			return nil, 0, err
		}
		size += fi.Size()
		layers = append(layers, l)
	}
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		return nil, 0, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, 0, err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = b.opts.Arch, "linux"
	cf.Config.Entrypoint = []string{"/usr/local/bin/entrypoint", "/sbin/init"}
	cf.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "container=docker"}
	// systemd shuts down cleanly on SIGRTMIN+3, not on SIGTERM.
	cf.Config.StopSignal = "SIGRTMIN+3"
	cf.Config.Labels = map[string]string{
		LabelInputs:     inputs,
		LabelKubernetes: KubernetesVersion,
		LabelArch:       b.opts.Arch,
		LabelPackages:   strings.Join(packages, ","),
	}
	img, err = mutate.ConfigFile(img, cf)
	return img, size, err
}

// load loads img into the engine as tag, and removes the image the tag
// named before.
func (b *builder) load(ctx context.Context, tag string, img v1.Image) error {
	ref, err := name.NewTag(tag)
	if err != nil {
		return fmt.Errorf("tag %q: %w", tag, err)
	}
	b.log("loading %s into the container engine", tag)
	oldID, _ := b.engine.ImageID(ctx, tag)
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(tarball.Write(ref, img, pw)) }()
	if err := b.engine.LoadImage(ctx, pr); err != nil {
		pr.CloseWithError(err)
		return fmt.Errorf("load image: %w", err)
	}
	// The tag moved to the new image; drop the old one so rebuilds do not
	// pile up 400 MB dangling images. In use by a cluster, it stays.
	if newID, _ := b.engine.ImageID(ctx, tag); oldID != "" && newID != oldID {
		_ = b.engine.RemoveImage(ctx, oldID)
	}
	return nil
}
