// Package server runs an edgelet control-plane node: it prepares the PKI,
// starts the datastore (kine over SQLite, an external SQL database, or
// embedded etcd), then kube-apiserver, kube-controller-manager and
// kube-scheduler in-process, writes the admin kubeconfig and the join token,
// and deploys the manifests found on disk.
package server
