// Package servicelb gives LoadBalancer Services an address, as a cloud
// does: the server's controller hands out an EXTERNAL-IP from the cluster's
// range (on the nodes' own network) and picks the node that holds it; that
// node's edgelet adds the address to its interface and announces it with a
// gratuitous ARP, and kube-proxy (which programs every LoadBalancer
// ingress IP) forwards what arrives there. Each node also forwards the
// Service's ports on its own IP to the Service, so a port that edgectl
// publishes through its load-balancer container reaches it.
//
// Why not MetalLB: its L2 speaker does the same announcing from a raw
// socket, but runs as a DaemonSet with its own controller, CRDs and
// webhook, images and memory on every node. The address on the interface
// lets the kernel answer ARP, and the controller is a few hundred lines
// inside edgelet.
package servicelb

import (
	"fmt"
	"hash/fnv"
	"net/netip"
	"slices"
	"sort"

	corev1 "k8s.io/api/core/v1"

	"github.com/edgectl/edgectl/pkg/iprange"
)

// LabelNode is set by the controller on a Service it serves: the node that
// holds its address.
const LabelNode = "svccontroller.edgectl.io/node"

// LabelExclude keeps a node from holding addresses (the upstream label).
const LabelExclude = "node.kubernetes.io/exclude-from-external-load-balancers"

// Ours reports whether the controller serves svc: type LoadBalancer with no
// loadBalancerClass. Services of another class are another
// implementation's to serve.
func Ours(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeLoadBalancer && svc.Spec.LoadBalancerClass == nil
}

// ingressIP is the first IPv4 ingress address of svc.
func ingressIP(svc *corev1.Service) (netip.Addr, bool) {
	for _, in := range svc.Status.LoadBalancer.Ingress {
		if a, err := netip.ParseAddr(in.IP); err == nil && a.Is4() {
			return a, true
		}
	}
	return netip.Addr{}, false
}

func key(svc *corev1.Service) string { return svc.Namespace + "/" + svc.Name }

// oldestFirst is a copy of svcs sorted by age, then name: the order in which
// Services win an address or a port that several want.
func oldestFirst(svcs []*corev1.Service) []*corev1.Service {
	svcs = slices.Clone(svcs)
	sort.SliceStable(svcs, func(i, j int) bool {
		a, b := svcs[i].CreationTimestamp, svcs[j].CreationTimestamp
		if !a.Equal(&b) {
			return a.Before(&b)
		}
		return key(svcs[i]) < key(svcs[j])
	})
	return svcs
}

// allocation is the address of each Service the controller serves, and
// why a Service has none.
type allocation struct {
	ip      map[string]netip.Addr
	problem map[string]string
}

// allocate gives each of our Services an address of pool, oldest Service
// first: the one it holds if that is in the pool and not held twice, else
// the one spec.loadBalancerIP asks for, else the lowest free one. An
// address that another implementation's Service shows is not handed out.
func allocate(svcs []*corev1.Service, pool iprange.Range) allocation {
	svcs = oldestFirst(svcs)
	out := allocation{ip: map[string]netip.Addr{}, problem: map[string]string{}}
	used := map[netip.Addr]string{}
	for _, svc := range svcs {
		if a, ok := ingressIP(svc); ok && !Ours(svc) {
			used[a] = key(svc)
		}
	}
	var pending []*corev1.Service
	for _, svc := range svcs {
		if !Ours(svc) {
			continue
		}
		a, ok := ingressIP(svc)
		want := svc.Spec.LoadBalancerIP
		if ok && pool.Contains(a) && used[a] == "" && (want == "" || want == a.String()) {
			used[a] = key(svc)
			out.ip[key(svc)] = a
			continue
		}
		pending = append(pending, svc)
	}
	for _, svc := range pending {
		if want := svc.Spec.LoadBalancerIP; want != "" {
			a, err := netip.ParseAddr(want)
			switch {
			case err != nil || !pool.Contains(a):
				out.problem[key(svc)] = fmt.Sprintf("spec.loadBalancerIP %s is not in network.loadBalancerRange %s", want, pool)
			case used[a] != "":
				out.problem[key(svc)] = fmt.Sprintf("spec.loadBalancerIP %s is held by Service %s", want, used[a])
			default:
				used[a] = key(svc)
				out.ip[key(svc)] = a
			}
			continue
		}
		free := netip.Addr{}
		for a := range pool.All {
			if used[a] == "" {
				free = a
				break
			}
		}
		if !free.IsValid() {
			out.problem[key(svc)] = fmt.Sprintf("no free address in network.loadBalancerRange %s (all %d are held); "+
				"delete a LoadBalancer Service or widen the range", pool, pool.Size())
			continue
		}
		used[free] = key(svc)
		out.ip[key(svc)] = free
	}
	return out
}

// pickNode chooses the node that holds svc's address among candidates:
// the current one while it stays a candidate (an address moves only when
// it must), else one chosen by the Service's name, so that Services spread
// over the nodes.
func pickNode(svc *corev1.Service, candidates []string) string {
	if len(candidates) == 0 {
		return ""
	}
	if cur := svc.Labels[LabelNode]; slices.Contains(candidates, cur) {
		return cur
	}
	sorted := slices.Sorted(slices.Values(candidates))
	h := fnv.New32a()
	h.Write([]byte(key(svc)))
	return sorted[int(h.Sum32()%uint32(len(sorted)))]
}

// nodeReady reports whether n is Ready and may hold addresses.
func nodeReady(n *corev1.Node) bool {
	if _, excluded := n.Labels[LabelExclude]; excluded || n.DeletionTimestamp != nil {
		return false
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
