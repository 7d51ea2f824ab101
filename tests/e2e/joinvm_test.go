package e2e

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/edgectl/edgectl/internal/remote"
	"github.com/edgectl/edgectl/pkg/board"
	"github.com/edgectl/edgectl/pkg/build/nodeimage"
)

// TestJoinVM (issue 16, the longer rehearsal; `make test-vm`): boards that
// are virtual machines, with kernels of their own and cgroup v2, behind
// qemu's user-mode NAT, join a container cluster over SSH:
//   - amd64 and arm64 (a Cortex-A72, the stand-in for a Raspberry Pi 4,
//     given the arm64 bundle): Ready; a pod on the board and one on a
//     container node reach each other through Services; logs -f, exec and
//     port-forward through the tunnel; back with the same identity after a
//     reboot; clean after leave;
//   - amd64 booted with cgroup_disable=memory: refused, with the fix, and
//     left clean.
//
// EDGECTL_E2E_VM_ARCH picks one architecture.
func TestJoinVM(t *testing.T) {
	if os.Getenv("EDGECTL_E2E_VM") == "" {
		t.Skip("boards in VMs run in `make test-vm`")
	}
	e := setup(t)
	name := "e2e-joinvm"
	joinCluster(t, e, name)
	edgectl := edgectlRunner(t)
	client := e.client(t, name)
	ctx := t.Context()
	server := "edgectl-" + name + "-server-0"
	clean := func(v *vm, when string) {
		t.Helper()
		h, err := remote.Dial(ctx, v.Target())
		if err != nil {
			t.Fatalf("%s: ssh to %s: %v", when, v.Name, err)
		}
		defer h.Close()
		left, err := board.Leftovers(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		if len(left) > 0 {
			t.Errorf("%s: %s still has:\n%s", when, v.Name, strings.Join(left, "\n"))
		}
	}
	joinArgs := func(v *vm) []string {
		return []string{"node", "join", "-c", name, "--ssh", "root@127.0.0.1", "--port", strconv.Itoa(v.Port), "-i", v.Key}
	}

	onAgent := archPod(ctx, t, e, client, "on-agent", nodeimage.EchoImage, "edgectl-"+name+"-agent-0", nil)
	waitPodReady(ctx, t, client, onAgent)
	exposePod(ctx, t, client, onAgent)

	for _, arch := range vmArchs() {
		t.Run(arch, func(t *testing.T) {
			v := bootVM(t, arch)
			if got := strings.TrimSpace(v.sh(t, "stat -fc %T /sys/fs/cgroup")); got != "cgroup2fs" {
				t.Errorf("%s: /sys/fs/cgroup is %s, not cgroup v2", v.Name, got)
			}
			start := time.Now()
			out, err := edgectl(append(joinArgs(v), "--label", "site=vm", "--wait", "10m")...)
			if err != nil {
				t.Fatalf("join: %v\n%s", err, out)
			}
			t.Logf("join of %s: Ready after %s\n%s", v.Name, time.Since(start).Round(time.Second), out)
			for _, want := range []string{"cgroup v2", "linux/" + arch, "Ready"} {
				if !strings.Contains(out, want) {
					t.Errorf("join output lacks %q", want)
				}
			}
			node, err := client.CoreV1().Nodes().Get(ctx, v.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if node.Labels["kubernetes.io/arch"] != arch || node.Labels["site"] != "vm" {
				t.Errorf("Node %s labels %v", v.Name, node.Labels)
			}
			pod := archPod(ctx, t, e, client, "on-vm-"+arch, nodeimage.EchoImage, v.Name, nil)
			waitPodReady(ctx, t, client, pod)
			kubeletThroughTunnel(ctx, t, e, name, server, pod)
			exposePod(ctx, t, client, pod)
			serviceBothWays(ctx, t, e, server, pod, onAgent)
			t.Logf("%s: edgelet + containerd RSS %s MB", v.Name, strings.TrimSpace(v.sh(t, boardRSS)))

			uid := nodeUID(ctx, t, client, v.Name)
			start = time.Now()
			v.reboot(t)
			waitBack(ctx, t, client, v.Name, uid, start, "a reboot of the VM", 15*time.Minute)

			out, err = edgectl("node", "leave", v.Name, "-i", v.Key)
			if err != nil {
				t.Fatalf("leave: %v\n%s", err, out)
			}
			clean(v, "after leave")
			if _, err := client.CoreV1().Nodes().Get(ctx, v.Name, metav1.GetOptions{}); err == nil {
				t.Errorf("Node %s still there after leave", v.Name)
			}
		})
	}

	t.Run("unsupported architecture", func(t *testing.T) {
		// A 32-bit ARM host (armhf, as 32-bit Raspberry Pi OS), a machine
		// container under qemu-user.
		host := "e2e-joinvm-armhf"
		startMachine(t, machineImage(t, "armhf"), host, "--network", "podman")
		ip := strings.TrimSpace(podmanOut(t, "inspect", "-f", "{{.NetworkSettings.IPAddress}}", host))
		out, err := edgectl("node", "join", "-c", name, "--ssh", "root@"+ip, "-i", sshKey(t))
		if want := "bundles for linux/amd64 and linux/arm64"; err == nil || !strings.Contains(out, want) {
			t.Errorf("join of an armhf host: err %v, want %q in:\n%s", err, want, out)
		}
		t.Logf("%s", lastLines(out, 3))
		h, err := remote.Dial(ctx, remote.Target{User: "root", Host: ip, Port: 22, KeyFile: sshKey(t)})
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		if left, err := board.Leftovers(ctx, h); err != nil || len(left) > 0 {
			t.Errorf("the armhf host after the refused join: %v %v", err, left)
		}
	})

	t.Run("no memory controller", func(t *testing.T) {
		v := bootVM(t, "amd64", "cgroup_disable=memory")
		out, err := edgectl(joinArgs(v)...)
		if want := "no memory controller"; err == nil || !strings.Contains(out, want) {
			t.Errorf("join of a host without the memory controller: err %v, want %q in:\n%s", err, want, out)
		}
		t.Logf("%s", lastLines(out, 3))
		clean(v, "after the refused join")
	})
}
