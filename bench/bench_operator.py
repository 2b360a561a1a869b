"""make bench-operator: what Gavel adds on the cluster over Kubernetes' own Job machinery, in
one run. Prints numbers; asserts nothing (these machines are noisy). Needs `make demo` (the
chart and its bundled MinIO installed, the example problem uploaded); the target runs it.

Each round, in the same minute of the same machine:
1. gavel: N Evaluations of examples/problems/sum/solutions/accepted.py on the 4 tests of
   examples/problems/sum, applied at once; wall time until every one has its verdict.
2. bare: N Jobs with the very pod shape Gavel's Jobs had (image, resources, security
   context), each running the same program on the same 4 inputs from a shell, with no
   sandbox, storage, Secret or status; wall time until every one is Complete.
The ratio gavel/bare is the price of the judge around the program: admission, presigned
URLs, the sandbox, uploads, the verdict written back. Also: apply-to-verdict latency per
Evaluation, and the operator's resident memory from its own metrics.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import kubectl  # noqa: E402  (the tests' kubectl wrapper: one kubeconfig, JSON out)

N = int(os.environ.get("BENCH_EVALUATIONS", "12"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
NS = "gavel-bench"
METRICS_PORT = 8080  # the chart's operator.metricsPort
RELEASE, RELEASE_NS = os.environ.get("BENCH_RELEASE", "gavel"), os.environ.get("BENCH_RELEASE_NAMESPACE",
                                                                                 "gavel-system")
INPUTS = ["1 2", "40 2", "-5 5", "1000000000 1000000000"]  # examples/problems/sum/tests/*.in
PROGRAM = "a, b = map(int, input().split())\nprint(a + b)"
FINAL = {"Succeeded", "Failed", "Canceled"}


SUM = Path(__file__).resolve().parents[1] / "examples" / "problems" / "sum"


def bundled_storage(kube: kubectl.Kube):
    """The demo install's bundled MinIO, bucket gavel, as its Service and Secret name it."""
    import base64

    from gavel_client.client import Storage

    svc = kube.json("-n", RELEASE_NS, "get", "service", f"{RELEASE}-minio")["spec"]["clusterIP"]
    secret = kube.json("-n", RELEASE_NS, "get", "secret", f"{RELEASE}-minio")["data"]
    return Storage(endpoint=f"{svc}:9000", bucket="gavel", secure=False,
                   access_key=base64.b64decode(secret["accessKey"]).decode(),
                   secret_key=base64.b64decode(secret["secretKey"]).decode())


def upload(kube: kubectl.Kube, namespace: str = NS) -> None:
    """examples/problems/sum under NAMESPACE/ of the bundled MinIO: the prefix the default tenancy
    policy lets that namespace read."""
    storage = bundled_storage(kube)
    for path in sorted(p for p in SUM.rglob("*") if p.is_file()):
        storage.put(f"{namespace}/sum/{path.relative_to(SUM).as_posix()}", path.read_bytes())


def evaluation(name: str) -> dict:
    return {"apiVersion": "gavel.dev/v1alpha1", "kind": "Evaluation", "metadata": {"name": name},
            "spec": {"language": "python", "submission": {"key": f"{NS}/sum/solutions/accepted.py"},
                     "limits": {"timeMs": 1000, "memoryKb": 65536},
                     "tests": [{"name": str(i), "input": {"key": f"{NS}/sum/tests/{i}.in"},
                                "expected": {"key": f"{NS}/sum/tests/{i}.out"}} for i in range(1, 5)]}}


def bare_job(name: str, shape: dict) -> dict:
    """Gavel's pod shape, the program run directly on each input."""
    runner = shape["containers"][0]
    script = "; ".join(f"echo '{line}' | python3 -c '{PROGRAM}'" for line in INPUTS).replace("\n", "; ")
    container = {"name": "bare", "image": runner["image"], "imagePullPolicy": runner.get("imagePullPolicy"),
                 "command": ["sh", "-c", script], "resources": runner.get("resources", {}),
                 "securityContext": runner.get("securityContext", {})}
    pod = {"restartPolicy": "Never", "automountServiceAccountToken": False, "containers": [container],
           "securityContext": shape.get("securityContext", {})}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "labels": {"gavel.dev/bench": "bare"}},
            "spec": {"backoffLimit": 0, "template": {"metadata": {"labels": {"gavel.dev/bench": "bare"}}, "spec": pod}}}


