package helmcontroller

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"helm.sh/helm/v4/pkg/action"
	helmchart "helm.sh/helm/v4/pkg/chart"
	"helm.sh/helm/v4/pkg/chart/loader"
	"helm.sh/helm/v4/pkg/cli"
	"helm.sh/helm/v4/pkg/kube"
	"helm.sh/helm/v4/pkg/release"
	"helm.sh/helm/v4/pkg/storage/driver"
	"helm.sh/helm/v4/pkg/strvals"
	"sigs.k8s.io/yaml"

	"github.com/edgectl/edgectl/internal/helmaction"
)

// helm runs Helm actions as the cluster admin.
type helm struct {
	kubeconfig string
	dir        string // repository cache and config
}

// actions is a Helm action configuration for namespace ns.
func (h *helm) actions(ns string) (*action.Configuration, error) {
	return helmaction.Configuration(h.kubeconfig, ns)
}

// load reads the chart: from chartContent, else from its repository.
func (h *helm) load(spec Spec) (helmchart.Charter, error) {
	if spec.ChartContent != "" {
		data, err := base64.StdEncoding.DecodeString(strings.TrimSpace(spec.ChartContent))
		if err != nil {
			return nil, fmt.Errorf("spec.chartContent is not base64: %w", err)
		}
		return loader.LoadArchive(bytes.NewReader(data))
	}
	if spec.Chart == "" {
		return nil, errors.New("neither spec.chart nor spec.chartContent is set")
	}
	settings := cli.New()
	settings.RepositoryCache = filepath.Join(h.dir, "repository")
	settings.RepositoryConfig = filepath.Join(h.dir, "repositories.yaml")
	opts := action.ChartPathOptions{RepoURL: spec.Repo, Version: spec.Version}
	path, err := opts.LocateChart(spec.Chart, settings)
	if err != nil {
		return nil, fmt.Errorf("fetch chart %s from %q: %w", spec.Chart, spec.Repo, err)
	}
	return loader.Load(path)
}

// values merges valuesContent and set.
func values(spec Spec) (map[string]any, error) {
	vals := map[string]any{}
	if err := yaml.Unmarshal([]byte(spec.ValuesContent), &vals); err != nil {
		return nil, fmt.Errorf("spec.valuesContent: %w", err)
	}
	if vals == nil {
		vals = map[string]any{}
	}
	for k, v := range spec.Set {
		if err := strvals.ParseInto(k+"="+v.String(), vals); err != nil {
			return nil, fmt.Errorf("spec.set %s: %w", k, err)
		}
	}
	return vals, nil
}

func timeout(spec Spec) time.Duration {
	if spec.Timeout != nil && spec.Timeout.Duration > 0 {
		return spec.Timeout.Duration
	}
	return 5 * time.Minute
}

// apply installs the chart, or upgrades its release, and returns the
// release's revision. A release whose first install failed is removed and
// installed again, as `helm upgrade --install` cannot upgrade it.
func (h *helm) apply(ctx context.Context, name string, c *chart) (int, error) {
	ns := c.releaseNamespace()
	cfg, err := h.actions(ns)
	if err != nil {
		return 0, err
	}
	ch, err := h.load(c.spec)
	if err != nil {
		return 0, err
	}
	vals, err := values(c.spec)
	if err != nil {
		return 0, err
	}
	last, err := latest(cfg, name)
	if err != nil {
		return 0, err
	}
	if last != nil && last.Version() == 1 && last.Status() != "deployed" {
		if err := h.uninstall(ctx, name, c); err != nil {
			return 0, err
		}
		last = nil
	}
	var rel release.Releaser
	if last == nil {
		in := action.NewInstall(cfg)
		in.ReleaseName, in.Namespace, in.CreateNamespace = name, ns, c.spec.CreateNamespace
		in.Timeout, in.WaitStrategy = timeout(c.spec), kube.HookOnlyStrategy
		rel, err = in.RunWithContext(ctx, ch, vals)
	} else {
		up := action.NewUpgrade(cfg)
		up.Namespace, up.Timeout, up.WaitStrategy = ns, timeout(c.spec), kube.HookOnlyStrategy
		rel, err = up.RunWithContext(ctx, name, ch, vals)
	}
	if err != nil {
		return 0, err
	}
	acc, err := release.NewAccessor(rel)
	if err != nil {
		return 0, err
	}
	return acc.Version(), nil
}

// latest is the newest revision of the release, nil when there is none.
func latest(cfg *action.Configuration, name string) (release.Accessor, error) {
	hist := action.NewHistory(cfg)
	hist.Max = 1
	rels, err := hist.Run(name)
	if errors.Is(err, driver.ErrReleaseNotFound) || (err == nil && len(rels) == 0) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return release.NewAccessor(rels[len(rels)-1])
}

// uninstall removes the release; one that is gone already is fine.
func (h *helm) uninstall(ctx context.Context, name string, c *chart) error {
	cfg, err := h.actions(c.releaseNamespace())
	if err != nil {
		return err
	}
	un := action.NewUninstall(cfg)
	un.Timeout, un.WaitStrategy, un.IgnoreNotFound = timeout(c.spec), kube.HookOnlyStrategy, true
	_, err = un.Run(name)
	if errors.Is(err, driver.ErrReleaseNotFound) {
		return nil
	}
	return err
}
