package config

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"

	nodev1 "github.com/edgectl/edgectl/pkg/apis/node/v1alpha1"
)

// Defaults shared by server and agent, from the node config API.
const (
	DefaultDataDir      = nodev1.DefaultDataDir
	DefaultKubeconfig   = nodev1.DefaultKubeconfig
	DefaultSandboxImage = nodev1.DefaultPauseImage
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
	// Servers are the other servers an agent fails over to (through a local
	// proxy).
	Servers        []string
	Token          string
	ClusterCIDR    string
	FlannelBackend string
	ServiceCIDR    string
	ClusterDNS     string
	ClusterDomain  string
	SandboxImage   string
	KubeletArgs    []string
	KubeProxyArgs  []string
	// Mirrors: registry host -> mirror URL (containerd's certs.d).
	Mirrors       map[string]string
	MirrorServers map[string]string
	// Tunnel: keep a tunnel open to Server for the servers to reach this
	// node's kubelet through (a node behind NAT).
	Tunnel bool
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
	ServiceLBRange      string
}

// FromNode turns a defaulted, validated node config into edgelet's
// settings; the token comes from TokenFile when that is set.
func FromNode(nc *nodev1.NodeConfig) (*Server, error) {
	tok := nc.Token
	if nc.TokenFile != "" {
		data, err := os.ReadFile(nc.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("read token file: %w", err)
		}
		tok = strings.TrimSpace(string(data))
	}
	var labels []string
	for k, v := range nc.Labels {
		labels = append(labels, k+"="+v)
	}
	sort.Strings(labels)
	return &Server{
		Agent: Agent{
			DataDir: nc.DataDir, NodeName: nc.NodeName, NodeIP: nc.NodeIP, NodeExternalIP: nc.NodeExternalIP,
			NodeLabels: labels, NodeTaints: nc.Taints, Server: nc.Server, Servers: nc.Servers, Token: tok,
			ClusterCIDR: nc.ClusterCIDR, FlannelBackend: nc.FlannelBackend, ServiceCIDR: nc.ServiceCIDR, ClusterDNS: nc.ClusterDNS, ClusterDomain: nc.ClusterDomain,
			SandboxImage: nc.PauseImage, KubeletArgs: nc.Args.Kubelet, KubeProxyArgs: nc.Args.KubeProxy,
			Mirrors: nc.Mirrors, MirrorServers: nc.MirrorServers, Tunnel: nc.Tunnel,
		},
		BindAddress: nc.BindAddress, HTTPSPort: nc.HTTPSPort, TLSSANs: nc.TLSSANs,
		DatastoreEndpoint: nc.Datastore.Endpoint, ClusterInit: nc.Datastore.ClusterInit, DisableAgent: nc.DisableAgent,
		WriteKubeconfig: nc.WriteKubeconfig, WriteKubeconfigMode: nc.WriteKubeconfigMode,
		APIServerArgs: nc.Args.APIServer, ControllerArgs: nc.Args.ControllerManager, SchedulerArgs: nc.Args.Scheduler,
		Disable: nc.Disable, ServiceLBRange: nc.ServiceLBRange,
	}, nil
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

// StorageDir holds the node's local-path volumes.
func (a *Agent) StorageDir() string { return filepath.Join(a.DataDir, "storage") }
