"""The scale harness the kwok tier (tests/scale) and `make bench-scale` (bench/bench_scale.py)
share: the operator as a host process with its own identity, a burst of Evaluations created at
once, and what it cost, measured from outside the operator.

- The operator runs as `python -m gavel_operator` (as tests/operator does), confined to the
  burst's namespace (GAVEL_NAMESPACES), its runner pods sent to kwok's simulated nodes by the
  namespace's tenancy policy, its storage a MinIO on loopback (tests/s3server.py). It talks to the
  API server as a ServiceAccount of its own (cluster-admin for the run), so that a FlowSchema of
  its own (`gavel-scale-operator`, the same priority level as any service account's) counts its
  requests in the API server's `apiserver_flowcontrol_dispatched_requests_total`.
- The burst is created with raw HTTP, many requests in flight (kubectl creates ~20 a second).
- Watches on the namespace's Evaluations, Jobs and runner pods record when each was first seen admitted (any
  phase), final, and when each Job appeared and completed; a sampler reads the operator's RSS
  (/proc/PID/status) twice a second.
- Slot latency: with the cap at C running and the queue not empty, the k-th slot to free is taken by
  the (C+k)-th Job. "pod ended -> next Job" pairs the k-th runner pod seen Succeeded or Failed with
  the (C+k)-th Job seen created; "verdict -> next Job" pairs the k-th Evaluation seen final with it. Both clocks are
  this process's, both sides seen through the same kind of watch.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import yaml

import simulated

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "gavel"
FINAL = ("Succeeded", "Failed", "Canceled")
LANGUAGE = "gavel-scale-sim"  # a Language of its own: never one the chart or another tier owns
IDENTITY_NS = "gavel-scale-system"
IDENTITY = "gavel-scale-operator"


def language() -> dict:
    """Runner pods of this Language never start a container (kwok ends them): no image is pulled."""
    return {"apiVersion": "gavel.dev/v1alpha1", "kind": "Language", "metadata": {"name": LANGUAGE},
            "spec": {"title": "simulated runner (kwok scale tier)",
                     "versions": [{"version": "1", "default": True, "sourceFile": "main.py",
                                   "run": ["/bin/true"], "image": "gavel.local/simulated:none"}]}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- the API server over raw HTTP -----------------------------------------------------------

class Api:
    """aiohttp on the admin kubeconfig's credentials (client certificate or token)."""

    def __init__(self, kubeconfig: str, connections: int = 64):
        cfg = yaml.safe_load(Path(kubeconfig).read_text())
        ctx_name = cfg.get("current-context") or cfg["contexts"][0]["name"]
        ctx = next(c["context"] for c in cfg["contexts"] if c["name"] == ctx_name)
        cluster = next(c["cluster"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])
        user = next(u["user"] for u in cfg["users"] if u["name"] == ctx["user"])
        self.server = cluster["server"].rstrip("/")
        self.ca = _pem(cluster, "certificate-authority", kubeconfig)
        sslctx = ssl.create_default_context(cadata=self.ca)
        self._tmp = tempfile.TemporaryDirectory(prefix="gavel-scale-")
        headers = {}
        if user.get("token"):
            headers["Authorization"] = f"Bearer {user['token']}"
        if user.get("client-certificate") or user.get("client-certificate-data"):
            cert, key = Path(self._tmp.name) / "cert.pem", Path(self._tmp.name) / "key.pem"
            cert.write_text(_pem(user, "client-certificate", kubeconfig))
            key.write_text(_pem(user, "client-key", kubeconfig))
            os.chmod(key, 0o600)
            sslctx.load_cert_chain(str(cert), str(key))
        self.session = aiohttp.ClientSession(headers=headers, connector=aiohttp.TCPConnector(ssl=sslctx, limit=connections),
                                             timeout=aiohttp.ClientTimeout(total=None, sock_connect=10))

    async def close(self) -> None:
        await self.session.close()
        self._tmp.cleanup()

    async def request(self, method: str, path: str, body=None, **params):
        async with self.session.request(method, self.server + path, params=params or None,
                                        data=None if body is None else json.dumps(body),
                                        headers={"Content-Type": "application/json"},
                                        timeout=aiohttp.ClientTimeout(total=120)) as resp:
            text = await resp.text()
            if resp.status >= 400:
                raise RuntimeError(f"{method} {path}: HTTP {resp.status}: {text[:500]}")
            return json.loads(text) if text else None

    async def list_all(self, path: str, **params) -> list[dict]:
        items, cont = [], None
        while True:
            page = await self.request("GET", path, limit="500", **({"continue": cont} if cont else {}), **params)
            items += page.get("items") or []
            cont = page["metadata"].get("continue")
            if not cont:
                return items

    async def count(self, path: str) -> int:
        """How many objects a list names, read as metadata only (PartialObjectMetadataList pages)."""
        total, cont = 0, None
        accept = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
        while True:
            params = {"limit": "500", **({"continue": cont} if cont else {})}
            async with self.session.get(self.server + path, params=params, headers={"Accept": accept},
                                        timeout=aiohttp.ClientTimeout(total=120)) as resp:
                page = json.loads(await resp.text())
            total += len(page.get("items") or [])
            cont = (page.get("metadata") or {}).get("continue")
            if not cont:
                return total

    async def watch(self, path: str, on_event, stop: asyncio.Event, **params) -> None:
        """Calls on_event(type, object, monotonic time) for every event from a list's
        resourceVersion on (the list's items first, as ADDED), until `stop`."""
        rv = None
        while not stop.is_set():
            if rv is None:
                page = await self.request("GET", path, **params)
                now = time.monotonic()
                for item in page.get("items") or []:
                    on_event("ADDED", item, now)
                rv = page["metadata"]["resourceVersion"]
            try:
                async with self.session.get(self.server + path, params={
                        **params, "watch": "1", "resourceVersion": rv, "allowWatchBookmarks": "true",
                        "timeoutSeconds": "240"}) as resp:
                    buf = b""
                    async for chunk in resp.content.iter_any():
                        buf += chunk
                        while b"\n" in buf:
                            line, buf = buf.split(b"\n", 1)
                            if not line.strip():
                                continue
                            ev = json.loads(line)
                            obj = ev["object"]
                            if ev["type"] == "ERROR":
                                rv = None if obj.get("code") == 410 else rv
                                break
                            rv = obj["metadata"].get("resourceVersion", rv)
                            if ev["type"] != "BOOKMARK":
                                on_event(ev["type"], obj, time.monotonic())
                        if stop.is_set():
                            return
            except (aiohttp.ClientError, asyncio.TimeoutError):
                await asyncio.sleep(0.5)


