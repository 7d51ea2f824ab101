package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	"github.com/edgectl/edgectl/pkg/promote"
)

// TestPromotePlan (issue 17): `promote plan` on fresh hosts (plain Debian
// machine containers, one server and two agents) lists an install on each
// and leaves every file on them as it was; a bad hosts section is refused
// with all its problems at once; a host that refuses the key is named.
func TestPromotePlan(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e")
	}
	arch := strings.TrimPrefix(v1alpha1.HostPlatform(), "linux/")
	image := machineImage(t, arch)
	hosts := []string{"e2e-promote-s0", "e2e-promote-a0", "e2e-promote-a1"}
	ips := map[string]string{}
	for _, h := range hosts {
		startMachine(t, image, h, "--network", "podman")
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
	e := setup(t)
	arch := strings.TrimPrefix(v1alpha1.HostPlatform(), "linux/")
	image := machineImage(t, arch)
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
	cfgText := fmt.Sprintf(`apiVersion: edgectl.io/v1alpha1
kind: Cluster
name: %s
agents: 2
nodes:
- {role: agent, index: 0, labels: {site: shop}}
- {role: agent, index: 1, labels: {tier: edge}, taints: ["dedicated=edge:NoSchedule"]}
hosts:
- {role: server, index: 0, ssh: root@%s, keyFile: %s}
- {role: agent, index: 0, ssh: root@%s, keyFile: %s}
- {role: agent, index: 1, ssh: root@%s, keyFile: %s}
`, name, ips[hosts[0]], key, ips[hosts[1]], key, ips[hosts[2]], key)
	file := filepath.Join(t.TempDir(), "cluster.yaml")
	if err := os.WriteFile(file, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := edgectlBinary(t)
	edgectl := func(args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+e.kubeconfig)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
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

	start := time.Now()
	out, err := edgectl("promote", "apply", "-f", file, "--wait", "3m")
	first := time.Since(start)
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	t.Logf("first apply (%s):\n%s", first.Round(time.Second), lastLines(out, 8))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
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

	// A second apply: 0 changes, no file written on any host, quick. The
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
	if second*5 > first {
		t.Errorf("re-apply took %s, not under 20%% of the first apply's %s", second, first)
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

	out, err = edgectl("promote", "reset", "-f", file, "--force")
	if err != nil {
		t.Fatalf("reset: %v\n%s", err, out)
	}
	t.Logf("reset:\n%s", out)
	for _, h := range hosts {
		left := machineSh(t, h, `
pgrep -x edgelet; pgrep -x containerd; pgrep -f 'containerd-shi[m]'
ls /etc/systemd/system/edgelet.service /etc/edgelet /var/lib/edgelet /var/lib/kubelet /var/lib/containerd /usr/local/bin/edgelet /opt/cni 2>/dev/null
ip -o link 2>/dev/null | grep -E 'cni0|flannel' ; grep -E '/var/lib/(kubelet|edgelet|containerd)|/run/(containerd|netns)' /proc/mounts
iptables-save 2>/dev/null | grep -E '^:(KUBE|FLANNEL|CNI)'; true`)
		if strings.TrimSpace(left) != "" {
			t.Errorf("reset left on %s:\n%s", h, left)
		}
	}
}

// promotedClient is a client of a context of the kubeconfig file.
func promotedClient(t *testing.T, kubeconfig, context string) kubernetes.Interface {
	t.Helper()
	rc, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: kubeconfig},
		&clientcmd.ConfigOverrides{CurrentContext: context}).ClientConfig()
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
