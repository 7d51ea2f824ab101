package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"

	"github.com/flannel-io/flannel/pkg/backend"
	_ "github.com/flannel-io/flannel/pkg/backend/hostgw" // registers the host-gw backend
	_ "github.com/flannel-io/flannel/pkg/backend/vxlan"  // registers the vxlan backend
	"github.com/flannel-io/flannel/pkg/subnet/kube"

	"github.com/edgectl/edgectl/pkg/edgelet/pki"
)

// flannelAnnotationPrefix is where flannel publishes each node's VTEP.
const flannelAnnotationPrefix = "flannel.alpha.coreos.com"

// flannelNetConf is flannel's network config: the cluster CIDR over the
// backend (vxlan, or host-gw).
func flannelNetConf(clusterCIDR, backend string) ([]byte, error) {
	if backend == "" {
		backend = "vxlan"
	}
	return json.Marshal(map[string]any{
		"Network":    clusterCIDR,
		"EnableIPv4": true,
		"Backend":    map[string]any{"Type": backend},
	})
}

// startFlannel runs flannel's VXLAN backend in-process with the Kubernetes
// subnet manager: the node's lease is its podCIDR, and peers find each
// other's VTEP through node annotations. It returns the node's pod subnet
// and the MTU pods must use (the link's minus the VXLAN overhead).
func (a *agent) startFlannel(ctx context.Context, kubeconfigPath string) (podCIDR string, mtu int, err error) {
	dir := filepath.Join(a.cfg.AgentDir(), "etc", "flannel")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", 0, err
	}
	conf, err := flannelNetConf(a.cfg.ClusterCIDR, a.cfg.FlannelBackend)
	if err != nil {
		return "", 0, err
	}
	confPath := filepath.Join(dir, "net-conf.json")
	if err := pki.WriteFileIfChanged(confPath, conf, 0o644); err != nil {
		return "", 0, err
	}
	// flannel's subnet manager reads the node name from the environment only.
	if err := os.Setenv("NODE_NAME", a.cfg.NodeName); err != nil {
		return "", 0, err
	}
	sm, err := kube.NewSubnetManager(ctx, "", kubeconfigPath, flannelAnnotationPrefix, confPath, false)
	if err != nil {
		return "", 0, fmt.Errorf("flannel subnet manager: %w", err)
	}
	netCfg, err := sm.GetNetworkConfig(ctx)
	if err != nil {
		return "", 0, fmt.Errorf("flannel network config: %w", err)
	}
	ext, err := externalInterface(a.cfg.NodeIP, a.cfg.NodeExternalIP)
	if err != nil {
		return "", 0, err
	}
	be, err := backend.NewManager(ctx, sm, ext).GetBackend(netCfg.BackendType)
	if err != nil {
		return "", 0, fmt.Errorf("flannel backend %s: %w", netCfg.BackendType, err)
	}
	var wg sync.WaitGroup
	bn, err := be.RegisterNetwork(ctx, &wg, netCfg)
	if err != nil {
		return "", 0, fmt.Errorf("flannel %s network: %w", netCfg.BackendType, err)
	}
	go bn.Run(ctx)
	return bn.Lease().Subnet.String(), bn.MTU(), nil
}

// externalInterface is the interface that holds the node IP; VXLAN packets
// leave through it. The external IP, when set, is what peers send to (a node
// behind NAT).
func externalInterface(nodeIP, externalIP string) (*backend.ExternalInterface, error) {
	ip := net.ParseIP(nodeIP)
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	for i := range ifaces {
		addrs, err := ifaces[i].Addrs()
		if err != nil {
			continue
		}
		for _, addr := range addrs {
			if ipn, ok := addr.(*net.IPNet); ok && ipn.IP.Equal(ip) {
				ext := &backend.ExternalInterface{Iface: &ifaces[i], IfaceName: ifaces[i].Name, IfaceAddr: ip, ExtAddr: ip}
				if e := net.ParseIP(externalIP); e != nil {
					ext.ExtAddr = e
				}
				return ext, nil
			}
		}
	}
	return nil, fmt.Errorf("no interface has the node IP %s (set --node-ip)", nodeIP)
}
