package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"golang.org/x/crypto/ssh"

	"github.com/edgectl/edgectl/internal/remote"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	"github.com/edgectl/edgectl/pkg/board"
)

// TestJoin (issue 16): a board that edgectl did not create, on a LAN of its
// own behind a NAT router with no inbound forward, joins a container
// cluster over SSH (through the router as a bastion) and leaves it clean;
// each bad input is refused with a clear error and leaves the host clean.
func TestJoin(t *testing.T) {
	e := setup(t)
	arch := strings.TrimPrefix(v1alpha1.HostPlatform(), "linux/")
	s := natSite(t, "e2e-join", arch)
	name := "e2e-join"
	cfg := &v1alpha1.Cluster{Name: name, Agents: 1}
	cfg.Network.APIAddress = hostAddress(t)
	e.create(t, cfg)
	bin := edgectlBinary(t)
	client := e.client(t, name)
	ctx := t.Context()
	server := "edgectl-" + name + "-server-0"

	edgectl := func(args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	join := []string{"node", "join", "-c", name, "--ssh", "root@" + s.BoardIP, "--ssh-bastion", "root@" + s.RouterIP, "-i", s.Key}
	target := remote.Target{User: "root", Host: s.BoardIP, Port: 22, KeyFile: s.Key, Bastion: &remote.Target{User: "root", Host: s.RouterIP, Port: 22}}
	clean := func(when string) {
		t.Helper()
		h, err := remote.Dial(ctx, target)
		if err != nil {
			t.Fatalf("%s: ssh to the board: %v", when, err)
		}
		defer h.Close()
		left, err := board.Leftovers(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		if len(left) > 0 {
			t.Errorf("%s: the board still has:\n%s", when, strings.Join(left, "\n"))
		}
	}

	// The cluster cannot open a connection to the board: no SSH banner
	// comes back to the server, while the router, on the board's LAN, gets
	// one. (A banner, not the connect: this machine's upstream network
	// accepts a TCP connect to any address and then sends nothing.)
	banner := fmt.Sprintf("socat -T3 -u TCP:%s:22,connect-timeout=3 STDOUT 2>&1 | head -c 8", s.BoardIP)
	if out, _ := exec.Command("docker", "exec", server, "sh", "-c", banner).CombinedOutput(); strings.Contains(string(out), "SSH-") {
		t.Fatalf("the server reached the board's sshd at %s:22; it must not: %q", s.BoardIP, out)
	}
	if out := machineSh(t, s.Router, banner); !strings.Contains(out, "SSH-") {
		t.Fatalf("the router got no SSH banner from the board: %q", out)
	}

	t.Run("bad input", func(t *testing.T) {
		// Another key, which the router (the bastion) takes and the board
		// does not.
		other, otherSigner := newSSHKey(t, t.TempDir())
		otherPub := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(otherSigner.PublicKey()))) + " edgectl-e2e-other"
		apiRule := fmt.Sprintf("FORWARD -d %s -p tcp --dport %d -j REJECT", cfg.Network.APIAddress, apiPort(t, e, name))
		for _, c := range []struct {
			name  string
			args  []string
			setup string // on the board (or the router, for the firewall), undone after
			undo  string
			on    string
			want  string
		}{
			{name: "wrong key", args: []string{"-i", other}, on: s.Router, setup: "echo '" + otherPub + "' >>/root/.ssh/authorized_keys",
				undo: "sed -i /edgectl-e2e-other/d /root/.ssh/authorized_keys", want: "ssh root@" + s.BoardIP + ":22: the host refused user \"root\""},
			{name: "wrong user", args: []string{"--ssh", "nobody@" + s.BoardIP}, want: "refused user \"nobody\""},
			{name: "a kubelet runs", on: s.Board,
				setup: "cp /bin/sleep /usr/local/bin/kubelet && systemd-run --unit fake-kubelet /usr/local/bin/kubelet infinity",
				undo:  "systemctl stop fake-kubelet; rm -f /usr/local/bin/kubelet", want: "kubelet found"},
			{name: "server unreachable", on: s.Router, setup: "iptables -I " + apiRule, undo: "iptables -D " + apiRule,
				want: "cannot connect to " + cfg.Network.APIAddress},
			{name: "wrong token", args: []string{"--token", wrongToken(t, e, server), "--wait", "90s"}, want: "rejected the join token"},
		} {
			t.Run(c.name, func(t *testing.T) {
				if c.setup != "" {
					machineSh(t, c.on, c.setup)
				}
				args := append(append([]string{}, join...), c.args...)
				out, err := edgectl(args...)
				if c.undo != "" {
					machineSh(t, c.on, c.undo)
				}
				if err == nil || !strings.Contains(out, c.want) {
					t.Errorf("join with %s: err %v, want %q in:\n%s", c.name, err, c.want, out)
				}
				t.Logf("%s: %s", c.name, lastLines(out, 3))
				clean("after " + c.name)
			})
		}
	})

	for round := 1; round <= 2; round++ {
		start := time.Now()
		out, err := edgectl(append(join, "--label", "site=shop-7", "--wait", "90s")...)
		if err != nil {
			t.Fatalf("join (round %d): %v\n%s", round, err, out)
		}
		t.Logf("join round %d: Ready after %s (bundle from the cache)", round, time.Since(start).Round(100*time.Millisecond))
		for _, want := range []string{"Preflight of root@" + s.BoardIP, "arch", "cgroups", "clock", "ports", "Ready"} {
			if !strings.Contains(out, want) {
				t.Errorf("join output lacks %q:\n%s", want, out)
			}
		}
		node, err := client.CoreV1().Nodes().Get(ctx, s.Board, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if node.Labels["site"] != "shop-7" || node.Labels["edgectl.io/joined"] != "true" || node.Annotations["edgectl.io/ssh"] == "" {
			t.Errorf("joined Node labels %v annotations %v", node.Labels, node.Annotations)
		}
		if round == 1 {
			restartServer(ctx, t, e, name, server, s.Board)
		}
		out, err = edgectl("node", "leave", s.Board, "-i", s.Key)
		if err != nil {
			t.Fatalf("leave (round %d): %v\n%s", round, err, out)
		}
		clean(fmt.Sprintf("after leave (round %d)", round))
		if _, err := client.CoreV1().Nodes().Get(ctx, s.Board, metav1.GetOptions{}); err == nil {
			t.Errorf("Node %s still there after leave", s.Board)
		}
	}
}

// restartServer restarts the server container and waits for the joined
// node to be Ready again, with its identity (the same Node UID).
func restartServer(ctx context.Context, t *testing.T, e *env, cluster, server, joined string) {
	t.Helper()
	client := e.client(t, cluster)
	before, err := client.CoreV1().Nodes().Get(ctx, joined, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("docker", "restart", server).CombinedOutput(); err != nil {
		t.Fatalf("docker restart: %v %s", err, out)
	}
	start := time.Now()
	deadline := start.Add(3 * time.Minute)
	for {
		n, err := client.CoreV1().Nodes().Get(ctx, joined, metav1.GetOptions{})
		lease, lerr := client.CoordinationV1().Leases("kube-node-lease").Get(ctx, joined, metav1.GetOptions{})
		renewed := lerr == nil && lease.Spec.RenewTime != nil && lease.Spec.RenewTime.After(start)
		if err == nil && n.UID == before.UID && renewed && isNodeReady(n) {
			t.Logf("%s Ready again %s after the server restart", joined, time.Since(start).Round(100*time.Millisecond))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not Ready with the same identity 3m after the server restart (err %v)", joined, err)
		}
		time.Sleep(time.Second)
	}
}

// wrongToken is the cluster's join token with another secret: it pins the
// right CA, so the server is reached and refuses it.
func wrongToken(t *testing.T, e *env, server string) string {
	t.Helper()
	out, err := exec.Command("docker", "exec", server, "cat", "/var/lib/edgelet/server/token").Output()
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(string(out))
	i := strings.LastIndex(tok, ".")
	if i < 0 {
		i = strings.LastIndex(tok, ":")
	}
	if i < 0 || i == len(tok)-1 {
		t.Fatalf("token %q: no secret part", tok)
	}
	secret := []byte(tok[i+1:])
	for j := range secret {
		if secret[j] == 'a' {
			secret[j] = 'b'
		} else {
			secret[j] = 'a'
		}
	}
	return tok[:i+1] + string(secret)
}

func apiPort(t *testing.T, e *env, cluster string) int {
	t.Helper()
	spec, err := e.p.Spec(t.Context(), cluster)
	if err != nil {
		t.Fatal(err)
	}
	return spec.Network.APIPort
}

func isNodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
