package cluster

import (
	"context"
	"strings"
	"testing"

	"github.com/edgectl/edgectl/internal/log"
	"github.com/edgectl/edgectl/internal/runtime"
	"github.com/edgectl/edgectl/internal/runtime/fake"
)

// A server whose API is away for a moment (edgelet restarting) is waited for
// and asked again; a refusal is not retried.
func TestSecretsEncryptAsksAgainWhenTheAPIWasAway(t *testing.T) {
	ctx := context.Background()
	rt := fake.New(map[string]map[string]string{"node": {}})
	_ = rt.EnsureNetwork(ctx, "n", "10.1.0.0/24", "", nil)
	if err := rt.CreateNode(ctx, runtime.NodeSpec{Name: "s0", Image: "node", Network: "n"}); err != nil {
		t.Fatal(err)
	}
	var calls []string
	var answers []runtime.ExecResult
	rt.OnExec = func(r *fake.Runtime, name string, cmd []string, stdin string) (runtime.ExecResult, error) {
		calls = append(calls, strings.Join(cmd, " "))
		if cmd[0] == "edgelet" {
			res := answers[0]
			answers = answers[1:]
			return res, nil
		}
		return runtime.ExecResult{}, nil // kubectl get --raw /readyz: ok
	}
	p := NewProviderWithRuntime(rt, log.Discard())
	for _, away := range []string{
		`edgelet: list Secrets: Get "https://127.0.0.1:6443/api/v1/secrets": dial tcp 127.0.0.1:6443: connect: connection refused`,
		`edgelet: list Secrets: Get "https://127.0.0.1:6443/api/v1/secrets": net/http: request canceled (Client.Timeout exceeded while awaiting headers)`,
	} {
		calls = nil
		answers = []runtime.ExecResult{{ExitCode: 1, Stderr: away}, {ExitCode: 0}}
		if err := p.secretsEncrypt(ctx, "s0", "", "rewrite"); err != nil {
			t.Fatalf("secretsEncrypt after %q: %v", away, err)
		}
		if got := strings.Join(calls, "; "); got != "edgelet secrets-encrypt rewrite; kubectl get --raw /readyz; edgelet secrets-encrypt rewrite" {
			t.Errorf("calls after %q: %s", away, got)
		}
	}

	calls = nil
	answers = []runtime.ExecResult{{ExitCode: 1, Stderr: "edgelet: no key named key-1"}, {ExitCode: 0}}
	if err := p.secretsEncrypt(ctx, "s0", "", "promote", "key-1"); err == nil || len(calls) != 1 {
		t.Errorf("a refusal was asked again (%v): %v", calls, err)
	}
}
