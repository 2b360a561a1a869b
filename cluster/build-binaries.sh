#!/usr/bin/env bash
# Build the cluster's components from source through the Go module proxy, into
# $GAVEL_CACHE/<component>-<version>/bin. A component whose directory carries a
# .complete stamp is already built and is skipped, so a warm machine builds nothing.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

built() { [[ -f $1/.complete ]]; }
stamp() { date -u +%FT%TZ >"$1/.complete"; }

# The version ldflags of every Kubernetes binary (version checks, `kubectl version`).
k8s_ldflags() {
  local v=${KUBERNETES_VERSION#v} pkg=k8s.io/component-base/version cpkg=k8s.io/client-go/pkg/version
  local major=${v%%.*} minor=${v#*.}
  minor=${minor%%.*}
  local ld="-s -w" p
  for p in $pkg $cpkg; do
    ld+=" -X $p.gitVersion=$KUBERNETES_VERSION -X $p.gitMajor=$major -X $p.gitMinor=$minor"
    ld+=" -X $p.gitTreeState=clean -X $p.gitCommit=0000000000000000000000000000000000000000"
    ld+=" -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  echo "$ld"
}

build_kubernetes() {
  local dir=$GAVEL_CACHE/k8s-$KUBERNETES_VERSION
  built "$dir" && return 0
  local ld
  ld=$(k8s_ldflags)
  log "building Kubernetes $KUBERNETES_VERSION (kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy, kubectl) — cold: ~5 min on 2 cores"
  go_build "$CLUSTER_DIR/build/kubernetes" "$dir/bin.tmp" -ldflags "$ld" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet \
    k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kubectl
  rm -rf "${dir:?}/bin" && mv "$dir/bin.tmp" "$dir/bin" && stamp "$dir"
  log "Kubernetes built ($(elapsed))"
}

# kubeadm, for the kind node image only (kind provisions nodes with `kubeadm init/join`).
# Same version and version ldflags as the binaries above, but its own wrapper module
# (cluster/kind/build-kubeadm: kubeadm needs modules the other binaries do not) and its own
# cache directory, so the cached k8s-$KUBERNETES_VERSION binaries are never rebuilt for it.
# Not in the default list: `build-binaries.sh kubeadm` (cluster/kind-image.sh calls it).
build_kubeadm() {
  local dir=$GAVEL_CACHE/kubeadm-$KUBERNETES_VERSION
  built "$dir" && return 0
  log "building kubeadm $KUBERNETES_VERSION — cold: ~2 min"
  go_build "$CLUSTER_DIR/kind/build-kubeadm" "$dir/bin.tmp" -ldflags "$(k8s_ldflags)" k8s.io/kubernetes/cmd/kubeadm
  rm -rf "${dir:?}/bin" && mv "$dir/bin.tmp" "$dir/bin" && stamp "$dir"
  log "kubeadm built ($(elapsed))"
}

build_etcd() {
  local dir=$GAVEL_CACHE/etcd-$ETCD_VERSION
  built "$dir" && return 0
  log "building etcd $ETCD_VERSION — cold: ~1 min"
  go_build "$CLUSTER_DIR/build/etcd" "$dir/bin.tmp" -ldflags "-s -w" go.etcd.io/etcd/server/v3
  mv "$dir/bin.tmp/server" "$dir/bin.tmp/etcd" # go names the binary after ".../server/v3"
  rm -rf "${dir:?}/bin" && mv "$dir/bin.tmp" "$dir/bin" && stamp "$dir"
  log "etcd built ($(elapsed))"
}

build_kube_router() {
  local dir=$GAVEL_CACHE/kube-router-$KUBE_ROUTER_VERSION
  built "$dir" && return 0
  log "building kube-router $KUBE_ROUTER_VERSION (network policy controller) — cold: ~2.5 min"
  go_build "$CLUSTER_DIR/build/kube-router" "$dir/bin.tmp" -ldflags "-s -w" \
    github.com/cloudnativelabs/kube-router/v2/cmd/kube-router
  rm -rf "${dir:?}/bin" && mv "$dir/bin.tmp" "$dir/bin" && stamp "$dir"
  log "kube-router built ($(elapsed))"
}

build_coredns() {
  local dir=$GAVEL_CACHE/coredns-$COREDNS_VERSION
  built "$dir" && return 0
  log "building CoreDNS $COREDNS_VERSION — cold: ~1 min"
  go_build "$CLUSTER_DIR/build/coredns" "$dir/bin.tmp" -ldflags "-s -w" .
  rm -rf "${dir:?}/bin" && mv "$dir/bin.tmp" "$dir/bin" && stamp "$dir"
  log "CoreDNS built ($(elapsed))"
}

# One build at a time: `make test` starts one in the background (mk/prefetch.mk) while the
# runner tier runs; `cluster.sh up` then waits here for it and finds everything built.
mkdir -p "$GAVEL_CACHE/run"
exec 8>"$GAVEL_CACHE/run/build-binaries.lock"
flock -w 3600 8 || die "another build of the cluster's binaries has held $GAVEL_CACHE/run/build-binaries.lock for an hour"

what=${*:-kubernetes etcd kube_router coredns}
for w in $what; do "build_$w"; done
