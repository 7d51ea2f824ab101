// Package promote is `edgectl promote`: a cluster config on real hosts.
package promote

import (
	"errors"

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
	cmd.AddCommand(newPlanCommand(deps))
	return cmd
}

func newPlanCommand(deps cmdutil.Deps) *cobra.Command {
	var file, output string
	cmd := &cobra.Command{
		Use:   "plan -f FILE",
		Short: "Show what promote would do on each host; change nothing",
		Long: `Connect to every host of the config at once, run the join preflight on each
(architecture, OS, kernel, cgroups, kernel features, swap, clock, disk, memory,
ports, another Kubernetes), and print what an apply would do there: install, upgrade
to the bundle's edgelet version, or nothing. No file on any host is written.

The config is checked first, every problem at once: a hosts entry that matches no
node, a node without a host, two nodes on one address. A host that cannot be
reached, refuses the key or fails the preflight is named in the error.`,
		Example: `  edgectl promote plan -f cluster.yaml
  edgectl promote plan -f cluster.yaml -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cmdutil.CheckOutput(output); err != nil {
				return err
			}
			cfg, err := load(file, deps)
			if err != nil {
				return err
			}
			plan, err := promote.MakePlan(cmd.Context(), cfg)
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
	cmd.Flags().StringVarP(&file, "config", "f", "", "cluster config file with a hosts section (- for stdin)")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "table or json")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}

// load reads and checks a config for promote: defaults, the cluster's own
// checks and the hosts section's, all reported at once. Key files may
// start with ~/.
func load(file string, deps cmdutil.Deps) (*v1alpha1.Cluster, error) {
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
