// Package token is `edgectl token create|list|delete`: the join tokens of a
// cluster, which boards use to join it.
package token

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/edgectl/edgectl/pkg/cluster"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/cmdutil"
)

// NewCommand returns `edgectl token`.
func NewCommand(deps cmdutil.Deps) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Join tokens: make, list and delete the tokens that boards join a cluster with",
		Long: `A join token lets a host join a cluster as an agent: it pins the cluster's CA
and carries a Kubernetes bootstrap token, which lets the host's kubelet ask for
its own client certificate and nothing more.

` + "`edgectl node join`" + ` makes a token for each join that joins that one node and
expires soon after; give --token to use one made here instead. A token made
with --uses N joins at most N nodes (edgelet counts them when it approves each
node's certificate); after --ttl the API server refuses it. Nodes that joined
keep running when their token expires or is deleted: they hold their own
certificates.

Container nodes and promoted hosts join with the cluster's own token, which
` + "`token list`" + ` shows first and which cannot be deleted.`,
	}
	cmd.AddCommand(createCommand(deps), listCommand(deps), deleteCommand(deps))
	return cmd
}

func createCommand(deps cmdutil.Deps) *cobra.Command {
	opts := cluster.TokenOptions{}
	cmd := &cobra.Command{
		Use:   "create -c CLUSTER [--ttl 24h] [--uses N] [--description TEXT]",
		Short: "Make a join token and print it",
		Example: `  edgectl token create -c edge --ttl 1h --uses 1
  edgectl node join -c edge --ssh pi@192.168.1.50 --token "$(edgectl token create -c edge --uses 1)"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cmdutil.RequireCluster(opts.Cluster); err != nil {
				return err
			}
			p, err := cluster.NewProvider(deps.Logger())
			if err != nil {
				return err
			}
			tok, err := p.CreateToken(cmd.Context(), opts)
			if err != nil {
				return fmt.Errorf("token create -c %s: %w", opts.Cluster, err)
			}
			fmt.Fprintln(deps.Streams.Out, tok)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&opts.Cluster, "cluster", "c", "", "cluster the token joins")
	fs.DurationVar(&opts.TTL, "ttl", 24*time.Hour, "how long the token is valid (0 = it never expires)")
	fs.IntVar(&opts.Uses, "uses", 0, "how many nodes it may join (0 = any number)")
	fs.StringVar(&opts.Description, "description", "", "what the token is for (shown by token list)")
	return cmd
}

func listCommand(deps cmdutil.Deps) *cobra.Command {
	var name, output string
	cmd := &cobra.Command{
		Use:     "list -c CLUSTER",
		Aliases: []string{"ls"},
		Short:   "List a cluster's join tokens: expiry, uses, the nodes that joined with each",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cmdutil.RequireCluster(name); err != nil {
				return err
			}
			if err := cmdutil.CheckOutput(output); err != nil {
				return err
			}
			p, err := cluster.NewProvider(deps.Logger())
			if err != nil {
				return err
			}
			tokens, err := p.Tokens(cmd.Context(), name)
			if err != nil {
				return fmt.Errorf("token list -c %s: %w", name, err)
			}
			if output == "json" {
				return cmdutil.PrintJSON(deps.Streams.Out, tokens)
			}
			now := time.Now()
			w := tabwriter.NewWriter(deps.Streams.Out, 0, 0, 3, ' ', 0)
			fmt.Fprintln(w, "ID\tSTATE\tEXPIRES\tUSES\tUSED BY\tDESCRIPTION")
			for _, t := range tokens {
				expires, uses, desc := "never", "any", t.Description
				if !t.Expires.IsZero() {
					expires = t.Expires.Local().Format(time.DateTime)
				}
				if t.Uses > 0 {
					uses = fmt.Sprintf("%d of %d", len(t.UsedBy), t.Uses)
				}
				if !t.Counted {
					desc = "the cluster's own (container nodes, promote)"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.State(now), expires, uses, orDash(strings.Join(t.UsedBy, ",")), desc)
			}
			return w.Flush()
		},
	}
	cmd.Flags().StringVarP(&name, "cluster", "c", "", "cluster whose tokens to list")
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: table or json")
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func deleteCommand(deps cmdutil.Deps) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:     "delete -c CLUSTER ID...",
		Aliases: []string{"rm"},
		Short:   "Delete join tokens: no host can join with them any more (nodes that joined keep running)",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cmdutil.RequireCluster(name); err != nil {
				return err
			}
			p, err := cluster.NewProvider(deps.Logger())
			if err != nil {
				return err
			}
			if err := p.DeleteTokens(cmd.Context(), name, args); err != nil {
				return fmt.Errorf("token delete -c %s: %w", name, err)
			}
			fmt.Fprintf(deps.Streams.ErrOut, "Deleted %s\n", strings.Join(args, ", "))
			return nil
		},
	}
	cmd.Flags().StringVarP(&name, "cluster", "c", "", "cluster of the tokens")
	return cmd
}
