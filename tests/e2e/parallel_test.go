package e2e

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgectl/edgectl/pkg/cluster"
)

// TestParallelCreates: four `edgectl cluster create` processes at once on
// one engine, as CI runners start jobs. Each gets a subnet and a kubeconfig
// context of its own and is usable; then four deletes at once leave nothing.
func TestParallelCreates(t *testing.T) {
	e := setup(t)
	bin := edgectlBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	names := []string{"e2e-par0", "e2e-par1", "e2e-par2", "e2e-par3"}
	run := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+e.kubeconfig)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	parallel := func(verb string, extra ...string) {
		t.Helper()
		var wg sync.WaitGroup
		for _, n := range names {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if out, err := run(append([]string{"cluster", verb, n}, extra...)...); err != nil {
					t.Errorf("cluster %s %s: %v\n%s", verb, n, err, out)
				}
			}()
		}
		wg.Wait()
	}
	t.Cleanup(func() {
		for _, n := range names {
			_, _ = run("cluster", "delete", n)
		}
	})
	start := time.Now()
	parallel("create", "--image", e.image, "--wait", "5m")
	t.Logf("%d creates at once: all usable after %s", len(names), time.Since(start).Round(100*time.Millisecond))
	subnets := map[string]string{}
	for _, n := range names {
		nodes := mustNodes(t, e, n)
		if len(nodes) != 2 {
			t.Errorf("%s has %d containers", n, len(nodes))
			continue
		}
		subnet := strings.Join(strings.Split(nodes[0].IP, ".")[:3], ".")
		if other, ok := subnets[subnet]; ok {
			t.Errorf("%s and %s share the subnet %s.0/24", n, other, subnet)
		}
		subnets[subnet] = n
		if _, err := e.client(t, n).Discovery().ServerVersion(); err != nil {
			t.Errorf("%s: API not usable through its own context: %v", n, err)
		}
	}
	start = time.Now()
	parallel("delete")
	t.Logf("%d deletes at once: %s", len(names), time.Since(start).Round(100*time.Millisecond))
	for _, n := range names {
		if objs := e.engineObjects(t, n); len(objs) > 0 {
			t.Errorf("delete of %s left %v", n, objs)
		}
	}
	// The creates wrote the contexts to this file, so it must be there.
	data, err := os.ReadFile(e.kubeconfig)
	if err != nil {
		t.Fatalf("the kubeconfig the creates wrote: %v", err)
	}
	for _, n := range names {
		if strings.Contains(string(data), cluster.Context(n)+"\n") {
			t.Errorf("context %s left in the kubeconfig", cluster.Context(n))
		}
	}
}
