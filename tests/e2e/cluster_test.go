package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	"github.com/edgectl/edgectl/pkg/build/nodeimage"
	"github.com/edgectl/edgectl/pkg/cluster"
)

// TestSingleServer is the thin slice: one node from our image runs edgelet,
// becomes Ready, runs pods from the offline images, and serves them through
// a NodePort; kubectl logs and exec work through the kubelet.
func TestSingleServer(t *testing.T) {
	inLane(t, laneClusters)
	e := setup(t)
	const name = "e2e-one"
	e.create(t, &v1alpha1.Cluster{Name: name, Nodes: []v1alpha1.Node{{Role: "server", Index: 0,
		Labels: map[string]string{"edgectl.io/site": "store-17"}, Taints: []string{"edge=true:PreferNoSchedule"}}}})
	client := e.client(t, name)
	server := nodeName(name, "server", 0)

	// The offline bundle was imported, so no system image was pulled.
	images := e.nodeExec(t, server, "ctr", "-n", "k8s.io", "images", "ls", "-q")
	// Also under their upstream names, for manifests that name those.
	for _, img := range []string{nodeimage.PauseImage, nodeimage.CoreDNSImage, nodeimage.UpstreamPauseImage, nodeimage.UpstreamCoreDNSImage} {
		if !strings.Contains(images, img) {
			t.Errorf("image %s not in containerd:\n%s", img, images)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	deployEcho(ctx, t, client, "default", 2, 30081)
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Per-node labels and taints from the config reach the Node object.
	if n := nodes.Items[0]; n.Labels["edgectl.io/site"] != "store-17" || len(n.Spec.Taints) != 1 ||
		n.Spec.Taints[0].Key != "edge" || n.Spec.Taints[0].Effect != corev1.TaintEffectPreferNoSchedule {
		t.Errorf("node labels %v, taints %v: want edgectl.io/site=store-17 and edge=true:PreferNoSchedule", n.Labels, n.Spec.Taints)
	}
	// A kind or k3s user sees the server's role and a real runtime version.
	err = wait.PollUntilContextTimeout(ctx, time.Second, time.Minute, true, func(ctx context.Context) (bool, error) {
		n, err := client.CoreV1().Nodes().Get(ctx, server, metav1.GetOptions{})
		_, ok := n.Labels["node-role.kubernetes.io/control-plane"]
		return err == nil && ok, nil
	})
	if err != nil {
		t.Errorf("the server Node has no node-role.kubernetes.io/control-plane label")
	}
	if v := nodes.Items[0].Status.NodeInfo.ContainerRuntimeVersion; v != "containerd://"+strings.TrimPrefix(nodeimage.ContainerdVersion, "v") {
		t.Errorf("runtime version %q", v)
	}
	nodeIP := nodes.Items[0].Status.Addresses[0].Address
	body := httpGet(ctx, t, fmt.Sprintf("http://%s:30081/", nodeIP))
	if !strings.HasPrefix(body, "hello from echo-") {
		t.Fatalf("NodePort answered %q", body)
	}

	// kubectl logs and exec go apiserver -> kubelet -> containerd.
	pods, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=echo"})
	if err != nil || len(pods.Items) == 0 {
		t.Fatalf("no echo pods: %v", err)
	}
	pod := pods.Items[0].Name
	if logs := e.nodeExec(t, server, "kubectl", "logs", pod); !strings.Contains(logs, "listening on :8080") {
		t.Errorf("kubectl logs %s: %q", pod, logs)
	}
	if out := e.nodeExec(t, server, "kubectl", "exec", pod, "--", "/echo", "get", "http://echo.default.svc.cluster.local/"); !strings.HasPrefix(out, "hello from echo-") {
		t.Errorf("kubectl exec + cluster DNS + ClusterIP: %q", out)
	}
	checkNoLeak(ctx, t, e, client, server, pod)

	// kubectl port-forward, then a plain HTTP request to the forwarded port.
	script := `kubectl port-forward pod/` + pod + ` 18080:8080 >/dev/null 2>&1 & pf=$!
for i in $(seq 100); do
  if exec 3<>/dev/tcp/127.0.0.1/18080 2>/dev/null; then printf 'GET / HTTP/1.0\r\n\r\n' >&3; cat <&3; break; fi
  sleep 0.1
done
kill $pf`
	if out := e.nodeExec(t, server, "bash", "-c", script); !strings.Contains(out, "hello from "+pod) {
		t.Errorf("kubectl port-forward: %q", out)
	}

	// One server on SQLite cannot grow: a clear error, and nothing added.
	_, err = e.p.AddNode(ctx, cluster.AddNodeOptions{Cluster: name, Role: "server", Wait: 3 * time.Minute})
	if edgeerrors.ExitCode(err) != edgeerrors.ExitCode(edgeerrors.New(edgeerrors.KindInvalidConfig, "", "")) || !strings.Contains(err.Error(), "embedded etcd") {
		t.Errorf("node add --role server on a SQLite cluster: %v", err)
	}
	if n := len(mustNodes(t, e, name)); n != 2 {
		t.Errorf("cluster has %d containers after the refused add, want 2", n)
	}
}

// TestInvalidConfigCreatesNothing checks that every problem is reported at
// once and that nothing reaches the engine.
func TestInvalidConfigCreatesNothing(t *testing.T) {
	e := setup(t)
	cfg, err := v1alpha1.Parse([]byte("apiVersion: edgectl.io/v1alpha1\nkind: Cluster\nname: e2e-bad\nservers: 2\nagents: -3\nnetwork: {subnet: 10.43.0.0/24}\n"))
	if err != nil {
		t.Fatal(err)
	}
	err = e.p.Create(context.Background(), cluster.CreateOptions{Config: cfg, Kubeconfig: e.kubeconfig})
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, want := range []string{"servers 2", "agents -3", "overlaps kubernetes.serviceCIDR"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if objs := e.engineObjects(t, "e2e-bad"); len(objs) > 0 {
		t.Fatalf("invalid config created %v", objs)
	}
}

func (e *env) client(t testing.TB, name string) kubernetes.Interface {
	t.Helper()
	return e.clientWith(t, name, nil)
}

// clientWith is a client of the cluster's context, with tune applied to
// its REST config first (nil: client-go's defaults).
func (e *env) clientWith(t testing.TB, name string, tune func(*rest.Config)) kubernetes.Interface {
	t.Helper()
	cfg := e.restConfig(t, name)
	if tune != nil {
		tune(cfg)
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// restConfig is the REST config of the cluster's context.
func (e *env) restConfig(t testing.TB, name string) *rest.Config {
	t.Helper()
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: e.kubeconfig},
		&clientcmd.ConfigOverrides{CurrentContext: cluster.Context(name)}).ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// deployEcho runs the echo image with a NodePort Service and waits until all
// replicas are ready.
func deployEcho(ctx context.Context, t *testing.T, c kubernetes.Interface, ns string, replicas int32, nodePort int32) {
	t.Helper()
	deployEchoAs(ctx, t, c, ns, "echo", replicas, nodePort, nil)
}

// deployEchoAs is deployEcho of a Deployment and Service called name, with
// tune applied to its pod spec first (nil: none).
func deployEchoAs(ctx context.Context, t *testing.T, c kubernetes.Interface, ns, name string, replicas int32, nodePort int32, tune func(*corev1.PodSpec)) {
	t.Helper()
	labels := map[string]string{"app": name}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					// One replica per node, so cross-node traffic is tested.
					TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "kubernetes.io/hostname",
						WhenUnsatisfiable: corev1.ScheduleAnyway, LabelSelector: &metav1.LabelSelector{MatchLabels: labels}}},
					Containers: []corev1.Container{{
						Name: "echo", Image: nodeimage.EchoImage, ImagePullPolicy: corev1.PullIfNotPresent,
						Ports:          []corev1.ContainerPort{{ContainerPort: 8080}},
						ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}}, PeriodSeconds: 1},
					}}},
			},
		},
	}
	if tune != nil {
		tune(&dep.Spec.Template.Spec)
	}
	if _, err := c.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Selector: labels,
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080), NodePort: nodePort}}},
	}
	if _, err := c.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err := wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
		d, err := c.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		return err == nil && d.Status.ReadyReplicas == replicas, nil
	})
	if err != nil {
		pods, _ := c.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
		for _, p := range pods.Items {
			t.Logf("pod %s on %s: %s %v", p.Name, p.Spec.NodeName, p.Status.Phase, p.Status.ContainerStatuses)
		}
		t.Fatalf("%s deployment not ready: %v", name, err)
	}
}

// httpGet retries until the URL answers 200 (kube-proxy programs NodePorts
// asynchronously) and returns the body.
func httpGet(ctx context.Context, t *testing.T, url string) string {
	t.Helper()
	client := &http.Client{Timeout: 3 * time.Second}
	var body string
	var last error
	err := wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
		resp, err := client.Get(url)
		if err != nil {
			last = err
			return false, nil
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		t.Fatalf("GET %s: %v (last error %v)", url, err, last)
	}
	return body
}
