package component

import (
	"context"
	"strings"
	"testing"
)

// The components are started from args edgelet builds; a bad one must fail
// with the component named, before anything runs.
func TestBadArgsNameTheComponent(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for name, run := range map[string]func(context.Context, []string) error{
		"kube-apiserver flags": APIServer,
		"kube-scheduler flags": Scheduler,
	} {
		err := run(ctx, []string{"--no-such-flag=1"})
		if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "no-such-flag") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := APIServer(ctx, []string{"--secure-port=-1"}); err == nil || !strings.Contains(err.Error(), "kube-apiserver options") {
		t.Errorf("an invalid option: %v", err)
	}
}
