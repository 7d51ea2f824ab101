package e2e

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	"github.com/edgectl/edgectl/pkg/build/nodeimage"
)

// TestLocalPathStorage (issue 12): the default StorageClass local-path gives
// a claim a directory on the node its pod runs on; the data survives a pod
// restart, an edgelet restart and cluster stop/start; deleting the claim
// deletes the volume and its data on the node.
func TestLocalPathStorage(t *testing.T) {
	e := setup(t)
	const name = "e2e-storage"
	e.create(t, &v1alpha1.Cluster{Name: name, Agents: 1})
	client := e.client(t, name)
	agent := nodeName(name, "agent", 0)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	sc, err := client.StorageV1().StorageClasses().Get(ctx, "local-path", metav1.GetOptions{})
	if err != nil || sc.Annotations["storageclass.kubernetes.io/is-default-class"] != "true" ||
		sc.VolumeBindingMode == nil || *sc.VolumeBindingMode != storagev1.VolumeBindingWaitForFirstConsumer {
		t.Fatalf("default StorageClass local-path: %+v %v", sc, err)
	}
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "default"},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Mi")}}}}
	if _, err := client.CoreV1().PersistentVolumeClaims("default").Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	startWriter(ctx, t, client, agent)
	kubectl := func(args ...string) string {
		return e.nodeExec(t, nodeName(name, "server", 0), append([]string{"kubectl"}, args...)...)
	}
	kubectl("exec", "writer", "--", "/echo", "write", "/data/f", "kept")
	got, err := client.CoreV1().PersistentVolumeClaims("default").Get(ctx, "data", metav1.GetOptions{})
	if err != nil || got.Status.Phase != corev1.ClaimBound {
		t.Fatalf("claim not bound: %+v %v", got.Status, err)
	}
	pv, err := client.CoreV1().PersistentVolumes().Get(ctx, got.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := pv.Spec.HostPath.Path
	if out := e.nodeExec(t, agent, "cat", dir+"/f"); out != "kept" {
		t.Fatalf("the data is not in %s on %s: %q", dir, agent, out)
	}
	// The pod's volume is read through kubectl exec, which needs the node's
	// kubelet back after a restart: read until it answers.
	check := func(when string) {
		t.Helper()
		var last string
		err := wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
			res, err := e.p.Runtime().Exec(ctx, nodeName(name, "server", 0), []string{"kubectl", "exec", "writer", "--", "/echo", "cat", "/data/f"}, nil)
			last = res.Stdout + res.Stderr
			return err == nil && res.ExitCode == 0, nil
		})
		if err != nil || last != "kept" {
			t.Errorf("%s: the volume holds %q (%v)", when, last, err)
		}
	}

	if err := client.CoreV1().Pods("default").Delete(ctx, "writer", metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatal(err)
	}
	waitGone(ctx, t, client, "writer")
	startWriter(ctx, t, client, agent)
	check("after a pod restart")

	e.nodeExec(t, agent, "systemctl", "restart", "edgelet")
	waitNodeReady(ctx, t, client, agent)
	check("after an edgelet restart")

	if err := e.p.Stop(ctx, name); err != nil {
		t.Fatal(err)
	}
	if err := e.p.Start(ctx, name, 4*time.Minute); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, time.Second, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		p, err := client.CoreV1().Pods("default").Get(ctx, "writer", metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning && isPodReady(p), nil
	})
	if err != nil {
		t.Fatalf("writer not running after stop/start: %v", err)
	}
	check("after cluster stop and start")

	// reclaim Delete: the volume and the data on the node go with the claim.
	if err := client.CoreV1().Pods("default").Delete(ctx, "writer", metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatal(err)
	}
	waitGone(ctx, t, client, "writer")
	if err := client.CoreV1().PersistentVolumeClaims("default").Delete(ctx, "data", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 2*time.Second, 4*time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := client.CoreV1().PersistentVolumes().Get(ctx, pv.Name, metav1.GetOptions{})
		res, _ := e.p.Runtime().Exec(ctx, agent, []string{"test", "-e", dir}, nil)
		return err != nil && res.ExitCode == 1, nil
	})
	if err != nil {
		t.Errorf("the volume %s or its directory %s outlived the claim: %v", pv.Name, dir, err)
	}
}

// startWriter runs the echo image with the claim "data" at /data on node.
func startWriter(ctx context.Context, t *testing.T, client kubernetes.Interface, node string) {
	t.Helper()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "writer", Namespace: "default"},
		Spec: corev1.PodSpec{NodeSelector: map[string]string{"kubernetes.io/hostname": node},
			Containers: []corev1.Container{{Name: "app", Image: nodeimage.EchoImage,
				VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}}},
			Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}}}}}
	if _, err := client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err := wait.PollUntilContextTimeout(ctx, time.Second, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		p, err := client.CoreV1().Pods("default").Get(ctx, "writer", metav1.GetOptions{})
		return err == nil && isPodReady(p), nil
	})
	if err != nil {
		p, _ := client.CoreV1().Pods("default").Get(ctx, "writer", metav1.GetOptions{})
		t.Fatalf("writer pod not ready (PVC pending? see the events): %v %+v", err, p.Status)
	}
}

func isPodReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func waitGone(ctx context.Context, t *testing.T, client kubernetes.Interface, pod string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := client.CoreV1().Pods("default").Get(ctx, pod, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Fatalf("pod %s not gone: %v", pod, err)
	}
}
