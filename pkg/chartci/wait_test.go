package chartci

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestWaitReasons(t *testing.T) {
	wffc := storagev1.VolumeBindingWaitForFirstConsumer
	class, missing := "local-path", "nosuch"
	one := int32(1)
	lbClass := "example.com/none"
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	client := fake.NewSimpleClientset(
		&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: class}, VolumeBindingMode: &wffc},
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "unused", Namespace: "ns"},
			Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &class}},
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "lost", Namespace: "ns"},
			Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &missing}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"},
			Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: sel}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "ns", Labels: sel.MatchLabels},
			Status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{Name: "web",
				State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImageNeverPull"}}}}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "lb", Namespace: "ns"},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, LoadBalancerClass: &lbClass}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "plain", Namespace: "ns"}},
	)
	objs := []object{{Kind: "PersistentVolumeClaim", Namespace: "ns", Name: "unused"},
		{Kind: "PersistentVolumeClaim", Namespace: "ns", Name: "lost"},
		{Kind: "Deployment", Namespace: "ns", Name: "web"},
		{Kind: "Service", Namespace: "ns", Name: "lb"}, {Kind: "Service", Namespace: "ns", Name: "plain"},
		{Kind: "ConfigMap", Namespace: "ns", Name: "any"}}
	err := waitReady(context.Background(), client, objs, 2*time.Second)
	if err == nil {
		t.Fatal("the wait ended without an error")
	}
	msg := err.Error()
	for _, want := range []string{
		`PersistentVolumeClaim ns/lost: Pending: StorageClass "nosuch" does not exist`,
		"Deployment ns/web: 0 of 1 replicas available",
		"pod web-1: Pending; container web waiting: ErrImageNeverPull",
		`Service ns/lb: type LoadBalancer, no ingress address yet (loadBalancerClass "example.com/none"`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("no %q in:\n%s", want, msg)
		}
	}
	for _, ready := range []string{"ns/unused", "ns/plain", "ConfigMap"} {
		if strings.Contains(msg, ready) {
			t.Errorf("%s is ready but named:\n%s", ready, msg)
		}
	}
}

func TestWaitFailedJobEndsAtOnce(t *testing.T) {
	client := fake.NewSimpleClientset(&batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "migrate", Namespace: "ns"},
		Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue,
			Reason: "BackoffLimitExceeded"}}}})
	err := waitReady(context.Background(), client, []object{{Kind: "Job", Namespace: "ns", Name: "migrate"}}, time.Hour)
	if !errors.Is(err, errFailed) || !strings.Contains(err.Error(), "Job ns/migrate: Job failed: BackoffLimitExceeded") {
		t.Errorf("got %v", err)
	}
}
