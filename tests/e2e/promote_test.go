package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	"github.com/edgectl/edgectl/pkg/board"
	"github.com/edgectl/edgectl/pkg/promote"
)

// TestPromotePlan (issue 17): `promote plan` on fresh hosts (plain Debian
// machine containers, one server and two agents) lists an install on each
// and leaves every file on them as it was; a bad hosts section is refused
// with all its problems at once; a host that refuses the key is named.
func TestPromotePlan(t *testing.T) {
	inLane(t, laneMachines)
	if testing.Short() {
		t.Skip("e2e")
	}
	arch := strings.TrimPrefix(v1alpha1.HostPlatform(), "linux/")
	image := boardImage(t, arch)
	hosts := []string{"e2e-promote-s0", "e2e-promote-a0", "e2e-promote-a1"}
	ips := map[string]string{}
	for _, h := range hosts {
		// /var/lib on a volume, as on a real disk: on the machine's own
		// overlay root containerd's overlays fail, and the preflight says so.
		startMachine(t, image, h, "--network", "podman", "--volume", "/var/lib")
		ips[h] = strings.TrimSpace(podmanOut(t, "inspect", "-f", "{{.NetworkSettings.IPAddress}}", h))
	}
	edgectl := edgectlRunner(t)
	dir := t.TempDir()
	write := func(name, hostsYAML string) string {
		f := filepath.Join(dir, name)
		cfg := "apiVersion: edgectl.io/v1alpha1\nkind: Cluster\nname: shop\nagents: 2\nhosts:\n" + hostsYAML
		if err := os.WriteFile(f, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	entry := func(role string, index int, host, key string) string {
		return fmt.Sprintf("- {role: %s, index: %d, ssh: root@%s, keyFile: %s}\n", role, index, ips[host], key)
	}
	key := sshKey(t)
	good := write("good.yaml", entry("server", 0, hosts[0], key)+entry("agent", 0, hosts[1], key)+entry("agent", 1, hosts[2], key))

	// Every file's mtime, but the login records SSH itself keeps (/var/log).
	mtimes := func(h string) string {
		return machineSh(t, h, `find / -xdev \( -path /proc -o -path /sys -o -path /run -o -path /tmp -o -path /var/log \) -prune -o -printf '%T@ %p\n' | sort`)
	}
	before := map[string]string{}
	for _, h := range hosts {
		before[h] = mtimes(h)
	}
	out, err := edgectl("promote", "plan", "-f", good)
	if err != nil {
		t.Fatalf("plan: %v\n%s", err, out)
	}
	t.Logf("plan:\n%s", out)
	if !strings.Contains(out, "3 to change") || strings.Count(out, " install ") != 3 {
		t.Errorf("plan on fresh hosts does not list 3 installs:\n%s", out)
	}
	for _, h := range hosts {
		if after := mtimes(h); after != before[h] {
			t.Errorf("plan changed files on %s", h)
		}
	}
	out, err = edgectl("promote", "plan", "-f", good, "-o", "json")
	var plan promote.Plan
	if err != nil || json.Unmarshal([]byte(out), &plan) != nil || plan.Changes != 3 || len(plan.Hosts) != 3 || plan.Hosts[1].Hostname != hosts[1] {
		t.Errorf("plan -o json: %v %+v\n%s", err, plan, out)
	}

	bad := write("bad.yaml", entry("server", 0, hosts[0], key)+entry("agent", 3, hosts[1], key)+entry("agent", 0, hosts[0], key))
	out, err = edgectl("promote", "plan", "-f", bad)
	for _, want := range []string{"hosts[1]: role \"agent\" index 3 matches no node", "hosts[2].ssh: " + ips[hosts[0]] + ":22 is also hosts[0]'s address", "agent:1 has no host"} {
		if err == nil || !strings.Contains(out, want) {
			t.Errorf("bad hosts: err %v, want %q in:\n%s", err, want, out)
		}
	}

	other, _ := newSSHKey(t, t.TempDir())
	refused := write("refused.yaml", entry("server", 0, hosts[0], key)+entry("agent", 0, hosts[1], other)+entry("agent", 1, hosts[2], key))
	out, err = edgectl("promote", "plan", "-f", refused)
	if want := "agent:0 (root@" + ips[hosts[1]] + ":22): "; err == nil || !strings.Contains(out, want) || !strings.Contains(out, "refused") {
		t.Errorf("a host that refuses the key: err %v, want %q in:\n%s", err, want, out)
	}
	t.Logf("refused key:\n%s", lastLines(out, 3))
}

// TestPromoteApply (issue 17): `promote apply` installs a 1 server + 2
// agent cluster on plain Debian machines from the board bundles, with the
// config's labels and taints, and writes its kubeconfig context; a second
// apply changes nothing (no file on any host) and is quick; `cluster
// create` of the same file gives its nodes the same labels, taints and
// add-ons; `promote reset` leaves the hosts clean.
func TestPromoteApply(t *testing.T) {
	inLane(t, laneMachines)
	e := setup(t)
	arch := strings.TrimPrefix(v1alpha1.HostPlatform(), "linux/")
	image := boardImage(t, arch)
	hosts := []string{"e2e-apply-s0", "e2e-apply-a0", "e2e-apply-a1"}
	ips := map[string]string{}
	for _, h := range hosts {
		// /var/lib on a volume of its own, as on a real disk: containerd's
		// overlays cannot sit on the machine's own overlay root.
		startMachine(t, image, h, "--network", "podman", "--volume", "/var/lib")
		ips[h] = strings.TrimSpace(podmanOut(t, "inspect", "-f", "{{.NetworkSettings.IPAddress}}", h))
	}
	key := sshKey(t)
	name := "promo"
	// config is the file with both agents, or with agent 1 (and its host)
	// left out.
	keys := []string{key, key, key}
	config := func(both bool) string {
		text := fmt.Sprintf("apiVersion: edgectl.io/v1alpha1\nkind: Cluster\nname: %s\nagents: %d\nnodes:\n- {role: agent, index: 0, labels: {site: shop}}\n", name, map[bool]int{true: 2, false: 1}[both])
		if both {
			text += "- {role: agent, index: 1, labels: {tier: edge}, taints: [\"dedicated=edge:NoSchedule\"]}\n"
		}
		text += "hosts:\n"
		for i, h := range hosts {
			role, index := "agent", i-1
			if i == 0 {
				role, index = "server", 0
			}
			hooks := ""
			if i == 1 {
				// Agent 0 notes each hook it runs.
				hooks = ", hooks: {"
				for _, action := range []string{"apply", "upgrade", "reset"} {
					hooks += fmt.Sprintf(`%s: {before: ["echo %s-before >>/var/tmp/hooks"], after: ["echo %s-after >>/var/tmp/hooks"]}, `, action, action, action)
				}
				hooks = strings.TrimSuffix(hooks, ", ") + "}"
			}
			if both || i < 2 {
				text += fmt.Sprintf("- {role: %s, index: %d, ssh: root@%s, keyFile: %s%s}\n", role, index, ips[h], keys[i], hooks)
			}
		}
		file := filepath.Join(t.TempDir(), "cluster.yaml")
		if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return file
	}
	file := config(true)
	bin := edgectlBinary(t)
	edgectl := kubeconfigRunner(bin, e.kubeconfig)
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := exec.Command("podman", "exec", hosts[0], "sh", "-c", "kubectl --kubeconfig /etc/edgelet/edgelet.yaml get pods -A -o wide; kubectl --kubeconfig /etc/edgelet/edgelet.yaml describe pods -n kube-system | tail -40").CombinedOutput()
			t.Logf("pods:\n%s", out)
			for _, h := range hosts {
				out, _ := exec.Command("podman", "exec", h, "journalctl", "-u", "edgelet", "-n", "40", "--no-pager").CombinedOutput()
				t.Logf("%s edgelet log:\n%s", h, out)
			}
		}
	})

	// A host that refuses the key: named, and nothing installed anywhere.
	other, _ := newSSHKey(t, t.TempDir())
	keys[2] = other
	refused := config(true)
	keys[2] = key
	out, err := edgectl("promote", "apply", "-f", refused)
	if want := "agent:1 (root@" + ips[hosts[2]] + ":22): "; err == nil || !strings.Contains(out, want) {
		t.Errorf("apply with a host that refuses the key: err %v, want %q in:\n%s", err, want, out)
	}
	for _, h := range hosts {
		if left := leftovers(t, h); left != "" {
			t.Fatalf("apply with a refused key installed on %s:\n%s", h, left)
		}
	}

	start := time.Now()
	out, err = edgectl("promote", "apply", "-f", file, "--wait", "3m")
	first := time.Since(start)
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	t.Logf("first apply (%s):\n%s", first.Round(time.Second), lastLines(out, 8))
	// Generous: under CI's load the upgrade alone (it builds the newer
	// edgectl's bundles) took 9 min.
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	promoted := promotedClient(t, e.kubeconfig, promote.ContextName(name))
	nodes := nodesByName(ctx, t, promoted)
	for _, h := range hosts {
		n, ok := nodes[h]
		if !ok || !isReady(&n) {
			t.Fatalf("node %s missing or not Ready: %+v", h, nodes)
		}
	}
	if nodes[hosts[1]].Labels["site"] != "shop" || nodes[hosts[2]].Labels["tier"] != "edge" || taintsOf(nodes[hosts[2]]) != "dedicated=edge:NoSchedule" || taintsOf(nodes[hosts[1]]) != "" {
		t.Errorf("configured labels/taints missing: a0 %v %s, a1 %v %s", nodes[hosts[1]].Labels, taintsOf(nodes[hosts[1]]), nodes[hosts[2]].Labels, taintsOf(nodes[hosts[2]]))
	}

	// A second apply: 0 changes, no file written on any host. How quick it
	// is goes to the log, not to an assertion (a busy machine). The
	// running node's own state (its data, the runtime's, kubelet's, logs)
	// changes by itself and is not compared.
	mtimes := func(h string) string {
		return machineSh(t, h, `find / /var/lib -xdev \( -path /proc -o -path /sys -o -path /run -o -path /tmp -o -path /var/log -o -path /var/lib/containerd -o -path /var/lib/kubelet -o -path /var/lib/edgelet/server -o -path /var/lib/edgelet/agent -o -path /etc/cni -o -path /var/lib/cni \) -prune -o -printf '%T@ %p\n' | sort`)
	}
	before := map[string]string{}
	for _, h := range hosts {
		before[h] = mtimes(h)
	}
	start = time.Now()
	out, err = edgectl("promote", "apply", "-f", file)
	second := time.Since(start)
	if err != nil || !strings.Contains(out, "Applied 0 change(s)") {
		t.Fatalf("re-apply: %v\n%s", err, out)
	}
	t.Logf("re-apply (%s, first %s):\n%s", second.Round(time.Second/10), first.Round(time.Second), out)
	for _, h := range hosts {
		if after := mtimes(h); after != before[h] {
			t.Errorf("re-apply changed files on %s:\n%s", h, diffLines(before[h], after))
		}
	}

	// The same file in containers: the same labels, taints and add-ons.
	cfg, err := v1alpha1.Load(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.create(t, cfg)
	local := nodesByName(ctx, t, e.client(t, name))
	for i, h := range hosts[1:] {
		ln, ok := local[fmt.Sprintf("edgectl-%s-agent-%d", name, i)]
		if !ok {
			t.Fatalf("no local agent %d: %v", i, local)
		}
		if got, want := configured(ln.Labels), configured(nodes[h].Labels); got != want || taintsOf(ln) != taintsOf(nodes[h]) {
			t.Errorf("agent %d: create gives %s %s, promote %s %s", i, got, taintsOf(ln), want, taintsOf(nodes[h]))
		}
	}
	if got, want := deploymentNames(ctx, t, e.client(t, name)), deploymentNames(ctx, t, promoted); got != want {
		t.Errorf("add-ons: create runs %s, promote %s", got, want)
	}

	// From here on the user runs the newer edgectl.
	newer := newerEdgectl(t, bin, e.kubeconfig)
	edgectl = func(args ...string) (string, error) { return output(newer(args...)) }
	upgradeRolls(ctx, t, edgectl, file, promoted, hosts, ips)

	// Agent 1 leaves the file: plan lists it, apply --prune drains and
	// deletes its Node and leaves its host clean.
	smaller := config(false)
	out, err = edgectl("promote", "plan", "-f", smaller, "--prune")
	if err != nil || !strings.Contains(out, "1 to change") || !strings.Contains(out, hosts[2]) || !strings.Contains(out, "prune") {
		t.Fatalf("plan of a file without agent 1: %v\n%s", err, out)
	}
	out, err = edgectl("promote", "apply", "-f", smaller, "--prune")
	if err != nil {
		t.Fatalf("apply --prune: %v\n%s", err, out)
	}
	t.Logf("apply --prune:\n%s", lastLines(out, 6))
	if _, ok := nodesByName(ctx, t, promoted)[hosts[2]]; ok {
		t.Errorf("pruned node %s is still in the cluster", hosts[2])
	}
	if left := leftovers(t, hosts[2]); left != "" {
		t.Errorf("prune left on %s:\n%s", hosts[2], left)
	}

	// Agent 1 comes back, and the apply is killed mid-way (its SSH
	// sessions with it): the next apply finishes the job.
	cmd := newer("promote", "apply", "-f", file)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var seen strings.Builder
	buf := make([]byte, 4096)
	for !strings.Contains(seen.String(), "Installing the linux/") {
		n, err := stdout.Read(buf)
		seen.Write(buf[:n])
		if err != nil {
			t.Fatalf("apply ended before it installed: %v\n%s", err, seen.String())
		}
	}
	// Kill it once the install has written to the host, and before its
	// node is back: really half done.
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(context.Context) (bool, error) {
		return leftovers(t, hosts[2]) != "", nil
	})
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	t.Logf("killed apply:\n%s", seen.String())
	if err != nil {
		t.Fatalf("the apply wrote nothing to %s within 2m of installing: nothing was half done", hosts[2])
	}
	if n, ok := nodesByName(ctx, t, promoted)[hosts[2]]; ok && isReady(&n) {
		t.Fatalf("agent 1 was Ready before the apply was killed: it was not half done")
	}
	out, err = edgectl("promote", "apply", "-f", file)
	if err != nil {
		t.Fatalf("apply after a killed one: %v\n%s", err, out)
	}
	t.Logf("apply after a killed one:\n%s", lastLines(out, 6))
	nodes = nodesByName(ctx, t, promoted)
	if n, ok := nodes[hosts[2]]; !ok || !isReady(&n) || taintsOf(n) != "dedicated=edge:NoSchedule" {
		t.Errorf("agent 1 is not back: %+v", nodes[hosts[2]])
	}

	// reset --host: agent 1's host only is left clean; the others run on.
	out, err = edgectl("promote", "reset", "-f", file, "--force", "--host", "agent:1")
	if err != nil {
		t.Fatalf("reset --host agent:1: %v\n%s", err, out)
	}
	if left := leftovers(t, hosts[2]); left != "" {
		t.Errorf("reset --host agent:1 left on %s:\n%s", hosts[2], left)
	}
	for _, h := range hosts[:2] {
		if !strings.Contains(leftovers(t, h), "/usr/local/bin/edgelet") || strings.TrimSpace(machineSh(t, h, "systemctl is-active edgelet || true")) != "active" {
			t.Errorf("reset --host agent:1 touched %s", h)
		}
	}

	out, err = edgectl("promote", "reset", "-f", file, "--force")
	if err != nil {
		t.Fatalf("reset: %v\n%s", err, out)
	}
	t.Logf("reset:\n%s", out)
	if got, want := machineSh(t, hosts[1], "cat /var/tmp/hooks"), "apply-before\napply-after\nupgrade-before\nupgrade-after\nreset-before\nreset-after\n"; got != want {
		t.Errorf("agent 0's hooks ran:\n%swant:\n%s", got, want)
	}
	for _, h := range hosts {
		if left := leftovers(t, h); left != "" {
			t.Errorf("reset left on %s:\n%s", h, left)
		}
	}
}

