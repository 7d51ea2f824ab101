// Package imports is `edgectl image import`.
package imports

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/edgectl/edgectl/pkg/cluster"
	"github.com/edgectl/edgectl/pkg/cmd/edgectl/cmdutil"
)

// NewCommand returns `edgectl image import IMAGE... -c CLUSTER`.
func NewCommand(deps cmdutil.Deps) *cobra.Command {
	var opts cluster.ImportOptions
	cmd := &cobra.Command{
		Use:   "import IMAGE... -c CLUSTER [--nodes NODE,...] | --archive FILE -c CLUSTER",
		Short: "Copy images from the container engine (or a tarball) into a cluster's nodes",
		Long: `Copy images into the containerd of every node of a cluster (or of the nodes
named by --nodes), so pods run them with no registry. This is how an image you
just built reaches the cluster: nodes never pull from the engine.

Pods should use the image's exact name and tag, with imagePullPolicy
IfNotPresent or Never (a :latest tag defaults to Always, which would try a
registry). --archive takes a tarball from ` + "`docker save`" + ` or an OCI layout tar.
A node added later does not have the image: import it again.`,
		Example: `  docker build -t myapp:dev .
  edgectl image import myapp:dev -c demo
  kubectl --context edgectl-demo create deployment myapp --image myapp:dev

  edgectl image import --archive images.tar -c demo --nodes agent-0,agent-1`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Images = args
			p, err := cluster.NewProvider(deps.Logger())
			if err != nil {
				return err
			}
			if err := p.ImportImages(cmd.Context(), opts); err != nil {
				return err
			}
			what := opts.Archive
			if what == "" {
				what = fmt.Sprint(len(args), " image(s)")
			}
			fmt.Fprintf(deps.Streams.ErrOut, "Imported %s into cluster %q\n", what, opts.Cluster)
			return nil
		},
	}
	cmd.Flags().StringVarP(&opts.Cluster, "cluster", "c", "", "cluster to import into")
	cmd.Flags().StringVar(&opts.Archive, "archive", "", "import this image tarball instead of images from the engine")
	cmd.Flags().StringSliceVar(&opts.Nodes, "nodes", nil, "only these nodes (default: every server and agent)")
	return cmd
}
