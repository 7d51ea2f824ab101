package e2e

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/edgectl/edgectl/pkg/build/nodeimage"
)

// Machines are hosts edgectl did not create, for `node join`: plain Debian
// with systemd and sshd (not the node image, no edgectl labels), run
// privileged by Podman. The test builds their image offline from Debian's
// package mirror (debootstrap, as the node image is), cached by its package
// list.

// boardPackages is what a board has: a minimal Debian (debootstrap's
// minbase) with systemd and sshd, nothing else. The board bundle brings
// the tools edgelet runs (iptables, nft, ip, ...); nothing is installed.
var boardPackages = []string{"systemd", "systemd-sysv", "openssh-server"}

// machinePackages is what a router (and a VM) has: a minimal Debian with
// systemd, sshd and the network tools.
var machinePackages = []string{"systemd", "systemd-sysv", "dbus", "openssh-server", "iproute2", "iptables", "nftables",
	"conntrack", "ethtool", "socat", "kmod", "mount", "util-linux", "procps", "ca-certificates"}

var machineImageOnce sync.Map // image -> *sync.Once

// machineImage returns the Podman image of a plain Debian machine of arch
// with machinePackages, building it (debootstrap, ~90 s; ~4 min for
// another arch under qemu) when the cache does not have it.
func machineImage(t *testing.T, arch string) string {
	t.Helper()
	return debianImage(t, arch, "machine", machinePackages)
}

// boardImage returns the Podman image of a minimal Debian board of arch
// (boardPackages).
func boardImage(t *testing.T, arch string) string {
	t.Helper()
	return debianImage(t, arch, "board", boardPackages)
}

