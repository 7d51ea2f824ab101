package chartci

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	edgeerrors "github.com/edgectl/edgectl/internal/errors"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
)

// Chart is one chart under test.
type Chart struct {
	Dir     string
	Name    string
	Version string
	// Values are the ci/*-values.yaml files; none means the chart's
	// default values, installed once.
	Values []string
}

// Discover finds the charts named by paths: a chart directory (it holds
// Chart.yaml), or a directory whose subdirectories are charts.
func Discover(paths []string) ([]Chart, error) {
	var charts []Chart
	seen := map[string]bool{}
	for _, p := range paths {
		dirs, err := chartDirs(p)
		if err != nil {
			return nil, err
		}
		for _, d := range dirs {
			if seen[d] {
				continue
			}
			seen[d] = true
			c, err := loadChart(d)
			if err != nil {
				return nil, err
			}
			charts = append(charts, c)
		}
	}
	if len(charts) == 0 {
		return nil, edgeerrors.New(edgeerrors.KindInvalidConfig, "pass a chart directory (one with Chart.yaml) or a directory of charts",
			"no chart found in %s", strings.Join(paths, ", "))
	}
	names := map[string]string{}
	for _, c := range charts {
		if other, ok := names[c.Name]; ok {
			return nil, edgeerrors.New(edgeerrors.KindInvalidConfig, "each chart needs its own name",
				"charts %s and %s are both named %q", other, c.Dir, c.Name)
		}
		names[c.Name] = c.Dir
	}
	return charts, nil
}

func chartDirs(p string) ([]string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(abs, "Chart.yaml")); err == nil {
		return []string{abs}, nil
	}
	entries, err := os.ReadDir(abs)
	if err != nil {
		return nil, edgeerrors.Wrap(edgeerrors.KindNotFound, "pass a chart directory or a directory of charts", err)
	}
	var dirs []string
	for _, e := range entries {
		d := filepath.Join(abs, e.Name())
		if _, err := os.Stat(filepath.Join(d, "Chart.yaml")); e.IsDir() && err == nil {
			dirs = append(dirs, d)
		}
	}
	return dirs, nil
}

func loadChart(dir string) (Chart, error) {
	ch, err := loader.LoadDir(dir)
	if err != nil {
		// Lint reports the details; the name still comes from the path.
		return Chart{Dir: dir, Name: filepath.Base(dir), Values: valuesFiles(dir)}, nil
	}
	return Chart{Dir: dir, Name: ch.Metadata.Name, Version: ch.Metadata.Version, Values: valuesFiles(dir)}, nil
}

func valuesFiles(dir string) []string {
	files, _ := filepath.Glob(filepath.Join(dir, "ci", "*-values.yaml"))
	sort.Strings(files)
	return files
}

// valuesName is the short name of a values file ("" for the defaults):
// ci/ha-values.yaml is "ha".
func valuesName(file string) string {
	return strings.TrimSuffix(filepath.Base(file), "-values.yaml")
}

// namespace is where one install of c runs.
func namespace(c Chart, values, suffix string) string {
	ns := "ci-" + c.Name
	if values != "" {
		ns += "-" + values
	}
	if suffix != "" {
		ns += "-" + suffix
	}
	return dnsLabel(ns)
}

// dnsLabel makes s a valid DNS-1123 label of at most 63 characters.
func dnsLabel(s string) string {
	s = strings.ToLower(s)
	b := []byte(s)
	for i, c := range b {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			b[i] = '-'
		}
	}
	s = strings.Trim(string(b), "-")
	if len(s) > 63 {
		s = strings.TrimRight(s[:63], "-")
	}
	return s
}

func describeValues(file string) string {
	if file == "" {
		return "default values"
	}
	return fmt.Sprintf("ci/%s", filepath.Base(file))
}
