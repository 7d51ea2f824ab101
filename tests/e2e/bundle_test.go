package e2e

import (
	"compress/gzip"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	"github.com/edgectl/edgectl/pkg/board"
	"github.com/edgectl/edgectl/pkg/build/archscan"
	"github.com/edgectl/edgectl/pkg/build/nodeimage"
)

// TestBundle: the board bundle of a platform holds nothing of another
// architecture; it installs on a plain Debian systemd container that
// edgectl did not make (Podman, from the Debian rootfs of the node image's
// build cache, without edgectl's overlay), where edgelet reports the
// platform; and its uninstall leaves none of what it installed (issue 15,
// acceptance 1 and 4). The host's platform always; arm64 under qemu in
// `make test-arm64`.
func TestBundle(t *testing.T) {
	inLane(t, laneMachines)
	setup(t)
	host := strings.TrimPrefix(v1alpha1.HostPlatform(), "linux/")
	t.Run("linux/"+host, func(t *testing.T) { testBundle(t, host, nodeimage.RoleServer) })
	// A board joins as an agent: the arm64 bundle is the agent one.
	if host != "arm64" {
		t.Run("linux/arm64 agent", func(t *testing.T) {
			skipUnlessArm64(t)
			testBundle(t, "arm64", nodeimage.RoleAgent)
		})
	}
}

func testBundle(t *testing.T, arch, role string) {
	// Through the binary, as a user builds one.
	file := filepath.Join(t.TempDir(), "bundle.tar.gz")
	start := time.Now()
	_, msgs, err := runEdgectl(t.Context(), edgectlBinary(t), "", "bundle", "build", "--platform", "linux/"+arch, "--role", role, "-o", file)
	if err != nil {
		t.Fatalf("bundle build: %v\n%s", err, msgs)
	}
	t.Logf("bundle linux/%s (%s) in %s: %s", arch, role, time.Since(start).Round(100*time.Millisecond), lastLine(msgs))

	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	r, err := archscan.Tar(zr, arch)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("scanned %d ELF files and %d images", r.ELFFiles, r.Images)
	if len(r.Wrong) > 0 || r.ELFFiles < 8 || r.Images < 3 {
		t.Errorf("bundle scan: %d ELF files, %d images, of another architecture:\n%s", r.ELFFiles, r.Images, strings.Join(r.Wrong, "\n"))
	}

	host := plainDebianHost(t, arch)
	podman := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("podman", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	in := func(script string) string { return podman("exec", host, "sh", "-c", script) }
	podman("cp", file, host+":/root/bundle.tar.gz")
	out := in("cd /root && tar -xzf bundle.tar.gz && ./" + nodeimage.BundleDir(arch) + "/install.sh")
	if !strings.Contains(out, "linux/"+arch) {
		t.Errorf("install.sh did not report edgelet for linux/%s:\n%s", arch, out)
	}
	v := in("edgelet version")
	if !strings.Contains(v, "linux/"+arch) || !strings.Contains(v, nodeimage.KubernetesVersion) || strings.Contains(v, "agent build") != (role == nodeimage.RoleAgent) {
		t.Errorf("edgelet version of the %s bundle: %s", role, v)
	}
	t.Logf("edgelet version: %s", strings.TrimSpace(v))
	// The host tools the bundle carries load with its own loader and
	// libraries (ld.so --list names a missing one "not found"), and run,
	// on this arch. Under qemu-user (another arch) the netfilter netlink
	// the iptables commands, nft and conntrack open does not exist, so
	// there only the tools that need none are run.
	lists := in("cd " + board.ToolsDir + " && for p in libexec/*; do echo \"== $p\"; lib/ld-linux-* --library-path lib --list $p 2>&1 || echo FAILED; done")
	if strings.Contains(lists, "not found") || strings.Contains(lists, "FAILED") || strings.Count(lists, "== ") < 6 {
		t.Errorf("the bundle's host tools do not load:\n%s", lists)
	}
	run := "iptables iptables-save ip6tables nft ip tc conntrack ethtool"
	if arch != strings.TrimPrefix(v1alpha1.HostPlatform(), "linux/") {
		run = "iptables-save ip tc ethtool"
	}
	tools := in("for t in " + run + "; do echo \"== $t\"; f=--version; case $t in ip | tc) f=-V ;; esac; " +
		"out=$(" + board.ToolsDir + "/bin/$t $f 2>&1) || echo FAILED; echo \"$out\" | head -n 1; done")
	for _, tool := range strings.Fields(run) {
		if !strings.Contains(tools, "== "+tool+"\n") {
			t.Errorf("the bundle has no %s:\n%s", tool, tools)
		}
	}
	if strings.Contains(tools, "FAILED") || strings.Contains(tools, "error") || strings.Contains(tools, "not found") {
		t.Errorf("the bundle's host tools do not run:\n%s", tools)
	}
	installed := strings.Fields(in("cat /var/lib/edgelet/bundle-files"))
	if len(installed) < 15 {
		t.Errorf("install listed %d files: %v", len(installed), installed)
	}
	// Installing again upgrades in place.
	in("/root/" + nodeimage.BundleDir(arch) + "/install.sh")

	in("edgelet-uninstall")
	left := in("for f in " + strings.Join(installed, " ") + " /var/lib/edgelet /etc/edgelet /opt/cni; do [ -e \"$f\" ] || [ -L \"$f\" ] && echo \"$f\"; done; true")
	if strings.TrimSpace(left) != "" {
		t.Errorf("uninstall left:\n%s", left)
	}
}

// plainDebianHost starts a Debian systemd container from the node image
// build's Debian rootfs (no edgectl overlay), privileged, with Podman (which
// allows --privileged here), and returns its name; it goes when the test
// ends. Podman raises nofile and nproc beyond what this host lets a process
// without CAP_SYS_RESOURCE raise them to, so the limits are given.
func plainDebianHost(t *testing.T, arch string) string {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	rootfs, _ := filepath.Glob(filepath.Join(cache, "edgectl", "build", "rootfs-"+arch+"-*.tar"))
	if len(rootfs) == 0 {
		t.Fatalf("no %s Debian rootfs in the build cache: run `make image` (or `make image-arm64`)", arch)
	}
	image, name := "localhost/e2e-plain-debian:bookworm-"+arch, "e2e-bundle-host-"+arch
	if out, err := exec.Command("podman", "import", "--arch", arch, rootfs[0], image).CombinedOutput(); err != nil {
		t.Fatalf("podman import: %v %s", err, out)
	}
	_ = exec.Command("podman", "rm", "-f", name).Run()
	var nofile syscall.Rlimit
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &nofile)
	run := exec.Command("podman", "run", "-d", "--privileged", "--name", name, "--tmpfs", "/run", "--tmpfs", "/tmp",
		"--ulimit", fmt.Sprintf("nofile=%d:%d", nofile.Cur, nofile.Max), "--ulimit", "nproc=32768:32768", image, "/sbin/init")
	if out, err := run.CombinedOutput(); err != nil {
		t.Fatalf("podman run: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("podman", "rm", "-f", name).Run() })
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out, _ := exec.Command("podman", "exec", name, "systemctl", "is-system-running").Output()
		state := strings.TrimSpace(string(out))
		if state == "running" || state == "degraded" {
			return name
		}
		if time.Now().After(deadline) {
			t.Fatalf("systemd in %s: %q after 2m", name, state)
		}
		time.Sleep(time.Second)
	}
}
