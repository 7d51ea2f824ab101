package server

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/edgectl/edgectl/pkg/edgelet/agent"
	"github.com/edgectl/edgectl/pkg/edgelet/secrets"
	"github.com/edgectl/edgectl/pkg/edgelet/token"
)

// The server bundle carries what every server of an HA cluster must share:
// the CAs with their keys and the service-account key. It is stored in a
// Secret that bootstrap-token holders may read, encrypted with a key derived
// from the servers' shared secret. Agents hold only the bootstrap token (a
// one-way hash of that secret), so they can fetch it but never decrypt it.
const bundleSecret = "edgelet-server-bootstrap"

// bundleFiles are the shared files, relative to the TLS directory.
var bundleFiles = []string{"ca.crt", "ca.key", "front-proxy-ca.crt", "front-proxy-ca.key",
	"service-account.key", "service-account.pub", "etcd-ca.crt", "etcd-ca.key", secrets.ConfigFile}

// bundleAEAD is AES-256-GCM keyed by a hash of the servers' secret.
func bundleAEAD(secret string) (cipher.AEAD, error) {
	key := sha256.Sum256([]byte("edgelet-server-bundle:" + secret))
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func seal(secret string, plain []byte) ([]byte, error) {
	gcm, err := bundleAEAD(secret)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return gcm.Seal(nonce, nonce, plain, nil), nil
}

func open(secret string, sealed []byte) ([]byte, error) {
	gcm, err := bundleAEAD(secret)
	if err != nil {
		return nil, err
	}
	if len(sealed) < gcm.NonceSize() {
		return nil, errors.New("server bundle too short")
	}
	plain, err := gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], nil)
	if err != nil {
		return nil, errors.New("cannot decrypt the server bundle: this server's --token is not the cluster's server secret")
	}
	return plain, nil
}

// storeBundle publishes the encrypted bundle and lets bootstrap-token holders read it.
func storeBundle(ctx context.Context, client kubernetes.Interface, tlsDir, secret string) error {
	files := map[string][]byte{}
	for _, f := range bundleFiles {
		data, err := os.ReadFile(filepath.Join(tlsDir, f))
		if err != nil {
			return err
		}
		files[f] = data
	}
	plain, err := json.Marshal(files)
	if err != nil {
		return err
	}
	sealed, err := seal(secret, plain)
	if err != nil {
		return err
	}
	if err := apply(ctx, client.CoreV1().Secrets("kube-system"), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: bundleSecret, Namespace: "kube-system"},
		Data:       map[string][]byte{"bundle": sealed},
	}); err != nil {
		return err
	}
	if err := apply(ctx, client.RbacV1().Roles("kube-system"), &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "edgelet:server-bundle-reader", Namespace: "kube-system"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"},
			ResourceNames: []string{bundleSecret}, Verbs: []string{"get"}}},
	}); err != nil {
		return err
	}
	return apply(ctx, client.RbacV1().RoleBindings("kube-system"), &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "edgelet:server-bundle-reader", Namespace: "kube-system"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "edgelet:server-bundle-reader"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: bootstrapGroup}},
	})
}

// fetchBundle downloads and decrypts the bundle from a running server and
// writes its files into tlsDir. The connection is not verified: the
// authenticated encryption proves the bundle came from a holder of secret,
// and the CA inside it is what this server trusts from then on.
func fetchBundle(ctx context.Context, server, secret, tlsDir string) error {
	url := server + "/api/v1/namespaces/kube-system/secrets/" + bundleSecret
	body, err := agent.FetchUnverified(ctx, url, token.FromSecret(secret).Bootstrap(), 90)
	if errors.Is(err, agent.ErrUnauthorized) {
		return fmt.Errorf("join server %s: the server rejects this --token: %w", server, err)
	}
	if err != nil {
		return fmt.Errorf("fetch the server bundle from %s: %w", server, err)
	}
	var s struct {
		Data map[string][]byte `json:"data"`
	}
	if err := json.Unmarshal(body, &s); err != nil {
		return err
	}
	plain, err := open(secret, s.Data["bundle"])
	if err != nil {
		return err
	}
	files := map[string][]byte{}
	if err := json.Unmarshal(plain, &files); err != nil {
		return err
	}
	if err := os.MkdirAll(tlsDir, 0o700); err != nil {
		return err
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(tlsDir, filepath.Base(name)), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}
