package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/internal/runtime"
	"github.com/edgectl/edgectl/internal/runtime/fake"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	nodev1 "github.com/edgectl/edgectl/pkg/apis/node/v1alpha1"
)

func TestCreatePlansEveryNode(t *testing.T) {
	p, rt, kubeconfig := newTest(t)
	cfg := &v1alpha1.Cluster{Name: "demo", Servers: 3, Agents: 2,
		AgentArgs:  []string{"kubelet-arg=max-pods=33", "node-label=tier=edge"},
		ServerArgs: []string{"kube-apiserver-arg=v=2"},
		Ports:      []v1alpha1.Port{{HostPort: 18080, ContainerPort: 30080}, {HostPort: 19000, ContainerPort: 30090, Node: "agent:1"}},
		Nodes:      []v1alpha1.Node{{Role: "agent", Index: 1, Labels: map[string]string{"site": "edge-1"}, Taints: []string{"edge=true:NoSchedule"}}}}
	create(t, p, kubeconfig, cfg)

	spec, err := p.Spec(context.Background(), "demo")
	if err != nil {
		t.Fatal(err)
	}
	subnet := spec.Network.Subnet
	if !strings.HasPrefix(subnet, "10.89.") || spec.Network.APIPort == 0 {
		t.Fatalf("stored spec lacks the resolved subnet and port: %+v", spec.Network)
	}
	addr, _ := newAddresses(subnet)
	s0, s1 := nodeConfigOf(t, rt, "edgectl-demo-server-0"), nodeConfigOf(t, rt, "edgectl-demo-server-1")
	a1 := nodeConfigOf(t, rt, "edgectl-demo-agent-1")
	if !s0.Datastore.ClusterInit || s1.Datastore.ClusterInit || s1.Server != "https://"+addr.server(0)+":6443" {
		t.Errorf("HA join not planned: s0 %+v, s1 %+v", s0.Datastore, s1)
	}
	if !reflect.DeepEqual(s1.Args.APIServer, []string{"v=2"}) || s1.NodeIP != addr.server(1) {
		t.Errorf("server 1: args %v ip %s", s1.Args.APIServer, s1.NodeIP)
	}
	if a1.Server != "https://"+addr.lb()+":6443" || a1.NodeIP != addr.agent(1) || a1.TokenFile != nodev1.DefaultTokenFile {
		t.Errorf("agent must join through the LB with its static IP and the token file: %+v", a1)
	}
	if !reflect.DeepEqual(a1.Labels, map[string]string{"tier": "edge", "site": "edge-1"}) ||
		!reflect.DeepEqual(a1.Taints, []string{"edge=true:NoSchedule"}) || !reflect.DeepEqual(a1.Args.Kubelet, []string{"max-pods=33"}) {
		t.Errorf("agent 1 settings: labels %v taints %v kubelet %v", a1.Labels, a1.Taints, a1.Args.Kubelet)
	}
	if tok := string(rt.Container("edgectl-demo-agent-0").Files[nodev1.DefaultTokenFile]); strings.TrimSpace(tok) != testJoinToken {
		t.Errorf("agent token file %q, want the server's full join token", tok)
	}
	secret := rt.Container("edgectl-demo-server-2").Files[nodev1.DefaultTokenFile]
	if len(secret) < 10 || string(secret) != string(rt.Container("edgectl-demo-server-0").Files[nodev1.DefaultTokenFile]) {
		t.Errorf("servers must share one secret: %q", secret)
	}
	lb := rt.Container("edgectl-demo-lb")
	hc := string(lb.Files[haproxyConfig])
	// Tunnels of nodes behind NAT come in on the API port and go to every
	// server's tunnel port.
	for _, want := range []string{addr.server(2) + ":6443", "bind *:30080", addr.agent(1) + ":30080",
		"req.ssl_alpn edgelet-tunnel/1", addr.server(2) + ":6445"} {
		if !strings.Contains(hc, want) {
			t.Errorf("haproxy config lacks %s:\n%s", want, hc)
		}
	}
	if lb.Spec.StopSignal != "SIGTERM" || lb.Spec.Ports[0].HostPort != spec.Network.APIPort || len(lb.Spec.Ports) != 2 {
		t.Errorf("lb: stop %q ports %+v", lb.Spec.StopSignal, lb.Spec.Ports)
	}
	if a := rt.Container("edgectl-demo-agent-1"); len(a.Spec.Ports) != 1 || a.Spec.Ports[0].HostPort != 19000 {
		t.Errorf("agent 1 ports: %+v", a.Spec.Ports)
	}
	kc, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil || kc.Clusters["edgectl-demo"] == nil || kc.Clusters["edgectl-demo"].Server != fmt.Sprintf("https://127.0.0.1:%d", spec.Network.APIPort) {
		t.Errorf("kubeconfig not merged: %v %+v", err, kc)
	}
}

