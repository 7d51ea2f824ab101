//go:build !agentonly

package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/edgectl/edgectl/pkg/edgelet/config"
	"github.com/edgectl/edgectl/pkg/edgelet/etcd"
)

// newMemberCommand lists and removes the embedded etcd members of an HA
// control plane, through this server's own member.
func newMemberCommand() *cobra.Command {
	var dataDir string
	certs := func() etcd.Certs { return etcd.ClientCerts(filepath.Join(dataDir, "server", "tls")) }
	cmd := &cobra.Command{
		Use:     "member",
		Aliases: []string{"etcd-member"},
		Short:   "List and remove the embedded etcd members of HA servers",
	}
	cmd.PersistentFlags().StringVar(&dataDir, "data-dir", config.DefaultDataDir, "edgelet data directory")
	var output string
	list := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List the members",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			members, err := etcd.Members(cmd.Context(), certs())
			if err != nil {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(members)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tID\tPEER URL\tLEARNER")
			for _, m := range members {
				fmt.Fprintf(w, "%s\t%s\t%s\t%t\n", m.Name, m.ID, m.PeerURL, m.Learner)
			}
			return w.Flush()
		},
	}
	list.Flags().StringVarP(&output, "output", "o", "", "output format: json")
	var ignoreNotFound bool
	remove := &cobra.Command{
		Use:     "rm NAME",
		Aliases: []string{"remove"},
		Short:   "Remove a member (before its server goes away for good)",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			err := etcd.RemoveMember(cmd.Context(), certs(), args[0])
			if errors.Is(err, etcd.ErrNoMember) && ignoreNotFound {
				fmt.Fprintf(cmd.ErrOrStderr(), "etcd member %s is not in the cluster\n", args[0])
				return nil
			}
			if err == nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "removed etcd member %s\n", args[0])
			}
			return err
		},
	}
	remove.Flags().BoolVar(&ignoreNotFound, "ignore-not-found", false, "succeed when no member has this name")
	cmd.AddCommand(list, remove)
	return cmd
}
