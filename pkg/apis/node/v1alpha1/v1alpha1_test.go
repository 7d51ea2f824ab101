package v1alpha1

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/edgectl/edgectl/pkg/apis/meta"
)

func TestLoadIsStrictAndNamesFieldAndFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte("role: agent\nnodeIP: 10.0.0.5\nmaxPods: 33\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), `"maxPods"`) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Load = %v, want an error naming the field and the file", err)
	}
	if c, err := Load(filepath.Join(t.TempDir(), "missing")); err != nil || c.Role != "" {
		t.Errorf("a missing file is an empty config: %+v %v", c, err)
	}
	if _, err := Parse([]byte("apiVersion: v9\nkind: NodeConfig\n")); err == nil {
		t.Error("a wrong apiVersion was accepted")
	}
}

// Flags set on the command line win over the file; the rest of the file stays.
func TestFlagsOverrideTheFile(t *testing.T) {
	file, err := Parse([]byte(`role: agent
nodeIP: 10.0.0.5
labels: {a: "1", b: "2"}
taints: [x=y:NoSchedule]
args: {kubelet: [max-pods=33]}
`))
	if err != nil {
		t.Fatal(err)
	}
	flags := &NodeConfig{}
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	flags.AddFlags(fs)
	if err := fs.Parse([]string{"--node-ip=10.0.0.9", "--node-label", "c=3", "--kubelet-arg", "v=2", "--kubelet-arg", "max-pods=50", "--cluster-init"}); err != nil {
		t.Fatal(err)
	}
	if err := file.Override(fs); err != nil {
		t.Fatal(err)
	}
	if file.NodeIP != "10.0.0.9" || !reflect.DeepEqual(file.Labels, map[string]string{"c": "3"}) ||
		!reflect.DeepEqual(file.Args.Kubelet, []string{"v=2", "max-pods=50"}) || !reflect.DeepEqual(file.Taints, []string{"x=y:NoSchedule"}) ||
		!file.Datastore.ClusterInit {
		t.Errorf("merged: %+v", file)
	}
}

func TestApplyArgsAddsAndReportsEveryBadArg(t *testing.T) {
	c := &NodeConfig{Labels: map[string]string{"a": "1"}, Taints: []string{"t=1:NoSchedule"}}
	err := c.ApplyArgs([]string{"--node-label=b=2", "node-taint=u=2:NoExecute", "kubelet-arg=max-pods=33", "disable=coredns,metrics",
		"cluster-init", "https-listen-port=7443"})
	if err != nil {
		t.Fatal(err)
	}
	want := &NodeConfig{Labels: map[string]string{"a": "1", "b": "2"}, Taints: []string{"t=1:NoSchedule", "u=2:NoExecute"},
		Args: ComponentArgs{Kubelet: []string{"max-pods=33"}}, Disable: []string{"coredns", "metrics"},
		Datastore: Datastore{ClusterInit: true}, HTTPSPort: 7443}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got %+v\nwant %+v", c, want)
	}
	err = c.ApplyArgs([]string{"no-such=1", "node-label=nokey", "https-listen-port=x", "cluster-init=maybe"})
	for _, w := range []string{"no-such", "nokey", `"x" is not a number`, "maybe"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v does not mention %q", err, w)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := &NodeConfig{Role: RoleAgent, Server: "https://10.0.0.2:6443", TokenFile: DefaultTokenFile}
	SetDefaults(ok)
	if err := ok.Validate(); err != nil {
		t.Errorf("valid agent: %v", err)
	}
	bad := &NodeConfig{Role: RoleAgent, NodeIP: "x", Server: "http://a", Taints: []string{"nocolon"},
		TLSSANs: []string{"a"}, Datastore: Datastore{Endpoint: "postgres://", ClusterInit: true}, ClusterCIDR: "10.42/16"}
	SetDefaults(bad)
	err := bad.Validate()
	for _, w := range []string{"token:", `nodeIP "x"`, "https://HOST", "nocolon", "tlsSANs: only a server", "datastore.endpoint: only", `clusterCIDR "10.42/16"`, "exclude each other"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Validate() = %v; want it to mention %q", err, w)
		}
	}
	if err := (&NodeConfig{Role: "boss"}).Validate(); err == nil || !strings.Contains(err.Error(), `role "boss"`) {
		t.Errorf("bad role: %v", err)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	c := &NodeConfig{TypeMeta: meta.TypeMeta{APIVersion: APIVersion, Kind: Kind}, Role: RoleServer, Labels: map[string]string{"a": "b"},
		Datastore: Datastore{ClusterInit: true}, Args: ComponentArgs{APIServer: []string{"v=2"}}}
	data, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(data)
	if err != nil || !reflect.DeepEqual(back, c) {
		t.Errorf("round trip: %+v %v\n%s", back, err, data)
	}
}
