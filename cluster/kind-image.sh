#!/usr/bin/env bash
# Build kind's node image offline: no container registry, only the binaries
# cluster/build-binaries.sh builds from the Go module proxy and Debian's packages.
#   1. kubeadm (build-binaries.sh kubeadm), beside the cached Kubernetes binaries;
#   2. the images kubeadm's control plane and the CNI run, tagged as kubeadm
#      `config images list` names them: kube-apiserver, kube-controller-manager,
#      kube-scheduler, kube-proxy, etcd, CoreDNS, pause (registry.k8s.io/…), and
#      kube-router ($KUBE_ROUTER_IMAGE) as CNI + NetworkPolicy enforcer;
#   3. the node: Debian bookworm (the repository's debootstrapped base) with systemd,
#      containerd, runc (through runc-nosysres), CNI plugins, kubelet/kubeadm/kubectl and
#      kind's conventions (cluster/kind/node), with the images of step 2 imported into its
#      containerd, committed as $KIND_OFFLINE_IMAGE.
# Everything runs in a dockerd of its own ($KIND_DOCKER_SOCK, data in $KIND_DOCKER_ROOT,
# so the image stays cached there); $KIND_IMAGE_DIR/.complete marks a finished build.
# Usage: kind-image.sh build | dockerd-up | dockerd-down | dockerd-running | status | regen-kubeadm
set -Eeuo pipefail
source "$(dirname "$0")/lib.sh"
export DOCKER_HOST=$KIND_DOCKER_HOST
trap 'die "failed at line $LINENO: $BASH_COMMAND"' ERR
IMPORT_CID="" # the image-import container while it exists: removed if the build fails
trap '[[ -z $IMPORT_CID ]] || docker rm -f "$IMPORT_CID" >/dev/null 2>&1' EXIT
KIND_DIR=$CLUSTER_DIR/kind

kdocker() { docker "$@"; } # (always $KIND_DOCKER_HOST: exported above)

dockerd_running() { [[ -S $KIND_DOCKER_SOCK ]] && docker info >/dev/null 2>&1; }
# Start the kind dockerd unless it runs. No iptables rules or masquerading (the host's
# netfilter belongs to the host cluster); published ports use docker-proxy on loopback.
dockerd_up() {
  dockerd_running && return 0
  command -v dockerd >/dev/null || die "dockerd missing: apt-get install docker.io"
  mkdir -p "$KIND_DOCKER_RUN" "$KIND_DOCKER_ROOT"
  echo '{}' >"$KIND_DOCKER_RUN/daemon.json" # never the host's /etc/docker/daemon.json
  install -m 0755 "$RUNC_WRAPPER_SRC" "$GAVEL_CACHE/bin/runc-nosysres" 2>/dev/null ||
    [[ -x $GAVEL_CACHE/bin/runc-nosysres ]] || die "no runc wrapper at $RUNC_WRAPPER_SRC"
  log "starting the kind dockerd ($KIND_DOCKER_SOCK)"
  (close_inherited_fds
   exec setsid dockerd --config-file "$KIND_DOCKER_RUN/daemon.json" -H "$KIND_DOCKER_HOST" \
    --data-root "$KIND_DOCKER_ROOT" --exec-root "$KIND_DOCKER_RUN/exec" --pidfile "$KIND_DOCKER_RUN/docker.pid" \
    --iptables=false --ip-masq=false --ip-forward=false --bridge=none \
    --default-address-pool "base=$KIND_DOCKER_POOL,size=24" \
    --add-runtime "gavel-runc=$GAVEL_CACHE/bin/runc-nosysres" --default-runtime gavel-runc) \
    >"$KIND_DOCKER_RUN/dockerd.log" 2>&1 </dev/null &
  local i
  for ((i = 0; i < 60; i++)); do dockerd_running && return 0; sleep 1; done
  die "the kind dockerd did not start: see $KIND_DOCKER_RUN/dockerd.log"
}
dockerd_down() {
  local pid
  pid=$(cat "$KIND_DOCKER_RUN/docker.pid" 2>/dev/null) || { log "the kind dockerd is not running"; return 0; }
  log "stopping the kind dockerd (pid $pid)"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  kill -0 "$pid" 2>/dev/null && die "the kind dockerd (pid $pid) did not stop"
  umount "$KIND_DOCKER_RUN/exec/netns/default" 2>/dev/null || true
  rm -f "$KIND_DOCKER_RUN/docker.pid"
}

