package nodeimage

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/edgectl/edgectl/internal/archive"
)

// BundleResult describes a written board bundle.
type BundleResult struct {
	File         string
	Size         int64 // compressed
	Uncompressed int64
	Duration     time.Duration
}

// BundleDir is the directory every file of a bundle of arch is under.
func BundleDir(arch string) string { return "edgectl-bundle-linux-" + arch }

// Bundle writes the board bundle of opts.Arch (and opts.Role) to file: what a plain Debian
// (or Raspberry Pi OS) host with systemd needs to run a node, with no
// registry: edgelet, containerd, runc, the CNI plugins, the offline system
// images, the host tools edgelet runs (iptables, nft, ip, tc, conntrack,
// ethtool, with their libraries), the systemd unit, and install.sh and uninstall.sh
// (node-image/bundle). The binaries are the node image's, from the same
// build cache.
func Bundle(ctx context.Context, opts Options, file string, out io.Writer) (*BundleResult, error) {
	start := time.Now()
	if err := opts.Complete(); err != nil {
		return nil, err
	}
	b := &builder{opts: opts, out: out}
	inputs, err := b.inputs()
	if err != nil {
		return nil, err
	}
	binDir, err := b.binaries(ctx, inputs)
	if err != nil {
		return nil, err
	}
	images, err := b.systemImages(binDir)
	if err != nil {
		return nil, err
	}
	rootfs, _, err := b.rootfs(ctx)
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "edgectl-bundle-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	dir := "/" + BundleDir(opts.Arch)
	tools, err := hostToolEntries(rootfs, opts.Arch, dir, work)
	if err != nil {
		return nil, err
	}
	src := func(p string) string { return filepath.Join(opts.SourceDir, p) }
	entries := []archive.Entry{
		{Path: dir + "/VERSION", Mode: 0o644, Data: []byte(fmt.Sprintf("edgelet %s\nkubernetes %s\ncontainerd %s\nplatform linux/%s\nrole %s\n",
			inputs[:12], KubernetesVersion, ContainerdVersion, opts.Arch, opts.Role))},
		{Path: dir + "/install.sh", Mode: 0o755, Source: src("node-image/bundle/install.sh")},
		{Path: dir + "/uninstall.sh", Mode: 0o755, Source: src("node-image/bundle/uninstall.sh")},
		{Path: dir + "/README", Mode: 0o644, Source: src("node-image/bundle/README")},
		{Path: dir + "/packages.txt", Mode: 0o644, Source: src("node-image/packages.txt")},
		{Path: dir + "/systemd/edgelet.service", Mode: 0o644, Source: src("node-image/files/etc/systemd/system/edgelet.service")},
	}
	for _, bin := range nodeBinaries {
		src := filepath.Join(binDir, bin)
		if bin == "edgelet" && opts.Role == RoleAgent {
			src = filepath.Join(binDir, "edgelet-agent")
		}
		entries = append(entries, archive.Entry{Path: dir + "/bin/" + filepath.Base(bin), Mode: 0o755, Source: src})
	}
	for _, p := range cniPlugins {
		entries = append(entries, archive.Entry{Path: dir + "/cni/" + p, Mode: 0o755, Source: filepath.Join(binDir, "cni", p)})
	}
	for _, img := range images {
		entries = append(entries, archive.Entry{Path: dir + "/images/" + img, Mode: 0o644, Source: filepath.Join(binDir, "images", img)})
	}
	entries = append(entries, tools...)
	b.log("writing %s", file)
	raw, err := archive.WriteGzipFile(file, entries, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(file)
	if err != nil {
		return nil, err
	}
	return &BundleResult{File: file, Size: st.Size(), Uncompressed: raw, Duration: time.Since(start)}, nil
}

// BundleVersion is the edgelet version (the first line of its VERSION
// file) that a bundle of opts.Arch built now from the source tree has: what
// a host that runs an older one is upgraded to.
func BundleVersion(opts Options) (string, error) {
	if err := opts.Complete(); err != nil {
		return "", err
	}
	inputs, err := (&builder{opts: opts}).inputs()
	if err != nil {
		return "", err
	}
	return inputs[:12], nil
}

// CachedBundle returns the bundle of opts.Arch and opts.Role for the
// current sources from the build cache, writing it there first when it is
// missing (node join installs it on hosts). Stale bundles of the same
// platform and role are removed.
func CachedBundle(ctx context.Context, opts Options, out io.Writer) (string, error) {
	if err := opts.Complete(); err != nil {
		return "", err
	}
	inputs, err := (&builder{opts: opts, out: out}).inputs()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(opts.CacheDir, "bundles")
	prefix := BundleDir(opts.Arch) + "-" + opts.Role + "-"
	file := filepath.Join(dir, prefix+inputs[:12]+".tar.gz")
	if _, err := os.Stat(file); err == nil {
		return file, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	stale, _ := filepath.Glob(filepath.Join(dir, prefix+"*.tar.gz"))
	if _, err := Bundle(ctx, opts, file+".tmp", out); err != nil {
		os.Remove(file + ".tmp")
		return "", err
	}
	if err := os.Rename(file+".tmp", file); err != nil {
		return "", err
	}
	for _, s := range stale {
		os.Remove(s)
	}
	return file, nil
}
