package v1alpha1

// Default values; every default of the config lives here.
const (
	DefaultName        = "edgectl"
	DefaultImage       = "edgectl/node:dev"
	DefaultAPIHostIP   = "127.0.0.1"
	DefaultClusterCIDR = "10.42.0.0/16"
	DefaultServiceCIDR = "10.43.0.0/16"
)

// SetDefaults fills every unset field.
func SetDefaults(c *Cluster) {
	if c.APIVersion == "" {
		c.APIVersion = APIVersion
	}
	if c.Kind == "" {
		c.Kind = Kind
	}
	if c.Name == "" {
		c.Name = DefaultName
	}
	if c.Servers == 0 {
		c.Servers = 1
	}
	if c.Image == "" {
		c.Image = DefaultImage
	}
	if c.Network.APIHostIP == "" {
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
