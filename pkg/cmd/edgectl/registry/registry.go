// Package registry is `edgectl registry create|list|delete|status`.
package registry

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/pkg/cluster"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/cmdutil"
	"github.com/edgectl/edgectl/pkg/registry"
)

// NewCommand returns `edgectl registry`.
func NewCommand(deps cmdutil.Deps) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "registry",
		Short: "Registries: one pull-through cache for every upstream, and a local registry to push to",
		Long: `A registry is one container that caches every upstream registry it is given
and holds a local registry to push to. It belongs to no cluster: clusters
created with --registry NAME pull through it by the images' unchanged names,
and deleting a cluster never deletes it or its cache.

  edgectl registry create cache --upstream docker.io=https://registry-1.docker.io \
      --upstream ghcr.io=https://ghcr.io --port 5001
  edgectl cluster create a --registry cache
  docker push localhost:5001/app:dev      # then image: localhost:5001/app:dev in a pod`,
	}
	cmd.AddCommand(createCommand(deps), listCommand(deps), deleteCommand(deps), statusCommand(deps), loadCommand(deps))
	return cmd
}

func manager(deps cmdutil.Deps) (*registry.Manager, *cluster.Provider, error) {
	p, err := cluster.NewProvider(deps.Logger())
	if err != nil {
		return nil, nil, err
	}
	return registry.NewManager(p.Runtime(), deps.Logger()), p, nil
}

func createCommand(deps cmdutil.Deps) *cobra.Command {
	var upstreams, cas, auths, networks []string
	var port int
	var output string
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a registry",
		Example: `  edgectl registry create cache --upstream docker.io=https://registry-1.docker.io --upstream quay.io=https://quay.io
  edgectl registry create cache --upstream ghcr.io=https://ghcr.io --upstream-auth ghcr.io=env:GHCR_AUTH
  edgectl registry create local --port 5002          # a push registry only`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cmdutil.CheckOutput(output); err != nil {
				return err
			}
			o := registry.CreateOptions{Name: args[0], Port: port, Networks: networks}
			for _, u := range upstreams {
				up, err := registry.ParseUpstream(u)
				if err != nil {
					return edgeerrors.Wrap(edgeerrors.KindInvalidConfig, "see `edgectl registry create --help`", err)
				}
				o.Upstreams = append(o.Upstreams, up)
			}
			if err := perHost(o.Upstreams, cas, "--upstream-ca", func(u *registry.Upstream, v string) { u.CAFile = v }); err != nil {
				return err
			}
			if err := perHost(o.Upstreams, auths, "--upstream-auth", func(u *registry.Upstream, v string) { u.Auth = v }); err != nil {
				return err
			}
			m, _, err := manager(deps)
			if err != nil {
				return err
			}
			r, err := m.Create(cmd.Context(), o)
			if err != nil {
				return err
			}
			if output == "json" {
				return cmdutil.PrintJSON(deps.Streams.Out, r)
			}
			fmt.Fprintf(deps.Streams.Out, "Registry %q is running.", r.Name)
			if r.Port != 0 {
				fmt.Fprintf(deps.Streams.Out, " Push to localhost:%d/IMAGE:TAG.", r.Port)
			}
			fmt.Fprintf(deps.Streams.Out, " Use it with:\n  edgectl cluster create NAME --registry %s\n", r.Name)
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&upstreams, "upstream", nil, "HOST=URL: cache images named HOST/... from URL, e.g. docker.io=https://registry-1.docker.io (repeatable)")
	cmd.Flags().StringArrayVar(&cas, "upstream-ca", nil, "HOST=FILE: a PEM CA bundle the upstream's certificate chains to (repeatable)")
	cmd.Flags().StringArrayVar(&auths, "upstream-auth", nil, "HOST=FILE or HOST=env:VAR holding USER:PASSWORD for the upstream; kept in the registry's 0600 config only (repeatable)")
	cmd.Flags().IntVar(&port, "port", 5001, "publish the local push registry on localhost:PORT (0: none)")
	cmd.Flags().StringArrayVar(&networks, "network", nil, "also join this engine network, where an upstream may live (repeatable)")
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: table or json")
	return cmd
}

// perHost applies HOST=VALUE flags to the upstream of that host.
func perHost(ups []registry.Upstream, flags []string, name string, set func(*registry.Upstream, string)) error {
	for _, f := range flags {
		host, v, ok := strings.Cut(f, "=")
		found := false
		for i := range ups {
			if ups[i].Host == host {
				set(&ups[i], v)
				found = true
			}
		}
		if !ok || v == "" || !found {
			return edgeerrors.New(edgeerrors.KindInvalidConfig, "give HOST=VALUE for a HOST that --upstream names", "%s %q: no upstream %q", name, f, host)
		}
	}
	return nil
}

