package cluster

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"github.com/edgectl/edgectl/pkg/edgelet/token"
)

// TokenOptions control CreateToken.
type TokenOptions struct {
	Cluster     string
	TTL         time.Duration // 0: never expires
	Uses        int           // 0: any number of nodes
	Description string
}

// CreateToken makes a join token of the cluster that expires after TTL and
// joins at most Uses nodes (edgelet's approver counts them), and returns it
// in full (it pins the cluster CA).
func (p *Provider) CreateToken(ctx context.Context, opts TokenOptions) (string, error) {
	if opts.TTL < 0 || opts.Uses < 0 {
		return "", edgeerrors.New(edgeerrors.KindInvalidConfig, "e.g. --ttl 1h --uses 1", "--ttl %s and --uses %d: neither may be negative", opts.TTL, opts.Uses)
	}
	cluster, err := p.joinToken(ctx, opts.Cluster)
	if err != nil {
		return "", err
	}
	own, err := token.Parse(cluster)
	if err != nil {
		return "", err
	}
	client, err := p.adminClient(ctx, opts.Cluster)
	if err != nil {
		return "", err
	}
	t := token.Random()
	t.CAHash = own.CAHash
	var expires time.Time
	if opts.TTL > 0 {
		expires = time.Now().Add(opts.TTL)
	}
	data, labels, annotations := token.CountedSecret(t, opts.Description, expires, opts.Uses)
	_, err = client.CoreV1().Secrets("kube-system").Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: token.SecretPrefix + t.ID, Namespace: "kube-system", Labels: labels, Annotations: annotations},
		Type:       corev1.SecretTypeBootstrapToken,
		StringData: data,
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("create token: %w", err)
	}
	return t.String(), nil
}

// Tokens lists the cluster's bootstrap tokens, its own first.
func (p *Provider) Tokens(ctx context.Context, cluster string) ([]token.Info, error) {
	client, err := p.adminClient(ctx, cluster)
	if err != nil {
		return nil, err
	}
	list, err := client.CoreV1().Secrets("kube-system").List(ctx, metav1.ListOptions{FieldSelector: "type=" + string(corev1.SecretTypeBootstrapToken)})
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	var out []token.Info
	for _, s := range list.Items {
		if info, err := token.InfoFrom(s.Data, s.Annotations); err == nil {
			out = append(out, info)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Counted != out[j].Counted {
			return !out[i].Counted
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// DeleteTokens deletes counted tokens by id. The cluster's own token cannot
// be deleted: every server makes it again when it starts.
func (p *Provider) DeleteTokens(ctx context.Context, cluster string, ids []string) error {
	client, err := p.adminClient(ctx, cluster)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		secrets := client.CoreV1().Secrets("kube-system")
		s, err := secrets.Get(ctx, token.SecretPrefix+id, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			errs = append(errs, edgeerrors.New(edgeerrors.KindNotFound, fmt.Sprintf("`edgectl token list -c %s` lists them", cluster), "no token %q in cluster %q", id, cluster))
			continue
		}
		if err == nil && s.Labels[token.LabelCounted] != "true" {
			err = edgeerrors.New(edgeerrors.KindInvalidConfig, "", "token %s is the cluster's own (container nodes and promoted hosts join with it): it cannot be deleted", id)
		}
		if err == nil {
			err = secrets.Delete(ctx, s.Name, metav1.DeleteOptions{})
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("delete token %s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

// checkJoinToken refuses, before a host is touched, a token that the cluster
// does not know, that expired, or that was used up, and says which.
func (p *Provider) checkJoinToken(ctx context.Context, cluster, own, full string) error {
	t, err := token.Parse(full)
	if err != nil {
		return edgeerrors.Wrap(edgeerrors.KindInvalidConfig, fmt.Sprintf("make one with `edgectl token create -c %s`", cluster), err)
	}
	if o, err := token.Parse(own); err == nil && o.CAHash != t.CAHash {
		return edgeerrors.New(edgeerrors.KindInvalidConfig, fmt.Sprintf("make one with `edgectl token create -c %s`; nothing was installed", cluster),
			"token %s pins another CA than cluster %q's: it is a token of another cluster, or of an earlier one of this name", t.ID, cluster)
	}
	client, err := p.adminClient(ctx, cluster)
	if err != nil {
		return err
	}
	s, err := client.CoreV1().Secrets("kube-system").Get(ctx, token.SecretPrefix+t.ID, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return edgeerrors.New(edgeerrors.KindInvalidConfig, fmt.Sprintf("make another with `edgectl token create -c %s`; nothing was installed", cluster),
			"token %s is not a token of cluster %q: it was deleted, or expired over an hour ago", t.ID, cluster)
	}
	if err != nil {
		return fmt.Errorf("read token %s: %w", t.ID, err)
	}
	info, err := token.InfoFrom(s.Data, s.Annotations)
	if err == nil {
		err = info.Refusal(time.Now())
	}
	if err == nil && string(s.Data["token-secret"]) != t.Secret {
		err = fmt.Errorf("%w: token %s has another secret in cluster %q", token.ErrRefused, t.ID, cluster)
	}
	if err != nil {
		return edgeerrors.Wrap(edgeerrors.KindInvalidConfig, fmt.Sprintf("make another with `edgectl token create -c %s`; nothing was installed", cluster), err)
	}
	return nil
}

// adminClient is an admin client of the cluster, through its API on this host.
func (p *Provider) adminClient(ctx context.Context, cluster string) (kubernetes.Interface, error) {
	kc, err := p.hostKubeconfig(ctx, cluster)
	if err != nil {
		return nil, err
	}
	return clientFor(kc)
}
