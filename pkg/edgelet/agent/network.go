package agent

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"

	"k8s.io/klog/v2"

	"github.com/edgectl/edgectl/pkg/edgelet/pki"
)

const (
	cniBinDir  = "/opt/cni/bin"
	cniConfDir = "/etc/cni/net.d"
	cniConf    = "10-edgelet.conflist"
	bridgeName = "cni0"
)

// cniConfig renders the CNI config for the node's pod CIDR: the standard
// bridge + host-local plugins, and portmap for hostPort.
func cniConfig(podCIDR string, mtu int) ([]byte, error) {
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       "edgelet",
		"plugins": []any{
			map[string]any{
				"type":        "bridge",
				"bridge":      bridgeName,
				"isGateway":   true,
				"hairpinMode": true,
				// Masquerading here would hide pod IPs from pods on other
				// nodes; ensureMasquerade only rewrites traffic leaving the
				// pod network.
				"ipMasq": false,
				"mtu":    mtu,
				"ipam": map[string]any{
					"type":   "host-local",
					"ranges": [][]map[string]string{{{"subnet": podCIDR}}},
					"routes": []map[string]string{{"dst": "0.0.0.0/0"}},
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}
	return json.MarshalIndent(conf, "", "  ")
}

// runNetwork starts flannel (VXLAN between nodes, so nodes on different
// networks and boards behind NAT can join), then writes the CNI config for
// the node's pod subnet with flannel's MTU.
func (a *agent) runNetwork(ctx context.Context, kubeconfigPath string) error {
	if err := ensureMasquerade(ctx, a.cfg.ClusterCIDR); err != nil {
		return err
	}
	// flannel's lease is the node's podCIDR, which kube-controller-manager
	// assigns shortly after the node registers; flannel fails without it.
	restCfg, err := clientcmd.BuildConfigFromFlags("", kubeconfigPath)
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return err
	}
	err = wait.PollUntilContextCancel(ctx, 250*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		node, err := client.CoreV1().Nodes().Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
		return err == nil && node.Spec.PodCIDR != "", nil
	})
	if err != nil {
		return fmt.Errorf("wait for the pod CIDR of node %s: %w", a.cfg.NodeName, err)
	}
	podCIDR, mtu, err := a.startFlannel(ctx, kubeconfigPath)
	if err != nil {
		return err
	}
	conf, err := cniConfig(podCIDR, mtu)
	if err != nil {
		return err
	}
	if err := pki.WriteFileIfChanged(filepath.Join(cniConfDir, cniConf), conf, 0o644); err != nil {
		return err
	}
	klog.InfoS("Pod network configured", "podCIDR", podCIDR, "mtu", mtu, "backend", "vxlan")
	<-ctx.Done()
	return nil
}

// ensureMasquerade rewrites the source of pod traffic that leaves the pod
// network, so that replies from outside find their way back to the node.
func ensureMasquerade(ctx context.Context, clusterCIDR string) error {
	rule := []string{"-s", clusterCIDR, "!", "-d", clusterCIDR, "-m", "comment", "--comment", "edgelet pod egress", "-j", "MASQUERADE"}
	check := append([]string{"-t", "nat", "-C", "POSTROUTING"}, rule...)
	if exec.CommandContext(ctx, "iptables", check...).Run() == nil {
		return nil
	}
	add := append([]string{"-t", "nat", "-A", "POSTROUTING"}, rule...)
	if out, err := exec.CommandContext(ctx, "iptables", add...).CombinedOutput(); err != nil {
		return fmt.Errorf("add masquerade rule: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}
