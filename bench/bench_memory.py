"""make bench-memory: the operator's resident memory with 1,000 and 10,000 Evaluations in flight,
its heap settings off (the baseline) and on, side by side in one run. Prints numbers; asserts nothing.

What is measured is the operator alone, so nothing else runs: a control plane of its own (etcd and
kube-apiserver from the cluster's cached build, copied, on loopback ports 22379/22380 and 26443, in a
private directory; no controller-manager, scheduler or node), Gavel's CRDs and one Language, and
MinIO on loopback. The operator (`python -m gavel_operator`, as its Deployment runs it, confined to
the bench's namespace) admits every Evaluation: `max_running` of them get a Job (which nothing runs:
there is no Job controller), the rest are Queued. All N stay in flight, which is the operator's
worst case for memory: a ledger entry, kopf's per-object state and a pending handler each.

For each size and setting, a fresh operator and namespace: idle RSS, then N created at once (32
requests in flight), the peak RSS until every one has a phase, and the RSS once settled (one heap
trim period, 35 s, after the last admission). Memory per Evaluation = (RSS − idle) / N.

Environment: BENCH_MEMORY_SIZES (default 1000,10000), BENCH_MEMORY_RUNNING (max_running, 100),
BENCH_MEMORY_MODES (default: both, "baseline,heap steps on"), BENCH_MEMORY_PROBE (as bench-scale's
BENCH_SCALE_PROBE: bench/probe/sitecustomize.py in the operator, its dumps in /var/tmp/gavel-probe-*).
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import ipaddress
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "scale"))
import harness  # noqa: E402
from s3server import minio_server  # noqa: E402

SIZES = [int(s) for s in os.environ.get("BENCH_MEMORY_SIZES", "1000,10000").split(",") if s.strip()]
CAP = int(os.environ.get("BENCH_MEMORY_RUNNING", "100"))
ETCD_PORT, ETCD_PEER_PORT, API_PORT = 22379, 22380, 26443
SETTLE_S = 35.0  # one heap trim period (30 s) and a little
# the baseline: every step of heap.py and the admission bound off (what the operator did before)
MODES = {"baseline": {"max_admitting": 0, "heap_trim_seconds": 0, "malloc_arenas": 0},
         "heap steps on": {}}
MODES = {m: MODES[m] for m in os.environ.get("BENCH_MEMORY_MODES", ",".join(MODES)).split(",")}
PROBE = os.environ.get("BENCH_MEMORY_PROBE", "")


def say(text: str) -> None:
    print(f"[bench] {text}", flush=True)


def versions() -> dict[str, str]:
    out = {}
    for line in (ROOT / "cluster" / "versions.env").read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            out[key.strip()] = value.strip()
    return out


def binaries() -> tuple[Path, Path]:
    cache = Path(os.environ.get("GAVEL_CACHE", "/var/cache/gavel"))
    v = versions()
    etcd = cache / f"etcd-{v['ETCD_VERSION']}" / "bin" / "etcd"
    apiserver = cache / f"k8s-{v['KUBERNETES_VERSION']}" / "bin" / "kube-apiserver"
    for path in (etcd, apiserver):
        if not path.exists():
            sys.exit(f"{path} is missing: `make cluster` builds it (cached under $GAVEL_CACHE)")
    return etcd, apiserver


def pki(work: Path) -> str:
    """A CA, the API server's serving certificate for 127.0.0.1, a service-account key; returns the CA."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gavel-bench-ca")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(ca_key, hashes.SHA256()))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    plain = dict(encoding=pem, format=serialization.PrivateFormat.TraditionalOpenSSL,
                 encryption_algorithm=serialization.NoEncryption())
    (work / "ca.crt").write_bytes(ca.public_bytes(pem))
    (work / "apiserver.crt").write_bytes(cert.public_bytes(pem))
    (work / "apiserver.key").write_bytes(key.private_bytes(**plain))
    sa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (work / "sa.key").write_bytes(sa.private_bytes(**plain))
    (work / "sa.pub").write_bytes(sa.public_key().public_bytes(pem, serialization.PublicFormat.SubjectPublicKeyInfo))
    return ca.public_bytes(pem).decode()


