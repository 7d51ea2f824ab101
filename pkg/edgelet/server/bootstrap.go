package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/edgectl/edgectl/pkg/edgelet/config"
	"github.com/edgectl/edgectl/pkg/edgelet/pki"
	"github.com/edgectl/edgectl/pkg/edgelet/token"
)

// bootstrapGroup is the extra group of the cluster's own bootstrap token.
const bootstrapGroup = token.ClusterGroup

// ensureJoin makes agents able to join: the bootstrap token Secret, the RBAC
// that lets a token holder request (and get auto-approved) a kubelet client
// certificate and nothing else, the public cluster-info ConfigMap with the CA,
// and the token file. It returns the full join token.
func ensureJoin(ctx context.Context, cfg *config.Server, client kubernetes.Interface, caPEM []byte) (token.Token, error) {
	secret := cfg.Token
	tokenFile := filepath.Join(cfg.ServerDir(), "token")
	if secret == "" {
		// No token given: reuse the one of an earlier start, or make one.
		if data, err := os.ReadFile(tokenFile); err == nil {
			if t, err := token.Parse(string(data)); err == nil {
				secret = t.Bootstrap()
			}
		}
		if secret == "" {
			s, err := randomSecret()
			if err != nil {
				return token.Token{}, err
			}
			secret = s
		}
	}
	t := token.FromSecret(secret)
	hash, err := pki.Hash(caPEM)
	if err != nil {
		return t, err
	}
	t.CAHash = hash
	objects := []func() error{
		func() error {
			return apply(ctx, client.CoreV1().Secrets("kube-system"), &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: "bootstrap-token-" + t.ID, Namespace: "kube-system"},
				Type:       corev1.SecretTypeBootstrapToken,
				StringData: map[string]string{
					"token-id": t.ID, "token-secret": t.Secret,
					"usage-bootstrap-authentication": "true",
					"auth-extra-groups":              bootstrapGroup,
					"description":                    "edgelet join token",
				},
			})
		},
		func() error {
			return apply(ctx, client.CoreV1().ConfigMaps("kube-public"), &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: "cluster-info", Namespace: "kube-public"},
				Data:       map[string]string{"ca.crt": string(caPEM)},
			})
		},
		func() error {
			return apply(ctx, client.RbacV1().Roles("kube-public"), &rbacv1.Role{
				ObjectMeta: metav1.ObjectMeta{Name: "edgelet:cluster-info-reader", Namespace: "kube-public"},
				Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"},
					ResourceNames: []string{"cluster-info"}, Verbs: []string{"get"}}},
			})
		},
		func() error {
			return apply(ctx, client.RbacV1().RoleBindings("kube-public"), &rbacv1.RoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: "edgelet:cluster-info-reader", Namespace: "kube-public"},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "edgelet:cluster-info-reader"},
				Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "system:anonymous"}},
			})
		},
	}
	bindings := map[string]string{
		// Token holders may create CSRs, and kube-controller-manager's
		// csrapproving controller approves their node client CSRs.
		"edgelet:node-bootstrapper": "system:node-bootstrapper",
		"edgelet:node-autoapprove":  "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
		"edgelet:node-autorenew":    "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
		"edgelet:node-proxier":      "system:node-proxier",
	}
	// Holders of counted tokens (edgectl token create, node join) may ask
	// for a node certificate too; edgelet's approver, not the controller
	// manager, approves it, and counts the use (approver.go).
	bindings["edgelet:node-bootstrapper-counted"] = "system:node-bootstrapper"
	for name, role := range bindings {
		group := bootstrapGroup
		switch name {
		case "edgelet:node-autorenew", "edgelet:node-proxier":
			// Agents run kube-proxy and their pod-network controller with the
			// node's own credentials.
			group = "system:nodes"
		case "edgelet:node-bootstrapper-counted":
			group = token.CountedGroup
		}
		objects = append(objects, func() error {
			return apply(ctx, client.RbacV1().ClusterRoleBindings(), &rbacv1.ClusterRoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: name},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
				Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: group}},
			})
		})
	}
	for _, f := range objects {
		if err := f(); err != nil {
			return t, fmt.Errorf("join objects: %w", err)
		}
	}
	return t, pki.WriteFileIfChanged(tokenFile, []byte(t.String()+"\n"), 0o600)
}

// client is the subset of a typed client that apply needs.
type client[T any] interface {
	Create(ctx context.Context, obj T, opts metav1.CreateOptions) (T, error)
	Update(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error)
}

// apply creates obj, or replaces it when it exists.
func apply[T any](ctx context.Context, c client[T], obj T) error {
	_, err := c.Create(ctx, obj, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		_, err = c.Update(ctx, obj, metav1.UpdateOptions{})
	}
	return err
}
