#!/usr/bin/env bash
# gVisor for the local cluster: build `runsc` and `containerd-shim-runsc-v1` from the Go
# module proxy into $GAVEL_CACHE/gvisor-$GVISOR_VERSION/bin (never in the repo), and probe
# whether this machine can start a gVisor sandbox at all.
#
#   cluster/gvisor.sh build    build (skipped when the versioned cache dir is complete)
#   cluster/gvisor.sh probe    try `runsc do true` on every platform and option set, print
#                              one line per attempt with its exact error (docs/gvisor.md)
#   cluster/gvisor.sh install  build, then give the running local cluster's containerd the runtime
#                              handler `runsc` (restarting containerd: running pods stay) and
#                              apply the RuntimeClass `gvisor`; `make cluster` keeps both from
#                              then on (up.sh asks containerd-config and runtimeclass below)
#   cluster/gvisor.sh bin      print the directory holding the binaries
#   cluster/gvisor.sh runner-tests [PYTEST ARGS]
#                              the runner's tests (default tests/integration) inside a gVisor
#                              sandbox (`runsc do`, the host's files seen through an overlay), with
#                              /tmp, /var/tmp and /dev/shm the sandbox's own tmpfs as in a pod
#   cluster/gvisor.sh do CMD...  any command of the repository so (e.g. bench/bench_runner.py)
#
# GVISOR_VERSION (cluster/versions.env) is a pseudo-version of gVisor's "go" branch, the
# only branch `go build` can use (the master branch needs Bazel).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

GVISOR_DIR=$GAVEL_CACHE/gvisor-$GVISOR_VERSION
GVISOR_BIN=$GVISOR_DIR/bin

# gVisor's shim sets its own process's oom_score_adj to -999 as it starts, which needs
# CAP_SYS_RESOURCE; where root lacks it (this VM: DESIGN.md) the shim fails ("failed to set OOM
# Score on shim: … permission denied") and no pod can start. containerd-shim-runsc-v1-nosysres is
# the same shim built with that one error ignored when it is EPERM (as runc-nosysres asks runc
# for nothing this machine cannot grant): the one-line change is made at build time, in a copy of
# the module in the cache (removed after), never in the repository.
build_shim_nosysres() { # $1: output dir
  local mod=${GAVEL_GOMODCACHE:-$GAVEL_CACHE/go/mod}/gvisor.dev/gvisor@$GVISOR_VERSION
  local src=$GVISOR_DIR/src-nosysres file=pkg/shim/v1/manager.go
  local old='if err := sys.SetOOMScore(cmd.Process.Pid, oomScoreMax); err != nil {'
  local new='if err := sys.SetOOMScore(cmd.Process.Pid, oomScoreMax); err != nil && !os.IsPermission(err) {'
  grep -qF "$old" "$mod/$file" || die "gVisor $GVISOR_VERSION: the shim's SetOOMScore call moved ($mod/$file): update build_shim_nosysres"
  # (go build refuses overlays of the module cache: a copy of the module, 71 MB, in the cache)
  rm -rf "$src" && cp -a "$mod" "$src" && chmod -R u+w "$src"
  local text
  text=$(<"$mod/$file")
  shopt -u patsub_replacement 2>/dev/null || true # ("&" in the replacement is itself)
  printf '%s\n' "${text//"$old"/"$new"}" >"$src/$file"
  grep -qF '!os.IsPermission(err)' "$src/$file" || die "could not patch $file"
  (cd "$src" && CGO_ENABLED=0 GOFLAGS="-mod=readonly -modcacherw" \
    GOCACHE=${GAVEL_GOCACHE:-$GAVEL_CACHE/go/build-cache} GOMODCACHE=${GAVEL_GOMODCACHE:-$GAVEL_CACHE/go/mod} \
    nice -n 10 go build -p "${GO_BUILD_P:-2}" -trimpath -ldflags "-s -w" -o "$1/containerd-shim-runsc-v1-nosysres" ./shim)
  rm -rf "$src"
}

