package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"

	"golang.org/x/crypto/ssh"

	"github.com/edgectl/edgectl/internal/remote"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	"github.com/edgectl/edgectl/pkg/board"
	"github.com/edgectl/edgectl/pkg/build/nodeimage"
)

// TestJoin (issue 16): a board that edgectl did not create, on a LAN of its
// own behind a NAT router with no inbound forward, joins a container
// cluster over SSH (through the router as a bastion) and leaves it clean;
// each bad input is refused with a clear error and leaves the host clean.
func TestJoin(t *testing.T) {
	inLane(t, laneMachines)
	e := setup(t)
	arch := strings.TrimPrefix(v1alpha1.HostPlatform(), "linux/")
	s := natSite(t, "e2e-join", arch)
	name := "e2e-join"
	cfg := joinCluster(t, e, name)
	edgectl := edgectlRunner(t)
	client := e.client(t, name)
	ctx := t.Context()
	server := "edgectl-" + name + "-server-0"

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
		// The board has no iptables once the bundle is gone: its chains
		// are read from here too.
		if left = append(left, kubeChains(t, s.Board)...); len(left) > 0 {
			t.Errorf("%s: the board still has:\n%s", when, strings.Join(left, "\n"))
		}
	}

	// The cluster cannot open a connection to the board: no SSH banner
	// comes back to the server, while the router, on the board's LAN, gets
	// one. (A banner, not the connect: this machine's upstream network
	// accepts a TCP connect to any address and then sends nothing.)
	// The script ends with "tried" only when socat itself ran, so a failed
	// exec or a missing socat fails the check instead of passing it.
	banner := fmt.Sprintf("command -v socat >/dev/null || exit 127; socat -T3 -u TCP:%s:22,connect-timeout=3 STDOUT 2>&1 | head -c 8; echo; echo tried", s.BoardIP)
	if out, err := exec.Command("docker", "exec", server, "sh", "-c", banner).CombinedOutput(); err != nil || !strings.Contains(string(out), "tried") {
		t.Fatalf("the banner check did not run in %s: %v %q", server, err, out)
	} else if strings.Contains(string(out), "SSH-") {
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
		// A known_hosts that lists another key for the board.
		home := t.TempDir()
		if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(home, ".ssh", "known_hosts"), []byte(s.BoardIP+" "+string(ssh.MarshalAuthorizedKey(otherSigner.PublicKey()))), 0o600); err != nil {
			t.Fatal(err)
		}
		crash := "mkdir -p /etc/systemd/system/edgelet.service.d && printf '[Service]\\nExecStart=\\nExecStart=/usr/local/bin/edgelet ${EDGELET_ROLE} --config /etc/edgelet/e2e-missing.yaml\\n' >/etc/systemd/system/edgelet.service.d/e2e.conf"
		fakeKubelet := "cp /bin/sleep /usr/local/bin/kubelet && systemd-run --unit fake-kubelet /usr/local/bin/kubelet infinity"
		for _, c := range []struct {
			name  string
			args  []string
			setup string // on the board (or the router, for the firewall), undone after
			undo  string
			on    string
			want  []string
			home  string // $HOME of edgectl (its ~/.ssh/known_hosts)
			kept  bool   // --retain: the install is still there before undo
		}{
			{name: "wrong key", args: []string{"-i", other}, on: s.Router, setup: "echo '" + otherPub + "' >>/root/.ssh/authorized_keys",
				undo: "sed -i /edgectl-e2e-other/d /root/.ssh/authorized_keys", want: []string{"ssh root@" + s.BoardIP + ":22: the host refused user \"root\""}},
			{name: "wrong user", args: []string{"--ssh", "nobody@" + s.BoardIP}, want: []string{"refused user \"nobody\""}},
			{name: "a kubelet runs", on: s.Board,
				setup: fakeKubelet,
				undo:  "systemctl stop fake-kubelet; rm -f /usr/local/bin/kubelet", want: []string{"kubelet found"}},
			{name: "server unreachable", on: s.Router, setup: "iptables -I " + apiRule, undo: "iptables -D " + apiRule,
				want: []string{"cannot connect to " + cfg.Network.APIAddress}},
			// Hosts that pass the older checks and cannot run a node (a
			// container or LXC "board"): the preflight refuses each.
			{name: "no /dev/kmsg", on: s.Board, setup: "mv /dev/kmsg /dev/kmsg.e2e", undo: "mv /dev/kmsg.e2e /dev/kmsg",
				want: []string{"kmsg: /dev/kmsg not readable"}},
			{name: "read-only /proc/sys", on: s.Board, setup: "mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys",
				undo: "umount /proc/sys", want: []string{"proc_sys: /proc/sys read-only"}},
			{name: "containerd's directory on an overlay", on: s.Board,
				setup: "mkdir -p /tmp/e2e-ovl/l /tmp/e2e-ovl/u /tmp/e2e-ovl/w /var/lib/containerd && mount -t overlay overlay -o lowerdir=/tmp/e2e-ovl/l,upperdir=/tmp/e2e-ovl/u,workdir=/tmp/e2e-ovl/w /var/lib/containerd",
				undo:  "umount /var/lib/containerd; rm -rf /var/lib/containerd /tmp/e2e-ovl", want: []string{"overlay_mount: cannot mount an overlay where containerd keeps its snapshots"}},
			// edgelet installs, then exits at every start: the join stops
			// within seconds (not at --wait) and shows its journal.
			{name: "edgelet crash-loops", on: s.Board, args: []string{"--wait", "5m"},
				setup: crash,
				undo:  "rm -rf /etc/systemd/system/edgelet.service.d && systemctl daemon-reload", want: []string{"is restarting in a loop", "e2e-missing.yaml"}},
			// --force installs beside a kubelet; --retain keeps what the
			// failed join installed (removed by hand, as its hint says).
			{name: "edgelet crash-loops beside a kubelet, --force --retain", on: s.Board, args: []string{"--wait", "5m", "--force", "--retain"},
				setup: crash + " && " + fakeKubelet, kept: true,
				undo: "/usr/local/sbin/edgelet-uninstall; systemctl stop fake-kubelet; rm -f /usr/local/bin/kubelet; rm -rf /etc/systemd/system/edgelet.service.d; systemctl daemon-reload",
				want: []string{"--force: installing beside it", "is restarting in a loop", "edgelet-uninstall"}},
			{name: "known_hosts lists another key", home: home, want: []string{"does not match", "ssh-keygen -R"}},
			{name: "wrong token", args: []string{"--token", wrongToken(t, e, server), "--wait", "90s"}, want: []string{"has another secret in cluster"}},
		} {
			t.Run(c.name, func(t *testing.T) {
				if c.setup != "" {
					machineSh(t, c.on, c.setup)
				}
				args := append(append([]string{}, join...), c.args...)
				start := time.Now()
				run := edgectl
				if c.home != "" {
					run = func(args ...string) (string, error) {
						cmd := exec.Command(edgectlBinary(t), args...)
						cmd.Env = append(os.Environ(), "HOME="+c.home)
						out, err := cmd.CombinedOutput()
						return string(out), err
					}
				}
				out, err := run(args...)
				t.Logf("%s: refused after %s", c.name, time.Since(start).Round(100*time.Millisecond))
				if c.kept {
					if kept := machineSh(t, s.Board, "test -x /usr/local/bin/edgelet && echo kept || true"); !strings.Contains(kept, "kept") {
						t.Errorf("--retain: the failed join's install is gone")
					}
				}
				if c.undo != "" {
					machineSh(t, c.on, c.undo)
				}
				for _, want := range c.want {
					if err == nil || !strings.Contains(out, want) {
						t.Errorf("join with %s: err %v, want %q in:\n%s", c.name, err, want, out)
					}
				}
				t.Logf("%s: %s", c.name, lastLines(out, 3))
				clean("after " + c.name)
			})
		}
	})

	// Round 1 joins with a token that expires a minute after it is made;
	// round 2 with the single-use token that `node join` makes itself.
	newToken := func(args ...string) string {
		t.Helper()
		out, err := edgectl(append([]string{"token", "create", "-c", name}, args...)...)
		if tok := lastLine(out); err != nil || !strings.HasPrefix(tok, "E1") {
			t.Fatalf("token create %v: %v\n%s", args, err, out)
		}
		return lastLine(out)
	}
	shortLived, shortLivedMade := newToken("--ttl", "1m", "--description", "e2e: one minute"), time.Now()
	var perJoin string
	for round := 1; round <= 2; round++ {
		start := time.Now()
		args := append(join, "--label", "site=shop-7", "--wait", "90s")
		if round == 1 {
			args = append(args, "--token", shortLived)
		}
		out, err := edgectl(args...)
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
			pod := archPod(ctx, t, e, client, "on-board", nodeimage.EchoImage, s.Board, nil)
			waitPodReady(ctx, t, client, pod)
			before, _ := client.CoreV1().Pods("default").Get(ctx, pod, metav1.GetOptions{})
			kubeletThroughTunnel(ctx, t, e, name, server, pod)
			onAgent := archPod(ctx, t, e, client, "on-agent", nodeimage.EchoImage, "edgectl-"+name+"-agent-0", nil)
			waitPodReady(ctx, t, client, onAgent)
			exposePod(ctx, t, client, pod)
			exposePod(ctx, t, client, onAgent)
			serviceBothWays(ctx, t, e, server, pod, onAgent)
			// For docs/benchmarks.md: what the board's node takes.
			t.Logf("board: edgelet + containerd RSS %s MB", strings.TrimSpace(machineSh(t, s.Board,
				boardRSS)))
			start := time.Now()
			restartServer(ctx, t, e, name, server, s.Board)
			for {
				res, err := e.p.Runtime().Exec(ctx, server, []string{"kubectl", "exec", pod, "--", "/echo", "uname"}, nil)
				if err == nil && res.ExitCode == 0 {
					break
				}
				if time.Since(start) > 2*time.Minute {
					t.Fatalf("kubectl exec through the tunnel still fails 2m after the server restart: %v %s", err, res.Stderr)
				}
				time.Sleep(time.Second)
			}
			t.Logf("tunnel back (exec through it works) %s after `docker restart` of the server began", time.Since(start).Round(100*time.Millisecond))
			kubeletThroughTunnel(ctx, t, e, name, server, pod)
			after, err := client.CoreV1().Pods("default").Get(ctx, pod, metav1.GetOptions{})
			if err != nil || after.UID != before.UID || after.Status.ContainerStatuses[0].RestartCount != 0 {
				t.Errorf("the pod on the board restarted with the server: %v %+v", err, after.Status.ContainerStatuses)
			}
		}
		if round == 2 {
			// The node comes back with its identity after its edgelet, and
			// then the whole board, restart.
			uid := nodeUID(ctx, t, client, s.Board)
			start := time.Now()
			machineSh(t, s.Board, "systemctl restart edgelet")
			waitBack(ctx, t, client, s.Board, uid, start, "a restart of the board's edgelet", 3*time.Minute)
			start = time.Now()
			s.restartBoard(t)
			waitBack(ctx, t, client, s.Board, uid, start, "a restart of the whole board", 3*time.Minute)
		}
		if round == 2 {
			// The token node join made for itself, as the board holds it.
			perJoin = strings.TrimSpace(machineSh(t, s.Board, "cat /etc/edgelet/token"))
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
	joinTokens(t, edgectl, newToken, name, s.Board, join, perJoin, shortLived, shortLivedMade, clean)
	joinByScript(t, e, client, name, arch, s, edgectl, clean)
}

