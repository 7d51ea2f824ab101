package cluster

import (
	"context"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/edgectl/edgectl/internal/cli"
	nodev1 "github.com/edgectl/edgectl/pkg/apis/node/v1alpha1"
	"github.com/edgectl/edgectl/pkg/edgelet/token"
)

// RotateSecret gives the cluster a new server secret, and so a new cluster
// join token: each server in turn gets the secret and restarts, making the
// new bootstrap token (and, with etcd, storing the server bundle under the
// new secret); then the agents' token files get the new join token, and the
// old bootstrap token is deleted, so that nothing can join with it. Nodes
// that run are not joined again: each holds its own certificate. It returns
// the new join token's id.
func (p *Provider) RotateSecret(ctx context.Context, cluster string) (id string, err error) {
	servers, agents, err := p.allRunning(ctx, cluster, "secret")
	if err != nil {
		return "", err
	}
	old, err := p.serverSecret(ctx, servers[0])
	if err != nil {
		return "", err
	}
	secret, err := randomToken()
	if err != nil {
		return "", err
	}
	want := token.FromSecret(secret)
	status := cli.NewStatus(p.logger.Writer())
	defer func() { status.End(err == nil) }()
	for _, s := range servers {
		status.Start(fmt.Sprintf("Giving %s the new secret and restarting it", s))
		if _, err := p.run(ctx, s, strings.NewReader(secret+"\n"), "sh", "-c",
			"cat >"+nodev1.DefaultTokenFile+".new && chmod 600 "+nodev1.DefaultTokenFile+".new && mv "+nodev1.DefaultTokenFile+".new "+nodev1.DefaultTokenFile); err != nil {
			return "", err
		}
		if _, err := p.run(ctx, s, nil, "systemctl", "restart", "edgelet"); err != nil {
			return "", err
		}
		// The server writes its join token once the new bootstrap token
		// is in the cluster.
		var last string
		err := wait.PollUntilContextTimeout(ctx, time.Second, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
			out, err := p.run(ctx, s, nil, "cat", nodev1.ServerTokenPath(nodev1.DefaultDataDir))
			if err != nil {
				return false, nil
			}
			t, err := token.Parse(out)
			last = t.ID
			return err == nil && t.ID == want.ID, nil
		})
		if err != nil {
			return "", fmt.Errorf("%s did not make the new join token within 3m (its token is %q; `docker exec %s journalctl -u edgelet` says why): %w", s, last, s, err)
		}
	}
	full, err := p.joinToken(ctx, cluster)
	if err != nil {
		return "", err
	}
	for _, a := range agents {
		// Read only when an agent has to join again (its certificate lost).
		status.Start("Giving " + a + " the new join token")
		if _, err := p.run(ctx, a, strings.NewReader(full+"\n"), "sh", "-c", "cat >"+nodev1.DefaultTokenFile); err != nil {
			return "", err
		}
	}
	status.Start("Deleting the old bootstrap token")
	client, err := p.adminClient(ctx, cluster)
	if err != nil {
		return "", err
	}
	oldID := token.FromSecret(old).ID
	if oldID != want.ID {
		err = client.CoreV1().Secrets("kube-system").Delete(ctx, token.SecretPrefix+oldID, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return "", fmt.Errorf("delete the old bootstrap token %s: %w", oldID, err)
		}
	}
	return want.ID, nil
}
