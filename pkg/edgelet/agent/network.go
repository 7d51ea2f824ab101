package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
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

// runNetwork waits for the node's pod CIDR, writes the CNI config and keeps a
// route to every other node's pod CIDR through that node's IP (all nodes of a
// container cluster share one L2 network).
func (a *agent) runNetwork(ctx context.Context, client kubernetes.Interface) error {
	var podCIDR string
	err := wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
		node, err := client.CoreV1().Nodes().Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		podCIDR = node.Spec.PodCIDR
		return podCIDR != "", nil
	})
	if err != nil {
		return fmt.Errorf("wait for pod CIDR of node %s: %w", a.cfg.NodeName, err)
	}
	if err := ensureMasquerade(ctx, a.cfg.ClusterCIDR); err != nil {
		return err
	}
	conf, err := cniConfig(podCIDR, linkMTU(a.cfg.NodeIP))
	if err != nil {
		return err
	}
	if err := pki.WriteFileIfChanged(filepath.Join(cniConfDir, cniConf), conf, 0o644); err != nil {
		return err
	}
	klog.InfoS("Pod network configured", "podCIDR", podCIDR)

	factory := informers.NewSharedInformerFactory(client, 10*time.Minute)
	inf := factory.Core().V1().Nodes().Informer()
	sync := func(obj any) {
		if n, ok := obj.(*corev1.Node); ok && n.Name != a.cfg.NodeName {
			a.routeTo(n)
		}
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    sync,
		UpdateFunc: func(_, obj any) { sync(obj) },
		DeleteFunc: func(obj any) {
			if n, ok := obj.(*corev1.Node); ok && n.Spec.PodCIDR != "" {
				_, dst, err := net.ParseCIDR(n.Spec.PodCIDR)
				if err == nil {
					_ = netlink.RouteDel(&netlink.Route{Dst: dst})
				}
			}
		},
	})
	factory.Start(ctx.Done())
	<-ctx.Done()
	return nil
}

func (a *agent) routeTo(n *corev1.Node) {
	if n.Spec.PodCIDR == "" {
		return
	}
	var gw net.IP
	for _, addr := range n.Status.Addresses {
		if addr.Type == corev1.NodeInternalIP {
			gw = net.ParseIP(addr.Address)
		}
	}
	_, dst, err := net.ParseCIDR(n.Spec.PodCIDR)
	if gw == nil || err != nil {
		return
	}
	if err := netlink.RouteReplace(&netlink.Route{Dst: dst, Gw: gw}); err != nil {
		klog.ErrorS(err, "Failed to route pod CIDR", "node", n.Name, "podCIDR", n.Spec.PodCIDR, "via", gw)
	}
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

// linkMTU is the MTU of the interface that holds ip, so pods never send
// frames the node's own link would drop.
func linkMTU(ip string) int {
	links, err := netlink.LinkList()
	if err != nil {
		return 1500
	}
	for _, l := range links {
		addrs, _ := netlink.AddrList(l, netlink.FAMILY_V4)
		for _, addr := range addrs {
			if addr.IP.String() == ip {
				return l.Attrs().MTU
			}
		}
	}
	return 1500
}
