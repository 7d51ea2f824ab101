package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
)

// TestMultiNode covers issue 2's acceptance on 1 server + 2 agents: agents
// join with the CA-pinning token, pods on different nodes reach each other
// (pod IP, ClusterIP, DNS name), a NodePort answers at an agent's IP, a
// ServiceAccount token lists pods through an RBAC Role, a wrong token is
// refused before any Node appears, and restarts keep the cluster.
func TestMultiNode(t *testing.T) {
	inLane(t, laneClusters)
	e := setup(t)
	const name = "e2e-multi"
	e.create(t, &v1alpha1.Cluster{Name: name, Agents: 2})
	client := e.client(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	deployEcho(ctx, t, client, "default", 3, 30082)
	pods := echoPods(ctx, t, client)
	if len(pods) != 3 {
		t.Fatalf("want echo pods on 3 distinct nodes, got %v", pods)
	}
	server := nodeName(name, "server", 0)

	t.Run("cross-node pod IP, ClusterIP and DNS", func(t *testing.T) {
		for fromNode, from := range pods {
			for toNode, to := range pods {
				if fromNode == toNode {
					continue
				}
				out := e.nodeExec(t, server, "kubectl", "exec", from.Name, "--", "/echo", "get", fmt.Sprintf("http://%s:8080/", to.Status.PodIP))
				if strings.TrimSpace(out) != "hello from "+to.Name {
					t.Errorf("%s (%s) -> %s (%s): %q", from.Name, fromNode, to.Name, toNode, out)
				}
			}
		}
		// The traffic crossed nodes through flannel's VXLAN device, not a
		// plain route on the shared bridge.
		remote := pods[nodeName(name, "agent", 0)].Status.PodIP
		if route := e.nodeExec(t, server, "ip", "route", "get", remote); !strings.Contains(route, "dev flannel.1") {
			t.Errorf("route from the server to pod %s is not via flannel.1: %s", remote, route)
		}
		// Every one of the 3 backends answers through the Service's name
		// (kube-proxy picks at random: 60 tries miss one with a chance
		// of 3 * (2/3)^60, about 1e-10).
		from := pods[nodeName(name, "agent", 0)]
		want := map[string]bool{}
		for _, p := range pods {
			want["hello from "+p.Name] = true
		}
		seen := map[string]bool{}
		for i := 0; i < 60 && len(seen) < len(want); i++ {
			out := strings.TrimSpace(e.nodeExec(t, server, "kubectl", "exec", from.Name, "--", "/echo", "get", "http://echo.default.svc.cluster.local/"))
			if !want[out] {
				t.Fatalf("ClusterIP by DNS name answered %q, not one of the echo pods", out)
			}
			seen[out] = true
		}
		if len(seen) != len(want) || len(want) != 3 {
			t.Errorf("ClusterIP by DNS name reached %d of the %d backends: %v", len(seen), len(want), seen)
		}
	})

	t.Run("NodePort at an agent's IP from the host", func(t *testing.T) {
		ip := nodeIP(ctx, t, client, nodeName(name, "agent", 1))
		if body := httpGet(ctx, t, fmt.Sprintf("http://%s:30082/", ip)); !strings.HasPrefix(body, "hello from echo-") {
			t.Errorf("NodePort answered %q", body)
		}
	})

	t.Run("ServiceAccount token with an RBAC Role lists pods", func(t *testing.T) {
		grantPodReader(ctx, t, client, "default")
		pod := pods[nodeName(name, "agent", 1)].Name
		out := e.nodeExec(t, server, "kubectl", "exec", pod, "--", "/echo", "api", "/api/v1/namespaces/default/pods")
		if !strings.Contains(out, `"kind":"PodList"`) || !strings.Contains(out, pod) {
			t.Errorf("in-cluster pod list: %.300s", out)
		}
	})

	t.Run("wrong token is refused fast and registers no node", func(t *testing.T) {
		agent := nodeName(name, "agent", 0)
		joinToken := strings.TrimSpace(e.nodeExec(t, server, "cat", "/var/lib/edgelet/server/token"))
		bad := map[string]string{
			"secret": joinToken[:len(joinToken)-4] + "zzzz",
			"CA pin": "E1" + strings.Repeat("0", 64) + joinToken[66:],
		}
		for what, tok := range bad {
			start := time.Now()
			res, err := e.p.Runtime().Exec(ctx, agent, []string{"timeout", "60", "edgelet", "agent",
				"--config", "/dev/null", "--data-dir", "/tmp/bad-join", "--node-name", "bad-join",
				"--server", "https://" + lbIP(t, e, name) + ":6443", "--token", tok}, nil)
			if err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			if res.ExitCode != 3 || !strings.Contains(res.Stderr, "join token rejected") || took > 30*time.Second {
				t.Errorf("wrong %s: exit %d after %s: %s", what, res.ExitCode, took, res.Stderr)
			}
			t.Logf("wrong %s refused in %s: %s", what, took.Round(time.Millisecond), lastLine(res.Stderr))
		}
		if _, err := client.CoreV1().Nodes().Get(ctx, "bad-join", metav1.GetOptions{}); err == nil {
			t.Error("a Node was registered with a wrong token")
		}
	})

	// rotate-secret: the old join token stops working, a new node joins
	// with the new one, and the running nodes go on without joining again
	// (the restarts below keep their Node UIDs).
	t.Run("rotate-secret", func(t *testing.T) {
		old := strings.TrimSpace(e.nodeExec(t, server, "cat", "/var/lib/edgelet/server/token"))
		uids := map[string]string{}
		for _, n := range []string{server, nodeName(name, "agent", 0), nodeName(name, "agent", 1)} {
			uids[n] = nodeUID(ctx, t, client, n)
		}
		bin := edgectlBinary(t)
		out, msgs, err := runEdgectl(ctx, bin, e.kubeconfig, "cluster", "rotate-secret", name)
		if err != nil {
			t.Fatalf("cluster rotate-secret: %v\n%s%s", err, out, msgs)
		}
		now := strings.TrimSpace(e.nodeExec(t, server, "cat", "/var/lib/edgelet/server/token"))
		if now == old || !strings.Contains(out, joinTokenID(now)) {
			t.Fatalf("the join token did not change (%s -> %s): %s", joinTokenID(old), joinTokenID(now), out)
		}
		res, err := e.p.Runtime().Exec(ctx, nodeName(name, "agent", 0), []string{"timeout", "60", "edgelet", "agent",
			"--config", "/dev/null", "--data-dir", "/tmp/old-join", "--node-name", "old-join",
			"--server", "https://" + lbIP(t, e, name) + ":6443", "--token", old}, nil)
		if err != nil || res.ExitCode != 3 || !strings.Contains(res.Stderr, "join token rejected") {
			t.Errorf("the old token: exit %d %v: %s", res.ExitCode, err, res.Stderr)
		}
		added, msgs, err := runEdgectl(ctx, bin, e.kubeconfig, "node", "add", "-c", name)
		if err != nil {
			t.Fatalf("node add after rotate-secret: %v\n%s", err, msgs)
		}
		waitNodeReady(ctx, t, client, strings.TrimSpace(added))
		if _, msgs, err := runEdgectl(ctx, bin, e.kubeconfig, "node", "delete", strings.TrimSpace(added)); err != nil {
			t.Fatalf("node delete: %v\n%s", err, msgs)
		}
		for n, uid := range uids {
			if got := nodeUID(ctx, t, client, n); got != uid {
				t.Errorf("%s joined again (Node UID %s -> %s)", n, uid, got)
			}
		}
	})

	t.Run("restarting an agent brings its pods back", func(t *testing.T) {
		agent := nodeName(name, "agent", 1)
		uid := nodeUID(ctx, t, client, agent)
		before := echoPods(ctx, t, client)[agent]
		restart(ctx, t, e, agent)
		waitRestarted(ctx, t, client, before)
		waitEchoReady(ctx, t, client, 3)
		if got := nodeUID(ctx, t, client, agent); got != uid {
			t.Errorf("agent re-registered as a new Node (uid %s -> %s)", uid, got)
		}
	})

	t.Run("restarting the server keeps the cluster without re-join", func(t *testing.T) {
		uids := map[string]string{}
		for _, n := range []string{nodeName(name, "agent", 0), nodeName(name, "agent", 1)} {
			uids[n] = nodeUID(ctx, t, client, n)
		}
		before := echoPods(ctx, t, client)[server]
		restart(ctx, t, e, server)
		waitRestarted(ctx, t, client, before)
		waitEchoReady(ctx, t, client, 3)
		for n, uid := range uids {
			if got := nodeUID(ctx, t, client, n); got != uid {
				t.Errorf("%s re-joined after a server restart (uid %s -> %s)", n, uid, got)
			}
		}
		ip := nodeIP(ctx, t, client, nodeName(name, "agent", 0))
		httpGet(ctx, t, fmt.Sprintf("http://%s:30082/", ip))
	})
}

// echoPods returns the echo pods by node.
func echoPods(ctx context.Context, t *testing.T, c kubernetes.Interface) map[string]corev1.Pod {
	t.Helper()
	list, err := c.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=echo"})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]corev1.Pod{}
	for _, p := range list.Items {
		out[p.Spec.NodeName] = p
	}
	return out
}

func waitEchoReady(ctx context.Context, t *testing.T, c kubernetes.Interface, want int32) {
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx, time.Second, 4*time.Minute, true, func(ctx context.Context) (bool, error) {
		d, err := c.AppsV1().Deployments("default").Get(ctx, "echo", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		nodes, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		for i := range nodes.Items {
			if !isReady(&nodes.Items[i]) {
				return false, nil
			}
		}
		return d.Status.ReadyReplicas == want && d.Status.UpdatedReplicas == want, nil
	})
	if err != nil {
		t.Fatalf("echo not ready again: %v", err)
	}
}

// waitRestarted waits until the pod's container has run again after its
// node restarted (a node restart loses every container, so kubelet must
// start them anew) and is ready.
func waitRestarted(ctx context.Context, t *testing.T, c kubernetes.Interface, before corev1.Pod) {
	t.Helper()
	count := func(p *corev1.Pod) int32 {
		if len(p.Status.ContainerStatuses) == 0 {
			return -1
		}
		return p.Status.ContainerStatuses[0].RestartCount
	}
	was := count(&before)
	err := wait.PollUntilContextTimeout(ctx, time.Second, 4*time.Minute, true, func(ctx context.Context) (bool, error) {
		p, err := c.CoreV1().Pods(before.Namespace).Get(ctx, before.Name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		ready := len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].Ready
		return count(p) > was && ready, nil
	})
	if err != nil {
		t.Fatalf("pod %s did not run again after its node restarted: %v", before.Name, err)
	}
}

// isReady reports whether the node's Ready condition is True.
func isReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func restart(ctx context.Context, t *testing.T, e *env, node string) {
	t.Helper()
	if err := e.p.Runtime().Stop(ctx, node); err != nil {
		t.Fatal(err)
	}
	if err := e.p.Runtime().Start(ctx, node); err != nil {
		t.Fatal(err)
	}
}

func nodeUID(ctx context.Context, t *testing.T, c kubernetes.Interface, name string) string {
	t.Helper()
	var uid string
	err := wait.PollUntilContextTimeout(ctx, time.Second, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		n, err := c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		uid = string(n.UID)
		return true, nil
	})
	if err != nil {
		t.Fatalf("node %s: %v", name, err)
	}
	return uid
}

func nodeIP(ctx context.Context, t *testing.T, c kubernetes.Interface, name string) string {
	t.Helper()
	n, err := c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			return a.Address
		}
	}
	t.Fatalf("node %s has no InternalIP", name)
	return ""
}

func lbIP(t *testing.T, e *env, cluster string) string {
	t.Helper()
	nodes, err := e.p.Nodes(context.Background(), cluster)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if n.Role == "loadbalancer" {
			return n.IP
		}
	}
	t.Fatal("no load balancer")
	return ""
}

// grantPodReader lets the namespace's default ServiceAccount list pods.
func grantPodReader(ctx context.Context, t *testing.T, c kubernetes.Interface, ns string) {
	t.Helper()
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "pod-reader", Namespace: ns},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}}}}
	if _, err := c.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "pod-reader", Namespace: ns},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "pod-reader"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "default", Namespace: ns}}}
	if _, err := c.RbacV1().RoleBindings(ns).Create(ctx, rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
