package server

import (
	"context"
	"os"
	"path/filepath"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"

	"github.com/edgectl/edgectl/pkg/edgelet/config"
	"github.com/edgectl/edgectl/pkg/edgelet/helmcontroller"
)

// runHelmController runs the HelmChart controller. With HA servers one of
// them runs it at a time (a Lease in kube-system), so that two never
// install the same release at once.
func runHelmController(ctx context.Context, cfg *config.Server, c *certs, restCfg *rest.Config, client kubernetes.Interface, ha bool) {
	dyn, err := dynamic.NewForConfig(restCfg)
	if err != nil {
		klog.ErrorS(err, "No HelmChart controller")
		return
	}
	dir := filepath.Join(cfg.ServerDir(), "helm")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		klog.ErrorS(err, "No HelmChart controller")
		return
	}
	run := func(ctx context.Context) { helmcontroller.Run(ctx, c.Admin, dir, dyn, client) }
	if !ha {
		run(ctx)
		return
	}
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Name: "edgelet-helm-controller", Namespace: "kube-system"},
		Client:     client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: cfg.NodeName},
	}
	leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
		Lock: lock, ReleaseOnCancel: true,
		LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second,
		Callbacks: leaderelection.LeaderCallbacks{OnStartedLeading: run, OnStoppedLeading: func() {}},
	})
}
