// Package create is `edgectl cluster create`.
package create

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	"github.com/edgectl/edgectl/pkg/cluster"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/cmdutil"
)

type flagpole struct {
	Config          string
	Servers, Agents int
	Image           string
	Wait            time.Duration
	Retain          bool
	APIPort         int
	APIAddress      string
	Subnet          string
	AgentPlatform   string
	NoSwitchContext bool
	Kubeconfig      string
	Ports           []string
	ServerArgs      []string
	AgentArgs       []string
	Disable         []string
	Manifests       string
	Registries      []string
}

// NewCommand returns `edgectl cluster create`.
func NewCommand(deps cmdutil.Deps) *cobra.Command {
	f := &flagpole{}
	cmd := &cobra.Command{
		Use:   "create [NAME]",
		Short: "Create a cluster",
		Long: `Create a cluster of node containers and wait until it is usable: the API
answers /readyz through the load balancer, every node is Ready and CoreDNS is
available. The kubeconfig context edgectl-NAME is merged into $KUBECONFIG (or
~/.kube/config) and made current.`,
		Example: `  edgectl cluster create demo --agents 3
  edgectl cluster create ha --servers 3 --agents 2
  edgectl cluster create web -p 8080:30080     # host 8080 -> NodePort 30080 on every node
  edgectl cluster create --config cluster.yaml
  edgectl cluster create pg --server-arg datastore-endpoint=postgres://user:pass@db:5432/k8s`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg := &v1alpha1.Cluster{}
			var decodeErr error
			if f.Config != "" {
				// An unknown field comes back with the leniently decoded
				// config, to be listed with the config's other problems.
				if cfg, decodeErr = v1alpha1.Load(f.Config, deps.Streams.In); cfg == nil {
					return edgeerrors.Wrap(edgeerrors.KindInvalidConfig, "see `edgectl config init` for the format", decodeErr)
				}
			}
			// Flags override the file.
			if len(args) == 1 {
				cfg.Name = args[0]
			}
			fl := cmd.Flags()
			if fl.Changed("servers") {
				cfg.Servers = f.Servers
			}
			if fl.Changed("agents") {
				cfg.Agents = f.Agents
			}
			if fl.Changed("image") {
				cfg.Image = f.Image
			}
			if fl.Changed("api-port") {
				cfg.Network.APIPort = f.APIPort
			}
			if fl.Changed("api-address") {
				cfg.Network.APIAddress = f.APIAddress
			}
			if fl.Changed("subnet") {
				cfg.Network.Subnet = f.Subnet
			}
			if fl.Changed("agent-platform") {
				cfg.AgentPlatform = f.AgentPlatform
			}
			for _, s := range f.Ports {
				port, err := v1alpha1.ParsePort(s)
				if err != nil {
					return edgeerrors.Wrap(edgeerrors.KindInvalidConfig, "e.g. -p 8080:30080 or -p 9000:30090@agent:0", err)
				}
				cfg.Ports = append(cfg.Ports, port)
			}
			cfg.ServerArgs = append(cfg.ServerArgs, f.ServerArgs...)
			cfg.AgentArgs = append(cfg.AgentArgs, f.AgentArgs...)
			cfg.Disable = append(cfg.Disable, f.Disable...)
			cfg.Registries = append(cfg.Registries, f.Registries...)
			if f.Manifests != "" {
				cfg.Manifests = f.Manifests
			}
			if cfg.Manifests != "" {
				// The stored spec must find them from anywhere.
				abs, err := filepath.Abs(cfg.Manifests)
				if err != nil {
					return err
				}
				cfg.Manifests = abs
			}
			p, err := cluster.NewProvider(deps.Logger())
			if err != nil {
				return err
			}
			err = p.Create(cmd.Context(), cluster.CreateOptions{
				Config: cfg, Wait: f.Wait, Retain: f.Retain, SwitchContext: !f.NoSwitchContext, Kubeconfig: f.Kubeconfig, DecodeError: decodeErr,
			})
			if err != nil {
				return fmt.Errorf("create cluster %q: %w", cfg.Name, err)
			}
			// Progress, like the steps above: -q leaves it out.
			fmt.Fprintf(deps.Logger().Writer(), "\nCluster %q is ready. Try:\n  kubectl --context %s get nodes\n", cfg.Name, cluster.Context(cfg.Name))
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&f.Config, "config", "c", "", "cluster config file (apiVersion edgectl.io/v1alpha1), - for stdin")
	fs.IntVarP(&f.Servers, "servers", "s", 1, "number of servers (control-plane nodes); 3 is HA")
	fs.IntVarP(&f.Agents, "agents", "a", 0, "number of agents (workers)")
	fs.StringVar(&f.Image, "image", v1alpha1.DefaultImage, "node image")
	fs.DurationVar(&f.Wait, "wait", 3*time.Minute, "how long to wait for a usable cluster (0 = do not wait)")
	fs.BoolVar(&f.Retain, "retain", false, "keep the containers of a failed create, for debugging")
	fs.IntVar(&f.APIPort, "api-port", 0, "host port of the API (default: a free port on 127.0.0.1)")
	fs.StringVar(&f.APIAddress, "api-address", "", "IP or DNS name that hosts outside the engine (boards joining with `node join`) reach the API on; publishes the API on every host address")
	fs.StringVar(&f.Subnet, "subnet", "", "IPv4 subnet of the cluster network (default: a free /24 of 10.89.0.0/16)")
	fs.BoolVar(&f.NoSwitchContext, "no-switch-context", false, "do not make the new context current")
	fs.StringArrayVarP(&f.Ports, "port", "p", nil, "publish a port: [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|udp][@loadbalancer|@server:N|@agent:N] (repeatable)")
	fs.StringArrayVar(&f.ServerArgs, "server-arg", nil, "extra edgelet server flag NAME=VALUE for every server, e.g. kube-apiserver-arg=v=2 (repeatable)")
	fs.StringVar(&f.AgentPlatform, "agent-platform", "", "platform of the agents, linux/amd64 or linux/arm64 (default: the host's; another runs under qemu emulation)")
	fs.StringArrayVar(&f.AgentArgs, "agent-arg", nil, "extra edgelet agent flag NAME=VALUE for every agent (repeatable)")
	fs.StringSliceVar(&f.Disable, "disable", nil, "packaged add-ons not to deploy: "+strings.Join(v1alpha1.AddOns, ", ")+" (repeatable or comma-separated)")
	fs.StringSliceVar(&f.Registries, "registry", nil, "pull every image through this edgectl registry (`edgectl registry create`); repeatable")
	fs.StringVar(&f.Manifests, "manifests", "", "directory of manifests (.yaml, HelmCharts) to apply at create and keep applied, like k3s's server/manifests")
	fs.StringVar(&f.Kubeconfig, "kubeconfig", "", "kubeconfig file to update (default: first of $KUBECONFIG, or ~/.kube/config)")
	return cmd
}
