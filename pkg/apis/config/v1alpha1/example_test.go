package v1alpha1

import (
	"reflect"
	"testing"
)

func TestExampleIsValidAndDefault(t *testing.T) {
	c, err := Parse([]byte(Example))
	if err != nil {
		t.Fatal(err)
	}
	SetDefaults(c)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	d := &Cluster{}
	SetDefaults(d)
	c.Ports, c.Nodes, c.ServerArgs, c.AgentArgs, c.Hosts = nil, nil, nil, nil, nil
	if !reflect.DeepEqual(c, d) {
		t.Fatalf("example differs from the defaults:\n%+v\n%+v", c, d)
	}
}
