#!/usr/bin/env bash
# make demo: from a fresh machine to verdicts. The cluster, Gavel's images, the chart with its
# bundled MinIO, the example problem uploaded, example Evaluations applied and watched to their
# verdicts, then a table of them and where their outputs are.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\n[demo] %s\n' "$*"; }
release=gavel ns=gavel-system demo_ns=default
# RUNTIME=gvisor: every runner pod in a gVisor sandbox (RuntimeClass gvisor, docs/gvisor.md)
runtime=${RUNTIME:-}
case $runtime in
  "" | runc) runtime="" ;;
  gvisor) [[ ${CLUSTER:-local} == local ]] || { echo "RUNTIME=gvisor needs CLUSTER=local (the kind node image has no gVisor yet)" >&2; exit 2; } ;;
  *) echo "RUNTIME=$runtime: only gvisor (or runc, the default)" >&2; exit 2 ;;
esac

say "cluster (cold: ~11 min of building Kubernetes from source; warm: ~20 s)"
cluster/cluster.sh up
kubeconfig=$(cluster/cluster.sh kubeconfig)
kc() { "$(cluster/cluster.sh kubectl)" --kubeconfig "$kubeconfig" "$@"; }
helm=$(scripts/helm.sh)

if [[ -n $runtime ]]; then
  say "gVisor: runsc and its containerd shim (cold build: ~3 min), the runtime handler runsc, RuntimeClass gvisor"
  cluster/gvisor.sh install
fi

say "images: runner, operator, MinIO (first build: several minutes)"
cluster/cluster.sh images-e2e
say "image of the scripting family (Ruby, Perl, PHP, Lua, bash, AWK, R, PyPy: first build ~2 min), for examples/evaluations/sum-ruby.yaml"
cluster/images.sh load runner-scripting

say "CRDs (Helm installs them once and never upgrades them: apply them first, as on any upgrade)"
kc apply --server-side --force-conflicts -f charts/gavel/crds/

# Languages applied by hand (the operator tests do) would block the chart's own: Helm adopts nothing
kc delete languages -l 'app.kubernetes.io/managed-by!=Helm' --ignore-not-found >/dev/null

# The operator's CPU request is its weight when runner pods fill the node's cores: at the chart's
# 100m it had ~5% of this node during a burst and admitted ~6 Evaluations a second while
# kubectl created 12 (make bench-burst, README).
say "helm upgrade --install $release charts/gavel (bundled MinIO)"
pull=Never; [[ ${CLUSTER:-local} == kind ]] && pull=IfNotPresent
installed=$("$helm" --kubeconfig "$kubeconfig" status "$release" -n "$ns" >/dev/null 2>&1 && echo yes || true)
"$helm" --kubeconfig "$kubeconfig" upgrade --install "$release" charts/gavel -n "$ns" --create-namespace \
  --set storage.bundled.enabled=true --set runner.pullPolicy=$pull --set operator.image.pullPolicy=$pull \
  --set storage.bundled.image.pullPolicy=$pull --set runner.cpu=250m --set runner.cpuLimit=1 \
  --set operator.resources.requests.cpu=300m \
  --set 'languages.families={scripting}' \
  ${runtime:+--set-string "tenancy.default.placement.imposed.runtimeClassName=$runtime"} --wait --timeout 5m
if [[ -n $installed ]]; then
  # the images were rebuilt under the same tags: an unchanged pod spec would keep the old operator
  say "restarting the operator on the image just built"
  kc -n "$ns" rollout restart "deployment/$release-operator" >/dev/null
  kc -n "$ns" rollout status "deployment/$release-operator" --timeout 5m
  if kc -n "$ns" get "daemonset/$release-cache" >/dev/null 2>&1; then  # the node cache: the runner image
    kc -n "$ns" rollout restart "daemonset/$release-cache" >/dev/null
    kc -n "$ns" rollout status "daemonset/$release-cache" --timeout 5m
  fi
fi
kc get languages

