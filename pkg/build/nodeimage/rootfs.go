package nodeimage

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"time"

	"github.com/edgectl/edgectl/internal/binfmt"
)

// maskedUnits do nothing useful in a node container, or do harm: binfmt is
// kernel-global, udev and getty have no devices or terminals to manage.
var maskedUnits = []string{
	"systemd-binfmt.service", "systemd-udevd.service", "systemd-udev-trigger.service",
	"console-getty.service", "getty@tty1.service", "systemd-modules-load.service",
	"haproxy.service", "apt-daily.timer", "apt-daily-upgrade.timer", "e2scrub_reap.service",
}

// readPackages parses node-image/packages.txt (one package per line, # comments).
func readPackages(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var pkgs []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line != "" {
			pkgs = append(pkgs, line)
		}
	}
	return pkgs, sc.Err()
}

// debootstrapArgs is the debootstrap command line for a rootfs in dir.
func debootstrapArgs(arch, suite, mirror, dir string, pkgs []string) []string {
	return []string{"--variant=minbase", "--arch=" + arch, "--include=" + strings.Join(pkgs, ","), suite, dir, mirror}
}

// rootfs returns a tarball of the Debian rootfs and its package manifest
// (name=version per line), building and caching it when needed.
func (b *builder) rootfs(ctx context.Context) (tarPath string, manifest []string, err error) {
	pkgs, err := readPackages(filepath.Join(b.opts.SourceDir, "node-image", "packages.txt"))
	if err != nil {
		return "", nil, err
	}
	key := hashStrings(append([]string{"rootfs-v2", b.opts.Arch, DebianSuite, b.opts.Mirror, strings.Join(maskedUnits, ",")}, pkgs...)...)
	tarPath = filepath.Join(b.opts.CacheDir, "rootfs-"+b.opts.Arch+"-"+key+".tar")
	manifestPath := tarPath + ".packages"
	if data, err := os.ReadFile(manifestPath); err == nil && !b.opts.Force {
		if _, err := os.Stat(tarPath); err == nil {
			b.log("rootfs cache hit (%s)", filepath.Base(tarPath))
			return tarPath, strings.Fields(string(data)), nil
		}
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		return "", nil, fmt.Errorf("debootstrap is not installed: run `apt-get install -y debootstrap` (or `make deps`)")
	}
	if b.opts.Arch != goruntime.GOARCH {
		// debootstrap's second stage runs the target's maintainer scripts.
		var prob *binfmt.Problem
		if err := binfmt.Check(binfmt.Dir, b.opts.Arch); errors.As(err, &prob) {
			return "", nil, fmt.Errorf("a %s rootfs runs %s programs under qemu: %w; fix: %s", b.opts.Arch, b.opts.Arch, err, prob.Fix)
		} else if err != nil {
			return "", nil, err
		}
	}
	work := tarPath + ".work"
	_ = os.RemoveAll(work)
	defer os.RemoveAll(work)
	took := "about a minute or two"
	if b.opts.Arch != goruntime.GOARCH {
		took = "about 3 minutes, its second stage under qemu"
	}
	b.log("debootstrap %s (%s) from %s: %s", DebianSuite, b.opts.Arch, b.opts.Mirror, took)
	// A mirror mid-sync (or a dropped download) fails a run now and then
	// ("Couldn't find these debs"); a second run usually gets through.
	for attempt := 1; ; attempt++ {
		out, err := b.run(ctx, "debootstrap", debootstrapArgs(b.opts.Arch, DebianSuite, b.opts.Mirror, work, pkgs)...)
		if err == nil {
			break
		}
		unreachable := strings.Contains(out, "Failed getting release file") || strings.Contains(out, "Couldn't download") ||
			strings.Contains(out, "Could not resolve")
		if (unreachable || strings.Contains(out, "Couldn't find these debs")) && attempt < 3 && ctx.Err() == nil {
			b.log("debootstrap failed (%s); retrying (%d of 3)", lastLine(out), attempt+1)
			_ = os.RemoveAll(work)
			time.Sleep(time.Duration(attempt) * 5 * time.Second)
			continue
		}
		if unreachable {
			return "", nil, fmt.Errorf("package mirror %s is unreachable: check the network or pass --mirror URL: %w", b.opts.Mirror, err)
		}
		return "", nil, fmt.Errorf("debootstrap: %w", err)
	}
	out, err := b.run(ctx, "chroot", work, "dpkg-query", "-W", "-f", "${Package}=${Version}\n")
	if err != nil {
		return "", nil, fmt.Errorf("list packages: %w", err)
	}
	manifest = strings.Fields(out)
	if err := trimRootfs(work); err != nil {
		return "", nil, err
	}
	if _, err := b.run(ctx, "tar", "--numeric-owner", "-C", work, "-cf", tarPath+".tmp", "."); err != nil {
		return "", nil, fmt.Errorf("pack rootfs: %w", err)
	}
	if err := os.Rename(tarPath+".tmp", tarPath); err != nil {
		return "", nil, err
	}
	return tarPath, manifest, os.WriteFile(manifestPath, []byte(strings.Join(manifest, "\n")+"\n"), 0o644)
}

// trimRootfs removes what a node never reads and masks units that must not run.
func trimRootfs(root string) error {
	for _, glob := range []string{"usr/share/doc/*", "usr/share/man/*", "usr/share/info/*", "usr/share/locale/*",
		"var/lib/apt/lists/*", "var/cache/apt/*", "var/cache/debconf/*-old", "var/log/*", "usr/share/lintian",
		// iconv's charset modules (8 MB): nothing in a node converts
		// charsets beyond the ones glibc has built in.
		"usr/lib/*-linux-gnu/gconv"} {
		matches, _ := filepath.Glob(filepath.Join(root, glob))
		for _, m := range matches {
			if err := os.RemoveAll(m); err != nil {
				return err
			}
		}
	}
	for _, u := range maskedUnits {
		p := filepath.Join(root, "etc", "systemd", "system", u)
		_ = os.Remove(p)
		if err := os.Symlink("/dev/null", p); err != nil {
			return err
		}
	}
	_ = os.Remove(filepath.Join(root, "etc/systemd/system/multi-user.target.wants/haproxy.service"))
	// An empty machine-id makes systemd (or the entrypoint) generate one per node.
	if err := os.WriteFile(filepath.Join(root, "etc", "machine-id"), nil, 0o444); err != nil {
		return err
	}
	// journald must not read /dev/kmsg, which an unprivileged node may lack.
	f, err := os.OpenFile(filepath.Join(root, "etc/systemd/journald.conf"), os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteString("ReadKMsg=no\nStorage=volatile\nRuntimeMaxUse=32M\n")
	return err
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	line := lines[len(lines)-1]
	if len(line) > 120 {
		line = line[:120] + "..."
	}
	return line
}
