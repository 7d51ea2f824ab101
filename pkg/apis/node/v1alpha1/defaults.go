package v1alpha1

import "path/filepath"

// Paths and defaults shared by edgectl and edgelet.
const (
	DefaultConfigPath    = "/etc/edgelet/config.yaml"
	DefaultTokenFile     = "/etc/edgelet/token"
	DefaultKubeconfig    = "/etc/edgelet/edgelet.yaml"
	DefaultDataDir       = "/var/lib/edgelet"
	DefaultClusterCIDR   = "10.42.0.0/16"
	DefaultServiceCIDR   = "10.43.0.0/16"
	DefaultClusterDomain = "cluster.local"
	DefaultHTTPSPort     = 6443
	// DefaultTunnelPort is where a server takes the tunnels of nodes that
	// only dial out (edgectl's load balancer sends the API port's tunnel
	// connections there).
	DefaultTunnelPort     = 6445
	DefaultBindAddress    = "0.0.0.0"
	DefaultKubeconfigMode = "0600"
	// DefaultPauseImage is the sandbox image the node image ships offline.
	DefaultPauseImage = "ghcr.io/edgectl/pause:3.10"
	// ContainerdDir is containerd's state; in a node container it is a
	// volume of its own.
	ContainerdDir = "/var/lib/containerd"
	// NativeDir holds, in a node of another platform than its host's (run
	// under qemu user emulation), the host's own containerd, shim, runc and
	// iptables, which edgectl copies in: the node's own cannot reach
	// netfilter or seccomp through qemu. edgelet runs them when they are
	// there.
	NativeDir = "/usr/lib/edgectl/native"
)

// Flannel backends (NodeConfig.FlannelBackend).
const (
	FlannelVXLAN  = "vxlan"
	FlannelHostGW = "host-gw"
)

// ServerTokenPath is where a server writes the full join token (it pins the
// cluster CA) under its data dir.
func ServerTokenPath(dataDir string) string { return filepath.Join(dataDir, "server", "token") }

// ContainerdLogPath is containerd's log under the data dir.
func ContainerdLogPath(dataDir string) string {
	return filepath.Join(dataDir, "agent", "containerd", "containerd.log")
}

// ImagesDir holds the image archives a node imports at start.
func ImagesDir(dataDir string) string { return filepath.Join(dataDir, "agent", "images") }

// SetDefaults fills every unset field that has a fixed default. Values that
// depend on the host (node name, node IP, cluster DNS) are left to edgelet.
func SetDefaults(c *NodeConfig) {
	c.TypeMeta.Default(Kind)
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&c.DataDir, DefaultDataDir)
	def(&c.ClusterCIDR, DefaultClusterCIDR)
	def(&c.FlannelBackend, FlannelVXLAN)
	def(&c.ServiceCIDR, DefaultServiceCIDR)
	def(&c.ClusterDomain, DefaultClusterDomain)
	def(&c.PauseImage, DefaultPauseImage)
	def(&c.BindAddress, DefaultBindAddress)
	def(&c.WriteKubeconfig, DefaultKubeconfig)
	def(&c.WriteKubeconfigMode, DefaultKubeconfigMode)
	if c.HTTPSPort == 0 {
		c.HTTPSPort = DefaultHTTPSPort
	}
}
