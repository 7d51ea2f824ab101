package cluster

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/internal/runtime"
	"github.com/edgectl/edgectl/internal/runtime/fake"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	netv1 "github.com/edgectl/edgectl/pkg/apis/netem/v1alpha1"
)

func TestStopStartListAndDelete(t *testing.T) {
	ctx := context.Background()
	p, rt, kubeconfig := newTest(t)
	create(t, p, kubeconfig, &v1alpha1.Cluster{Name: "a", Agents: 1})
	create(t, p, kubeconfig, &v1alpha1.Cluster{Name: "b"})
	if names, err := p.Clusters(ctx); err != nil || strings.Join(names, ",") != "a,b" {
		t.Fatalf("clusters: %v %v", names, err)
	}
	nodes, _ := p.Nodes(ctx, "a")
	var order []string
	for _, n := range nodes {
		order = append(order, n.Role)
	}
	if strings.Join(order, ",") != "server,agent,loadbalancer" {
		t.Errorf("node order %v", order)
	}
	if err := p.Stop(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"edgectl-a-server-0", "edgectl-a-agent-0", "edgectl-a-lb"} {
		if s := rt.Container(n).State; s != "exited" {
			t.Errorf("%s is %s after stop", n, s)
		}
	}
	if spec, err := p.Spec(ctx, "a"); err != nil || spec.Agents != 1 {
		t.Errorf("the spec of a stopped cluster: %v %v", spec, err)
	}
	if err := p.Start(ctx, "a", 0); err != nil {
		t.Fatal(err)
	}
	if s := rt.Container("edgectl-a-agent-0").State; s != "running" {
		t.Errorf("agent is %s after start", s)
	}
	if err := p.Delete(ctx, "a", kubeconfig); err != nil {
		t.Fatal(err)
	}
	for _, o := range rt.Objects() {
		if strings.Contains(o, "edgectl-a-") || o == "network edgectl-a" {
			t.Errorf("delete left %s", o)
		}
	}
	if rt.Container("edgectl-b-server-0") == nil || rt.Container("edgectl-b-lb") == nil {
		t.Error("deleting a touched b")
	}
	if err := p.Delete(ctx, "a", kubeconfig); edgeerrors.ExitCode(err) != int(edgeerrors.KindNotFound) {
		t.Errorf("delete of a missing cluster: %v", err)
	}
	if err := p.Start(ctx, "a", 0); edgeerrors.ExitCode(err) != int(edgeerrors.KindNotFound) {
		t.Errorf("start of a missing cluster: %v", err)
	}
}

func TestKubeconfigAndLogs(t *testing.T) {
	ctx := context.Background()
	p, _, kubeconfig := newTest(t)
	create(t, p, kubeconfig, &v1alpha1.Cluster{Name: "k", Agents: 1})
	other := filepath.Join(t.TempDir(), "other")
	path, err := p.MergeKubeconfig(ctx, "k", other, true)
	if err != nil || path != other {
		t.Fatal(path, err)
	}
	data, _ := os.ReadFile(other)
	if !strings.Contains(string(data), "current-context: edgectl-k") {
		t.Errorf("merged kubeconfig:\n%s", data)
	}
	dir, err := p.ExportLogs(ctx, "k", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "edgectl-k-agent-0", "edgelet-config.yaml")); err != nil {
		t.Errorf("no node config in the logs: %v", err)
	}
	if err := removeKubeconfig(kubeconfig, Context("k")); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(kubeconfig); strings.Contains(string(data), "edgectl-k") {
		t.Error("context not removed")
	}
}

