package cluster

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/edgectl/edgectl/internal/runtime"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
)

// Roles of containers.
const (
	RoleServer       = "server"
	RoleAgent        = "agent"
	RoleLoadBalancer = "loadbalancer"
)

// Container paths and ports.
const (
	APIPort          = 6443
	edgeletConfig    = "/etc/edgelet/config.yaml"
	edgeletRole      = "/etc/edgelet/role"
	adminKubeconfig  = "/etc/edgelet/edgelet.yaml"
	haproxyConfig    = "/etc/edgectl/haproxy.cfg"
	labelToken       = "io.edgectl.token"
	labelPrivileged  = "io.edgectl.privileged"
	labelClusterCIDR = "io.edgectl.cluster-cidr"
	labelServiceCIDR = "io.edgectl.service-cidr"
	labelDatastore   = "io.edgectl.datastore"
	labelLBPorts     = "io.edgectl.lb-ports"
)

// Names of the cluster's engine objects.
func networkName(cluster string) string { return "edgectl-" + cluster }
func nodeName(cluster, role string, i int) string {
	return fmt.Sprintf("edgectl-%s-%s-%d", cluster, role, i)
}
func lbName(cluster string) string { return "edgectl-" + cluster + "-lb" }

// Context is the kubeconfig context of a cluster.
func Context(cluster string) string { return "edgectl-" + cluster }

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
func (a addresses) gateway() string     { return a.nth(1) }
func (a addresses) lb() string          { return a.nth(2) }
func (a addresses) server(i int) string { return a.nth(10 + i) }
func (a addresses) agent(i int) string  { return a.nth(20 + i) }

// plan is everything a create does, computed before anything is created.
type plan struct {
	Network string
	Subnet  string
	Gateway string
	LB      runtime.NodeSpec
	Servers []runtime.NodeSpec
}

// makePlan turns a validated, defaulted config into the specs of the load
// balancer and the servers. It is a pure function of its inputs. Agents are
// planned by agentSpec once the first server has written the join token.
func makePlan(cfg *v1alpha1.Cluster, subnet string, apiPort int, token string, privileged bool) (*plan, error) {
	addr, err := newAddresses(subnet)
	if err != nil {
		return nil, err
	}
	p := &plan{Network: networkName(cfg.Name), Subnet: subnet, Gateway: addr.gateway()}
	common := func(role string, i int) map[string]string { return commonLabels(cfg, role, i, apiPort, subnet) }
	lbLabels := common(RoleLoadBalancer, 0)
	lbLabels[runtime.LabelIP] = addr.lb()
	var lbPorts []int
	for _, port := range cfg.Ports {
		if port.Node == RoleLoadBalancer && port.Protocol == "tcp" {
			lbPorts = append(lbPorts, port.ContainerPort)
		}
	}
	lbLabels[labelLBPorts] = joinInts(lbPorts)
	p.LB = runtime.NodeSpec{
		Name: lbName(cfg.Name), Hostname: lbName(cfg.Name), Image: cfg.Image, Network: p.Network, IP: addr.lb(),
		Labels:     lbLabels,
		Entrypoint: []string{"haproxy", "-W", "-db", "-f", haproxyConfig},
		// The node image stops systemd with SIGRTMIN+3; haproxy as PID 1
		// ignores that, and every stop would wait out the engine's 10 s.
		StopSignal: "SIGTERM",
		Ports:      []runtime.PortMapping{{HostIP: cfg.Network.APIHostIP, HostPort: apiPort, ContainerPort: APIPort, Protocol: "tcp"}},
		Files:      map[string][]byte{haproxyConfig: []byte(haproxyConfigFor(serverIPs(addr, cfg.Servers), nodeIPs(addr, cfg.Servers, cfg.Agents), lbPorts))},
	}
	for _, port := range cfg.Ports {
		if port.Node == RoleLoadBalancer {
			p.LB.Ports = append(p.LB.Ports, runtime.PortMapping{HostIP: port.HostIP, HostPort: port.HostPort, ContainerPort: port.ContainerPort, Protocol: port.Protocol})
		}
	}
	store := datastoreOf(cfg)
	for i := 0; i < cfg.Servers; i++ {
		join := ""
		if i > 0 {
			join = addr.server(0)
		}
		spec, err := serverSpec(cfg, store, addr, subnet, apiPort, i, token, join, privileged)
		if err != nil {
			return nil, err
		}
		p.Servers = append(p.Servers, spec)
	}
	return p, nil
}

