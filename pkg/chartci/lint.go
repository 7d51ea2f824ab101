package chartci

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/Masterminds/semver/v3"
	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"sigs.k8s.io/yaml"
)

// lint runs helm lint (templates and the values schema) with the default
// values and with each ci values file, then the version-bump check against
// targetBranch when the chart lives in a git work tree.
func lint(c Chart, targetBranch string) error {
	var problems []string
	for _, file := range append([]string{""}, c.Values...) {
		vals, err := readValues(file)
		if err != nil {
			return err
		}
		res := action.NewLint().Run([]string{c.Dir}, vals)
		for _, msg := range res.Messages {
			if msg.Severity >= support.ErrorSev {
				problems = append(problems, fmt.Sprintf("%s (%s)", msg.Err, describeValues(file)))
			}
		}
		for _, err := range res.Errors {
			if !containsErr(res.Messages, err) {
				problems = append(problems, fmt.Sprintf("%s (%s)", err, describeValues(file)))
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("helm lint: %s", strings.Join(dedupe(problems), "; "))
	}
	if targetBranch == "" {
		return nil
	}
	return versionBumped(c, targetBranch)
}

func containsErr(msgs []support.Message, err error) bool {
	for _, m := range msgs {
		if m.Err == err {
			return true
		}
	}
	return false
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// versionBumped fails when the chart differs from targetBranch but its
// version is not higher than there. A chart outside git, or new since
// targetBranch, passes.
func versionBumped(c Chart, targetBranch string) error {
	top, err := gitOut(c.Dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return nil // not in git: nothing to compare with
	}
	rel, err := filepath.Rel(top, c.Dir)
	if err != nil {
		return err
	}
	if _, err := gitOut(top, "rev-parse", "--verify", "--quiet", targetBranch+"^{commit}"); err != nil {
		return fmt.Errorf("version check: target branch %q not found in %s", targetBranch, top)
	}
	cmd := exec.Command("git", "-C", top, "diff", "--quiet", targetBranch, "--", rel)
	if err := cmd.Run(); err == nil {
		return nil // unchanged
	}
	old, err := gitOut(top, "show", targetBranch+":"+filepath.ToSlash(filepath.Join(rel, "Chart.yaml")))
	if err != nil {
		return nil // a new chart
	}
	var meta struct {
		Version string `json:"version"`
	}
	if err := yaml.Unmarshal([]byte(old), &meta); err != nil {
		return fmt.Errorf("version check: Chart.yaml on %s: %w", targetBranch, err)
	}
	was, err1 := semver.NewVersion(meta.Version)
	now, err2 := semver.NewVersion(c.Version)
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("version check: %w", err)
	}
	if !now.GreaterThan(was) {
		return fmt.Errorf("chart %s changed since %s but its version %s is not higher than %s there: bump version in Chart.yaml",
			c.Name, targetBranch, c.Version, meta.Version)
	}
	return nil
}

func gitOut(dir string, args ...string) (string, error) {
	out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).Output()
	return strings.TrimSpace(string(out)), err
}

func readValues(file string) (map[string]any, error) {
	vals := map[string]any{}
	if file == "" {
		return vals, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	if err := yaml.Unmarshal(data, &vals); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if vals == nil {
		vals = map[string]any{}
	}
	return vals, nil
}
