package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
)

// TestDisableAddOns (issue 12): every packaged add-on is listed in `cluster
// create --help`, and a cluster created with them disabled has none of them.
// The same cluster gets a user's manifests directory (--manifests): its
// objects are applied at create.
func TestDisableAddOns(t *testing.T) {
	inLane(t, laneClusters)
	e := setup(t)
	out, err := exec.Command(edgectlBinary(t), "cluster", "create", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("help: %v\n%s", err, out)
	}
	for _, name := range v1alpha1.AddOns {
		if !strings.Contains(string(out), name) {
			t.Errorf("cluster create --help does not list the add-on %s", name)
		}
	}
	const name = "e2e-disable"
	// Every add-on, CoreDNS too: create then waits for no CoreDNS.
	disable := slices.Clone(v1alpha1.AddOns)
	dir := t.TempDir()
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-manifests, namespace: default}\ndata: {k: v}\n"
	if err := os.WriteFile(filepath.Join(dir, "app.yaml"), []byte(cm), 0o644); err != nil {
		t.Fatal(err)
	}
	e.create(t, &v1alpha1.Cluster{Name: name, Disable: disable, Manifests: dir})
	client := e.client(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	if !slices.Contains(disable, "coredns") {
		t.Fatal("coredns is not among the add-ons that --disable takes")
	}
	if _, err := client.AppsV1().Deployments("kube-system").Get(ctx, "coredns", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("coredns disabled, but its Deployment is there (%v)", err)
	}
	if _, err := client.StorageV1().StorageClasses().Get(ctx, "local-path", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("local-path disabled, but its StorageClass is there (%v)", err)
	}
	res, err := e.p.Runtime().Exec(ctx, nodeName(name, "server", 0), []string{"kubectl", "get", "apiservice", "v1beta1.metrics.k8s.io"}, nil)
	if err != nil || res.ExitCode == 0 || !strings.Contains(res.Stderr, "NotFound") {
		t.Errorf("metrics-server disabled, but: %s%s (%v)", res.Stdout, res.Stderr, err)
	}
	res, err = e.p.Runtime().Exec(ctx, nodeName(name, "server", 0), []string{"kubectl", "get", "crd", "helmcharts.helm.cattle.io"}, nil)
	if err != nil || res.ExitCode == 0 || !strings.Contains(res.Stderr, "NotFound") {
		t.Errorf("helm-controller disabled, but: %s%s (%v)", res.Stdout, res.Stderr, err)
	}
	err = wait.PollUntilContextTimeout(ctx, time.Second, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := client.CoreV1().ConfigMaps("default").Get(ctx, "from-manifests", metav1.GetOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Errorf("the ConfigMap of the manifests directory was not applied: %v", err)
	}
	createLB(ctx, t, client, "pending", 8095, nil)
	// The controller answers within a second when it runs; give it ten.
	time.Sleep(10 * time.Second)
	svc, err := client.CoreV1().Services("default").Get(ctx, "pending", metav1.GetOptions{})
	if err != nil || len(svc.Status.LoadBalancer.Ingress) != 0 {
		t.Errorf("servicelb disabled, but the Service got an address: %+v %v", svc.Status.LoadBalancer, err)
	}
}
