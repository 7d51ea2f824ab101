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

// The HA steps: the new key reads first, then writes, then is alone; each
// step run twice changes nothing the second time.
func TestPreparePromoteDrop(t *testing.T) {
	path := filepath.Join(t.TempDir(), ConfigFile)
	if err := Ensure(path); err != nil {
		t.Fatal(err)
	}
	old, _ := Keys(path)
	next, _ := NewKey(time.Unix(200, 0))
	names := func() string {
		keys, err := Keys(path)
		if err != nil {
			t.Fatal(err)
		}
		var n []string
		for _, k := range keys {
			n = append(n, k.Name)
		}
		return strings.Join(n, ",")
	}
	steps := []struct {
		name string
		run  func() (bool, error)
		want string
	}{
		{"prepare", func() (bool, error) { return Prepare(path, next) }, old[0].Name + ",key-200"},
		{"promote", func() (bool, error) { return Promote(path, next.Name) }, "key-200," + old[0].Name},
		{"drop", func() (bool, error) { return Drop(path) }, "key-200"},
	}
	for _, s := range steps {
		for i, wantChanged := range []bool{true, false} {
			changed, err := s.run()
			if err != nil || changed != wantChanged {
				t.Fatalf("%s run %d: changed %v, %v", s.name, i+1, changed, err)
			}
			if got := names(); got != s.want {
				t.Fatalf("%s: keys %s, want %s", s.name, got, s.want)
			}
		}
	}
	if _, err := Promote(path, "key-missing"); err == nil || !strings.Contains(err.Error(), "prepare first") {
		t.Errorf("promote of a key never prepared: %v", err)
	}
	clash := Key{Name: next.Name, Secret: old[0].Secret}
	if _, err := Prepare(path, clash); err == nil {
		t.Error("prepare accepted a different key under a name already used")
	}
	if k, err := ParseKey(next.Name + " " + next.Secret + "\n"); err != nil || k != next {
		t.Errorf("ParseKey: %v %v", k, err)
	}
	for _, bad := range []string{"", "key-1", "key-1 c2hvcnQ=", "key-1 not-base64!"} {
		if _, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		}
	}
}
