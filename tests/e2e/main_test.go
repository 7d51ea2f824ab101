// Package e2e runs edgectl against the real container engine and the real
// node image: no fakes. `go test -short` skips it; `make test-e2e` runs it
// after `make image`.
package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/internal/log"
	"github.com/edgectl/edgectl/internal/runtime"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	"github.com/edgectl/edgectl/pkg/build/nodeimage"
	"github.com/edgectl/edgectl/pkg/cluster"
)

// Lanes run the suite's tests two at a time on the 2 cores: a test in a
// lane runs beside the other lane's tests and one at a time within its own.
// The machines lane holds the tests of Podman machines (boards, promoted
// hosts): a machine's systemd that stops prunes the cgroups Podman made
// for the other machines' execs, so no two of them overlap. Tests in no
// lane run first, alone: they restart an engine, time links, create many
// clusters at once, or restart etcd members one after another (HA).
// EDGECTL_E2E_SERIAL=1 runs every test alone.
var lanes = map[string]*sync.Mutex{laneMachines: {}, laneClusters: {}}

const (
	laneMachines = "machines"
	laneClusters = "clusters"
)

// inLane makes t a parallel test of lane, and waits for the lane.
func inLane(t *testing.T, lane string) {
	t.Helper()
	if testing.Short() || os.Getenv("EDGECTL_E2E_SERIAL") != "" {
		return
	}
	t.Parallel()
	mu := lanes[lane]
	mu.Lock()
	start := time.Now()
	// Registered first, so it runs last: the time includes the test's own
	// cleanups (cluster deletes). The CI table reads this line, because go
	// test's own time of a parallel test includes its wait for its turn.
	t.Cleanup(func() {
		t.Logf("lane %s: ran %s", lane, time.Since(start).Round(100*time.Millisecond))
		mu.Unlock()
	})
}

// env is shared by the tests of this package.
type env struct {
	p          *cluster.Provider
	kubeconfig string
	image      string
}

func setup(t testing.TB) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("e2e: needs a container engine and the node image (run `make test-e2e`)")
	}
	p, err := cluster.NewProvider(log.New(os.Stderr, 1, false))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := p.Runtime().Info(ctx); err != nil {
		t.Fatalf("container engine not reachable (run `make deps`): %v", err)
	}
	image := os.Getenv("EDGECTL_E2E_IMAGE")
	if image == "" {
		image = nodeimage.DefaultTag
	}
	if _, ok, err := p.Runtime().ImageLabel(ctx, image, nodeimage.LabelInputs); err != nil || !ok {
		t.Fatalf("node image %s missing (run `make image`): %v", image, err)
	}
	return &env{p: p, kubeconfig: filepath.Join(t.TempDir(), "kubeconfig"), image: image}
}

// create makes a cluster and registers its deletion (and a log export if the
// test failed) for the end of the test.
func (e *env) create(t testing.TB, cfg *v1alpha1.Cluster) {
	t.Helper()
	cfg.Image = e.image
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if t.Failed() {
			e.exportLogs(t, cfg.Name)
		}
		if err := e.p.Delete(ctx, cfg.Name, e.kubeconfig); err != nil && edgeerrors.ExitCode(err) != int(edgeerrors.KindNotFound) {
			t.Errorf("delete %s: %v", cfg.Name, err)
		}
	})
	start := time.Now()
	err := e.p.Create(ctx, cluster.CreateOptions{Config: cfg, Wait: 5 * time.Minute, SwitchContext: true,
		Kubeconfig: e.kubeconfig, LogsDir: e.artifactDir(t, cfg.Name)})
	if err != nil {
		t.Fatalf("create %s: %v", cfg.Name, err)
	}
	t.Logf("cluster %s usable after %s", cfg.Name, time.Since(start).Round(100*time.Millisecond))
}

// oneServer creates a cluster of one server and returns its client, the
// server's container name, and a context that ends after d (or the test).
func (e *env) oneServer(t *testing.T, name string, d time.Duration) (kubernetes.Interface, string, context.Context) {
	t.Helper()
	e.create(t, &v1alpha1.Cluster{Name: name})
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return e.client(t, name), nodeName(name, "server", 0), ctx
}

func (e *env) artifactDir(t testing.TB, cluster string) string {
	base := os.Getenv("E2E_ARTIFACTS")
	if base == "" {
		base = filepath.Join(os.TempDir(), "edgectl-e2e-artifacts")
	}
	return filepath.Join(base, t.Name(), cluster)
}

func (e *env) exportLogs(t testing.TB, cluster string) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir, err := e.p.ExportLogs(ctx, cluster, e.artifactDir(t, cluster))
	if err != nil {
		t.Logf("export logs of %s: %v", cluster, err)
		return
	}
	t.Logf("logs of %s exported to %s", cluster, dir)
}

// engineObjects lists what the engine holds for a cluster.
func (e *env) engineObjects(t *testing.T, name string) []string {
	t.Helper()
	ctx := context.Background()
	labels := map[string]string{runtime.LabelCluster: name}
	var out []string
	cs, err := e.p.Runtime().List(ctx, labels)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		out = append(out, "container "+c.Name)
	}
	vols, err := e.p.Runtime().ListVolumes(ctx, labels)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vols {
		out = append(out, "volume "+v)
	}
	nets, err := e.p.Runtime().ListNetworks(ctx, labels)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nets {
		out = append(out, "network "+n)
	}
	return out
}

// nodeExec runs a command in a node container and fails the test on error.
func (e *env) nodeExec(t testing.TB, node string, cmd ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := e.p.Runtime().Exec(ctx, node, cmd, nil)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("%s: %v (exit %d)\nstdout: %s\nstderr: %s", strings.Join(cmd, " "), err, res.ExitCode, res.Stdout, res.Stderr)
	}
	return res.Stdout
}

func nodeName(cluster, role string, i int) string {
	return fmt.Sprintf("edgectl-%s-%s-%d", cluster, role, i)
}

// freeHostPort returns a TCP port free on 127.0.0.1 now.
func freeHostPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
