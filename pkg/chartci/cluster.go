package chartci

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/edgectl/edgectl/pkg/apis/config/v1alpha1"
	"github.com/edgectl/edgectl/pkg/cluster"
)

// testCluster is the cluster one chart is tested on.
type testCluster struct {
	r       *Runner
	name    string
	created bool // by ci chart: deleted at the end
	api     *clusterAPI
	helm    *helmClient
	failed  []failedRelease
}

type failedRelease struct{ ns, name string }

// cluster creates a cluster for c (or opens --cluster), loads the images,
// and connects to it.
func (r *Runner) cluster(ctx context.Context, c Chart) (*testCluster, error) {
	tc := &testCluster{r: r, name: r.opts.Cluster}
	if tc.name == "" {
		tc.name = clusterName(c)
		tc.created = true
		cfg := &v1alpha1.Cluster{Name: tc.name, Agents: r.opts.Agents, Image: r.opts.Image, Registries: r.opts.Registries}
		r.logger.Infof(" • %s: creating cluster %s", c.Name, tc.name)
		start := time.Now()
		err := r.p.Create(ctx, cluster.CreateOptions{Config: cfg, Wait: 5 * time.Minute, Retain: r.opts.Retain,
			Kubeconfig: filepath.Join(r.work, tc.name+".merged"), LogsDir: r.logsDir(c)})
		if err != nil {
			return nil, err
		}
		r.logger.Infof(" ✓ %s: cluster %s usable (%s)", c.Name, tc.name, time.Since(start).Round(100*time.Millisecond))
	}
	ok := false
	defer func() {
		if !ok {
			tc.close()
		}
	}()
	if len(r.opts.LoadImages) > 0 {
		if err := r.p.ImportImages(ctx, cluster.ImportOptions{Cluster: tc.name, Images: r.opts.LoadImages}); err != nil {
			return nil, err
		}
	}
	kc, err := r.p.Kubeconfig(ctx, tc.name)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(r.work, tc.name+".kubeconfig")
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		return nil, err
	}
	restConfig, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, err
	}
	if tc.api, err = newClusterAPI(restConfig); err != nil {
		return nil, err
	}
	tc.helm = &helmClient{kubeconfig: path, cache: r.work, timeout: r.opts.Wait}
	ok = true
	return tc, nil
}

func (r *Runner) logsDir(c Chart) string {
	if r.opts.Artifacts == "" {
		return ""
	}
	return filepath.Join(r.opts.Artifacts, c.Name+"-create")
}

// markFailed records a failed release, for its artifacts and for close
// (which removes it from a cluster ci chart was given), and returns err.
func (tc *testCluster) markFailed(ns, name string, err error) error {
	tc.failed = append(tc.failed, failedRelease{ns: ns, name: name})
	return err
}

// close deletes a cluster ci chart created (kept with --retain after a
// failure); on a cluster it was given, it removes the failed releases.
func (tc *testCluster) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	r := tc.r
	if tc.created {
		if r.opts.Retain && len(tc.failed) > 0 {
			r.logger.Infof("   cluster %s kept (--retain); delete it with `edgectl cluster delete %s`", tc.name, tc.name)
			return
		}
		if err := r.p.Delete(ctx, tc.name, filepath.Join(r.work, tc.name+".merged")); err != nil {
			r.logger.Warnf("delete cluster %s: %v", tc.name, err)
		}
		return
	}
	for _, f := range tc.failed {
		if err := tc.helm.uninstall(f.ns, f.name); err != nil {
			r.logger.Warnf("uninstall %s in %s: %v", f.name, f.ns, err)
		}
		if err := tc.api.deleteNamespace(ctx, f.ns); err != nil {
			r.logger.Warnf("delete namespace %s: %v", f.ns, err)
		}
	}
}

// clusterName is "ci-CHART-XXXXX", within the 32 characters of a cluster
// name.
func clusterName(c Chart) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	base := dnsLabel(c.Name)
	if max := v1alpha1.MaxNameLength - len("ci--") - 5; len(base) > max {
		base = base[:max]
	}
	return dnsLabel("ci-"+base) + "-" + hex.EncodeToString(b)[:5]
}