// joinByScript: `node join --print` writes the join as a script, which is
// run on the board by hand next to the bundle; the node has no SSH address,
// so `node leave` refuses it without --force, and with it deletes the Node
// and leaves the host to edgelet-uninstall, run by hand.
func joinByScript(t *testing.T, e *env, client kubernetes.Interface, cluster, arch string, s *site,
	edgectl func(...string) (string, error), clean func(string)) {
	ctx := t.Context()
	script, msgs, err := runEdgectl(ctx, edgectlBinary(t), "", "node", "join", "-c", cluster, "--print", "--name", s.Board, "--platform", "linux/"+arch)
	if err != nil || !strings.HasPrefix(script, "#!/bin/sh") {
		t.Fatalf("node join --print: %v\n%s%s", err, script, msgs)
	}
	bundle, err := nodeimage.CachedBundle(ctx, nodeimage.Options{Arch: arch, Role: nodeimage.RoleAgent}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "join.sh"), []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	podmanOut(t, "cp", filepath.Join(dir, "join.sh"), s.Board+":/root/join.sh")
	podmanOut(t, "cp", bundle, s.Board+":/root/edgectl-bundle-linux-"+arch+"-agent.tar.gz")
	start := time.Now()
	machineSh(t, s.Board, "sh /root/join.sh")
	waitNodeReady(ctx, t, client, s.Board)
	t.Logf("joined by the --print script: Ready after %s", time.Since(start).Round(100*time.Millisecond))
	if out, err := edgectl("node", "leave", s.Board); err == nil || !strings.Contains(out, "joined with a script") {
		t.Errorf("node leave of a --print node without --force: %v\n%s", err, out)
	}
	if out, err := edgectl("node", "leave", s.Board, "--force"); err != nil {
		t.Fatalf("node leave --force: %v\n%s", err, out)
	}
	if _, err := client.CoreV1().Nodes().Get(ctx, s.Board, metav1.GetOptions{}); err == nil {
		t.Errorf("Node %s still there after leave --force", s.Board)
	}
	machineSh(t, s.Board, "/usr/local/sbin/edgelet-uninstall && rm -f /root/join.sh /root/edgectl-bundle-*")
	clean("after the --print join, leave --force and edgelet-uninstall")
}

