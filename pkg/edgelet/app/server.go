//go:build !agentonly

package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"k8s.io/component-base/cli"
	kubectlcmd "k8s.io/kubectl/pkg/cmd"
	kubectlutil "k8s.io/kubectl/pkg/cmd/util"

	nodev1 "github.com/edgectl/edgectl/pkg/apis/node/v1alpha1"
	"github.com/edgectl/edgectl/pkg/edgelet/config"
	"github.com/edgectl/edgectl/pkg/edgelet/server"
	"github.com/edgectl/edgectl/pkg/edgelet/snapshot"
)

// buildNote marks the agent build in `edgelet version`.
const buildNote = ""

// serverCommands are the commands of a server: left out of the agent build.
func serverCommands() []*cobra.Command {
	return []*cobra.Command{newServerCommand(), newSnapshotCommand(), newMemberCommand(), newSecretsCommand(),
		{Use: "kubectl", Short: "Run kubectl against this server", DisableFlagParsing: true}}
}

func runKubectl() {
	if os.Getenv("KUBECONFIG") == "" {
		if _, err := os.Stat(config.DefaultKubeconfig); err == nil {
			os.Setenv("KUBECONFIG", config.DefaultKubeconfig)
		}
	}
	if err := cli.RunNoErrOutput(kubectlcmd.NewDefaultKubectlCommand()); err != nil {
		kubectlutil.CheckErr(err) // prints the error the kubectl way and exits
	}
	os.Exit(0)
}

func newServerCommand() *cobra.Command {
	return newNodeCommand(nodev1.RoleServer, "Run a control-plane node (and its agent, unless --disable-agent)",
		func(ctx context.Context, cfg *config.Server) error { return server.Run(ctx, cfg) })
}

func newSnapshotCommand() *cobra.Command {
	var dataDir, dir, name string
	paths := func() snapshot.Paths { return snapshot.Paths{ServerDir: filepath.Join(dataDir, "server")} }
	cmd := &cobra.Command{
		Use:     "snapshot",
		Aliases: []string{"etcd-snapshot"},
		Short:   "Save, list and restore snapshots of the server's SQLite datastore",
	}
	cmd.PersistentFlags().StringVar(&dataDir, "data-dir", config.DefaultDataDir, "edgelet data directory")
	cmd.PersistentFlags().StringVar(&dir, "dir", "", "snapshot directory (default: DATA_DIR/server/db/snapshots)")
	save := &cobra.Command{
		Use:   "save",
		Short: "Write a consistent snapshot while the server runs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			file, err := snapshot.Save(cmd.Context(), paths(), dir, name)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), file)
			return nil
		},
	}
	save.Flags().StringVar(&name, "name", "", "snapshot name prefix (default: edgelet-snapshot-HOSTNAME)")
	list := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List snapshots",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			files, err := snapshot.List(paths(), dir)
			for _, f := range files {
				fmt.Fprintln(cmd.OutOrStdout(), f)
			}
			return err
		},
	}
	restore := &cobra.Command{
		Use:   "restore FILE",
		Short: "Replace the datastore with a snapshot (stop the server first)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := snapshot.Restore(paths(), args[0]); err != nil {
				return err
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "Restored; start the server (`systemctl start edgelet`).")
			return nil
		},
	}
	cmd.AddCommand(save, list, restore)
	return cmd
}