build() {
  [[ -f $GVISOR_DIR/.complete && -x $GVISOR_BIN/containerd-shim-runsc-v1-nosysres ]] && return 0
  command -v go >/dev/null || die "go is not on PATH (needed to build gVisor; Go >= 1.26 for $GVISOR_VERSION)"
  log "building gVisor $GVISOR_VERSION (runsc, containerd-shim-runsc-v1) — cold: ~3 min on 2 busy cores"
  rm -rf "$GVISOR_DIR/bin.tmp" && mkdir -p "$GVISOR_DIR/bin.tmp"
  # `go install pkg@version` builds outside any module (no wrapper module needed: gVisor's
  # go.mod has no replace directives). Static binaries, as gVisor's own releases are.
  (cd / && CGO_ENABLED=0 GOFLAGS=-modcacherw GOBIN=$GVISOR_DIR/bin.tmp \
    GOCACHE=${GAVEL_GOCACHE:-$GAVEL_CACHE/go/build-cache} GOMODCACHE=${GAVEL_GOMODCACHE:-$GAVEL_CACHE/go/mod} \
    nice -n 10 go install -p "${GO_BUILD_P:-2}" -trimpath -ldflags "-s -w" \
    "gvisor.dev/gvisor/runsc@$GVISOR_VERSION" "gvisor.dev/gvisor/shim@$GVISOR_VERSION")
  mv "$GVISOR_DIR/bin.tmp/shim" "$GVISOR_DIR/bin.tmp/containerd-shim-runsc-v1" # go names it after the package dir
  build_shim_nosysres "$GVISOR_DIR/bin.tmp"
  rm -rf "${GVISOR_DIR:?}/bin" && mv "$GVISOR_DIR/bin.tmp" "$GVISOR_DIR/bin"
  date -u +%FT%TZ >"$GVISOR_DIR/.complete"
  log "gVisor built ($(elapsed)): $GVISOR_BIN"
}

# One line per attempt: platform, options, user, and the exit status with the last error line.
probe() {
  build
  local dir out p opts rc
  dir=$(mktemp -d) && chmod 0755 "$dir"
  printf 'runsc %s on %s (kernel %s)\n' "$GVISOR_VERSION" "$(hostname)" "$(uname -r)"
  for p in systrap ptrace kvm; do
    for opts in "--network=none" "--network=none --ignore-cgroups" "--network=sandbox" "--network=none --rootless"; do
      out=$(cd "$dir" && timeout 60 "$GVISOR_BIN/runsc" --root="$dir/state" --platform=$p $opts do /bin/echo ok 2>&1 </dev/null) && rc=0 || rc=$?
      printf '%-8s %-34s root    rc=%-3s %s\n' "$p" "$opts" "$rc" "$(tail -n1 <<<"$out")"
    done
  done
  # As an unprivileged user (needs user namespaces).
  out=$(cd "$dir" && timeout 60 setpriv --reuid=65534 --regid=65534 --clear-groups env HOME="$dir" \
    "$GVISOR_BIN/runsc" --root="$dir/nobody" --rootless --network=none do /bin/echo ok 2>&1 </dev/null) && rc=0 || rc=$?
  printf '%-8s %-34s nobody  rc=%-3s %s\n' systrap "--rootless --network=none" "$rc" "$(tail -n1 <<<"$out")"
  rm -rf "$dir"
}

