package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/edgectl/edgectl/internal/binfmt"
	"github.com/edgectl/edgectl/internal/runtime"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
)

// edgectlBinary is the edgectl binary of this source tree, built once per
// run of the suite.
func edgectlBinary(t *testing.T) string {
	t.Helper()
	return goBinary(t, "./cmd/edgectl", "edgectl")
}

// repoRoot is the top of the source tree these tests are in.
func repoRoot() string {
	_, file, _, _ := goruntime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// binaries are the programs goBinary built in this run of the suite, by
// package, in a directory TestMain makes and removes: each is built once.
var binaries = struct {
	sync.Mutex
	dir   string
	built map[string]string
}{built: map[string]string{}}

// goBinary builds a main package of this module, or a tool its go.mod
// names, once per run of the suite.
func goBinary(t testing.TB, pkg, name string) string {
	t.Helper()
	binaries.Lock()
	defer binaries.Unlock()
	if bin, ok := binaries.built[pkg]; ok {
		return bin
	}
	dir := binaries.dir
	if dir == "" {
		dir = t.TempDir() // a benchmark run without TestMain's directory
	}
	bin := filepath.Join(dir, fmt.Sprintf("%s-%d", name, len(binaries.built)))
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	cmd.Dir = repoRoot()
	// Static: some go into images with no libc.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", pkg, err, out)
	}
	if binaries.dir != "" {
		binaries.built[pkg] = bin
	}
	return bin
}

// runEdgectl runs the binary with the kubeconfig given, and returns its
// stdout and stderr apart (program output and messages).
func runEdgectl(ctx context.Context, bin, kubeconfig string, args ...string) (stdout, stderr string, err error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestCLIErrorsAndInterrupt runs the real binary: documented exit codes for an
// unreachable engine and a missing image, and SIGINT in the middle of a
// create leaving nothing behind.
func TestCLIErrorsAndInterrupt(t *testing.T) {
	e := setup(t)
	bin := edgectlBinary(t)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")

	t.Run("engine not reachable exits 5", func(t *testing.T) {
		cmd := exec.Command(bin, "cluster", "list")
		cmd.Env = append(os.Environ(), "DOCKER_HOST=unix:///nonexistent.sock")
		out, err := cmd.CombinedOutput()
		if exitCode(err) != 5 || !strings.Contains(string(out), "not reachable") {
			t.Errorf("exit %d: %s", exitCode(err), out)
		}
	})

	t.Run("missing image exits 6 and creates nothing", func(t *testing.T) {
		out, err := exec.Command(bin, "cluster", "create", "e2e-noimage", "--image", "edgectl/node:missing", "--kubeconfig", kubeconfig).CombinedOutput()
		if exitCode(err) != 6 || !strings.Contains(string(out), "edgectl image build") {
			t.Errorf("exit %d: %s", exitCode(err), out)
		}
		if objs := e.engineObjects(t, "e2e-noimage"); len(objs) > 0 {
			t.Errorf("created %v", objs)
		}
	})

	t.Run("an agent platform the host cannot run or has no image for fails before anything is made", func(t *testing.T) {
		other := "linux/arm64"
		if v1alpha1.HostPlatform() == other {
			other = "linux/amd64"
		}
		arch := strings.TrimPrefix(other, "linux/")
		// The server's image is there; the agents' (its tag + "-ARCH") never is.
		image := "edgectl/node:e2e-platform"
		if out, err := exec.Command("docker", "tag", e.image, image).CombinedOutput(); err != nil {
			t.Fatalf("docker tag: %v %s", err, out)
		}
		defer exec.Command("docker", "rmi", image).Run()
		start := time.Now()
		out, err := exec.Command(bin, "cluster", "create", "e2e-platform", "--agents", "1", "--agent-platform", other,
			"--image", image, "--kubeconfig", kubeconfig).CombinedOutput()
		t.Logf("failed after %s", time.Since(start).Round(time.Millisecond))
		var prob *binfmt.Problem
		if errors.As(binfmt.Check(binfmt.Dir, arch), &prob) {
			// This host does not emulate arch: the error says so and gives the fix.
			if exitCode(err) != 1 || !strings.Contains(string(out), prob.Reason) || !strings.Contains(string(out), prob.Fix) {
				t.Errorf("exit %d: %s", exitCode(err), out)
			}
		} else if exitCode(err) != 6 || !strings.Contains(string(out), "edgectl image build --platform "+other) {
			// It does: the image of that platform is what is missing.
			t.Errorf("exit %d: %s", exitCode(err), out)
		}
		if objs := e.engineObjects(t, "e2e-platform"); len(objs) > 0 {
			t.Errorf("created %v", objs)
		}
	})

	t.Run("deleting a missing cluster is a note, or exit 4 with --strict", func(t *testing.T) {
		out, err := exec.Command(bin, "cluster", "delete", "e2e-nosuch", "--kubeconfig", kubeconfig).CombinedOutput()
		if exitCode(err) != 0 || !strings.Contains(string(out), "not found") {
			t.Errorf("exit %d: %s", exitCode(err), out)
		}
		out, err = exec.Command(bin, "cluster", "delete", "e2e-nosuch", "--strict", "--kubeconfig", kubeconfig).CombinedOutput()
		if exitCode(err) != 4 {
			t.Errorf("--strict: exit %d: %s", exitCode(err), out)
		}
	})

	t.Run("a config file lists every problem, unknown fields too, and exits 2", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "bad.yaml")
		bad := "apiVersion: edgectl.io/v1alpha1\nkind: Cluster\nname: e2e-badfile\nservers: 2\nagents: -1\ncolour: blue\n"
		if err := os.WriteFile(file, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, "cluster", "create", "--config", file, "--kubeconfig", kubeconfig).CombinedOutput()
		if exitCode(err) != 2 {
			t.Errorf("exit %d: %s", exitCode(err), out)
		}
		for _, want := range []string{`unknown field "colour"`, "servers 2", "agents -1"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		if objs := e.engineObjects(t, "e2e-badfile"); len(objs) > 0 {
			t.Errorf("created %v", objs)
		}
	})

	t.Run("config init prints a config that loads strictly and is valid", func(t *testing.T) {
		out, msgs, err := runEdgectl(t.Context(), bin, kubeconfig, "config", "init")
		if err != nil {
			t.Fatalf("config init: %v %s", err, msgs)
		}
		cfg, err := v1alpha1.Parse([]byte(out))
		if err != nil {
			t.Fatalf("config init's output does not load: %v\n%s", err, out)
		}
		v1alpha1.SetDefaults(cfg)
		if err := cfg.Validate(); err != nil || !strings.Contains(out, "#") {
			t.Errorf("config init's output (commented: %v) is not valid: %v", strings.Contains(out, "#"), err)
		}
	})

	t.Run("SIGINT mid-create leaves nothing", func(t *testing.T) {
		const name = "e2e-sigint"
		cmd := exec.Command(bin, "cluster", "create", name, "--agents", "1", "--image", e.image, "--kubeconfig", kubeconfig)
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Interrupt once the first node's container exists, i.e. really
		// mid-create; if it never shows, the test proves nothing and fails.
		hasContainer := func() bool {
			return slices.ContainsFunc(e.engineObjects(t, name), func(o string) bool { return strings.HasPrefix(o, "container ") })
		}
		deadline := time.Now().Add(60 * time.Second)
		for !hasContainer() && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		if !hasContainer() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("no node container of %s within 60 s of create; nothing to interrupt:\n%s", name, out.String())
		}
		if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if exitCode(err) != 130 {
				t.Errorf("exit %d after SIGINT: %s", exitCode(err), out.String())
			}
		case <-time.After(3 * time.Minute):
			_ = cmd.Process.Kill()
			t.Fatalf("create did not stop after SIGINT: %s", out.String())
		}
		if objs := e.engineObjects(t, name); len(objs) > 0 {
			t.Errorf("SIGINT left %v\n%s", objs, out.String())
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_ = e.p.Delete(ctx, name, kubeconfig)
		}
	})
}