// serverSpec plans server i of a cluster whose data is in store. With
// embedded etcd, the first server starts the etcd cluster and the others
// join through the server at join (an IP).
func serverSpec(cfg *v1alpha1.Cluster, store string, addr addresses, subnet string, apiPort, i int, token, join string, privileged bool) (runtime.NodeSpec, error) {
	name := nodeName(cfg.Name, RoleServer, i)
	values := baseValues(cfg, name, addr.server(i), token)
	values["tls-san"] = []string{addr.lb(), lbName(cfg.Name), "127.0.0.1", "localhost"}
	if store == DatastoreEtcd {
		if join == "" {
			values["cluster-init"] = true
		} else {
			values["server"] = "https://" + join + ":" + strconv.Itoa(APIPort)
		}
	}
	labels := commonLabels(cfg, RoleServer, i, apiPort, subnet)
	labels[labelDatastore] = store
	spec, err := nodeSpec(cfg, RoleServer, i, name, addr.server(i), labels, values, cfg.ServerArgs, privileged)
	if err != nil {
		return runtime.NodeSpec{}, err
	}
	spec.Labels[labelToken] = token
	return spec, nil
}

// Datastores of a cluster's servers.
const (
	DatastoreSQLite   = "sqlite"   // one server, kine over SQLite
	DatastoreEtcd     = "etcd"     // embedded etcd: servers can be added and removed
	DatastoreExternal = "external" // --datastore-endpoint in the server args
)

// datastoreOf tells where the servers keep the cluster's data: embedded etcd
// for more than one server (or a single server started with cluster-init, so
// that servers can be added later), else kine over SQLite or the user's
// external database.
func datastoreOf(cfg *v1alpha1.Cluster) string {
	store := DatastoreSQLite
	if cfg.Servers > 1 {
		store = DatastoreEtcd
	}
	for _, a := range cfg.ServerArgs {
		switch k, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "="); k {
		case "cluster-init":
			store = DatastoreEtcd
		case "datastore-endpoint":
			return DatastoreExternal
		}
	}
	return store
}

// agentSpec plans agent i. Agents join through the load balancer with the
// full join token that the first server wrote, which pins the cluster CA.
func agentSpec(cfg *v1alpha1.Cluster, subnet string, apiPort, i int, joinToken string, privileged bool) (runtime.NodeSpec, error) {
	addr, err := newAddresses(subnet)
	if err != nil {
		return runtime.NodeSpec{}, err
	}
	name := nodeName(cfg.Name, RoleAgent, i)
	values := baseValues(cfg, name, addr.agent(i), joinToken)
	values["server"] = "https://" + addr.lb() + ":" + strconv.Itoa(APIPort)
	return nodeSpec(cfg, RoleAgent, i, name, addr.agent(i), commonLabels(cfg, RoleAgent, i, apiPort, subnet), values, cfg.AgentArgs, privileged)
}

func commonLabels(cfg *v1alpha1.Cluster, role string, i, apiPort int, subnet string) map[string]string {
	return map[string]string{
		runtime.LabelCluster: cfg.Name,
		runtime.LabelRole:    role,
		runtime.LabelIndex:   strconv.Itoa(i),
		runtime.LabelAPIPort: strconv.Itoa(apiPort),
		runtime.LabelSubnet:  subnet,
		runtime.LabelImage:   cfg.Image,
		labelClusterCIDR:     cfg.Kubernetes.ClusterCIDR,
		labelServiceCIDR:     cfg.Kubernetes.ServiceCIDR,
	}
}

// nodeIPs are the addresses of every server and agent.
func nodeIPs(addr addresses, servers, agents int) []string {
	ips := serverIPs(addr, servers)
	for i := 0; i < agents; i++ {
		ips = append(ips, addr.agent(i))
	}
	return ips
}

func serverIPs(addr addresses, n int) []string {
	ips := make([]string, n)
	for i := range ips {
		ips[i] = addr.server(i)
	}
	return ips
}

func baseValues(cfg *v1alpha1.Cluster, name, ip, token string) map[string]any {
	return map[string]any{
		"node-name":    name,
		"node-ip":      ip,
		"token":        token,
		"cluster-cidr": cfg.Kubernetes.ClusterCIDR,
		"service-cidr": cfg.Kubernetes.ServiceCIDR,
	}
}

