package v1alpha1

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/edgectl/edgectl/internal/sshaddr"
	nodev1 "github.com/edgectl/edgectl/pkg/apis/node/v1alpha1"
	"github.com/edgectl/edgectl/pkg/iprange"
)

var nameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// MaxNameLength keeps container names (edgectl-NAME-server-0) and volume names short.
const MaxNameLength = 32

// ValidateName checks a cluster name.
func ValidateName(name string) error {
	if len(name) > MaxNameLength || !nameRE.MatchString(name) {
		return fmt.Errorf("name %q: must be 1-%d lower-case letters, digits or '-', starting and ending with a letter or digit", name, MaxNameLength)
	}
	return nil
}

// Validate returns every problem of a defaulted config at once.
func (c *Cluster) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.APIVersion != APIVersion {
		add("apiVersion %q: must be %s", c.APIVersion, APIVersion)
	}
	if c.Kind != Kind {
		add("kind %q: must be %s", c.Kind, Kind)
	}
	if err := ValidateName(c.Name); err != nil {
		errs = append(errs, err)
	}
	if c.Servers < 1 || c.Servers > 9 {
		add("servers %d: must be between 1 and 9", c.Servers)
	} else if c.Servers == 2 {
		add("servers 2: embedded etcd needs a majority, so 2 servers tolerate no failure; use 1 or 3")
	}
	if c.Agents < 0 || c.Agents > 50 {
		add("agents %d: must be between 0 and 50", c.Agents)
	}
	if c.Image == "" {
		add("image: must not be empty")
	}
	var subnet netip.Prefix
	if c.Network.Subnet != "" {
		p, err := netip.ParsePrefix(c.Network.Subnet)
		switch {
		case err != nil || !p.Addr().Is4():
			add("network.subnet %q: must be an IPv4 CIDR such as 10.89.1.0/24", c.Network.Subnet)
		case p.Bits() < 16 || p.Bits() > 24:
			add("network.subnet %q: prefix must be between /16 and /24", c.Network.Subnet)
		case p.Masked() != p:
			add("network.subnet %q: has host bits set; did you mean %s?", c.Network.Subnet, p.Masked())
		default:
			subnet = p
		}
	}
	if c.Network.LoadBalancerRange != "" && c.Network.Subnet == "" {
		add("network.loadBalancerRange %q: set network.subnet too; the range must be inside it", c.Network.LoadBalancerRange)
	} else if c.Network.LoadBalancerRange != "" {
		if err := checkLBRange(c.Network.LoadBalancerRange, subnet); err != nil {
			add("network.loadBalancerRange %v", err)
		}
	}
	if _, err := netip.ParseAddr(c.Network.APIHostIP); err != nil {
		add("network.apiHostIP %q: not an IP address", c.Network.APIHostIP)
	}
	if a := c.Network.APIAddress; a != "" && !validHost(a) {
		add("network.apiAddress %q: must be an IP address or a DNS name, without scheme or port (the port is network.apiPort)", a)
	} else if a != "" && !reachableFromOutside(a) {
		add("network.apiAddress %q: a board cannot reach this machine there; give an address of this machine on the boards' network (its LAN IP, e.g. from `ip route get 192.0.2.1`) or a DNS name that resolves to it", a)
	}
	if c.Network.APIPort < 0 || c.Network.APIPort > 65535 {
		add("network.apiPort %d: must be between 1 and 65535 (0 picks a free port)", c.Network.APIPort)
	}
	cidrs := map[string]netip.Prefix{}
	for field, v := range map[string]string{"kubernetes.clusterCIDR": c.Kubernetes.ClusterCIDR, "kubernetes.serviceCIDR": c.Kubernetes.ServiceCIDR} {
		p, err := netip.ParsePrefix(v)
		if err != nil || !p.Addr().Is4() {
			add("%s %q: must be an IPv4 CIDR", field, v)
			continue
		}
		cidrs[field] = p
	}
	if a, b := cidrs["kubernetes.clusterCIDR"], cidrs["kubernetes.serviceCIDR"]; a.IsValid() && b.IsValid() && a.Overlaps(b) {
		add("kubernetes.clusterCIDR %s overlaps kubernetes.serviceCIDR %s", a, b)
	}
	for field, p := range cidrs {
		if subnet.IsValid() && p.Overlaps(subnet) {
			add("network.subnet %s overlaps %s %s", subnet, field, p)
		}
	}
	seen := map[string]bool{}
	for i, p := range c.Ports {
		where := fmt.Sprintf("ports[%d]", i)
		if p.HostPort < 1 || p.HostPort > 65535 {
			add("%s.hostPort %d: must be between 1 and 65535", where, p.HostPort)
		}
		if p.ContainerPort < 1 || p.ContainerPort > 65535 {
			add("%s.containerPort %d: must be between 1 and 65535", where, p.ContainerPort)
		}
		if p.Protocol != "tcp" && p.Protocol != "udp" {
			add("%s.protocol %q: must be tcp or udp", where, p.Protocol)
		}
		if err := c.checkNodeRef(p.Node); err != nil {
			add("%s.node: %v", where, err)
		}
		if p.Node == "loadbalancer" && p.Protocol == "udp" {
			add("%s: the load balancer forwards TCP only; publish UDP on a node (node: agent:0)", where)
		}
		key := fmt.Sprintf("%s/%d/%s", p.HostIP, p.HostPort, p.Protocol)
		if seen[key] {
			add("%s: host port %d/%s is published twice", where, p.HostPort, p.Protocol)
		}
		seen[key] = true
	}
	checkArgs := func(field string, args []string) {
		if err := (&nodev1.NodeConfig{}).ApplyArgs(args); err != nil {
			add("%s: %v", field, err)
		}
	}
	for _, d := range c.Disable {
		if !slices.Contains(AddOns, d) {
			add("disable %q: not an add-on; the add-ons are %s", d, strings.Join(AddOns, ", "))
		}
	}
	if len(c.Registries) > MaxRegistries {
		add("registries: at most %d", MaxRegistries)
	}
	for i, r := range c.Registries {
		if !nameRE.MatchString(r) || slices.Contains(c.Registries[:i], r) {
			add("registries %q: not a registry name, or given twice (see `edgectl registry list`)", r)
		}
	}
	checkArgs("serverArgs", c.ServerArgs)
	checkArgs("agentArgs", c.AgentArgs)
	if err := checkPlatform("agentPlatform", c.AgentPlatform); err != nil {
		errs = append(errs, err)
	}
	if strings.Contains(c.Image, "@") && (c.AgentPlatform != "" || slices.ContainsFunc(c.Nodes, func(n Node) bool { return n.Platform != "" })) {
		add("image %q: a digest names one platform; use a tag, to which each platform's image adds -ARCH", c.Image)
	}
	for i, n := range c.Nodes {
		checkArgs(fmt.Sprintf("nodes[%d].args", i), n.Args)
		if err := checkPlatform(fmt.Sprintf("nodes[%d].platform", i), n.Platform); err != nil {
			errs = append(errs, err)
		}
		if err := c.checkNodeRef(fmt.Sprintf("%s:%d", n.Role, n.Index)); err != nil || n.Role == "loadbalancer" {
			add("nodes[%d]: role %q index %d does not name a node of this cluster", i, n.Role, n.Index)
		}
		for _, t := range n.Taints {
			if !strings.Contains(t, ":") {
				add("nodes[%d].taints %q: must be key[=value]:Effect", i, t)
			}
		}
	}
	return errors.Join(errs...)
}

