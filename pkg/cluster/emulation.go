package cluster

import (
	"context"
	"fmt"
	"path"
	goruntime "runtime"
	"strings"

	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	nodev1 "github.com/edgectl/edgectl/pkg/apis/node/v1alpha1"
)

// Emulated nodes (NativeDir): under qemu user emulation the node's own
// containerd, runc and iptables cannot do their job. qemu translates no
// NETLINK_NETFILTER socket (nft) and no iptables socket option (legacy), the
// wall kind#2978 hit, and it refuses seccomp, which containerd then reports
// as missing, and every pod sandbox needs it. The host's own programs
// program the node's namespaces and cgroups all the same, and apply seccomp
// to qemu itself, as Docker does for an emulated container; edgelet sets
// containerd to pick images of the node's own platform. They are copied from
// the host platform's node image when such a node is created (their
// libraries and loader to their own multiarch paths, which a foreign rootfs
// leaves free), so that the foreign image itself holds nothing of another
// architecture.

// multiarchDirs are Debian's library directories per GOARCH, and loaders
// are the dynamic loaders' paths (PT_INTERP).
var (
	multiarchDirs = map[string]string{"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}
	loaders       = map[string]string{"amd64": "/lib64/ld-linux-x86-64.so.2", "arm64": "/lib/ld-linux-aarch64.so.1"}
)

// nativeFiles maps the files of the host platform's node image that an
// emulated node needs to where they go in it (a path ending in "/" is a
// directory).
func nativeFiles() (map[string]string, error) {
	dir, ok := multiarchDirs[goruntime.GOARCH]
	if !ok {
		return nil, fmt.Errorf("no emulation support on a %s host", goruntime.GOARCH)
	}
	files := map[string]string{loaders[goruntime.GOARCH]: loaders[goruntime.GOARCH]}
	for _, bin := range []string{"/usr/local/bin/containerd", "/usr/local/bin/containerd-shim-runc-v2", "/usr/local/bin/runc", "/usr/sbin/xtables-nft-multi"} {
		files[bin] = path.Join(nodev1.NativeDir, path.Base(bin))
	}
	lib := "/usr/lib/" + dir + "/"
	// runc's and iptables' libraries, and every iptables extension (2 MB).
	for _, l := range []string{"libc.so.6", "libseccomp.so.2", "libxtables.so.12", "libmnl.so.0", "libnftnl.so.11", "xtables/"} {
		files[lib+l] = lib + l
	}
	return files, nil
}

// flannelBackend is host-gw for a cluster with emulated nodes, whose VXLAN
// neighbor entries qemu cannot program (its netlink translation has no
// neighbor messages); the nodes share one network, so routes do. Else vxlan.
func flannelBackend(cfg *v1alpha1.Cluster) string {
	if cfg.Emulated() {
		return nodev1.FlannelHostGW
	}
	return nodev1.FlannelVXLAN
}

// emulationFiles are the files a node of platform needs beyond its image:
// none for the host's platform, else the host's own programs (nativeFiles)
// from the host platform's node image.
func (j *job) emulationFiles(ctx context.Context, platform string) (map[string][]byte, error) {
	if platform == v1alpha1.HostPlatform() {
		return nil, nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.native != nil {
		return j.native, nil
	}
	want, err := nativeFiles()
	if err != nil {
		return nil, err
	}
	paths := make([]string, 0, len(want))
	for p := range want {
		paths = append(paths, p)
	}
	image := v1alpha1.ImageFor(j.cfg.Image, v1alpha1.HostPlatform())
	got, err := j.p.rt.ReadImageFiles(ctx, image, paths)
	if err != nil {
		return nil, fmt.Errorf("emulated nodes run the host's containerd, runc and iptables, from %s (build it with `edgectl image build`): %w", image, err)
	}
	j.native = map[string][]byte{}
	for src, data := range got {
		for from, to := range want {
			if rel, ok := strings.CutPrefix(src, from); ok && (rel == "" || strings.HasSuffix(from, "/")) {
				j.native[path.Join(to, rel)] = data
			}
		}
	}
	return j.native, nil
}
