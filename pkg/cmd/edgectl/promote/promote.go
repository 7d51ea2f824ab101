// Package promote is `edgectl promote`: a cluster config on real hosts.
package promote

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/cmdutil"
	"github.com/edgectl/edgectl/pkg/promote"
)

// NewCommand returns `edgectl promote`.
func NewCommand(deps cmdutil.Deps) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "promote",
		Short: "Put a cluster config on real hosts over SSH (the file cluster create rehearses)",
		Long: `Promote installs the cluster of a config file on real hosts (boards, VMs,
servers) over SSH: the same file that ` + "`edgectl cluster create --config`" + ` runs in
containers, whose hosts section names the machine of each node.`,
	}
	cmd.AddCommand(newPlanCommand(deps), newApplyCommand(deps), newResetCommand(deps), newBundleCommand(deps))
	return cmd
}

func newPlanCommand(deps cmdutil.Deps) *cobra.Command {
	var (
		file, output string
		prune        bool
	)
	cmd := &cobra.Command{
		Use:   "plan -f FILE",
		Short: "Show what promote would do on each host; change nothing",
		Long: `Connect to every host of the config at once, run the join preflight on each
(architecture, OS, kernel, cgroups, kernel features, swap, clock, disk, memory,
ports, another Kubernetes), and print what an apply would do there: install, upgrade
to the bundle's edgelet version, rewrite node files that differ (config, role,
manifests), or nothing; and the agents of the cluster whose hosts the file no
longer has (apply --prune removes them). No file on any host is written.

The config is checked first, every problem at once: a hosts entry that matches no
node, a node without a host, two nodes on one address. A host that cannot be
reached, refuses the key or fails the preflight is named in the error.`,
		Example: `  edgectl promote plan -f cluster.yaml
  edgectl promote plan -f cluster.yaml -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load(file, output, deps)
			if err != nil {
				return err
			}
			plan, err := promote.MakePlan(cmd.Context(), cfg, prune)
			if plan != nil {
				if output == "json" {
					if err := cmdutil.PrintJSON(deps.Streams.Out, plan); err != nil {
						return err
					}
				} else {
					plan.Print(deps.Streams.Out)
				}
			}
			if err != nil {
				return edgeerrors.Wrap(edgeerrors.KindInvalidConfig, "fix the hosts named, or their entries in the file, and plan again", err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&prune, "prune", false, "count the agents whose hosts the file no longer has as changes (apply --prune removes them)")
	fileFlags(cmd, &file, &output)
	return cmd
}

func newApplyCommand(deps cmdutil.Deps) *cobra.Command {
	var (
		file, output, kubeconfig string
		noSwitch, prune          bool
		wait                     time.Duration
	)
	cmd := &cobra.Command{
		Use:   "apply -f FILE",
		Short: "Install or update the config's cluster on its hosts",
		Long: `Make the hosts of the config run its cluster, from the board bundles (built once
per edgectl source change into the build cache; the hosts download nothing).

First every host is planned, as ` + "`promote plan`" + ` does: a host that cannot be
reached, refuses the key or fails the preflight stops the apply before any host
is written to. Then the first server is installed or upgraded, then the other
servers one at a time, then the agents; a node whose edgelet version differs
from the bundle's is drained (as its PodDisruptionBudgets allow), upgraded,
and uncordoned before the next. A node whose files (config, role, manifests)
differ gets them and restarts. A host that already runs what the config says
is not written to: a re-apply with no change reports 0 changes. With --prune,
the agents whose hosts the file no longer has are drained and deleted, and
their hosts reset (reached with the file's key files).

The kubeconfig context edgectl-promote-NAME is written, and apply waits until
the cluster is usable. An apply that stopped half-way (a dropped connection) is
finished by running it again.`,
		Example: `  edgectl promote apply -f cluster.yaml
  edgectl promote apply -f cluster.yaml --wait 10m -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load(file, output, deps)
			if err != nil {
				return err
			}
			lg := deps.Logger()
			res, err := promote.Apply(cmd.Context(), cfg, promote.ApplyOptions{
				Kubeconfig: kubeconfig, SwitchContext: !noSwitch, Wait: wait, Prune: prune, Logger: lg,
			})
			if err != nil {
				if res != nil && res.Plan != nil && res.Context == "" && output != "json" {
					res.Plan.Print(deps.Streams.ErrOut)
				}
				var planned *edgeerrors.Error
				if errors.As(err, &planned) {
					return err // the plan refused: nothing was changed
				}
				kind := edgeerrors.KindGeneric
				if errors.Is(err, context.DeadlineExceeded) {
					kind = edgeerrors.KindTimeout
				}
				return edgeerrors.Wrap(kind, "fix what is named and apply again: an apply finishes what an earlier one started", err)
			}
			if output == "json" {
				return cmdutil.PrintJSON(deps.Streams.Out, res)
			}
			res.Plan.Print(deps.Streams.Out)
			fmt.Fprintf(deps.Streams.Out, "Applied %d change(s) in %s. kubectl --context %s get nodes\n", res.Plan.Changes, res.Duration.Round(time.Second/10), res.Context)
			return nil
		},
	}
	fileFlags(cmd, &file, &output)
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file to update (default: first of $KUBECONFIG, or ~/.kube/config)")
	cmd.Flags().BoolVar(&prune, "prune", false, "drain and delete the agents whose hosts the file no longer has, and reset those hosts")
	cmd.Flags().BoolVar(&noSwitch, "no-switch-context", false, "do not make the context current")
	cmd.Flags().DurationVar(&wait, "wait", 5*time.Minute, "how long to wait for each node, and for the cluster to be usable")
	return cmd
}

