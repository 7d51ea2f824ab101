// Package app is edgelet's command line: `edgelet server`, `edgelet agent`,
// `edgelet kubectl` and `edgelet version`. Built with the agentonly tag, it
// is the agent alone (server.go is left out).
package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/component-base/version"

	nodev1 "github.com/edgectl/edgectl/pkg/apis/node/v1alpha1"
	"github.com/edgectl/edgectl/pkg/edgelet/agent"
	"github.com/edgectl/edgectl/pkg/edgelet/config"
)

// exitBadToken is edgelet's exit code for a rejected join token
// (RestartPreventExitStatus in edgelet.service).
const exitBadToken = 3

// Main runs edgelet and exits.
func Main() {
	// `kubectl` and the kubectl symlink hand over to upstream kubectl, which
	// parses its own arguments.
	if filepath.Base(os.Args[0]) == "kubectl" {
		runKubectl()
	}
	if len(os.Args) > 1 && os.Args[1] == "kubectl" {
		os.Args = os.Args[1:]
		runKubectl()
	}
	if os.Getenv("GOGC") == "" {
		// A node is a small box: collect when the heap grows by half, not
		// by all of it. Measured on an idle server: -16 MB RSS (anonymous
		// memory 207 -> 191 MB), at a little more GC CPU. GOGC overrides.
		debug.SetGCPercent(50)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := newRoot().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "edgelet:", err)
		if errors.Is(err, agent.ErrToken) {
			// The unit does not restart on this code: the same token
			// would fail again.
			os.Exit(exitBadToken)
		}
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "edgelet",
		Short:         "A lightweight Kubernetes distribution for edge nodes",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newAgentCommand(), newVersionCommand(), newNetCommand())
	// The server's commands, unless this is the agent build.
	root.AddCommand(serverCommands()...)
	return root
}

func newAgentCommand() *cobra.Command {
	return newNodeCommand(nodev1.RoleAgent, "Run a worker node that joins a server",
		func(ctx context.Context, cfg *config.Server) error {
			if err := cfg.Complete(); err != nil {
				return err
			}
			if len(cfg.Agent.Servers) > 0 {
				local, err := agent.ServeServerProxy(ctx, append([]string{cfg.Agent.Server}, cfg.Agent.Servers...))
				if err != nil {
					return err
				}
				cfg.Agent.Server = local
			}
			creds, err := agent.Join(ctx, &cfg.Agent)
			if err != nil {
				return err
			}
			return agent.Run(ctx, &cfg.Agent, creds)
		})
}

// newNodeCommand is `edgelet server` or `edgelet agent`: the node config
// file, then the flags over it, defaulted and checked before anything runs.
func newNodeCommand(role, short string, run func(context.Context, *config.Server) error) *cobra.Command {
	flags := &nodev1.NodeConfig{}
	var configFile string
	cmd := &cobra.Command{
		Use:   role,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			nc, err := loadNodeConfig(configFile, role, cmd.Flags())
			if err != nil {
				return err
			}
			cfg, err := config.FromNode(nc)
			if err != nil {
				return err
			}
			return run(cmd.Context(), cfg)
		},
	}
	cmd.Flags().StringVarP(&configFile, "config", "c", nodev1.DefaultConfigPath, "node config file (kind NodeConfig); flags override it")
	// Defaults first, so that help shows them; only flags the user sets
	// reach the config.
	nodev1.SetDefaults(flags)
	flags.AddFlags(cmd.Flags())
	if role == nodev1.RoleAgent {
		for _, f := range nodev1.ServerOnlyFlags {
			_ = cmd.Flags().MarkHidden(f)
		}
	}
	return cmd
}

// loadNodeConfig reads the file strictly, applies the flags set on fs over
// it, fills the defaults and validates the result.
func loadNodeConfig(path, role string, fs *pflag.FlagSet) (*nodev1.NodeConfig, error) {
	nc, err := nodev1.Load(path)
	if err != nil {
		return nil, err
	}
	if nc.Role != "" && nc.Role != role {
		return nil, fmt.Errorf("node config %s: role %q, but this is `edgelet %s`", path, nc.Role, role)
	}
	nc.Role = role
	if err := nc.Override(fs); err != nil {
		return nil, err
	}
	nodev1.SetDefaults(nc)
	if err := nc.Validate(); err != nil {
		return nil, fmt.Errorf("node config %s: %w", path, err)
	}
	return nc, nil
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the edgelet and Kubernetes versions",
		Run: func(cmd *cobra.Command, _ []string) {
			v := version.Get()
			fmt.Fprintf(cmd.OutOrStdout(), "edgelet %s (kubernetes %s, %s, %s%s)\n", edgeletVersion, v.GitVersion, v.GoVersion, v.Platform, buildNote)
		},
	}
}
