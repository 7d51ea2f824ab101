package cluster

import (
	"context"
	"strings"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
)

// selectNodes returns running servers and agents: every one of cluster when
// only is empty, else the ones named. With a cluster, names may leave out the
// "edgectl-CLUSTER-" prefix; without one they are container names, looked up
// in every cluster.
func (p *Provider) selectNodes(ctx context.Context, cluster string, only []string) ([]Node, error) {
	var nodes []Node
	var err error
	if cluster != "" {
		nodes, err = p.existing(ctx, cluster)
	} else {
		nodes, err = p.Nodes(ctx, "")
	}
	if err != nil {
		return nil, err
	}
	byName := map[string]Node{}
	var selected []Node
	for _, n := range nodes {
		if n.Role == RoleServer || n.Role == RoleAgent {
			byName[n.Name] = n
			selected = append(selected, n)
		}
	}
	if len(only) > 0 {
		selected = nil
		for _, want := range only {
			if _, ok := byName[want]; !ok && cluster != "" && !strings.HasPrefix(want, "edgectl-") {
				want = "edgectl-" + cluster + "-" + want
			}
			n, ok := byName[want]
			if !ok {
				hint := "see `edgectl node list`"
				if cluster != "" {
					hint = "see `edgectl node list -c " + cluster + "`"
				}
				return nil, edgeerrors.New(edgeerrors.KindNotFound, hint, "no node %q", want)
			}
			selected = append(selected, n)
		}
	}
	for _, n := range selected {
		if n.State != "running" {
			return nil, edgeerrors.New(edgeerrors.KindGeneric, "run `edgectl cluster start "+n.Cluster+"`",
				"node %s is %s, not running", n.Name, n.State)
		}
	}
	return selected, nil
}
