package chartci

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"helm.sh/helm/v4/pkg/action"
	helmchart "helm.sh/helm/v4/pkg/chart"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/cli"
	"helm.sh/helm/v4/pkg/kube"
	"helm.sh/helm/v4/pkg/registry"
	"helm.sh/helm/v4/pkg/release"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"

	"github.com/edgectl/edgectl/internal/helmaction"
)

// helmClient runs Helm SDK actions against one cluster.
type helmClient struct {
	kubeconfig string
	cache      string // chart repository cache
	timeout    time.Duration
}

func (h *helmClient) actions(ns string) (*action.Configuration, error) {
	return helmaction.Configuration(h.kubeconfig, ns)
}

// install installs ch as release name in ns (created). It waits for hooks
// only; the wait stage waits for the workloads, with reasons.
func (h *helmClient) install(ctx context.Context, ns, name string, ch helmchart.Charter, vals map[string]any) (string, error) {
	cfg, err := h.actions(ns)
	if err != nil {
		return "", err
	}
	in := action.NewInstall(cfg)
	in.ReleaseName, in.Namespace, in.CreateNamespace = name, ns, true
	in.Timeout, in.WaitStrategy = h.timeout, kube.HookOnlyStrategy
	in.ServerSideApply = true
	rel, err := in.RunWithContext(ctx, ch, vals)
	if err != nil {
		return "", err
	}
	return manifestOf(rel)
}

// upgrade upgrades the release to ch.
func (h *helmClient) upgrade(ctx context.Context, ns, name string, ch helmchart.Charter, vals map[string]any) (string, error) {
	cfg, err := h.actions(ns)
	if err != nil {
		return "", err
	}
	up := action.NewUpgrade(cfg)
	up.Namespace, up.Timeout, up.WaitStrategy = ns, h.timeout, kube.HookOnlyStrategy
	rel, err := up.RunWithContext(ctx, name, ch, vals)
	if err != nil {
		return "", err
	}
	return manifestOf(rel)
}

// test runs `helm test`; on failure the error carries the test pods' logs.
func (h *helmClient) test(ns, name string) (tested bool, err error) {
	cfg, err := h.actions(ns)
	if err != nil {
		return false, err
	}
	rt := action.NewReleaseTesting(cfg)
	rt.Namespace, rt.Timeout = ns, h.timeout
	reli, shutdown, runErr := rt.Run(name)
	defer func() { _ = shutdown() }()
	rel, ok := reli.(*releasev1.Release)
	if ok {
		for _, hook := range rel.Hooks {
			for _, e := range hook.Events {
				tested = tested || e == releasev1.HookTest
			}
		}
	}
	if runErr == nil || !ok {
		return tested, runErr
	}
	var logs bytes.Buffer
	_ = rt.GetPodLogs(&logs, rel)
	return tested, fmt.Errorf("%w%s", runErr, indent(tail(logs.String(), 20)))
}

// uninstall removes the release and waits for hook pods.
func (h *helmClient) uninstall(ns, name string) error {
	cfg, err := h.actions(ns)
	if err != nil {
		return err
	}
	un := action.NewUninstall(cfg)
	un.Timeout, un.WaitStrategy, un.IgnoreNotFound = h.timeout, kube.HookOnlyStrategy, true
	un.DeletionPropagation = "foreground"
	_, err = un.Run(name)
	return err
}

func manifestOf(rel any) (string, error) {
	acc, err := release.NewAccessor(rel)
	if err != nil {
		return "", err
	}
	return acc.Manifest(), nil
}

// gitRevision loads the chart as it is at rev in its git repository; nil
// when the chart is not there.
func gitRevision(c Chart, rev string) (helmchart.Charter, error) {
	top, err := gitOut(c.Dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return nil, fmt.Errorf("upgrade from %s: %s is not in a git work tree", rev, c.Dir)
	}
	rel, err := filepath.Rel(top, c.Dir)
	if err != nil {
		return nil, err
	}
	tree := rev + ":" + filepath.ToSlash(rel)
	if _, err := gitOut(top, "rev-parse", "--verify", "--quiet", tree); err != nil {
		return nil, nil
	}
	out, err := exec.Command("git", "-C", top, "archive", "--format=tar.gz", "--prefix="+c.Name+"/", tree).Output()
	if err != nil {
		return nil, fmt.Errorf("git archive %s: %w", tree, err)
	}
	return loader.LoadArchive(bytes.NewReader(out))
}

// released fetches the newest released version of c from ref: a chart
// repository URL (http, https) or an OCI location (oci://HOST/PATH, the
// chart's name appended unless ref ends with it).
func (h *helmClient) released(c Chart, ref string) (helmchart.Charter, string, error) {
	settings := cli.New()
	settings.RepositoryCache = filepath.Join(h.cache, "repository")
	settings.RepositoryConfig = filepath.Join(h.cache, "repositories.yaml")
	settings.ContentCache = filepath.Join(h.cache, "content")
	dest, err := os.MkdirTemp(h.cache, "released-")
	if err != nil {
		return nil, "", err
	}
	defer os.RemoveAll(dest)
	cfg := action.NewConfiguration(action.ConfigurationSetLogger(slog.DiscardHandler))
	pull := action.NewPull(action.WithConfig(cfg))
	pull.Settings, pull.DestDir = settings, dest
	name := c.Name
	if registry.IsOCI(ref) {
		name = strings.TrimSuffix(ref, "/")
		if !strings.HasSuffix(name, "/"+c.Name) {
			name += "/" + c.Name
		}
		opts := []registry.ClientOption{registry.ClientOptWriter(io.Discard)}
		if isLocal(name) {
			opts = append(opts, registry.ClientOptPlainHTTP())
			pull.PlainHTTP = true
		}
		rc, err := registry.NewClient(opts...)
		if err != nil {
			return nil, "", err
		}
		pull.SetRegistryClient(rc)
	} else {
		pull.RepoURL = ref
	}
	if _, err := pull.Run(name); err != nil {
		return nil, "", fmt.Errorf("fetch the released chart %s from %s: %w", c.Name, ref, err)
	}
	files, _ := filepath.Glob(filepath.Join(dest, "*.tgz"))
	if len(files) != 1 {
		return nil, "", fmt.Errorf("fetch the released chart %s from %s: got %d archives", c.Name, ref, len(files))
	}
	ch, err := loader.Load(files[0])
	if err != nil {
		return nil, "", err
	}
	return ch, ch.Metadata.Version, nil
}

func isLocal(ref string) bool {
	host := strings.TrimPrefix(ref, "oci://")
	return strings.HasPrefix(host, "localhost:") || strings.HasPrefix(host, "127.0.0.1:")
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func indent(s string) string {
	if strings.TrimSpace(s) == "" {
		return ""
	}
	return "\n    " + strings.ReplaceAll(s, "\n", "\n    ")
}
