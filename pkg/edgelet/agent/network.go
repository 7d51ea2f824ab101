package agent

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"

	"k8s.io/klog/v2"

	nodev1 "github.com/edgectl/edgectl/pkg/apis/node/v1alpha1"
	"github.com/edgectl/edgectl/pkg/edgelet/hostnet"
	"github.com/edgectl/edgectl/pkg/edgelet/kubeconfig"
	"github.com/edgectl/edgectl/pkg/edgelet/pki"
	"github.com/edgectl/edgectl/pkg/edgelet/tunnel"
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
	kept := []string{a.cfg.ServiceCIDR, a.cfg.ClusterCIDR}
	if a.cfg.FlannelBackend == nodev1.FlannelHostGW {
		// host-gw routes other nodes' pod subnets over the node's own
		// interface: only the Service range must not leave.
		kept = kept[:1]
	}
	if err := ensureNoLeak(ctx, a.cfg.NodeIP, kept...); err != nil {
		return err
	}
	// flannel's lease is the node's podCIDR, which kube-controller-manager
	// assigns shortly after the node registers; flannel fails without it.
	client, err := kubeconfig.NewClient(kubeconfigPath)
	if err != nil {
		return err
	}
	var podCIDR string
	err = wait.PollUntilContextCancel(ctx, 250*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		node, err := client.CoreV1().Nodes().Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
		if err == nil {
			podCIDR = node.Spec.PodCIDR
		}
		return podCIDR != "", nil
	})
	if err != nil {
		return fmt.Errorf("wait for the pod CIDR of node %s: %w", a.cfg.NodeName, err)
	}
	mtu := tunnel.MTU
	if a.cfg.Tunnel {
		// Behind NAT, pod traffic rides the tunnel (runTunnel), not flannel.
		klog.InfoS("Pod traffic goes through the tunnel", "podCIDR", podCIDR)
	} else if podCIDR, mtu, err = a.startFlannel(ctx, kubeconfigPath); err != nil {
		return err
	}
	conf, err := cniConfig(podCIDR, mtu)
	if err != nil {
		return err
	}
	if err := pki.WriteFileIfChanged(filepath.Join(cniConfDir, cniConf), conf, 0o644); err != nil {
		return err
	}
	klog.InfoS("Pod network configured", "podCIDR", podCIDR, "mtu", mtu, "backend", a.cfg.FlannelBackend)
	<-ctx.Done()
	return nil
}

// ensureMasquerade rewrites the source of pod traffic that leaves the pod
// network, so that replies from outside find their way back to the node.
func ensureMasquerade(ctx context.Context, clusterCIDR string) error {
	return ensureRule(ctx, "nat", "POSTROUTING", false,
		"-s", clusterCIDR, "!", "-d", clusterCIDR, "-m", "comment", "--comment", "edgelet pod egress", "-j", "MASQUERADE")
}

// leakRules keep the cluster's own ranges on the node. A connection to a
// ClusterIP:port that no Service serves is not DNATed by kube-proxy, and one
// to a pod IP of no node has no flannel route: both would follow the
// default route off the node, off the machine, to whatever answers there
// (the upstream conformance suite found one). Such packets leave through
// the node's external interface, which real cluster traffic to those ranges
// never does (it goes to cni0 or flannel.1), so they are rejected there, a
// TCP connection with a reset: it fails at once instead of reaching a
// stranger.
//
// In OUTPUT, the packets that kube-proxy DNATed are let through: for a
// locally sent packet the filter table still sees the interface of the
// route chosen before the DNAT (the default route, the external interface),
// although the packet goes to cni0 or flannel.1. Without the exception a
// process on the node (edgelet, a hostNetwork pod) could not reach any
// ClusterIP.
func leakRules(iface string, local bool, cidrs ...string) [][]string {
	var rules [][]string
	for _, cidr := range cidrs {
		match := []string{"-d", cidr, "-o", iface}
		if local {
			match = append(match, "-m", "conntrack", "!", "--ctstate", "DNAT")
		}
		match = append(match, "-m", "comment", "--comment", "edgelet: cluster range stays on the node")
		rules = append(rules,
			append(append([]string{}, match...), "-p", "tcp", "-j", "REJECT", "--reject-with", "tcp-reset"),
			append(append([]string{}, match...), "-j", "REJECT", "--reject-with", "icmp-net-unreachable"))
	}
	return rules
}

// ensureNoLeak installs leakRules for forwarded (pod) and local traffic.
func ensureNoLeak(ctx context.Context, nodeIP string, cidrs ...string) error {
	iface, err := hostnet.InterfaceOf(nodeIP)
	if err != nil {
		return err
	}
	for _, chain := range []string{"FORWARD", "OUTPUT"} {
		rules := leakRules(iface, chain == "OUTPUT", cidrs...)
		// Inserted in reverse, so that they end up first and in order.
		for i := len(rules) - 1; i >= 0; i-- {
			if err := ensureRule(ctx, "filter", chain, true, rules[i]...); err != nil {
				return err
			}
		}
	}
	return nil
}

// ensureRule adds an iptables rule unless it is there: appended, or
// inserted first.
func ensureRule(ctx context.Context, table, chain string, insert bool, rule ...string) error {
	check := append([]string{"-t", table, "-C", chain}, rule...)
	if exec.CommandContext(ctx, "iptables", check...).Run() == nil {
		return nil
	}
	op := "-A"
	if insert {
		op = "-I"
	}
	add := append([]string{"-t", table, op, chain}, rule...)
	if out, err := exec.CommandContext(ctx, "iptables", add...).CombinedOutput(); err != nil {
		return fmt.Errorf("iptables %s: %v: %s", strings.Join(add, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