// kubeconfigRunner runs the edgectl binary bin with $KUBECONFIG set to
// kubeconfig, and returns its output.
func kubeconfigRunner(bin, kubeconfig string) func(args ...string) (string, error) {
	return func(args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
		return output(cmd)
	}
}

// leftovers lists what of a node is on a machine: processes, the unit,
// its files, interfaces and mounts (edgectl's own list, run in the
// machine), /opt/cni itself, and packet-filter chains, read with this
// host's iptables in the machine's network (a board has none of its own).
func leftovers(t *testing.T, machine string) string {
	left := strings.TrimSpace(machineSh(t, machine, board.LeftoversScript+"\nls -d /opt/cni 2>/dev/null; true"))
	if chains := kubeChains(t, machine); len(chains) > 0 {
		left += "\n" + strings.Join(chains, "\n")
	}
	return strings.TrimSpace(left)
}

// newerEdgectl is the next release of edgectl as the e2e suite can make
// one: the same binary run in a copy of the source tree with one change in
// edgelet, so its bundles are built afresh (in a build cache of their own;
// Go's own cache is shared) and carry another edgelet version. It returns
// the command of args in that tree.
func newerEdgectl(t *testing.T, bin, kubeconfig string) func(args ...string) *exec.Cmd {
	t.Helper()
	src, cache := t.TempDir(), t.TempDir()
	copyTree := exec.Command("sh", "-c", `git ls-files --cached --others --exclude-standard -z | tar -c --null --ignore-failed-read -T - -f - | tar -x -C "$1"`, "sh", src)
	copyTree.Dir = repoRoot()
	if out, err := copyTree.CombinedOutput(); err != nil {
		t.Fatalf("copy the source tree: %v\n%s", err, out)
	}
	change := "package app\n\n// The e2e suite's upgrade: a change that makes a new edgelet version.\n"
	if err := os.WriteFile(filepath.Join(src, "pkg", "edgelet", "app", "upgrade.go"), []byte(change), 0o644); err != nil {
		t.Fatal(err)
	}
	// Its bundles take their host tools from the Debian rootfs, which the
	// change leaves as it is: the suite's is linked in, not debootstrapped
	// again (~2 min).
	userCache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	rootfs, _ := filepath.Glob(filepath.Join(userCache, "edgectl", "build", "rootfs-*.tar*"))
	build := filepath.Join(cache, "edgectl", "build")
	if err := os.MkdirAll(build, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range rootfs {
		if err := os.Symlink(f, filepath.Join(build, filepath.Base(f))); err != nil {
			t.Fatal(err)
		}
	}
	env := append(os.Environ(), "KUBECONFIG="+kubeconfig, "XDG_CACHE_HOME="+cache, "GOCACHE="+goEnv(t, "GOCACHE"))
	return func(args ...string) *exec.Cmd {
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = src, env
		return cmd
	}
}

// output runs cmd and returns its output (stdout and stderr).
func output(cmd *exec.Cmd) (string, error) {
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// upgradeRolls (acceptance 3): a newer edgectl (newerEdgectl: another
// edgelet version, built for real) plans an upgrade of every host and
// applies it one node at a time, draining each as a PodDisruptionBudget
// allows, while a client sends requests to a 3-replica Service through the
// NodePort of a node that is not cordoned (as a load balancer with health
// checks would): none fails. Every host then runs the new edgelet binary.
func upgradeRolls(ctx context.Context, t *testing.T, edgectl func(...string) (string, error), file string, c kubernetes.Interface, hosts []string, ips map[string]string) {
	t.Helper()
	const ns, port = "default", 30480
	deployProbe(ctx, t, c, ns, port)
	out, err := edgectl("promote", "plan", "-f", file, "-o", "json")
	if err != nil {
		t.Fatalf("plan of the newer edgectl: %v\n%s", err, out)
	}
	var plan promote.Plan
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &plan); err != nil {
		t.Fatalf("plan -o json: %v\n%s", err, out)
	}
	want := ""
	for _, h := range plan.Hosts {
		if h.Action != promote.ActionUpgrade || h.Installed == h.Want || h.Installed == "" {
			t.Fatalf("plan of the newer edgectl: %s is not an upgrade:\n%s", h.Node, out)
		}
		want = h.Want
	}
	stop := make(chan struct{})
	done := make(chan [2]int)
	go func() {
		client := &http.Client{Timeout: 2 * time.Second}
		cordoned := map[string]bool{}
		var sent, failed int
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- [2]int{sent, failed}
				return
			case <-time.After(100 * time.Millisecond):
			}
			if i%5 == 0 {
				if list, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err == nil {
					for _, n := range list.Items {
						cordoned[n.Name] = n.Spec.Unschedulable
					}
				}
			}
			var up []string
			for _, h := range hosts {
				if !cordoned[h] {
					up = append(up, h)
				}
			}
			if len(up) == 0 {
				continue
			}
			h := up[i%len(up)]
			sent++
			resp, err := client.Get(fmt.Sprintf("http://%s:%d/", ips[h], port))
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			if err != nil || resp.StatusCode != http.StatusOK {
				failed++
				t.Logf("request to %s failed: %v", h, err)
			}
		}
	}()
	out, err = edgectl("promote", "apply", "-f", file)
	close(stop)
	counts := <-done
	if err != nil {
		t.Fatalf("upgrade: %v\n%s", err, out)
	}
	t.Logf("upgrade (%d requests, %d failed):\n%s", counts[0], counts[1], out)
	if counts[1] > 0 || counts[0] < 50 {
		t.Errorf("%d of %d requests failed during the upgrade", counts[1], counts[0])
	}
	drains := regexp.MustCompile(`✓ Draining (\S+)`).FindAllStringSubmatch(out, -1)
	if len(drains) != 3 || drains[0][1] != hosts[0] {
		t.Errorf("upgrade did not drain the 3 nodes one at a time, the server first: %v", drains)
	}
	for name, n := range nodesByName(ctx, t, c) {
		if n.Spec.Unschedulable || !isReady(&n) {
			t.Errorf("after the upgrade %s is cordoned or not Ready", name)
		}
	}
	// The new binary is installed and is the one running (not a deleted
	// file's process).
	for _, h := range hosts {
		got := machineSh(t, h, "/usr/local/bin/edgelet version; readlink /proc/$(systemctl show -p MainPID --value edgelet)/exe")
		if !strings.Contains(got, want) || strings.Contains(got, "deleted") {
			t.Errorf("%s after the upgrade to %s:\n%s", h, want, got)
		}
	}
}

