package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/edgectl/edgectl/internal/remote"
)

// VMs are hosts with a kernel of their own, for `node join`: Debian 12
// booted by qemu with TCG (KVM does not work on this machine) from a disk
// that debootstrap builds, with Debian's cloud kernel and its modules. They
// run cgroup v2, and qemu's user-mode networking is a real NAT: the VM opens
// connections out; the one way in is SSH through a forwarded host port.
// TCG runs guest code 10-20x slower than the host, so these tests are
// `make test-vm`, not `make test`.

// vmPackages is a machine's packages, udev (systemd-networkd waits for it)
// and the kernel with its initramfs.
func vmPackages(arch string) []string {
	return append(append([]string{}, machinePackages...), "udev", "initramfs-tools", "linux-image-cloud-"+arch)
}

// vm is a running virtual machine; it is stopped when the test ends.
type vm struct {
	Arch string
	Name string // its hostname, the Node name a join gives it
	Port int    // the host port forwarded to its sshd
	Key  string // root's SSH key
	disk string // the cached disk directory
	run  string // this boot's directory: the copy-on-write layer, the console log
	cmd  *exec.Cmd
}

var vmDiskOnce sync.Map // arch -> *sync.Once

// vmDisk returns the directory of arch's VM disk (disk.img, vmlinuz,
// initrd.img and root's key id_ed25519), building it when the cache does
// not have it: debootstrap, ~3 min for the host's arch, longer for another
// under qemu-user.
func vmDisk(t *testing.T, arch string) string {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(arch + " bookworm vm " + strings.Join(vmPackages(arch), ",")))
	dir := filepath.Join(cache, "edgectl", "e2e", "vm-"+arch+"-"+hex.EncodeToString(sum[:6]))
	once, _ := vmDiskOnce.LoadOrStore(arch, &sync.Once{})
	var buildErr error
	once.(*sync.Once).Do(func() {
		if _, err := os.Stat(filepath.Join(dir, "disk.img")); err == nil {
			return
		}
		buildErr = buildVMDisk(t, arch, dir)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return dir
}

func buildVMDisk(t *testing.T, arch, dir string) error {
	start := time.Now()
	work := dir + ".work"
	_ = os.RemoveAll(work)
	_ = os.RemoveAll(dir)
	defer os.RemoveAll(work)
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	rootfs := filepath.Join(work, "rootfs")
	if err := debootstrap(arch, vmPackages(arch), rootfs); err != nil {
		return fmt.Errorf("a %s VM: %w", arch, err)
	}
	key, signer := newSSHKey(t, work)
	name := "e2e-vm-" + arch
	files := map[string]string{
		"etc/hostname":                           name + "\n",
		"etc/hosts":                              "127.0.0.1 localhost\n127.0.1.1 " + name + "\n",
		"etc/fstab":                              "/dev/vda / ext4 defaults 0 1\n",
		"etc/resolv.conf":                        "nameserver 10.0.2.3\n",
		"etc/systemd/network/10-eth.network":     "[Match]\nName=eth0\n\n[Network]\nDHCP=yes\n",
		"root/.ssh/authorized_keys":              string(ssh.MarshalAuthorizedKey(signer.PublicKey())),
		"etc/ssh/sshd_config.d/10-e2e-vm.conf":   "UseDNS no\n",
		"etc/systemd/journald.conf.d/10-vm.conf": "[Journal]\nStorage=volatile\n",
	}
	for path, content := range files {
		p := filepath.Join(rootfs, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			return err
		}
		_ = os.Chmod(p, 0o644)
	}
	_ = os.Chmod(filepath.Join(rootfs, "root/.ssh/authorized_keys"), 0o600)
	for link, target := range map[string]string{
		"etc/systemd/system/multi-user.target.wants/systemd-networkd.service": "/lib/systemd/system/systemd-networkd.service",
		"etc/systemd/system/systemd-networkd-wait-online.service":             "/dev/null",
	} {
		_ = os.MkdirAll(filepath.Dir(filepath.Join(rootfs, link)), 0o755)
		_ = os.Remove(filepath.Join(rootfs, link))
		if err := os.Symlink(target, filepath.Join(rootfs, link)); err != nil {
			return err
		}
	}
	for _, f := range []struct{ glob, to string }{{"boot/vmlinuz-*", "vmlinuz"}, {"boot/initrd.img-*", "initrd.img"}} {
		m, _ := filepath.Glob(filepath.Join(rootfs, f.glob))
		if len(m) != 1 {
			return fmt.Errorf("the %s VM's rootfs has %d %s", arch, len(m), f.glob)
		}
		if out, err := exec.Command("cp", m[0], filepath.Join(work, f.to)).CombinedOutput(); err != nil {
			return fmt.Errorf("cp %s: %v %s", m[0], err, out)
		}
	}
	// Room for the bundle, its images unpacked and a few pods.
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-L", "root", "-d", rootfs, filepath.Join(work, "disk.img"), "8G").CombinedOutput(); err != nil {
		return fmt.Errorf("mkfs.ext4: %v %s", err, out)
	}
	if err := os.RemoveAll(rootfs); err != nil {
		return err
	}
	if err := os.Rename(key, filepath.Join(work, "id_ed25519")); err != nil {
		return err
	}
	t.Logf("built the %s VM disk in %s", arch, time.Since(start).Round(time.Second))
	return os.Rename(work, dir)
}

