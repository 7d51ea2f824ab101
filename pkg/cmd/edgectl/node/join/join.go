// Package join is `edgectl node join` and `edgectl node leave`.
package join

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/internal/remote"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	"github.com/edgectl/edgectl/pkg/cluster"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/cmdutil"
)

// NewCommand returns `edgectl node join -c NAME --ssh USER@HOST`.
func NewCommand(deps cmdutil.Deps) *cobra.Command {
	opts := cluster.JoinOptions{}
	var ssh, bastion, platform, key string
	var port int
	var labels []string
	var print bool
	cmd := &cobra.Command{
		Use:   "join -c CLUSTER --ssh USER@HOST [-i KEY]",
		Short: "Join a host edgectl did not create (a board, a VM) to a cluster, over SSH",
		Long: `Join a Linux host with systemd (a Raspberry Pi class board, a VM, a server) to a
cluster as an agent, over SSH. The host needs outbound access to the cluster's API
address only (cluster create --api-address), so it can sit behind NAT.

The join runs a preflight on the host and prints it (architecture, OS, kernel,
cgroups and their controllers, kernel features, swap, clock skew, disk, memory,
ports, another Kubernetes), then copies the board bundle of the host's
architecture from the local build cache (nothing is downloaded on the host),
writes the node config and the join token, and starts edgelet under systemd. A
failed join removes what it installed. Joining the same host again re-installs
it with the same identity. ` + "`edgectl node leave NODE`" + ` removes it again.

--print writes the same join as one script, for a host edgectl cannot reach:
copy it and the bundle it names to the host and run it as root.`,
		Example: `  edgectl cluster create edge --api-address 192.168.1.20
  edgectl node join -c edge --ssh pi@192.168.1.50 -i ~/.ssh/id_ed25519 --label site=shop-7
  edgectl node join -c edge --ssh pi@10.0.0.5 --ssh-bastion admin@gateway.example   # through a jump host
  edgectl node join -c edge --print --name pi-7 --platform linux/arm64 > join.sh`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cmdutil.RequireCluster(opts.Cluster); err != nil {
				return err
			}
			var err error
			if opts.Labels, err = cmdutil.ParseLabels(labels); err != nil {
				return err
			}
			p, err := cluster.NewProvider(deps.Logger())
			if err != nil {
				return err
			}
			if print {
				archs, err := v1alpha1.ParsePlatforms(platform)
				if err != nil || len(archs) != 1 {
					return edgeerrors.New(edgeerrors.KindInvalidConfig, "e.g. --platform linux/arm64", "--platform %q: one of %v", platform, v1alpha1.Platforms)
				}
				script, err := p.JoinScript(cmd.Context(), opts.Cluster, opts.Name, archs[0], opts.Labels, opts.Taints)
				if err != nil {
					return err
				}
				fmt.Fprint(deps.Streams.Out, script)
				return nil
			}
			if ssh == "" {
				return edgeerrors.New(edgeerrors.KindInvalidConfig, "e.g. --ssh pi@192.168.1.50, or --print for a script", "--ssh USER@HOST is required")
			}
			if opts.Target, err = remote.ParseTarget(ssh, port); err != nil {
				return edgeerrors.Wrap(edgeerrors.KindInvalidConfig, "", fmt.Errorf("--ssh %w", err))
			}
			opts.Target.KeyFile = cmdutil.ExpandHome(key)
			if bastion != "" {
				b, err := remote.ParseTarget(bastion, 22)
				if err != nil {
					return edgeerrors.Wrap(edgeerrors.KindInvalidConfig, "", fmt.Errorf("--ssh-bastion %w", err))
				}
				opts.Target.Bastion = &b
			}
			opts.Out = deps.Streams.ErrOut
			node, err := p.JoinHost(cmd.Context(), opts)
			if err != nil {
				return fmt.Errorf("join %s to %q: %w", opts.Target.Host, opts.Cluster, err)
			}
			fmt.Fprintln(deps.Streams.Out, node)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&opts.Cluster, "cluster", "c", "", "cluster to join")
	fs.StringVar(&ssh, "ssh", "", "USER@HOST[:PORT] to log in to (the user must be root or have passwordless sudo)")
	fs.StringVarP(&key, "identity", "i", "", "SSH private key (default: ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa)")
	fs.IntVar(&port, "port", 22, "SSH port")
	fs.StringVar(&bastion, "ssh-bastion", "", "USER@HOST[:PORT] of a jump host to reach the host through (same key)")
	fs.StringVar(&opts.Name, "name", "", "Node name (default: the host's name)")
	fs.StringArrayVar(&labels, "label", nil, "Kubernetes label key=value of the node (repeatable)")
	fs.StringArrayVar(&opts.Taints, "taint", nil, "taint key[=value]:Effect of the node (repeatable)")
	fs.BoolVar(&opts.Force, "force", false, "install even if the host runs another Kubernetes (k3s, a kubelet)")
	fs.StringVar(&opts.Bundle, "bundle", "", "board bundle file to install (default: built into the build cache from the source tree)")
	fs.StringVar(&opts.Token, "token", "", "join token to give the host, from edgectl token create (default: a new one that joins this node only and expires 10 minutes after --wait)")
	fs.DurationVar(&opts.Wait, "wait", 3*time.Minute, "how long to wait for the Node to be Ready (0 = do not wait)")
	fs.BoolVar(&opts.Retain, "retain", false, "keep what a failed join installed, for debugging")
	fs.BoolVar(&print, "print", false, "write the join as a script instead of running it over SSH (needs --name and --platform)")
	fs.StringVar(&platform, "platform", v1alpha1.HostPlatform(), "with --print: the host's platform, linux/amd64 or linux/arm64")
	return cmd
}

// NewLeaveCommand returns `edgectl node leave NODE`.
func NewLeaveCommand(deps cmdutil.Deps) *cobra.Command {
	opts := cluster.LeaveOptions{}
	cmd := &cobra.Command{
		Use:   "leave NODE [-c CLUSTER] [-i KEY]",
		Short: "Remove a joined host from its cluster and clean the host",
		Long: `Drain a node that joined with ` + "`edgectl node join`" + `, remove edgelet and everything
it made from the host over SSH (units, processes, data, pod mounts, network
interfaces, packet-filter rules), check that nothing is left, and delete the Node.
The host is reached as it was joined (the Node's edgectl.io/ssh annotation).`,
		Example: `  edgectl node leave pi-7
  edgectl node leave pi-7 -i ~/.ssh/id_ed25519
  edgectl node leave pi-7 --force   # the board is gone: delete the Node anyway`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Node = args[0]
			opts.KeyFile = cmdutil.ExpandHome(opts.KeyFile)
			p, err := cluster.NewProvider(deps.Logger())
			if err != nil {
				return err
			}
			if err := p.LeaveNode(cmd.Context(), opts); err != nil {
				return fmt.Errorf("leave %q: %w", opts.Node, err)
			}
			fmt.Fprintf(deps.Streams.ErrOut, "Node %q left; its host is clean\n", opts.Node)
			return nil
		},
	}
	cmd.Flags().StringVarP(&opts.Cluster, "cluster", "c", "", "cluster of the node (default: the one that has it)")
	cmd.Flags().StringVarP(&opts.KeyFile, "identity", "i", "", "SSH private key (default: ssh-agent, then ~/.ssh/id_*)")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "delete the Node even when its host cannot be reached or cleaned")
	return cmd
}
