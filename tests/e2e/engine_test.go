package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
)

// TestEngineRestart: with two clusters running, the engine stops and starts
// again (a host reboot, a Docker upgrade). Both clusters come back by
// themselves: /readyz through their load balancers, the same node IPs, and
// the workload running again.
func TestEngineRestart(t *testing.T) {
	e := setup(t)
	restart := dockerdRestarter(t)
	e.create(t, &v1alpha1.Cluster{Name: "e2e-eng-a", Agents: 1})
	e.create(t, &v1alpha1.Cluster{Name: "e2e-eng-b"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	client := e.client(t, "e2e-eng-a")
	deployEcho(ctx, t, client, "default", 2, 30084)
	before := map[string]map[string]string{"e2e-eng-a": ips(t, e, "e2e-eng-a"), "e2e-eng-b": ips(t, e, "e2e-eng-b")}

	restart(ctx)
	restarted := time.Now()

	for name, want := range before {
		waitReadyz(ctx, t, e.client(t, name), name)
		t.Logf("%s answers /readyz %s after dockerd is back", name, time.Since(restarted).Round(100*time.Millisecond))
		if got := ips(t, e, name); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: node IPs %v, were %v", name, got, want)
		}
	}
	waitEchoReady(ctx, t, client, 2)
	t.Logf("workload ready %s after dockerd is back", time.Since(restarted).Round(100*time.Millisecond))
}

// waitReadyz waits until cluster name answers /readyz through its load
// balancer.
func waitReadyz(ctx context.Context, t *testing.T, c kubernetes.Interface, name string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx, time.Second, 4*time.Minute, true, func(ctx context.Context) (bool, error) {
		body, err := c.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err == nil && string(body) == "ok", nil
	})
	if err != nil {
		t.Fatalf("%s: /readyz through the load balancer after the engine restart: %v", name, err)
	}
}

// dockerdRestarter returns how to restart this host's dockerd: through
// systemd where it manages Docker, else by stopping the daemon and starting
// it again with the same command line (make deps starts it that way here).
func dockerdRestarter(t *testing.T) func(context.Context) {
	t.Helper()
	if os.Getenv("DOCKER_HOST") != "" {
		t.Skip("the engine is not this host's dockerd (DOCKER_HOST is set)")
	}
	if exec.Command("systemctl", "is-active", "--quiet", "docker").Run() == nil {
		return func(ctx context.Context) {
			if out, err := exec.CommandContext(ctx, "systemctl", "restart", "docker").CombinedOutput(); err != nil {
				t.Fatalf("systemctl restart docker: %v: %s", err, out)
			}
		}
	}
	out, err := exec.Command("pidof", "dockerd").Output()
	pid, _ := strconv.Atoi(strings.Fields(string(out) + " 0")[0])
	if err != nil || pid == 0 {
		t.Skip("no dockerd process on this host")
	}
	return processRestarter(t, "dockerd", pid, "/var/log/dockerd.log", "docker", "info")
}

// processRestarter returns how to stop the daemon with pid (SIGTERM) and start
// it again with the same command line, its output appended to logPath, and
// wait until probe (a command) succeeds. The new daemon outlives the test, as
// the one it replaces would have.
func processRestarter(t *testing.T, name string, pid int, logPath string, probe ...string) func(context.Context) {
	t.Helper()
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		t.Skipf("cannot read %s's command line: %v", name, err)
	}
	argv := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	return func(ctx context.Context) {
		if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		gone := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
			return syscall.Kill(pid, 0) != nil, nil
		})
		if gone != nil {
			t.Fatalf("%s (pid %d) did not stop within 1m", name, pid)
		}
		log, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer log.Close()
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Stdout, cmd.Stderr = log, log
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", argv[0], err)
		}
		_ = cmd.Process.Release()
		up := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
			return exec.CommandContext(ctx, probe[0], probe[1:]...).Run() == nil, nil
		})
		if up != nil {
			t.Fatalf("%s did not answer within 2m of its restart (see %s)", name, logPath)
		}
		t.Logf("%s restarted", name)
	}
}
