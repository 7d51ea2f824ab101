#!/usr/bin/env bash
# The CI action's first step: download edgectl EDGECTL_VERSION for this runner
# from EDGECTL_INSTALL_URL (a release's download URL, or file:///dir of a
# `make dist` output), check it against the release's SHA256SUMS, put it on
# the job's PATH, and say which node image it uses and under which cache key.
# Writes: GITHUB_PATH (the binary's directory); GITHUB_OUTPUT edgectl=PATH,
# node-image=REF, cache-key=KEY.
set -euo pipefail
: "${EDGECTL_VERSION:?set the version input of the action}"
: "${GITHUB_OUTPUT:?not on a runner}" "${GITHUB_PATH:?not on a runner}"
base=${EDGECTL_INSTALL_URL:-https://github.com/edgectl/edgectl/releases/download}
base=${base%/}/$EDGECTL_VERSION
os=$(uname -s) arch=$(uname -m)
case $os in
  Linux) os=linux ;;
  Darwin) os=darwin ;;
  *) echo "edgectl: no build for $os" >&2 && exit 1 ;;
esac
case $arch in
  x86_64 | amd64) arch=amd64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "edgectl: no build for $arch" >&2 && exit 1 ;;
esac
file=edgectl-$os-$arch
dir=${RUNNER_TEMP:-/tmp}/edgectl-$EDGECTL_VERSION
mkdir -p "$dir/bin"
fetch() { curl -fsSL --retry 3 -o "$2" "$1"; }
echo "edgectl: downloading $file $EDGECTL_VERSION from $base"
fetch "$base/$file" "$dir/$file"
fetch "$base/SHA256SUMS" "$dir/SHA256SUMS"
if ! (cd "$dir" && grep " $file\$" SHA256SUMS | sha256sum -c --status -); then
  echo "edgectl: $file does not match the release's SHA256SUMS: refusing it" >&2
  exit 1
fi
install -m 0755 "$dir/$file" "$dir/bin/edgectl"
echo "$dir/bin" >>"$GITHUB_PATH"
image=$("$dir/bin/edgectl" version -o json | sed -n 's/.*"nodeImage": "\(.*\)".*/\1/p')
{
  echo "edgectl=$dir/bin/edgectl"
  echo "node-image=$image"
  echo "cache-key=edgectl-node-$image-linux-$arch"
} >>"$GITHUB_OUTPUT"
"$dir/bin/edgectl" version
