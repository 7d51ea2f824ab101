package v1alpha1

import (
	nodev1 "github.com/edgectl/edgectl/pkg/apis/node/v1alpha1"
	"github.com/edgectl/edgectl/pkg/version"
)

// Default values; every default of the config lives here.
const (
	DefaultName = "edgectl"
	// DefaultImage is the node image of a build from the source tree; a
	// release's default is its published image (version.NodeImage).
	DefaultImage       = version.DevImage
	DefaultAPIHostIP   = "127.0.0.1"
	DefaultClusterCIDR = nodev1.DefaultClusterCIDR
	DefaultServiceCIDR = nodev1.DefaultServiceCIDR
)

// SetDefaults fills every unset field.
func SetDefaults(c *Cluster) {
	c.TypeMeta.Default(Kind)
	if c.Name == "" {
		c.Name = DefaultName
	}
	if c.Servers == 0 {
		c.Servers = 1
	}
	if c.Image == "" {
		c.Image = version.NodeImage()
	}
	if c.Network.APIHostIP == "" && c.Network.APIAddress != "" {
		c.Network.APIHostIP = "0.0.0.0"
	} else if c.Network.APIHostIP == "" {
		c.Network.APIHostIP = DefaultAPIHostIP
	}
	if c.Kubernetes.ClusterCIDR == "" {
		c.Kubernetes.ClusterCIDR = DefaultClusterCIDR
	}
	if c.Kubernetes.ServiceCIDR == "" {
		c.Kubernetes.ServiceCIDR = DefaultServiceCIDR
	}
	for i := range c.Ports {
		if c.Ports[i].Protocol == "" {
			c.Ports[i].Protocol = "tcp"
		}
		if c.Ports[i].Node == "" {
			c.Ports[i].Node = "loadbalancer"
		}
	}
}
