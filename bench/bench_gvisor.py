"""make bench-gvisor: the same Evaluations judged in runc and in gVisor runner pods, side by side in
one run, on the demo install. Prints numbers; asserts nothing (these machines are noisy).

The install gets one more tenancy value: namespace gavel-bench-gvisor has RuntimeClass gvisor imposed
on its runner pods (cluster/gvisor.sh installs runsc and the RuntimeClass); gavel-bench-runc has
none. Each round applies N Evaluations of the sum problem (examples/problems/sum, 4 tests) in each
namespace, C++ and Python alternately, both namespaces at once, and waits for every verdict.
Printed per runtime and language: apply → verdict (creationTimestamp → finishedAt, 1 s resolution),
started → finished (the runner pod's judging), and the tests' CPU time, wall time and peak memory as
the sandbox measured them.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import kubectl  # noqa: E402
from bench_operator import upload  # noqa: E402  (the sum problem under a namespace's prefix)

N = int(os.environ.get("BENCH_EVALUATIONS", "6"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
RELEASE, RELEASE_NS = "gavel", "gavel-system"
NAMESPACES = {"runc": "gavel-bench-runc", "gvisor": "gavel-bench-gvisor"}
SOURCES = {"cpp": "solutions/accepted.cpp", "python": "solutions/accepted.py"}
FINAL = {"Succeeded", "Failed", "Canceled"}


def evaluation(name: str, namespace: str, language: str) -> dict:
    return {"apiVersion": "gavel.dev/v1alpha1", "kind": "Evaluation", "metadata": {"name": name},
            "spec": {"language": language, "submission": {"key": f"{namespace}/sum/{SOURCES[language]}"},
                     "limits": {"timeMs": 2000, "memoryKb": 262144},
                     "tests": [{"name": str(i), "input": {"key": f"{namespace}/sum/tests/{i}.in"},
                                "expected": {"key": f"{namespace}/sum/tests/{i}.out"}} for i in range(1, 5)]}}


def seconds(a: str, b: str) -> float:
    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return (parse(b) - parse(a)).total_seconds()


def install_gvisor(kube: kubectl.Kube) -> None:
    subprocess.run([str(ROOT / "cluster" / "gvisor.sh"), "install"], check=True)
    helm = subprocess.run([str(ROOT / "scripts" / "helm.sh")], check=True, capture_output=True, text=True).stdout.strip()
    ns = NAMESPACES["gvisor"]
    subprocess.run([helm, "--kubeconfig", kube.kubeconfig, "upgrade", RELEASE, str(ROOT / "charts" / "gavel"),
                    "-n", RELEASE_NS, "--reuse-values", "--set-string",
                    f"tenancy.namespaces.{ns}.placement.imposed.runtimeClassName=gvisor", "--wait", "--timeout", "5m"],
                   check=True)


def clean(kube: kubectl.Kube) -> None:
    for ns in NAMESPACES.values():
        kube("-n", ns, "delete", "evaluations", "--all", "--wait=true", "--timeout=180s", check=False)


def main() -> None:
    kube = kubectl.from_environment()
    install_gvisor(kube)
    for ns in NAMESPACES.values():
        kube("create", "namespace", ns, check=False)
        upload(kube, ns)
    rows: dict[tuple[str, str], dict[str, list[float]]] = {}
    try:
        for r in range(1, ROUNDS + 1):
            clean(kube)
            names: dict[str, list[str]] = {}
            start = time.perf_counter()
            for runtime, ns in NAMESPACES.items():
                objs = [evaluation(f"b{r}-{i:02d}", ns, "cpp" if i % 2 == 0 else "python") for i in range(N)]
                names[runtime] = [o["metadata"]["name"] for o in objs]
                kube("-n", ns, "apply", "-f", "-", input="\n---\n".join(json.dumps(o) for o in objs))
            while True:
                items = {rt: kube.json("-n", ns, "get", "evaluations")["items"] for rt, ns in NAMESPACES.items()}
                if all((e.get("status") or {}).get("phase") in FINAL for its in items.values() for e in its):
                    break
                if time.perf_counter() - start > 900:
                    raise SystemExit("not judged in 15 minutes")
                time.sleep(1)
            for runtime, its in items.items():
                for e in its:
                    st = e["status"]
                    if st.get("verdict") != "Accepted":
                        raise SystemExit(f"{runtime} {e['metadata']['name']}: {st.get('verdict')} {st.get('message')}")
                    row = rows.setdefault((runtime, e["spec"]["language"]), {k: [] for k in
                                                                             ("apply", "judging", "cpu", "wall", "mem")})
                    row["apply"].append(seconds(e["metadata"]["creationTimestamp"], st["finishedAt"]))
                    if st.get("startedAt"):  # written when the runner pod starts judging (not always seen)
                        row["judging"].append(seconds(st["startedAt"], st["finishedAt"]))
                    for t in st["tests"]:
                        row["cpu"].append(t["cpuTimeMs"])
                        row["wall"].append(t["wallTimeMs"])
                        row["mem"].append(t["memoryKb"] / 1024)
            print(f"round {r}/{ROUNDS}: {2 * N} Evaluations judged in {time.perf_counter() - start:.0f} s", flush=True)
    finally:
        clean(kube)
    med = statistics.median
    print()
    print(f"| runtime, language ({ROUNDS} rounds of {N} each) | apply → verdict, median (max) | started → finished, "
          "median | a test's CPU / wall, median (ms) | a test's peak memory, median (MiB) |")
    print("|---|---|---|---|---|")
    for (runtime, language), row in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        judging = f"{med(row['judging']):.0f} s ({len(row['judging'])} seen)" if row["judging"] else "-"
        print(f"| {runtime}, {language} | {med(row['apply']):.0f} s ({max(row['apply']):.0f} s) | {judging} | "
              f"{med(row['cpu']):.0f} / {med(row['wall']):.0f} | {med(row['mem']):.1f} |")


if __name__ == "__main__":
    main()
