package secrets

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestEnsureRenderAndRotateKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tls", ConfigFile)
	if err := Ensure(path); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("config mode %v %v", st, err)
	}
	keys, err := Keys(path)
	if err != nil || len(keys) != 1 || len(keys[0].Secret) != 44 {
		t.Fatalf("keys %v %v", keys, err)
	}
	if err := Ensure(path); err != nil {
		t.Fatal(err)
	}
	if again, _ := Keys(path); again[0] != keys[0] {
		t.Error("Ensure replaced an existing key")
	}
	next, _ := NewKey(time.Unix(100, 0))
	if err := Write(path, []Key{next, keys[0]}); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	text := string(data)
	if !strings.Contains(text, "secretbox") || strings.Index(text, "key-100") > strings.Index(text, keys[0].Name) ||
		strings.Index(text, "identity") < strings.Index(text, "secretbox") {
		t.Errorf("the new key must write, identity read last:\n%s", text)
	}
	if _, err := Render(nil); err == nil {
		t.Error("a config without keys")
	}
	_ = os.WriteFile(path, []byte("kind: EncryptionConfiguration\nresources: []\n"), 0o600)
	if _, err := Keys(path); err == nil {
		t.Error("a config without secretbox keys was read")
	}
}

func TestRotateRewritesEverySecret(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), ConfigFile)
	if err := Ensure(path); err != nil {
		t.Fatal(err)
	}
	old, _ := Keys(path)
	client := fake.NewSimpleClientset(
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "default"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: "kube-system"}})
	var during [][]Key
	restart := func(context.Context) error {
		keys, err := Keys(path)
		during = append(during, keys)
		return err
	}
	var log strings.Builder
	next, err := Rotate(ctx, path, client, restart, &log)
	if err != nil {
		t.Fatal(err)
	}
	if len(during) != 2 || len(during[0]) != 2 || during[0][0] != next || during[0][1] != old[0] || len(during[1]) != 1 || during[1][0] != next {
		t.Errorf("key sets at the restarts: %v", during)
	}
	var updates int
	for _, a := range client.Actions() {
		if a.GetVerb() == "update" {
			updates++
		}
	}
	if updates != 2 || !strings.Contains(log.String(), "Rewrote 2 Secret(s)") {
		t.Errorf("%d updates; log:\n%s", updates, log.String())
	}
}
