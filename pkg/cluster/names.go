package cluster

import (
	"fmt"
	"net/netip"

	nodev1 "github.com/edgectl/edgectl/pkg/apis/node/v1alpha1"
)

// Roles of containers.
const (
	RoleServer       = nodev1.RoleServer
	RoleAgent        = nodev1.RoleAgent
	RoleLoadBalancer = "loadbalancer"
)

// Container paths, ports and labels.
const (
	APIPort         = nodev1.DefaultHTTPSPort
	edgeletRole     = "/etc/edgelet/role"
	haproxyConfig   = "/etc/edgectl/haproxy.cfg"
	specPath        = "/etc/edgectl/cluster.yaml"
	labelPrivileged = "io.edgectl.privileged"
	labelDatastore  = "io.edgectl.datastore"
)

// Names of the cluster's engine objects.
func networkName(cluster string) string { return "edgectl-" + cluster }
func nodeName(cluster, role string, i int) string {
	return fmt.Sprintf("edgectl-%s-%s-%d", cluster, role, i)
}
func lbName(cluster string) string { return "edgectl-" + cluster + "-lb" }

// volumes are the named volumes of a node: containerd's overlayfs snapshots
// cannot live on the container's own overlay root ("failed to mount ...
// invalid argument"), and edgelet's state must outlive the container.
func volumes(node string) []string { return []string{node + "-containerd", node + "-edgelet"} }

// Context is the kubeconfig context of a cluster.
func Context(cluster string) string { return "edgectl-" + cluster }

// Highest node indexes: the static addresses of servers are .10–.19 and of
// agents .20 onwards.
const (
	maxServerIndex = 9
	maxAgentIndex  = 199
)

// addresses hands out the static IPs of a subnet: .1 gateway, .2 load
// balancer, .10+ servers, .20+ agents. Engines that hand out addresses
// themselves give new ones after a restart, which breaks kind and k3d clusters.
type addresses struct{ base netip.Addr }

func newAddresses(subnet string) (addresses, error) {
	p, err := netip.ParsePrefix(subnet)
	if err != nil {
		return addresses{}, err
	}
	return addresses{base: p.Masked().Addr()}, nil
}

func (a addresses) nth(n int) string {
	b := a.base.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v += uint32(n)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).String()
}
func (a addresses) gateway() string       { return a.nth(1) }
func (a addresses) registry(i int) string { return a.nth(3 + i) }
func (a addresses) lb() string            { return a.nth(2) }
func (a addresses) server(i int) string   { return a.nth(10 + i) }
func (a addresses) agent(i int) string    { return a.nth(20 + i) }

func (a addresses) node(role string, i int) string {
	if role == RoleServer {
		return a.server(i)
	}
	return a.agent(i)
}
