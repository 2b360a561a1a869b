#!/usr/bin/env bash
# Install the Debian packages the offline cluster needs (idempotent; quick when present)
# and put the runc wrapper this machine needs in the cache.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

[[ $EUID -eq 0 ]] || die "run as root (the cluster runs kubelet and containerd on this host)"
# command -> Debian package
declare -A need=(
  [containerd]=containerd [ctr]=containerd [runc]=runc [dockerd]=docker.io [docker]=docker.io
  [debootstrap]=debootstrap [iptables]=iptables [ip6tables]=iptables [ipset]=ipset
  [nft]=nftables [conntrack]=conntrack [socat]=socat [ethtool]=ethtool [jq]=jq
  [ip]=iproute2 [openssl]=openssl [mount]=mount [nsenter]=util-linux [flock]=util-linux
  [curl]=curl [sysctl]=procps [python3]=python3
)
missing=()
for cmd in "${!need[@]}"; do
  [[ $cmd == docker ]] && continue # the image may ship a docker client without the engine
  command -v "$cmd" >/dev/null || missing+=("${need[$cmd]}")
done
[[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/loopback && -x /usr/lib/cni/portmap ]] ||
  missing+=(containernetworking-plugins)
if ((${#missing[@]})); then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The runc wrapper (see shared/DESIGN.md): root here lacks CAP_SYS_RESOURCE, and Kubernetes
# gives Guaranteed pods oom_score_adj -997. containerd and dockerd call it instead of runc.
mkdir -p "$GAVEL_CACHE/bin"
if [[ -f $RUNC_WRAPPER_SRC ]]; then
  install -m 0755 "$RUNC_WRAPPER_SRC" "$GAVEL_CACHE/bin/runc-nosysres"
elif [[ ! -x $GAVEL_CACHE/bin/runc-nosysres ]]; then
  die "runc wrapper not found at $RUNC_WRAPPER_SRC (set RUNC_WRAPPER_SRC)"
fi
