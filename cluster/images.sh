#!/usr/bin/env bash
# Build the images the cluster and Gavel need, locally, and load them into the cluster's
# containerd. Nothing is pulled from a container registry:
#   base     Debian ($DEBIAN_SUITE, minbase) from debootstrap, `docker import`ed
#   pause    kubelet's sandbox image (cluster/images/pause)
#   coredns  CoreDNS built by build-binaries.sh (cluster/images/coredns)
#   testbox  base + busybox + python3, for tests/cluster (cluster/images/testbox)
#   runner   Gavel's runner image (runner-image/Dockerfile), when it exists: the 7 default languages
#   runner-native runner-jvm runner-dotnet runner-functional runner-scripting ("families"): the same
#            Dockerfile with the toolchains of one family of languages (the package lists below)
#   operator Gavel's operator image (operator/Dockerfile), when it exists
#   minio    the S3 server of the chart's bundled storage (cluster/images/minio)
#   (runner and operator: context = the repository root, tags gavel.local/<name>:dev and
#   :<the Helm chart's appVersion>; rebuilt only when their key changes: the Dockerfile, the base
#   and the files its COPY lines name, `images.sh key NAME`)
# Each built image is also saved as $GAVEL_CACHE/images/<tag>.tar, so a warm machine
# loads it into the cluster without Docker. Usage:
#   images.sh build NAME...   build (or take from the cache) and save
#   images.sh load NAME...    build if needed, then import into the running cluster
#   images.sh load-docker IMAGE   import any image from the local Docker into the cluster
#   images.sh reload TAG...   import the cached archives of these tags again
#   images.sh archive NAME    print the path of an image's archive (what a node imports)
#   images.sh key NAME        print the key of the runner, runner-FAMILY or operator image
#   images.sh packages NAME   print the Debian packages of runner or runner-FAMILY
# NAME "families": the five family images (build families, load families).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

STARTED_DOCKERD=""
DOCKERD_PID_FILE=$GAVEL_CACHE/run/dockerd.pid

# Docker is a build tool here. Use the running engine; if none runs, start one for the
# duration of this script (no bridge, no iptables rules: builds use the host network)
# and stop it on exit, so nothing of it stays behind.
ensure_docker() {
  docker info >/dev/null 2>&1 && return 0
  command -v dockerd >/dev/null || die "dockerd missing: run cluster/prereqs.sh (apt-get install docker.io)"
  log "starting a temporary dockerd for image builds"
  mkdir -p "$GAVEL_CACHE/run"
  local args=(--iptables=false --ip-masq=false --bridge=none)
  # This machine's root lacks CAP_SYS_RESOURCE: make the runc wrapper the default runtime
  # unless the host's daemon.json already says what the runtime is.
  if ! grep -qs '"default-runtime"\|"runtimes"' /etc/docker/daemon.json; then
    args+=(--add-runtime "gavel-runc=$GAVEL_CACHE/bin/runc-nosysres" --default-runtime gavel-runc)
  fi
  (close_inherited_fds; exec setsid dockerd "${args[@]}") >"$GAVEL_CACHE/run/dockerd.log" 2>&1 </dev/null &
  echo $! >"$DOCKERD_PID_FILE"
  STARTED_DOCKERD=1
  trap stop_docker EXIT
  local i
  for ((i = 0; i < 60; i++)); do docker info >/dev/null 2>&1 && return 0; sleep 1; done
  die "dockerd did not start: see $GAVEL_CACHE/run/dockerd.log"
}
stop_docker() {
  [[ -n $STARTED_DOCKERD ]] || return 0
  local pid
  pid=$(cat "$DOCKERD_PID_FILE" 2>/dev/null) || return 0
  log "stopping the temporary dockerd"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  rm -f "$DOCKERD_PID_FILE"
  # dockerd leaves its default network namespace mounted.
  umount /run/docker/netns/default 2>/dev/null || true
}

