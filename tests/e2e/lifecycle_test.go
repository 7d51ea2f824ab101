package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/edgectl/edgectl/internal/runtime"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	"github.com/edgectl/edgectl/pkg/cluster"
)

// TestLifecycle covers issue 4: a port published through the load balancer,
// stop/start keeping node IPs and workloads, and two clusters side by side
// where deleting one leaves the other working and nothing of its own behind.
func TestLifecycle(t *testing.T) {
	inLane(t, laneClusters)
	e := setup(t)
	const name = "e2e-life"
	hostPort := freeHostPort(t)
	e.create(t, &v1alpha1.Cluster{Name: name, Agents: 1,
		Ports: []v1alpha1.Port{{HostIP: "127.0.0.1", HostPort: hostPort, ContainerPort: 30083}}})
	client := e.client(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	deployEcho(ctx, t, client, "default", 2, 30083)
	viaLB := fmt.Sprintf("http://127.0.0.1:%d/", hostPort)
	wantEcho(ctx, t, viaLB)
	// The CLI commands below run through the binary, as a user runs them.
	bin := edgectlBinary(t)
	edgectl := func(args ...string) string {
		t.Helper()
		out, msgs, err := runEdgectl(ctx, bin, e.kubeconfig, args...)
		if err != nil {
			t.Fatalf("edgectl %s: %v\n%s%s", strings.Join(args, " "), err, out, msgs)
		}
		return out
	}

	t.Run("cluster list, node list, kubeconfig get and export logs", func(t *testing.T) {
		type summary struct{ Name, Servers, Agents string } // running/total
		var list []summary
		if err := json.Unmarshal([]byte(edgectl("cluster", "list", "-o", "json")), &list); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(list, summary{Name: name, Servers: "1/1", Agents: "1/1"}) {
			t.Errorf("cluster list -o json lacks %s with 1/1 servers and 1/1 agents running: %+v", name, list)
		}
		nodes := edgectl("node", "list", "-c", name)
		for _, n := range []string{nodeName(name, "server", 0), nodeName(name, "agent", 0), "edgectl-" + name + "-lb"} {
			if !strings.Contains(nodes, n) {
				t.Errorf("node list lacks %s:\n%s", n, nodes)
			}
		}
		kc, err := clientcmd.Load([]byte(edgectl("kubeconfig", "get", name)))
		if err != nil || kc.Contexts[cluster.Context(name)] == nil {
			t.Fatalf("kubeconfig get: %v %+v", err, kc)
		}
		restCfg, err := clientcmd.NewDefaultClientConfig(*kc, nil).ClientConfig()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kubernetes.NewForConfigOrDie(restCfg).Discovery().ServerVersion(); err != nil {
			t.Errorf("the kubeconfig of kubeconfig get does not reach the API: %v", err)
		}
		dir := t.TempDir()
		edgectl("export", "logs", name, dir)
		logs, _ := filepath.Glob(filepath.Join(dir, "*", "*"))
		if !slices.ContainsFunc(logs, func(f string) bool { return strings.Contains(f, nodeName(name, "server", 0)) }) {
			t.Errorf("export logs wrote nothing of the server under %s: %v", dir, logs)
		}
	})

	t.Run("stop and start keep IPs and workloads", func(t *testing.T) {
		before := ips(t, e, name)
		edgectl("cluster", "stop", name)
		for _, n := range mustNodes(t, e, name) {
			if n.State == "running" {
				t.Errorf("%s still running after stop", n.Name)
			}
		}
		edgectl("cluster", "start", name, "--wait", "4m")
		if after := ips(t, e, name); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("node IPs changed: %v -> %v", before, after)
		}
		waitEchoReady(ctx, t, client, 2)
		wantEcho(ctx, t, viaLB)
	})

	t.Run("node add --count joins, node delete drains and removes", func(t *testing.T) {
		added := strings.Fields(edgectl("node", "add", "-c", name, "--count", "2"))
		if strings.Join(added, " ") != nodeName(name, "agent", 1)+" "+nodeName(name, "agent", 2) {
			t.Fatalf("node add --count 2 added %v", added)
		}
		for _, n := range added {
			waitNodeReady(ctx, t, client, n)
		}
		edgectl("node", "delete", added[1])
		node := added[0]
		// The published port now reaches the new agent too.
		ip := nodeIP(ctx, t, client, node)
		lbConf := func() string { return e.nodeExec(t, "edgectl-"+name+"-lb", "cat", "/etc/edgectl/haproxy.cfg") }
		if !strings.Contains(lbConf(), ip+":30083") {
			t.Errorf("load balancer does not forward to the new agent %s:\n%s", ip, lbConf())
		}
		edgectl("node", "delete", node)
		if _, err := client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{}); err == nil {
			t.Errorf("Node %s still exists", node)
		}
		for _, n := range mustNodes(t, e, name) {
			if n.Name == node {
				t.Errorf("container %s still exists", node)
			}
		}
		if strings.Contains(lbConf(), ip+":") {
			t.Errorf("load balancer still forwards to the deleted agent %s:\n%s", ip, lbConf())
		}
		wantEcho(ctx, t, viaLB)
	})

	t.Run("image import: an image built here runs with no registry", func(t *testing.T) {
		bin := edgectlBinary(t)
		image := buildAppImage(ctx, t)
		edgectl := func(args ...string) (string, int) {
			out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
			return string(out), exitCode(err)
		}
		if out, code := edgectl("image", "import", image+"-missing", "-c", name); code != 6 || !strings.Contains(out, "docker build") {
			t.Errorf("import of a missing image: exit %d, want 6 with a hint:\n%s", code, out)
		}
		// --nodes: into the agent only.
		if out, code := edgectl("image", "import", image, "-c", name, "--nodes", "agent-0"); code != 0 {
			t.Fatalf("image import --nodes agent-0: exit %d\n%s", code, out)
		}
		agent, server := nodeName(name, "agent", 0), nodeName(name, "server", 0)
		inNode := func(node, ref string) bool {
			return strings.Contains(e.nodeExec(t, node, "ctr", "-n", "k8s.io", "images", "ls", "-q"), ref)
		}
		if !inNode(agent, image) || inNode(server, image) {
			t.Errorf("image import --nodes agent-0: in the agent %v, in the server %v", inNode(agent, image), inNode(server, image))
		}
		// --archive: a `docker save` tarball, into the server only.
		archived := image + "-archived"
		tarball := filepath.Join(t.TempDir(), "images.tar")
		if out, err := exec.CommandContext(ctx, "sh", "-c", `docker tag "$0" "$1" && docker save -o "$2" "$1" && docker rmi "$1"`, image, archived, tarball).CombinedOutput(); err != nil {
			t.Fatalf("docker save: %v\n%s", err, out)
		}
		if out, code := edgectl("image", "import", "--archive", tarball, "-c", name, "--nodes", "server-0"); code != 0 {
			t.Fatalf("image import --archive: exit %d\n%s", code, out)
		}
		if !inNode(server, archived) || inNode(agent, archived) {
			t.Errorf("image import --archive --nodes server-0: in the server %v, in the agent %v", inNode(server, archived), inNode(agent, archived))
		}
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "imported"},
			Spec: corev1.PodSpec{NodeName: agent, Containers: []corev1.Container{{
				Name: "app", Image: image, ImagePullPolicy: corev1.PullNever,
			}}},
		}
		if _, err := client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		err := wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
			p, err := client.CoreV1().Pods("default").Get(ctx, "imported", metav1.GetOptions{})
			return err == nil && p.Status.Phase == corev1.PodRunning, nil
		})
		if err != nil {
			p, _ := client.CoreV1().Pods("default").Get(ctx, "imported", metav1.GetOptions{})
			t.Fatalf("pod of the imported image on %s not running: %v %+v", agent, err, p.Status)
		}
	})

	t.Run("a second cluster is deleted without touching the first", func(t *testing.T) {
		const other = "e2e-other"
		e.create(t, &v1alpha1.Cluster{Name: other})
		edgectl("cluster", "delete", other)
		if objs := e.engineObjects(t, other); len(objs) > 0 {
			t.Errorf("delete left %v", objs)
		}
		if len(e.engineObjects(t, name)) == 0 {
			t.Fatal("deleting the other cluster removed this one")
		}
		wantEcho(ctx, t, viaLB)
		merged := filepath.Join(t.TempDir(), "merged")
		edgectl("kubeconfig", "merge", name, "--kubeconfig", merged)
		kc, err := clientcmd.LoadFromFile(merged)
		if err != nil || kc.CurrentContext != cluster.Context(name) || kc.Contexts[cluster.Context(name)] == nil {
			t.Errorf("kubeconfig merge: %v %+v", err, kc)
		}
	})
}