# Run a command of this repository inside a gVisor sandbox (`runsc do`), as root: gVisor's
# kernel, the host's files through a memory overlay (nothing written reaches the host). Its /tmp,
# /var/tmp and /dev/shm are the sandbox's own tmpfs, as a pod's emptyDirs are: on that overlay a
# directory and the files in it report different st_dev (as on Linux's overlayfs), and
# gavel-sandbox cleans only what is on the directory's device.
in_gvisor() {
  build
  local work rc=0
  work=$(mktemp -d) && chmod 0755 "$work"
  (cd "$REPO_DIR" && nice -n 5 "$GVISOR_BIN/runsc" --root="$work/state" --network=none do /bin/sh -c \
    'for d in /tmp /var/tmp /dev/shm; do mkdir -p $d && mount -t tmpfs -o mode=1777 tmpfs $d || exit 1; done
     exec "$@"' sh "$@" </dev/null | cat) || rc=$? # (| cat: written to a file, the sandbox's output
                                                # starts at offset 0, over what was there)
  rm -rf "$work"
  return "$rc"
}

runner_tests() {
  [[ -x $REPO_DIR/.venv/bin/pytest ]] || die "no $REPO_DIR/.venv: make venv first"
  in_gvisor "$REPO_DIR/.venv/bin/pytest" -q -p no:cacheprovider "${@:-tests/integration}"
}

# Where root lacks CAP_SYS_RESOURCE (this VM, DESIGN.md), the handler uses the shim built without
# that need (build_shim_nosysres) and runsc behind the runc-nosysres spec edits (a pause
# container's oomScoreAdj -998, rlimits above the machine's), as runc is. (containerd's runc shim
# with runsc as its binary, Docker's way, starts a pod's sandbox but never sees its containers'
# output nor their exit: it cannot run pods.) runsc runs on systrap: KVM's vCPU setup fails here.
can_sys_resource() { (($((16#$(awk '/^CapBnd:/ {print $2}' /proc/self/status))) >> 24 & 1)); }

# runsc through runc-nosysres, in the cache: the runtime binary the shim calls.
runsc_wrapper() {
  local w=$GAVEL_CACHE/bin/runsc-nosysres-$GVISOR_VERSION
  command install -D -m 0755 "$RUNC_WRAPPER_SRC" "$GAVEL_CACHE/bin/runc-nosysres" 2>/dev/null ||
    [[ -x $GAVEL_CACHE/bin/runc-nosysres ]] || die "no runc wrapper at $RUNC_WRAPPER_SRC"
  printf '#!/bin/sh\n# runsc (gVisor %s) behind the runc-nosysres spec edits: written by cluster/gvisor.sh\nREAL_RUNC=%s exec %s "$@"\n' \
    "$GVISOR_VERSION" "$GVISOR_BIN/runsc" "$GAVEL_CACHE/bin/runc-nosysres" >"$w.tmp"
  chmod 0755 "$w.tmp" && mv "$w.tmp" "$w"
  echo "$w"
}

# containerd 1.6 (Debian's, the cluster's) reads a shim's answer to `start` as the address of its
# socket; this gVisor's shim answers as containerd 1.7+ expects, a JSON bootstrap
# ({"version":2,"address":"unix:///run/containerd/s/…","protocol":"ttrpc"}), which 1.6 dials as
# an abstract socket named by the whole text. This wrapper answers the address alone.
shim_wrapper() { # $1: the shim binary
  local w=$GAVEL_CACHE/bin/containerd-shim-runsc-v1-$GVISOR_VERSION
  mkdir -p "$GAVEL_CACHE/bin"
  cat >"$w.tmp" <<SH
#!/bin/sh
# gVisor's containerd shim ($GVISOR_VERSION) for containerd 1.6: written by cluster/gvisor.sh.
# \`start\` answers the socket's address, not containerd 1.7's JSON bootstrap.
case " \$* " in
  *" start "*)
    out=\$("$1" "\$@") || exit \$?
    case \$out in
      "{"*) printf '%s' "\$out" | sed -n 's/.*"address" *: *"\([^"]*\)".*/\1/p' ;;
      *) printf '%s' "\$out" ;;
    esac ;;
  *) exec "$1" "\$@" ;;
esac
SH
  chmod 0755 "$w.tmp" && mv "$w.tmp" "$w"
  echo "$w"
}

# The shim's configuration: runsc's flags for every pod of the handler. Its state lives under
# containerd's own state dir, which cluster/down.sh removes.
runsc_toml() { # $1: runsc state root
  local binary=$GVISOR_BIN/runsc
  can_sys_resource || binary=$(runsc_wrapper)
  cat <<TOML
binary_name = "$binary"
root = "$1"
[runsc_config]
  platform = "systrap"
TOML
}

# The CRI runtime handler `runsc` for containerd 1.6's config (version 2), on stdout; nothing
# when gVisor is not built. The shim is named by its path as the runtime type (containerd 1.6
# starts a shim by path; its runtime_path setting does not reach the shim's start);
# a cluster without gVisor has no such handler. $1: the state dir
# (default the cluster's), $2: runsc's state root.
containerd_config() {
  [[ -f $GVISOR_DIR/.complete ]] || return 0
  local state=${1:-$GAVEL_STATE} root=${2:-/run/gavel-containerd/runsc} shim=$GVISOR_BIN/containerd-shim-runsc-v1
  can_sys_resource || shim+=-nosysres
  shim=$(shim_wrapper "$shim")
  mkdir -p "$state/config"
  runsc_toml "$root" >"$state/config/runsc.toml"
  cat <<TOML
# gVisor (cluster/gvisor.sh): RuntimeClass gvisor -> handler runsc
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runsc]
  runtime_type = "$shim"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runsc.options]
    TypeUrl = "io.containerd.runsc.v1.options"
    ConfigPath = "$state/config/runsc.toml"
TOML
}

