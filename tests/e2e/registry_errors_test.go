package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgectl/edgectl/internal/runtime"
	"github.com/edgectl/edgectl/pkg/registry"
)

// TestRegistryErrors (issue 13): bad input gets a clear error, with the
// documented exit code, before anything is created, and leaves nothing.
func TestRegistryErrors(t *testing.T) {
	inLane(t, laneClusters)
	e := setup(t)
	bin := edgectlBinary(t)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	port := freeHostPort(t)
	run := func(args ...string) (string, int) {
		out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
		return string(out), exitCode(err)
	}
	// Not run(): its context ends before the cleanups run.
	t.Cleanup(func() { _ = exec.Command(bin, "registry", "delete", "e2e-err", "--force").Run() })
	if out, code := run("registry", "create", "e2e-err", "--port", strconv.Itoa(port)); code != 0 {
		t.Fatalf("create: %d %s", code, out)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"registry", "create", "e2e-err2", "--upstream", "docker.io"}, 2, "must be HOST=URL"},
		{[]string{"registry", "create", "e2e-err2", "--upstream", "docker.io=registry-1.docker.io"}, 2, "http(s)://"},
		{[]string{"registry", "create", "e2e-err2", "--port", strconv.Itoa(port)}, 7, "port " + strconv.Itoa(port)},
		{[]string{"registry", "create", "e2e-err", "--port", "0"}, 3, "already exists"},
		{[]string{"registry", "delete", "e2e-nosuch"}, 4, "not found"},
		{[]string{"cluster", "create", "e2e-noreg", "--registry", "nosuch", "--kubeconfig", kubeconfig}, 4, `registry "nosuch" not found`},
	} {
		out, code := run(tc.args...)
		if code != tc.code || !strings.Contains(out, tc.want) {
			t.Errorf("%s: exit %d, want %d with %q:\n%s", strings.Join(tc.args, " "), code, tc.code, tc.want, out)
		}
	}
	rt := e.p.Runtime()
	if cs, _ := rt.List(ctx, map[string]string{registry.LabelRegistry: "e2e-err2"}); len(cs) != 0 {
		t.Errorf("a refused registry left %v", cs)
	}
	if vs, _ := rt.ListVolumes(ctx, map[string]string{registry.LabelRegistry: "e2e-err2"}); len(vs) != 0 {
		t.Errorf("a refused registry left volumes %v", vs)
	}
	if cs, _ := rt.List(ctx, map[string]string{runtime.LabelCluster: "e2e-noreg"}); len(cs) != 0 {
		t.Errorf("a refused cluster left %v", cs)
	}
	if nets, _ := rt.ListNetworks(ctx, map[string]string{runtime.LabelCluster: "e2e-noreg"}); len(nets) != 0 {
		t.Errorf("a refused cluster left networks %v", nets)
	}
}
