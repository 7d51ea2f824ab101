package agent

import (
	"context"
	"net"
	"os/exec"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	"github.com/vishvananda/netlink"

	"github.com/edgectl/edgectl/pkg/edgelet/hostnet"
	"github.com/edgectl/edgectl/pkg/edgelet/tunnel"
)

// runTunnelRoutes routes the pod subnet of every tunneled node (a node
// behind NAT, whose Node names its hub server in tunnel.AnnotationHub) to
// that hub over this node's own network, and lets that traffic past the
// rules that keep cluster ranges on the node. The hub puts it on the node's
// tunnel. Routes of nodes that went, or moved to another hub, are removed.
func (a *agent) runTunnelRoutes(ctx context.Context, client kubernetes.Interface) {
	iface, err := hostnet.InterfaceOf(a.cfg.NodeIP)
	if err != nil {
		klog.ErrorS(err, "No routes to tunneled nodes")
		return
	}
	have := map[string]string{} // pod subnet -> hub IP
	for {
		if nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err == nil {
			want := map[string]string{}
			for _, n := range nodes.Items {
				hub := n.Annotations[tunnel.AnnotationHub]
				if hub != "" && hub != a.cfg.NodeIP && n.Name != a.cfg.NodeName && n.Spec.PodCIDR != "" {
					want[n.Spec.PodCIDR] = hub
				}
			}
			for cidr, hub := range want {
				if have[cidr] == hub {
					continue
				}
				if err := routeVia(ctx, cidr, hub, iface); err != nil {
					klog.ErrorS(err, "Route to a tunneled node", "podCIDR", cidr, "hub", hub)
					continue
				}
				klog.InfoS("Routing a tunneled node's pods through its hub", "podCIDR", cidr, "hub", hub)
				have[cidr] = hub
			}
			for cidr := range have {
				if _, ok := want[cidr]; !ok {
					unroute(ctx, cidr, iface)
					delete(have, cidr)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(3 * time.Second):
		}
	}
}

func tunnelAccept(cidr, iface string) []string {
	return []string{"-d", cidr, "-o", iface, "-m", "comment", "--comment", "edgelet: pods of a tunneled node, via its hub", "-j", "ACCEPT"}
}

func routeVia(ctx context.Context, cidr, hub, iface string) error {
	_, dst, err := net.ParseCIDR(cidr)
	if err != nil {
		return err
	}
	if err := netlink.RouteReplace(&netlink.Route{Dst: dst, Gw: net.ParseIP(hub)}); err != nil {
		return err
	}
	for _, chain := range []string{"FORWARD", "OUTPUT"} {
		if err := ensureRule(ctx, "filter", chain, true, tunnelAccept(cidr, iface)...); err != nil {
			return err
		}
	}
	return nil
}

func unroute(ctx context.Context, cidr, iface string) {
	if _, dst, err := net.ParseCIDR(cidr); err == nil {
		_ = netlink.RouteDel(&netlink.Route{Dst: dst})
	}
	for _, chain := range []string{"FORWARD", "OUTPUT"} {
		_ = exec.CommandContext(ctx, "iptables", append([]string{"-t", "filter", "-D", chain}, tunnelAccept(cidr, iface)...)...).Run()
	}
}
