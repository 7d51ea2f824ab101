package config

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"
)

// Defaults shared by server and agent.
const (
	DefaultDataDir       = "/var/lib/edgelet"
	DefaultClusterCIDR   = "10.42.0.0/16"
	DefaultServiceCIDR   = "10.43.0.0/16"
	DefaultClusterDomain = "cluster.local"
	DefaultHTTPSPort     = 6443
	DefaultKubeconfig    = "/etc/edgelet/edgelet.yaml"
	DefaultSandboxImage  = "ghcr.io/edgectl/pause:3.10"
)

// Agent is the configuration of a node: kubelet, kube-proxy, containerd, CNI.
type Agent struct {
	DataDir        string
	NodeName       string
	NodeIP         string
	NodeExternalIP string
	NodeLabels     []string
	NodeTaints     []string
	Server         string // https://host:6443 of a server; empty on a server's own agent
	Token          string
	ClusterCIDR    string
	ServiceCIDR    string
	ClusterDNS     string
	ClusterDomain  string
	SandboxImage   string
	KubeletArgs    []string
	KubeProxyArgs  []string
	// Unprivileged is true when the node cannot set negative oom_score_adj
	// (no CAP_SYS_RESOURCE); detected at start.
	Unprivileged bool
}

// Server is the configuration of a control-plane node.
type Server struct {
	Agent
	BindAddress         string
	HTTPSPort           int
	TLSSANs             []string
	DatastoreEndpoint   string
	ClusterInit         bool
	DisableAgent        bool
	WriteKubeconfig     string
	WriteKubeconfigMode string
	APIServerArgs       []string
	ControllerArgs      []string
	SchedulerArgs       []string
	Disable             []string
}

// AddAgentFlags registers the agent flags on fs.
func AddAgentFlags(fs *pflag.FlagSet, a *Agent) {
	fs.StringVar(&a.DataDir, "data-dir", DefaultDataDir, "directory for edgelet state")
	fs.StringVar(&a.NodeName, "node-name", "", "node name (default: hostname)")
	fs.StringVar(&a.NodeIP, "node-ip", "", "IP address to advertise for the node (default: the address of the default route's interface)")
	fs.StringVar(&a.NodeExternalIP, "node-external-ip", "", "external IP address to advertise for the node")
	fs.StringArrayVar(&a.NodeLabels, "node-label", nil, "label key=value to register the node with (repeatable)")
	fs.StringArrayVar(&a.NodeTaints, "node-taint", nil, "taint key=value:Effect to register the node with (repeatable)")
	fs.StringVar(&a.Token, "token", "", "join token (the server writes it to DATA_DIR/server/token)")
	fs.StringVar(&a.ClusterCIDR, "cluster-cidr", DefaultClusterCIDR, "pod network range")
	fs.StringVar(&a.ServiceCIDR, "service-cidr", DefaultServiceCIDR, "service network range")
	fs.StringVar(&a.ClusterDNS, "cluster-dns", "", "cluster DNS service IP (default: the 10th address of --service-cidr)")
	fs.StringVar(&a.ClusterDomain, "cluster-domain", DefaultClusterDomain, "cluster DNS domain")
	fs.StringVar(&a.SandboxImage, "pause-image", DefaultSandboxImage, "pod sandbox image (shipped in the offline image bundle)")
	fs.StringArrayVar(&a.KubeletArgs, "kubelet-arg", nil, "extra kubelet flag, name=value (repeatable)")
	fs.StringArrayVar(&a.KubeProxyArgs, "kube-proxy-arg", nil, "extra kube-proxy flag, name=value (repeatable)")
}