def _pem(section: dict, key: str, kubeconfig: str) -> str:
    if data := section.get(f"{key}-data"):
        return base64.b64decode(data).decode()
    path = Path(section[key])
    if not path.is_absolute():
        path = Path(kubeconfig).parent / path
    return path.read_text()


# ---- the API server's own counters ----------------------------------------------------------

_SAMPLE = re.compile(r'^(\w+)\{([^}]*)\} (\S+)$')


def apiserver_metrics(kube) -> dict[str, float]:
    """The counters this harness compares before and after a burst: the operator's requests (its
    FlowSchema), every client's requests, and objects stored, by resource."""
    out: dict[str, float] = {"operator": 0.0, "all": 0.0}
    for line in kube("get", "--raw", "/metrics", timeout=120).splitlines():
        m = _SAMPLE.match(line)
        if not m:
            continue
        name, labels, value = m.groups()
        if name == "apiserver_flowcontrol_dispatched_requests_total" and f'flow_schema="{IDENTITY}"' in labels:
            out["operator"] += float(value)
        elif name == "apiserver_request_total":
            out["all"] += float(value)
    return out


# ---- the operator's identity and process ----------------------------------------------------

@contextlib.contextmanager
def operator_identity(kube, work: Path):
    """A ServiceAccount for the operator (cluster-admin while the run lasts), a FlowSchema that
    names it (so the API server counts its requests apart), and a kubeconfig with its token.
    All removed afterwards."""
    objs = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": IDENTITY_NS}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": IDENTITY, "namespace": IDENTITY_NS}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": IDENTITY},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
         "subjects": [{"kind": "ServiceAccount", "name": IDENTITY, "namespace": IDENTITY_NS}]},
        # the priority level every service account's requests get by default (FlowSchema
        # service-accounts): only the name the requests are counted under changes
        {"apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "FlowSchema", "metadata": {"name": IDENTITY},
         "spec": {"matchingPrecedence": 600, "priorityLevelConfiguration": {"name": "workload-low"},
                  "distinguisherMethod": {"type": "ByUser"},
                  "rules": [{"subjects": [{"kind": "ServiceAccount",
                                           "serviceAccount": {"name": IDENTITY, "namespace": IDENTITY_NS}}],
                             "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"],
                                                "clusterScope": True, "namespaces": ["*"]}],
                             "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}]}]}},
    ]
    # the last run's identity namespace goes without waiting (--wait=false below), or is left by a run
    # that was killed: a namespace still terminating takes nothing new
    kube("delete", "namespace", IDENTITY_NS, "--ignore-not-found", "--wait=false")
    kube("wait", "--for=delete", f"namespace/{IDENTITY_NS}", "--timeout=180s", timeout=200)
    kube.apply(yaml.safe_dump_all(objs))
    try:
        token = kube("-n", IDENTITY_NS, "create", "token", IDENTITY, "--duration=6h").strip()
        admin = yaml.safe_load(Path(kube.kubeconfig).read_text())
        ctx = next(c["context"] for c in admin["contexts"] if c["name"] == admin.get("current-context", ""))
        cluster = next(c for c in admin["clusters"] if c["name"] == ctx["cluster"])["cluster"]
        path = work / "operator.kubeconfig"
        path.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "op",
            "clusters": [{"name": "c", "cluster": {"server": cluster["server"], "certificate-authority-data":
                                                   base64.b64encode(_pem(cluster, "certificate-authority",
                                                                         kube.kubeconfig).encode()).decode()}}],
            "users": [{"name": "op", "user": {"token": token}}],
            "contexts": [{"name": "op", "context": {"cluster": "c", "user": "op"}}]}))
        os.chmod(path, 0o600)
        yield str(path)
    finally:
        kube("delete", "flowschema", IDENTITY, "--ignore-not-found", check=False)
        kube("delete", "clusterrolebinding", IDENTITY, "--ignore-not-found", check=False)
        kube("delete", "namespace", IDENTITY_NS, "--ignore-not-found", "--wait=false", check=False)


