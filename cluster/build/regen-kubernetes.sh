#!/usr/bin/env bash
# Regenerate cluster/build/kubernetes/go.mod + go.sum for KUBERNETES_VERSION.
# Requires k8s.io/kubernetes vX.Y.Z and replaces each staging module that its go.mod
# points at ./staging/src/... with the published v0.Y.Z module.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../versions.env
source "$here/../versions.env"
v=$KUBERNETES_VERSION staging_v=v0.${KUBERNETES_VERSION#v1.}
cd "$here/kubernetes"
modfile=$(go mod download -json "k8s.io/kubernetes@$v" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
mapfile -t staging < <(grep -oE '^\s*k8s\.io/[a-z0-9-]+ => \./staging/' "$modfile" | awk '{print $1}')
echo "[regen] k8s.io/kubernetes $v, ${#staging[@]} staging modules at $staging_v"
{
  sed -n '1,/^go /p' go.mod | grep -v '^go ' ; echo "go 1.24.0"; echo
  echo "require k8s.io/kubernetes $v"; echo
  echo "replace ("
  for m in "${staging[@]}"; do echo "	$m => $m $staging_v"; done
  echo ")"
} >go.mod.new
mv go.mod.new go.mod
rm -f go.sum
GOFLAGS=-mod=mod go mod tidy
echo "[regen] done: $(wc -l <go.sum) lines in go.sum"
