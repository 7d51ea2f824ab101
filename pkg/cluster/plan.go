package cluster

import (
	"fmt"
	"maps"
	"net"
	"sort"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/edgectl/edgectl/internal/runtime"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	"github.com/edgectl/edgectl/pkg/apis/meta"
	nodev1 "github.com/edgectl/edgectl/pkg/apis/node/v1alpha1"
	"github.com/edgectl/edgectl/pkg/edgelet/tunnel"
)

// The plan functions are pure: they turn the stored cluster spec (defaulted,
// with its subnet and API port resolved) into the containers to create and
// the node config each node is given. Create and node add both use them, so
// a node added later gets exactly what a node made at create got.

// nodePlan is one server or agent to start.
type nodePlan struct {
	Role   string
	Index  int
	Config *nodev1.NodeConfig
	Spec   runtime.NodeSpec
}

// Datastores of a cluster's servers.
const (
	DatastoreSQLite   = "sqlite"   // one server, kine over SQLite
	DatastoreEtcd     = "etcd"     // embedded etcd: servers can be added and removed
	DatastoreExternal = "external" // datastore-endpoint in the server args
)

// DatastoreOf tells where the servers keep the cluster's data: the user's
// database when the server args name one, embedded etcd for more than one
// server (or one started with cluster-init, so that servers can be added
// later), else kine over SQLite.
func DatastoreOf(cfg *v1alpha1.Cluster) string {
	probe := &nodev1.NodeConfig{}
	_ = probe.ApplyArgs(cfg.ServerArgs) // validated with the config
	switch {
	case probe.Datastore.Endpoint != "":
		return DatastoreExternal
	case cfg.Servers > 1 || probe.Datastore.ClusterInit:
		return DatastoreEtcd
	}
	return DatastoreSQLite
}

// nodeConfig is what node i of role is told. A server other than the first
// joins the embedded etcd cluster through the server at join (an IP).
func nodeConfig(cfg *v1alpha1.Cluster, role string, i int, join string) (*nodev1.NodeConfig, error) {
	addr, err := newAddresses(cfg.Network.Subnet)
	if err != nil {
		return nil, err
	}
	nc := baseConfig(cfg, role, nodeName(cfg.Name, role, i))
	nc.NodeIP = addr.node(role, i)
	if role == RoleServer {
		nc.TLSSANs = []string{addr.lb(), lbName(cfg.Name), "127.0.0.1", "localhost"}
		nc.ServiceLBRange = cfg.Network.LoadBalancerRange
	} else {
		nc.Server = "https://" + net.JoinHostPort(addr.lb(), strconv.Itoa(APIPort))
	}
	if err := applyNodeSettings(cfg, nc, role, i, join); err != nil {
		return nil, err
	}
	return nc, checkConfig(nc)
}

// applyNodeSettings gives nc what the config says of node i of role, on
// containers and on hosts alike: mirrors, the role's and the node's args,
// labels and taints, and for a server the API address, the disabled
// add-ons and its datastore. A server other than the first joins the
// embedded etcd cluster through the server at join (a host or IP).
func applyNodeSettings(cfg *v1alpha1.Cluster, nc *nodev1.NodeConfig, role string, i int, join string) error {
	nc.Mirrors, nc.MirrorServers = maps.Clone(cfg.Mirrors), maps.Clone(cfg.MirrorServers)
	args := cfg.AgentArgs
	if role == RoleServer {
		args = cfg.ServerArgs
		if cfg.Network.APIAddress != "" {
			nc.TLSSANs = append(nc.TLSSANs, cfg.Network.APIAddress)
		}
		nc.Disable = append(nc.Disable, cfg.Disable...)
	}
	args = append([]string(nil), args...)
	for _, n := range cfg.Nodes {
		if n.Role == role && n.Index == i {
			for k, v := range n.Labels {
				if nc.Labels == nil {
					nc.Labels = map[string]string{}
				}
				nc.Labels[k] = v
			}
			nc.Taints = append(nc.Taints, n.Taints...)
			args = append(args, n.Args...)
		}
	}
	if err := nc.ApplyArgs(args); err != nil {
		return fmt.Errorf("%s: %w", nc.NodeName, err)
	}
	if role == RoleServer && DatastoreOf(cfg) == DatastoreEtcd {
		nc.Datastore.ClusterInit = join == ""
		if join != "" {
			nc.Server = "https://" + net.JoinHostPort(join, strconv.Itoa(APIPort))
		}
	}
	return nil
}

