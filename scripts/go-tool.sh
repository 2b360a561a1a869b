#!/usr/bin/env bash
# go-tool.sh NAME: prints the path of a tool built from source, building it first when the
# cache lacks it ($GAVEL_CACHE/NAME-<version>/NAME, `go install` through the Go module proxy;
# versions in cluster/versions.env).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../cluster/versions.env
source "$here/cluster/versions.env"
case ${1:-} in
  minio) module=github.com/minio/minio version=$MINIO_VERSION cold="~5 min" ;; # AGPL: run, never linked
  helm) module=helm.sh/helm/v3/cmd/helm version=$HELM_VERSION cold="~4 min" ;;
  kwok) module=sigs.k8s.io/kwok/cmd/kwok version=$KWOK_VERSION cold="~1.5 min" ;;
  *) echo "usage: go-tool.sh minio|helm|kwok" >&2; exit 2 ;;
esac
name=$1
cache=${GAVEL_CACHE:-/var/cache/gavel}/$name-$version
# one build of a tool at a time (make test may be building it in the background: mk/prefetch.mk)
mkdir -p "${GAVEL_CACHE:-/var/cache/gavel}/run"
exec 8>"${GAVEL_CACHE:-/var/cache/gavel}/run/go-tool-$name.lock"
flock -w 3600 8
if [[ ! -x $cache/$name ]]; then
  echo "[$name] building $name $version with go install (cold: $cold on 2 cores)…" >&2
  rm -rf "$cache.tmp" && mkdir -p "$cache.tmp"
  GOBIN=$cache.tmp GOFLAGS=-buildvcs=false go install "$module@$version" >&2
  mkdir -p "$cache" && mv "$cache.tmp/$name" "$cache/$name" && rmdir "$cache.tmp"
fi
echo "$cache/$name"
