package nodeimage

import (
	"debug/elf"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/edgectl/edgectl/internal/archive"
	"github.com/edgectl/edgectl/pkg/board"
)

// hostTools are the commands edgelet (kube-proxy, flannel, net degrade)
// runs on a host, by the program in the node image's Debian rootfs that
// each one is: what a board bundle carries so that a minimal Debian needs
// no package installed. xtables-nft-multi is one program for every
// iptables command; it tells them apart by its argv[0].
var hostTools = map[string]string{
	"iptables": "xtables-nft-multi", "iptables-save": "xtables-nft-multi", "iptables-restore": "xtables-nft-multi",
	"ip6tables": "xtables-nft-multi", "ip6tables-save": "xtables-nft-multi", "ip6tables-restore": "xtables-nft-multi",
	"nft": "nft", "conntrack": "conntrack", "ethtool": "ethtool", "ip": "ip", "tc": "tc",
}

// libTriplets are the Debian multiarch library directories, by arch.
var libTriplets = map[string]string{"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu", "arm": "arm-linux-gnueabihf"}

// hostToolEntries are the bundle's entries under dir/tools: the programs
// of hostTools from the rootfs tarball, every shared library they load
// (glibc and its loader too, so that they run on any glibc or none), the
// iptables extensions, and a wrapper per command that runs its program with
// the bundled loader. The files are extracted into work, which must outlive
// the entries.
func hostToolEntries(rootfsTar, arch, dir, work string) ([]archive.Entry, error) {
	triplet, ok := libTriplets[arch]
	if !ok {
		return nil, fmt.Errorf("no host tools for linux/%s", arch)
	}
	libDirs := []string{"usr/lib/" + triplet, "usr/lib", "usr/lib64"}
	under := append([]string{"usr/sbin", "usr/bin"}, libDirs...)
	keep := func(name string) bool {
		return slices.ContainsFunc(under, func(u string) bool { return name == u || strings.HasPrefix(name, u+"/") })
	}
	if err := archive.Extract(rootfsTar, work, keep); err != nil {
		return nil, fmt.Errorf("host tools: %w", err)
	}
	progs := map[string]string{} // program name -> extracted file
	for _, prog := range hostTools {
		if _, done := progs[prog]; done {
			continue
		}
		file, err := findIn(work, []string{"usr/sbin", "usr/bin"}, prog)
		if err != nil {
			return nil, fmt.Errorf("host tools: %s is not in the %s rootfs (node-image/packages.txt lists its package): %w", prog, arch, err)
		}
		progs[prog] = file
	}
	xtDir, err := resolveIn(work, "usr/lib/"+triplet+"/xtables")
	if err != nil {
		return nil, fmt.Errorf("host tools: iptables extensions: %w", err)
	}
	extensions, _ := filepath.Glob(filepath.Join(work, xtDir, "*.so"))
	if len(extensions) == 0 {
		return nil, fmt.Errorf("host tools: no iptables extensions in the %s rootfs", arch)
	}
	// The loader every program names, then the closure of their libraries.
	libs := map[string]string{} // soname -> extracted file
	var interp string
	var queue []string
	for _, f := range append(slices.Sorted(maps.Values(progs)), extensions...) {
		needed, in, err := elfDeps(f)
		if err != nil {
			return nil, fmt.Errorf("host tools: %s: %w", filepath.Base(f), err)
		}
		if in != "" {
			if interp != "" && path.Base(in) != interp {
				return nil, fmt.Errorf("host tools: %s wants loader %s, others %s", filepath.Base(f), in, interp)
			}
			interp = path.Base(in)
		}
		queue = append(queue, needed...)
	}
	if interp == "" {
		return nil, fmt.Errorf("host tools: no program names a loader (static programs?)")
	}
	queue = append(queue, interp)
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if _, done := libs[name]; done {
			continue
		}
		file, err := findIn(work, libDirs, name)
		if err != nil {
			return nil, fmt.Errorf("host tools: library %s: %w", name, err)
		}
		libs[name] = file
		needed, _, err := elfDeps(file)
		if err != nil {
			return nil, fmt.Errorf("host tools: %s: %w", name, err)
		}
		queue = append(queue, needed...)
	}
	tools := dir + "/tools"
	var entries []archive.Entry
	for prog, file := range progs {
		entries = append(entries, archive.Entry{Path: tools + "/libexec/" + prog, Mode: 0o755, Source: file})
	}
	for name, file := range libs {
		entries = append(entries, archive.Entry{Path: tools + "/lib/" + name, Mode: 0o755, Source: file})
	}
	for _, f := range extensions {
		entries = append(entries, archive.Entry{Path: tools + "/lib/xtables/" + filepath.Base(f), Mode: 0o644, Source: f})
	}
	for cmd, prog := range hostTools {
		entries = append(entries, archive.Entry{Path: tools + "/bin/" + cmd, Mode: 0o755, Data: []byte(toolWrapper(cmd, prog, interp))})
	}
	return entries, nil
}