// deployProbe runs 3 echo replicas (a PodDisruptionBudget keeps 2; a
// pre-stop pause lets endpoints go first) behind a NodePort Service.
func deployProbe(ctx context.Context, t *testing.T, c kubernetes.Interface, ns string, port int32) {
	t.Helper()
	deployEchoAs(ctx, t, c, ns, "probe", 3, port, func(ps *corev1.PodSpec) {
		ps.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 5}}}
	})
	minAvailable := intstr.FromInt32(2)
	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: ns},
		Spec:       policyv1.PodDisruptionBudgetSpec{MinAvailable: &minAvailable, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "probe"}}},
	}
	if _, err := c.PolicyV1().PodDisruptionBudgets(ns).Create(ctx, pdb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// promotedClient is a client of a context of the kubeconfig file.
func promotedClient(t *testing.T, kubeconfig, context string) kubernetes.Interface {
	t.Helper()
	return clientVia(t, kubeconfig, context, "")
}

// clientVia is a client of a context of the kubeconfig file that talks to
// server ("": the context's).
func clientVia(t *testing.T, kubeconfig, context, server string) kubernetes.Interface {
	t.Helper()
	rc, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: kubeconfig},
		&clientcmd.ConfigOverrides{CurrentContext: context, ClusterInfo: clientcmdapi.Cluster{Server: server}}).ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	c, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func nodesByName(ctx context.Context, t *testing.T, c kubernetes.Interface) map[string]corev1.Node {
	t.Helper()
	list, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]corev1.Node{}
	for _, n := range list.Items {
		out[n.Name] = n
	}
	return out
}

