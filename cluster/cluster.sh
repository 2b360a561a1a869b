#!/usr/bin/env bash
# Entry point of the make targets in mk/cluster.mk. CLUSTER=local (default: host processes
# built from source, no container registry needed) or CLUSTER=kind (a node image built here:
# docs/kind-offline.md; KIND_OFFLINE=0 for kind's upstream image where a registry is reachable).
# Usage: cluster.sh up|down|images|images-test|images-families|load-image IMAGE|kubeconfig|kubectl
set -euo pipefail
source "$(dirname "$0")/lib.sh"
CLUSTER=${CLUSTER:-local}
export CLUSTER
case $CLUSTER in local | kind) ;; *) die "CLUSTER must be local or kind, not $CLUSTER" ;; esac

# One cluster operation at a time (two `make cluster` racing would both start etcd, …).
case ${1:-} in
  up | down | images | images-test | images-operator | images-e2e | images-families | load-image)
    mkdir -p "$GAVEL_CACHE/run"
    exec 9>"$GAVEL_CACHE/run/cluster.lock"
    flock -w 1800 9 || die "another cluster operation holds $GAVEL_CACHE/run/cluster.lock"
    ;;
esac

case ${1:-} in
  up)
    if [[ $CLUSTER == kind ]]; then exec "$CLUSTER_DIR/kind.sh" up; fi
    exec "$CLUSTER_DIR/up.sh" ;;
  down)
    if [[ $CLUSTER == kind ]]; then exec "$CLUSTER_DIR/kind.sh" down; fi
    exec "$CLUSTER_DIR/down.sh" ;;
  images) # everything Gavel has so far
    if [[ $CLUSTER == kind ]]; then exec "$CLUSTER_DIR/images.sh" load base testbox runner operator minio; fi
    exec "$CLUSTER_DIR/images.sh" load base pause coredns testbox runner operator minio ;;
  images-test) # what tests/cluster needs
    exec "$CLUSTER_DIR/images.sh" load testbox ;;
  images-operator) # what tests/operator needs
    exec "$CLUSTER_DIR/images.sh" load runner ;;
  images-e2e) # what tests/e2e and make demo need
    exec "$CLUSTER_DIR/images.sh" load runner operator minio ;;
  images-families) # the family images (runner-native, -jvm, -dotnet, -functional, -scripting): make test-families
    exec "$CLUSTER_DIR/images.sh" load families ;;
  load-image)
    [[ -n ${2:-} ]] || die "usage: make load-image IMAGE=name:tag"
    exec "$CLUSTER_DIR/images.sh" load-docker "$2" ;;
  kubeconfig) echo "$KUBECONFIG_PATH" ;;
  kubectl)
    if [[ -x $K8S_BIN/kubectl ]]; then echo "$K8S_BIN/kubectl"; else command -v kubectl || die "no kubectl"; fi ;;
  *) die "usage: cluster.sh up|down|images|images-test|images-operator|images-e2e|images-families|load-image IMAGE|kubeconfig|kubectl" ;;
esac
