#!/usr/bin/env bash
# The kind route (CLUSTER=kind): Kubernetes in Docker containers, one per node.
#   KIND_OFFLINE=1 (default): the node image cluster/kind-image.sh builds from source with
#     no container registry ($KIND_OFFLINE_IMAGE), run by kind's own dockerd
#     ($KIND_DOCKER_SOCK, never the host's default engine); kube-router is the CNI and
#     NetworkPolicy enforcer. docs/kind-offline.md.
#   KIND_OFFLINE=0: upstream's node image ($KIND_NODE_IMAGE, pulled from a registry) on the
#     default Docker engine, whose kindnet CNI enforces NetworkPolicy.
# KIND_NODES (default 3): node count; the first is the control plane, the others workers
# (two workers: what tests/nodes needs to move work between nodes).
# Gavel's images are built the same way as offline and loaded with `kind load`.
# Usage: kind.sh up|down|load-archive FILE
set -euo pipefail
export CLUSTER=kind # (lib.sh: the kind route's own $GAVEL_STATE)
source "$(dirname "$0")/lib.sh"
KIND_CLUSTER=${KIND_CLUSTER:-gavel}
KIND=$GAVEL_CACHE/kind-$KIND_VERSION/bin/kind
KIND_OFFLINE=${KIND_OFFLINE:-1}
KIND_NODES=${KIND_NODES:-3}
[[ $KIND_NODES =~ ^[1-9][0-9]*$ ]] || die "KIND_NODES must be a positive number, not $KIND_NODES"

ensure_kind() {
  [[ -x $KIND ]] && return 0
  command -v kind >/dev/null && { KIND=$(command -v kind); return 0; }
  log "building kind $KIND_VERSION (go install)"
  GOBIN=$(dirname "$KIND") go install "sigs.k8s.io/kind@$KIND_VERSION"
}

if [[ $KIND_OFFLINE == 1 ]]; then
  export DOCKER_HOST=$KIND_DOCKER_HOST
fi