// joinTokens: the single-use token of round 2's join was counted by the
// server, and it, the one-minute token once expired, and a deleted token
// are each refused with the reason (exit 2), leaving the board clean.
func joinTokens(t *testing.T, edgectl func(...string) (string, error), newToken func(...string) string,
	cluster, board string, join []string, perJoin, shortLived string, shortLivedMade time.Time, clean func(string)) {
	out, err := edgectl("token", "list", "-c", cluster, "-o", "json")
	var tokens []struct {
		ID      string
		Uses    int
		UsedBy  []string
		Counted bool
	}
	if err != nil || json.Unmarshal([]byte(out), &tokens) != nil || len(tokens) == 0 || tokens[0].Counted {
		t.Fatalf("token list -o json (the cluster's own token first): %v\n%s", err, out)
	}
	found := false
	for _, tok := range tokens {
		if tok.ID == joinTokenID(perJoin) {
			found = tok.Counted && tok.Uses == 1 && strings.Join(tok.UsedBy, ",") == board
		}
	}
	if !found {
		t.Errorf("the token of round 2's join (%s) is not listed as used once by %s:\n%s", joinTokenID(perJoin), board, out)
	}
	refused := func(what, tok, want string) {
		t.Helper()
		out, err := edgectl(append(append([]string{}, join...), "--token", tok, "--wait", "60s")...)
		if exitCode(err) != 2 || !strings.Contains(out, want) {
			t.Errorf("join with the %s token: exit %d, want 2 and %q in:\n%s", what, exitCode(err), want, out)
		}
		t.Logf("%s token: %s", what, lastLines(out, 2))
		clean("after the " + what + " token")
	}
	refused("single-use", perJoin, "was used up: 1 of 1 use(s), by "+board)
	if wait := time.Until(shortLivedMade.Add(time.Minute + time.Second)); wait > 0 {
		time.Sleep(wait) // its expiration is a time on the clock
	}
	refused("expired", shortLived, "expired at")
	deleted := newToken("--uses", "1")
	if out, err := edgectl("token", "delete", "-c", cluster, joinTokenID(deleted)); err != nil {
		t.Fatalf("token delete: %v\n%s", err, out)
	}
	refused("deleted", deleted, "is not a token of cluster")
}

