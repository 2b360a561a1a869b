#!/usr/bin/env bash
# Prints the path of the helm binary, building it first when the cache lacks it
# ($GAVEL_CACHE/helm-<version>/helm, `go install` through the Go module proxy).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../cluster/versions.env
source "$here/cluster/versions.env"
cache=${GAVEL_CACHE:-/var/cache/gavel}/helm-$HELM_VERSION
if [[ ! -x $cache/helm ]]; then
  echo "[helm] building helm $HELM_VERSION with go install (cold: ~4 min on 2 cores)…" >&2
  rm -rf "$cache.tmp" && mkdir -p "$cache.tmp"
  GOBIN=$cache.tmp GOFLAGS=-buildvcs=false go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2
  mkdir -p "$cache" && mv "$cache.tmp/helm" "$cache/helm" && rmdir "$cache.tmp"
fi
echo "$cache/helm"
