package e2e

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
)

// checkNoLeak: connections to the cluster's ranges that nothing in the
// cluster serves are refused on the node, from the node and from a pod,
// instead of being routed off the machine (issue 11): an unused ClusterIP,
// a port removed from a Service, and a pod IP of no node. A refusal is a
// reset ("connection refused"); a leak would time out or be answered.
func checkNoLeak(ctx context.Context, t *testing.T, e *env, client kubernetes.Interface, server, pod string) {
	t.Helper()
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "two-ports", Namespace: "default"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "echo"}, Ports: []corev1.ServicePort{
			{Name: "a", Port: 80, TargetPort: intstr.FromInt32(8080)}, {Name: "b", Port: 81, TargetPort: intstr.FromInt32(8080)}}}}
	created, err := client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Spec.Ports = created.Spec.Ports[:1]
	if _, err := client.CoreV1().Services("default").Update(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	ip := created.Spec.ClusterIP
	for what, target := range map[string]string{
		"an unused ClusterIP":           "10.43.200.200:80",
		"a port removed from a Service": ip + ":81",
		"a pod IP of no node":           "10.42.250.5:80",
	} {
		host, port, _ := strings.Cut(target, ":")
		// From the node itself (OUTPUT).
		res, err := e.p.Runtime().Exec(ctx, server, []string{"timeout", "15", "bash", "-c", "exec 3<>/dev/tcp/" + host + "/" + port}, nil)
		if err != nil || res.ExitCode == 0 || res.ExitCode == 124 || !strings.Contains(res.Stderr, "Connection refused") {
			t.Errorf("node -> %s (%s): exit %d %v: %s", what, target, res.ExitCode, err, res.Stderr)
		}
		// From a pod (FORWARD).
		res, err = e.p.Runtime().Exec(ctx, server, []string{"kubectl", "exec", pod, "--", "/echo", "get", "http://" + target + "/"}, nil)
		if err != nil || res.ExitCode == 0 || !strings.Contains(res.Stderr, "connection refused") {
			t.Errorf("pod -> %s (%s): exit %d %v: %s", what, target, res.ExitCode, err, res.Stderr)
		}
	}
}
