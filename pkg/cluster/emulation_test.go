package cluster

import (
	"strings"
	"testing"

	"github.com/edgectl/edgectl/internal/log"
	"github.com/edgectl/edgectl/internal/runtime/fake"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	nodev1 "github.com/edgectl/edgectl/pkg/apis/node/v1alpha1"
	"github.com/edgectl/edgectl/pkg/build/nodeimage"
)

// A node of another platform gets the host's containerd, runc and iptables
// from the host's node image, and the whole cluster uses host-gw; a cluster
// of the host's platform alone gets neither.
func TestEmulatedNodes(t *testing.T) {
	other, otherArch := "linux/arm64", "arm64"
	if v1alpha1.HostPlatform() == other {
		other, otherArch = "linux/amd64", "amd64"
	}
	images := map[string]map[string]string{
		v1alpha1.DefaultImage:                           {nodeimage.LabelInputs: "x"},
		v1alpha1.ImageFor(v1alpha1.DefaultImage, other): {nodeimage.LabelInputs: "x", nodeimage.LabelArch: otherArch},
	}
	rt := fake.New(images)
	rt.OnStart = fakeNode
	p := NewProviderWithRuntime(rt, log.Discard())
	p.binfmtDir = fakeBinfmt(t, otherArch)
	kubeconfig := t.TempDir() + "/kubeconfig"
	create(t, p, kubeconfig, &v1alpha1.Cluster{Name: "e", Agents: 1, AgentPlatform: other})
	create(t, p, kubeconfig, &v1alpha1.Cluster{Name: "h", Agents: 1})

	native := nodev1.NativeDir + "/containerd"
	for node, want := range map[string]bool{"edgectl-e-agent-0": true, "edgectl-e-server-0": false, "edgectl-h-agent-0": false} {
		if _, got := rt.Container(node).Files[native]; got != want {
			t.Errorf("%s has %s: %v, want %v", node, native, got, want)
		}
	}
	for node, want := range map[string]string{"edgectl-e-server-0": nodev1.FlannelHostGW, "edgectl-e-agent-0": nodev1.FlannelHostGW,
		"edgectl-h-server-0": nodev1.FlannelVXLAN} {
		if got := nodeConfigOf(t, rt, node).FlannelBackend; got != want {
			t.Errorf("%s: flannel backend %q, want %q", node, got, want)
		}
	}
	libs := 0
	for path := range rt.Container("edgectl-e-agent-0").Files {
		if strings.Contains(path, "-linux-gnu/") {
			libs++
		}
	}
	if libs < 5 {
		t.Errorf("the emulated agent got %d native libraries", libs)
	}

	// Without the host's node image, an emulated cluster is refused before
	// anything is made.
	delete(images, v1alpha1.DefaultImage)
	err := p.Create(t.Context(), CreateOptions{Config: &v1alpha1.Cluster{Name: "x", Agents: 1, AgentPlatform: other, Nodes: []v1alpha1.Node{
		{Role: "server", Index: 0, Platform: other}}}, Kubeconfig: kubeconfig})
	if err == nil || !strings.Contains(err.Error(), "not found in the engine") {
		t.Errorf("an emulated cluster without the host's image: %v", err)
	}
	if rt.Container("edgectl-x-server-0") != nil {
		t.Error("a refused create left a node")
	}
}
