package cluster

import (
	"context"
	"strings"
	"testing"

	"github.com/edgectl/edgectl/internal/runtime"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	"github.com/edgectl/edgectl/pkg/registry"
)

// A cluster with a registry attaches it before its nodes start, tells every
// node (and one added later) to pull through it, publishes KEP-1755 on the
// servers, and on delete detaches the registry without removing it.
func TestRegistriesReachEveryNode(t *testing.T) {
	p, rt, kubeconfig := newTest(t)
	ctx := context.Background()
	reg := registry.ContainerName("cache")
	if err := rt.EnsureNetwork(ctx, "bridge", "172.17.0.0/16", "172.17.0.1", nil); err != nil {
		t.Fatal(err)
	}
	if err := rt.CreateNode(ctx, runtime.NodeSpec{Name: reg, Network: "bridge", Image: v1alpha1.DefaultImage,
		Labels: map[string]string{registry.LabelRegistry: "cache", registry.LabelUpstreams: "docker.io=https://registry-1.docker.io,ghcr.io=https://ghcr.io", registry.LabelPort: "5001"}}); err != nil {
		t.Fatal(err)
	}
	create(t, p, kubeconfig, &v1alpha1.Cluster{Name: "r", Agents: 1, Registries: []string{"cache"}})
	want := "http://" + registry.Endpoint("cache")
	for _, node := range []string{"edgectl-r-server-0", "edgectl-r-agent-0"} {
		nc := nodeConfigOf(t, rt, node)
		for _, host := range []string{"docker.io", "ghcr.io", "localhost:5001", registry.Endpoint("cache")} {
			if nc.Mirrors[host] != want {
				t.Errorf("%s: mirror of %s = %q", node, host, nc.Mirrors[host])
			}
		}
	}
	cm := string(rt.Container("edgectl-r-server-0").Files[serverManifestsDir+"/edgectl-local-registry-hosting.yaml"])
	if !strings.Contains(cm, "host: localhost:5001") || !strings.Contains(cm, "hostFromClusterNetwork: "+registry.Endpoint("cache")) {
		t.Errorf("KEP-1755 ConfigMap: %s", cm)
	}
	if got := rt.Container(reg).Extra; len(got) != 1 || got[0] != "edgectl-r" {
		t.Errorf("registry networks: %v", got)
	}
	// After a stop (and the registry stopped too, as after a reboot), start
	// brings the registry back before the nodes.
	if err := p.Stop(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	if err := rt.Stop(ctx, reg); err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctx, "r", 0); err != nil {
		t.Fatal(err)
	}
	if c := rt.Container(reg); c.State != "running" {
		t.Errorf("registry after cluster start: %s", c.State)
	}
	if err := p.Delete(ctx, "r", kubeconfig); err != nil {
		t.Fatal(err)
	}
	if c := rt.Container(reg); c == nil || len(c.Extra) != 0 {
		t.Errorf("after cluster delete the registry is %+v", c)
	}
}
