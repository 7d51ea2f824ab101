package server

import (
	"context"
	"strings"
	"time"

	"k8s.io/klog/v2"

	"github.com/edgectl/edgectl/internal/probe"
)

// kube-controller-manager and kubelet run in edgelet's one process, and
// both initialize Kubernetes' CSI volume plugin, which keeps the node it
// serves in a package variable: the last to initialize it wins. When it is
// the controller manager (whose volume controllers have no node), kubelet
// cannot write its CSINode ("resource name may not be empty") and, 140 s
// later, exits the whole process. k3s and MicroShift patch Kubernetes for
// it; edgelet orders the two instead: kubelet starts after the controller
// manager has built its controllers, which it says by listing them in its
// /healthz. Seen with the node's runtime started early (issue 30): every
// fourth or so create lost a server for 2.5 min.

// controllerManagerHealthz is where the controller manager lists its
// controllers (args.go: bind-address and secure-port), anonymous.
const controllerManagerHealthz = "https://127.0.0.1:10257/healthz?verbose"

// waitControllersBuilt waits until the controller manager lists its
// controllers, at most d. A controller manager that is not the leader
// builds nothing: only a server whose controller manager leads at start
// (a single server, or the first of an HA cluster) waits.
func waitControllersBuilt(ctx context.Context, d time.Duration) {
	start := time.Now()
	for time.Since(start) < d {
		if _, body, err := probe.Get(ctx, controllerManagerHealthz); err == nil && strings.Contains(string(body), "-controller ok") {
			klog.InfoS("kube-controller-manager built its controllers: kubelet starts (it must initialize the CSI plugin last)", "after", time.Since(start).Round(time.Millisecond))
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	klog.InfoS("kube-controller-manager did not list its controllers in time: kubelet starts anyway", "waited", d)
}
