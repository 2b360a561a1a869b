#!/usr/bin/env bash
# Remove everything `make cluster` started: processes (components, containerd shims and
# every container), mounts, the pod bridge and network namespaces, the iptables/ipset
# state of kube-proxy, kube-router and the CNI plugins, and the cluster's state directory.
# Works on a running cluster and on the leftovers of a killed one; safe to run twice.
# Leaves alone: the build cache ($GAVEL_CACHE), Debian packages, host sysctls, and
# anything Docker or other programs set up.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

pid_of() { cat "$PID_DIR/$1.pid" 2>/dev/null || true; }
stop() { # names: SIGTERM to all, then SIGKILL to those still running after 10 s
  local name pid pids=()
  for name in "$@"; do
    pid=$(pid_of "$name")
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || continue
    log "stopping $name (pid $pid)"
    kill "$pid" 2>/dev/null || true
    pids+=("$pid")
  done
  for _ in $(seq 50); do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || return 0
    sleep 0.2
  done
  kill -9 "${pids[@]}" 2>/dev/null || true
}
# Processes whose executable path and command line match (extended regexes): the
# containerd shims, and strays of a killed run (which leaves pid files of dead processes).
procs_matching() { # exe regex, cmdline regex
  local p exe
  for p in /proc/[0-9]*; do
    exe=$(readlink "$p/exe" 2>/dev/null) || continue
    [[ $exe =~ $1 ]] || continue
    tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qE -- "$2" && echo "${p#/proc/}"
  done
  return 0
}
kill_matching() { # exe regex, cmdline regex, what
  local pids
  mapfile -t pids < <(procs_matching "$1" "$2")
  ((${#pids[@]})) || return 0
  log "killing ${#pids[@]} leftover $3"
  kill -9 "${pids[@]}" 2>/dev/null || true
}

# 1. The node agents first, so that nothing restarts containers behind our back.
stop kubelet kube-router kube-proxy kube-scheduler kube-controller-manager

# 2. Every container: kill their processes through the pod cgroups (a killed cluster
#    leaves orphans there), then containerd and its shims.
for cg in /sys/fs/cgroup/*/kubepods; do
  [[ -d $cg ]] || continue
  find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -9 2>/dev/null || true
done
stop containerd
kill_matching "containerd-shim" "/run/gavel-containerd/" "containerd shims"
kill_matching "runsc" "/run/gavel-containerd/runsc" "gVisor sandboxes and gofers"
sleep 0.5
for cg in /sys/fs/cgroup/*/kubepods; do
  [[ -d $cg ]] || continue
  find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
done

# 3. The control plane.
stop kube-apiserver
stop etcd # after the API server, whose shutdown waits on it
# Anything else of this cluster still running (a killed run leaves no pid files behind it).
kill_matching "^$GAVEL_CACHE/(k8s|etcd|kube-router)-" "" "cluster components"
kill_matching "containerd" "/run/gavel-containerd/|$GAVEL_STATE/" "containerd processes"

# 4. Mounts under the state directories (volumes, rootfs overlays, shm, network namespaces).
mapfile -t mounts < <(awk '{print $5}' /proc/self/mountinfo | grep -E "^($GAVEL_STATE|/run/gavel-containerd)(/|$)" | sort -r)
if ((${#mounts[@]})); then
  log "unmounting ${#mounts[@]} mounts"
  for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
fi

# 5. Network interfaces: pod veths still on the bridge, then the bridge itself.
if ip link show "$CNI_BRIDGE" >/dev/null 2>&1; then
  for veth in $(ip -o link show master "$CNI_BRIDGE" | awk -F': ' '{print $2}' | cut -d@ -f1); do
    ip link delete "$veth" 2>/dev/null || true
  done
fi
for link in "$CNI_BRIDGE" kube-bridge kube-dummy-if; do
  ip link show "$link" >/dev/null 2>&1 && { log "deleting interface $link"; ip link delete "$link"; }
done

# 6. Firewall state: chains of kube-proxy (KUBE-*), kube-router (KUBE-ROUTER-*, KUBE-NWPLCY-*,
#    KUBE-POD-FW-*, KUBE-SRC-*, KUBE-DST-*) and the CNI plugins (CNI-*), rules jumping to
#    them, and the rules tagged gavel-cluster. Other chains (Docker's, …) are kept.
clean_tables() { # iptables-save/-restore pair
  local save=$1 restore=$2 dump
  command -v "$save" >/dev/null || return 0
  dump=$("$save" 2>/dev/null) || return 0
  grep -qE -- '(KUBE-|CNI-|gavel-cluster)' <<<"$dump" || return 0
  log "removing Kubernetes/CNI rules ($save)"
  awk '
    /^\*/ { print; next }
    /^:(KUBE-|CNI-)/ { next }
    /^-A (KUBE-|CNI-)/ { next }
    /-j (KUBE-|CNI-)|-g (KUBE-|CNI-)|gavel-cluster/ { next }
    { print }' <<<"$dump" | "$restore"
}
clean_tables iptables-save iptables-restore
clean_tables ip6tables-save ip6tables-restore
clean_tables iptables-legacy-save iptables-legacy-restore
clean_tables ip6tables-legacy-save ip6tables-legacy-restore
# kube-proxy's nftables tables (it probes them even in iptables mode).
for t in "ip kube-proxy" "ip6 kube-proxy"; do nft delete table $t 2>/dev/null || true; done
# kube-router's ipsets (now unreferenced).
if command -v ipset >/dev/null; then
  for s in $(ipset list -n 2>/dev/null | grep -E '^(KUBE-|kube-router|inet6:KUBE-)'); do ipset destroy "$s" 2>/dev/null || true; done
fi
# Connection tracking entries of pods and services.
command -v conntrack >/dev/null && {
  conntrack -D -s "$CLUSTER_CIDR" >/dev/null 2>&1 || true
  conntrack -D -d "$SERVICE_CIDR" >/dev/null 2>&1 || true
}

# 7. State directories.
rm -rf "$GAVEL_STATE" /run/gavel-containerd 2>/dev/null || {
  sleep 1
  rm -rf "$GAVEL_STATE" /run/gavel-containerd
}
log "cluster removed"
