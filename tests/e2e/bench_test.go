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
// nodes Ready, CoreDNS available), delete time, and the idle memory (RSS
// and PSS) of edgelet, containerd and the shims in each node, on the real
// engine. Run it with
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
				name := fmt.Sprintf("%sbench-%d", prefix, agents) // swept by TestMain if a run is killed
				ctx := context.Background()
				start := time.Now()
				err := p.Create(ctx, cluster.CreateOptions{Config: &v1alpha1.Cluster{Name: name, Agents: agents},
					Wait: 5 * time.Minute, Kubeconfig: kubeconfig})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(time.Since(start).Seconds(), "create-s")
				time.Sleep(30 * time.Second) // let the nodes settle to idle before reading RSS
				server, agent := memory(b, p, name)
				b.ReportMetric(server.RSS, "server-node-RSS-MB")
				b.ReportMetric(server.PSS, "server-node-PSS-MB")
				if agents > 0 {
					b.ReportMetric(agent.RSS, "agent-node-RSS-MB")
					b.ReportMetric(agent.PSS, "agent-node-PSS-MB")
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

// memScript prints "Rss N" and "Pss N" (kB) of every edgelet, containerd
// and shim process of a node. comm is cut at 15 characters, so the shim
// is "containerd-shim".
const memScript = `for p in $(pgrep -x edgelet) $(pgrep -x containerd) $(pgrep -x containerd-shim); do
  awk '/^(Rss|Pss):/ {print $1, $2}' /proc/$p/smaps_rollup
done`

// nodeMemory is the memory (MB) of a node's edgelet, containerd and shims.
// RSS counts every page a process maps; PSS splits the pages it shares
// with other processes between them. The nodes of a cluster run the same
// edgelet and containerd files from the same image layer, so the page
// cache holds their code once, and RSS counts it again for every node.
type nodeMemory struct{ RSS, PSS float64 }

// memory returns the memory of the first server and, averaged, of the agents.
func memory(b *testing.B, p *cluster.Provider, name string) (server, agent nodeMemory) {
	nodes, err := p.Nodes(context.Background(), name)
	if err != nil {
		b.Fatal(err)
	}
	var agentSum nodeMemory
	var agentN float64
	for _, n := range nodes {
		if n.Role == "loadbalancer" {
			continue
		}
		res, err := p.Runtime().Exec(context.Background(), n.Name, []string{"sh", "-c", memScript}, nil)
		if err != nil || res.ExitCode != 0 {
			b.Fatalf("read memory of %s: %v %s", n.Name, err, res.Stderr)
		}
		var m nodeMemory
		if strings.Count(res.Stdout, "Rss:") < 2 { // edgelet and containerd at least
			b.Fatalf("%s: found no edgelet and containerd processes to measure:\n%s", n.Name, res.Stdout)
		}
		for _, line := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
			f := strings.Fields(line)
			if len(f) != 2 {
				continue
			}
			kb, _ := strconv.ParseFloat(f[1], 64)
			if f[0] == "Rss:" {
				m.RSS += kb / 1024
			} else {
				m.PSS += kb / 1024
			}
		}
		fmt.Fprintf(os.Stderr, "%s: RSS %.0f MB, PSS %.0f MB (edgelet + containerd + shims)\n", n.Name, m.RSS, m.PSS)
		if n.Role == "server" && server.RSS == 0 {
			server = m
		} else if n.Role == "agent" {
			agentSum.RSS += m.RSS
			agentSum.PSS += m.PSS
			agentN++
		}
	}
	if agentN > 0 {
		agent = nodeMemory{agentSum.RSS / agentN, agentSum.PSS / agentN}
	}
	return server, agent
}
