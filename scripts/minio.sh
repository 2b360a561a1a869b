#!/usr/bin/env bash
# Prints the path of the MinIO server binary, building it first when the cache lacks it.
# Built with `go install` through the Go module proxy into $GAVEL_CACHE/minio-<version>/.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../cluster/versions.env
source "$here/cluster/versions.env"
cache=${GAVEL_CACHE:-/var/cache/gavel}/minio-$MINIO_VERSION
if [[ ! -x $cache/minio ]]; then
  echo "[s3] building MinIO $MINIO_VERSION with go install (cold: ~5 min on 2 cores)…" >&2
  mkdir -p "$cache.tmp"
  GOBIN=$cache.tmp GOFLAGS=-buildvcs=false go install "github.com/minio/minio@$MINIO_VERSION" >&2
  mv "$cache.tmp/minio" "$cache.tmp/minio.bin" && mkdir -p "$cache" && mv "$cache.tmp/minio.bin" "$cache/minio"
  rmdir "$cache.tmp"
fi
echo "$cache/minio"