func debianImage(t *testing.T, arch, kind string, packages []string) string {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(arch + " bookworm " + strings.Join(packages, ",")))
	key := hex.EncodeToString(sum[:6])
	tarball := filepath.Join(cache, "edgectl", "e2e", kind+"-"+arch+"-"+key+".tar")
	image := "localhost/e2e-" + kind + ":" + arch + "-" + key
	once, _ := machineImageOnce.LoadOrStore(image, &sync.Once{})
	var buildErr error
	once.(*sync.Once).Do(func() {
		if exec.Command("podman", "image", "exists", image).Run() == nil {
			return
		}
		if _, err := os.Stat(tarball); err != nil {
			buildErr = debootstrapMachine(t, arch, packages, tarball)
			if buildErr != nil {
				return
			}
		}
		platform := []string{"--arch", arch}
		if arch == "armhf" { // Debian's name; the OCI platform is arm/v7
			platform = []string{"--arch", "arm", "--variant", "v7"}
		}
		if out, err := exec.Command("podman", append(append([]string{"import"}, platform...), tarball, image)...).CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("podman import: %v %s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return image
}

func debootstrapMachine(t *testing.T, arch string, packages []string, tarball string) error {
	work := tarball + ".work"
	_ = os.RemoveAll(work)
	defer os.RemoveAll(work)
	if err := os.MkdirAll(filepath.Dir(tarball), 0o755); err != nil {
		return err
	}
	start := time.Now()
	if err := debootstrap(arch, packages, work); err != nil {
		return fmt.Errorf("a %s machine: %w", arch, err)
	}
	if out, err := exec.Command("tar", "--numeric-owner", "-C", work, "-cf", tarball+".tmp", ".").CombinedOutput(); err != nil {
		return fmt.Errorf("pack the machine rootfs: %v %s", err, out)
	}
	t.Logf("built the %s machine rootfs in %s", arch, time.Since(start).Round(time.Second))
	return os.Rename(tarball+".tmp", tarball)
}

// debootstrap writes a minimal Debian 12 of arch with packages into dir,
// without the package cache and lists.
func debootstrap(arch string, packages []string, dir string) error {
	out, err := exec.Command("debootstrap", "--variant=minbase", "--arch="+arch, "--include="+strings.Join(packages, ","),
		"bookworm", dir, nodeimage.DefaultMirror).CombinedOutput()
	if err != nil {
		return fmt.Errorf("debootstrap: %v\n%s", err, lastLines(string(out), 10))
	}
	for _, glob := range []string{"var/cache/apt/archives/*.deb", "var/lib/apt/lists/*"} {
		m, _ := filepath.Glob(filepath.Join(dir, glob))
		for _, f := range m {
			os.RemoveAll(f)
		}
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// site is a board on a LAN of its own behind a NAT router: the router's
// WAN side is on Podman's default network (it reaches this host and, through
// it, the cluster's published API), the board's only link is a veth to the
// router, which masquerades and forwards nothing inward. Only connections
// from the board outward work; edgectl reaches the board over SSH through
// the router as a bastion.
type site struct {
	Router, Board     string // container names
	RouterIP, BoardIP string // the router's WAN address, the board's LAN address
	Key               string // SSH private key file; root logs in with it on both
	prefix            string
}

const siteLAN, siteRouterLAN, siteBoardIP = "192.168.213.0/24", "192.168.213.1", "192.168.213.2"

// natSite starts a site of arch named prefix-router and prefix-board; they
// go when the test ends.
func natSite(t *testing.T, prefix, arch string) *site {
	t.Helper()
	s := &site{Router: prefix + "-router", Board: prefix + "-board", BoardIP: siteBoardIP, Key: sshKey(t)}
	startMachine(t, machineImage(t, arch), s.Router, "--network", "podman")
	// containerd's overlay snapshots cannot sit on the container's own
	// overlay root; a board has a real disk there (the volume starts with
	// the image's /var/lib).
	startMachine(t, boardImage(t, arch), s.Board, "--network", "none", "--volume", "/var/lib")
	s.prefix = prefix
	s.wire(t)
	s.RouterIP = strings.TrimSpace(podmanOut(t, "inspect", "-f", "{{.NetworkSettings.IPAddress}}", s.Router))
	return s
}

// wire links the board to the router: a veth pair, named on the host only
// briefly, and the addresses, routes and NAT of the LAN. A restarted board
// comes back with a new network namespace and needs it again (the router
// lost its end with the board's).
func (s *site) wire(t *testing.T) {
	t.Helper()
	pid := func(c string) string { return strings.TrimSpace(podmanOut(t, "inspect", "-f", "{{.State.Pid}}", c)) }
	vb, vr := s.prefix+"-b", s.prefix+"-r"
	if len(vb) > 15 {
		vb, vr = vb[len(vb)-15:], vr[len(vr)-15:]
	}
	for _, args := range [][]string{{"link", "add", vb, "type", "veth", "peer", "name", vr},
		{"link", "set", vb, "netns", pid(s.Board)}, {"link", "set", vr, "netns", pid(s.Router)}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v %s", strings.Join(args, " "), err, out)
		}
	}
	nat := fmt.Sprintf("POSTROUTING -s %s -o eth0 -j MASQUERADE", siteLAN)
	machineSh(t, s.Router, fmt.Sprintf("ip link set %s name lan0 && ip addr add %s/24 dev lan0 && ip link set lan0 up && "+
		"sysctl -qw net.ipv4.ip_forward=1 && (iptables -t nat -C %s 2>/dev/null || iptables -t nat -A %s)", vr, siteRouterLAN, nat, nat))
	// The board has no ip of its own: this host's, in the board's network.
	for _, args := range [][]string{{"link", "set", vb, "name", "eth0"}, {"addr", "add", siteBoardIP + "/24", "dev", "eth0"},
		{"link", "set", "eth0", "up"}, {"route", "add", "default", "via", siteRouterLAN}} {
		inNetns(t, s.Board, append([]string{"ip"}, args...)...)
	}
}

// kubeChains are the packet-filter chains of a node (kube-proxy's,
// flannel's, the CNI's) in a machine's network, read with this host's
// iptables: a board has none of its own once the bundle is gone.
func kubeChains(t *testing.T, machine string) []string {
	t.Helper()
	var chains []string
	for _, save := range []string{"iptables-nft-save", "iptables-legacy-save"} {
		for _, l := range strings.Split(inNetns(t, machine, save), "\n") {
			if strings.HasPrefix(l, ":KUBE") || strings.HasPrefix(l, ":FLANNEL") || strings.HasPrefix(l, ":CNI") || strings.HasPrefix(l, ":EDGELET") {
				chains = append(chains, save+" "+l)
			}
		}
	}
	return chains
}

// inNetns runs a command of this host in a machine's network namespace
// (a board has no network tools of its own) and returns its output.
func inNetns(t *testing.T, machine string, cmd ...string) string {
	t.Helper()
	pid := strings.TrimSpace(podmanOut(t, "inspect", "-f", "{{.State.Pid}}", machine))
	out, err := exec.Command("nsenter", append([]string{"-t", pid, "-n"}, cmd...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %s: %v %s", machine, strings.Join(cmd, " "), err, out)
	}
	return string(out)
}

// restartBoard restarts the whole board (its container: systemd, edgelet,
// every process) and wires it again.
func (s *site) restartBoard(t *testing.T) {
	t.Helper()
	podmanOut(t, "restart", "-t", "10", s.Board)
	waitSystemd(t, s.Board)
	restoreExecCgroup(t, s.Router)
	s.wire(t)
}

// restoreExecCgroup puts back the cgroup `podman exec` joins in the named
// systemd hierarchy of a cgroup v1 host without systemd, which this one is.
// Runc leaves a machine's systemd in that hierarchy's root, shared by every
// machine, so when one machine's systemd shuts down it prunes the empty
// cgroups it sees there: those Podman made for the other machines' execs.
// (SSH is untouched: the machines' processes stay where they are.)
func restoreExecCgroup(t *testing.T, name string) {
	t.Helper()
	if _, err := os.Stat("/sys/fs/cgroup/systemd/libpod_parent"); err != nil {
		return
	}
	id := strings.TrimSpace(podmanOut(t, "inspect", "-f", "{{.Id}}", name))
	if err := os.MkdirAll("/sys/fs/cgroup/systemd/libpod_parent/libpod-"+id, 0o755); err != nil {
		t.Fatal(err)
	}
}

// startMachine runs a machine container with systemd and waits for it;
// root's authorized key is sshKey's.
func startMachine(t *testing.T, image, name string, args ...string) {
	t.Helper()
	_ = exec.Command("podman", "rm", "-f", name).Run()
	var nofile syscall.Rlimit
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &nofile)
	run := append([]string{"run", "-d", "--privileged", "--name", name, "--hostname", name, "--tmpfs", "/run", "--tmpfs", "/tmp", "--cgroupns", "private",
		"--ulimit", fmt.Sprintf("nofile=%d:%d", nofile.Cur, nofile.Max), "--ulimit", "nproc=32768:32768"}, args...)
	podmanOut(t, append(run, image, "/sbin/init")...)
	t.Cleanup(func() { _ = exec.Command("podman", "rm", "-f", "-v", "-t", "2", name).Run() })
	pub := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshSigner(t).PublicKey())))
	machineSh(t, name, "mkdir -p -m 700 /root/.ssh && echo '"+pub+"' >/root/.ssh/authorized_keys")
	waitSystemd(t, name)
}

