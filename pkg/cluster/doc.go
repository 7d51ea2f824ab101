// Package cluster is edgectl's public library: create, delete, list, start and
// stop clusters of node containers. The CLI and the e2e tests both call it.
// All state lives in container labels; nothing is stored on the host except
// the kubeconfig entry.
package cluster