say "uploading examples/problems/ (sum, subtasks, fileio, guess: problem.yaml, tests, solutions) to the bundled MinIO"
export GAVEL_S3_ENDPOINT="$(kc -n "$ns" get service "$release-minio" -o jsonpath='{.spec.clusterIP}'):9000"
export GAVEL_S3_ACCESS_KEY="$(kc -n "$ns" get secret "$release-minio" -o jsonpath='{.data.accessKey}' | base64 -d)"
export GAVEL_S3_SECRET_KEY="$(kc -n "$ns" get secret "$release-minio" -o jsonpath='{.data.secretKey}' | base64 -d)"
.venv/bin/python scripts/demo_upload.py

say "kubectl apply -f examples/problems.yaml (the operator reads and checks each problem.yaml)"
kc -n "$demo_ns" apply -f examples/problems.yaml
kc -n "$demo_ns" annotate -f examples/problems.yaml problems.gavel.dev/refresh="$(date +%s)" --overwrite >/dev/null
kc -n "$demo_ns" wait --for=condition=Ready -f examples/problems.yaml --timeout 120s >/dev/null
kc -n "$demo_ns" get problems

say "kubectl apply -f examples/evaluations/ (accepted in C++ and in Ruby, wrong answer, time and memory limits, compilation error, partial scores, file I/O, interactive)"
kc -n "$demo_ns" delete -f examples/evaluations/ --ignore-not-found --wait >/dev/null
kc -n "$demo_ns" apply -f examples/evaluations/
names=$(kc -n "$demo_ns" get -f examples/evaluations/ -o jsonpath='{.items[*].metadata.name}')

say "watching them (kubectl get evaluations -w shows the same)"
last=""
for _ in $(seq 1 300); do
  table=$(kc -n "$demo_ns" get evaluations $names)
  [[ $table != "$last" ]] && { echo "$table"; echo; last=$table; }
  pending=$(kc -n "$demo_ns" get evaluations $names -o jsonpath='{range .items[*]}{.status.phase}{"\n"}{end}' |
    grep -cvE '^(Succeeded|Failed|Canceled)$' || true)
  [[ $pending == 0 ]] && break
  sleep 2
done

say "verdicts and where their outputs are"
kc -n "$demo_ns" get evaluations $names -o custom-columns='NAME:.metadata.name,PROBLEM:.spec.problem,VERDICT:.status.verdict,PASSED:.status.passed,SCORE:.status.score,MAX:.status.maxScore,NOT PASSED:.status.tests[?(@.verdict!="Passed")].verdict,RESULT:.status.locations.result'
say "kubectl apply -f examples/contest.yaml (eight of them are labelled for it: the IOI rule ranks their best scores)"
kc -n "$demo_ns" apply -f examples/contest.yaml
for _ in $(seq 1 60); do  # the operator rebuilds the scoreboard a few seconds after a change
  [[ $(kc -n "$demo_ns" get contest demo -o jsonpath='{.status.judged}') == 8 ]] && break
  sleep 2
done
kc -n "$demo_ns" get contest demo
echo
printf 'RANK\tPARTICIPANT\tSCORE\n'
kc -n "$demo_ns" get contest demo -o jsonpath='{range .status.top[*]}{.rank}{"\t"}{.name}{"\t"}{.score}{"\n"}{end}'
echo
kc -n "$demo_ns" get contest demo -o jsonpath='{range .status.scoreboards}public page: {.publicHtml}{"\n"}Contest API JSON: {.publicJson}{"\n"}{end}'

cat <<EOF2

Try it yourself:
  export KUBECONFIG=$kubeconfig
  kubectl apply -f examples/evaluation.yaml && kubectl get evaluations -w
  kubectl describe evaluation sum-accepted        # status, conditions, events
  kubectl get contest demo -o yaml                # the standings and where the scoreboards are
  GAVEL_S3_ENDPOINT=$GAVEL_S3_ENDPOINT GAVEL_S3_ACCESS_KEY=$GAVEL_S3_ACCESS_KEY GAVEL_S3_SECRET_KEY=… \\
    .venv/bin/gavel fetch sum-accepted -o /tmp/sum-accepted   # its outputs
EOF2
