// Package config holds edgelet's settings: the flags of `edgelet server` and
// `edgelet agent`, their defaults, the optional YAML config file whose keys are
// flag names (as k3s's /etc/rancher/k3s/config.yaml), and the on-disk layout.
package config
