package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// TestSecretsEncryptedAtRest: a Secret's value is in no file under the
// server's data dir (neither as is nor base64), the datastore files and the
// key are 0600, and Secrets survive a restart and a key rotation.
func TestSecretsEncryptedAtRest(t *testing.T) {
	inLane(t, laneClusters)
	e := setup(t)
	const name = "e2e-secrets"
	client, server, ctx := e.oneServer(t, name, 10*time.Minute)

	value := fmt.Sprintf("edgectl-plaintext-%d", time.Now().UnixNano())
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "at-rest", Namespace: "default"}, StringData: map[string]string{"password": value}}
	if _, err := client.CoreV1().Secrets("default").Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	absent := func(when string) {
		t.Helper()
		for _, needle := range []string{value, base64.StdEncoding.EncodeToString([]byte(value))} {
			res, err := e.p.Runtime().Exec(ctx, server, []string{"grep", "-r", "-a", "-l", "-F", needle, "/var/lib/edgelet"}, nil)
			if err != nil || res.ExitCode != 1 {
				t.Errorf("%s: the value is in %q (grep exit %d, %v)", when, res.Stdout, res.ExitCode, err)
			}
		}
	}
	absent("after create")
	modes := e.nodeExec(t, server, "sh", "-c", "stat -c '%a %n' /var/lib/edgelet/server/db/state.db* /var/lib/edgelet/server/tls/encryption-config.yaml")
	for _, line := range strings.Split(strings.TrimSpace(modes), "\n") {
		if !strings.HasPrefix(line, "600 ") {
			t.Errorf("mode: %s", line)
		}
	}
	if st := e.nodeExec(t, server, "edgelet", "secrets-encrypt", "status"); !strings.Contains(st, "Encryption: on") {
		t.Errorf("status:\n%s", st)
	}

	e.nodeExec(t, server, "systemctl", "restart", "edgelet")
	readBack(ctx, t, client, value, "after a restart")

	before := e.nodeExec(t, server, "edgelet", "secrets-encrypt", "status", "-o", "json")
	out := e.nodeExec(t, server, "edgelet", "secrets-encrypt", "rotate")
	after := e.nodeExec(t, server, "edgelet", "secrets-encrypt", "status", "-o", "json")
	if !strings.Contains(out, "Rotated") || before == after || !strings.Contains(after, `"keys":["key-`) || strings.Count(after, "key-") != 2 {
		t.Errorf("rotate: %s\nstatus before %s after %s", out, before, after)
	}
	readBack(ctx, t, client, value, "after a rotation")
	absent("after a rotation")
}

func readBack(ctx context.Context, t *testing.T, client kubernetes.Interface, value, when string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx, time.Second, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		s, err := client.CoreV1().Secrets("default").Get(ctx, "at-rest", metav1.GetOptions{})
		return err == nil && string(s.Data["password"]) == value, nil
	})
	if err != nil {
		t.Fatalf("%s: the Secret does not read back: %v", when, err)
	}
}
