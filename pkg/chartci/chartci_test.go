package chartci

import (
	"encoding/xml"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const configMap = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: {{ .Release.Name }}}\ndata: {count: \"{{ .Values.count }}\"}\n"

func chartFiles(name, version string) map[string]string {
	return map[string]string{
		name + "/Chart.yaml":          "apiVersion: v2\nname: " + name + "\nversion: " + version + "\n",
		name + "/values.yaml":         "count: 1\n",
		name + "/templates/cm.yaml":   configMap,
		name + "/ci/big-values.yaml":  "count: 2\n",
		name + "/ci/zero-values.yaml": "count: 0\n",
	}
}

func TestDiscover(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, chartFiles("a", "0.1.0"))
	writeFiles(t, dir, chartFiles("b", "1.0.0"))
	charts, err := Discover([]string{dir, filepath.Join(dir, "a")})
	if err != nil {
		t.Fatal(err)
	}
	if len(charts) != 2 || charts[0].Name != "a" || charts[1].Version != "1.0.0" {
		t.Fatalf("charts: %+v", charts)
	}
	if got := []string{valuesName(charts[0].Values[0]), valuesName(charts[0].Values[1])}; got[0] != "big" || got[1] != "zero" {
		t.Errorf("values: %v", got)
	}
	_, err = Discover([]string{t.TempDir()})
	if edgeerrors.ExitCode(err) != int(edgeerrors.KindInvalidConfig) {
		t.Errorf("empty dir: %v", err)
	}
}

func TestNames(t *testing.T) {
	c := Chart{Name: "My_Chart.with-a-very-long-name-indeed"}
	if ns := namespace(c, "big", ""); ns != "ci-my-chart-with-a-very-long-name-indeed-big" {
		t.Errorf("namespace %q", ns)
	}
	name := clusterName(c)
	if len(name) > 32 || !strings.HasPrefix(name, "ci-my-chart-with-a-ve") {
		t.Errorf("cluster name %q", name)
	}
}

func TestLint(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, chartFiles("ok", "0.1.0"))
	if err := lint(Chart{Dir: filepath.Join(dir, "ok"), Values: valuesFiles(filepath.Join(dir, "ok"))}, ""); err != nil {
		t.Errorf("ok chart: %v", err)
	}
	files := chartFiles("bad", "0.1.0")
	files["bad/values.schema.json"] = `{"type": "object", "properties": {"count": {"type": "integer", "minimum": 1}}}`
	writeFiles(t, dir, files)
	err := lint(Chart{Dir: filepath.Join(dir, "bad"), Values: valuesFiles(filepath.Join(dir, "bad"))}, "")
	if err == nil || !strings.Contains(err.Error(), "ci/zero-values.yaml") || strings.Contains(err.Error(), "big-values") {
		t.Errorf("schema failure with ci/zero-values.yaml only: %v", err)
	}
}

func TestVersionBump(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	dir := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@t"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	writeFiles(t, dir, chartFiles("c", "0.1.0"))
	git("init", "-q")
	git("add", ".")
	git("commit", "-qm", "one")
	c := Chart{Dir: filepath.Join(dir, "c"), Name: "c", Version: "0.1.0"}
	if err := versionBumped(c, "HEAD"); err != nil {
		t.Errorf("unchanged chart: %v", err)
	}
	writeFiles(t, dir, map[string]string{"c/values.yaml": "count: 3\n"})
	if err := versionBumped(c, "HEAD"); err == nil || !strings.Contains(err.Error(), "bump version") {
		t.Errorf("changed, same version: %v", err)
	}
	c.Version = "0.1.1"
	if err := versionBumped(c, "HEAD"); err != nil {
		t.Errorf("bumped: %v", err)
	}
	if err := versionBumped(c, "nosuch"); err == nil {
		t.Error("a missing target branch passed")
	}
	old, err := gitRevision(c, "HEAD")
	if err != nil || old == nil {
		t.Fatalf("chart at HEAD: %v", err)
	}
	writeFiles(t, dir, chartFiles("new", "0.1.0"))
	if missing, err := gitRevision(Chart{Dir: filepath.Join(dir, "new"), Name: "new"}, "HEAD"); err != nil || missing != nil {
		t.Errorf("a chart new since HEAD: %v, %v", missing, err)
	}
}

func TestParseManifest(t *testing.T) {
	m := "---\n# Source: x/templates/a.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: a\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: r\n  namespace: other\n"
	objs := parseManifest(m, "ns")
	if len(objs) != 2 || objs[0].String() != "Service ns/a" || objs[1].Namespace != "other" || objs[1].APIVersion != "rbac.authorization.k8s.io/v1" {
		t.Errorf("objects: %+v", objs)
	}
}

func TestJUnitAndExitCodes(t *testing.T) {
	var r Report
	r.add(Case{Chart: "a", Stage: StageLint, Name: "lint", Duration: time.Second})
	r.add(Case{Chart: "a", Stage: StageWait, Name: "wait (default values)", err: errors.New("timed out\n  Service x")})
	r.add(Case{Chart: "b", Stage: StageUpgrade, Name: "upgrade from main", Skipped: "new chart"})
	path := filepath.Join(t.TempDir(), "out", "junit.xml")
	if err := r.WriteJUnit(path, 3*time.Second); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	var s junitSuites
	if err := xml.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	if s.Tests != 3 || s.Failures != 1 || s.Skipped != 1 || len(s.Suites) != 2 || s.Suites[0].Cases[1].Failure.Message != "timed out" {
		t.Errorf("junit: %s", data)
	}
	for stage, code := range map[Stage]int{StageLint: 10, StageInstall: 11, StageWait: 12, StageTest: 13, StageUpgrade: 14, StageUninstall: 15} {
		if got := edgeerrors.ExitCode(stageError(stage, "a", errors.New("x"))); got != code {
			t.Errorf("%s: exit %d, want %d", stage, got, code)
		}
	}
}
