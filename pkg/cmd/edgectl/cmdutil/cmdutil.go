// Package cmdutil holds what every edgectl command shares: IO streams, the
// logger, and output formatting.
package cmdutil

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/internal/log"
	"github.com/edgectl/edgectl/pkg/cluster"
)

// Streams are the command's standard streams.
type Streams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// Deps is what commands receive from the root.
type Deps struct {
	Streams Streams
	// Logger is created after flags are parsed (-v, -q).
	Logger func() *log.Logger
}

// PrintJSON writes v as indented JSON to w.
func PrintJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// RequireCluster refuses an empty --cluster (-c).
func RequireCluster(name string) error {
	if name == "" {
		return edgeerrors.New(edgeerrors.KindInvalidConfig, "", "--cluster (-c) is required")
	}
	return nil
}

// CheckOutput validates an -o value.
func CheckOutput(o string) error {
	if o != "" && o != "json" && o != "table" {
		return edgeerrors.New(edgeerrors.KindInvalidConfig, "", "-o %q: must be table or json", o)
	}
	return nil
}

// PrintNodes writes nodes as a table.
func PrintNodes(w io.Writer, nodes []cluster.Node) error {
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tIP\tSTATE\tPLATFORM\tCLUSTER")
	for _, n := range nodes {
		platform := n.Platform
		if platform == "" {
			platform = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", n.Name, n.Role, n.IP, n.State, platform, n.Cluster)
	}
	return tw.Flush()
}

// Nodes checks the -o value and lists the node containers of a cluster ("" =
// every cluster): the shared start of the list and get commands.
func Nodes(ctx context.Context, deps Deps, name, output string) ([]cluster.Node, error) {
	if err := CheckOutput(output); err != nil {
		return nil, err
	}
	p, err := cluster.NewProvider(deps.Logger())
	if err != nil {
		return nil, err
	}
	return p.Nodes(ctx, name)
}

// ParseLabels turns key=value flags into a map; a bad one is exit 2.
func ParseLabels(flags []string) (map[string]string, error) {
	if len(flags) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, f := range flags {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			return nil, edgeerrors.New(edgeerrors.KindInvalidConfig, "", "label %q: must be key=value", f)
		}
		out[k] = v
	}
	return out, nil
}

// PrintFrom writes what get returns for the cluster to stdout: the shared
// body of the commands that print one document (kubeconfig, spec).
func PrintFrom(ctx context.Context, deps Deps, get func(context.Context, *cluster.Provider) ([]byte, error)) error {
	p, err := cluster.NewProvider(deps.Logger())
	if err != nil {
		return err
	}
	data, err := get(ctx, p)
	if err != nil {
		return err
	}
	_, err = deps.Streams.Out.Write(data)
	return err
}

// ExpandHome expands a leading ~/ to the user's home directory.
func ExpandHome(path string) string {
	if rest, ok := strings.CutPrefix(path, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return path
}
