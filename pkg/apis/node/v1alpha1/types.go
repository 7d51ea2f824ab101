package v1alpha1

import "github.com/edgectl/edgectl/pkg/apis/meta"

// APIVersion and Kind of a node config file.
const (
	APIVersion = meta.GroupVersion
	Kind       = "NodeConfig"
)

// Roles of a node.
const (
	RoleServer = "server"
	RoleAgent  = "agent"
)

// NodeConfig is the configuration of one edgelet node.
type NodeConfig struct {
	meta.TypeMeta
	// Role is "server" (control plane, and an agent unless disableAgent) or "agent".
	Role string `json:"role"`
	// DataDir holds edgelet's state. Defaults to /var/lib/edgelet.
	DataDir string `json:"dataDir,omitempty"`
	// NodeName defaults to the host name.
	NodeName string `json:"nodeName,omitempty"`
	// NodeIP is the address the node advertises. Defaults to the address of
	// the default route's interface.
	NodeIP         string `json:"nodeIP,omitempty"`
	NodeExternalIP string `json:"nodeExternalIP,omitempty"`
	// Labels and Taints (key[=value]:Effect) the node registers with.
	Labels map[string]string `json:"labels,omitempty"`
	Taints []string          `json:"taints,omitempty"`
	// Server is https://HOST:6443 of a server to join: required for an
	// agent, and for a server that joins an embedded etcd cluster.
	Server string `json:"server,omitempty"`
	// Servers are the other servers (https://HOST:PORT) an agent fails over
	// to: it then reaches the API through a local proxy (127.0.0.1:6444)
	// over Server and these, each tried in turn when one does not answer.
	Servers []string `json:"servers,omitempty"`
	// Token is the join secret: a server's shared secret, or the full join
	// token (DATA_DIR/server/token of a server) for an agent. TokenFile
	// names a file that holds it instead, and wins when both are set.
	Token     string `json:"token,omitempty"`
	TokenFile string `json:"tokenFile,omitempty"`
	// ClusterCIDR and ServiceCIDR are the pod and service ranges.
	ClusterCIDR string `json:"clusterCIDR,omitempty"`
	ServiceCIDR string `json:"serviceCIDR,omitempty"`
	// FlannelBackend carries pod traffic between nodes: vxlan (the
	// default; nodes on other networks can join) or host-gw (routes over a
	// network the nodes share; what a cluster with emulated nodes uses,
	// since qemu cannot program VXLAN's neighbor entries). Every node of a
	// cluster must use the same.
	FlannelBackend string `json:"flannelBackend,omitempty"`
	// Tunnel makes an agent keep a tunnel open to the server it joined
	// (Server), through which the servers reach its kubelet: a node behind
	// NAT, which nothing can connect to (node join sets it).
	Tunnel bool `json:"tunnel,omitempty"`
	// ClusterDNS defaults to the 10th address of ServiceCIDR.
	ClusterDNS    string `json:"clusterDNS,omitempty"`
	ClusterDomain string `json:"clusterDomain,omitempty"`
	// PauseImage is the pod sandbox image (shipped in the node's offline images).
	PauseImage string `json:"pauseImage,omitempty"`
	// Server-only settings.
	BindAddress string `json:"bindAddress,omitempty"`
	HTTPSPort   int    `json:"httpsPort,omitempty"`
	// TLSSANs are extra names and IPs of the API server certificate.
	TLSSANs   []string  `json:"tlsSANs,omitempty"`
	Datastore Datastore `json:"datastore,omitzero"`
	// DisableAgent runs no kubelet and kube-proxy on a server.
	DisableAgent bool `json:"disableAgent,omitempty"`
	// Disable names packaged manifests not to deploy (e.g. coredns).
	Disable []string `json:"disable,omitempty"`
	// ServiceLBRange is the pool LoadBalancer Services get their address
	// from ("FIRST-LAST" or a CIDR on the nodes' network). Empty: no
	// LoadBalancer addresses are handed out.
	ServiceLBRange string `json:"serviceLBRange,omitempty"`
	// Mirrors map an image registry host (docker.io, localhost:5001) to the
	// mirror its images are pulled through (http://edgectl-registry-x:5000):
	// edgelet writes containerd's certs.d/HOST/hosts.toml for each and
	// removes the directories of hosts no longer named.
	Mirrors map[string]string `json:"mirrors,omitempty"`
	// MirrorServers are the registries' own addresses, where containerd
	// falls back when the mirror fails (default: containerd's own,
	// https://HOST, or registry-1.docker.io for docker.io). A failed pull then
	// names that address.
	MirrorServers map[string]string `json:"mirrorServers,omitempty"`
	// WriteKubeconfig is where a server writes its admin kubeconfig, with
	// WriteKubeconfigMode (octal).
	WriteKubeconfig     string `json:"writeKubeconfig,omitempty"`
	WriteKubeconfigMode string `json:"writeKubeconfigMode,omitempty"`
	// Args are extra flags of the Kubernetes components, name=value.
	Args ComponentArgs `json:"args,omitzero"`
}

// Datastore is where a server keeps the cluster's data.
type Datastore struct {
	// Endpoint is a kine endpoint (postgres://, mysql://, sqlite://). Empty:
	// SQLite in DATA_DIR/server/db, or embedded etcd with ClusterInit or Server.
	Endpoint string `json:"endpoint,omitempty"`
	// ClusterInit starts a new embedded etcd cluster.
	ClusterInit bool `json:"clusterInit,omitempty"`
}

// ComponentArgs are extra flags for each component, name=value.
type ComponentArgs struct {
	APIServer         []string `json:"kubeAPIServer,omitempty"`
	ControllerManager []string `json:"kubeControllerManager,omitempty"`
	Scheduler         []string `json:"kubeScheduler,omitempty"`
	Kubelet           []string `json:"kubelet,omitempty"`
	KubeProxy         []string `json:"kubeProxy,omitempty"`
}
