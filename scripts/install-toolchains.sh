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
# the languages of the family images (languages/*.yaml whose image is gavel-runner-FAMILY;
# cluster/images.sh lists the same packages per image): 87 s cold here, 428 MB downloaded, 2.2 GB installed
check /usr/bin/gfortran gfortran
check /usr/bin/gnatmake gnat
check /usr/bin/gdc gdc
check /usr/bin/x86_64-linux-gnu-fpc-3.2.2 fp-compiler
[[ -d /usr/lib/x86_64-linux-gnu/fpc/3.2.2/units/x86_64-linux/rtl ]] || need+=(fp-units-rtl)
check /usr/bin/kotlinc kotlin
check /usr/share/scala-2.11/bin/scalac scala
check /usr/bin/mono mono-runtime
check /usr/lib/mono/4.5/mcs.exe mono-mcs
check /usr/bin/ghc ghc
check /usr/bin/ocamlopt.opt ocaml-nox
check /usr/bin/swipl swi-prolog-nox
check /usr/bin/pypy3 pypy3
check /usr/bin/ruby3.1 ruby
check /usr/bin/lua5.4 lua5.4
check /usr/bin/php8.2 php-cli
check /usr/bin/gawk gawk
check /usr/bin/Rscript r-base-core
# the e2e tier opens the contest scoreboard page in a real browser and reads the PDF it prints
check /usr/bin/chromium chromium
check /usr/bin/pdftotext poppler-utils
[[ ${#need[@]} -eq 0 ]] && exit 0
echo "[toolchains] installing ${need[*]} (apt)…"
apt() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -q "$@"; }
apt update >/dev/null
apt install -y --no-install-recommends "${need[@]}" >/dev/null
echo "[toolchains] done"
