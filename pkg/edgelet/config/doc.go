// Package config holds edgelet's settings as its components use them, built
// from the node config file (pkg/apis/node/v1alpha1, with flags overriding
// it), and the on-disk layout under the data dir.
package config