// waitSystemd waits for a machine's systemd to be up.
func waitSystemd(t *testing.T, name string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out, _ := exec.Command("podman", "exec", name, "systemctl", "is-system-running").Output()
		state := strings.TrimSpace(string(out))
		if state == "running" || state == "degraded" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("systemd in %s: %q after 2m", name, state)
		}
		time.Sleep(time.Second)
	}
}

func podmanOut(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("podman", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// machineSh runs a shell script in a machine as root (podman exec: the
// test's own look at the host, not edgectl's way in).
func machineSh(t *testing.T, name, script string) string {
	t.Helper()
	return podmanOut(t, "exec", name, "sh", "-c", script)
}

var sshKeyOnce struct {
	sync.Once
	signer ssh.Signer
	file   string
}

// sshKey is the test binary's SSH key file (root of every machine takes it).
func sshKey(t *testing.T) string {
	sshSigner(t)
	return sshKeyOnce.file
}

func sshSigner(t *testing.T) ssh.Signer {
	t.Helper()
	sshKeyOnce.Do(func() {
		dir, err := os.MkdirTemp("", "edgectl-e2e-ssh")
		if err != nil {
			t.Fatal(err)
		}
		sshKeyOnce.file, sshKeyOnce.signer = newSSHKey(t, dir)
	})
	if sshKeyOnce.signer == nil {
		t.Fatal("no SSH key")
	}
	return sshKeyOnce.signer
}

// newSSHKey writes a new ed25519 key in OpenSSH format to dir/id_ed25519.
func newSSHKey(t *testing.T, dir string) (string, ssh.Signer) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "edgectl e2e")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return file, signer
}

// hostAddress is this machine's address on its default route: what a board
// on another network reaches the cluster's published API on.
func hostAddress(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("ip", "-4", "route", "get", "1.1.1.1").Output()
	if err != nil {
		t.Fatalf("ip route get: %v", err)
	}
	f := strings.Fields(string(out))
	for i := range f {
		if f[i] == "src" && i+1 < len(f) {
			return f[i+1]
		}
	}
	t.Fatalf("no source address in %q", out)
	return ""
}

// boardRSS is a script that prints the RSS (MB) of edgelet and containerd
// on a host without procps.
const boardRSS = `for p in /proc/[0-9]*; do case $(cat $p/comm 2>/dev/null) in edgelet|containerd) awk '/^VmRSS/ {print $2}' $p/status;; esac; done | awk '{s += $1} END {printf "%.0f", s / 1024}'`