# The Debian packages of each runner image: the toolchains at the absolute paths its languages name
# (languages/*.yaml, image gavel-runner or gavel-runner-FAMILY; scripts/install-toolchains.sh installs
# them all on a host). Part of the image's key.
FAMILIES=(native jvm dotnet functional scripting)
runner_packages() { # runner | runner-FAMILY
  case $1 in
    runner) echo gcc g++ libc6-dev python3 openjdk-17-jdk-headless golang-1.19-go rustc nodejs ;;
    runner-native) echo gcc g++ libc6-dev gfortran gnat gdc fp-compiler fp-units-rtl ;;
    runner-jvm) echo openjdk-17-jdk-headless kotlin scala ;;
    runner-dotnet) echo mono-runtime mono-mcs ;;
    runner-functional) echo ghc ocaml-nox swi-prolog-nox ;;
    runner-scripting) echo pypy3 ruby lua5.4 perl php-cli gawk r-base-core ;;
    *) die "no runner image $1 (runner, ${FAMILIES[*]/#/runner-})" ;;
  esac
}
# The runner images' build arguments (shell-quoted): the Dockerfile's target, the packages, the label's name.
runner_args_quoted() { printf '%q ' --target runner --build-arg "PACKAGES=$(runner_packages "$1")" --build-arg "FAMILY=$1"; }
expand_names() { # NAME... with "families" as the five family images
  local n
  for n in "$@"; do
    if [[ $n == families ]]; then printf 'runner-%s\n' "${FAMILIES[@]}"; else echo "$n"; fi
  done
}

tarball() { echo "$IMAGES_DIR/$(echo "$1" | tr '/:' '__').tar"; }
have_docker_image() { docker image inspect "$1" >/dev/null 2>&1; }

# The Debian mirror the host's apt uses (so a local mirror is honoured).
debian_mirror() {
  local uri
  uri=$(grep -hoE '^URIs: *\S+' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -1)
  [[ -n $uri ]] || uri=$(grep -hoE '^deb +\S+' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | grep -v security | head -1)
  [[ -n $uri ]] || die "cannot tell the Debian mirror from /etc/apt"
  echo "$uri"
}

build_base() {
  local tar
  tar=$(tarball "$BASE_IMAGE")
  if [[ ! -f $tar ]]; then
    command -v debootstrap >/dev/null || die "debootstrap missing: run cluster/prereqs.sh"
    local root
    root=$(mktemp -d /var/tmp/gavel-rootfs.XXXXXX)
    log "debootstrap $DEBIAN_SUITE (minbase) — cold: ~1 min"
    debootstrap --variant=minbase "$DEBIAN_SUITE" "$root" "$(debian_mirror)" >"$IMAGES_DIR/debootstrap.log" 2>&1 ||
      die "debootstrap failed: see $IMAGES_DIR/debootstrap.log"
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    # Builds inside the image reach the registries the way the host does: carry over the
    # host's extra CA certificates (used once an image installs ca-certificates) and pip's
    # configuration (which points pip at that CA bundle).
    if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
      mkdir -p "$root/usr/local/share/ca-certificates"
      cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
    fi
    [[ -f /etc/pip.conf ]] && cp /etc/pip.conf "$root/etc/pip.conf"
    tar -C "$root" --numeric-owner -cf "$tar.tmp" . && mv "$tar.tmp" "$tar"
    rm -rf "$root"
  fi
  ensure_docker
  have_docker_image "$BASE_IMAGE" && return 0 # re-importing would defeat Docker's layer cache
  log "docker import $BASE_IMAGE"
  docker import -c 'CMD ["/bin/bash"]' -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "$tar" "$BASE_IMAGE" >/dev/null
}

# Build a Dockerfile image from the base unless its cached tarball exists.
build_dockerfile() { # $1: tag, $2: context dir, $3: "always" to rebuild even when cached
  local tag=$1 ctx=$2 tar
  tar=$(tarball "$tag")
  [[ -f $tar && ${3:-} != always ]] && return 0
  grep -q '^ARG BASE' "$ctx/Dockerfile" && build_base
  ensure_docker
  log "docker build $tag ($ctx)"
  local blog
  blog=$IMAGES_DIR/build-$(basename "$tar" .tar).log
  docker build --network host --build-arg "BASE=$BASE_IMAGE" -t "$tag" "$ctx" >"$blog" 2>&1 ||
    { tail -20 "$blog" >&2; die "docker build $tag failed: see $blog"; }
  docker save "$tag" -o "$tar.tmp" && mv "$tar.tmp" "$tar"
}

# Gavel's own images: built from the repository root with the base as BASE.
project_tag() { echo "gavel.local/$1:dev"; }