// bootVM boots a VM of arch, with extra kernel command line arguments, on
// a copy-on-write layer over the cached disk (every boot starts clean), and
// waits for its sshd.
func bootVM(t *testing.T, arch string, kernelArgs ...string) *vm {
	t.Helper()
	disk := vmDisk(t, arch)
	v := &vm{Arch: arch, Name: "e2e-vm-" + arch, Key: filepath.Join(disk, "id_ed25519"), disk: disk, run: t.TempDir(), Port: freeHostPort(t)}
	layer := filepath.Join(v.run, "run.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", filepath.Join(disk, "disk.img"), layer).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img create: %v %s", err, out)
	}
	var bin, console string
	var machine []string
	switch arch {
	case "amd64":
		bin, console, machine = "qemu-system-x86_64", "ttyS0", []string{"-machine", "q35,accel=tcg", "-cpu", "max"}
	case "arm64":
		// A Cortex-A72, as on a Raspberry Pi 4.
		bin, console, machine = "qemu-system-aarch64", "ttyAMA0", []string{"-machine", "virt,accel=tcg", "-cpu", "cortex-a72"}
	default:
		t.Fatalf("no VM for %s", arch)
	}
	args := append(machine, "-smp", "2", "-m", "3072",
		"-kernel", filepath.Join(disk, "vmlinuz"), "-initrd", filepath.Join(disk, "initrd.img"),
		"-append", strings.Join(append([]string{"root=/dev/vda", "rw", "console=" + console, "net.ifnames=0"}, kernelArgs...), " "),
		"-drive", "file="+layer+",if=virtio,format=qcow2",
		"-netdev", fmt.Sprintf("user,id=n0,hostfwd=tcp:127.0.0.1:%d-:22", v.Port), "-device", "virtio-net-pci,netdev=n0",
		"-display", "none", "-serial", "file:"+filepath.Join(v.run, "console.log"))
	v.cmd = exec.Command(bin, args...)
	if err := v.cmd.Start(); err != nil {
		t.Fatalf("%s: %v (make test-vm installs qemu)", bin, err)
	}
	t.Cleanup(func() {
		_ = v.cmd.Process.Kill()
		_ = v.cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(v.run, "console.log"))
			t.Logf("%s console (last lines):\n%s", v.Name, lastLines(string(b), 30))
		}
	})
	start := time.Now()
	v.waitSSH(t)
	t.Logf("%s (%s, kernel args %q) answers SSH %s after boot", v.Name, arch, kernelArgs, time.Since(start).Round(time.Second))
	return v
}

// Target is how edgectl and the test reach the VM.
func (v *vm) Target() remote.Target {
	return remote.Target{User: "root", Host: "127.0.0.1", Port: v.Port, KeyFile: v.Key}
}

// waitSSH waits until the VM's systemd is up and its sshd answers.
func (v *vm) waitSSH(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Minute)
	for {
		out, err := v.try(t.Context(), "systemctl is-system-running --wait")
		if err == nil || strings.Contains(out, "degraded") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no SSH and running systemd after 15m: %v %s", v.Name, err, out)
		}
		time.Sleep(5 * time.Second)
	}
}

func (v *vm) try(ctx context.Context, script string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	h, err := remote.Dial(ctx, v.Target())
	if err != nil {
		return "", err
	}
	defer h.Close()
	return h.Run(ctx, script, nil)
}

// sh runs a shell script on the VM as root (the test's own look at it).
func (v *vm) sh(t *testing.T, script string) string {
	t.Helper()
	out, err := v.try(t.Context(), script)
	if err != nil {
		t.Fatalf("%s: %s: %v\n%s", v.Name, script, err, out)
	}
	return out
}

// reboot reboots the VM (qemu restarts it with the same disk layer) and
// waits until it is back with a new boot id: a VM that never went down
// fails here, not later.
func (v *vm) reboot(t *testing.T) {
	t.Helper()
	const bootID = "cat /proc/sys/kernel/random/boot_id"
	before := strings.TrimSpace(v.sh(t, bootID))
	// The SSH session may end with the reboot itself, so its error is only
	// logged: the new boot id is what says that the VM rebooted.
	if out, err := v.try(t.Context(), "systemctl reboot"); err != nil {
		t.Logf("%s: systemctl reboot: %v %s", v.Name, err, out)
	}
	deadline := time.Now().Add(15 * time.Minute)
	for {
		out, err := v.try(t.Context(), bootID)
		if now := strings.TrimSpace(out); err == nil && now != "" && now != before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still boot %s 15m after systemctl reboot: it never rebooted (%v)", v.Name, before, err)
		}
		time.Sleep(3 * time.Second)
	}
	v.waitSSH(t)
}

// vmArchs are the architectures of the VM tests: EDGECTL_E2E_VM_ARCH, or
// both.
func vmArchs() []string {
	if a := os.Getenv("EDGECTL_E2E_VM_ARCH"); a != "" {
		return strings.Fields(a)
	}
	return []string{"amd64", "arm64"}
}

// TestVM: a VM boots with its own kernel, on cgroup v2 with the memory
// controller (without it when booted with cgroup_disable=memory), and
// reaches this host's address through qemu's NAT.
func TestVM(t *testing.T) {
	if os.Getenv("EDGECTL_E2E_VM") == "" {
		t.Skip("VMs run in `make test-vm`")
	}
	for _, arch := range vmArchs() {
		t.Run(arch, func(t *testing.T) {
			v := bootVM(t, arch)
			machine := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[arch]
			if out := v.sh(t, "uname -m; stat -fc %T /sys/fs/cgroup; cat /sys/fs/cgroup/cgroup.controllers"); !strings.Contains(out, machine+"\ncgroup2fs\n") || !strings.Contains(out, "memory") {
				t.Errorf("%s: %q", v.Name, out)
			}
		})
	}
}
