// Package agent runs the node side of edgelet: containerd as a child process
// configured from a template, the import of the offline image bundle, the
// kubelet and kube-proxy in-process, and the pod network (the CNI config for
// the node's pod CIDR and the routes to other nodes' pod CIDRs).
package agent