// ValidateHosts returns every problem of the hosts section at once, for
// `edgectl promote`: each entry names a node of the cluster and a valid SSH
// address, no node has two hosts, no address serves two nodes, and every
// node has a host.
func (c *Cluster) ValidateHosts() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(c.Hosts) == 0 {
		return errors.New("hosts: none; promote needs a host for every node (see `edgectl config example`)")
	}
	byNode, byAddr := map[string]int{}, map[string]int{}
	for i, h := range c.Hosts {
		ref := fmt.Sprintf("%s:%d", h.Role, h.Index)
		if err := c.checkNodeRef(ref); err != nil || h.Role == "loadbalancer" {
			add("hosts[%d]: role %q index %d matches no node of this cluster (%d server(s), %d agent(s))", i, h.Role, h.Index, c.Servers, c.Agents)
		} else if j, dup := byNode[ref]; dup {
			add("hosts[%d]: %s already has a host in hosts[%d]", i, ref, j)
		} else {
			byNode[ref] = i
		}
		a, err := sshaddr.Parse(h.SSH, 0)
		if err != nil {
			add("hosts[%d].ssh: %v", i, err)
		} else if j, dup := byAddr[a.HostPort()]; dup {
			add("hosts[%d].ssh: %s is also hosts[%d]'s address; one host runs one node", i, a.HostPort(), j)
		} else {
			byAddr[a.HostPort()] = i
		}
		if h.Bastion != "" {
			if _, err := sshaddr.Parse(h.Bastion, 0); err != nil {
				add("hosts[%d].bastion: %v", i, err)
			}
		}
	}
	for _, role := range []struct {
		name string
		n    int
	}{{"server", c.Servers}, {"agent", c.Agents}} {
		for i := range role.n {
			if _, ok := byNode[fmt.Sprintf("%s:%d", role.name, i)]; !ok {
				add("%s:%d has no host: add a hosts entry with role: %s, index: %d", role.name, i, role.name, i)
			}
		}
	}
	return errors.Join(errs...)
}

