package chartci

import (
	"context"
	"fmt"

	helmchart "helm.sh/helm/v4/pkg/chart"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
)

// release runs install, wait, test and uninstall of c with one values
// file, in its own namespace.
func (r *Runner) release(ctx context.Context, c Chart, tc *testCluster, file, ns string) error {
	what := describeValues(file)
	vals, err := readValues(file)
	if err != nil {
		return stageError(StageInstall, c.Name, err)
	}
	name := releaseName(c)
	var manifest string
	err = r.stage(c, StageInstall, "install ("+what+")", func() error {
		if err := tc.api.namespaceFree(ctx, ns, r.opts.Wait); err != nil {
			return err
		}
		ch, err := loader.Load(c.Dir)
		if err != nil {
			return err
		}
		manifest, err = tc.helm.install(ctx, ns, name, ch, vals)
		return err
	})
	if err != nil {
		return tc.markFailed(ns, name, err)
	}
	objs := parseManifest(manifest, ns)
	err = r.stage(c, StageWait, "wait ("+what+")", func() error {
		return waitReady(ctx, tc.api.client, objs, r.opts.Wait)
	})
	if err != nil {
		return tc.markFailed(ns, name, err)
	}
	tested := false
	err = r.stage(c, StageTest, "test ("+what+")", func() error {
		var err error
		tested, err = tc.helm.test(ns, name)
		return err
	})
	if err != nil {
		return tc.markFailed(ns, name, err)
	}
	if !tested {
		r.logger.Infof("   %s: the chart has no test hooks (templates/tests/)", c.Name)
	}
	return r.uninstall(ctx, c, tc, ns, name, objs, what)
}

// uninstall removes the release, checks that nothing it made is left,
// and removes the namespace.
func (r *Runner) uninstall(ctx context.Context, c Chart, tc *testCluster, ns, name string, objs []object, what string) error {
	return r.stage(c, StageUninstall, "uninstall ("+what+")", func() error {
		if err := tc.helm.uninstall(ns, name); err != nil {
			return err
		}
		if err := tc.api.leftovers(ctx, objs, ns, r.opts.Wait); err != nil {
			return err
		}
		return tc.api.deleteNamespace(ctx, ns)
	})
}

// upgradeSource is an older chart to upgrade from.
type upgradeSource struct {
	name string // "git" or "released"
	load func(*Runner, Chart) (helmchart.Charter, string, error)
}

func (r *Runner) upgradeSources() []upgradeSource {
	var out []upgradeSource
	if r.opts.Upgrade && r.opts.TargetBranch != "" {
		out = append(out, upgradeSource{name: "git", load: func(r *Runner, c Chart) (helmchart.Charter, string, error) {
			ch, err := gitRevision(c, r.opts.TargetBranch)
			return ch, r.opts.TargetBranch, err
		}})
	}
	if r.opts.UpgradeFrom != "" {
		out = append(out, upgradeSource{name: "released", load: func(r *Runner, c Chart) (helmchart.Charter, string, error) {
			h := helmClient{cache: r.work}
			ch, version, err := h.released(c, r.opts.UpgradeFrom)
			return ch, "released " + version, err
		}})
	}
	return out
}

// upgradeFrom installs the older chart, waits for it, upgrades to c,
// waits again, and uninstalls.
func (r *Runner) upgradeFrom(ctx context.Context, c Chart, tc *testCluster, from upgradeSource, file, ns string) error {
	old, label, err := from.load(r, c)
	if err != nil {
		return r.stage(c, StageUpgrade, "upgrade from "+from.name, func() error { return err })
	}
	stageName := fmt.Sprintf("upgrade from %s", label)
	if old == nil {
		r.skip(c, StageUpgrade, stageName, "the chart is not there (a new chart)")
		return nil
	}
	vals, err := readValues(file)
	if err != nil {
		return stageError(StageUpgrade, c.Name, err)
	}
	name := releaseName(c)
	var objs []object
	err = r.stage(c, StageUpgrade, stageName, func() error {
		if err := tc.api.namespaceFree(ctx, ns, r.opts.Wait); err != nil {
			return err
		}
		manifest, err := tc.helm.install(ctx, ns, name, old, vals)
		if err != nil {
			return fmt.Errorf("install the older chart: %w", err)
		}
		if err := waitReady(ctx, tc.api.client, parseManifest(manifest, ns), r.opts.Wait); err != nil {
			return fmt.Errorf("the older chart does not get ready: %w", err)
		}
		ch, err := loader.Load(c.Dir)
		if err != nil {
			return err
		}
		if manifest, err = tc.helm.upgrade(ctx, ns, name, ch, vals); err != nil {
			return err
		}
		objs = parseManifest(manifest, ns)
		if err := waitReady(ctx, tc.api.client, objs, r.opts.Wait); err != nil {
			return fmt.Errorf("after the upgrade: %w", err)
		}
		return nil
	})
	if err != nil {
		return tc.markFailed(ns, name, err)
	}
	return r.uninstall(ctx, c, tc, ns, name, objs, stageName)
}

func releaseName(c Chart) string {
	name := dnsLabel(c.Name)
	if len(name) > 53 {
		name = name[:53]
	}
	return name
}
