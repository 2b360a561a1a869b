#!/usr/bin/env bash
# The kind route (CLUSTER=kind): for hosts that reach a container registry (a laptop, a
# hosted CI runner). kind runs the node in a Docker container from its upstream node
# image ($KIND_NODE_IMAGE), whose kindnet CNI enforces NetworkPolicy. Gavel's images are
# built the same way as offline and loaded with `kind load`.
# Usage: kind.sh up|down|load-archive FILE
set -euo pipefail
source "$(dirname "$0")/lib.sh"
KIND_CLUSTER=gavel
KIND=$GAVEL_CACHE/kind-$KIND_VERSION/bin/kind

ensure_kind() {
  [[ -x $KIND ]] && return 0
  command -v kind >/dev/null && { KIND=$(command -v kind); return 0; }
  log "building kind $KIND_VERSION (go install)"
  GOBIN=$(dirname "$KIND") go install "sigs.k8s.io/kind@$KIND_VERSION"
}

case ${1:-} in
  up)
    ensure_kind
    mkdir -p "$GAVEL_STATE"
    if "$KIND" get clusters 2>/dev/null | grep -qx "$KIND_CLUSTER"; then
      log "kind cluster $KIND_CLUSTER already running"
      "$KIND" get kubeconfig --name "$KIND_CLUSTER" >"$KUBECONFIG_PATH"
    else
      "$KIND" create cluster --name "$KIND_CLUSTER" --image "$KIND_NODE_IMAGE" \
        --kubeconfig "$KUBECONFIG_PATH" --wait 180s
    fi
    echo "$KUBECONFIG_PATH" ;;
  down)
    ensure_kind
    "$KIND" delete cluster --name "$KIND_CLUSTER"
    rm -f "$KUBECONFIG_PATH" ;;
  load-archive)
    ensure_kind
    "$KIND" load image-archive --name "$KIND_CLUSTER" "$2" ;;
  *) die "usage: kind.sh up|down|load-archive FILE" ;;
esac
