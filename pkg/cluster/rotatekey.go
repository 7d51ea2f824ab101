package cluster

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/edgectl/edgectl/internal/cli"
	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/pkg/edgelet/secrets"
)

// RotateKey encrypts the Secrets of cluster with a new key on every server.
// Each step runs on every server, each restarted in turn, before the next
// step starts, so that no server ever writes with a key another cannot read:
// prepare (the new key reads), promote (it writes), rewrite (every Secret
// is stored again, once), drop (the old keys go). Every step is idempotent,
// so running RotateKey again after a failure finishes the job with a new
// key. It returns the new key's name.
func (p *Provider) RotateKey(ctx context.Context, cluster string) (name string, err error) {
	servers, _, err := p.allRunning(ctx, cluster, "key")
	if err != nil {
		return "", err
	}
	key, err := secrets.NewKey(time.Now())
	if err != nil {
		return "", err
	}
	status := cli.NewStatus(p.logger.Writer())
	defer func() { status.End(err == nil) }()
	// each runs `edgelet secrets-encrypt ARGS` on every server in turn.
	each := func(what string, stdin string, args ...string) error {
		for _, s := range servers {
			status.Start(fmt.Sprintf("%s on %s", what, s))
			var in io.Reader
			if stdin != "" {
				in = strings.NewReader(stdin)
			}
			if _, err := p.run(ctx, s, in, append([]string{"edgelet", "secrets-encrypt"}, args...)...); err != nil {
				return err
			}
		}
		return nil
	}
	if err := each("Adding key "+key.Name+" as a reading key", key.Name+" "+key.Secret, "prepare"); err != nil {
		return "", err
	}
	if err := each("Making "+key.Name+" the writing key", "", "promote", key.Name); err != nil {
		return "", err
	}
	status.Start("Storing every Secret again under " + key.Name)
	if _, err := p.run(ctx, servers[0], nil, "edgelet", "secrets-encrypt", "rewrite"); err != nil {
		return "", err
	}
	if err := each("Dropping the old keys", "", "drop"); err != nil {
		return "", err
	}
	return key.Name, nil
}

// allRunning returns the cluster's servers and agents, or an error when one
// is not running: every one of them must take the new what.
func (p *Provider) allRunning(ctx context.Context, cluster, what string) (servers, agents []string, err error) {
	nodes, err := p.Nodes(ctx, cluster)
	if err != nil {
		return nil, nil, err
	}
	for _, n := range nodes {
		if n.Role != RoleServer && n.Role != RoleAgent {
			continue
		}
		if n.State != "running" {
			return nil, nil, edgeerrors.New(edgeerrors.KindGeneric,
				fmt.Sprintf("start it (`edgectl cluster start %s`) or delete it (`edgectl node delete %s`) first", cluster, n.Name),
				"%s %s is %s: every node must take the new %s", n.Role, n.Name, n.State, what)
		}
		if n.Role == RoleServer {
			servers = append(servers, n.Name)
		} else {
			agents = append(agents, n.Name)
		}
	}
	if len(servers) == 0 {
		return nil, nil, edgeerrors.New(edgeerrors.KindNotFound, "`edgectl cluster list` shows the clusters", "no cluster %q", cluster)
	}
	return servers, agents, nil
}
