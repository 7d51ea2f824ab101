package cluster

import (
	"context"
	"strings"
	"testing"

	"github.com/edgectl/edgectl/internal/log"
	"github.com/edgectl/edgectl/internal/runtime"
	"github.com/edgectl/edgectl/internal/runtime/fake"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	nodev1 "github.com/edgectl/edgectl/pkg/apis/node/v1alpha1"
	"github.com/edgectl/edgectl/pkg/build/nodeimage"
)

// testJoinToken is what a fake server writes as its full join token.
var testJoinToken = "E1" + strings.Repeat("ab", 32) + "::abcdef.0123456789abcdef"

const testKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: default
  cluster: {server: "https://127.0.0.1:6443", certificate-authority-data: Y2E=}
users:
- name: default
  user: {token: admin}
contexts:
- name: default
  context: {cluster: default, user: default}
current-context: default
`

// fakeNode plays what a node does when it starts: a server writes its
// admin kubeconfig and its join token.
func fakeNode(r *fake.Runtime, name string) {
	c := r.Container(name)
	if c == nil || c.Spec.Labels[runtime.LabelRole] != RoleServer {
		return
	}
	r.SetFile(name, nodev1.DefaultKubeconfig, []byte(testKubeconfig))
	r.SetFile(name, nodev1.ServerTokenPath(nodev1.DefaultDataDir), []byte(testJoinToken+"\n"))
}

// newTest returns a provider on a fake engine that holds the node image,
// and a kubeconfig file of the test's own.
func newTest(t *testing.T) (*Provider, *fake.Runtime, string) {
	t.Helper()
	rt := fake.New(map[string]map[string]string{v1alpha1.DefaultImage: {nodeimage.LabelInputs: "x"}})
	rt.OnStart = fakeNode
	return NewProviderWithRuntime(rt, log.Discard()), rt, t.TempDir() + "/kubeconfig"
}

// create makes a cluster from cfg on the fake engine and fails the test on error.
func create(t *testing.T, p *Provider, kubeconfig string, cfg *v1alpha1.Cluster) {
	t.Helper()
	if err := p.Create(context.Background(), CreateOptions{Config: cfg, Kubeconfig: kubeconfig}); err != nil {
		t.Fatalf("create %s: %v", cfg.Name, err)
	}
}

// nodeConfigOf decodes the node config file edgectl wrote into a node.
func nodeConfigOf(t *testing.T, rt *fake.Runtime, node string) *nodev1.NodeConfig {
	t.Helper()
	c := rt.Container(node)
	if c == nil {
		t.Fatalf("no container %s", node)
	}
	nc, err := nodev1.Parse(c.Files[nodev1.DefaultConfigPath])
	if err != nil {
		t.Fatalf("node config of %s: %v", node, err)
	}
	return nc
}