have_image() { kdocker image inspect "$1" >/dev/null 2>&1; }

# The base, pause and CoreDNS images images.sh makes (from its cached archives when they
# exist), loaded into the kind dockerd. CLUSTER=local: the debootstrapped base, not a pull.
repo_images() {
  CLUSTER=local "$CLUSTER_DIR/images.sh" build base pause coredns
  local t f
  for t in "$PAUSE_IMAGE" "$COREDNS_IMAGE"; do
    have_image "$t" && continue
    f=$IMAGES_DIR/$(echo "$t" | tr '/:' '__').tar
    kdocker load -i "$f" >/dev/null
  done
}

# Images kubeadm names for this version (`kubeadm config images list`), by component.
kubeadm_image() { # component -> image reference
  "$KUBEADM_BIN/kubeadm" config images list --kubernetes-version "$KUBERNETES_VERSION" 2>/dev/null |
    grep -E "/$1:" | head -1
}

component_image() { # tag, packages, binary...
  local tag=$1 pkgs=$2 ctx
  shift 2
  # (built by this revision of cluster/kind: the label says so; Docker's layer cache keeps
  # a rebuild of an unchanged image quick)
  [[ $(kdocker image inspect -f '{{index .Config.Labels "gavel.kind-rev"}}' "$tag" 2>/dev/null) == "$KIND_IMAGE_REV" ]] && return 0
  ctx=$(mktemp -d /var/tmp/gavel-kind-ctx.XXXXXX)
  mkdir "$ctx/bin" && cp "$@" "$ctx/bin/" && cp "$KIND_DIR/component/Dockerfile" "$ctx/"
  log "docker build $tag"
  kdocker build -q --network host --build-arg "BASE=$BASE_IMAGE" --build-arg "PKGS=$pkgs" \
    --label "gavel.kind-rev=$KIND_IMAGE_REV" -t "$tag" "$ctx" \
    >"$KIND_IMAGE_DIR/build-$(basename "$tag" | tr ':' '_').log" 2>&1 ||
    { rm -rf "$ctx"; die "docker build $tag failed: see $KIND_IMAGE_DIR/"; }
  rm -rf "$ctx"
}

build_images() {
  local etcd_ref net_pkgs="iptables ipset conntrack iproute2 kmod"
  component_image "$(kubeadm_image kube-apiserver)" "" "$K8S_BIN/kube-apiserver"
  component_image "$(kubeadm_image kube-controller-manager)" "" "$K8S_BIN/kube-controller-manager"
  component_image "$(kubeadm_image kube-scheduler)" "" "$K8S_BIN/kube-scheduler"
  component_image "$(kubeadm_image kube-proxy)" "$net_pkgs" "$K8S_BIN/kube-proxy"
  component_image "$KUBE_ROUTER_IMAGE" "$net_pkgs" "$KUBE_ROUTER_BIN/kube-router"
  # kubeadm 1.34 asks for etcd 3.6.5-0; the cache's etcd is $ETCD_VERSION (same 3.6 line).
  # Tag it both ways: kubeadm's name (so a bare `kind create cluster --image` works) and
  # its true version (cluster/kind.sh points kubeadm's etcd imageTag at that one).
  etcd_ref=$(kubeadm_image etcd)
  component_image "registry.k8s.io/etcd:${ETCD_VERSION#v}-0" "" "$ETCD_BIN/etcd"
  kdocker tag "registry.k8s.io/etcd:${ETCD_VERSION#v}-0" "$etcd_ref"
  kdocker tag "$COREDNS_IMAGE" "$(kubeadm_image coredns)"
  kdocker tag "$PAUSE_IMAGE" "$(kubeadm_image pause)"
  mapfile -t PRELOAD < <("$KUBEADM_BIN/kubeadm" config images list --kubernetes-version "$KUBERNETES_VERSION" 2>/dev/null)
  PRELOAD+=("registry.k8s.io/etcd:${ETCD_VERSION#v}-0" "$KUBE_ROUTER_IMAGE")
}