// baseConfig is what every node of the cluster is told, whatever it runs on.
func baseConfig(cfg *v1alpha1.Cluster, role, name string) *nodev1.NodeConfig {
	return &nodev1.NodeConfig{
		TypeMeta: meta.TypeMeta{APIVersion: nodev1.APIVersion, Kind: nodev1.Kind}, Role: role,
		NodeName: name, TokenFile: nodev1.DefaultTokenFile,
		ClusterCIDR: cfg.Kubernetes.ClusterCIDR, ServiceCIDR: cfg.Kubernetes.ServiceCIDR, FlannelBackend: flannelBackend(cfg),
	}
}

// checkConfig validates a planned node config as edgelet will see it.
func checkConfig(nc *nodev1.NodeConfig) error {
	check := *nc
	nodev1.SetDefaults(&check)
	check.Token = "planned" // the token file is written with the node
	if err := check.Validate(); err != nil {
		return fmt.Errorf("%s: %w", nc.NodeName, err)
	}
	return nil
}

// planNode plans the container of node i of role. token goes into the
// node's token file: the servers' shared secret, or for an agent the full
// join token that pins the cluster CA.
func planNode(cfg *v1alpha1.Cluster, role string, i int, join, token string, privileged bool) (nodePlan, error) {
	nc, err := nodeConfig(cfg, role, i, join)
	if err != nil {
		return nodePlan{}, err
	}
	conf, err := nc.Marshal()
	if err != nil {
		return nodePlan{}, err
	}
	labels := commonLabels(cfg, role, i)
	labels[runtime.LabelIP] = nc.NodeIP
	labels[labelPrivileged] = strconv.FormatBool(privileged)
	if role == RoleServer {
		labels[labelDatastore] = DatastoreOf(cfg)
	}
	var ports []runtime.PortMapping
	for _, p := range cfg.Ports {
		if p.Node == fmt.Sprintf("%s:%d", role, i) {
			ports = append(ports, runtime.PortMapping{HostIP: p.HostIP, HostPort: p.HostPort, ContainerPort: p.ContainerPort, Protocol: p.Protocol})
		}
	}
	files := map[string][]byte{
		nodev1.DefaultConfigPath: conf,
		nodev1.DefaultTokenFile:  []byte(token + "\n"),
		edgeletRole:              []byte("EDGELET_ROLE=" + role + "\n"),
	}
	if role == RoleServer {
		manifests, err := userManifests(cfg)
		if err != nil {
			return nodePlan{}, err
		}
		maps.Copy(files, manifests)
		hosting, err := localRegistryManifest(cfg)
		if err != nil {
			return nodePlan{}, err
		}
		maps.Copy(files, hosting)
	}
	name := nc.NodeName
	vols := volumes(name)
	return nodePlan{Role: role, Index: i, Config: nc, Spec: runtime.NodeSpec{
		Name: name, Hostname: name, Image: v1alpha1.ImageFor(cfg.Image, cfg.Platform(role, i)), IP: nc.NodeIP, Network: networkName(cfg.Name),
		Labels: labels, Node: true, Privileged: privileged, Ports: ports,
		Tmpfs: []string{"/run", "/tmp"},
		Mounts: []runtime.Mount{
			{Volume: vols[0], Target: nodev1.ContainerdDir},
			{Volume: vols[1], Target: nodev1.DefaultDataDir},
			{Source: "/lib/modules", Target: "/lib/modules", ReadOnly: true},
		},
		Files: files,
	}}, nil
}

func commonLabels(cfg *v1alpha1.Cluster, role string, i int) map[string]string {
	return map[string]string{
		runtime.LabelCluster: cfg.Name,
		runtime.LabelRole:    role,
		runtime.LabelIndex:   strconv.Itoa(i),
		runtime.LabelAPIPort: strconv.Itoa(cfg.Network.APIPort),
		runtime.LabelSubnet:  cfg.Network.Subnet,
		runtime.LabelImage:   cfg.Image,
	}
}