// toolWrapper is the script that runs cmd (program prog) with the bundle's
// loader and libraries, as installed under board.ToolsDir.
func toolWrapper(cmd, prog, interp string) string {
	env := ""
	if prog == "xtables-nft-multi" {
		env = "XTABLES_LIBDIR=" + board.ToolsDir + "/lib/xtables "
	}
	return fmt.Sprintf("#!/bin/sh\n# %s from Debian %s, carried by the edgectl board bundle for a host that has none\n# (edgelet's PATH ends with %s/bin: a host's own %s comes first).\n"+
		"%sexec %s/lib/%s --library-path %s/lib --argv0 %s %s/libexec/%s \"$@\"\n",
		cmd, DebianSuite, board.ToolsDir, cmd, env, board.ToolsDir, interp, board.ToolsDir, cmd, board.ToolsDir, prog)
}

// elfDeps are the shared libraries an ELF file needs and its loader
// (PT_INTERP; none for a library).
func elfDeps(file string) (needed []string, interp string, err error) {
	f, err := elf.Open(file)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	needed, err = f.ImportedLibraries()
	if err != nil {
		return nil, "", err
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b, err := io.ReadAll(p.Open())
			if err != nil {
				return nil, "", err
			}
			interp = strings.TrimRight(string(b), "\x00")
		}
	}
	return needed, interp, nil
}

// findIn returns the extracted file (symlinks followed inside root) of
// the first of dirs that has name.
func findIn(root string, dirs []string, name string) (string, error) {
	for _, d := range dirs {
		if rel, err := resolveIn(root, d+"/"+name); err == nil {
			if st, err := os.Stat(filepath.Join(root, rel)); err == nil && st.Mode().IsRegular() {
				return filepath.Join(root, rel), nil
			}
		}
	}
	return "", fmt.Errorf("not found in %s", strings.Join(dirs, ", "))
}

// resolveIn follows the symlinks of rel (a slash path) inside root, as
// they would resolve with root as /, and returns the result relative to
// root.
func resolveIn(root, rel string) (string, error) {
	for hops := 0; hops < 40; hops++ {
		parts := strings.Split(path.Clean(rel), "/")
		linked := false
		for i := range parts {
			p := strings.Join(parts[:i+1], "/")
			st, err := os.Lstat(filepath.Join(root, filepath.FromSlash(p)))
			if err != nil {
				return "", err
			}
			if st.Mode()&os.ModeSymlink == 0 {
				continue
			}
			target, err := os.Readlink(filepath.Join(root, filepath.FromSlash(p)))
			if err != nil {
				return "", err
			}
			if !path.IsAbs(target) {
				target = path.Join(path.Dir(p), target)
			}
			rel = strings.TrimPrefix(path.Clean(path.Join("/", target, strings.Join(parts[i+1:], "/"))), "/")
			linked = true
			break
		}
		if !linked {
			return path.Clean(rel), nil
		}
	}
	return "", fmt.Errorf("%s: too many symlinks", rel)
}