def apply_and_wait(kube: kubectl.Kube, kind: str, objects: list[dict], done) -> float:
    start = time.perf_counter()
    kube("-n", NS, "apply", "-f", "-", input="\n---\n".join(json.dumps(o) for o in objects))
    last = -1
    while True:
        items = kube.json("-n", NS, "get", kind)["items"]
        finished = sum(done(i) for i in items)
        if finished != last:
            print(f"  {kind}: {finished}/{len(objects)} done after {time.perf_counter() - start:.1f} s", flush=True)
            last = finished
        if finished == len(objects):
            return time.perf_counter() - start
        if time.perf_counter() - start > 900:
            raise SystemExit(f"{kind} not done in 15 minutes: {finished}/{len(objects)}")
        time.sleep(0.5)


def job_done(job: dict) -> bool:
    return any(c["type"] in ("Complete", "Failed") and c["status"] == "True"
               for c in (job.get("status") or {}).get("conditions") or [])


def seconds(a: str, b: str) -> float:
    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return (parse(b) - parse(a)).total_seconds()


def operator_rss_mb(kube: kubectl.Kube) -> float | None:
    holder = kube.run("-n", RELEASE_NS, "get", "lease", f"{RELEASE}-operator", "-o",
                      "jsonpath={.spec.holderIdentity}", check=False).stdout.strip().rsplit("_", 1)[0]
    # the active replica's own metrics (the Service may reach the standby)
    path = f"/api/v1/namespaces/{RELEASE_NS}/pods/{holder}:{METRICS_PORT}/proxy/metrics"
    out = kube.run("get", "--raw", path, check=False)
    for line in out.stdout.splitlines() if out.returncode == 0 else []:
        if line.startswith("process_resident_memory_bytes"):
            return float(line.split()[-1]) / 2**20
    return None


def clean(kube: kubectl.Kube) -> None:
    kube("-n", NS, "delete", "evaluations,jobs", "--all", "--wait=true", "--timeout=180s", check=False)


def main() -> None:
    kube = kubectl.from_environment()
    kube("create", "namespace", NS, check=False)
    upload(kube)
    ratios, latencies = [], []
    rss_before = operator_rss_mb(kube)
    try:
        for r in range(1, ROUNDS + 1):
            clean(kube)
            print(f"round {r}/{ROUNDS}: {N} Evaluations through Gavel", flush=True)
            names = [f"bench-{r}-{i:02d}" for i in range(N)]
            gavel = apply_and_wait(kube, "evaluations", [evaluation(n) for n in names],
                                   lambda e: (e.get("status") or {}).get("phase") in FINAL)
            evs = kube.json("-n", NS, "get", "evaluations")["items"]
            verdicts = {(e.get("status") or {}).get("verdict") for e in evs}
            if verdicts != {"Accepted"}:
                raise SystemExit(f"expected every verdict Accepted, got {verdicts}")
            latencies += [seconds(e["metadata"]["creationTimestamp"], e["status"]["finishedAt"]) for e in evs]
            shape = kube.json("-n", NS, "get", "jobs")["items"][0]["spec"]["template"]["spec"]
            clean(kube)
            print(f"round {r}/{ROUNDS}: {N} bare Jobs of the same pod shape", flush=True)
            bare = apply_and_wait(kube, "jobs", [bare_job(f"bare-{r}-{i:02d}", shape) for i in range(N)], job_done)
            failed = [j["metadata"]["name"] for j in kube.json("-n", NS, "get", "jobs")["items"]
                      if (j.get("status") or {}).get("succeeded") != 1]
            if failed:
                raise SystemExit(f"bare Jobs failed: {failed}")
            ratios.append(gavel / bare)
            print(f"round {r}/{ROUNDS}: gavel {gavel:.1f} s, bare {bare:.1f} s, ratio {gavel / bare:.2f}", flush=True)
    finally:
        clean(kube)
        kube("delete", "namespace", NS, "--wait=false", check=False)
    rss_after = operator_rss_mb(kube)
    print()
    print(f"Evaluations per round        {N} (python, 4 tests each), rounds {ROUNDS}")
    print(f"gavel / bare Jobs, wall time  {', '.join(f'{x:.2f}' for x in ratios)} "
          f"(median {statistics.median(ratios):.2f})")
    print(f"apply -> verdict per Evaluation  median {statistics.median(latencies):.0f} s, "
          f"max {max(latencies):.0f} s (1 s resolution)")
    if rss_before is not None and rss_after is not None:
        print(f"operator resident memory      {rss_before:.0f} MiB before, {rss_after:.0f} MiB after")


if __name__ == "__main__":
    main()