// engineAllowsPrivileged says whether the engine (DOCKER_HOST) runs a
// --privileged container of image.
func engineAllowsPrivileged(t *testing.T, image string) bool {
	t.Helper()
	out, err := exec.Command("docker", "run", "--rm", "--privileged", "--network", "none", "--entrypoint", "true", image).CombinedOutput()
	if err != nil && !strings.Contains(string(out), "operation not permitted") {
		t.Fatalf("docker run --privileged failed for another reason than privilege: %v %s", err, out)
	}
	return err == nil
}

// TestNodeSystemd checks that the node's systemd reaches running, says
// which container mode (privileged or the capability fallback) ran here, and
// that edgelet stops cleanly on SIGTERM (systemctl stop) and starts again.
func TestNodeSystemd(t *testing.T) {
	inLane(t, laneClusters)
	e := setup(t)
	const name = "e2e-systemd"
	e.create(t, &v1alpha1.Cluster{Name: name})
	node := nodeName(name, "server", 0)
	cs, err := e.p.Runtime().List(context.Background(), map[string]string{runtime.LabelCluster: name, runtime.LabelRole: "server"})
	if err != nil || len(cs) != 1 {
		t.Fatalf("list: %v %v", cs, err)
	}
	// The node took the path the engine allows: privileged where a plain
	// `docker run --privileged` works, the capability fallback where the
	// engine refuses it (as Docker on a host without CAP_SYS_RESOURCE does).
	want := strconv.FormatBool(engineAllowsPrivileged(t, e.image))
	if got := cs[0].Labels["io.edgectl.privileged"]; got != want {
		t.Errorf("node ran with privileged=%q; `docker run --privileged` here says %s", got, want)
	}
	t.Logf("node ran with privileged=%s", cs[0].Labels["io.edgectl.privileged"])
	res, err := e.p.Runtime().Exec(context.Background(), node, []string{"systemctl", "is-system-running"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if state := strings.TrimSpace(res.Stdout); state != "running" {
		failed, _ := e.p.Runtime().Exec(context.Background(), node, []string{"systemctl", "--failed", "--no-legend"}, nil)
		t.Errorf("systemctl is-system-running = %q; failed units:\n%s", state, failed.Stdout)
	}

	// SIGTERM: every component stops and edgelet exits 0, within the
	// unit's stop timeout (systemd would SIGKILL and record "timeout").
	e.nodeExec(t, node, "systemctl", "stop", "edgelet")
	result := e.nodeExec(t, node, "systemctl", "show", "-p", "Result,ActiveState,ExecMainStatus", "edgelet")
	for _, want := range []string{"Result=success", "ActiveState=inactive", "ExecMainStatus=0"} {
		if !strings.Contains(result, want) {
			t.Errorf("after systemctl stop: want %s in\n%s", want, result)
		}
	}
	e.nodeExec(t, node, "systemctl", "start", "edgelet")
	client := e.client(t, name)
	err = wait.PollUntilContextTimeout(context.Background(), time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := client.Discovery().ServerVersion()
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("API not back after systemctl start edgelet: %v", err)
	}
}
