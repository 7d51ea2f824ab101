package e2e

import (
	"context"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgectl/edgectl/internal/log"
	"github.com/edgectl/edgectl/internal/runtime"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	"github.com/edgectl/edgectl/pkg/build/nodeimage"
	"github.com/edgectl/edgectl/pkg/cluster"
)

// podmanSocket is where `make deps` runs Podman's Docker-compatible API.
const podmanSocket = "unix:///run/podman/podman.sock"

// TestPodman runs a cluster on Podman through its Docker-compatible API,
// with the same provider code. Podman here allows --privileged (Docker on
// this host does not), so this is the test where the privileged node path
// runs: systemd reaches running, the agent joins, a pod on it is served
// through a NodePort, and delete leaves nothing in Podman.
func TestPodman(t *testing.T) {
	e := setup(t) // the Docker engine holds the image to copy
	if out, err := exec.Command("podman", "version", "--format", "{{.Server.Version}}").CombinedOutput(); err != nil {
		t.Fatalf("podman not usable (run `make deps`): %v %s", err, out)
	}
	t.Setenv("DOCKER_HOST", podmanSocket)
	p, err := cluster.NewProvider(log.New(os.Stderr, 1, false))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	info, err := p.Runtime().Info(ctx)
	if err != nil || info.Name != "podman" {
		t.Fatalf("Podman API at %s: %+v %v (run `make deps`, which starts `podman system service`)", podmanSocket, info, err)
	}
	copyImageToPodman(ctx, t, e, p)

	pe := &env{p: p, kubeconfig: e.kubeconfig, image: e.image}
	const name = "e2e-podman"
	pe.create(t, &v1alpha1.Cluster{Name: name, Agents: 1})
	cs, err := p.Runtime().List(ctx, map[string]string{runtime.LabelCluster: name, runtime.LabelRole: "server"})
	if err != nil || len(cs) != 1 {
		t.Fatalf("list: %v %v", cs, err)
	}
	// Podman here allows --privileged (Docker does not): this is the test
	// where the privileged path runs, so every node must have taken it.
	all, err := p.Runtime().List(ctx, map[string]string{runtime.LabelCluster: name})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range all {
		if c.Labels[runtime.LabelRole] != "loadbalancer" && c.Labels["io.edgectl.privileged"] != "true" {
			t.Errorf("%s ran with privileged=%q on Podman %s, which allows --privileged", c.Name, c.Labels["io.edgectl.privileged"], info.Version)
		}
	}
	t.Logf("podman %s: nodes ran with privileged=%s", info.Version, cs[0].Labels["io.edgectl.privileged"])
	for _, node := range []string{nodeName(name, "server", 0), nodeName(name, "agent", 0)} {
		if state := strings.TrimSpace(pe.nodeExec(t, node, "sh", "-c", "systemctl is-system-running || true")); state != "running" {
			t.Errorf("%s: systemctl is-system-running = %q", node, state)
		}
	}
	client := pe.client(t, name)
	deployEcho(ctx, t, client, "default", 2, 30085)
	agentIP := nodeIP(ctx, t, client, nodeName(name, "agent", 0))
	if body := httpGet(ctx, t, "http://"+agentIP+":30085/"); !strings.HasPrefix(body, "hello from echo-") {
		t.Errorf("NodePort on the agent answered %q", body)
	}

	// Podman's API service restarts (an upgrade, a host's socket activation):
	// the nodes run on under conmon, and edgectl finds them again through the
	// new service.
	before := ips(t, pe, name)
	podmanServiceRestarter(t)(ctx)
	if got := ips(t, pe, name); !reflect.DeepEqual(got, before) {
		t.Errorf("node IPs after the Podman service restart: %v, were %v", got, before)
	}
	waitReadyz(ctx, t, client, name)
	waitEchoReady(ctx, t, client, 2)
	if body := httpGet(ctx, t, "http://"+agentIP+":30085/"); !strings.HasPrefix(body, "hello from echo-") {
		t.Errorf("NodePort on the agent after the Podman service restart answered %q", body)
	}

	// `cluster delete --all` through the binary: on Podman, where every
	// edgectl cluster is this suite's (the machines of the join and promote
	// tests are no clusters, and stay).
	machines := podmanOut(t, "ps", "-a", "--format", "{{.Names}}")
	cmd := exec.CommandContext(ctx, edgectlBinary(t), "cluster", "delete", "--all", "--kubeconfig", pe.kubeconfig)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+podmanSocket)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), name) {
		t.Fatalf("cluster delete --all: %v\n%s", err, out)
	}
	if left := pe.engineObjects(t, name); len(left) > 0 {
		t.Errorf("delete left %v in Podman", left)
	}
	if names, err := p.Clusters(ctx); err != nil || len(names) > 0 {
		t.Errorf("clusters on Podman after delete --all: %v %v", names, err)
	}
	for _, m := range strings.Fields(machines) {
		if !strings.HasPrefix(m, "edgectl-"+name) && !strings.Contains(podmanOut(t, "ps", "-a", "--format", "{{.Names}}"), m) {
			t.Errorf("delete --all removed %s, which is no cluster's", m)
		}
	}
}

// podmanServiceRestarter returns how to restart the `podman system service`
// that `make deps` runs.
func podmanServiceRestarter(t *testing.T) func(context.Context) {
	t.Helper()
	out, err := exec.Command("pgrep", "-f", "^podman system service").Output()
	pid, _ := strconv.Atoi(strings.Fields(string(out) + " 0")[0])
	if err != nil || pid == 0 {
		t.Skip("no `podman system service` process on this host")
	}
	return processRestarter(t, "podman system service", pid, "/var/log/podman-service.log",
		"podman", "--remote", "--url", podmanSocket, "info")
}

// copyImageToPodman loads the node image from Docker into Podman unless
// Podman already holds the same build (same inputs label).
func copyImageToPodman(ctx context.Context, t *testing.T, e *env, p *cluster.Provider) {
	t.Helper()
	want, _, err := e.p.Runtime().ImageLabel(ctx, e.image, nodeimage.LabelInputs)
	if err != nil {
		t.Fatal(err)
	}
	if have, ok, _ := p.Runtime().ImageLabel(ctx, e.image, nodeimage.LabelInputs); ok && have == want {
		return
	}
	start := time.Now()
	cmd := exec.CommandContext(ctx, "sh", "-c", "docker save \"$0\" | podman load -q", e.image)
	cmd.Env = append(os.Environ(), "DOCKER_HOST=") // docker save reads from Docker, not Podman
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("copy %s to podman: %v\n%s", e.image, err, out)
	}
	t.Logf("copied %s from Docker to Podman in %s", e.image, time.Since(start).Round(100*time.Millisecond))
}
