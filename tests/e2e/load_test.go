package e2e

import (
	"context"
	"fmt"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
)

// BenchmarkAPILoad drives the API of a real cluster with 50 clients at once,
// each creating, reading and deleting ConfigMaps (every second one is kept),
// for EDGECTL_LOAD_DURATION (2m by default), with each datastore: SQLite,
// embedded etcd (3 servers) and PostgreSQL. It reports the throughput and
// the p50 and p99 latency. Then the server container is killed (SIGKILL)
// and started again: every ConfigMap whose create was acknowledged and that
// was not deleted must be there. Run it with
//
//	go test -run '^$' -bench APILoad -benchtime 1x -timeout 60m ./tests/e2e/
//
// and record the figures in docs/benchmarks.md.
func BenchmarkAPILoad(b *testing.B) {
	duration := 2 * time.Minute
	if d, err := time.ParseDuration(os.Getenv("EDGECTL_LOAD_DURATION")); err == nil {
		duration = d
	}
	for _, store := range []string{"sqlite", "etcd", "postgres"} {
		b.Run("datastore="+store, func(b *testing.B) {
			e := setup(b)
			name := prefix + "bench-load-" + store // swept by TestMain if a run is killed
			cfg := &v1alpha1.Cluster{Name: name}
			switch store {
			case "etcd":
				cfg.Servers = 3
			case "postgres":
				port := freeHostPort(b)
				cfg.Network.Subnet = "10.89.251.0/24"
				startPostgres(b, port, cfg.Network.Subnet)
				cfg.ServerArgs = []string{fmt.Sprintf("datastore-endpoint=postgres://postgres@10.89.251.1:%d/kubernetes?sslmode=disable", port)}
			}
			e.create(b, cfg)
			// Without client-go's default rate limit (5 requests/s),
			// which would measure the client, not the server.
			client := e.clientWith(b, name, func(c *rest.Config) { c.QPS, c.Burst = -1, 0 })
			for i := 0; i < b.N; i++ {
				res := runLoad(b, client, 50, duration)
				b.ReportMetric(float64(res.ops)/duration.Seconds(), "ops/s")
				b.ReportMetric(res.quantile(0.50).Seconds()*1000, "p50-ms")
				b.ReportMetric(res.quantile(0.99).Seconds()*1000, "p99-ms")
				if res.failed > 0 {
					b.Errorf("%d of %d requests failed; first: %v", res.failed, res.ops, res.firstErr)
				}
				checkDurable(b, e, client, name, res.kept)
			}
		})
	}
}

type loadResult struct {
	ops, failed int
	firstErr    error
	latencies   []time.Duration
	kept        []string // acknowledged and not deleted
}

func (r *loadResult) quantile(q float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	sort.Slice(r.latencies, func(i, j int) bool { return r.latencies[i] < r.latencies[j] })
	return r.latencies[int(q*float64(len(r.latencies)-1))]
}

// runLoad runs clients workers until d has passed.
func runLoad(b *testing.B, client kubernetes.Interface, clients int, d time.Duration) *loadResult {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cms := client.CoreV1().ConfigMaps("default")
	res := &loadResult{}
	var mu sync.Mutex
	record := func(start time.Time, err error) bool {
		mu.Lock()
		defer mu.Unlock()
		if ctx.Err() != nil {
			return false // cut off by the end of the run, not a failure
		}
		res.ops++
		res.latencies = append(res.latencies, time.Since(start))
		if err != nil {
			res.failed++
			if res.firstErr == nil {
				res.firstErr = err
			}
		}
		return err == nil
	}
	var wg sync.WaitGroup
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ctx.Err() == nil; n++ {
				name := fmt.Sprintf("load-%d-%d", w, n)
				start := time.Now()
				_, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"n": name}}, metav1.CreateOptions{})
				if !record(start, err) {
					continue
				}
				start = time.Now()
				_, err = cms.Get(ctx, name, metav1.GetOptions{})
				record(start, err)
				if n%2 == 0 {
					mu.Lock()
					res.kept = append(res.kept, name)
					mu.Unlock()
					continue
				}
				start = time.Now()
				record(start, cms.Delete(ctx, name, metav1.DeleteOptions{}))
			}
		}()
	}
	wg.Wait()
	b.Logf("%d requests in %s by %d clients, %d kept", res.ops, d, clients, len(res.kept))
	return res
}

// checkDurable kills the first server as a crash would, starts it again and
// checks that every kept ConfigMap is there.
func checkDurable(b *testing.B, e *env, client kubernetes.Interface, name string, kept []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	server := nodeName(name, "server", 0)
	if err := e.p.Runtime().Signal(ctx, server, "KILL"); err != nil {
		b.Fatal(err)
	}
	if err := e.p.Runtime().Start(ctx, server); err != nil {
		b.Fatal(err)
	}
	have := map[string]bool{}
	err := wait.PollUntilContextTimeout(ctx, time.Second, 4*time.Minute, true, func(ctx context.Context) (bool, error) {
		list, err := client.CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		for _, cm := range list.Items {
			have[cm.Name] = true
		}
		return true, nil
	})
	if err != nil {
		b.Fatalf("the API did not come back after SIGKILL of %s: %v", server, err)
	}
	missing := 0
	for _, n := range kept {
		if !have[n] {
			missing++
		}
	}
	switch {
	case len(kept) == 0:
		b.Errorf("the load kept no ConfigMap, so the SIGKILL of %s checked nothing", server)
	case missing > 0:
		b.Errorf("%d of %d acknowledged ConfigMaps are missing after SIGKILL of %s", missing, len(kept), server)
	default:
		b.Logf("after SIGKILL of %s: all %d acknowledged ConfigMaps are there", server, len(kept))
	}
}