runtimeclass() {
  [[ -f $GVISOR_DIR/.complete ]] || return 0
  "$K8S_BIN/kubectl" --kubeconfig "$KUBECONFIG_PATH" apply -f - >/dev/null <<YAML
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata:
  name: gvisor
  labels: {app.kubernetes.io/part-of: gavel-cluster}
handler: runsc
YAML
}

# Restart the cluster's containerd with the command line and environment it runs with now
# (up.sh's): its containers and their shims keep running, the kubelet reconnects.
restart_containerd() {
  local pid argv envv i
  pid=$(cat "$PID_DIR/containerd.pid" 2>/dev/null) && kill -0 "$pid" 2>/dev/null || die "the cluster's containerd is not running (make cluster)"
  mapfile -d '' argv <"/proc/$pid/cmdline"
  mapfile -d '' envv <"/proc/$pid/environ"
  log "restarting containerd (pid $pid)"
  kill "$pid"
  for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -0 "$pid" 2>/dev/null && die "containerd (pid $pid) did not stop"
  setsid env -i "${envv[@]}" "${argv[@]}" >>"$LOG_DIR/containerd.log" 2>&1 </dev/null 9>&- &
  echo $! >"$PID_DIR/containerd.pid"
  for ((i = 0; i < 60; i++)); do ctr -a "$CONTAINERD_SOCK" version >/dev/null 2>&1 && return 0; sleep 1; done
  die "containerd did not come back (log: $LOG_DIR/containerd.log)"
}

install_cluster() {
  [[ ${CLUSTER:-local} == local ]] || die "install is for the local cluster (CLUSTER=local); the kind node image has no gVisor yet"
  [[ -f $KUBECONFIG_PATH ]] || die "no cluster (make cluster)"
  build
  local cfg=$GAVEL_STATE/config/containerd.toml
  if ! grep -q 'runtimes.runsc]' "$cfg"; then
    containerd_config >>"$cfg"
    restart_containerd
  fi
  runtimeclass
  log "RuntimeClass gvisor (handler runsc, gVisor $GVISOR_VERSION, platform systrap) installed"
  can_sys_resource || log "(root lacks CAP_SYS_RESOURCE here: the shim built without that need, runsc behind runc-nosysres)"
}

case ${1:-build} in
  build) build ;;
  probe) probe ;;
  bin) echo "$GVISOR_BIN" ;;
  install) install_cluster ;;
  containerd-config) shift; containerd_config "$@" ;;
  runtimeclass) runtimeclass ;;
  runner-tests) shift; runner_tests "$@" ;;
  do) shift; in_gvisor "$@" ;;
  *) die "usage: $0 build|probe|install|bin|runner-tests [PYTEST ARGS]|do CMD...|containerd-config|runtimeclass" ;;
esac
