#!/usr/bin/env bash
# Checks each example problem locally: every reference solution it lists is judged with the same
# semantics as the cluster and must get the verdict and score problem.yaml says.
set -euo pipefail
cd "$(dirname "$0")/.."
for problem in examples/problems/*/; do
  echo "=== gavel problem check $problem"
  .venv/bin/gavel problem check "$problem"
  echo
done
