//go:build tools

// Package conformance pins what `make test-conformance` builds: the upstream
// e2e suite of the Kubernetes version edgelet runs, the ginkgo CLI, and the
// programs inside the images the conformance tests use.
package conformance

import (
	_ "github.com/onsi/ginkgo/v2/ginkgo"
	_ "k8s.io/kubernetes/test/e2e"
	_ "k8s.io/kubernetes/test/images/agnhost"
	_ "k8s.io/kubernetes/test/images/nonewprivs"
	_ "k8s.io/sample-apiserver"
)
