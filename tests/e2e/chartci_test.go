package e2e

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/xml"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/edgectl/edgectl/internal/runtime"
	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
)

// TestChartCI runs `edgectl ci chart` on fixture charts that the test
// writes: one passes every stage (two values files, an upgrade from the
// previous git revision and from the newest release in an OCI registry);
// each of the others fails at its own stage, with its exit code and a
// message that names the cause. Then two charts at --parallel 2 on
// clusters of their own, which leave nothing behind.
func TestChartCI(t *testing.T) {
	inLane(t, laneClusters)
	e := setup(t)
	const name = "e2e-ci"
	e.create(t, &v1alpha1.Cluster{Name: name, Agents: 1})
	bin := edgectlBinary(t)
	dir := t.TempDir()
	run := func(args ...string) (string, int) {
		t.Helper()
		start := time.Now()
		out, err := exec.Command(bin, append([]string{"ci", "chart"}, args...)...).CombinedOutput()
		t.Logf("ci chart %s: exit %d after %s\n%s", strings.Join(args, " "), exitCode(err), time.Since(start).Round(100*time.Millisecond), out)
		return string(out), exitCode(err)
	}

	t.Run("a passing chart: lint, two installs, tests, upgrades from git and from an OCI registry", func(t *testing.T) {
		repo := filepath.Join(dir, "repo")
		good := goodChart(t, repo, "e2e-good", "0.1.0")
		git(t, repo, "init", "-q")
		git(t, repo, "add", ".")
		git(t, repo, "commit", "-qm", "0.1.0")
		port := publishRelease(t, e, bin, good)
		// The working tree moves on: a new version with two replicas.
		goodChart(t, repo, "e2e-good", "0.2.0")
		junit := filepath.Join(dir, "good.xml")
		out, code := run(good, "--cluster", name, "--target-branch", "HEAD", "--upgrade",
			"--upgrade-from", "oci://localhost:"+strconv.Itoa(port)+"/charts", "--junit", junit, "--wait", "2m")
		if code != 0 {
			t.Fatalf("exit %d, want 0:\n%s", code, out)
		}
		for _, want := range []string{"install (ci/one-values.yaml)", "install (ci/two-values.yaml)", "test (ci/two-values.yaml)",
			"upgrade from HEAD", "upgrade from released 0.1.0", "uninstall (ci/one-values.yaml)"} {
			if !strings.Contains(out, "✓ e2e-good: "+want) {
				t.Errorf("no passed stage %q in:\n%s", want, out)
			}
		}
		suites := readJUnit(t, junit)
		if suites.Failures != 0 || suites.Tests != 13 {
			t.Errorf("JUnit: %d tests, %d failures; want 13 and 0", suites.Tests, suites.Failures)
		}
	})

	t.Run("each broken chart fails at its stage, with its code and cause", func(t *testing.T) {
		for _, tc := range brokenCharts(t, dir) {
			out, code := run(append([]string{tc.path, "--cluster", name, "--wait", "20s"}, tc.args...)...)
			if code != tc.code || !strings.Contains(out, tc.message) {
				t.Errorf("%s: exit %d, want %d with %q:\n%s", filepath.Base(tc.path), code, tc.code, tc.message, out)
			}
		}
		// Namespaces are removed in the background: wait for them to go.
		client := e.client(t, name)
		var left []string
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
			nss, err := client.CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			left = nil
			for _, ns := range nss.Items {
				if strings.HasPrefix(ns.Name, "ci-e2e-") {
					left = append(left, ns.Name)
				}
			}
			if len(left) == 0 {
				break
			}
		}
		if len(left) > 0 {
			t.Errorf("namespaces of failed releases left on the cluster: %v", left)
		}
	})

	t.Run("a failed Job: JUnit and an artifacts tarball with its pod's logs and events", func(t *testing.T) {
		job := writeChart(t, dir, "e2e-job", "0.1.0", failingJobValues,
			map[string]string{"web.yaml": fixtureWeb, "state.yaml": fixtureState})
		junit, artifacts := filepath.Join(dir, "job.xml"), filepath.Join(dir, "artifacts")
		out, code := run(job, "--cluster", name, "--junit", junit, "--artifacts", artifacts)
		if want := "Job ci-e2e-job/e2e-job-migrate: Job failed"; code != 12 || !strings.Contains(out, want) {
			t.Fatalf("exit %d, want 12 with %q:\n%s", code, want, out)
		}
		if s := readJUnit(t, junit); s.Failures != 1 {
			t.Errorf("JUnit: %d failures, want 1", s.Failures)
		}
		files := readTarGz(t, filepath.Join(artifacts, "e2e-job.tar.gz"))
		var podLog, events string
		for path, text := range files {
			switch {
			case strings.Contains(path, "/logs/e2e-job-migrate-") && strings.HasSuffix(path, "_migrate.log"):
				podLog = text
			case strings.HasSuffix(path, "/events.txt"):
				events = text
			}
		}
		if !strings.Contains(podLog, "127.0.0.1:9") || !strings.Contains(events, "BackoffLimitExceeded") {
			t.Errorf("artifacts: pod log %q, events %q", podLog, events)
		}
	})

	t.Run("--parallel 2 creates two clusters, loads an image built here, and deletes both", func(t *testing.T) {
		// An image only the host's engine has: without --load-image the
		// web pods could not start.
		const app = "e2e-ci/app:dev"
		dockerLoad(context.Background(), t, app, echoImage(t, goBinary(t, "./images/echo", "echo"), "ci chart"))
		both := filepath.Join(dir, "both")
		for _, chart := range []string{"e2e-par-a", "e2e-par-b"} {
			values := filepath.Join(goodChart(t, both, chart, "0.1.0"), "values.yaml")
			if err := os.WriteFile(values, []byte(fixtureValues+"image: "+app+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if out, code := run(both, "--parallel", "2", "--wait", "2m", "--load-image", app); code != 0 {
			t.Fatalf("exit %d, want 0:\n%s", code, out)
		}
		cs, err := e.p.Runtime().List(context.Background(), map[string]string{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			if strings.HasPrefix(c.Labels[runtime.LabelCluster], "ci-e2e-par-") {
				t.Errorf("container %s of cluster %s left", c.Name, c.Labels[runtime.LabelCluster])
			}
		}
	})
}

// publishRelease packages the chart as it is now and pushes it to a new
// registry's local push port, as a release would be; it returns the port.
func publishRelease(t *testing.T, e *env, bin, chart string) int {
	t.Helper()
	port := freeHostPort(t)
	const reg = "e2e-ci-charts"
	t.Cleanup(func() { _ = exec.Command(bin, "registry", "delete", reg, "--force").Run() })
	if out, err := exec.Command(bin, "registry", "create", reg, "--port", strconv.Itoa(port)).CombinedOutput(); err != nil {
		t.Fatalf("registry create: %v\n%s", err, out)
	}
	helm := e.helm(t)
	pkgDir := t.TempDir()
	if out, err := helm("package", chart, "-d", pkgDir); err != nil {
		t.Fatalf("helm package: %v\n%s", err, out)
	}
	archives, _ := filepath.Glob(filepath.Join(pkgDir, "*.tgz"))
	if len(archives) != 1 {
		t.Fatalf("helm package made %v", archives)
	}
	if out, err := helm("push", archives[0], "oci://localhost:"+strconv.Itoa(port)+"/charts", "--plain-http"); err != nil {
		t.Fatalf("helm push: %v\n%s", err, out)
	}
	return port
}

type junitSuites struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Suites   []struct {
		Name  string `xml:"name,attr"`
		Tests int    `xml:"tests,attr"`
		Cases []struct {
			Name      string `xml:"name,attr"`
			Classname string `xml:"classname,attr"`
			Time      string `xml:"time,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
			} `xml:"failure"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// readJUnit parses the file and checks what the JUnit schema requires:
// named suites whose test counts match their cases, and cases with a
// name, a classname and a time.
func readJUnit(t *testing.T, path string) junitSuites {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s junitSuites
	if err := xml.Unmarshal(data, &s); err != nil {
		t.Fatalf("JUnit %s: %v", path, err)
	}
	n := 0
	for _, suite := range s.Suites {
		if suite.Name == "" || suite.Tests != len(suite.Cases) {
			t.Errorf("JUnit suite %q: tests=%d, %d cases", suite.Name, suite.Tests, len(suite.Cases))
		}
		for _, c := range suite.Cases {
			if _, err := strconv.ParseFloat(c.Time, 64); c.Name == "" || c.Classname == "" || err != nil {
				t.Errorf("JUnit case %+v lacks a name, classname or time", c)
			}
			n++
		}
	}
	if n != s.Tests {
		t.Errorf("JUnit: tests=%d, %d cases", s.Tests, n)
	}
	return s
}

// readTarGz reads a .tar.gz into path -> content.
func readTarGz(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	out := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		out[h.Name] = string(data)
	}
}
