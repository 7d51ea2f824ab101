package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	"github.com/edgectl/edgectl/pkg/build/nodeimage"
)

// TestHA: 3 servers with embedded etcd behind the load balancer. With one
// server container killed, the API through the LB keeps answering and a new
// Deployment schedules and runs.
func TestHA(t *testing.T) {
	e := setup(t)
	const name = "e2e-ha"
	e.create(t, &v1alpha1.Cluster{Name: name, Servers: 3, Agents: 1})
	client := e.client(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	members := e.nodeExec(t, nodeName(name, "server", 0), "ls", "/var/lib/edgelet/server/etcd/member")
	if !strings.Contains(members, "wal") {
		t.Fatalf("server-0 has no etcd data: %s", members)
	}

	victim := nodeName(name, "server", 1)
	if err := e.p.Runtime().Kill(ctx, victim); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed %s", victim)
	// The API through the LB answers while the dead server is detected:
	// wait for its Node to turn NotReady, so the scheduler avoids it.
	err := wait.PollUntilContextTimeout(ctx, time.Second, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		n, err := client.CoreV1().Nodes().Get(ctx, victim, metav1.GetOptions{})
		return err == nil && !isReady(n), nil
	})
	if err != nil {
		t.Fatalf("node %s never went NotReady (API through the LB unusable?): %v", victim, err)
	}

	labels := map[string]string{"app": "after-kill"}
	replicas := int32(2)
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "after-kill", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "echo", Image: nodeimage.EchoImage}}}}},
	}
	// The LB needs a health-check round to drop the dead server; the
	// client retries until the API answers again.
	err = wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := client.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("API through the LB did not accept a Deployment after killing %s: %v", victim, err)
	}
	err = wait.PollUntilContextTimeout(ctx, time.Second, 4*time.Minute, true, func(ctx context.Context) (bool, error) {
		d, err := client.AppsV1().Deployments("default").Get(ctx, "after-kill", metav1.GetOptions{})
		return err == nil && d.Status.ReadyReplicas == replicas, nil
	})
	if err != nil {
		t.Fatalf("new Deployment did not run with one server down: %v", err)
	}
}
