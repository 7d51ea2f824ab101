// Package list is `edgectl cluster list`.
package list

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/edgectl/edgectl/pkg/cluster"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/cmdutil"
)

// Summary is one row of `cluster list`.
type Summary struct {
	Name    string         `json:"name"`
	Servers string         `json:"servers"`
	Agents  string         `json:"agents"`
	Nodes   []cluster.Node `json:"nodes"`
}

// NewCommand returns `edgectl cluster list`.
func NewCommand(deps cmdutil.Deps) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List clusters",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			nodes, err := cmdutil.Nodes(cmd.Context(), deps, "", output)
			if err != nil {
				return err
			}
			var rows []*Summary
			byName := map[string]*Summary{}
			count := map[string][2]int{} // running, total per cluster/role
			for _, n := range nodes {
				s := byName[n.Cluster]
				if s == nil {
					s = &Summary{Name: n.Cluster, Nodes: []cluster.Node{}}
					byName[n.Cluster] = s
					rows = append(rows, s)
				}
				s.Nodes = append(s.Nodes, n)
				key := n.Cluster + "/" + n.Role
				c := count[key]
				c[1]++
				if n.State == "running" {
					c[0]++
				}
				count[key] = c
			}
			for _, s := range rows {
				sv, ag := count[s.Name+"/server"], count[s.Name+"/agent"]
				s.Servers = fmt.Sprintf("%d/%d", sv[0], sv[1])
				s.Agents = fmt.Sprintf("%d/%d", ag[0], ag[1])
			}
			if output == "json" {
				if rows == nil {
					rows = []*Summary{}
				}
				return cmdutil.PrintJSON(deps.Streams.Out, rows)
			}
			tw := tabwriter.NewWriter(deps.Streams.Out, 0, 4, 3, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSERVERS\tAGENTS\tCONTEXT")
			for _, s := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Name, s.Servers, s.Agents, cluster.Context(s.Name))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: table or json")
	return cmd
}