// joinTokenID is the id of a full join token, E1<hash>::ID.SECRET.
func joinTokenID(full string) string {
	_, boot, _ := strings.Cut(full, "::")
	id, _, _ := strings.Cut(boot, ".")
	return id
}

// joinCluster creates a 1 server + 1 agent cluster for boards to join: it
// publishes its API on this host's address.
func joinCluster(t *testing.T, e *env, name string) *v1alpha1.Cluster {
	t.Helper()
	cfg := &v1alpha1.Cluster{Name: name, Agents: 1}
	cfg.Network.APIAddress = hostAddress(t)
	e.create(t, cfg)
	return cfg
}

// edgectlRunner runs the edgectl binary and returns its combined output.
func edgectlRunner(t *testing.T) func(args ...string) (string, error) {
	bin := edgectlBinary(t)
	return func(args ...string) (string, error) {
		out, err := exec.Command(bin, args...).CombinedOutput()
		return string(out), err
	}
}

// restartServer restarts the server container and waits for the joined
// node to be Ready again, with its identity (the same Node UID).
func restartServer(ctx context.Context, t *testing.T, e *env, cluster, server, joined string) {
	t.Helper()
	uid := nodeUID(ctx, t, e.client(t, cluster), joined)
	start := time.Now()
	if out, err := exec.Command("docker", "restart", server).CombinedOutput(); err != nil {
		t.Fatalf("docker restart: %v %s", err, out)
	}
	waitBack(ctx, t, e.client(t, cluster), joined, uid, start, "the server restart", 3*time.Minute)
}

