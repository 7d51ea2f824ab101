//go:build tools

// Package tools pins the linters `make lint` builds, in a module of their
// own so that they never touch edgectl's dependency graph.
package tools

import _ "honnef.co/go/tools/cmd/staticcheck"
