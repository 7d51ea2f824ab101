package cluster

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

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
			if err := p.secretsEncrypt(ctx, s, stdin, args...); err != nil {
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
	if err := p.secretsEncrypt(ctx, servers[0], "", "rewrite"); err != nil {
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

// secretsEncrypt runs `edgelet secrets-encrypt ARGS` on server. A server
// whose API was away (edgelet restarting: after the step's own restart of
// another server, a controller manager that lost its lease under load
// restarts its whole edgelet) is waited for and asked again, up to three
// times: every step is idempotent.
func (p *Provider) secretsEncrypt(ctx context.Context, server, stdin string, args ...string) error {
	var err error
	for try := 1; ; try++ {
		var in io.Reader
		if stdin != "" {
			in = strings.NewReader(stdin)
		}
		_, err = p.run(ctx, server, in, append([]string{"edgelet", "secrets-encrypt"}, args...)...)
		if err == nil || try == 3 || ctx.Err() != nil || !apiAway(err) {
			return err
		}
		p.logger.Warnf("%v; waiting for the API of %s, then again", firstLine(err.Error()), server)
		if werr := p.waitServerAPI(ctx, server, 3*time.Minute); werr != nil {
			return fmt.Errorf("%w (and then: %v)", err, werr)
		}
	}
}

// apiAway says whether err is a server's API that did not answer, rather
// than a refusal.
func apiAway(err error) bool {
	for _, s := range []string{"connection refused", "unexpected EOF", "connection reset", "i/o timeout", "Client.Timeout exceeded", "TLS handshake timeout", "did not answer /readyz"} {
		if strings.Contains(err.Error(), s) {
			return true
		}
	}
	return false
}

// waitServerAPI waits, within timeout, for a server's own API server to
// answer /readyz.
func (p *Provider) waitServerAPI(ctx context.Context, server string, timeout time.Duration) error {
	return wait.PollUntilContextTimeout(ctx, 2*time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		_, err := p.run(ctx, server, nil, "kubectl", "get", "--raw", "/readyz")
		return err == nil, nil
	})
}
