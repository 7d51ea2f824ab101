// Package component runs the upstream Kubernetes components (kube-apiserver,
// kube-controller-manager, kube-scheduler, kubelet, kube-proxy) as goroutines
// of the edgelet process, so that they share one Go runtime instead of paying
// the ~100 MB per-process cost of the multicall binary once per component.
package component