def control_plane(work: Path) -> tuple[list[subprocess.Popen], str]:
    """etcd and kube-apiserver on loopback; returns the processes and an admin kubeconfig's path."""
    # run from private copies: cluster/down.sh (`make cluster-down`, or `up` cleaning leftovers) kills
    # every process whose executable is a cached etcd or Kubernetes binary, and a test run beside this
    # bench took its control plane away mid-burst
    (work / "bin").mkdir()
    etcd, apiserver = (Path(shutil.copy2(b, work / "bin" / b.name)) for b in binaries())
    ca = pki(work)
    token = os.urandom(16).hex()
    (work / "tokens.csv").write_text(f'{token},bench-admin,bench-admin,"system:masters"\n')
    logs = open(work / "control-plane.log", "ab")
    procs = [subprocess.Popen([
        str(etcd), "--name", "bench", "--data-dir", str(work / "etcd"),
        "--listen-client-urls", f"http://127.0.0.1:{ETCD_PORT}", "--advertise-client-urls", f"http://127.0.0.1:{ETCD_PORT}",
        "--listen-peer-urls", f"http://127.0.0.1:{ETCD_PEER_PORT}",
        "--initial-advertise-peer-urls", f"http://127.0.0.1:{ETCD_PEER_PORT}",
        "--initial-cluster", f"bench=http://127.0.0.1:{ETCD_PEER_PORT}", "--listen-metrics-urls", "",
        "--quota-backend-bytes", "4294967296", "--log-level", "warn"], stdout=logs, stderr=subprocess.STDOUT)]
    procs.append(subprocess.Popen([
        str(apiserver), "--etcd-servers", f"http://127.0.0.1:{ETCD_PORT}", "--bind-address", "127.0.0.1",
        "--secure-port", str(API_PORT), "--advertise-address", "127.0.0.1",
        "--service-cluster-ip-range", "10.254.0.0/24",
        "--tls-cert-file", str(work / "apiserver.crt"), "--tls-private-key-file", str(work / "apiserver.key"),
        "--token-auth-file", str(work / "tokens.csv"), "--authorization-mode", "RBAC",
        "--service-account-issuer", "https://bench.invalid", "--service-account-key-file", str(work / "sa.pub"),
        "--service-account-signing-key-file", str(work / "sa.key"), "--profiling=false",
        "--enable-priority-and-fairness=false", "--max-requests-inflight", "1000",
        "--max-mutating-requests-inflight", "500"], stdout=logs, stderr=subprocess.STDOUT))
    kubeconfig = work / "admin.kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "bench",
        "clusters": [{"name": "bench", "cluster": {"server": f"https://127.0.0.1:{API_PORT}",
                                                    "certificate-authority-data": base64.b64encode(ca.encode()).decode()}}],
        "users": [{"name": "bench", "user": {"token": token}}],
        "contexts": [{"name": "bench", "context": {"cluster": "bench", "user": "bench"}}]}))
    os.chmod(kubeconfig, 0o600)
    return procs, str(kubeconfig)


