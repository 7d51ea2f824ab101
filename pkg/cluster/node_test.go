package cluster

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	nodev1 "github.com/edgectl/edgectl/pkg/apis/node/v1alpha1"
)

// The bug of issue 10: an added agent lost the role's args, labels and taints.
func TestAddNodeGetsTheRoleSettings(t *testing.T) {
	ctx := context.Background()
	p, rt, kubeconfig := newTest(t)
	create(t, p, kubeconfig, &v1alpha1.Cluster{Name: "c", Agents: 1,
		AgentArgs: []string{"kubelet-arg=max-pods=33", "node-label=tier=edge", "node-taint=edge=true:NoSchedule"}})
	node, err := p.AddNode(ctx, AddNodeOptions{Cluster: "c", Labels: map[string]string{"site": "shop-7"}})
	if err != nil || node != "edgectl-c-agent-1" {
		t.Fatalf("add: %q %v", node, err)
	}
	nc := nodeConfigOf(t, rt, node)
	if !reflect.DeepEqual(nc.Args.Kubelet, []string{"max-pods=33"}) || nc.Labels["tier"] != "edge" || nc.Labels["site"] != "shop-7" ||
		!reflect.DeepEqual(nc.Taints, []string{"edge=true:NoSchedule"}) {
		t.Errorf("added agent: kubelet %v labels %v taints %v", nc.Args.Kubelet, nc.Labels, nc.Taints)
	}
	spec, _ := p.Spec(ctx, "c")
	if spec.Agents != 2 || len(spec.Nodes) != 1 || spec.Nodes[0].Index != 1 || spec.Nodes[0].Labels["site"] != "shop-7" {
		t.Errorf("spec after add: agents %d nodes %+v", spec.Agents, spec.Nodes)
	}
	if !strings.Contains(string(rt.Container("edgectl-c-lb").Files[specPath]), "agents: 2") {
		t.Error("the stored spec was not updated")
	}
	var reloaded bool
	for _, c := range rt.Calls() {
		reloaded = reloaded || c == "signal-USR2 edgectl-c-lb"
	}
	if !reloaded {
		t.Error("the load balancer was not reloaded")
	}
}

func TestAddServerJoinsThroughARunningServer(t *testing.T) {
	ctx := context.Background()
	p, rt, kubeconfig := newTest(t)
	create(t, p, kubeconfig, &v1alpha1.Cluster{Name: "ha", Servers: 3, ServerArgs: []string{"kube-apiserver-arg=v=2"}})
	node, err := p.AddNode(ctx, AddNodeOptions{Cluster: "ha", Role: "server"})
	if err != nil {
		t.Fatal(err)
	}
	nc := nodeConfigOf(t, rt, node)
	addr, _ := newAddresses(rt.Container(node).Spec.Labels["io.edgectl.subnet"])
	if nc.Server != "https://"+addr.server(0)+":6443" || nc.Datastore.ClusterInit || !reflect.DeepEqual(nc.Args.APIServer, []string{"v=2"}) {
		t.Errorf("added server: %+v", nc)
	}
	if string(rt.Container(node).Files[nodev1.DefaultTokenFile]) != string(rt.Container("edgectl-ha-server-0").Files[nodev1.DefaultTokenFile]) {
		t.Error("the added server did not get the servers' secret")
	}
	if !strings.Contains(string(rt.Container("edgectl-ha-lb").Files[specPath]), "servers: 4") {
		t.Error("spec not updated")
	}
}

