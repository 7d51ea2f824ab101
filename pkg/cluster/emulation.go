package cluster

import (
	"context"
	"fmt"
	"path"
	goruntime "runtime"
	"strings"

	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
)

// NativeDir is where a node of another platform than the host's finds the
// host's own iptables. Under qemu user emulation, the node's iptables cannot
// reach netfilter: qemu translates no NETLINK_NETFILTER socket (nft) and no
// iptables socket option (legacy), the wall kind#2978 hit. A native
// xtables-nft-multi, run through its own loader, programs the node's network
// namespace all the same; the node image's iptables wrappers
// (node-image/emulated) use it when it is there. It is copied from the host
// platform's node image when such a node is created, so that the foreign
// image itself holds nothing of another architecture.
const NativeDir = "/usr/lib/edgectl/native"

// multiarchDirs are Debian's library directories per GOARCH.
var multiarchDirs = map[string]string{"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}

// nativeIptables are the files of the host platform's node image that run
// its iptables: the multi-call binary, the libraries it links, its loader
// (named ld.so under NativeDir) and its extensions.
func nativeIptables() (map[string]string, error) {
	dir, ok := multiarchDirs[goruntime.GOARCH]
	if !ok {
		return nil, fmt.Errorf("no emulation support on a %s host", goruntime.GOARCH)
	}
	lib := "/usr/lib/" + dir + "/"
	loader := map[string]string{"amd64": "ld-linux-x86-64.so.2", "arm64": "ld-linux-aarch64.so.1"}[goruntime.GOARCH]
	files := map[string]string{
		"/usr/sbin/xtables-nft-multi": "xtables-nft-multi",
		lib + loader:                  "ld.so",
	}
	for _, l := range []string{"libc.so.6", "libxtables.so.12", "libmnl.so.0", "libnftnl.so.11"} {
		files[lib+l] = "lib/" + l
	}
	// Its extensions, all of them (2 MB): rules name many.
	files[lib+"xtables/"] = "xtables/"
	return files, nil
}

// emulationFiles are the files a node of platform needs beyond its image:
// none for the host's platform, else the host's iptables from image (the
// host platform's node image).
func (j *job) emulationFiles(ctx context.Context, platform string) (map[string][]byte, error) {
	if platform == v1alpha1.HostPlatform() {
		return nil, nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.native != nil {
		return j.native, nil
	}
	want, err := nativeIptables()
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
		return nil, fmt.Errorf("emulated nodes run the host's iptables, from %s (build it with `edgectl image build`): %w", image, err)
	}
	j.native = map[string][]byte{}
	for src, data := range got {
		for from, to := range want {
			if rel, ok := strings.CutPrefix(src, from); ok && (rel == "" || strings.HasSuffix(from, "/")) {
				j.native[path.Join(NativeDir, to, rel)] = data
			}
		}
	}
	return j.native, nil
}
