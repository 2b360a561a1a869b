#!/usr/bin/env bash
# Bring up a single-node Kubernetes cluster as host processes, the way Kubernetes'
# hack/local-up-cluster.sh does: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, a kubelet on Debian's containerd (runc via the runc-nosysres wrapper),
# the bridge CNI plugin (a network namespace per pod), kube-proxy (iptables),
# kube-router's network policy controller, and CoreDNS as a Deployment.
# Idempotent: on a healthy running cluster it only prints the kubeconfig path.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

is_running() { local p; p=$(cat "$PID_DIR/$1.pid" 2>/dev/null) && kill -0 "$p" 2>/dev/null; }
COMPONENTS=(etcd containerd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kube-router)
kubectl() { "$K8S_BIN/kubectl" --kubeconfig "$KUBECONFIG_PATH" "$@"; }

healthy() {
  local c
  for c in "${COMPONENTS[@]}"; do is_running "$c" || return 1; done
  kubectl get --raw /readyz >/dev/null 2>&1 &&
    [[ $(kubectl get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == True ]]
}

# Start a component in the background, detached, logging to $LOG_DIR/<name>.log.
start() { # name, command...
  local name=$1
  shift
  log "starting $name"
  (close_inherited_fds; exec setsid "$@") >>"$LOG_DIR/$name.log" 2>&1 </dev/null &
  echo $! >"$PID_DIR/$name.pid"
}

wait_for() { # description, timeout seconds, command...
  local what=$1 timeout=$2 i
  shift 2
  for ((i = 0; i < timeout; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 1
  done
  die "timed out after ${timeout}s waiting for $what (logs: $LOG_DIR)"
}

if [[ -f $KUBECONFIG_PATH && -x $K8S_BIN/kubectl ]] && healthy; then
  log "cluster already running"
  echo "$KUBECONFIG_PATH"
  exit 0
fi

"$CLUSTER_DIR/prereqs.sh"
if [[ -e $GAVEL_STATE || -e /run/gavel-containerd ]] || ip link show "$CNI_BRIDGE" >/dev/null 2>&1; then
  log "leftovers of an earlier cluster found: cleaning them first"
  "$CLUSTER_DIR/down.sh"
fi
"$CLUSTER_DIR/build-binaries.sh"

# The node's address: the first IPv4 address of the default route's interface (or of any).
dev=$(ip -4 route show default | awk '{for (i = 1; i < NF; i++) if ($i == "dev") {print $(i + 1); exit}}')
node_ip=$(ip -4 -o addr show ${dev:+dev "$dev"} scope global | awk '{print $4}' | cut -d/ -f1 | head -1)
[[ -n $node_ip ]] || die "no IPv4 address for the node"
log "node $NODE_NAME, address $node_ip"

mkdir -p "$GAVEL_STATE" "$LOG_DIR" "$PID_DIR" "$GAVEL_STATE/cni/net.d" "$GAVEL_STATE/config"
"$CLUSTER_DIR/pki.sh" "$node_ip"
pki=$GAVEL_STATE/pki cfg=$GAVEL_STATE/config

# Kernel settings Kubernetes networking needs (they are host-wide and stay set).
sysctl -qw net.ipv4.ip_forward=1
[[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]] || modprobe br_netfilter 2>/dev/null || true
sysctl -qw net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1

# ---- etcd ------------------------------------------------------------------------------
start etcd "$ETCD_BIN/etcd" --name gavel --data-dir "$GAVEL_STATE/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "gavel=http://127.0.0.1:$ETCD_PEER_PORT" --listen-metrics-urls "" \
  --quota-backend-bytes 2147483648 --log-level warn

# ---- containerd (a private instance: its own socket, root and state) -----------------
cat >"$cfg/containerd.toml" <<TOML
version = 2
root = "$GAVEL_STATE/containerd"
state = "/run/gavel-containerd"
[grpc]
  address = "$CONTAINERD_SOCK"
[ttrpc]
  address = "/run/gavel-containerd/containerd.sock.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$GAVEL_STATE/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$GAVEL_CACHE/bin/runc-nosysres"
        SystemdCgroup = false
TOML
# gVisor's runtime handler runsc (RuntimeClass gvisor), once cluster/gvisor.sh has built it.
"$CLUSTER_DIR/gvisor.sh" containerd-config >>"$cfg/containerd.toml"
cat >"$GAVEL_STATE/cni/net.d/10-gavel.conflist" <<JSON
{
  "cniVersion": "0.4.0",
  "name": "gavel",
  "plugins": [
    {
      "type": "bridge", "bridge": "$CNI_BRIDGE", "isGateway": true, "ipMasq": true, "hairpinMode": true,
      "ipam": {"type": "host-local", "dataDir": "$GAVEL_STATE/cni/ipam",
               "ranges": [[{"subnet": "$POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}]}
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
JSON
# Every image is local. A pod naming a missing image must fail without reaching out to any
# registry (nor looking one up): containerd's pulls go to a proxy on a closed loopback port.
# (containerd 1.6 has no catch-all registry host configuration; 1.7+ has certs.d/_default.)
start containerd env HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY= \
  containerd --config "$cfg/containerd.toml"

# ---- kube-apiserver --------------------------------------------------------------------
wait_for etcd 60 curl -sf "http://127.0.0.1:$ETCD_CLIENT_PORT/health"
start kube-apiserver "$K8S_BIN/kube-apiserver" \
  --etcd-servers "http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --bind-address 0.0.0.0 --secure-port "$APISERVER_PORT" --advertise-address "$node_ip" \
  --service-cluster-ip-range "$SERVICE_CIDR" \
  --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
  --client-ca-file "$pki/ca.crt" \
  --kubelet-client-certificate "$pki/apiserver-kubelet-client.crt" --kubelet-client-key "$pki/apiserver-kubelet-client.key" \
  --service-account-issuer "https://kubernetes.default.svc.$CLUSTER_DOMAIN" \
  --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
  --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
  --kubelet-preferred-address-types InternalIP,Hostname \
  --allow-privileged=true --profiling=false
wait_for "kube-apiserver /readyz" 120 kubectl get --raw /readyz

# ---- controller-manager and scheduler --------------------------------------------------
# The controller-manager's client at 100 requests/s, not its default 20: the Job controller
# spends about six requests on a Job (its pod, status updates, the pod's finalizer, Events), so
# the default held a burst to ~3.3 Jobs a second however fast the operator went (make
# bench-scale, README). Large control planes raise it so; this one does, so that the scale tier
# and its bench measure the operator.
start kube-controller-manager "$K8S_BIN/kube-controller-manager" \
  --kubeconfig "$pki/controller-manager.kubeconfig" \
  --authentication-kubeconfig "$pki/controller-manager.kubeconfig" --authorization-kubeconfig "$pki/controller-manager.kubeconfig" \
  --bind-address 127.0.0.1 --leader-elect=false \
  --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
  --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
  --use-service-account-credentials=true \
  --allocate-node-cidrs=true --cluster-cidr "$CLUSTER_CIDR" --node-cidr-mask-size 24 \
  --service-cluster-ip-range "$SERVICE_CIDR" \
  --kube-api-qps 100 --kube-api-burst 200
start kube-scheduler "$K8S_BIN/kube-scheduler" --kubeconfig "$pki/scheduler.kubeconfig" \
  --authentication-kubeconfig "$pki/scheduler.kubeconfig" --authorization-kubeconfig "$pki/scheduler.kubeconfig" \
  --bind-address 127.0.0.1 --leader-elect=false

# ---- kubelet ---------------------------------------------------------------------------
wait_for containerd 60 ctr -a "$CONTAINERD_SOCK" version
"$CLUSTER_DIR/images.sh" load pause coredns
cat >"$cfg/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# cgroup v1 (this host) with the cgroupfs driver: fine on 1.34 (1.35+ needs failCgroupV1: false).
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $pki/ca.crt}
authorization: {mode: Webhook}
clusterDomain: $CLUSTER_DOMAIN
clusterDNS: [$DNS_SERVICE_IP]
resolvConf: /etc/resolv.conf
failSwapOn: false
# The last wall against a fork bomb (README, "Threads and processes"): every pod's tasks at most this
# many (the pids cgroup). Above ceilings.maxProcesses (256) plus a checker's or an interactor's and
# the runner's own, so that a bomb at its limit leaves the runner room to judge it.
podPidsLimit: 1024
oomScoreAdj: 0
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
serializeImagePulls: false
# The images are local only: never garbage-collect them, never evict for a full disk
# unless it is really full.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
YAML
start kubelet "$K8S_BIN/kubelet" --config "$cfg/kubelet.yaml" --kubeconfig "$pki/kubelet.kubeconfig" \
  --hostname-override "$NODE_NAME" --node-ip "$node_ip" \
  --root-dir "$GAVEL_STATE/kubelet" --cert-dir "$GAVEL_STATE/kubelet/pki"

# ---- kube-proxy and the network policy controller --------------------------------------
cat >"$cfg/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $pki/kube-proxy.kubeconfig}
mode: iptables
clusterCIDR: $CLUSTER_CIDR
hostnameOverride: $NODE_NAME
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
oomScoreAdj: 0
conntrack: {maxPerCore: 0, min: 0}
YAML
start kube-proxy "$K8S_BIN/kube-proxy" --config "$cfg/kube-proxy.yaml"
# cluster RBAC for kube-router, CoreDNS and the like.
wait_for "the node to register" 120 kubectl get node "$NODE_NAME"
for f in "$CLUSTER_DIR"/addons/*.yaml; do
  sed -e "s|@COREDNS_IMAGE@|$COREDNS_IMAGE|g; s|@DNS_SERVICE_IP@|$DNS_SERVICE_IP|g; s|@CLUSTER_DOMAIN@|$CLUSTER_DOMAIN|g" "$f"
  echo ---
done | kubectl apply -f - >/dev/null
"$CLUSTER_DIR/gvisor.sh" runtimeclass
start kube-router "$KUBE_ROUTER_BIN/kube-router" --kubeconfig "$pki/kube-router.kubeconfig" \
  --hostname-override "$NODE_NAME" --run-firewall=true --run-router=false --run-service-proxy=false \
  --enable-cni=false --enable-pod-egress=false --enable-overlay=false --enable-ibgp=false --service-cluster-ip-range "$SERVICE_CIDR" --health-port 20244 --metrics-port 0

# Pod traffic crosses the host's FORWARD chain; Docker (if running) sets its policy to
# DROP. Accept the pod bridge's traffic at the end of FORWARD (policy chains come first).
for dir in -i -o; do
  iptables -C FORWARD "$dir" "$CNI_BRIDGE" -m comment --comment gavel-cluster -j ACCEPT 2>/dev/null ||
    iptables -A FORWARD "$dir" "$CNI_BRIDGE" -m comment --comment gavel-cluster -j ACCEPT
done

wait_for "node $NODE_NAME Ready" 180 \
  bash -c "[[ \$('$K8S_BIN/kubectl' --kubeconfig '$KUBECONFIG_PATH' get node $NODE_NAME -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}') == True ]]"
wait_for "CoreDNS" 180 kubectl -n kube-system rollout status deployment/coredns --timeout 1s
healthy || die "cluster came up but is not healthy (logs: $LOG_DIR)"
log "cluster ready ($(elapsed)); kubeconfig:"
echo "$KUBECONFIG_PATH"