// AddServerFlags registers the server flags (agent flags included) on fs.
func AddServerFlags(fs *pflag.FlagSet, s *Server) {
	AddAgentFlags(fs, &s.Agent)
	fs.StringVar(&s.BindAddress, "bind-address", "0.0.0.0", "address the API server listens on")
	fs.IntVar(&s.HTTPSPort, "https-listen-port", DefaultHTTPSPort, "API server port")
	fs.StringArrayVar(&s.TLSSANs, "tls-san", nil, "extra name or IP for the API server certificate (repeatable)")
	fs.StringVar(&s.DatastoreEndpoint, "datastore-endpoint", "", "kine datastore: postgres://, mysql:// or sqlite:// (default: SQLite in DATA_DIR/server/db)")
	fs.BoolVar(&s.ClusterInit, "cluster-init", false, "start a new HA cluster with embedded etcd")
	fs.StringVar(&s.Agent.Server, "server", "", "URL of an existing server to join (HA)")
	fs.BoolVar(&s.DisableAgent, "disable-agent", false, "do not run kubelet and kube-proxy on this server")
	fs.StringVar(&s.WriteKubeconfig, "write-kubeconfig", DefaultKubeconfig, "where to write the admin kubeconfig")
	fs.StringVar(&s.WriteKubeconfigMode, "write-kubeconfig-mode", "0600", "file mode of the admin kubeconfig")
	fs.StringArrayVar(&s.APIServerArgs, "kube-apiserver-arg", nil, "extra kube-apiserver flag, name=value (repeatable)")
	fs.StringArrayVar(&s.ControllerArgs, "kube-controller-manager-arg", nil, "extra kube-controller-manager flag (repeatable)")
	fs.StringArrayVar(&s.SchedulerArgs, "kube-scheduler-arg", nil, "extra kube-scheduler flag (repeatable)")
	fs.StringSliceVar(&s.Disable, "disable", nil, "packaged manifests not to deploy, e.g. coredns")
}

// LoadFile applies a YAML file of flag-name keys to fs. Flags given on the
// command line win over the file. Lists become repeated flags.
func LoadFile(fs *pflag.FlagSet, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return fmt.Errorf("read config %s: %w", path, err)
	}
	var values map[string]any
	if err := yaml.Unmarshal(data, &values); err != nil {
		return fmt.Errorf("parse config %s: %w", path, err)
	}
	var errs []string
	for key, v := range values {
		f := fs.Lookup(key)
		if f == nil {
			errs = append(errs, fmt.Sprintf("unknown key %q", key))
			continue
		}
		if f.Changed {
			continue
		}
		items := []any{v}
		if list, ok := v.([]any); ok {
			items = list
		}
		for _, item := range items {
			if err := fs.Set(key, fmt.Sprint(item)); err != nil {
				errs = append(errs, fmt.Sprintf("%s: %v", key, err))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("config %s: %s", path, strings.Join(errs, "; "))
	}
	return nil
}

// Complete fills in values derived from the host: node name, node IP, DNS IP.
func (a *Agent) Complete() error {
	if a.NodeName == "" {
		h, err := os.Hostname()
		if err != nil {
			return err
		}
		a.NodeName = strings.ToLower(h)
	}
	if a.NodeIP == "" {
		ip, err := defaultIP()
		if err != nil {
			return fmt.Errorf("find node IP (set --node-ip): %w", err)
		}
		a.NodeIP = ip
	}
	if a.ClusterDNS == "" {
		ip, err := NthIP(a.ServiceCIDR, 10)
		if err != nil {
			return err
		}
		a.ClusterDNS = ip
	}
	return nil
}

// NthIP returns the n-th address of cidr (1 is the service VIP of the
// kubernetes Service, 10 is cluster DNS by convention).
func NthIP(cidr string, n int) (string, error) {
	_, ipnet, err := net.ParseCIDR(cidr)
	if err != nil {
		return "", fmt.Errorf("parse CIDR %q: %w", cidr, err)
	}
	ip := ipnet.IP.To4()
	if ip == nil {
		return "", fmt.Errorf("CIDR %q: only IPv4 is supported", cidr)
	}
	out := make(net.IP, 4)
	copy(out, ip)
	out[3] += byte(n)
	return out.String(), nil
}

// defaultIP is the source address the kernel picks for an outbound packet: a
// UDP "connect" sends nothing, it only resolves the route.
func defaultIP() (string, error) {
	conn, err := net.Dial("udp4", "192.0.2.1:9") // TEST-NET-1; no packet is sent
	if err != nil {
		return "", err
	}
	defer conn.Close()
	return conn.LocalAddr().(*net.UDPAddr).IP.String(), nil
}

// Paths under the data dir.
func (a *Agent) ServerDir() string { return filepath.Join(a.DataDir, "server") }
func (a *Agent) AgentDir() string  { return filepath.Join(a.DataDir, "agent") }
func (a *Agent) TLSDir() string    { return filepath.Join(a.DataDir, "server", "tls") }
func (a *Agent) ImagesDir() string { return filepath.Join(a.DataDir, "agent", "images") }
