//go:build tools

// Package coredns pins the CoreDNS version built into the node image's
// offline CoreDNS image.
package coredns

import _ "github.com/coredns/coredns"