# kind's cluster configuration: the node count, subnets apart from the host cluster's, and
# (offline) the etcd tag the offline image carries under its true version.
kind_config() {
  local i
  echo "kind: Cluster"
  echo "apiVersion: kind.x-k8s.io/v1alpha4"
  echo "nodes:"
  echo "- role: control-plane"
  for ((i = 1; i < KIND_NODES; i++)); do echo "- role: worker"; done
  cat <<EOF
networking:
  ipFamily: ipv4
  podSubnet: $KIND_POD_SUBNET
  serviceSubnet: $KIND_SERVICE_SUBNET
EOF
  # every pod's tasks at most 1024 (the pids cgroup), as on the local cluster (up.sh)
  cat <<EOF
kubeadmConfigPatches:
- |
  kind: KubeletConfiguration
  podPidsLimit: 1024
EOF
  [[ $KIND_OFFLINE == 1 ]] || return 0
  cat <<EOF
- |
  kind: ClusterConfiguration
  etcd:
    local:
      imageTag: ${ETCD_VERSION#v}-0
EOF
}

# This host reaches the cluster's Services and pods as it does on the local route (the
# tiers talk to the bundled MinIO's cluster IP, pods reach the tests' servers on the host):
# routes to the service subnet through the control-plane node (its kube-proxy masquerades
# off-cluster clients) and to each node's pod subnet through that node. They go when the
# kind network's bridge goes (`down`).
host_routes() {
  local cp_ip cidr ip
  cp_ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$KIND_CLUSTER-control-plane")
  [[ -n $cp_ip ]] || die "no address for $KIND_CLUSTER-control-plane"
  ip route replace "$KIND_SERVICE_SUBNET" via "$cp_ip"
  while read -r cidr ip; do
    [[ -n $cidr && -n $ip ]] && ip route replace "$cidr" via "$ip"
  done < <(docker exec "$KIND_CLUSTER-control-plane" kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes \
    -o jsonpath='{range .items[*]}{.spec.podCIDR} {.status.addresses[?(@.type=="InternalIP")].address}{"\n"}{end}')
}

# The API server through the host's kubeconfig (the path the tests take: docker-proxy on
# loopback to the control-plane node), answering /readyz three times in a row. Loading a 2 GB
# image into every node loads the control plane's disk too; a CI run once met a reset connection
# right after it, so every `up` and every load ends here. On a timeout, say what the node saw.
wait_api() {
  local kubectl ok=0 i within=${1:-180}
  kubectl=$("$CLUSTER_DIR/cluster.sh" kubectl)
  for ((i = 0; i < within; i++)); do
    if "$kubectl" --kubeconfig "$KUBECONFIG_PATH" get --raw=/readyz >/dev/null 2>&1; then
      ((++ok >= 3)) && return 0
    else
      ok=0
    fi
    sleep 1
  done
  [[ ${2:-} == quiet ]] && return 1
  docker exec "$KIND_CLUSTER-control-plane" crictl ps -a 2>&1 | grep -E 'kube-apiserver|etcd' >&2 || true
  die "the API server at $(awk '/server:/ {print $2; exit}' "$KUBECONFIG_PATH") did not answer /readyz for 3 s in a row within $within s"
}

case ${1:-} in
  up)
    ensure_kind
    mkdir -p "$GAVEL_STATE"
    image=$KIND_NODE_IMAGE
    if [[ $KIND_OFFLINE == 1 ]]; then
      "$CLUSTER_DIR/kind-image.sh" build
      image=$KIND_OFFLINE_IMAGE
    fi
    # A cluster left from before a restart of the machine or of kind's dockerd has its
    # containers back but not its API server (CI stop 22: "connection refused" for 180 s):
    # one that does not answer within a minute is deleted and made again.
    # (The images it held are loaded again: load-archive's stamp names the node containers.)
    running=0
    if "$KIND" get clusters 2>/dev/null | grep -qx "$KIND_CLUSTER"; then
      "$KIND" get kubeconfig --name "$KIND_CLUSTER" >"$KUBECONFIG_PATH"
      if wait_api 60 quiet; then
        running=1
        log "kind cluster $KIND_CLUSTER already running"
      else
        log "kind cluster $KIND_CLUSTER exists but its API server does not answer: deleting it"
        "$KIND" delete cluster --name "$KIND_CLUSTER"
      fi
    fi
    if ((!running)); then
      kind_config >"$GAVEL_STATE/kind-config.yaml"
      log "kind create cluster $KIND_CLUSTER ($KIND_NODES node(s), $image)"
      "$KIND" create cluster --name "$KIND_CLUSTER" --image "$image" --config "$GAVEL_STATE/kind-config.yaml" \
        --kubeconfig "$KUBECONFIG_PATH" --wait 300s
      # kind waits for the control plane only: wait for every node and for cluster DNS too,
      # so that the cluster is usable when this returns (kubectl of the control-plane node,
      # which both node images carry).
      log "waiting for $KIND_NODES node(s) Ready and CoreDNS available"
      docker exec "$KIND_CLUSTER-control-plane" kubectl --kubeconfig /etc/kubernetes/admin.conf \
        wait --for=condition=Ready node --all --timeout=300s >/dev/null
      docker exec "$KIND_CLUSTER-control-plane" kubectl --kubeconfig /etc/kubernetes/admin.conf \
        -n kube-system rollout status deployment/coredns --timeout=300s >/dev/null
      log "kind cluster $KIND_CLUSTER ready ($(elapsed))"
    fi
    host_routes
    wait_api
    echo "$KUBECONFIG_PATH" ;;
  down)
    ensure_kind
    if [[ $KIND_OFFLINE == 1 ]] && ! "$CLUSTER_DIR/kind-image.sh" dockerd-running; then
      log "the kind dockerd is not running: no kind cluster to delete"
    else
      "$KIND" delete cluster --name "$KIND_CLUSTER"
      # Nothing of kind's stays running: its dockerd stops too (its data, with the built
      # node image, stays in $KIND_DOCKER_ROOT).
      if [[ $KIND_OFFLINE == 1 ]]; then
        # kind keeps its Docker network (a bridge interface on the host) for the next
        # cluster; remove it when nothing else uses it, so no interface stays behind.
        docker network rm kind >/dev/null 2>&1 || true
        "$CLUSTER_DIR/kind-image.sh" dockerd-down
      fi
    fi
    rm -rf "$KUBECONFIG_PATH" "$GAVEL_STATE/kind-config.yaml" "$GAVEL_STATE/loaded" ;;
  load-archive)
    ensure_kind
    # An archive whose images these very nodes hold already is not loaded again (the runner
    # image is 2 GB: minutes into each node). Key: the images' config digests (a rebuild that
    # changed nothing keeps them) and the node containers' IDs (a new cluster has new ones).
    nodes=$(docker ps -aq --no-trunc --filter "label=io.x-k8s.kind.cluster=$KIND_CLUSTER" | sort | tr '\n' ' ')
    key="$(tar -xOf "$2" manifest.json | jq -c '[.[].Config]') $nodes"
    stamp=$GAVEL_STATE/loaded/$(basename "$2")
    if [[ -f $stamp && $(cat "$stamp") == "$key" ]]; then
      log "$(basename "$2"): the nodes hold these images already"
      exit 0
    fi
    "$KIND" load image-archive --name "$KIND_CLUSTER" "$2"
    wait_api
    mkdir -p "$GAVEL_STATE/loaded"
    echo "$key" >"$stamp" ;;
  *) die "usage: kind.sh up|down|load-archive FILE" ;;
esac