// The spec printed by `cluster get -o yaml`, fed back to create, gives the
// same nodes: names, IPs, labels, taints, args.
func TestSpecRoundTrip(t *testing.T) {
	ctx := context.Background()
	p, rt, kubeconfig := newTest(t)
	create(t, p, kubeconfig, &v1alpha1.Cluster{Name: "rt", Agents: 2, AgentArgs: []string{"kubelet-arg=max-pods=33"},
		Nodes: []v1alpha1.Node{{Role: "agent", Index: 0, Labels: map[string]string{"a": "b"}, Taints: []string{"k=v:NoSchedule"}}}})
	if _, err := p.AddNode(ctx, AddNodeOptions{Cluster: "rt", Labels: map[string]string{"added": "yes"}}); err != nil {
		t.Fatal(err)
	}
	before := snapshotNodes(t, rt)
	yaml, err := p.SpecYAML(ctx, "rt")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Delete(ctx, "rt", kubeconfig); err != nil {
		t.Fatal(err)
	}
	if left := rt.Objects(); len(left) != 0 {
		t.Fatalf("delete left %v", left)
	}
	again, err := v1alpha1.Parse(yaml)
	if err != nil {
		t.Fatalf("the printed spec does not parse: %v\n%s", err, yaml)
	}
	create(t, p, kubeconfig, again)
	if after := snapshotNodes(t, rt); !reflect.DeepEqual(before, after) {
		t.Errorf("round trip changed the nodes:\nbefore %v\nafter  %v", before, after)
	}
}

// snapshotNodes is each node's name, IP and node config (token excluded:
// it is new for every cluster).
func snapshotNodes(t *testing.T, rt *fake.Runtime) map[string]string {
	out := map[string]string{}
	for _, o := range rt.Objects() {
		name, ok := strings.CutPrefix(o, "container ")
		if !ok || strings.HasSuffix(name, "-lb") {
			continue
		}
		nc := nodeConfigOf(t, rt, name)
		out[name] = fmt.Sprintf("%s %+v", rt.Container(name).Spec.IP, *nc)
	}
	return out
}

func TestCreateFailureRemovesEverything(t *testing.T) {
	for _, failAt := range []string{"create edgectl-f-lb", "create edgectl-f-server-0", "create edgectl-f-agent-1", "exec edgectl-f-server-0: cat " + nodev1.ServerTokenPath(nodev1.DefaultDataDir)} {
		t.Run(failAt, func(t *testing.T) {
			p, rt, kubeconfig := newTest(t)
			rt.Fail = func(op, name string) error {
				if op+" "+name == failAt {
					return errors.New("injected failure")
				}
				return nil
			}
			err := p.Create(context.Background(), CreateOptions{Config: &v1alpha1.Cluster{Name: "f", Agents: 2}, Kubeconfig: kubeconfig})
			if err == nil || !strings.Contains(err.Error(), "injected failure") {
				t.Fatalf("create: %v, want the injected failure", err)
			}
			if left := rt.Objects(); len(left) != 0 {
				t.Errorf("a failed create left %v", left)
			}
			if kc, err := clientcmd.LoadFromFile(kubeconfig); err == nil && kc.Contexts["edgectl-f"] != nil {
				t.Error("a failed create left its kubeconfig context")
			}
		})
	}
}

