#!/usr/bin/env bash
# Judges each example submission against examples/problems/sum with the local judge.
set -euo pipefail
cd "$(dirname "$0")/.."
gavel=.venv/bin/gavel
for src in examples/submissions/*; do
  case $src in
    *.cpp) lang=cpp ;; *.c) lang=c ;; *.py) lang=python ;; *.java) lang=java ;;
    *.go) lang=go ;; *.rs) lang=rust ;; *.js) lang=javascript ;; *) continue ;;
  esac
  echo "=== $src ($lang)"
  "$gavel" judge "$src" --language "$lang" --tests examples/problems/sum/tests \
    --time-limit 1000 --memory-limit 65536
  echo
done