func listCommand(deps cmdutil.Deps) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List registries and the clusters that use them",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cmdutil.CheckOutput(output); err != nil {
				return err
			}
			m, p, err := manager(deps)
			if err != nil {
				return err
			}
			rs, err := m.List(cmd.Context())
			if err != nil {
				return err
			}
			nets, err := p.ClusterNetworks(cmd.Context())
			if err != nil {
				return err
			}
			type row struct {
				registry.Registry
				Clusters []string `json:"clusters"`
			}
			rows := make([]row, 0, len(rs))
			for _, r := range rs {
				rows = append(rows, row{Registry: r, Clusters: r.Users(nets)})
			}
			if output == "json" {
				return cmdutil.PrintJSON(deps.Streams.Out, rows)
			}
			tw := tabwriter.NewWriter(deps.Streams.Out, 0, 4, 3, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSTATE\tLOCAL\tUPSTREAMS\tCLUSTERS")
			for _, r := range rows {
				local := "-"
				if r.Port != 0 {
					local = fmt.Sprintf("localhost:%d", r.Port)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Name, r.State, local, orDash(strings.Join(r.Upstreams, ",")), orDash(strings.Join(r.Clusters, ",")))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: table or json")
	return cmd
}

func deleteCommand(deps cmdutil.Deps) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "delete NAME...",
		Short: "Delete registries and their caches (refused while a cluster uses one, unless --force)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, p, err := manager(deps)
			if err != nil {
				return err
			}
			nets, err := p.ClusterNetworks(cmd.Context())
			if err != nil {
				return err
			}
			for _, name := range args {
				if err := m.Delete(cmd.Context(), name, force, nets); err != nil {
					return err
				}
				fmt.Fprintf(deps.Streams.Out, "Deleted registry %q and its cache\n", name)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "delete even while clusters use it")
	return cmd
}

func statusCommand(deps cmdutil.Deps) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "status NAME",
		Short: "Show a registry's upstreams: reachable, blob hits and misses, bytes cached",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cmdutil.CheckOutput(output); err != nil {
				return err
			}
			m, _, err := manager(deps)
			if err != nil {
				return err
			}
			st, err := m.Status(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if output == "json" {
				return cmdutil.PrintJSON(deps.Streams.Out, st)
			}
			fmt.Fprintf(deps.Streams.Out, "Registry %s: %s, local registry %d bytes\n", st.Name, st.State, st.LocalBytes)
			tw := tabwriter.NewWriter(deps.Streams.Out, 0, 4, 3, ' ', 0)
			fmt.Fprintln(tw, "UPSTREAM\tURL\tREACHABLE\tHITS\tMISSES\tBYTES CACHED")
			for _, u := range st.Upstreams {
				reach := "yes"
				if !u.Reachable {
					reach = "no: " + u.Error
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\n", u.Host, u.URL, reach, u.Hits, u.Misses, u.BytesCached)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: table or json")
	return cmd
}

func loadCommand(deps cmdutil.Deps) *cobra.Command {
	var archive string
	cmd := &cobra.Command{
		Use:   "load NAME IMAGE... | --archive FILE NAME",
		Short: "Push images from the engine (or a docker save archive) into a registry's caches or its local registry",
		Long: `Seed a registry, for a site that must run offline: an image named by one of
the registry's upstreams (docker.io/library/nginx:1.27) goes into that
upstream's cache, so nodes pull it by that name with the upstream out of reach;
an image named localhost:PORT/... goes into the local registry.`,
		Example: `  edgectl registry load cache nginx:1.27 ghcr.io/org/app:2.1
  docker save -o site.tar nginx:1.27 && edgectl registry load cache --archive site.tar`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (archive == "") == (len(args) == 1) {
				return edgeerrors.New(edgeerrors.KindInvalidConfig, "see `edgectl registry load --help`", "give IMAGE... or --archive FILE")
			}
			m, _, err := manager(deps)
			if err != nil {
				return err
			}
			var n int
			if archive != "" {
				n, err = m.LoadArchive(cmd.Context(), args[0], archive)
			} else {
				n, err = m.LoadFromEngine(cmd.Context(), args[0], args[1:])
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(deps.Streams.Out, "Loaded %d image(s) into registry %q\n", n, args[0])
			return nil
		},
	}
	cmd.Flags().StringVar(&archive, "archive", "", "a `docker save` archive to load instead of images from the engine")
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
