package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	"github.com/edgectl/edgectl/pkg/edgelet/servicelb"
)

// TestLoadBalancerServices (issue 12): a LoadBalancer Service gets an
// EXTERNAL-IP from network.loadBalancerRange within seconds; it answers from
// the host, from a pod, and through a port published on the load balancer
// container; externalTrafficPolicy Local keeps the client's address; another
// loadBalancerClass is left alone; an exhausted range leaves a Service
// Pending with an Event, and deleting a Service frees its address.
func TestLoadBalancerServices(t *testing.T) {
	inLane(t, laneClusters)
	e := setup(t)
	const name, subnet = "e2e-lb", "10.89.249.0/24"
	const first, second, gateway = "10.89.249.240", "10.89.249.241", "10.89.249.1"
	hostPort := freeHostPort(t)
	e.create(t, &v1alpha1.Cluster{Name: name, Agents: 1,
		Network: v1alpha1.Network{Subnet: subnet, LoadBalancerRange: first + "-" + second},
		Ports:   []v1alpha1.Port{{HostIP: "127.0.0.1", HostPort: hostPort, ContainerPort: 8090}}})
	client := e.client(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	deployEcho(ctx, t, client, "default", 2, 0)

	start := time.Now()
	createLB(ctx, t, client, "web", 8090, nil)
	if ip := waitIngress(ctx, t, client, "web"); ip != first {
		t.Fatalf("web got %s, want %s", ip, first)
	}
	t.Logf("EXTERNAL-IP assigned %s after the Service was created", time.Since(start).Round(10*time.Millisecond))
	if body := httpGet(ctx, t, "http://"+first+":8090/"); !strings.HasPrefix(body, "hello from") {
		t.Errorf("EXTERNAL-IP from the host: %q", body)
	}
	if body := httpGet(ctx, t, fmt.Sprintf("http://127.0.0.1:%d/", hostPort)); !strings.HasPrefix(body, "hello from") {
		t.Errorf("published @loadbalancer port: %q", body)
	}
	pods := echoPods(ctx, t, client)
	for node, pod := range pods {
		out := e.nodeExec(t, nodeName(name, "server", 0), "kubectl", "exec", pod.Name, "--", "/echo", "get", "http://"+first+":8090/")
		if !strings.HasPrefix(out, "hello from") {
			t.Errorf("EXTERNAL-IP from a pod on %s: %q", node, out)
		}
	}

	// Local: the address is held by a node that runs an endpoint, and the
	// pod sees the host's own address on the cluster's network.
	createLB(ctx, t, client, "local", 8091, func(s *corev1.Service) {
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	})
	if ip := waitIngress(ctx, t, client, "local"); ip != second {
		t.Fatalf("local got %s, want %s", ip, second)
	}
	if body := strings.TrimSpace(httpGet(ctx, t, "http://"+second+":8091/ip")); body != gateway {
		t.Errorf("externalTrafficPolicy Local: the pod saw %q, want the host's %s", body, gateway)
	}

	other := "example.com/other"
	createLB(ctx, t, client, "other-class", 8092, func(s *corev1.Service) { s.Spec.LoadBalancerClass = &other })
	createLB(ctx, t, client, "third", 8093, nil)
	waitEvent(ctx, t, client, "third", servicelb.ReasonAllocationFailed, "no free address")
	for _, svc := range []string{"other-class", "third"} {
		got, err := client.CoreV1().Services("default").Get(ctx, svc, metav1.GetOptions{})
		if err != nil || len(got.Status.LoadBalancer.Ingress) != 0 || got.Labels[servicelb.LabelNode] != "" {
			t.Errorf("%s: %+v %v %v", svc, got.Status.LoadBalancer, got.Labels, err)
		}
	}

	if err := client.CoreV1().Services("default").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if ip := waitIngress(ctx, t, client, "third"); ip != first {
		t.Fatalf("third got %s after web was deleted, want %s", ip, first)
	}
	if body := httpGet(ctx, t, "http://"+first+":8093/"); !strings.HasPrefix(body, "hello from") {
		t.Errorf("freed address for third: %q", body)
	}
	// Exactly one node holds each address.
	for _, ip := range []string{first, second} {
		holders := 0
		for _, node := range []string{nodeName(name, "server", 0), nodeName(name, "agent", 0)} {
			if strings.Contains(e.nodeExec(t, node, "ip", "-4", "-o", "addr", "show"), " "+ip+"/32 ") {
				holders++
			}
		}
		if holders != 1 {
			t.Errorf("%s is held by %d nodes", ip, holders)
		}
	}
	if t.Failed() {
		t.Log(e.nodeExec(t, nodeName(name, "server", 0), "kubectl", "get", "svc,events", "-o", "wide"))
	}
}

// createLB makes a LoadBalancer Service for the echo pods on port.
func createLB(ctx context.Context, t *testing.T, c kubernetes.Interface, name string, port int32, mutate func(*corev1.Service)) {
	t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: map[string]string{"app": "echo"},
			Ports: []corev1.ServicePort{{Port: port, TargetPort: intstr.FromInt32(8080)}}},
	}
	if mutate != nil {
		mutate(svc)
	}
	if _, err := c.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// waitIngress waits for the Service's EXTERNAL-IP.
func waitIngress(ctx context.Context, t *testing.T, c kubernetes.Interface, name string) string {
	t.Helper()
	var ip string
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		svc, err := c.CoreV1().Services("default").Get(ctx, name, metav1.GetOptions{})
		if err == nil && len(svc.Status.LoadBalancer.Ingress) > 0 {
			ip = svc.Status.LoadBalancer.Ingress[0].IP
		}
		return ip != "", nil
	})
	if err != nil {
		t.Fatalf("Service %s got no EXTERNAL-IP: %v", name, err)
	}
	return ip
}

// waitEvent waits for an Event of reason on the Service whose message holds text.
func waitEvent(ctx context.Context, t *testing.T, c kubernetes.Interface, svc, reason, text string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx, time.Second, time.Minute, true, func(ctx context.Context) (bool, error) {
		evs, err := c.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + svc})
		if err != nil {
			return false, nil
		}
		for _, ev := range evs.Items {
			if ev.Reason == reason && strings.Contains(ev.Message, text) {
				t.Logf("event on %s: %s: %s", svc, ev.Reason, ev.Message)
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("no %s event on %s: %v", reason, svc, err)
	}
}
