package v1alpha1

import (
	"strings"
	"testing"
)

func TestValidateReportsEveryProblem(t *testing.T) {
	c, err := Parse([]byte(`
apiVersion: edgectl.io/v1alpha1
kind: Cluster
name: Bad_Name
servers: 2
agents: -1
network:
  subnet: 10.42.0.0/16
ports:
- {hostPort: 0, containerPort: 80, node: "agent:3"}
`))
	if err != nil {
		t.Fatal(err)
	}
	SetDefaults(c)
	err = c.Validate()
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, want := range []string{`name "Bad_Name"`, "servers 2", "agents -1", "overlaps kubernetes.clusterCIDR", "hostPort 0", `"agent:3": no such node`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

func TestParseIsStrict(t *testing.T) {
	_, err := Parse([]byte("apiVersion: edgectl.io/v1alpha1\nkind: Cluster\nagentz: 3\n"))
	if err == nil || !strings.Contains(err.Error(), "agentz") {
		t.Fatalf("unknown field not rejected: %v", err)
	}
}

func TestDefaultsAreValid(t *testing.T) {
	c := &Cluster{}
	SetDefaults(c)
	if err := c.Validate(); err != nil {
		t.Fatalf("defaulted empty config is invalid: %v", err)
	}
	if c.Servers != 1 || c.Image != DefaultImage || c.Name != DefaultName {
		t.Fatalf("unexpected defaults: %+v", c)
	}
}

// An unknown field comes back with the lenient decode, so that the caller can
// list it together with the config's other problems.
func TestParseReturnsLenientConfigWithUnknownField(t *testing.T) {
	c, err := Parse([]byte("apiVersion: edgectl.io/v1alpha1\nkind: Cluster\nservers: 2\ncolour: blue\n"))
	if err == nil || !strings.Contains(err.Error(), `unknown field "colour"`) {
		t.Fatalf("unknown field not reported: %v", err)
	}
	if c == nil || c.Servers != 2 {
		t.Fatalf("lenient config not returned: %+v", c)
	}
	if _, err := Parse([]byte("servers: [")); err == nil {
		t.Error("broken YAML accepted")
	}
}

func TestLoadBalancerRange(t *testing.T) {
	for rng, want := range map[string]string{
		"10.89.7.224-10.89.7.254": "",
		"10.89.7.240/28":          "",
		"10.89.7.200-10.89.7.230": "overlaps the node addresses 10.89.7.0-10.89.7.219",
		"10.89.8.1-10.89.8.9":     "must be inside network.subnet",
		"10.89.7.250-10.89.7.255": "must be inside network.subnet",
		"10.89.7.250-":            "FIRST-LAST",
	} {
		c := &Cluster{Network: Network{Subnet: "10.89.7.0/24", LoadBalancerRange: rng}}
		SetDefaults(c)
		err := c.Validate()
		if (want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), want) {
			t.Errorf("range %s: %v, want %q", rng, err, want)
		}
	}
	c := &Cluster{Network: Network{LoadBalancerRange: "10.89.7.224-10.89.7.254"}}
	SetDefaults(c)
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "set network.subnet too") {
		t.Errorf("range without subnet: %v", err)
	}
}

func TestValidateHostsReportsEveryProblem(t *testing.T) {
	c, err := Parse([]byte(`
apiVersion: edgectl.io/v1alpha1
kind: Cluster
name: shop
agents: 2
hosts:
- {role: server, index: 0, ssh: root@10.0.0.10}
- {role: agent, index: 0, ssh: pi@10.0.0.11:2222, bastion: "gw@"}
- {role: agent, index: 3, ssh: pi@10.0.0.13}
- {role: agent, index: 0, ssh: "pi@10.0.0.10:22"}
`))
	if err != nil {
		t.Fatal(err)
	}
	SetDefaults(c)
	if err := c.Validate(); err != nil {
		t.Fatalf("cluster create ignores hosts, Validate must too: %v", err)
	}
	err = c.ValidateHosts()
	if err == nil {
		t.Fatal("bad hosts accepted")
	}
	for _, want := range []string{
		`hosts[1].bastion: "gw@"`,
		`hosts[2]: role "agent" index 3 matches no node`,
		"hosts[3]: agent:0 already has a host in hosts[1]",
		"hosts[3].ssh: 10.0.0.10:22 is also hosts[0]'s address",
		"agent:1 has no host",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
	c.Hosts = c.Hosts[:2]
	c.Hosts[1].Bastion = ""
	c.Hosts = append(c.Hosts, Host{Role: "agent", Index: 1, SSH: "10.0.0.12"})
	if err := c.ValidateHosts(); err != nil {
		t.Errorf("good hosts refused: %v", err)
	}
	c.Hosts = nil
	if err := c.ValidateHosts(); err == nil || !strings.Contains(err.Error(), "hosts: none") {
		t.Errorf("no hosts: %v", err)
	}
}

// An API address that no board can reach is refused before anything is
// created, with the address to give instead.
func TestAPIAddressReachable(t *testing.T) {
	for addr, ok := range map[string]bool{
		"192.168.1.20": true, "edge.example.com": true, "10.0.0.1": true,
		"0.0.0.0": false, "::": false, "127.0.0.1": false, "127.1.2.3": false, "::1": false,
		"localhost": false, "LOCALHOST": false, "api.localhost": false,
	} {
		c := &Cluster{Network: Network{APIAddress: addr}}
		SetDefaults(c)
		err := c.Validate()
		if ok != (err == nil) || err != nil && !strings.Contains(err.Error(), "a board cannot reach this machine there") {
			t.Errorf("apiAddress %s: %v", addr, err)
		}
	}
}
