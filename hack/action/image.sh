#!/usr/bin/env bash
# The CI action's second step: the node image into the engine, from the job
# cache (EDGECTL_IMAGE_CACHE/node.tar, which actions/cache restored under a key
# that holds the versions) or else pulled by its reference, then saved there
# for the cache to keep. EDGECTL is the binary install.sh put in place.
set -euo pipefail
: "${EDGECTL:?run install.sh first}" "${EDGECTL_NODE_IMAGE:?run install.sh first}"
cache=${EDGECTL_IMAGE_CACHE:-${RUNNER_TEMP:-/tmp}/edgectl-image}
mkdir -p "$cache"
if docker image inspect "$EDGECTL_NODE_IMAGE" >/dev/null 2>&1; then
  echo "edgectl: node image $EDGECTL_NODE_IMAGE is in the engine"
elif [[ -s $cache/node.tar ]]; then
  echo "edgectl: loading node image $EDGECTL_NODE_IMAGE from the job cache"
  docker load -i "$cache/node.tar"
else
  through=()
  if [[ -n ${EDGECTL_REGISTRY:-} ]]; then through=(--through "$EDGECTL_REGISTRY"); fi
  "$EDGECTL" image pull "$EDGECTL_NODE_IMAGE" "${through[@]}"
  docker save -o "$cache/node.tar.tmp" "$EDGECTL_NODE_IMAGE"
  mv "$cache/node.tar.tmp" "$cache/node.tar"
fi
