package cluster

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
)

func TestPlanAssignsStaticIPsAndConfig(t *testing.T) {
	cfg := &v1alpha1.Cluster{Name: "demo", Servers: 3, Agents: 2,
		Ports: []v1alpha1.Port{{HostPort: 8080, ContainerPort: 30080}, {HostPort: 9000, ContainerPort: 30090, Node: "agent:1"}},
		Nodes: []v1alpha1.Node{{Role: "agent", Index: 1, Labels: map[string]string{"site": "edge-1"}, Taints: []string{"edge=true:NoSchedule"}}}}
	v1alpha1.SetDefaults(cfg)
	p, err := makePlan(cfg, "10.89.3.0/24", 41000, "tok", true)
	if err != nil {
		t.Fatal(err)
	}
	agent1, err := agentSpec(cfg, "10.89.3.0/24", 41000, 1, "E1join", true)
	if err != nil {
		t.Fatal(err)
	}
	agent0, _ := agentSpec(cfg, "10.89.3.0/24", 41000, 0, "E1join", true)
	if p.LB.IP != "10.89.3.2" || p.Servers[2].IP != "10.89.3.12" || agent1.IP != "10.89.3.21" || p.Gateway != "10.89.3.1" {
		t.Fatalf("unexpected addresses: lb %s server2 %s agent1 %s gw %s", p.LB.IP, p.Servers[2].IP, agent1.IP, p.Gateway)
	}
	if p.LB.StopSignal != "SIGTERM" || p.Servers[0].StopSignal != "" {
		t.Errorf("stop signals: lb %q, server %q (want SIGTERM, the image's)", p.LB.StopSignal, p.Servers[0].StopSignal)
	}
	if p.LB.Ports[0].HostPort != 41000 || p.LB.Ports[0].ContainerPort != APIPort {
		t.Fatalf("API not published: %+v", p.LB.Ports)
	}
	if len(p.LB.Ports) != 2 || p.LB.Ports[1].HostPort != 8080 || len(agent1.Ports) != 1 || agent1.Ports[0].HostPort != 9000 {
		t.Fatalf("user ports: lb %+v agent1 %+v", p.LB.Ports, agent1.Ports)
	}
	var s0, s1, a1 map[string]any
	mustYAML(t, p.Servers[0].Files[edgeletConfig], &s0)
	mustYAML(t, p.Servers[1].Files[edgeletConfig], &s1)
	mustYAML(t, agent1.Files[edgeletConfig], &a1)
	if s0["cluster-init"] != true || s1["server"] != "https://10.89.3.10:6443" {
		t.Errorf("HA join not planned: s0=%v s1=%v", s0, s1)
	}
	if a1["server"] != "https://10.89.3.2:6443" || a1["node-ip"] != "10.89.3.21" || a1["token"] != "E1join" {
		t.Errorf("agent must join through the LB with its static IP: %v", a1)
	}
	if got := a1["node-label"]; len(got.([]any)) != 1 || got.([]any)[0] != "site=edge-1" {
		t.Errorf("node labels: %v", got)
	}
	if string(agent0.Files[edgeletRole]) != "EDGELET_ROLE=agent\n" {
		t.Errorf("role file: %q", agent0.Files[edgeletRole])
	}
	hc := string(p.LB.Files[haproxyConfig])
	for _, ip := range []string{"10.89.3.10:6443", "10.89.3.11:6443", "10.89.3.12:6443", "bind *:30080", "10.89.3.21:30080"} {
		if !strings.Contains(hc, ip) {
			t.Errorf("haproxy config lacks %s:\n%s", ip, hc)
		}
	}
}

func TestPickSubnetSkipsUsed(t *testing.T) {
	got, err := pickSubnet([]string{"172.17.0.0/16", "10.89.0.0/24", "10.89.1.0/24"})
	if err != nil || got != "10.89.2.0/24" {
		t.Fatalf("got %s, %v", got, err)
	}
	if got, _ := pickSubnet([]string{"10.0.0.0/8"}); got != "" {
		t.Fatalf("overlapping /8 not respected: %s", got)
	}
}

func mustYAML(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatal(err)
	}
}

func TestDatastoreOf(t *testing.T) {
	for _, tc := range []struct {
		servers int
		args    []string
		want    string
	}{
		{1, nil, DatastoreSQLite},
		{3, nil, DatastoreEtcd},
		{1, []string{"cluster-init"}, DatastoreEtcd},
		{1, []string{"--datastore-endpoint=postgres://db/k8s"}, DatastoreExternal},
	} {
		cfg := &v1alpha1.Cluster{Servers: tc.servers, ServerArgs: tc.args}
		if got := datastoreOf(cfg); got != tc.want {
			t.Errorf("servers %d args %v: %s, want %s", tc.servers, tc.args, got, tc.want)
		}
	}
}

func TestHAProxyConfigPorts(t *testing.T) {
	c := haproxyConfigFor([]string{"10.0.0.10"}, []string{"10.0.0.10", "10.0.0.20"}, []int{30080})
	for _, want := range []string{"server server-0 10.0.0.10:6443", "bind *:30080", "server node-1 10.0.0.20:30080"} {
		if !strings.Contains(c, want) {
			t.Errorf("config lacks %q:\n%s", want, c)
		}
	}
}