build_node() {
  local ctx stage=gavel.local/kind-node-stage:$KUBERNETES_VERSION-$KIND_IMAGE_REV cid
  ctx=$(mktemp -d /var/tmp/gavel-kind-ctx.XXXXXX)
  cp -a "$KIND_DIR/node/." "$ctx/"
  mkdir -p "$ctx/bin" "$ctx/files/kind/manifests"
  cp "$K8S_BIN/kubelet" "$K8S_BIN/kubectl" "$KUBEADM_BIN/kubeadm" "$ctx/bin/"
  cp "$GAVEL_CACHE/bin/runc-nosysres" "$ctx/runc-nosysres"
  sed -e "s#@KUBE_ROUTER_IMAGE@#$KUBE_ROUTER_IMAGE#g" -e "s#@SERVICE_SUBNET@#$KIND_SERVICE_SUBNET#g" \
    "$KIND_DIR/manifests/default-cni.yaml" >"$ctx/files/kind/manifests/default-cni.yaml"
  cp "$KIND_DIR/manifests/default-storage.yaml" "$ctx/files/kind/manifests/"
  log "docker build the node's first stage ($stage)"
  kdocker build --network host --build-arg "BASE=$BASE_IMAGE" --build-arg "KUBERNETES_VERSION=$KUBERNETES_VERSION" \
    -t "$stage" "$ctx" >"$KIND_IMAGE_DIR/build-node.log" 2>&1 ||
    { rm -rf "$ctx"; tail -20 "$KIND_IMAGE_DIR/build-node.log" >&2; die "node build failed: see $KIND_IMAGE_DIR/build-node.log"; }
  rm -rf "$ctx"

  # Import the images into the node's containerd the way kind's `build node-image` does
  # (pkg/build/nodeimage/imageimporter.go): a container of the stage, containerd started
  # by hand, `ctr images import --no-unpack` (content only: the CRI plugin unpacks an image
  # the first time a container uses it), pinned so the kubelet's image GC keeps them, then
  # `docker commit` (which keeps the stage's STOPSIGNAL). No /var volume here: the commit must
  # keep /var/lib/containerd.
  log "importing ${#PRELOAD[@]} images into the node's containerd"
  cid=$(kdocker run -d --privileged --entrypoint sleep "$stage" infinity)
  IMPORT_CID=$cid
  kdocker exec "$cid" bash -c 'nohup containerd >/tmp/containerd.log 2>&1 & for i in $(seq 30); do ctr version >/dev/null 2>&1 && exit 0; sleep 1; done; cat /tmp/containerd.log; exit 1'
  kdocker save "${PRELOAD[@]}" |
    kdocker exec -i "$cid" ctr -n k8s.io images import --label io.cri-containerd.pinned=pinned \
      --all-platforms --no-unpack --digests - >/dev/null
  kdocker exec "$cid" ctr -n k8s.io images ls -q | grep -v -e '^sha256:' -e '^import-' >"$KIND_IMAGE_DIR/preloaded.txt"
  # (sleep is PID 1 and reaps nothing: a stopped containerd stays a zombie, state Z)
  kdocker exec "$cid" bash -c 'pkill -x containerd; for i in $(seq 30); do ps -C containerd -o stat= | grep -qv Z || exit 0; sleep 1; done; exit 1'
  kdocker commit \
    --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' --change 'CMD []' \
    --change 'ENV container=docker' \
    "$cid" "$KIND_OFFLINE_IMAGE" >/dev/null
  kdocker rm -f "$cid" >/dev/null
  IMPORT_CID=""
  kdocker rmi "$stage" >/dev/null
}

