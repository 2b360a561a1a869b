# Shared settings and helpers for cluster/*.sh. Source it; do not run it.
# shellcheck shell=bash disable=SC2034 # (the variables are for the scripts that source this)
CLUSTER_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$CLUSTER_DIR/.." && pwd)
# shellcheck source=versions.env
source "$CLUSTER_DIR/versions.env"

# Everything built (binaries, images) lives under $GAVEL_CACHE, keyed by version: a warm
# machine does not rebuild. Runtime state (etcd data, certs, containerd, kubelet) lives
# under $GAVEL_STATE and is wiped by `make cluster-down`.
GAVEL_CACHE=${GAVEL_CACHE:-/var/cache/gavel}
# The kind route keeps its own (its kubeconfig), so both clusters can run side by side.
if [[ ${CLUSTER:-local} == kind ]]; then GAVEL_STATE=${GAVEL_STATE:-/var/lib/gavel-kind}; fi
GAVEL_STATE=${GAVEL_STATE:-/var/lib/gavel-cluster}
K8S_BIN=$GAVEL_CACHE/k8s-$KUBERNETES_VERSION/bin
ETCD_BIN=$GAVEL_CACHE/etcd-$ETCD_VERSION/bin
KUBE_ROUTER_BIN=$GAVEL_CACHE/kube-router-$KUBE_ROUTER_VERSION/bin
COREDNS_BIN=$GAVEL_CACHE/coredns-$COREDNS_VERSION/bin
IMAGES_DIR=$GAVEL_CACHE/images
KUBECONFIG_PATH=$GAVEL_STATE/kubeconfig
LOG_DIR=$GAVEL_STATE/logs
PID_DIR=$GAVEL_STATE/pids
# The runc wrapper this machine needs (root lacks CAP_SYS_RESOURCE): shared/ sits beside the repo.
RUNC_WRAPPER_SRC=${RUNC_WRAPPER_SRC:-$REPO_DIR/../shared/machine/runc-nosysres}

# Run a command (exec) with no file descriptor above 2. A daemon started under `flock FILE make …`
# (flock(1) leaves its lock open across exec) would otherwise hold that lock for as long as it runs:
# a kind dockerd did, and every later `flock /work/cluster.lock …` waited for good.
no_inherited_fds() {
  local fd
  for fd in /proc/$BASHPID/fd/*; do
    fd=${fd##*/}
    ((fd > 2)) && eval "exec $fd>&-" 2>/dev/null
  done
  exec "$@"
}

# Network layout of the single node.
CLUSTER_CIDR=10.244.0.0/16
POD_CIDR=10.244.0.0/24 # the node's share of CLUSTER_CIDR (the controller-manager allocates the first /24)
SERVICE_CIDR=10.96.0.0/16
APISERVER_SERVICE_IP=10.96.0.1
DNS_SERVICE_IP=10.96.0.10
CLUSTER_DOMAIN=cluster.local
NODE_NAME=gavel-node
CNI_BRIDGE=gavel0
CONTAINERD_SOCK=/run/gavel-containerd/containerd.sock
# Ports of the host-process control plane (loopback except the API server, which the
# pods reach through the kubernetes Service, so it binds the node address too).
APISERVER_PORT=6443
ETCD_CLIENT_PORT=2379
ETCD_PEER_PORT=2380

log() { printf '[cluster] %s\n' "$*" >&2; }
die() { printf '[cluster] ERROR: %s\n' "$*" >&2; exit 1; }
# Time since the script started, for progress lines.
elapsed() { printf '%dm%02ds' $((SECONDS / 60)) $((SECONDS % 60)); }

# Run a go build in a wrapper module with a low priority (a cold build takes most of
# the machine for a long time).
go_build() { # $1: module dir, $2: output dir, rest: go build arguments
  local mod=$1 out=$2
  shift 2
  command -v go >/dev/null || die "go is not on PATH (needed to build the components; Go >= 1.24)"
  mkdir -p "$out"
  # Go's module and build caches live in the cache too: an empty $GAVEL_CACHE is a cold build.
  (cd "$mod" && CGO_ENABLED=0 GOFLAGS="-mod=readonly -modcacherw" \
    GOCACHE=${GAVEL_GOCACHE:-$GAVEL_CACHE/go/build-cache} GOMODCACHE=${GAVEL_GOMODCACHE:-$GAVEL_CACHE/go/mod} \
    nice -n 10 go build -p "${GO_BUILD_P:-2}" -trimpath -o "$out/" "$@")
}

# The offline kind route (CLUSTER=kind where no container registry is reachable):
# cluster/kind-image.sh builds a node image from the binaries above, cluster/kind.sh runs it.
KUBEADM_BIN=$GAVEL_CACHE/kubeadm-$KUBERNETES_VERSION/bin
# Bump when anything under cluster/kind/ changes: the node image and its stamp are keyed by it.
KIND_IMAGE_REV=4
KIND_OFFLINE_IMAGE=gavel.local/kind-node:$KUBERNETES_VERSION-$KIND_IMAGE_REV
KIND_IMAGE_DIR=$GAVEL_CACHE/kind-node-$KUBERNETES_VERSION-$KIND_IMAGE_REV
KUBE_ROUTER_IMAGE=gavel.local/kube-router:$KUBE_ROUTER_VERSION
# kind's nodes run in a dockerd of their own (never the host's default engine, which
# cluster/images.sh starts and stops for its builds): own socket, data under the cache
# (so built node images survive), runtime state under /run, no iptables rules, no docker0;
# its networks come from 172.30.0.0/16.
KIND_DOCKER_SOCK=/run/gavel-kind/docker.sock
KIND_DOCKER_HOST=unix://$KIND_DOCKER_SOCK
KIND_DOCKER_ROOT=$GAVEL_CACHE/kind-docker
KIND_DOCKER_RUN=/run/gavel-kind
KIND_DOCKER_POOL=172.30.0.0/16
# The kind cluster's pod and service subnets: apart from the host cluster's (CLUSTER_CIDR,
# SERVICE_CIDR), because the host bridges netfilter traffic (br_netfilter) and its
# kube-router/kube-proxy rules would otherwise match the kind pods' packets.
KIND_POD_SUBNET=10.250.0.0/16
KIND_SERVICE_SUBNET=10.251.0.0/16