# The key of a Dockerfile image: its Dockerfile, the base it starts from (the base's archive), and
# the content of exactly the files its COPY lines take from the context (as .dockerignore leaves
# them: no __pycache__, *.pyc or *.egg-info). The same key: the archive built for it is the image,
# and nothing is built, saved or loaded again (a README change no longer rebuilds the runner and
# reloads 2 GB into each kind node).
image_key() { # Dockerfile, context[, build arguments: the packages of a runner image]
  local dockerfile=$1 ctx=$2 extra=${3:-} src
  {
    echo "dockerfile $(sha256sum <"$dockerfile" | cut -c1-64)"
    [[ -z $extra ]] || echo "args $extra"
    echo "base $(stat -c '%s %Y' "$(tarball "$BASE_IMAGE")" 2>/dev/null || echo none)"
    # COPY [--chown=..] SRC... DEST, one line each; --from= copies from another stage, not the context
    awk 'toupper($1) == "COPY" && $0 !~ /--from=/ { for (i = 2; i < NF; i++) if ($i !~ /^--/) print $i }' "$dockerfile" |
      while read -r src; do
        (cd "$ctx" && compgen -G "$src" >/dev/null) || { echo "missing $src"; continue; }
        (cd "$ctx" && find $src -type f ! -path '*/__pycache__/*' ! -name '*.pyc' ! -path '*.egg-info/*' -print0 |
          sort -z | xargs -0r sha256sum)
      done
  } | sha256sum | cut -c1-16
}
build_project_image() { # name, Dockerfile[, context (default: the repository root)[, build arguments]]
  local name=$1 dockerfile=$2 ctx=${3:-$REPO_DIR} extra=${4:-} tar app names t key args=()
  [[ -f $dockerfile ]] || { log "no ${dockerfile#"$REPO_DIR"/} yet: skipping the $name image"; return 0; }
  build_base
  ensure_docker
  names=("$(project_tag "$name")")
  app=$(awk -F'"' '/^appVersion:/ {print $2}' "$REPO_DIR/charts/gavel/Chart.yaml" 2>/dev/null || true)
  [[ -n $app ]] && names+=("gavel.local/$name:$app")
  for t in "${names[@]}"; do args+=(-t "$t"); done
  tar=$(tarball "${names[0]}")
  key=$(image_key "$dockerfile" "$ctx" "$extra")
  # The key file names the archive it describes (size, mtime): an archive another checkout wrote
  # over since (one without keys, or another branch: the cache is the machine's) is not taken.
  if [[ -f $tar && $(cat "$tar.key" 2>/dev/null) == "$key $(stat -c '%s %Y' "$tar")" ]]; then
    log "$name image up to date (key $key: ${dockerfile#"$REPO_DIR"/} and the files it copies unchanged)"
    return 0
  fi
  log "docker build ${names[*]} (${dockerfile#"$REPO_DIR"/}, key $key) — first build: several minutes"
  local build_args=()
  [[ -z $extra ]] || eval "build_args=($extra)"
  docker build --network host --build-arg "BASE=$BASE_IMAGE" "${build_args[@]}" "${args[@]}" -f "$dockerfile" "$ctx" \
    >"$IMAGES_DIR/build-$name.log" 2>&1 || { tail -20 "$IMAGES_DIR/build-$name.log" >&2; die "docker build $name failed"; }
  log "$name: $(docker image inspect -f '{{.Size}}' "${names[0]}" | awk '{printf "%d MB", $1 / 1e6}') (docker image ls)"
  rm -f "$tar.key"
  docker save "${names[@]}" -o "$tar.tmp" && mv "$tar.tmp" "$tar"
  echo "$key $(stat -c '%s %Y' "$tar")" >"$tar.key"
  docker image prune -f >/dev/null # the previous build's layers, untagged now: gigabytes each time
}

build_image() { # NAME
  mkdir -p "$IMAGES_DIR"
  case $1 in
    base) build_base ;;
    pause) build_dockerfile "$PAUSE_IMAGE" "$CLUSTER_DIR/images/pause" ;;
    testbox) build_dockerfile "$TESTBOX_IMAGE" "$CLUSTER_DIR/images/testbox" ;;
    coredns)
      local tar ctx
      tar=$(tarball "$COREDNS_IMAGE")
      [[ -f $tar ]] && return 0
      [[ -x $COREDNS_BIN/coredns ]] || "$CLUSTER_DIR/build-binaries.sh" coredns
      ctx=$(mktemp -d)
      cp "$CLUSTER_DIR/images/coredns/Dockerfile" "$COREDNS_BIN/coredns" "$ctx/"
      build_dockerfile "$COREDNS_IMAGE" "$ctx"
      rm -rf "$ctx" ;;
    runner | runner-*)
      runner_packages "$1" >/dev/null
      build_project_image "$1" "$REPO_DIR/runner-image/Dockerfile" "$REPO_DIR" "$(runner_args_quoted "$1")" ;;
    operator) build_project_image operator "$REPO_DIR/operator/Dockerfile" ;;
    minio)
      local ctx
      ctx=$(mktemp -d)
      cp "$(GAVEL_CACHE=$GAVEL_CACHE "$REPO_DIR/scripts/minio.sh")" "$ctx/minio"
      build_project_image minio "$CLUSTER_DIR/images/minio/Dockerfile" "$ctx"
      rm -rf "$ctx" ;;
    *) die "unknown image $1" ;;
  esac
}