// taintsOf are a Node's taints but the ones Kubernetes sets itself (a Node
// that is not ready yet).
func taintsOf(n corev1.Node) string {
	var s []string
	for _, t := range n.Spec.Taints {
		if !strings.HasPrefix(t.Key, "node.kubernetes.io/") {
			s = append(s, t.ToString())
		}
	}
	sort.Strings(s)
	return strings.Join(s, ",")
}

// configured are a Node's labels that a config gives it (not the ones
// Kubernetes and edgectl set by themselves).
func configured(labels map[string]string) string {
	var s []string
	for k, v := range labels {
		if !strings.Contains(k, "kubernetes.io/") && !strings.HasPrefix(k, "edgectl.io/") && !strings.HasPrefix(k, "k3s.io/") {
			s = append(s, k+"="+v)
		}
	}
	sort.Strings(s)
	return strings.Join(s, ",")
}

func deploymentNames(ctx context.Context, t *testing.T, c kubernetes.Interface) string {
	t.Helper()
	list, err := c.AppsV1().Deployments("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, d := range list.Items {
		s = append(s, d.Namespace+"/"+d.Name)
	}
	sort.Strings(s)
	return strings.Join(s, ",")
}

// diffLines lists the lines only in a or only in b.
func diffLines(a, b string) string {
	in := map[string]int{}
	for _, l := range strings.Split(a, "\n") {
		in[l]--
	}
	for _, l := range strings.Split(b, "\n") {
		in[l]++
	}
	var out []string
	for l, n := range in {
		if n < 0 {
			out = append(out, "- "+l)
		} else if n > 0 {
			out = append(out, "+ "+l)
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// TestPromoteHA (issue 17, acceptance 5): 3 servers (embedded etcd) and 1
// agent on machines. Server 2's host is replaced by a new one (apply
// --prune: the new server joins, the old one's etcd member and Node go, its
// host is reset). Then, with the first server's host stopped (the one the
// agent joined), the cluster still takes writes on another server and the
// agent stays Ready: it fails over through its local server proxy.
func TestPromoteHA(t *testing.T) {
	inLane(t, laneMachines)
	e := setup(t)
	arch := strings.TrimPrefix(v1alpha1.HostPlatform(), "linux/")
	image := boardImage(t, arch)
	// Server 0, 1 and 2, the agent, and the host that replaces server 2.
	hosts := []string{"e2e-ha-s0", "e2e-ha-s1", "e2e-ha-s2", "e2e-ha-a0", "e2e-ha-s3"}
	key := sshKey(t)
	var ips []string
	for _, h := range hosts {
		startMachine(t, image, h, "--network", "podman", "--volume", "/var/lib")
		ips = append(ips, strings.TrimSpace(podmanOut(t, "inspect", "-f", "{{.NetworkSettings.IPAddress}}", h)))
	}
	// config is the file whose server 2 is on the host of index server2.
	config := func(server2 int) string {
		text := "apiVersion: edgectl.io/v1alpha1\nkind: Cluster\nname: promoha\nservers: 3\nagents: 1\nhosts:\n"
		for i, h := range []int{0, 1, server2, 3} {
			role, index := "server", i
			if i == 3 {
				role, index = "agent", 0
			}
			text += fmt.Sprintf("- {role: %s, index: %d, ssh: root@%s, keyFile: %s}\n", role, index, ips[h], key)
		}
		file := filepath.Join(t.TempDir(), "cluster.yaml")
		if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return file
	}
	file := config(2)
	bin := edgectlBinary(t)
	edgectl := kubeconfigRunner(bin, e.kubeconfig)
	out, err := edgectl("promote", "apply", "-f", file)
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	t.Logf("apply:\n%s", lastLines(out, 8))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := promotedClient(t, e.kubeconfig, promote.ContextName("promoha"))
	nodes := nodesByName(ctx, t, c)
	for _, h := range hosts[:4] {
		if n, ok := nodes[h]; !ok || !isReady(&n) {
			t.Fatalf("node %s missing or not Ready", h)
		}
	}

	// Server 2's host is replaced: the new one joins, the old one goes.
	replaced := config(4)
	out, err = edgectl("promote", "plan", "-f", replaced, "--prune")
	if err != nil || !strings.Contains(out, "3 to change") || !regexp.MustCompile(`server \(not in the file\)\s+\S+\s+`+hosts[2]+`\s+-\s+prune`).MatchString(out) {
		t.Fatalf("plan of a replaced server: %v\n%s", err, out)
	}
	out, err = edgectl("promote", "apply", "-f", replaced, "--prune")
	if err != nil || !strings.Contains(out, "Removing the etcd member of "+hosts[2]) {
		t.Fatalf("apply --prune of a replaced server: %v\n%s", err, out)
	}
	t.Logf("apply --prune of a replaced server:\n%s", lastLines(out, 8))
	nodes = nodesByName(ctx, t, c)
	if _, ok := nodes[hosts[2]]; ok {
		t.Errorf("the replaced server %s is still a Node", hosts[2])
	}
	for _, h := range []string{hosts[0], hosts[1], hosts[3], hosts[4]} {
		if n, ok := nodes[h]; !ok || !isReady(&n) {
			t.Errorf("node %s missing or not Ready after the replacement", h)
		}
	}
	members := machineSh(t, hosts[0], "edgelet member ls")
	if strings.Contains(members, hosts[2]) || !strings.Contains(members, hosts[4]) || strings.Count(members, "https://") != 3 {
		t.Errorf("etcd members after the replacement:\n%s", members)
	}
	if left := leftovers(t, hosts[2]); left != "" {
		t.Errorf("prune left on %s:\n%s", hosts[2], left)
	}
	if conf := machineSh(t, hosts[3], "cat "+board.ConfigFile); strings.Contains(conf, ips[2]+":") || !strings.Contains(conf, ips[4]+":") {
		t.Errorf("the agent's servers after the replacement:\n%s", conf)
	}

	// The first server goes: the agents fail over to the others (their
	// local proxy), and the API answers on server 1.
	podmanOut(t, "stop", "-t", "5", hosts[0])
	c = clientVia(t, e.kubeconfig, promote.ContextName("promoha"), "https://"+ips[1]+":6443")
	// Writes need the etcd quorum (2 of 3); the agent keeps reporting.
	err = wait.PollUntilContextCancel(ctx, 2*time.Second, true, func(ctx context.Context) (bool, error) {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "ha-", Namespace: "default"}}
		_, err := c.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("no write with one server host stopped: %v", err)
	}
	// The node monitor marks the stopped server NotReady after its grace
	// period (50 s); the agent stays Ready all along.
	agentDown := false
	err = wait.PollUntilContextCancel(ctx, 5*time.Second, true, func(ctx context.Context) (bool, error) {
		list, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		ready := map[string]bool{}
		for _, n := range list.Items {
			ready[n.Name] = isReady(&n)
		}
		if !ready[hosts[3]] && !agentDown {
			agentDown = true
			t.Errorf("agent %s not Ready with the first server host stopped", hosts[3])
		}
		return !ready[hosts[0]] && ready[hosts[3]], nil
	})
	if err != nil {
		t.Fatalf("with one server host stopped: %v", err)
	}
	if _, err := c.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "ha-", Namespace: "default"}}, metav1.CreateOptions{}); err != nil {
		t.Errorf("write once the stopped server is NotReady: %v", err)
	}
}