func TestCreateRetainKeepsWhatWasMade(t *testing.T) {
	p, rt, kubeconfig := newTest(t)
	rt.Fail = func(op, name string) error {
		if op == "create" && name == "edgectl-r-agent-0" {
			return errors.New("injected failure")
		}
		return nil
	}
	err := p.Create(context.Background(), CreateOptions{Config: &v1alpha1.Cluster{Name: "r", Agents: 1}, Kubeconfig: kubeconfig, Retain: true})
	if err == nil || rt.Container("edgectl-r-server-0") == nil {
		t.Fatalf("--retain: err %v, objects %v", err, rt.Objects())
	}
}

func TestCreateRefusesBeforeCreatingAnything(t *testing.T) {
	p, rt, kubeconfig := newTest(t)
	create(t, p, kubeconfig, &v1alpha1.Cluster{Name: "taken"})
	before := rt.Objects()
	for name, tc := range map[string]struct {
		cfg  *v1alpha1.Cluster
		kind edgeerrors.Kind
	}{
		"bad agent arg": {&v1alpha1.Cluster{Name: "x", Agents: 1, AgentArgs: []string{"no-such-flag=1"}}, edgeerrors.KindInvalidConfig},
		"bad label arg": {&v1alpha1.Cluster{Name: "x", ServerArgs: []string{"node-label=novalue"}}, edgeerrors.KindInvalidConfig},
		"servers 2":     {&v1alpha1.Cluster{Name: "x", Servers: 2}, edgeerrors.KindInvalidConfig},
		"name taken":    {&v1alpha1.Cluster{Name: "taken"}, edgeerrors.KindExists},
		"no image":      {&v1alpha1.Cluster{Name: "x", Image: "missing:1"}, edgeerrors.KindImageMissing},
		"no manifests":  {&v1alpha1.Cluster{Name: "x", Manifests: "/nonexistent/dir"}, edgeerrors.KindInvalidConfig},
		"no registry":   {&v1alpha1.Cluster{Name: "x", Registries: []string{"nosuch"}}, edgeerrors.KindNotFound},
	} {
		err := p.Create(context.Background(), CreateOptions{Config: tc.cfg, Kubeconfig: kubeconfig})
		var e *edgeerrors.Error
		if !errors.As(err, &e) || e.Kind != tc.kind {
			t.Errorf("%s: got %v, want kind %d", name, err, tc.kind)
		}
	}
	if after := rt.Objects(); !reflect.DeepEqual(before, after) {
		t.Errorf("refused creates changed the engine: %v -> %v", before, after)
	}
}

func TestCreateFallsBackWhenPrivilegeIsRefused(t *testing.T) {
	p, rt, kubeconfig := newTest(t)
	rt.RefusePrivileged = true
	create(t, p, kubeconfig, &v1alpha1.Cluster{Name: "u", Agents: 1})
	for _, n := range []string{"edgectl-u-server-0", "edgectl-u-agent-0"} {
		c := rt.Container(n)
		if c.Spec.Privileged || c.Spec.Labels[labelPrivileged] != "false" {
			t.Errorf("%s: privileged %v label %q", n, c.Spec.Privileged, c.Spec.Labels[labelPrivileged])
		}
	}
	p2, rt2, kc2 := newTest(t)
	create(t, p2, kc2, &v1alpha1.Cluster{Name: "v", Agents: 1})
	if c := rt2.Container("edgectl-v-agent-0"); !c.Spec.Privileged {
		t.Error("an engine that allows --privileged should get privileged nodes")
	}
}

// Creates that race for the same free subnet each end on a subnet of their own.
func TestCreatePicksAnotherSubnetWhenOneIsTaken(t *testing.T) {
	p, rt, kubeconfig := newTest(t)
	stolen := false
	rt.Fail = func(op, name string) error {
		if op == "network-create" && name == "edgectl-b" && !stolen {
			stolen = true // another create takes the subnet first
			_ = rt.EnsureNetwork(context.Background(), "other", "10.89.0.0/24", "", nil)
		}
		return nil
	}
	create(t, p, kubeconfig, &v1alpha1.Cluster{Name: "b"})
	spec, _ := p.Spec(context.Background(), "b")
	if spec.Network.Subnet == "10.89.0.0/24" {
		t.Errorf("kept the taken subnet")
	}
	var taken *runtime.SubnetTakenError
	err := rt.EnsureNetwork(context.Background(), "third", spec.Network.Subnet, "", nil)
	if !errors.As(err, &taken) {
		t.Errorf("the fake engine must refuse an overlap: %v", err)
	}
}