# Rewrite cluster/kind/build-kubeadm/go.mod + go.sum from cluster/build/kubernetes (run
# after cluster/build/regen-kubernetes.sh): same requirements and staging replaces, plus
# what kubeadm needs on top.
regen_kubeadm() {
  local dir=$KIND_DIR/build-kubeadm
  {
    echo "// Wrapper module that builds kubeadm (for the kind node image) from the Go module proxy:"
    echo "// cluster/build/kubernetes/go.mod (see there) plus kubeadm's own dependencies."
    echo "// Generated by \`cluster/kind-image.sh regen-kubeadm\`."
    grep -v '^//' "$CLUSTER_DIR/build/kubernetes/go.mod" | sed 's#^module .*#module gavel.local/cluster/kind/build-kubeadm#'
  } >"$dir/go.mod"
  cp "$CLUSTER_DIR/build/kubernetes/go.sum" "$dir/go.sum"
  (cd "$dir" && GOFLAGS="-mod=mod -modcacherw" GOMODCACHE=${GAVEL_GOMODCACHE:-$GAVEL_CACHE/go/mod} go mod tidy)
  log "regenerated $dir/go.mod and go.sum"
}

build() {
  if [[ -f $KIND_IMAGE_DIR/.complete ]] && dockerd_up && have_image "$KIND_OFFLINE_IMAGE"; then
    log "kind node image $KIND_OFFLINE_IMAGE is built"
    return 0
  fi
  mkdir -p "$KIND_IMAGE_DIR"
  "$CLUSTER_DIR/build-binaries.sh" kubernetes etcd kube_router coredns kubeadm
  dockerd_up
  repo_images
  build_images
  build_node
  printf '%s\n' "$KIND_OFFLINE_IMAGE" >"$KIND_IMAGE_DIR/image"
  # Node images of earlier revisions (over a gigabyte each) go; their stamps with them.
  local old
  for old in $(kdocker images --format '{{.Repository}}:{{.Tag}}' "${KIND_OFFLINE_IMAGE%%:*}"); do
    [[ $old == "$KIND_OFFLINE_IMAGE" ]] || { log "removing $old"; kdocker rmi "$old" >/dev/null 2>&1 || true; }
  done
  kdocker image prune -f >/dev/null # (an image rebuilt under the same tag leaves the old one untagged)
  for old in "$GAVEL_CACHE"/kind-node-*; do
    [[ $old == "$KIND_IMAGE_DIR" ]] || rm -rf "$old"
  done
  date -u +%FT%TZ >"$KIND_IMAGE_DIR/.complete"
  log "kind node image $KIND_OFFLINE_IMAGE built ($(elapsed)); preloaded: $(paste -sd' ' "$KIND_IMAGE_DIR/preloaded.txt")"
}

case ${1:-} in
  build) build ;;
  dockerd-up) dockerd_up ;;
  dockerd-down) dockerd_down ;;
  dockerd-running) dockerd_running ;;
  regen-kubeadm) regen_kubeadm ;;
  status)
    if dockerd_running; then echo "dockerd: running ($KIND_DOCKER_SOCK)"; else echo "dockerd: not running"; fi
    if [[ -f $KIND_IMAGE_DIR/.complete ]]; then echo "image: $KIND_OFFLINE_IMAGE (built $(cat "$KIND_IMAGE_DIR/.complete"))"; else echo "image: not built"; fi ;;
  *) die "usage: kind-image.sh build | dockerd-up | dockerd-down | dockerd-running | status | regen-kubeadm" ;;
esac