// NodeAddresses is how many addresses at the start of the subnet belong to
// the gateway, the load balancer and the nodes.
const NodeAddresses = 220

// DefaultLBRange is the default network.loadBalancerRange of a subnet.
func DefaultLBRange(subnet netip.Prefix) iprange.Range { return iprange.Tail(subnet, 31) }

// checkLBRange checks a load-balancer range against the subnet (when known).
func checkLBRange(s string, subnet netip.Prefix) error {
	r, err := iprange.Parse(s)
	if err != nil || !subnet.IsValid() {
		return err
	}
	if !r.Within(subnet) || r.Last == iprange.Tail(subnet, 1).Last.Next() {
		return fmt.Errorf("%q: must be inside network.subnet %s (not its broadcast address)", s, subnet)
	}
	nodes := subnet.Addr()
	for range NodeAddresses - 1 {
		nodes = nodes.Next()
	}
	if !nodes.Less(r.First) {
		return fmt.Errorf("%q: overlaps the node addresses %s-%s; start it after %s", s, subnet.Addr(), nodes, nodes)
	}
	return nil
}

// checkNodeRef checks "loadbalancer", "server:N" or "agent:N".
func (c *Cluster) checkNodeRef(ref string) error {
	if ref == "loadbalancer" {
		return nil
	}
	role, idx, ok := strings.Cut(ref, ":")
	n, err := strconv.Atoi(idx)
	if !ok || err != nil {
		return fmt.Errorf("%q: must be loadbalancer, server:N or agent:N", ref)
	}
	switch {
	case role == "server" && n >= 0 && n < c.Servers, role == "agent" && n >= 0 && n < c.Agents:
		return nil
	}
	return fmt.Errorf("%q: no such node (the cluster has %d servers and %d agents)", ref, c.Servers, c.Agents)
}

// validHost tells whether s is an IP address or a DNS name.
// reachableFromOutside is false for the addresses that name no host to
// another machine: unspecified (0.0.0.0, ::) and loopback, by IP or as
// localhost. Such an address is accepted by the listener and then refused
// by every join ("cannot connect to 0.0.0.0").
func reachableFromOutside(s string) bool {
	if ip, err := netip.ParseAddr(s); err == nil {
		return !ip.IsUnspecified() && !ip.IsLoopback()
	}
	s = strings.ToLower(strings.TrimSuffix(s, "."))
	return s != "localhost" && !strings.HasSuffix(s, ".localhost")
}

func validHost(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	if len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}
