#!/usr/bin/env bash
# The CI action's third step: a cluster for the job's own commands, or `ci
# chart` on EDGECTL_CHART. Inputs (env): EDGECTL, EDGECTL_CLUSTER (name),
# EDGECTL_CONFIG (a cluster config file) or EDGECTL_AGENTS, EDGECTL_REGISTRY
# (an edgectl registry to pull through), EDGECTL_CHART, EDGECTL_JUNIT.
# Writes: GITHUB_ENV KUBECONFIG; GITHUB_OUTPUT kubeconfig=, cluster= (a
# cluster) or junit= (ci chart).
set -euo pipefail
: "${EDGECTL:?run install.sh first}" "${GITHUB_OUTPUT:?not on a runner}" "${GITHUB_ENV:?not on a runner}"
name=${EDGECTL_CLUSTER:-ci}
args=()
if [[ -n ${EDGECTL_REGISTRY:-} ]]; then args+=(--registry "$EDGECTL_REGISTRY"); fi
if [[ -n ${EDGECTL_CHART:-} ]]; then
  junit=${EDGECTL_JUNIT:-junit.xml}
  if [[ -n ${EDGECTL_AGENTS:-} ]]; then args+=(--agents "$EDGECTL_AGENTS"); fi
  echo "junit=$(realpath -m "$junit")" >>"$GITHUB_OUTPUT"
  exec "$EDGECTL" ci chart "$EDGECTL_CHART" --junit "$junit" "${args[@]}"
fi
kubeconfig=${RUNNER_TEMP:-/tmp}/edgectl-$name.kubeconfig
if [[ -n ${EDGECTL_CONFIG:-} ]]; then
  args+=(--config "$EDGECTL_CONFIG")
else
  args+=(--agents "${EDGECTL_AGENTS:-1}")
fi
"$EDGECTL" cluster create "$name" "${args[@]}"
"$EDGECTL" kubeconfig get "$name" >"$kubeconfig"
echo "KUBECONFIG=$kubeconfig" >>"$GITHUB_ENV"
{
  echo "kubeconfig=$kubeconfig"
  echo "cluster=$name"
} >>"$GITHUB_OUTPUT"