async def until(what: str, check, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if await check():
                return
        except Exception:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{what}: not within {timeout:.0f} s")
        await asyncio.sleep(0.5)


async def set_up(api: harness.Api) -> None:
    await until("kube-apiserver ready",  # /readyz answers text; this list answers JSON once it serves
                lambda: api.request("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"))
    for path in sorted((ROOT / "crds").glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        await api.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    await until("Gavel's CRDs served", lambda: api.request("GET", "/apis/gavel.dev/v1alpha1/evaluations"))
    await api.request("POST", "/apis/gavel.dev/v1alpha1/languages", harness.language())


async def one(api: harness.Api, kubeconfig: str, s3, work: Path, n: int, mode: str) -> dict:
    namespace = f"mem-{n}-{'base' if MODES[mode] else 'heap'}"
    await api.request("POST", "/api/v1/namespaces", {"metadata": {"name": namespace}})
    # no controller-manager makes it: the runner pods' admission needs it (a dry run of each pod)
    await api.request("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts", {"metadata": {"name": "default"}})
    harness.upload(s3, namespace)
    settings = {"namespaces": namespace, "max_running": CAP, "namespace_ceilings": {namespace: {"maxRunning": CAP}},
                **MODES[mode]}
    env = {}
    if PROBE:  # what holds the operator's memory (bench/probe/sitecustomize.py)
        probe = tempfile.mkdtemp(prefix=f"gavel-probe-{namespace}-", dir="/var/tmp")
        env = {"PYTHONPATH": str(ROOT / "bench" / "probe"), "GAVEL_PROBE_DIR": probe,
               "GAVEL_PROBE_TRACEMALLOC": PROBE, "GAVEL_PROBE_SECONDS": "30"}
        say(f"probe: {probe}")
    operator = harness.Operator(kubeconfig, s3, work, env=env, **settings).start()
    try:
        await asyncio.sleep(5)
        idle = min(operator.rss_kib() or 0 for _ in range(3))
        admitted: set[str] = set()
        stop = asyncio.Event()
        path = f"/apis/gavel.dev/v1alpha1/namespaces/{namespace}/evaluations"

        def on_event(kind, obj, at):
            if (obj.get("status") or {}).get("phase"):
                admitted.add(obj["metadata"]["name"])

        watch = asyncio.create_task(api.watch(path, on_event, stop))
        peak = idle
        t0 = time.monotonic()
        creators = asyncio.ensure_future(harness.create_all(api, namespace, [f"m{i:05d}" for i in range(n)]))
        deadline = t0 + 120 + 0.2 * n
        last = 0.0
        while (len(admitted) < n or not creators.done()) and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            peak = max(peak, operator.rss_kib() or 0)
            assert operator.proc.poll() is None, f"operator exited:\n{operator.log_tail()}"
            if time.monotonic() - last >= 15:
                last = time.monotonic()
                say(f"  {mode}, {n:,}: {time.monotonic() - t0:5.0f} s, {len(admitted):,} admitted, "
                    f"RSS {(operator.rss_kib() or 0) // 1024} MiB")
        await creators
        admitted_s = time.monotonic() - t0
        end = time.monotonic() + SETTLE_S
        while time.monotonic() < end:
            await asyncio.sleep(0.5)
            peak = max(peak, operator.rss_kib() or 0)
        settled = operator.rss_kib() or 0
        stop.set()
        watch.cancel()
        await asyncio.gather(watch, return_exceptions=True)
        return {"n": n, "mode": mode, "admitted": len(admitted), "admitted_s": admitted_s, "idle": idle,
                "peak": peak, "settled": settled}
    finally:
        operator.stop()


def table(rows: list[dict]) -> str:
    head = ["", *[f"{r['mode']}, {r['n']:,}" for r in rows]]
    lines = [
        ["admitted (all with a phase) in", *[f"{r['admitted']:,} in {r['admitted_s']:.0f} s" for r in rows]],
        ["operator RSS idle / peak / settled (MiB)",
         *[f"{r['idle'] / 1024:.0f} / {r['peak'] / 1024:.0f} / {r['settled'] / 1024:.0f}" for r in rows]],
        ["memory per Evaluation in flight, peak / settled (kB; goal ≤ 20)",
         *[f"{(r['peak'] - r['idle']) * 1.024 / r['n']:.1f} / {(r['settled'] - r['idle']) * 1.024 / r['n']:.1f}"
           for r in rows]],
    ]
    widths = [max(len(str(row[i])) for row in [head, *lines]) for i in range(len(head))]
    fmt = lambda row: "| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths)) + " |"  # noqa: E731
    return "\n".join([fmt(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(fmt, lines)])


async def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="gavel-bench-memory-", dir="/var/tmp"))
    procs, kubeconfig = control_plane(work)
    api = harness.Api(kubeconfig)
    rows = []
    try:
        try:
            await set_up(api)
        except SystemExit:
            print((work / "control-plane.log").read_text(errors="replace")[-3000:])
            raise
        with minio_server(work / "minio") as s3:
            for n in SIZES:
                for mode in MODES:
                    say(f"{mode}: {n:,} Evaluations at once, cap {CAP} running")
                    rows.append(await one(api, kubeconfig, s3, work, n, mode))
                    say("  " + table(rows[-1:]).splitlines()[-1])
    finally:
        await api.close()
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(table(rows))


if __name__ == "__main__":
    asyncio.run(main())
