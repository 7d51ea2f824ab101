package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgectl/edgectl/internal/log"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	"github.com/edgectl/edgectl/pkg/cluster"
)

// BenchmarkCluster measures create-to-usable (API ready through the LB, all
// nodes Ready, CoreDNS available), delete time, and the idle RSS of edgelet
// plus containerd in each node, on the real engine. Run it with
//
//	go test -run '^$' -bench Cluster -benchtime 1x ./tests/e2e/
//
// and record the figures in docs/benchmarks.md.
func BenchmarkCluster(b *testing.B) {
	for _, agents := range []int{0, 3} {
		b.Run(fmt.Sprintf("servers=1,agents=%d", agents), func(b *testing.B) {
			p, err := cluster.NewProvider(log.Discard())
			if err != nil {
				b.Fatal(err)
			}
			kubeconfig := filepath.Join(b.TempDir(), "kubeconfig")
			for i := 0; i < b.N; i++ {
				name := fmt.Sprintf("bench-%d", agents)
				ctx := context.Background()
				start := time.Now()
				err := p.Create(ctx, cluster.CreateOptions{Config: &v1alpha1.Cluster{Name: name, Agents: agents},
					Wait: 5 * time.Minute, Kubeconfig: kubeconfig})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(time.Since(start).Seconds(), "create-s")
				time.Sleep(30 * time.Second) // let the nodes settle to idle before reading RSS
				server, agent := rss(b, p, name)
				b.ReportMetric(server, "server-node-MB")
				if agents > 0 {
					b.ReportMetric(agent, "agent-node-MB")
				}
				start = time.Now()
				if err := p.Delete(ctx, name, kubeconfig); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(time.Since(start).Seconds(), "delete-s")
			}
		})
	}
}

// rss returns the resident memory (MB) of edgelet + containerd + shims in the
// first server and, averaged, in the agents.
func rss(b *testing.B, p *cluster.Provider, name string) (server, agent float64) {
	nodes, err := p.Nodes(context.Background(), name)
	if err != nil {
		b.Fatal(err)
	}
	var agentSum float64
	var agentN int
	for _, n := range nodes {
		if n.Role == "loadbalancer" {
			continue
		}
		res, err := p.Runtime().Exec(context.Background(), n.Name, []string{"ps", "-o", "rss=", "-C", "edgelet,containerd,containerd-shim-runc-v2"}, nil)
		if err != nil {
			b.Fatal(err)
		}
		var kb float64
		for _, f := range strings.Fields(res.Stdout) {
			v, _ := strconv.ParseFloat(f, 64)
			kb += v
		}
		mb := kb / 1024
		fmt.Fprintf(os.Stderr, "%s: %.0f MB (edgelet + containerd + shims)\n", n.Name, mb)
		if n.Role == "server" && server == 0 {
			server = mb
		} else if n.Role == "agent" {
			agentSum += mb
			agentN++
		}
	}
	if agentN > 0 {
		agent = agentSum / float64(agentN)
	}
	return server, agent
}