func newResetCommand(deps cmdutil.Deps) *cobra.Command {
	var (
		file, output, kubeconfig string
		hosts                    []string
		force                    bool
	)
	cmd := &cobra.Command{
		Use:   "reset -f FILE --force",
		Short: "Remove the config's cluster from its hosts, and its data",
		Long: `Remove the cluster's node from every host of the config, at once: edgelet
and its processes, the systemd unit, mounts, the node's data (the cluster's
state on the servers), network interfaces and packet-filter chains. The host's
own packages and rules are kept. What is left on a host is named.

This destroys the cluster and its data: pass --force. With --host, only the
named hosts are reset (their Nodes stay in the cluster until deleted).`,
		Example: `  edgectl promote reset -f cluster.yaml --force
  edgectl promote reset -f cluster.yaml --force --host agent:1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !force {
				return edgeerrors.New(edgeerrors.KindInvalidConfig, "pass --force to reset", "reset removes the cluster and its data from the hosts")
			}
			cfg, err := load(file, output, deps)
			if err != nil {
				return err
			}
			res, err := promote.Reset(cmd.Context(), cfg, hosts, kubeconfig)
			if output == "json" && res != nil {
				if jerr := cmdutil.PrintJSON(deps.Streams.Out, res); jerr != nil {
					return jerr
				}
			} else {
				for _, r := range res {
					if r.Error == "" && len(r.Left) == 0 {
						fmt.Fprintf(deps.Streams.Out, "%s (%s): reset, nothing left\n", r.Node, r.SSH)
					}
				}
			}
			if err != nil {
				return edgeerrors.Wrap(edgeerrors.KindInvalidConfig, "fix what is named and reset again", err)
			}
			return nil
		},
	}
	fileFlags(cmd, &file, &output)
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file to remove the context from (default: first of $KUBECONFIG, or ~/.kube/config)")
	cmd.Flags().StringSliceVar(&hosts, "host", nil, "reset only these hosts of the file (ROLE:INDEX, repeatable)")
	cmd.Flags().BoolVar(&force, "force", false, "confirm: the cluster and its data are removed")
	return cmd
}

func newBundleCommand(deps cmdutil.Deps) *cobra.Command {
	var file, dir string
	cmd := &cobra.Command{
		Use:   "bundle -f FILE -o DIR",
		Short: "Write an offline kit of the config's cluster, for hosts edgectl cannot reach",
		Long: `Write into DIR everything a site needs to install the config's cluster with no
SSH from this machine and no network access: the board bundle of each platform
and role the nodes need (nodes[].platform, agentPlatform), and per host a script,
ROLE-INDEX.sh, that installs the bundle beside it and writes the node's config,
token and role (a server's manifests too). README says the order: the first server,
the other servers, the agents.

The cluster's CA is made here, so the agents' join tokens pin it before any server
runs: the kit holds the CA key and the join secret. Keep it private. Nodes are
named after their hosts' hostnames, as apply names them; the agents reach the first
server at its hosts entry's address.`,
		Example: `  edgectl promote bundle -f cluster.yaml -o kit/
  # on each host, as root, in README's order:
  sh kit/server-0.sh`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load(file, "table", deps)
			if err != nil {
				return err
			}
			files, err := promote.Kit(cmd.Context(), cfg, dir, deps.Logger())
			if err != nil {
				return err
			}
			for _, f := range files {
				fmt.Fprintln(deps.Streams.Out, filepath.Join(dir, f.Path))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "config", "f", "", "cluster config file with a hosts section (- for stdin)")
	cmd.Flags().StringVarP(&dir, "output", "o", "", "directory to write the kit into (made if missing)")
	_ = cmd.MarkFlagRequired("config")
	_ = cmd.MarkFlagRequired("output")
	return cmd
}

// fileFlags are the flags every promote command has: -f and -o.
func fileFlags(cmd *cobra.Command, file, output *string) {
	cmd.Flags().StringVarP(file, "config", "f", "", "cluster config file with a hosts section (- for stdin)")
	cmd.Flags().StringVarP(output, "output", "o", "table", "table or json")
	_ = cmd.MarkFlagRequired("config")
}

// load checks the output format, and reads and checks a config for
// promote: defaults, the cluster's own checks and the hosts section's, all
// reported at once. Key files may start with ~/.
func load(file, output string, deps cmdutil.Deps) (*v1alpha1.Cluster, error) {
	if err := cmdutil.CheckOutput(output); err != nil {
		return nil, err
	}
	cfg, decodeErr := v1alpha1.Load(file, deps.Streams.In)
	if cfg == nil {
		return nil, edgeerrors.Wrap(edgeerrors.KindInvalidConfig, "see `edgectl config init` for the format", decodeErr)
	}
	v1alpha1.SetDefaults(cfg)
	if err := errors.Join(decodeErr, cfg.Validate(), cfg.ValidateHosts()); err != nil {
		return nil, edgeerrors.Wrap(edgeerrors.KindInvalidConfig, "", err)
	}
	for i := range cfg.Hosts {
		cfg.Hosts[i].KeyFile = cmdutil.ExpandHome(cfg.Hosts[i].KeyFile)
	}
	return cfg, nil
}