// A free API port that something binds before the load balancer does is
// replaced by another; a port the config names is not.
func TestCreatePicksAnotherAPIPortWhenOneIsTaken(t *testing.T) {
	p, rt, kubeconfig := newTest(t)
	refused := 0
	rt.Fail = func(op, name string) error {
		if op == "create" && name == "edgectl-port-lb" && refused == 0 {
			refused++
			return fmt.Errorf("start container: %w", &runtime.PortTakenError{Port: 1})
		}
		return nil
	}
	create(t, p, kubeconfig, &v1alpha1.Cluster{Name: "port"})
	if refused != 1 || !contains(rt.Calls(), "remove edgectl-port-lb") {
		t.Errorf("no retry: %v", rt.Calls())
	}
	rt.TakenPorts = map[int]bool{45678: true}
	err := p.Create(context.Background(), CreateOptions{Config: &v1alpha1.Cluster{Name: "fixed", Network: v1alpha1.Network{APIPort: 45678}}, Kubeconfig: kubeconfig})
	var taken *runtime.PortTakenError
	if !errors.As(err, &taken) || taken.Port != 45678 {
		t.Errorf("a named port that is taken: %v", err)
	}
}

func TestDisabledAddOnsReachTheServers(t *testing.T) {
	p, rt, kubeconfig := newTest(t)
	create(t, p, kubeconfig, &v1alpha1.Cluster{Name: "d", Agents: 1, Disable: []string{"local-path"}})
	if nc := nodeConfigOf(t, rt, "edgectl-d-server-0"); !reflect.DeepEqual(nc.Disable, []string{"local-path"}) {
		t.Errorf("server disable: %v", nc.Disable)
	}
	if nc := nodeConfigOf(t, rt, "edgectl-d-agent-0"); len(nc.Disable) != 0 {
		t.Errorf("an agent got disable: %v", nc.Disable)
	}
	err := p.Create(context.Background(), CreateOptions{Config: &v1alpha1.Cluster{Name: "e", Disable: []string{"traefik"}}, Kubeconfig: kubeconfig})
	if edgeerrors.ExitCode(err) != int(edgeerrors.KindInvalidConfig) || !strings.Contains(err.Error(), "local-path") {
		t.Errorf("an unknown add-on: %v", err)
	}
}

