package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
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
	"github.com/edgectl/edgectl/pkg/edgelet/storage"
)

// TestChartInstall (issue 12, acceptance 1 and 2): the test's chart
// (testdata/charts/edge-app: a 3-replica StatefulSet with
// volumeClaimTemplates, a Deployment behind a LoadBalancer Service, a Job)
// installs with the helm CLI's `install --wait` on the add-ons alone, within
// helm's 120 s timeout. Each replica gets its own volume on its own node; the
// data survives a pod delete, an edgelet restart and cluster stop/start;
// uninstalling and deleting the claims removes the directories on the nodes,
// and a StorageClass of reclaim policy Retain keeps them.
func TestChartInstall(t *testing.T) {
	inLane(t, laneClusters)
	e := setup(t)
	const name, release = "e2e-chart", "app"
	hostPort := freeHostPort(t)
	e.create(t, &v1alpha1.Cluster{Name: name, Agents: 2,
		Ports: []v1alpha1.Port{{HostIP: "127.0.0.1", HostPort: hostPort, ContainerPort: 8090}}})
	client := e.client(t, name)
	server := nodeName(name, "server", 0)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()

	sc, err := client.StorageV1().StorageClasses().Get(ctx, "local-path", metav1.GetOptions{})
	if err != nil || sc.Annotations["storageclass.kubernetes.io/is-default-class"] != "true" ||
		sc.VolumeBindingMode == nil || *sc.VolumeBindingMode != storagev1.VolumeBindingWaitForFirstConsumer {
		t.Fatalf("default StorageClass local-path: %+v %v", sc, err)
	}

	helm := e.helm(t)
	start := time.Now()
	if out, err := helm("install", release, chartDir("edge-app"), "--wait", "--wait-for-jobs", "--timeout", "120s"); err != nil {
		t.Log(e.nodeExec(t, server, "kubectl", "get", "all,pvc,events", "-o", "wide"))
		t.Fatalf("helm install --wait: %v\n%s", err, out)
	}
	t.Logf("helm install --wait returned after %s", time.Since(start).Round(100*time.Millisecond))

	// Each replica has its own bound volume, on the node it runs on.
	dirs := map[string]string{} // pod -> node:dir
	seen := map[string]bool{}
	for i := range 3 {
		pod := fmt.Sprintf("%s-db-%d", release, i)
		p, err := client.CoreV1().Pods("default").Get(ctx, pod, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pvc, err := client.CoreV1().PersistentVolumeClaims("default").Get(ctx, "data-"+pod, metav1.GetOptions{})
		if err != nil || pvc.Status.Phase != corev1.ClaimBound || seen[pvc.Spec.VolumeName] {
			t.Fatalf("claim of %s: %+v %v", pod, pvc, err)
		}
		seen[pvc.Spec.VolumeName] = true
		pv, err := client.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if node := storage.NodeOf(pv); node != p.Spec.NodeName {
			t.Errorf("%s runs on %s, its volume is on %s", pod, p.Spec.NodeName, node)
		}
		dirs[pod] = p.Spec.NodeName + ":" + pv.Spec.HostPath.Path
		e.nodeExec(t, server, "kubectl", "exec", pod, "--", "/echo", "write", "/data/f", pod)
		if out := e.nodeExec(t, p.Spec.NodeName, "cat", pv.Spec.HostPath.Path+"/f"); out != pod {
			t.Errorf("%s's data is not in %s on %s: %q", pod, pv.Spec.HostPath.Path, p.Spec.NodeName, out)
		}
	}

	svc, err := client.CoreV1().Services("default").Get(ctx, release+"-web", metav1.GetOptions{})
	if err != nil || len(svc.Status.LoadBalancer.Ingress) == 0 {
		t.Fatalf("helm returned before the LoadBalancer had an address: %+v %v", svc, err)
	}
	ip := svc.Status.LoadBalancer.Ingress[0].IP
	for _, url := range []string{"http://" + ip + ":8090/", fmt.Sprintf("http://127.0.0.1:%d/", hostPort)} {
		if body := httpGet(ctx, t, url); !strings.HasPrefix(body, "hello from "+release+"-web") {
			t.Errorf("%s: %q", url, body)
		}
	}
	job, err := client.BatchV1().Jobs("default").Get(ctx, release+"-migrate", metav1.GetOptions{})
	if err != nil || job.Status.Succeeded != 1 {
		t.Errorf("job: %+v %v", job.Status, err)
	}

	check := func(when string) {
		t.Helper()
		waitStatefulSet(ctx, t, client, release+"-db", 3)
		for pod := range dirs {
			if got := podCat(ctx, t, e, server, pod, "/data/f"); got != pod {
				t.Errorf("%s: %s's volume holds %q", when, pod, got)
			}
		}
	}
	first := release + "-db-0"
	if err := client.CoreV1().Pods("default").Delete(ctx, first, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	check("after deleting a pod")

	agent := nodeName(name, "agent", 0)
	e.nodeExec(t, agent, "systemctl", "restart", "edgelet")
	waitNodeReady(ctx, t, client, agent)
	check("after an edgelet restart")

	if err := e.p.Stop(ctx, name); err != nil {
		t.Fatal(err)
	}
	if err := e.p.Start(ctx, name, 4*time.Minute); err != nil {
		t.Fatal(err)
	}
	check("after cluster stop and start")

	// reclaim Delete: uninstalling and deleting the claims removes the data.
	if out, err := helm("uninstall", release, "--wait"); err != nil {
		t.Fatalf("helm uninstall: %v\n%s", err, out)
	}
	e.nodeExec(t, server, "kubectl", "delete", "pvc", "-l", "app.kubernetes.io/instance="+release)
	for pod, at := range dirs {
		node, dir, _ := strings.Cut(at, ":")
		waitNoDir(ctx, t, e, node, dir, pod)
	}

	retained(ctx, t, e, client, name)
}

// retained: a volume of a StorageClass with reclaim policy Retain keeps its
// data after the claim is deleted, until the volume itself is.
func retained(ctx context.Context, t *testing.T, e *env, client kubernetes.Interface, name string) {
	t.Helper()
	keep := corev1.PersistentVolumeReclaimRetain
	wffc := storagev1.VolumeBindingWaitForFirstConsumer
	sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "local-path-retain"},
		Provisioner: "edgectl.io/local-path", ReclaimPolicy: &keep, VolumeBindingMode: &wffc}
	if _, err := client.StorageV1().StorageClasses().Create(ctx, sc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	class := sc.Name
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "default"},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: &class,
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Mi")}}}}
	if _, err := client.CoreV1().PersistentVolumeClaims("default").Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	agent := nodeName(name, "agent", 1)
	startWriter(ctx, t, client, agent)
	e.nodeExec(t, nodeName(name, "server", 0), "kubectl", "exec", "writer", "--", "/echo", "write", "/data/f", "kept")
	got, err := client.CoreV1().PersistentVolumeClaims("default").Get(ctx, "data", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	volume := got.Spec.VolumeName
	if err := client.CoreV1().Pods("default").Delete(ctx, "writer", metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatal(err)
	}
	waitGone(ctx, t, client, "writer")
	if err := client.CoreV1().PersistentVolumeClaims("default").Delete(ctx, "data", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	var pv *corev1.PersistentVolume
	err = wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		pv, err = client.CoreV1().PersistentVolumes().Get(ctx, volume, metav1.GetOptions{})
		return err == nil && pv.Status.Phase == corev1.VolumeReleased, nil
	})
	if err != nil {
		t.Fatalf("Retain: volume %s not Released: %v", volume, err)
	}
	// The node side sweeps every few seconds: give it the chance to get it wrong.
	time.Sleep(10 * time.Second)
	dir := pv.Spec.HostPath.Path
	if out := e.nodeExec(t, agent, "cat", dir+"/f"); out != "kept" {
		t.Errorf("Retain: the data in %s is %q after the claim was deleted", dir, out)
	}
	if err := client.CoreV1().PersistentVolumes().Delete(ctx, volume, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitNoDir(ctx, t, e, agent, dir, volume)
}

// e.helm builds the helm CLI (a tool of this module, Helm v4) and returns a
// runner of it against the test's kubeconfig, with helm's own state in a
// temporary directory.
func (e *env) helm(t testing.TB) func(args ...string) (string, error) {
	t.Helper()
	bin := goBinary(t, "helm.sh/helm/v4/cmd/helm", "helm")
	home := t.TempDir()
	return func(args ...string) (string, error) {
		cmd := exec.Command(bin, append([]string{"--kubeconfig", e.kubeconfig}, args...)...)
		cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(home, "cache"),
			"HELM_CONFIG_HOME="+filepath.Join(home, "config"), "HELM_DATA_HOME="+filepath.Join(home, "data"))
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
}

// chartDir is the path of a chart under testdata/charts.
func chartDir(name string) string {
	_, file, _, _ := goruntime.Caller(0)
	return filepath.Join(filepath.Dir(file), "testdata", "charts", name)
}

func waitStatefulSet(ctx context.Context, t *testing.T, c kubernetes.Interface, name string, ready int32) {
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx, time.Second, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		s, err := c.AppsV1().StatefulSets("default").Get(ctx, name, metav1.GetOptions{})
		return err == nil && s.Status.ReadyReplicas == ready && s.Status.ObservedGeneration == s.Generation, nil
	})
	if err != nil {
		t.Fatalf("StatefulSet %s not ready: %v", name, err)
	}
}

// podCat reads a file in a pod through kubectl exec on the server, retrying
// while the pod's kubelet comes back after a restart.
func podCat(ctx context.Context, t *testing.T, e *env, server, pod, path string) string {
	t.Helper()
	var last string
	err := wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		res, err := e.p.Runtime().Exec(ctx, server, []string{"kubectl", "exec", pod, "--", "/echo", "cat", path}, nil)
		last = res.Stdout + res.Stderr
		return err == nil && res.ExitCode == 0, nil
	})
	if err != nil {
		t.Errorf("read %s in %s: %v: %s", path, pod, err, last)
	}
	return last
}

// waitNoDir waits until dir is gone from node.
func waitNoDir(ctx context.Context, t *testing.T, e *env, node, dir, owner string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx, 2*time.Second, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		res, _ := e.p.Runtime().Exec(ctx, node, []string{"test", "-e", dir}, nil)
		return res.ExitCode == 1, nil
	})
	if err != nil {
		t.Errorf("the directory %s of %s outlived it on %s: %v", dir, owner, node, err)
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
