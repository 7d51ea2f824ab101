package v1alpha1

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"sort"
	"strings"

	"github.com/edgectl/edgectl/pkg/iprange"
)

// Validate returns every problem of a defaulted config at once.
func (c *NodeConfig) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch c.Role {
	case RoleServer:
	case RoleAgent:
		if c.Server == "" {
			add("server: an agent needs the URL of a server, https://HOST:6443")
		}
		if c.Token == "" && c.TokenFile == "" {
			add("token: an agent needs the join token (token or tokenFile; a server writes it to DATA_DIR/server/token)")
		}
		serverOnly := map[string]bool{"tlsSANs": len(c.TLSSANs) > 0, "datastore.endpoint": c.Datastore.Endpoint != "",
			"datastore.clusterInit": c.Datastore.ClusterInit, "disableAgent": c.DisableAgent, "disable": len(c.Disable) > 0,
			"serviceLBRange":     c.ServiceLBRange != "",
			"args.kubeAPIServer": len(c.Args.APIServer) > 0, "args.kubeControllerManager": len(c.Args.ControllerManager) > 0,
			"args.kubeScheduler": len(c.Args.Scheduler) > 0}
		for _, f := range sortedTrue(serverOnly) {
			add("%s: only a server takes it", f)
		}
	default:
		add("role %q: must be server or agent", c.Role)
	}
	if c.FlannelBackend != FlannelVXLAN && c.FlannelBackend != FlannelHostGW {
		add("flannelBackend %q: must be %s or %s", c.FlannelBackend, FlannelVXLAN, FlannelHostGW)
	}
	for field, v := range map[string]string{"clusterCIDR": c.ClusterCIDR, "serviceCIDR": c.ServiceCIDR} {
		if _, err := netip.ParsePrefix(v); err != nil {
			add("%s %q: must be a CIDR such as 10.42.0.0/16", field, v)
		}
	}
	for field, v := range map[string]string{"nodeIP": c.NodeIP, "nodeExternalIP": c.NodeExternalIP, "clusterDNS": c.ClusterDNS} {
		if _, err := netip.ParseAddr(v); v != "" && err != nil {
			add("%s %q: not an IP address", field, v)
		}
	}
	if c.ServiceLBRange != "" {
		if _, err := iprange.Parse(c.ServiceLBRange); err != nil {
			add("serviceLBRange %v", err)
		}
	}
	for host, mirror := range c.Mirrors {
		u, err := url.Parse(mirror)
		if host == "" || strings.ContainsAny(host, "/ ") || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("mirrors %s=%s: must be HOST=http(s)://HOST[:PORT]", host, mirror)
		}
	}
	if c.Server != "" && !strings.HasPrefix(c.Server, "https://") {
		add("server %q: must be https://HOST:PORT", c.Server)
	}
	for _, s := range c.Servers {
		if !strings.HasPrefix(s, "https://") {
			add("servers: %q must be https://HOST:PORT", s)
		}
	}
	if len(c.Servers) > 0 && (c.Role != RoleAgent || c.Tunnel) {
		add("servers: only an agent without a tunnel takes them")
	}
	if c.HTTPSPort < 1 || c.HTTPSPort > 65535 {
		add("httpsPort %d: must be between 1 and 65535", c.HTTPSPort)
	}
	if c.Datastore.Endpoint != "" && c.Datastore.ClusterInit {
		add("datastore: endpoint and clusterInit exclude each other")
	}
	for k := range c.Labels {
		if k == "" {
			add("labels: a key is empty")
		}
	}
	for _, t := range c.Taints {
		if !strings.Contains(t, ":") {
			add("taints %q: must be key[=value]:Effect", t)
		}
	}
	return errors.Join(errs...)
}

func sortedTrue(m map[string]bool) []string {
	var out []string
	for k, v := range m {
		if v {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