func TestManifestsGoToEveryServer(t *testing.T) {
	p, rt, kubeconfig := newTest(t)
	dir := t.TempDir()
	for name, data := range map[string]string{"app.yaml": "kind: ConfigMap", "notes.txt": "skipped"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	create(t, p, kubeconfig, &v1alpha1.Cluster{Name: "m", Servers: 3, Agents: 1, Manifests: dir})
	want := filepath.Join(serverManifestsDir, "app.yaml")
	for _, node := range []string{"edgectl-m-server-0", "edgectl-m-server-2"} {
		if got := string(rt.Container(node).Files[want]); got != "kind: ConfigMap" {
			t.Errorf("%s: %s = %q", node, want, got)
		}
		if _, ok := rt.Container(node).Files[filepath.Join(serverManifestsDir, "notes.txt")]; ok {
			t.Errorf("%s got a file that is not a manifest", node)
		}
	}
	if _, ok := rt.Container("edgectl-m-agent-0").Files[want]; ok {
		t.Error("an agent got the manifests")
	}
	if err := os.WriteFile(filepath.Join(dir, "coredns.yaml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := p.Create(context.Background(), CreateOptions{Config: &v1alpha1.Cluster{Name: "n", Manifests: dir}, Kubeconfig: kubeconfig})
	if edgeerrors.ExitCode(err) != int(edgeerrors.KindInvalidConfig) || !strings.Contains(err.Error(), "packaged add-on") {
		t.Errorf("a manifest named like an add-on: %v", err)
	}
}

// An engine that refused --privileged is remembered: the next create starts
// its first node unprivileged at once (no refused attempt, ~0.8 s), and an
// old refusal, or one from another engine, is tried again.
func TestCreateRemembersARefusedPrivilege(t *testing.T) {
	memo := filepath.Join(t.TempDir(), "engines.json")
	p, rt, kubeconfig := newTest(t)
	p.memoFile = memo
	rt.RefusePrivileged = true
	attempts := func() int {
		n := 0
		for _, c := range rt.Calls() {
			if strings.HasPrefix(c, "remove edgectl-") && strings.HasSuffix(c, "-server-0") {
				n++ // the refused first node is removed before the retry
			}
		}
		return n
	}
	create(t, p, kubeconfig, &v1alpha1.Cluster{Name: "a"})
	if attempts() != 1 {
		t.Fatalf("the first create did not try --privileged: %v", rt.Calls())
	}
	create(t, p, kubeconfig, &v1alpha1.Cluster{Name: "b"})
	if attempts() != 1 {
		t.Errorf("the second create tried --privileged again: %v", rt.Calls())
	}
	if c := rt.Container("edgectl-b-server-0"); c == nil || c.Spec.Privileged || c.Spec.Labels[labelPrivileged] != "false" {
		t.Errorf("the remembered refusal did not start the node unprivileged: %+v", c)
	}
	// A day-old refusal is tried again.
	info, err := rt.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	old, _ := json.Marshal(map[string]time.Time{engineKey(info): time.Now().Add(-25 * time.Hour)})
	if err := os.WriteFile(memo, old, 0o644); err != nil {
		t.Fatal(err)
	}
	create(t, p, kubeconfig, &v1alpha1.Cluster{Name: "c"})
	if attempts() != 2 {
		t.Errorf("a day-old refusal was not tried again: %v", rt.Calls())
	}
	// The engine now allows it: the memo forgets the refusal.
	rt.RefusePrivileged = false
	if err := os.WriteFile(memo, old, 0o644); err != nil {
		t.Fatal(err)
	}
	create(t, p, kubeconfig, &v1alpha1.Cluster{Name: "d"})
	if c := rt.Container("edgectl-d-server-0"); c == nil || !c.Spec.Privileged {
		t.Errorf("an engine that allows --privileged got an unprivileged node")
	}
	if data, _ := os.ReadFile(memo); strings.Contains(string(data), engineKey(info)) {
		t.Errorf("the memo still holds the refusal: %s", data)
	}
}

// The load balancer and the first server start at once. When the balancer
// finds the API host port taken meanwhile and takes another, the server,
// whose labels name the port, is made again for the new one.
func TestCreateRestartsTheFirstServerWhenTheAPIPortMoves(t *testing.T) {
	p, rt, kubeconfig := newTest(t)
	taken := 0
	rt.Fail = func(op, name string) error {
		if op == "start" && name == "edgectl-m-lb" && taken == 0 {
			taken++
			return &runtime.PortTakenError{Port: 1}
		}
		return nil
	}
	create(t, p, kubeconfig, &v1alpha1.Cluster{Name: "m"})
	lb, server := rt.Container("edgectl-m-lb"), rt.Container("edgectl-m-server-0")
	if lb == nil || server == nil {
		t.Fatalf("objects: %v", rt.Objects())
	}
	port := server.Spec.Labels[runtime.LabelAPIPort]
	if len(lb.Spec.Ports) != 1 || strconv.Itoa(lb.Spec.Ports[0].HostPort) != port {
		t.Errorf("the balancer publishes %+v; the server is labelled with API port %s", lb.Spec.Ports, port)
	}
	starts := 0
	for _, c := range rt.Calls() {
		if c == "create edgectl-m-server-0" {
			starts++
		}
	}
	if taken != 1 || starts != 2 {
		t.Errorf("port taken %d time(s), server created %d time(s), want 1 and 2: %v", taken, starts, rt.Calls())
	}
	cfg, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil || !strings.HasSuffix(cfg.Clusters["edgectl-m"].Server, ":"+port) {
		t.Errorf("the kubeconfig does not point at API port %s: %v %+v", port, err, cfg)
	}
}
