#!/usr/bin/env bash
# Installs the Debian packages the judge needs: the toolchains every default Language names
# (languages/*.yaml use their absolute paths), static C/C++ libraries, and ps for the tests.
set -euo pipefail
need=()
check() { [[ -x $1 ]] || need+=("$2"); }
check /usr/bin/gcc gcc
check /usr/bin/g++ g++
check /usr/bin/python3 python3
check /usr/lib/jvm/java-17-openjdk-amd64/bin/javac openjdk-17-jdk-headless
check /usr/lib/go-1.19/bin/go golang-1.19-go
check /usr/bin/rustc rustc
check /usr/bin/node nodejs
check /usr/bin/ps procps
check /usr/bin/jq jq
[[ -f /usr/lib/x86_64-linux-gnu/libc.a ]] || need+=(libc6-dev)
# the e2e tier opens the contest scoreboard page in a real browser and reads the PDF it prints
check /usr/bin/chromium chromium
check /usr/bin/pdftotext poppler-utils
[[ ${#need[@]} -eq 0 ]] && exit 0
echo "[toolchains] installing ${need[*]} (apt)…"
apt() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -q "$@"; }
apt update >/dev/null
apt install -y --no-install-recommends "${need[@]}" >/dev/null
echo "[toolchains] done"
