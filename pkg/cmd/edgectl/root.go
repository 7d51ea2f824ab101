// Package edgectl is the edgectl command tree. Commands only turn flags into
// options for pkg/cluster and pkg/build; no logic lives here.
package edgectl

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/internal/log"
	benchcmd "github.com/edgectl/edgectl/pkg/cmd/edgectl/bench"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/bundle"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/ci"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/cluster/create"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/cluster/delete"
	clusterget "github.com/edgectl/edgectl/pkg/cmd/edgectl/cluster/get"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/cluster/list"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/cluster/rotatekey"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/cluster/rotatesecret"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/cluster/startstop"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/cmdutil"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/config/initcmd"
	exportlogs "github.com/edgectl/edgectl/pkg/cmd/edgectl/export/logs"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/image/build"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/image/distribute"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/image/imports"
	kubeconfigget "github.com/edgectl/edgectl/pkg/cmd/edgectl/kubeconfig/get"
	kubeconfigmerge "github.com/edgectl/edgectl/pkg/cmd/edgectl/kubeconfig/merge"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/netcmd"
	nodeadd "github.com/edgectl/edgectl/pkg/cmd/edgectl/node/add"
	nodedelete "github.com/edgectl/edgectl/pkg/cmd/edgectl/node/delete"
	nodejoin "github.com/edgectl/edgectl/pkg/cmd/edgectl/node/join"
	nodelist "github.com/edgectl/edgectl/pkg/cmd/edgectl/node/list"
	promotecmd "github.com/edgectl/edgectl/pkg/cmd/edgectl/promote"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/registry"
	tokencmd "github.com/edgectl/edgectl/pkg/cmd/edgectl/token"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/version"
)

// Main runs edgectl with the process's arguments and exits with the
// documented exit code of the error (docs/exit-codes.md).
func Main() {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sigs
		fmt.Fprintln(os.Stderr, "\nInterrupted: cleaning up. Press Ctrl-C again to exit at once.")
		cancel()
		<-sigs
		os.Exit(int(edgeerrors.KindInterrupted))
	}()
	streams := cmdutil.Streams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	err := Run(ctx, streams, os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "ERROR: %v\n", err)
		if hint := edgeerrors.Hint(err); hint != "" {
			fmt.Fprintf(os.Stderr, "  next: %s\n", hint)
		}
		code := edgeerrors.ExitCode(err)
		if ctx.Err() != nil {
			code = int(edgeerrors.KindInterrupted)
		}
		os.Exit(code)
	}
}

// Run executes edgectl in-process.
func Run(ctx context.Context, streams cmdutil.Streams, args []string) error {
	root := NewCommand(streams)
	root.SetArgs(args)
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	return root.ExecuteContext(ctx)
}

// NewCommand returns the root command.
func NewCommand(streams cmdutil.Streams) *cobra.Command {
	var verbosity int
	var quiet bool
	deps := cmdutil.Deps{Streams: streams}
	deps.Logger = func() *log.Logger { return log.New(streams.ErrOut, verbosity, quiet) }
	root := &cobra.Command{
		Use:   "edgectl",
		Short: "Kubernetes clusters of containers, shaped like edge sites",
		Long: `edgectl creates real multi-node Kubernetes clusters out of Docker containers,
running edgelet (upstream Kubernetes in one binary) on every node.

  edgectl image build                   # build the node image (offline)
  edgectl cluster create demo --agents 3
  kubectl --context edgectl-demo get nodes
  edgectl cluster delete demo`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().IntVarP(&verbosity, "verbosity", "v", 0, "log verbosity: 0 normal, 1 debug, 2+ trace")
	root.PersistentFlags().BoolVarP(&quiet, "quiet", "q", false, "print only errors")
	clusterCmd := &cobra.Command{Use: "cluster", Short: "Create, delete and list clusters"}
	clusterCmd.AddCommand(create.NewCommand(deps), delete.NewCommand(deps), list.NewCommand(deps), clusterget.NewCommand(deps),
		startstop.NewStartCommand(deps), startstop.NewStopCommand(deps), rotatekey.NewCommand(deps), rotatesecret.NewCommand(deps))
	nodeCmd := &cobra.Command{Use: "node", Short: "Manage the nodes of clusters"}
	nodeCmd.AddCommand(nodelist.NewCommand(deps), nodeadd.NewCommand(deps), nodedelete.NewCommand(deps), nodejoin.NewCommand(deps), nodejoin.NewLeaveCommand(deps))
	kubeconfigCmd := &cobra.Command{Use: "kubeconfig", Short: "Print or merge kubeconfigs"}
	kubeconfigCmd.AddCommand(kubeconfigget.NewCommand(deps), kubeconfigmerge.NewCommand(deps))
	exportCmd := &cobra.Command{Use: "export", Short: "Export cluster data"}
	exportCmd.AddCommand(exportlogs.NewCommand(deps))
	imageCmd := &cobra.Command{Use: "image", Short: "Build, push and pull the node image; import images into clusters"}
	imageCmd.AddCommand(build.NewCommand(deps), distribute.NewPushCommand(deps), distribute.NewPullCommand(deps), imports.NewCommand(deps))
	configCmd := &cobra.Command{Use: "config", Short: "Cluster config files"}
	configCmd.AddCommand(initcmd.NewCommand(deps))
	root.AddCommand(clusterCmd, configCmd, nodeCmd, kubeconfigCmd, exportCmd, imageCmd, bundle.NewCommand(deps), netcmd.NewCommand(deps), registry.NewCommand(deps), ci.NewCommand(deps), promotecmd.NewCommand(deps), tokencmd.NewCommand(deps), benchcmd.NewCommand(deps), version.NewCommand(deps))
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return edgeerrors.Wrap(edgeerrors.KindInvalidConfig, fmt.Sprintf("see `%s --help`", c.CommandPath()), err)
	})
	return root
}