// waitBack waits, up to limit, until the node, with the same UID, is Ready
// and has renewed its lease since start.
func waitBack(ctx context.Context, t *testing.T, client kubernetes.Interface, node, uid string, start time.Time, after string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		n, err := client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		lease, lerr := client.CoordinationV1().Leases("kube-node-lease").Get(ctx, node, metav1.GetOptions{})
		renewed := lerr == nil && lease.Spec.RenewTime != nil && lease.Spec.RenewTime.After(start)
		if err == nil && string(n.UID) == uid && renewed && isNodeReady(n) {
			t.Logf("%s Ready again %s after %s", node, time.Since(start).Round(100*time.Millisecond), after)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not Ready with the same identity %s after %s (err %v)", node, limit, after, err)
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

// kubeletThroughTunnel: logs -f, exec and port-forward reach a pod on the
// board, whose kubelet nothing can connect to: the API server goes through
// the board's tunnel (issue 16, acceptance 3).
func kubeletThroughTunnel(ctx context.Context, t *testing.T, e *env, cluster, server, pod string) {
	t.Helper()
	logs := e.nodeExec(t, server, "sh", "-c", "timeout 5 kubectl logs -f "+pod+"; true")
	if !strings.Contains(logs, "listening on") {
		t.Errorf("kubectl logs -f %s: %q", pod, logs)
	}
	if out := e.nodeExec(t, server, "kubectl", "exec", pod, "--", "/echo", "uname"); !strings.Contains(out, "x86_64") && !strings.Contains(out, "aarch64") {
		t.Errorf("kubectl exec %s: %q", pod, out)
	}
	if body := portForwardGet(ctx, t, e, cluster, pod, 8080, "/healthz"); strings.TrimSpace(body) != "ok" {
		t.Errorf("port-forward to %s: %q", pod, body)
	}
	// attach: the stream to the container's output holds until timeout
	// ends it (exit 124); a stream the kubelet cannot open fails at once.
	res, err := e.p.Runtime().Exec(ctx, server, []string{"timeout", "6", "kubectl", "attach", pod}, nil)
	if err != nil || res.ExitCode != 124 || strings.Contains(res.Stderr, "error") {
		t.Errorf("kubectl attach %s: exit %d %v: %s", pod, res.ExitCode, err, res.Stderr)
	}
}

// portForwardGet forwards a local port to the pod's port (as kubectl
// port-forward does, through the API server and the kubelet) and GETs path.
func portForwardGet(ctx context.Context, t *testing.T, e *env, clusterName, pod string, port int, path string) string {
	t.Helper()
	cfg := e.restConfig(t, clusterName)
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(cfg.Host + "/api/v1/namespaces/default/pods/" + pod + "/portforward")
	if err != nil {
		t.Fatal(err)
	}
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	stop, ready := make(chan struct{}), make(chan struct{})
	defer close(stop)
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("0:%d", port)}, stop, ready, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- fw.ForwardPorts() }()
	select {
	case <-ready:
	case err := <-errc:
		t.Fatalf("port-forward to %s: %v", pod, err)
	case <-time.After(30 * time.Second):
		t.Fatalf("port-forward to %s: not ready in 30s", pod)
	}
	ports, err := fw.GetPorts()
	if err != nil || len(ports) == 0 {
		t.Fatalf("port-forward ports: %v", err)
	}
	return httpGet(ctx, t, fmt.Sprintf("http://127.0.0.1:%d%s", ports[0].Local, path))
}

// serviceBothWays: each pod reaches the other through its ClusterIP Service
// (by DNS name), the board's pod across the NAT (issue 16, acceptance 2).
func serviceBothWays(ctx context.Context, t *testing.T, e *env, server, a, b string) {
	t.Helper()
	for _, dir := range [][2]string{{a, b}, {b, a}} {
		from, to := dir[0], dir[1]
		url := fmt.Sprintf("http://%s.default.svc.cluster.local/", to)
		var out string
		for start := time.Now(); time.Since(start) < time.Minute; time.Sleep(2 * time.Second) {
			res, err := e.p.Runtime().Exec(ctx, server, []string{"kubectl", "exec", from, "--", "/echo", "get", url}, nil)
			if out = strings.TrimSpace(res.Stdout + res.Stderr); err == nil && out == "hello from "+to {
				break
			}
		}
		if out != "hello from "+to {
			t.Errorf("%s -> Service %s: %q", from, to, out)
		} else {
			t.Logf("%s -> Service %s: %q", from, to, out)
		}
	}
}
