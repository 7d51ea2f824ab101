# edgectl: `make up` runs the demo, `make test` is what CI runs.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)
GO ?= go
E2E_TIMEOUT ?= 75m

.PHONY: all build deps image up test test-unit test-e2e lint bench clean fmt helm test-conformance test-conformance-serial test-chart-soak bench-chart test-cgroupv2 deps-arm64 image-arm64 test-arm64 test-vm dist test-dist kubectl

all: build

## build: the edgectl binary (small: it does not link Kubernetes itself)
build:
	$(GO) build -ldflags "-s -w" -o bin/edgectl ./cmd/edgectl

## helm: the helm CLI (Helm v4, a tool of go.mod) in bin/, for charts against a cluster
helm:
	$(GO) build -o bin/helm helm.sh/helm/v4/cmd/helm

## kubectl: the kubectl CLI of edgectl's Kubernetes version (the pinned k8s.io/kubernetes of go.mod) in bin/
K8S_VERSION := $(shell awk '$$1 == "k8s.io/kubernetes" {print $$2; exit}' go.mod)
kubectl:
	$(GO) build -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$(K8S_VERSION) -X k8s.io/component-base/version.gitTreeState=clean" -o bin/kubectl k8s.io/kubernetes/cmd/kubectl

## deps: install what a fresh Debian machine lacks (Docker engine, debootstrap) and start dockerd
deps:
	hack/deps.sh

## image: build the node image (cached: an unchanged tree is a hit in seconds)
image: deps build
	bin/edgectl image build

## deps-arm64: qemu-user-static with binfmt_misc, the aarch64 C cross compiler and libseccomp:arm64
deps-arm64:
	hack/deps-arm64.sh

## image-arm64: build the arm64 node image (edgectl/node:dev-arm64) on this host, and the host's,
## which emulated nodes take their containerd, runc and iptables from
image-arm64: deps deps-arm64 image
	bin/edgectl image build --platform linux/arm64

## dist: the release artifacts in dist/: edgectl for linux and darwin (amd64, arm64) with the
## version stamped in, their Go module lists, the node images as one OCI index, the board
## bundles, SHA256SUMS (hack/dist.sh). DIST_BINARIES_ONLY=1 makes the binaries alone.
dist: $(if $(DIST_BINARIES_ONLY),,image-arm64)
	hack/dist.sh

## test-dist: make dist's binaries installed outside the checkout, with a fresh HOME, pull the node
## image by their default reference from a local edgectl registry (also through a cache) and run a cluster;
## build the node image outside the checkout from a file-based Go module proxy
test-dist: image
	EDGECTL_E2E_DIST=1 $(GO) test -count=1 -v -timeout 30m -run 'TestDistInstall' ./tests/e2e/

## up: build everything, create the demo cluster and show it working
up: image kubectl
	hack/demo.sh

## test: unit tests, node image, e2e suite against the real engine (what CI runs)
test: test-unit image test-e2e

test-unit: lint
	$(GO) test -short ./...

## lint: go vet and staticcheck (pinned in hack/tools, built into bin/)
lint: bin/staticcheck
	$(GO) vet ./...
	bin/staticcheck ./...

bin/staticcheck: hack/tools/go.mod hack/tools/go.sum
	cd hack/tools && $(GO) build -o ../../bin/staticcheck honnef.co/go/tools/cmd/staticcheck

## test-conformance: the upstream [Conformance] suite (not [Serial]/[Disruptive]) on a 1+2 cluster, offline; ~45 min
test-conformance: image
	hack/conformance/run.sh

## test-conformance-serial: the [Serial] [Conformance] tests, one at a time
test-conformance-serial: image
	SERIAL=1 hack/conformance/run.sh

## test-cgroupv2: a 1+1 cluster in a Debian 12 VM (qemu TCG, cgroup v2, Docker), privileged and on the unprivileged fallback; ~16 min
test-cgroupv2: image
	hack/vm/cgroupv2.sh

## test-vm: boards that are VMs (qemu TCG: amd64 and arm64, cgroup v2; one booted with
## cgroup_disable=memory) and an armhf host join a container cluster through NAT; ~45 min
test-vm: image-arm64
	hack/vm/deps.sh
	EDGECTL_E2E_VM=1 $(GO) test -count=1 -v -timeout 120m -run 'TestVM|TestJoinVM' ./tests/e2e/

## test-chart-soak: `edgectl ci chart` 20 times in a row on the passing fixture chart (own cluster each); any failure fails; ~20 min
test-chart-soak: image
	$(GO) test -count=1 -run '^$$' -bench 'ChartCI/ci-chart' -benchtime 20x -timeout 60m ./tests/e2e/

## bench: `edgectl bench`, RUNS rounds (create 1 server, 1+3 and HA 3+1 to usable; CPU of a create; node add;
## delete; node memory at idle; image size); lists each figure worse than a goal or than docs/bench.json, then
## records the new figures there and in docs/benchmarks.md (~12 min)
RUNS ?= 3
bench: image build
	bin/edgectl bench --runs $(RUNS) --baseline docs/bench.json --save docs/bench.json --markdown docs/benchmarks.md

## bench-chart: `ci chart` wall time (create and delete included) against helm on an existing cluster
bench-chart: image
	$(GO) test -count=1 -run '^$$' -bench ChartCI -benchtime 3x -timeout 60m ./tests/e2e/

## test-arm64: the arm64 node image and bundle (built under qemu), scanned, and a 1 amd64 + 1 emulated arm64 agent cluster
test-arm64: image-arm64
	EDGECTL_E2E_ARM64=1 $(GO) test -count=1 -v -timeout 60m -run 'TestArm64|TestNodeImageArch|TestBundle' ./tests/e2e/

## test-e2e: the e2e suite, then a table of each test's duration and every skip with its reason.
## Tests run in two lanes side by side (tests/e2e/main_test.go); -parallel only has to
## exceed the number of lane tests, the lanes themselves hold the concurrency at 2.
## EDGECTL_E2E_SERIAL=1 runs one test at a time.
test-e2e:
	$(GO) build -o bin/testtable ./hack/testtable
	set -o pipefail; $(GO) test -count=1 -json -parallel 64 -timeout $(E2E_TIMEOUT) ./tests/e2e/... 2>&1 | bin/testtable

fmt:
	gofmt -l -w cmd pkg internal images tests

clean:
	-bin/edgectl cluster delete --all
	rm -rf bin
