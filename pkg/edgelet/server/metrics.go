package server

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/klog/v2"

	"github.com/edgectl/edgectl/pkg/edgelet/component"
	"github.com/edgectl/edgectl/pkg/edgelet/config"
	"github.com/edgectl/edgectl/pkg/edgelet/kubeconfig"
)

// runMetricsServer runs metrics-server in this process once its RBAC is in
// place. Its failure is not fatal: the control plane runs on without the
// metrics API.
func runMetricsServer(ctx context.Context, cfg *config.Server, c *certs) {
	err := waitMetricsAccess(ctx, c.MetricsServer)
	if err == nil {
		err = component.MetricsServer(ctx, metricsServerArgs(cfg, c))
	}
	if err != nil && ctx.Err() == nil {
		klog.ErrorS(err, "metrics-server exited; kubectl top and HPAs have no metrics until edgelet restarts")
	}
}

// waitMetricsAccess waits until metrics-server's user may read what it
// reads first, the API server's authentication ConfigMap: its RBAC comes
// with the packaged manifest, applied moments after the API is up, and
// metrics-server gives up at once without it.
func waitMetricsAccess(ctx context.Context, kubeconfigPath string) error {
	client, err := kubeconfig.NewClient(kubeconfigPath)
	if err != nil {
		return err
	}
	return wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := client.CoreV1().ConfigMaps("kube-system").Get(ctx, "extension-apiserver-authentication", metav1.GetOptions{})
		return err == nil, nil
	})
}
