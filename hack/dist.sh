#!/usr/bin/env bash
# make dist: the release artifacts, in dist/ (DIST_DIR):
#   edgectl-OS-ARCH                 edgectl for linux and darwin, amd64 and arm64,
#                                   no cgo, with VERSION stamped in (`edgectl version`)
#   edgectl-OS-ARCH.modules.txt     the Go modules each binary holds (`go version -m`)
#   edgectl-node-VERSION.oci.tar    the node images, amd64 and arm64, as one OCI index
#   edgectl-bundle-ARCH-ROLE.tar.gz the board bundles, per platform and role
#   SHA256SUMS                      `sha256sum -c SHA256SUMS` checks them all
# IMAGE_REPOSITORY (default ghcr.io/edgectl/node) is where the release's node
# image is published: the binaries pull IMAGE_REPOSITORY:VERSION by default.
# A release tags the commit VERSION and, for `edgectl image build` outside a
# checkout (it fetches its source through the Go module proxy), the nested
# modules the node image compiles: images/nodetools/VERSION,
# images/coredns/VERSION and images/registry/VERSION.
# DIST_BINARIES_ONLY=1 makes the binaries, their module lists and SHA256SUMS
# alone (no node image or bundle: those take the arm64 build, ~40 min cold).
set -euo pipefail
cd "$(dirname "$0")/.."
version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
out=${DIST_DIR:-dist}
go=${GO:-go}
rm -rf "$out"
mkdir -p "$out"
ldflags="-s -w -X github.com/edgectl/edgectl/pkg/version.Version=$version"
if [[ -n ${IMAGE_REPOSITORY:-} ]]; then
  ldflags+=" -X github.com/edgectl/edgectl/pkg/version.ImageRepository=$IMAGE_REPOSITORY"
fi
for pf in linux/amd64 linux/arm64 darwin/amd64 darwin/arm64; do
  os=${pf%/*} arch=${pf#*/}
  bin=$out/edgectl-$os-$arch
  echo "dist: edgectl $version for $pf"
  CGO_ENABLED=0 GOOS=$os GOARCH=$arch "$go" build -ldflags "$ldflags" -o "$bin" ./cmd/edgectl
  "$go" version -m "$bin" >"$bin.modules.txt"
done
if [[ -z ${DIST_BINARIES_ONLY:-} ]]; then
  edgectl=$out/edgectl-$("$go" env GOOS)-$("$go" env GOARCH)
  echo "dist: node images (linux/amd64, linux/arm64) as one OCI index"
  "$edgectl" image build --platform linux/amd64,linux/arm64 --output oci-tar \
    --file "$out/edgectl-node-$version.oci.tar"
  for arch in amd64 arm64; do
    for role in server agent; do
      echo "dist: board bundle linux/$arch $role"
      "$edgectl" bundle build --platform "linux/$arch" --role "$role" \
        -o "$out/edgectl-bundle-linux-$arch-$role.tar.gz"
    done
  done
fi
(cd "$out" && sha256sum -- * >SHA256SUMS.tmp && mv SHA256SUMS.tmp SHA256SUMS)
echo "dist: $(ls "$out" | wc -l) files in $out; (cd $out && sha256sum -c SHA256SUMS) checks them"