def operator_settings(namespace: str, cap: int) -> dict:
    """The operator's settings for a burst into `namespace`: confined to it, `cap` running at once (the
    namespace's ceiling raised to it: the default ceiling is 10), its runner pods on the simulated nodes."""
    return {"namespaces": namespace, "max_running": cap,
            "namespace_ceilings": {namespace: {"maxRunning": cap}},
            "namespace_tenancy": {namespace: simulated.imposed_placement()}}


class Operator:
    """`python -m gavel_operator` as its own process (as in its Deployment), its RSS readable."""

    def __init__(self, kubeconfig: str, s3, log_dir: Path, env: dict | None = None, **settings):
        self.log_path = log_dir / f"operator-{uuid.uuid4().hex[:6]}.log"
        self.health, self.metrics = free_port(), free_port()
        self.env = {**os.environ, "KUBECONFIG": kubeconfig,
                    "GAVEL_STORAGE_ENDPOINT": s3.endpoint, "GAVEL_POD_STORAGE_ENDPOINT": s3.endpoint,
                    "GAVEL_STORAGE_ACCESS_KEY": s3.access_key, "GAVEL_STORAGE_SECRET_KEY": s3.secret_key,
                    "GAVEL_BUCKET": BUCKET, "GAVEL_IMAGE_PULL_POLICY": "Never", "GAVEL_RUNNER_CPU": "100m",
                    "GAVEL_RUNNER_MEMORY_OVERHEAD_MI": "128", "GAVEL_METRICS_PORT": str(self.metrics),
                    "GAVEL_LIVENESS": f"http://127.0.0.1:{self.health}/healthz",
                    **{f"GAVEL_{k.upper()}": (json.dumps(v) if isinstance(v, (dict, list)) else str(v))
                       for k, v in settings.items()}}
        self.env.pop("GAVEL_KUBECONFIG", None)
        self.env.update(env or {})
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Operator":
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "gavel_operator"], env=self.env, stdout=log,
                                     stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + 60
        while True:
            assert self.proc.poll() is None, f"operator exited {self.proc.returncode}:\n{self.log_tail()}"
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.health}/healthz", timeout=1)
                return self
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"operator not healthy in 60 s:\n{self.log_tail()}")
                time.sleep(0.3)

    def rss_kib(self) -> int | None:
        try:
            text = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return None
        m = re.search(r"^VmRSS:\s+(\d+) kB", text, re.M)
        return int(m.group(1)) if m else None

    def cpu_s(self) -> float | None:
        """CPU seconds the operator process has used (user + system)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def readyz(self) -> tuple[int, dict]:
        """The readiness probe's answer (status, words): 200 once the queue is rebuilt, 503 catching up."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics}/readyz", timeout=5) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"{}")

    def wait_ready(self, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            status, words = self.readyz()
            if status == 200:
                return words
            if time.monotonic() > deadline:
                raise AssertionError(f"operator not ready in {timeout:.0f} s: {words}\n{self.log_tail()}")
            time.sleep(0.3)

    def counters(self, name: str) -> dict[str, float]:
        """A counter of the operator's /metrics by its labels' text ('verdict="Accepted"': 300.0)."""
        text = urllib.request.urlopen(f"http://127.0.0.1:{self.metrics}/metrics", timeout=10).read().decode()
        out: dict[str, float] = {}
        for line in text.splitlines():
            m = _SAMPLE.match(line)
            if m and m.group(1) == name:
                out[m.group(2)] = float(m.group(3))
        return out


# ---- a burst --------------------------------------------------------------------------------

def evaluation(name: str, namespace: str) -> dict:
    base = f"{namespace}/sim"
    return {"apiVersion": "gavel.dev/v1alpha1", "kind": "Evaluation", "metadata": {"name": name},
            "spec": {"language": LANGUAGE, "submission": {"key": f"{base}/main.py"},
                     "tests": [{"name": "1", "input": {"key": f"{base}/1.in"}, "expected": {"key": f"{base}/1.out"}}]}}


def upload(s3, namespace: str) -> None:
    client = s3.client()
    if not client.bucket_exists(BUCKET):
        client.make_bucket(BUCKET)
    for key, text in (("main.py", "print(1)\n"), ("1.in", "\n"), ("1.out", "1\n")):
        data = text.encode()
        client.put_object(BUCKET, f"{namespace}/sim/{key}", io.BytesIO(data), len(data))


async def create_all(api: Api, namespace: str, names: list[str], concurrency: int = 32, created=None) -> int:
    """POST an Evaluation (evaluation()) of each name, `concurrency` requests in flight, each tried up
    to 5 times (a 409: made by an earlier try); created(name) as each exists. Returns how many failed."""
    path = f"/apis/gavel.dev/v1alpha1/namespaces/{namespace}/evaluations"
    pending = iter(names)
    errors = 0

    async def creator() -> None:
        nonlocal errors
        for name in pending:
            for attempt in range(5):
                try:
                    await api.request("POST", path, evaluation(name, namespace))
                except RuntimeError as err:
                    if "HTTP 409" not in str(err):
                        if attempt == 4:
                            errors += 1
                            break
                        await asyncio.sleep(0.5 * (attempt + 1))
                        continue
                if created:
                    created(name)
                break

    await asyncio.gather(*[creator() for _ in range(concurrency)])
    return errors


@dataclass
class Seen:
    """What the watches saw, by name, in this process's monotonic clock."""
    created: dict[str, float] = field(default_factory=dict)  # our POST answered
    admitted: dict[str, float] = field(default_factory=dict)  # first seen with any phase
    final: dict[str, float] = field(default_factory=dict)
    verdicts: dict[str, tuple[str, str | None, str | None]] = field(default_factory=dict)  # phase, verdict, passed
    jobs_added: dict[str, float] = field(default_factory=dict)  # Job name -> first seen
    job_of: dict[str, str] = field(default_factory=dict)  # Job name -> Evaluation name
    jobs_done: dict[str, float] = field(default_factory=dict)
    pods_ended: dict[str, float] = field(default_factory=dict)  # runner pod name -> first seen Succeeded or Failed

    def on_evaluation(self, kind: str, obj: dict, at: float) -> None:
        name, st = obj["metadata"]["name"], obj.get("status") or {}
        phase = st.get("phase")
        if phase and name not in self.admitted:
            self.admitted[name] = at
        if phase in FINAL and name not in self.final:
            self.final[name] = at
            self.verdicts[name] = (phase, st.get("verdict"), st.get("passed"))

    def on_job(self, kind: str, obj: dict, at: float) -> None:
        name = obj["metadata"]["name"]
        if name not in self.jobs_added:
            self.jobs_added[name] = at
            self.job_of[name] = (obj["metadata"].get("annotations") or {}).get("gavel.dev/evaluation-name", "")
        conds = (obj.get("status") or {}).get("conditions") or []
        if name not in self.jobs_done and any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
                                              for c in conds):
            self.jobs_done[name] = at

    def on_pod(self, kind: str, obj: dict, at: float) -> None:
        name = obj["metadata"]["name"]
        if name not in self.pods_ended and (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            self.pods_ended[name] = at


@dataclass
class Burst:
    n: int
    cap: int
    namespace: str
    created_s: float = 0.0  # first POST to last answered
    admitted_s: float | None = None  # first POST to the last Evaluation seen with a phase
    judged_s: float | None = None  # first POST to the last seen final
    timed_out: bool = False
    seen: Seen = field(default_factory=Seen)
    rss_idle_kib: int = 0
    rss_peak_kib: int = 0
    peak_inflight: int = 0
    api_operator: float = 0.0
    api_all: float = 0.0
    objects: dict[str, int] = field(default_factory=dict)
    create_errors: int = 0
    operator_cpu_s: float | None = None  # CPU seconds the operator used from the first POST to the last verdict
    machine_busy: float | None = None  # the machine's CPUs busy meanwhile, 0..1 (every process: the cluster too)
    unready: list[dict] = field(default_factory=list)  # the readiness probe's words whenever it said not ready

    @property
    def judged(self) -> int:
        return len(self.seen.final)

    def admissions_per_s(self) -> float | None:
        return len(self.seen.admitted) / self.admitted_s if self.admitted_s else None

    def judged_per_s(self) -> float | None:
        if not self.seen.final:
            return None
        return len(self.seen.final) / (max(self.seen.final.values()) - self.t0)

    t0: float = 0.0

    def memory_per_inflight_kb(self) -> float | None:
        """(peak RSS - idle RSS) / most in flight at once, in kB: an upper bound (the peak may come later)."""
        if not self.peak_inflight:
            return None
        return (self.rss_peak_kib - self.rss_idle_kib) * 1.024 / self.peak_inflight

    def slot_latencies(self) -> tuple[list[float], list[float]]:
        """(runner pod ended -> next Job created, verdict seen -> next Job created), seconds, while
        Evaluations waited."""
        created = sorted(self.seen.jobs_added.values())
        done = sorted(self.seen.pods_ended.values())
        with_job = set(self.seen.job_of.values())
        final = sorted(t for name, t in self.seen.final.items() if name in with_job)
        after_done = [created[self.cap + k] - t for k, t in enumerate(done) if self.cap + k < len(created)]
        after_final = [created[self.cap + k] - t for k, t in enumerate(final) if self.cap + k < len(created)]
        return after_done, after_final


def install_crds(kube) -> None:
    """Gavel's CRDs as this checkout generates them (a cluster may be new, or hold older ones)."""
    for path in sorted((ROOT / "crds").glob("*.yaml")):
        kube("apply", "--server-side", "--force-conflicts", "-f", str(path))
    for name in ("evaluations.gavel.dev", "languages.gavel.dev", "problems.gavel.dev"):
        kube("wait", "--for=condition=Established", f"crd/{name}", "--timeout=60s")


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(p / 100 * len(ordered) + 0.5)) - 1))]