// TestPromoteKit (issue 17): `promote bundle` writes an offline kit; on
// hosts that edgectl never connects to, its scripts (server first) make a
// cluster whose Nodes, named after the hosts, are Ready.
func TestPromoteKit(t *testing.T) {
	inLane(t, laneMachines)
	if testing.Short() {
		t.Skip("e2e")
	}
	arch := strings.TrimPrefix(v1alpha1.HostPlatform(), "linux/")
	image := boardImage(t, arch)
	hosts := []string{"e2e-kit-s0", "e2e-kit-a0"}
	ips := map[string]string{}
	for _, h := range hosts {
		startMachine(t, image, h, "--network", "podman", "--volume", "/var/lib")
		ips[h] = strings.TrimSpace(podmanOut(t, "inspect", "-f", "{{.NetworkSettings.IPAddress}}", h))
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "cluster.yaml")
	text := fmt.Sprintf("apiVersion: edgectl.io/v1alpha1\nkind: Cluster\nname: kit\nagents: 1\nnodes:\n- {role: agent, index: 0, labels: {site: offline}}\nhosts:\n- {role: server, index: 0, ssh: root@%s}\n- {role: agent, index: 0, ssh: root@%s}\n", ips[hosts[0]], ips[hosts[1]])
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	kit := filepath.Join(dir, "kit")
	out, err := edgectlRunner(t)("promote", "bundle", "-f", file, "-o", kit)
	if err != nil {
		t.Fatalf("promote bundle: %v\n%s", err, out)
	}
	t.Logf("kit:\n%s", out)
	readme, _ := os.ReadFile(filepath.Join(kit, "README"))
	if !strings.Contains(string(readme), "sh 'server-0.sh'") || !strings.Contains(string(readme), "sh 'agent-0.sh'") {
		t.Errorf("README does not say what to run:\n%s", readme)
	}
	for i, h := range hosts {
		podmanOut(t, "cp", kit, h+":/root/kit")
		script := []string{"server-0.sh", "agent-0.sh"}[i]
		if out, err := exec.Command("podman", "exec", h, "sh", "/root/kit/"+script).CombinedOutput(); err != nil {
			t.Fatalf("%s on %s: %v\n%s", script, h, err, out)
		}
	}
	get := "kubectl --kubeconfig /etc/edgelet/edgelet.yaml get nodes -o jsonpath='{range .items[*]}{.metadata.name} {.status.conditions[?(@.type==\"Ready\")].status} {.metadata.labels.site}{\"\\n\"}{end}'"
	want := hosts[0] + " True \n" + hosts[1] + " True offline\n"
	var got string
	for deadline := time.Now().Add(4 * time.Minute); time.Now().Before(deadline); time.Sleep(3 * time.Second) {
		o, _ := exec.Command("podman", "exec", hosts[0], "sh", "-c", get+" | sort -r").CombinedOutput()
		if got = string(o); got == want {
			return
		}
	}
	t.Errorf("nodes of the kit's cluster:\n%q\nwant:\n%q", got, want)
}
