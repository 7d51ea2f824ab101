package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
)

// TestHelmChartManifest (issue 12): a HelmChart file (k3s's
// helm.cattle.io/v1 shape, chart inline in chartContent) in the manifests
// directory given to create gives a deployed release; changing its values
// upgrades the release; removing the file uninstalls it. Status shows on the
// resource. A HelmChart naming a chart in a repository (one the test serves
// on the host), applied with kubectl, installs, and deleting it uninstalls.
func TestHelmChartManifest(t *testing.T) {
	inLane(t, laneClusters)
	e := setup(t)
	const name = "e2e-helm"
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hello.yaml"), helmChartYAML(t, "one"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.create(t, &v1alpha1.Cluster{Name: name, Manifests: dir})
	client := e.client(t, name)
	server := nodeName(name, "server", 0)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	waitMessage(ctx, t, client, "hello", "one")
	status := e.nodeExec(t, server, "kubectl", "get", "helmchart", "-n", "kube-system", "hello",
		"-o", "jsonpath={.status.releaseRevision} {.status.conditions[?(@.type=='Deployed')].status}")
	if status != "1 True" {
		t.Errorf("status after install: %q", status)
	}

	manifest := "/var/lib/edgelet/server/manifests/hello.yaml"
	if err := e.p.Runtime().WriteFiles(ctx, server, map[string][]byte{manifest: helmChartYAML(t, "two")}); err != nil {
		t.Fatal(err)
	}
	waitMessage(ctx, t, client, "hello", "two")
	if rev := e.nodeExec(t, server, "kubectl", "get", "helmchart", "-n", "kube-system", "hello", "-o", "jsonpath={.status.releaseRevision}"); rev != "2" {
		t.Errorf("revision after the upgrade: %q", rev)
	}

	e.nodeExec(t, server, "rm", manifest)
	err := wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := client.CoreV1().ConfigMaps("demo").Get(ctx, "hello-config", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Fatalf("removing the file did not uninstall the release: %v", err)
	}
	secrets, err := client.CoreV1().Secrets("demo").List(ctx, metav1.ListOptions{LabelSelector: "owner=helm"})
	if err != nil || len(secrets.Items) != 0 {
		t.Errorf("release records left: %d (%v)", len(secrets.Items), err)
	}

	// A chart from a repository, by name and version, as most k3s HelmChart
	// files have it, applied with kubectl; deleting the resource uninstalls.
	repo := serveChartRepo(t, e, server)
	fromRepo := fmt.Sprintf(`apiVersion: helm.cattle.io/v1
kind: HelmChart
metadata:
  name: from-repo
  namespace: kube-system
spec:
  repo: %s
  chart: hello
  version: 0.1.0
  targetNamespace: demo
  createNamespace: true
  valuesContent: "message: repo"
`, repo)
	if err := e.p.Runtime().WriteFiles(ctx, server, map[string][]byte{"/root/from-repo.yaml": []byte(fromRepo)}); err != nil {
		t.Fatal(err)
	}
	e.nodeExec(t, server, "kubectl", "apply", "-f", "/root/from-repo.yaml")
	waitMessage(ctx, t, client, "from-repo", "repo")
	e.nodeExec(t, server, "kubectl", "delete", "helmchart", "-n", "kube-system", "from-repo", "--wait")
	if _, err := client.CoreV1().ConfigMaps("demo").Get(ctx, "from-repo-config", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("deleting the HelmChart left its release: %v", err)
	}
}

// waitMessage waits for the release's ConfigMap to carry message.
func waitMessage(ctx context.Context, t *testing.T, c kubernetes.Interface, release, message string) {
	t.Helper()
	var got string
	err := wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		cm, err := c.CoreV1().ConfigMaps("demo").Get(ctx, release+"-config", metav1.GetOptions{})
		if err == nil {
			got = cm.Data["message"]
		}
		return got == message, nil
	})
	if err != nil {
		t.Fatalf("release with message %q: %v (last %q)", message, err, got)
	}
}

// helmChartYAML is a HelmChart whose chart is inline: a ConfigMap that
// carries the value message.
func helmChartYAML(t *testing.T, message string) []byte {
	t.Helper()
	return fmt.Appendf(nil, `apiVersion: helm.cattle.io/v1
kind: HelmChart
metadata:
  name: hello
  namespace: kube-system
spec:
  chartContent: %s
  targetNamespace: demo
  createNamespace: true
  valuesContent: |-
    message: %s
`, base64.StdEncoding.EncodeToString(helloChart(t)), message)
}

// helloChart is the packaged chart hello 0.1.0: a ConfigMap
// RELEASE-config that carries the value message.
func helloChart(t *testing.T) []byte {
	t.Helper()
	files := map[string]string{
		"hello/Chart.yaml":        "apiVersion: v2\nname: hello\nversion: 0.1.0\n",
		"hello/values.yaml":       "message: default\n",
		"hello/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-config\ndata:\n  message: {{ .Values.message | quote }}\n",
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, n := range []string{"hello/Chart.yaml", "hello/values.yaml", "hello/templates/cm.yaml"} {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n]))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(files[n])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// serveChartRepo serves a chart repository with the hello chart on the
// host, at an address the nodes reach (the network's gateway), until the
// test ends: a repository that needs no internet.
func serveChartRepo(t *testing.T, e *env, node string) string {
	t.Helper()
	chart := helloChart(t)
	index := fmt.Sprintf(`apiVersion: v1
entries:
  hello:
    - apiVersion: v2
      name: hello
      version: 0.1.0
      digest: %x
      urls: [hello-0.1.0.tgz]
generated: "%s"
`, sha256.Sum256(chart), time.Now().UTC().Format(time.RFC3339))
	mux := http.NewServeMux()
	mux.HandleFunc("/index.yaml", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, index) })
	mux.HandleFunc("/hello-0.1.0.tgz", func(w http.ResponseWriter, r *http.Request) { w.Write(chart) })
	l, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	// "default via GATEWAY dev eth0"
	route := strings.Fields(e.nodeExec(t, node, "ip", "-4", "route", "show", "default"))
	if len(route) < 3 {
		t.Fatalf("no default route on %s: %v", node, route)
	}
	return fmt.Sprintf("http://%s:%d", route[2], l.Addr().(*net.TCPAddr).Port)
}