// planLB plans the load balancer: the API port on the host, the user's
// published ports, and a haproxy config for the cluster's nodes.
func planLB(cfg *v1alpha1.Cluster) (runtime.NodeSpec, error) {
	addr, err := newAddresses(cfg.Network.Subnet)
	if err != nil {
		return runtime.NodeSpec{}, err
	}
	stored, err := yaml.Marshal(cfg)
	if err != nil {
		return runtime.NodeSpec{}, err
	}
	labels := commonLabels(cfg, RoleLoadBalancer, 0)
	labels[runtime.LabelIP] = addr.lb()
	spec := runtime.NodeSpec{
		Name: lbName(cfg.Name), Hostname: lbName(cfg.Name), Image: cfg.Image, Network: networkName(cfg.Name), IP: addr.lb(),
		Labels:     labels,
		Entrypoint: []string{"haproxy", "-W", "-db", "-f", haproxyConfig},
		// The node image stops systemd with SIGRTMIN+3; haproxy as PID 1
		// ignores that, and every stop would wait out the engine's 10 s.
		StopSignal: "SIGTERM",
		Ports:      []runtime.PortMapping{{HostIP: cfg.Network.APIHostIP, HostPort: cfg.Network.APIPort, ContainerPort: APIPort, Protocol: "tcp"}},
		Files:      map[string][]byte{haproxyConfig: []byte(haproxyConfigFor(cfg, liveNodes(cfg))), specPath: stored},
	}
	for _, port := range cfg.Ports {
		if port.Node == RoleLoadBalancer {
			spec.Ports = append(spec.Ports, runtime.PortMapping{HostIP: port.HostIP, HostPort: port.HostPort, ContainerPort: port.ContainerPort, Protocol: port.Protocol})
		}
	}
	return spec, nil
}

// lbNode is a node behind the load balancer.
type lbNode struct {
	Role string
	IP   string
}

// liveNodes are the nodes the spec describes.
func liveNodes(cfg *v1alpha1.Cluster) []lbNode {
	addr, _ := newAddresses(cfg.Network.Subnet)
	var out []lbNode
	for i := 0; i < cfg.Servers; i++ {
		out = append(out, lbNode{RoleServer, addr.server(i)})
	}
	for i := 0; i < cfg.Agents; i++ {
		out = append(out, lbNode{RoleAgent, addr.agent(i)})
	}
	return out
}

// haproxyConfigFor renders the load balancer's config: TCP to every server's
// API port, health-checked on /readyz, plus the spec's published TCP ports to
// the same port on every node.
func haproxyConfigFor(cfg *v1alpha1.Cluster, nodes []lbNode) string {
	var b strings.Builder
	b.WriteString(`# Written by edgectl; regenerated when nodes change.
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
  # Nodes behind NAT open their tunnel on the API port too (edgelet's
  # tunnel ALPN protocol): it goes to edgelet's tunnel port on a server.
  tcp-request inspect-delay 5s
  tcp-request content accept if { req.ssl_hello_type 1 }
  use_backend edgelet-tunnels if { req.ssl_alpn ` + tunnel.ALPN + ` }
  default_backend kube-apiservers

backend kube-apiservers
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter 2s fall 2 rise 1 check check-ssl verify none
`)
	sort.SliceStable(nodes, func(i, j int) bool { return nodes[i].Role == RoleServer && nodes[j].Role != RoleServer })
	n := 0
	for _, node := range nodes {
		if node.Role == RoleServer {
			fmt.Fprintf(&b, "  server server-%d %s:%d\n", n, node.IP, APIPort)
			n++
		}
	}
	b.WriteString("\nbackend edgelet-tunnels\n  default-server inter 2s fall 2 rise 1 check\n")
	n = 0
	for _, node := range nodes {
		if node.Role == RoleServer {
			fmt.Fprintf(&b, "  server server-%d %s:%d\n", n, node.IP, nodev1.DefaultTunnelPort)
			n++
		}
	}
	for _, port := range cfg.Ports {
		if port.Node != RoleLoadBalancer || port.Protocol != "tcp" {
			continue
		}
		// A published port reaches the same port on every node, like a
		// cloud load balancer in front of a NodePort.
		p := port.ContainerPort
		fmt.Fprintf(&b, "\nfrontend port-%d\n  bind *:%d\n  default_backend port-%d\n\nbackend port-%d\n  default-server inter 2s fall 2 rise 1 check\n", p, p, p, p)
		for i, node := range nodes {
			fmt.Fprintf(&b, "  server node-%d %s:%d\n", i, node.IP, p)
		}
	}
	return b.String()
}