func TestAddNodeRefusals(t *testing.T) {
	ctx := context.Background()
	p, rt, kubeconfig := newTest(t)
	create(t, p, kubeconfig, &v1alpha1.Cluster{Name: "one"})
	for name, opts := range map[string]AddNodeOptions{
		"sqlite server": {Cluster: "one", Role: "server"},
		"bad role":      {Cluster: "one", Role: "boss"},
		"bad taint":     {Cluster: "one", Taints: []string{"novalue"}},
	} {
		if _, err := p.AddNode(ctx, opts); edgeerrors.ExitCode(err) != int(edgeerrors.KindInvalidConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := p.AddNode(ctx, AddNodeOptions{Cluster: "nope"}); edgeerrors.ExitCode(err) != int(edgeerrors.KindNotFound) {
		t.Errorf("missing cluster: %v", err)
	}
	if err := p.Stop(ctx, "one"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.AddNode(ctx, AddNodeOptions{Cluster: "one"}); edgeerrors.ExitCode(err) != int(edgeerrors.KindNotFound) {
		t.Errorf("stopped cluster: %v", err)
	}
	if rt.Container("edgectl-one-agent-0") != nil {
		t.Error("a refused add created a node")
	}
}

func TestAddNodeFailureUndoesItsSteps(t *testing.T) {
	ctx := context.Background()
	p, rt, kubeconfig := newTest(t)
	create(t, p, kubeconfig, &v1alpha1.Cluster{Name: "u", Servers: 3})
	before := string(rt.Container("edgectl-u-lb").Files[specPath])
	rt.Fail = func(op, name string) error {
		if op == "write" && name == "edgectl-u-lb" {
			return errors.New("disk full")
		}
		return nil
	}
	if _, err := p.AddNode(ctx, AddNodeOptions{Cluster: "u", Role: "server"}); err == nil {
		t.Fatal("add succeeded despite the failure")
	}
	rt.Fail = nil
	if rt.Container("edgectl-u-server-3") != nil {
		t.Error("the failed node was kept")
	}
	if got := string(rt.Container("edgectl-u-lb").Files[specPath]); got != before {
		t.Error("the spec changed")
	}
	var memberRemoved bool
	for _, c := range rt.Calls() {
		memberRemoved = memberRemoved || strings.Contains(c, "edgelet member rm edgectl-u-server-3")
	}
	if !memberRemoved {
		t.Error("the joined server's etcd member was not removed")
	}
}

func TestDeleteNodeShrinksTheSpec(t *testing.T) {
	ctx := context.Background()
	p, rt, kubeconfig := newTest(t)
	create(t, p, kubeconfig, &v1alpha1.Cluster{Name: "d", Servers: 3, Agents: 2,
		Nodes: []v1alpha1.Node{{Role: "agent", Index: 1, Labels: map[string]string{"a": "b"}}}})
	if err := p.DeleteNode(ctx, "edgectl-d-agent-1"); err != nil {
		t.Fatal(err)
	}
	if err := p.DeleteNode(ctx, "edgectl-d-server-1"); err != nil {
		t.Fatal(err)
	}
	spec, _ := p.Spec(ctx, "d")
	if spec.Agents != 1 || len(spec.Nodes) != 0 || spec.Servers != 3 {
		t.Errorf("spec: servers %d agents %d nodes %v (a gap keeps its count)", spec.Servers, spec.Agents, spec.Nodes)
	}
	if rt.Container("edgectl-d-agent-1") != nil || rt.Container("edgectl-d-server-1") != nil {
		t.Error("nodes not removed")
	}
	for _, v := range []string{"volume edgectl-d-agent-1-edgelet", "volume edgectl-d-agent-1-containerd"} {
		for _, o := range rt.Objects() {
			if o == v {
				t.Errorf("%s left", v)
			}
		}
	}
	for name, want := range map[string]edgeerrors.Kind{"edgectl-d-lb": edgeerrors.KindInvalidConfig, "nope": edgeerrors.KindNotFound} {
		if err := p.DeleteNode(ctx, name); edgeerrors.ExitCode(err) != int(want) {
			t.Errorf("delete %s: %v", name, err)
		}
	}
	create(t, p, kubeconfig, &v1alpha1.Cluster{Name: "single"})
	if err := p.DeleteNode(ctx, "edgectl-single-server-0"); edgeerrors.ExitCode(err) != int(edgeerrors.KindInvalidConfig) {
		t.Errorf("the only SQLite server: %v", err)
	}
}