// wantEcho GETs url and fails the test unless an echo pod answered.
func wantEcho(ctx context.Context, t *testing.T, url string) {
	t.Helper()
	if body := httpGet(ctx, t, url); !strings.HasPrefix(body, "hello from echo-") {
		t.Fatalf("%s answered %q, not an echo pod", url, body)
	}
}

func waitNodeReady(ctx context.Context, t *testing.T, c kubernetes.Interface, name string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx, time.Second, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		n, err := c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		return err == nil && isReady(n), nil
	})
	if err != nil {
		t.Fatalf("node %s not Ready: %v", name, err)
	}
}

func mustNodes(t *testing.T, e *env, name string) []cluster.Node {
	t.Helper()
	nodes, err := e.p.Nodes(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return nodes
}

func ips(t *testing.T, e *env, name string) map[string]string {
	t.Helper()
	cs, err := e.p.Runtime().List(context.Background(), map[string]string{runtime.LabelCluster: name})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, c := range cs {
		if c.IP != "" {
			out[c.Name] = c.IP
		}
	}
	return out
}

// buildAppImage builds a one-binary image (the echo server, FROM scratch)
// into the engine with `docker build`, as a user builds an app; nothing is
// pulled. The image is removed when the test ends.
func buildAppImage(ctx context.Context, t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	build := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(dir, "app"), "./images/echo")
	build.Dir = repoRoot()
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build app: %v\n%s", err, out)
	}
	dockerfile := "FROM scratch\nCOPY app /app\nENTRYPOINT [\"/app\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	image := fmt.Sprintf("edgectl-e2e/app:%d", time.Now().UnixNano())
	if out, err := exec.CommandContext(ctx, "docker", "build", "-q", "-t", image, dir).CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", image).Run() })
	return image
}