# Tag the base image's tarball as an image archive for containerd: docker save it.
image_archive() { # NAME -> path of a `docker save` archive
  case $1 in
    base)
      local tar
      tar=$(tarball "$BASE_IMAGE").image
      if [[ ! -f $tar ]]; then ensure_docker; docker save "$BASE_IMAGE" -o "$tar.tmp" && mv "$tar.tmp" "$tar"; fi
      echo "$tar" ;;
    pause) tarball "$PAUSE_IMAGE" ;;
    coredns) tarball "$COREDNS_IMAGE" ;;
    testbox) tarball "$TESTBOX_IMAGE" ;;
    runner | runner-* | operator | minio) tarball "$(project_tag "$1")" ;;
  esac
}

ctr_import() { # archive
  if [[ ${CLUSTER:-local} == kind ]]; then
    # kind loads from an archive too; pause and CoreDNS come with its node image.
    "$CLUSTER_DIR/kind.sh" load-archive "$1"
    return
  fi
  [[ -S $CONTAINERD_SOCK ]] || die "the cluster's containerd is not running (make cluster)"
  # containerd 1.6 sometimes loses a parent snapshot while unpacking a re-imported image
  # ("parent snapshot … does not exist"); a second import succeeds
  local attempt
  for attempt in 1 2 3; do
    ctr -a "$CONTAINERD_SOCK" -n k8s.io images import --no-unpack=false "$1" >/dev/null && return 0
    log "importing $(basename "$1") failed (attempt $attempt of 3)"
    sleep 2
  done
  die "cannot import $1 into the cluster's containerd"
}

cmd=${1:-}
shift || true
case $cmd in
  build) for n in $(expand_names "$@"); do build_image "$n"; done ;;
  load)
    for n in $(expand_names "$@"); do
      build_image "$n"
      [[ -f $(image_archive "$n") ]] || continue # e.g. no Dockerfile yet
      log "loading $n into the cluster"
      ctr_import "$(image_archive "$n")"
    done ;;
  reload) # TAG...: import the cached archives of these tags again (after a down/up)
    for tag in "$@"; do
      tar=$(tarball "$tag")
      [[ -f $tar.image ]] && tar=$tar.image # the base: its `docker save` archive, not the rootfs
      [[ -f $tar ]] || continue            # e.g. a second tag of an archive already loaded
      log "reloading $tag"
      ctr_import "$tar"
    done ;;
  archive) # NAME: the path of its archive (what a node imports: the stand-in for a registry pull)
    [[ $# -eq 1 ]] || die "usage: images.sh archive NAME"
    image_archive "$1" ;;
  key) # NAME: the key of a project image (runner, runner-FAMILY, operator): what decides whether it is rebuilt
    [[ $# -eq 1 ]] || die "usage: images.sh key runner|runner-FAMILY|operator"
    case $1 in
      runner | runner-*) runner_packages "$1" >/dev/null && image_key "$REPO_DIR/runner-image/Dockerfile" "$REPO_DIR" "$(runner_args_quoted "$1")" ;;
      *) image_key "$REPO_DIR/$1/Dockerfile" "$REPO_DIR" ;;
    esac ;;
  packages) # NAME: the Debian packages of a runner image
    [[ $# -eq 1 ]] || die "usage: images.sh packages runner|runner-FAMILY"
    runner_packages "$1" ;;
  load-docker)
    [[ $# -eq 1 ]] || die "usage: images.sh load-docker IMAGE"
    ensure_docker
    have_docker_image "$1" || die "no local docker image $1"
    log "loading $1 into the cluster"
    tmp=$(mktemp /var/tmp/gavel-image.XXXXXX.tar)
    docker save "$1" -o "$tmp"
    ctr_import "$tmp"
    rm -f "$tmp" ;;
  *) die "usage: images.sh build|load NAME... | reload TAG... | load-docker IMAGE | archive NAME | key NAME | packages NAME" ;;
esac
