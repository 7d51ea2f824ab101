package cluster

import (
	"strings"
	"testing"

	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	nodev1 "github.com/edgectl/edgectl/pkg/apis/node/v1alpha1"
)

// TestJoinConfig: a joined host is an agent that reaches the servers at the
// cluster's API address, through a tunnel, with the agent args of the spec
// and its own labels and taints.
func TestJoinConfig(t *testing.T) {
	cfg := &v1alpha1.Cluster{Name: "edge", AgentArgs: []string{"kubelet-arg=max-pods=33"}}
	cfg.Network.APIAddress, cfg.Network.APIPort = "192.168.1.20", 41234
	v1alpha1.SetDefaults(cfg)
	j, err := joinFor(cfg, "pi-7", "arm64", "E1abc::def.123", map[string]string{"site": "shop-7"}, []string{"edge=true:NoSchedule"})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nodev1.Parse(j.Config)
	if err != nil {
		t.Fatal(err)
	}
	if nc.Role != nodev1.RoleAgent || nc.NodeName != "pi-7" || nc.Server != "https://192.168.1.20:41234" || !nc.Tunnel ||
		nc.Labels["site"] != "shop-7" || nc.Labels[LabelJoined] != "true" || len(nc.Taints) != 1 ||
		strings.Join(nc.Args.Kubelet, ",") != "max-pods=33" || nc.NodeIP != "" {
		t.Errorf("joined node config: %+v", nc)
	}
	if j.BundleFile() != "edgectl-bundle-linux-arm64-agent.tar.gz" {
		t.Errorf("bundle file %s", j.BundleFile())
	}
}
