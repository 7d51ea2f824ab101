package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	"github.com/edgectl/edgectl/pkg/cluster"
)

// TestNetDegrade impairs a real node's link with `edgectl net degrade` on a
// kernel without sch_netem, and measures the effect from the host on real
// TCP connections to that node's kubelet port: the delay (NFQUEUE delay
// line), the loss (iptables statistic) and the rate (HTB), then heals it.
func TestNetDegrade(t *testing.T) {
	e := setup(t)
	const name = "e2e-net"
	e.create(t, &v1alpha1.Cluster{Name: name, Agents: 1})
	bin := edgectlBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	edgectl := func(args ...string) string {
		t.Helper()
		out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("edgectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	agent := nodeName(name, "agent", 0)
	var ip string
	for _, n := range mustNodes(t, e, name) {
		if n.Name == agent {
			ip = n.IP
		}
	}
	kubelet := net.JoinHostPort(ip, "10250")
	before := connectTimes(t, kubelet, 7)
	if before[3] > 100*time.Millisecond {
		t.Fatalf("the healthy link is already slow: %v", before)
	}

	t.Run("delay", func(t *testing.T) {
		edgectl("net", "degrade", "-c", name, "agent-0", "--delay", "300ms", "--jitter", "20ms")
		// The SYN-ACK leaves the degraded node, so each connect waits ~300 ms.
		got := connectTimes(t, kubelet, 7)
		t.Logf("connect times with 300ms ± 20ms: %v (healthy: %v)", got, before)
		if got[3] < 270*time.Millisecond || got[3] > 2*time.Second {
			t.Errorf("median connect %v with 300ms ± 20ms of delay", got[3])
		}
		var state []cluster.NodeNet
		if err := json.Unmarshal([]byte(edgectl("net", "show", "-c", name, "-o", "json")), &state); err != nil {
			t.Fatal(err)
		}
		for _, s := range state {
			degraded := s.Net.Delay == 300*time.Millisecond && s.Net.Jitter == 20*time.Millisecond
			if degraded != (s.Node == agent) {
				t.Errorf("net show: %s has %+v", s.Node, s.Net)
			}
		}
	})

	t.Run("loss", func(t *testing.T) {
		edgectl("net", "degrade", "-c", name, "agent-0", "--loss", "50%")
		const tries = 40
		failed := 0
		for i := 0; i < tries; i++ {
			// A lost SYN-ACK is resent after 1 s: past this timeout.
			c, err := net.DialTimeout("tcp", kubelet, 600*time.Millisecond)
			if err != nil {
				failed++
				continue
			}
			c.Close()
		}
		t.Logf("%d of %d connects lost with 50%% loss", failed, tries)
		// Binomial(40, ~0.5): outside 6..34 once in ~10^6 runs.
		if failed < 6 || failed > 34 {
			t.Errorf("%d of %d connects failed with 50%% loss", failed, tries)
		}
	})

	t.Run("rate", func(t *testing.T) {
		edgectl("net", "degrade", "-c", name, "agent-0", "--rate", "1mbit")
		// 250 kB from the node at 1 Mbit/s takes 2 s; unshaped, milliseconds.
		const port, size = "19090", 250_000
		e.nodeExec(t, agent, "systemd-run", "--unit", "e2e-net-source", "--collect",
			"socat", "TCP-LISTEN:"+port+",reuseaddr", fmt.Sprintf("SYSTEM:head -c %d /dev/zero", size))
		var took time.Duration
		for i := 0; i < 50; i++ {
			c, err := net.DialTimeout("tcp", net.JoinHostPort(ip, port), time.Second)
			if err != nil {
				time.Sleep(200 * time.Millisecond)
				continue
			}
			start := time.Now()
			n, _ := io.Copy(io.Discard, c)
			took = time.Since(start)
			c.Close()
			if n != size {
				t.Fatalf("read %d of %d bytes", n, size)
			}
			break
		}
		t.Logf("250 kB at 1mbit took %v", took)
		if took < 1500*time.Millisecond || took > 30*time.Second {
			t.Errorf("250 kB at 1mbit took %v, want about 2 s", took)
		}
	})

	t.Run("only the link to the server (--to)", func(t *testing.T) {
		edgectl("net", "degrade", "-c", name, "agent-0", "--to", "server-0", "--delay", "300ms")
		// The agent's SYN-ACK to the server waits 300 ms; to the host, not.
		server := nodeName(name, "server", 0)
		script := fmt.Sprintf(`for i in 1 2 3 4 5; do s=$(date +%%s%%N); exec 3<>/dev/tcp/%s/10250 || exit 1; e=$(date +%%s%%N); exec 3<&-; echo $(( (e - s) / 1000000 )); done | sort -n | sed -n 3p`, ip)
		median, err := strconv.Atoi(strings.TrimSpace(e.nodeExec(t, server, "bash", "-c", script)))
		if err != nil {
			t.Fatalf("connect times from the server: %v", err)
		}
		fromHost := connectTimes(t, kubelet, 5)[2]
		t.Logf("median connect to the agent with --to server-0 --delay 300ms: from the server %d ms, from the host %v", median, fromHost)
		if median < 270 || median > 2000 {
			t.Errorf("from the server: median connect %d ms, want about 300", median)
		}
		if fromHost > 100*time.Millisecond {
			t.Errorf("from the host (not in --to): median connect %v, want no delay", fromHost)
		}
	})

	t.Run("heal", func(t *testing.T) {
		edgectl("net", "heal", "-c", name)
		got := connectTimes(t, kubelet, 7)
		if got[3] > 100*time.Millisecond {
			t.Errorf("median connect %v after heal", got[3])
		}
		if out := e.nodeExec(t, agent, "sh", "-c", "iptables -t mangle -S; tc qdisc show dev eth0"); strings.Contains(out, "EDGELET-NET") || strings.Contains(out, "htb") {
			t.Errorf("heal left rules behind:\n%s", out)
		}
		if out := edgectl("net", "show", "-c", name); strings.Count(out, "healthy") != 2 {
			t.Errorf("net show after heal:\n%s", out)
		}
	})
}

// connectTimes makes n TCP connections one after another and returns how
// long each took to establish, sorted.
func connectTimes(t *testing.T, addr string, n int) []time.Duration {
	t.Helper()
	var times []time.Duration
	for i := 0; i < n; i++ {
		start := time.Now()
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("connect %s: %v", addr, err)
		}
		times = append(times, time.Since(start))
		c.Close()
	}
	slices.Sort(times)
	return times
}
