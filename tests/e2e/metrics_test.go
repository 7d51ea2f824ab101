package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	"github.com/edgectl/edgectl/pkg/build/nodeimage"
)

// TestMetricsServer (issue 12): the metrics API is Available and `kubectl
// top nodes` lists every node soon after create; an HPA with a CPU target
// scales a Deployment up under load and back down after it.
func TestMetricsServer(t *testing.T) {
	inLane(t, laneClusters)
	e := setup(t)
	const name = "e2e-metrics"
	e.create(t, &v1alpha1.Cluster{Name: name, Agents: 1})
	created := time.Now()
	client := e.client(t, name)
	server := nodeName(name, "server", 0)
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()

	var top string
	err := wait.PollUntilContextTimeout(ctx, 2*time.Second, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		res, err := e.p.Runtime().Exec(ctx, server, []string{"kubectl", "top", "nodes", "--no-headers"}, nil)
		top = res.Stdout + res.Stderr
		return err == nil && res.ExitCode == 0 && strings.Contains(top, nodeName(name, "agent", 0)) && strings.Contains(top, server), nil
	})
	if err != nil {
		t.Fatalf("kubectl top nodes: %v\n%s", err, top)
	}
	t.Logf("kubectl top nodes answered %s after create returned:\n%s", time.Since(created).Round(time.Second), top)
	if got := e.nodeExec(t, server, "kubectl", "get", "apiservice", "v1beta1.metrics.k8s.io",
		"-o", "jsonpath={.status.conditions[?(@.type=='Available')].status}"); got != "True" {
		t.Errorf("APIService v1beta1.metrics.k8s.io Available=%q", got)
	}
	// Pod metrics need a second scrape after the first node metrics:
	// "metrics not available yet" until then.
	err = wait.PollUntilContextTimeout(ctx, 2*time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		res, err := e.p.Runtime().Exec(ctx, server, []string{"kubectl", "top", "pods", "-n", "kube-system", "--no-headers"}, nil)
		top = res.Stdout + res.Stderr
		return err == nil && res.ExitCode == 0 && strings.Contains(top, "coredns"), nil
	})
	if err != nil {
		t.Errorf("kubectl top pods: %v\n%s", err, top)
	}

	deployBurner(ctx, t, client)
	createLB(ctx, t, client, "burn", 80, func(s *corev1.Service) { s.Spec.Selector = map[string]string{"app": "burn"} })
	url := fmt.Sprintf("http://%s/burn?ms=50", waitIngress(ctx, t, client, "burn"))
	httpGet(ctx, t, url)
	createHPA(ctx, t, client)

	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := &http.Client{Timeout: 5 * time.Second}
			for loadCtx.Err() == nil {
				if resp, err := hc.Get(url); err == nil {
					resp.Body.Close()
				}
			}
		}()
	}
	up := waitReplicas(ctx, t, client, "scale up under load", func(n int32) bool { return n >= 2 })
	stopLoad()
	wg.Wait()
	t.Logf("scaled 1 -> %d under load", up)
	waitReplicas(ctx, t, client, "scale down without load", func(n int32) bool { return n == 1 })
}

// deployBurner runs one echo replica with a CPU request, for the HPA.
func deployBurner(ctx context.Context, t *testing.T, c kubernetes.Interface) {
	t.Helper()
	labels := map[string]string{"app": "burn"}
	one := int32(1)
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "burn", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "echo", Image: nodeimage.EchoImage, ImagePullPolicy: corev1.PullIfNotPresent,
					Ports:     []corev1.ContainerPort{{ContainerPort: 8080}},
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}}}}},
	}
	if _, err := c.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// createHPA scales burn between 1 and 3 replicas at 50 % CPU, and down at
// once when the load is gone (the default waits 5 minutes).
func createHPA(ctx context.Context, t *testing.T, c kubernetes.Interface) {
	t.Helper()
	fifty, zero := int32(50), int32(0)
	hpa := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "burn", Namespace: "default"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "burn"},
			MaxReplicas:    3,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &fifty}}}},
			Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: &zero}},
		},
	}
	if _, err := c.AutoscalingV2().HorizontalPodAutoscalers("default").Create(ctx, hpa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// waitReplicas waits until the HPA's desired replicas satisfy ok.
func waitReplicas(ctx context.Context, t *testing.T, c kubernetes.Interface, what string, ok func(int32) bool) int32 {
	t.Helper()
	var last *autoscalingv2.HorizontalPodAutoscaler
	err := wait.PollUntilContextTimeout(ctx, 2*time.Second, 5*time.Minute, true, func(ctx context.Context) (bool, error) {
		hpa, err := c.AutoscalingV2().HorizontalPodAutoscalers("default").Get(ctx, "burn", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = hpa
		return ok(hpa.Status.DesiredReplicas), nil
	})
	if err != nil {
		t.Fatalf("%s: %v; HPA status %+v", what, err, last.Status)
	}
	return last.Status.DesiredReplicas
}