func TestKubeconfigTimesOutWithTheServerNamed(t *testing.T) {
	rt := fake.New(nil)
	p := NewProviderWithRuntime(rt, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_ = rt.EnsureNetwork(ctx, "n", "10.1.0.0/24", "", nil)
	if _, err := p.fetchKubeconfig(ctx, "x", "missing", "127.0.0.1", 1, false); err == nil {
		t.Error("fetch from a missing node succeeded")
	}
}

func TestNetDegradeHealShow(t *testing.T) {
	ctx := context.Background()
	p, rt, kubeconfig := newTest(t)
	create(t, p, kubeconfig, &v1alpha1.Cluster{Name: "n", Agents: 2})
	rt.OnExec = func(r *fake.Runtime, name string, cmd []string, _ string) (runtime.ExecResult, error) {
		if strings.Join(cmd, " ") == "edgelet net show" {
			return runtime.ExecResult{Stdout: `{"delay":"100ms"}`}, nil
		}
		return r.DefaultExec(name, cmd)
	}
	err := p.Degrade(ctx, DegradeOptions{Cluster: "n", Nodes: []string{"agent-0"}, To: []string{"agent-1"},
		Spec: netv1.Spec{Delay: 100 * time.Millisecond, Jitter: time.Millisecond, Loss: 5, Rate: "1mbit"}})
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := newAddresses(rt.Container("edgectl-n-agent-1").Spec.Labels["io.edgectl.subnet"])
	want := "exec edgectl-n-agent-0: edgelet net apply --delay 100ms --jitter 1ms --loss 5 --rate 1mbit --peer " + addr.agent(1)
	if !contains(rt.Calls(), want) {
		t.Errorf("no %q in %v", want, rt.Calls())
	}
	if err := p.Heal(ctx, "n", nil); err != nil || !contains(rt.Calls(), "exec edgectl-n-agent-1: edgelet net clear") {
		t.Errorf("heal: %v", err)
	}
	state, err := p.NetStatus(ctx, "n")
	if err != nil || len(state) != 3 || state[0].Net.Delay != 100*time.Millisecond {
		t.Errorf("show: %+v %v", state, err)
	}
	for name, opts := range map[string]DegradeOptions{
		"no nodes": {Cluster: "n", Spec: netv1.Spec{Loss: 1}},
		"bad spec": {Cluster: "n", Nodes: []string{"agent-0"}},
		"bad node": {Cluster: "n", Nodes: []string{"agent-9"}, Spec: netv1.Spec{Loss: 1}},
		"bad peer": {Cluster: "n", Nodes: []string{"agent-0"}, To: []string{"x"}, Spec: netv1.Spec{Loss: 1}},
	} {
		if err := p.Degrade(ctx, opts); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	_ = p.Stop(ctx, "n")
	if err := p.Heal(ctx, "n", []string{"agent-0"}); err == nil {
		t.Error("heal of a stopped node succeeded")
	}
}

func TestImportImagesIntoEveryNode(t *testing.T) {
	ctx := context.Background()
	p, rt, kubeconfig := newTest(t)
	create(t, p, kubeconfig, &v1alpha1.Cluster{Name: "i", Agents: 1})
	if err := p.ImportImages(ctx, ImportOptions{Cluster: "i", Images: []string{v1alpha1.DefaultImage}}); err == nil ||
		!strings.Contains(err.Error(), "is not in containerd") {
		t.Errorf("an import that did not arrive must fail: %v", err)
	}
	rt.OnExec = func(r *fake.Runtime, name string, cmd []string, _ string) (runtime.ExecResult, error) {
		if strings.Join(cmd, " ") == "ctr -n k8s.io images ls -q" {
			return runtime.ExecResult{Stdout: "docker.io/edgectl/node:dev\n"}, nil
		}
		return r.DefaultExec(name, cmd)
	}
	if err := p.ImportImages(ctx, ImportOptions{Cluster: "i", Images: []string{v1alpha1.DefaultImage}}); err != nil {
		t.Fatal(err)
	}
	if !contains(rt.Calls(), "exec edgectl-i-agent-0: ctr -n k8s.io images import -") {
		t.Error("agent not imported into")
	}
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

// Creates running at the same time on one engine each get a subnet and a
// kubeconfig context of their own.
func TestParallelCreates(t *testing.T) {
	ctx := context.Background()
	p, _, kubeconfig := newTest(t)
	names := []string{"p0", "p1", "p2", "p3", "p4", "p5"}
	errs := make(chan error, len(names))
	for _, n := range names {
		go func() {
			errs <- p.Create(ctx, CreateOptions{Config: &v1alpha1.Cluster{Name: n, Agents: 1}, Kubeconfig: kubeconfig})
		}()
	}
	for range names {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	subnets := map[string]bool{}
	for _, n := range names {
		spec, err := p.Spec(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		subnets[spec.Network.Subnet] = true
	}
	if len(subnets) != len(names) {
		t.Errorf("subnets %v for %d clusters", subnets, len(names))
	}
	data, _ := os.ReadFile(kubeconfig)
	for _, n := range names {
		if !strings.Contains(string(data), "name: edgectl-"+n) {
			t.Errorf("context of %s lost", n)
		}
	}
}