def _machine_ticks() -> tuple[int, int]:
    """(idle + iowait, all) ticks of every CPU since boot (/proc/stat)."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return ticks[3] + ticks[4], sum(ticks[:8])


async def burst(api: Api, kube, operator: Operator, namespace: str, n: int, cap: int, timeout: float,
                concurrency: int = 32, progress=None) -> Burst:
    """Create n Evaluations in `namespace` at once and follow them to their verdicts (or the timeout)."""
    out = Burst(n=n, cap=cap, namespace=namespace)
    stop = asyncio.Event()
    seen = out.seen
    ev_path = f"/apis/gavel.dev/v1alpha1/namespaces/{namespace}/evaluations"
    watches = [asyncio.create_task(api.watch(ev_path, seen.on_evaluation, stop)),
               asyncio.create_task(api.watch(f"/apis/batch/v1/namespaces/{namespace}/jobs", seen.on_job, stop)),
               asyncio.create_task(api.watch(f"/api/v1/namespaces/{namespace}/pods", seen.on_pod, stop,
                                             labelSelector="gavel.dev/role=runner"))]
    await asyncio.sleep(1.0)
    rss_idle = [operator.rss_kib() or 0 for _ in range(3)]
    out.rss_idle_kib = min(rss_idle)
    before = await asyncio.to_thread(apiserver_metrics, kube)

    async def sample() -> None:
        while not stop.is_set():
            status, words = await asyncio.to_thread(operator.readyz)
            if status != 200:
                out.unready.append(words)
            rss = operator.rss_kib() or 0
            inflight = len(seen.created) - len(seen.final)
            out.rss_peak_kib = max(out.rss_peak_kib, rss)
            out.peak_inflight = max(out.peak_inflight, inflight)
            await asyncio.sleep(0.5)

    sampler = asyncio.create_task(sample())
    cpu0, machine0 = operator.cpu_s(), _machine_ticks()
    out.t0 = time.monotonic()
    out.create_errors = await create_all(api, namespace, [f"s{i:05d}" for i in range(n)], concurrency,
                                         lambda name: seen.created.__setitem__(name, time.monotonic()))
    out.created_s = max(seen.created.values(), default=out.t0) - out.t0
    deadline = out.t0 + timeout
    last_report = 0.0
    while len(seen.final) < len(seen.created) and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        if operator.proc.poll() is not None:
            break
        if progress and time.monotonic() - last_report >= 15:
            last_report = time.monotonic()
            progress(f"{time.monotonic() - out.t0:6.0f} s: {len(seen.created)} created, {len(seen.admitted)} admitted, "
                     f"{len(seen.jobs_added)} Jobs, {len(seen.final)} final, operator RSS "
                     f"{(operator.rss_kib() or 0) // 1024} MiB")
    out.timed_out = len(seen.final) < len(seen.created)
    cpu1, machine1 = operator.cpu_s(), _machine_ticks()
    if cpu0 is not None and cpu1 is not None:
        out.operator_cpu_s = cpu1 - cpu0
    if machine1[1] > machine0[1]:
        out.machine_busy = 1 - (machine1[0] - machine0[0]) / (machine1[1] - machine0[1])
    if seen.admitted:
        out.admitted_s = max(seen.admitted.values()) - out.t0
    if seen.final:
        out.judged_s = max(seen.final.values()) - out.t0
    stop.set()
    sampler.cancel()
    after = await asyncio.to_thread(apiserver_metrics, kube)
    out.api_operator = after["operator"] - before["operator"]
    out.api_all = after["all"] - before["all"]
    for w in watches:
        w.cancel()
    await asyncio.gather(*watches, sampler, return_exceptions=True)
    base = f"/api/v1/namespaces/{namespace}"
    for what, path in (("Evaluation", ev_path), ("Secret", f"{base}/secrets"),
                       ("Job", f"/apis/batch/v1/namespaces/{namespace}/jobs"), ("Pod", f"{base}/pods"),
                       ("Event", f"{base}/events")):
        out.objects[what] = await api.count(path)
    return out
