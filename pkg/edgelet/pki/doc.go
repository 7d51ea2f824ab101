// Package pki creates and loads the cluster's certificate authorities, the
// serving and client certificates of every component, and the service-account
// signing key. Everything is created once and then reused from disk, so
// certificates stay stable across restarts; a serving certificate is re-issued
// only when the set of names it must cover changes.
package pki
