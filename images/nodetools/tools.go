//go:build tools

// Package nodetools pins the versions of the node's container runtime and
// CNI plugins. They are built as packages of this module (go install of
// containerd's commands is refused because its go.mod has exclude
// directives) and copied into the node image.
package nodetools

import (
	_ "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2"
	_ "github.com/containernetworking/plugins/plugins/ipam/host-local"
	_ "github.com/containernetworking/plugins/plugins/main/bridge"
	_ "github.com/containernetworking/plugins/plugins/main/loopback"
	_ "github.com/containernetworking/plugins/plugins/meta/portmap"
	_ "github.com/opencontainers/runc"
)
