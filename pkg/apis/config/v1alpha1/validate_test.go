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
