package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
)

// BenchmarkChartCI measures `edgectl ci chart` on the passing fixture chart
// (two values files: lint, two installs, waits, tests and uninstalls),
// cluster create and delete included; every run must pass, so
//
//	go test -run '^$' -bench ChartCI/ci-chart -benchtime 20x -timeout 60m ./tests/e2e/
//
// is the 20-run soak (make test-chart-soak). helm-on-existing-cluster is the
// same stages with the helm CLI against a cluster that already runs.
func BenchmarkChartCI(b *testing.B) {
	e := setup(b)
	bin := goBinary(b, "./cmd/edgectl", "edgectl")
	chart := goodChart(b, b.TempDir(), "e2e-bench", "0.1.0")
	b.Run("ci-chart", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			start := time.Now()
			out, err := exec.Command(bin, "ci", "chart", chart, "--wait", "2m").CombinedOutput()
			if err != nil {
				b.Fatalf("run %d of %d: exit %d:\n%s", i+1, b.N, exitCode(err), out)
			}
			b.ReportMetric(time.Since(start).Seconds(), "s/run")
		}
	})
	b.Run("helm-on-existing-cluster", func(b *testing.B) {
		e.create(b, &v1alpha1.Cluster{Name: "e2e-bench-helm"})
		helm := e.helm(b)
		for i := 0; i < b.N; i++ {
			start := time.Now()
			// A namespace per install, as ci chart does: a Service made again
			// under the same name gets a new ClusterIP, and CoreDNS may
			// answer with the old one for up to its TTL (5 s).
			for j, values := range []string{"one", "two"} {
				ns := fmt.Sprintf("bench-%d-%d", i, j)
				args := []string{"install", "app", chart, "-n", ns, "--create-namespace", "--wait", "--wait-for-jobs",
					"--timeout", "2m", "-f", filepath.Join(chart, "ci", values+"-values.yaml")}
				for _, cmd := range [][]string{{"lint", chart}, args, {"test", "app", "-n", ns},
					{"uninstall", "app", "-n", ns, "--wait"}} {
					if out, err := helm(cmd...); err != nil {
						b.Fatalf("helm %v: %v\n%s", cmd, err, out)
					}
				}
			}
			b.ReportMetric(time.Since(start).Seconds(), "s/run")
		}
	})
}