// nodeSpec builds a server or agent container: edgelet's config file and
// role are written into it before it starts.
func nodeSpec(cfg *v1alpha1.Cluster, role string, i int, name, ip string, labels map[string]string,
	values map[string]any, extraArgs []string, privileged bool) (runtime.NodeSpec, error) {
	var nodeLabels, taints []string
	args := append([]string{}, extraArgs...)
	for _, n := range cfg.Nodes {
		if n.Role == role && n.Index == i {
			keys := make([]string, 0, len(n.Labels))
			for k := range n.Labels {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				nodeLabels = append(nodeLabels, k+"="+n.Labels[k])
			}
			taints = append(taints, n.Taints...)
			args = append(args, n.Args...)
		}
	}
	if len(nodeLabels) > 0 {
		values["node-label"] = nodeLabels
	}
	if len(taints) > 0 {
		values["node-taint"] = taints
	}
	for _, a := range args {
		k, v, ok := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !ok {
			v = "true"
		}
		if old, ok := values[k]; ok {
			if list, isList := old.([]string); isList {
				values[k] = append(list, v)
				continue
			}
			if _, isString := old.(string); isString && strings.HasSuffix(k, "-arg") {
				values[k] = []string{old.(string), v}
				continue
			}
		}
		if strings.HasSuffix(k, "-arg") || k == "tls-san" || k == "node-label" || k == "node-taint" {
			values[k] = []string{v}
			continue
		}
		values[k] = v
	}
	conf, err := yaml.Marshal(values)
	if err != nil {
		return runtime.NodeSpec{}, err
	}
	labels[runtime.LabelIP] = ip
	labels[labelPrivileged] = strconv.FormatBool(privileged)
	var ports []runtime.PortMapping
	for _, p := range cfg.Ports {
		if p.Node == fmt.Sprintf("%s:%d", role, i) {
			ports = append(ports, runtime.PortMapping{HostIP: p.HostIP, HostPort: p.HostPort, ContainerPort: p.ContainerPort, Protocol: p.Protocol})
		}
	}
	return runtime.NodeSpec{
		Ports: ports,
		Name:  name, Hostname: name, Image: cfg.Image, IP: ip, Network: networkName(cfg.Name),
		Labels:     labels,
		Node:       true,
		Privileged: privileged,
		Tmpfs:      []string{"/run", "/tmp"},
		Mounts: []runtime.Mount{
			// containerd's overlayfs snapshots cannot live on the container's
			// own overlay root ("failed to mount ... invalid argument").
			{Volume: name + "-containerd", Target: "/var/lib/containerd"},
			{Volume: name + "-edgelet", Target: "/var/lib/edgelet"},
			{Source: "/lib/modules", Target: "/lib/modules", ReadOnly: true},
		},
		Files: map[string][]byte{
			edgeletConfig: conf,
			edgeletRole:   []byte("EDGELET_ROLE=" + role + "\n"),
		},
	}, nil
}

// haproxyConfigFor renders the load balancer's config: TCP to every server's
// API port, health-checked on /readyz, plus the user's published ports to the
// same port on every node.
func haproxyConfigFor(servers, nodes []string, ports []int) string {
	var b strings.Builder
	b.WriteString(`# Written by edgectl; regenerated when servers change.
global
  log stdout format raw local0
  # Each connection takes two descriptors; engines often cap a container at
  # a soft limit of a few thousand, and haproxy refuses to start above it.
  maxconn 4000

defaults
  mode tcp
  log global
  option dontlognull
  timeout connect 5s
  timeout client 1h
  timeout server 1h

frontend kube-apiserver
  bind *:6443
  default_backend kube-apiservers

backend kube-apiservers
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter 2s fall 2 rise 1 check check-ssl verify none
`)
	for i, ip := range servers {
		fmt.Fprintf(&b, "  server server-%d %s:%d\n", i, ip, APIPort)
	}
	for _, port := range ports {
		// A published port reaches the same port on every node, like a
		// cloud load balancer in front of a NodePort.
		fmt.Fprintf(&b, "\nfrontend port-%d\n  bind *:%d\n  default_backend port-%d\n\nbackend port-%d\n  default-server inter 2s fall 2 rise 1 check\n",
			port, port, port, port)
		for i, ip := range nodes {
			fmt.Fprintf(&b, "  server node-%d %s:%d\n", i, ip, port)
		}
	}
	return b.String()
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}
