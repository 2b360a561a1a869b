"""make bench-cache: bytes read from storage for N Evaluations of one problem of ~50 MB, with the
node cache off and on, in one run, side by side. Prints numbers; asserts nothing. Needs `make demo`
(the chart and its bundled MinIO installed); the target runs it.

The problem: 10 tests, each a 5 MiB input (its answer: a line). The submission reads its input and
prints the answer, so every test passes. Each mode: `helm upgrade --reuse-values --set
cache.enabled=false|true` (a fresh, empty cache pod when on), then N Evaluations applied at once,
until every one has its verdict. What storage sent is MinIO's own counter
(`minio_s3_traffic_sent_bytes`, its node metrics, read before and after, settled); with the cache on,
also the cache pods' counters (objects fetched, validations, hits), their peak memory and disk.
`BENCH_EVALUATIONS` (100), `BENCH_TESTS` (10) and `BENCH_INPUT_MIB` (5) change the size.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import kubectl  # noqa: E402  (the tests' kubectl wrapper: one kubeconfig, JSON out)

N = int(os.environ.get("BENCH_EVALUATIONS", "100"))
TESTS = int(os.environ.get("BENCH_TESTS", "10"))
INPUT_MIB = int(os.environ.get("BENCH_INPUT_MIB", "5"))
NS = "gavel-bench-cache"
RELEASE, RELEASE_NS = os.environ.get("BENCH_RELEASE", "gavel"), os.environ.get("BENCH_RELEASE_NAMESPACE",
                                                                                 "gavel-system")
PROGRAM = "import sys\ndata = sys.stdin.buffer.read()\nprint(len(data))\n"
FINAL = {"Succeeded", "Failed", "Canceled"}
MIB = 1 << 20


class Minio:
    """The bundled MinIO from this host: objects, and its Prometheus metrics (a bearer token signed
    with its root key, as `mc admin prometheus generate` makes one)."""

    def __init__(self, kube: kubectl.Kube):
        from minio import Minio as Client

        self.endpoint = f"{kube.json('-n', RELEASE_NS, 'get', 'service', f'{RELEASE}-minio')['spec']['clusterIP']}:9000"
        secret = kube.json("-n", RELEASE_NS, "get", "secret", f"{RELEASE}-minio")["data"]
        self.access = base64.b64decode(secret["accessKey"]).decode()
        self.secret = base64.b64decode(secret["secretKey"]).decode()
        self.client = Client(self.endpoint, access_key=self.access, secret_key=self.secret, secure=False,
                             region="us-east-1")

    def put(self, key: str, data: bytes) -> dict:
        self.client.put_object("gavel", key, io.BytesIO(data), len(data))
        return {"key": key}

    def _token(self) -> str:
        enc = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=")  # noqa: E731
        head = enc(json.dumps({"alg": "HS512", "typ": "JWT"}).encode())
        claims = enc(json.dumps({"exp": int(time.time()) + 3600, "sub": self.access, "iss": "prometheus"}).encode())
        sig = enc(hmac.new(self.secret.encode(), head + b"." + claims, hashlib.sha512).digest())
        return (head + b"." + claims + b"." + sig).decode()

    def metrics(self) -> dict[str, float]:
        req = urllib.request.Request(f"http://{self.endpoint}/minio/v2/metrics/node",
                                     headers={"Authorization": f"Bearer {self._token()}"})
        out = {}
        for line in urllib.request.urlopen(req, timeout=10).read().decode().splitlines():
            if line.startswith("minio_s3_traffic_sent_bytes"):
                out["sent"] = out.get("sent", 0) + float(line.split()[-1])
            elif line.startswith('minio_s3_requests_total{api="getobject"'):
                out["gets"] = out.get("gets", 0) + float(line.split()[-1])
        return out

    def settled(self) -> dict[str, float]:
        """MinIO refreshes these every ~10 s: read until two reads 12 s apart agree."""
        last = self.metrics()
        while True:
            time.sleep(12)
            now = self.metrics()
            if now == last:
                return now
            last = now


def helm(*args: str) -> None:
    binary = os.environ.get("GAVEL_HELM") or subprocess.run([str(ROOT / "scripts" / "helm.sh")], check=True,
                                                             capture_output=True, text=True).stdout.strip()
    subprocess.run([binary, "--kubeconfig", os.environ["GAVEL_KUBECONFIG"], *args], check=True,
                   capture_output=True, text=True)


def set_cache(kube: kubectl.Kube, enabled: bool) -> None:
    helm("upgrade", RELEASE, str(ROOT / "charts" / "gavel"), "-n", RELEASE_NS, "--reuse-values",
         "--set", f"cache.enabled={str(enabled).lower()}", "--wait", "--timeout", "5m")
    kube("-n", RELEASE_NS, "rollout", "status", f"deployment/{RELEASE}-operator", "--timeout=5m")
    if enabled:  # a cache pod from the image just built, starting empty
        kube("-n", RELEASE_NS, "rollout", "restart", f"daemonset/{RELEASE}-cache")
        kube("-n", RELEASE_NS, "rollout", "status", f"daemonset/{RELEASE}-cache", "--timeout=5m")
    env = {e["name"]: e.get("value") for e in kube.json("-n", RELEASE_NS, "get", "deployment", f"{RELEASE}-operator")
           ["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert ("GAVEL_NODE_CACHE" in env) == enabled, env
    time.sleep(5)  # the new operator replica holds the Lease


def cache_pods(kube: kubectl.Kube) -> list[dict]:
    return kube.json("-n", RELEASE_NS, "get", "pods", "-l", "app.kubernetes.io/name=gavel-cache")["items"]


def cache_counters(kube: kubectl.Kube) -> dict[str, float]:
    """Summed over the cache pods: their /metrics, and their peak resident memory (VmHWM)."""
    total: dict[str, float] = {}
    for pod in cache_pods(kube):
        name = pod["metadata"]["name"]
        text = kube("get", "--raw", f"/api/v1/namespaces/{RELEASE_NS}/pods/{name}:8091/proxy/metrics")
        for line in text.splitlines():
            if line and not line.startswith("#"):
                key, value = line.rsplit(" ", 1)
                total[key] = total.get(key, 0) + float(value)
        status = kube("-n", RELEASE_NS, "exec", name, "--", "cat", "/proc/1/status")
        hwm = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))
        total["peak_rss_kib"] = max(total.get("peak_rss_kib", 0), hwm)
    return total


def run_round(kube: kubectl.Kube, tag: str, spec: dict) -> tuple[float, set[str]]:
    kube("-n", NS, "delete", "evaluations,jobs", "--all", "--wait=true", "--timeout=300s", check=False)
    names = [f"{tag}-{i:03d}" for i in range(N)]
    start = time.perf_counter()
    kube("-n", NS, "apply", "-f", "-", input="\n---\n".join(json.dumps(
        {"apiVersion": "gavel.dev/v1alpha1", "kind": "Evaluation", "metadata": {"name": n}, "spec": spec})
        for n in names))
    last = -1
    while True:
        items = kube.json("-n", NS, "get", "evaluations")["items"]
        done = [i for i in items if (i.get("status") or {}).get("phase") in FINAL]
        if len(done) != last:
            print(f"  cache {tag}: {len(done)}/{N} judged after {time.perf_counter() - start:.0f} s", flush=True)
            last = len(done)
        if len(done) == N:
            break
        if time.perf_counter() - start > 3600:
            raise SystemExit(f"not judged within an hour: {len(done)}/{N}")
        time.sleep(2)
    wall = time.perf_counter() - start
    verdicts = {(i.get("status") or {}).get("verdict") for i in items}
    if verdicts != {"Accepted"}:
        bad = next(i for i in items if i["status"].get("verdict") != "Accepted")
        raise SystemExit(f"expected every verdict Accepted, got {verdicts}: {bad['status'].get('message')}")
    nodes = {p["spec"].get("nodeName") for p in kube.json("-n", NS, "get", "pods")["items"]}
    return wall, nodes


def main() -> None:
    kube = kubectl.from_environment()
    kube("create", "namespace", NS, check=False)
    storage = Minio(kube)
    tests = []
    problem = 0
    for t in range(1, TESTS + 1):
        data = os.urandom(INPUT_MIB * MIB // 2).hex().encode()  # text, INPUT_MIB MiB
        answer = f"{len(data)}\n".encode()
        tests.append({"name": str(t), "input": storage.put(f"{NS}/problem/{t}.in", data),
                      "expected": storage.put(f"{NS}/problem/{t}.out", answer)})
        problem += len(data) + len(answer)
    spec = {"language": "python", "submission": storage.put(f"{NS}/solution.py", PROGRAM.encode()),
            "limits": {"timeMs": 5000, "memoryKb": 131072}, "tests": tests}
    results = {}
    try:
        for mode, enabled in (("off", False), ("on", True)):
            print(f"cache {mode}: {N} Evaluations of a {problem / MIB:.1f} MiB problem ({TESTS} tests)", flush=True)
            set_cache(kube, enabled)
            before = storage.settled()
            cache_before = cache_counters(kube) if enabled else {}
            wall, nodes = run_round(kube, mode, spec)
            after = storage.settled()
            cache_after = cache_counters(kube) if enabled else {}
            results[mode] = {"wall": wall, "nodes": nodes, "sent": after["sent"] - before["sent"],
                             "gets": after.get("gets", 0) - before.get("gets", 0),
                             "cache": {k: v - cache_before.get(k, 0) for k, v in cache_after.items()},
                             "cache_peak_rss_kib": cache_after.get("peak_rss_kib")}
    finally:
        kube("-n", NS, "delete", "evaluations,jobs", "--all", "--wait=true", "--timeout=300s", check=False)
        kube("delete", "namespace", NS, "--wait=false", check=False)
    off, on = results["off"], results["on"]
    c = on["cache"]
    hits = sum(v for k, v in c.items() if k.startswith("gavel_cache_requests_total") and
               ('"hit"' in k or '"shared"' in k))

    def row(what, a, b):
        print(f"| {what} | {a} | {b} |")

    print()
    print(f"{N} Evaluations of one problem: {TESTS} tests, {problem / MIB:.1f} MiB "
          f"({problem:,} bytes of inputs and answers)")
    print()
    row("", "cache off", "cache on")
    row("---", "---", "---")
    row("nodes the runner pods ran on", len(off["nodes"]), len(on["nodes"]))
    row("bytes storage sent (MinIO)", f"{off['sent'] / MIB:,.1f} MiB", f"{on['sent'] / MIB:,.1f} MiB")
    row("… per node, × the problem's size", f"{off['sent'] / len(off['nodes']) / problem:.2f}",
        f"{on['sent'] / len(on['nodes']) / problem:.2f}")
    row("GET requests storage answered", f"{off['gets']:.0f}", f"{on['gets']:.0f}")
    row("apply to the last verdict", f"{off['wall']:.0f} s", f"{on['wall']:.0f} s")
    row("cache: objects fetched / validations / served from a copy", "—",
        f"{c.get('gavel_cache_fetches_total', 0):.0f} / {c.get('gavel_cache_validations_total', 0):.0f} / {hits:.0f}")
    row("cache: bytes read from storage (its counter)", "—", f"{c.get('gavel_cache_storage_bytes_total', 0) / MIB:,.1f} MiB")
    row("cache: bytes served to runners", "—", f"{c.get('gavel_cache_served_bytes_total', 0) / MIB:,.1f} MiB")
    row("cache: disk held at the end", "—", f"{c.get('gavel_cache_bytes', 0) / MIB:,.1f} MiB")
    row("cache: peak resident memory (per pod)", "—", f"{(on['cache_peak_rss_kib'] or 0) / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
