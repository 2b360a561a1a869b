"""The operator tier: the real operator process (kopf) against the real API server, real Jobs
running the runner image, and a real S3 server (MinIO) that pods reach over the pod network.

Needs `make cluster` and the runner image loaded (`make images`); `make test-operator` does
both. A failing wait prints the operator's log, the Evaluation's status and its events."""

from __future__ import annotations

import http.server
import io
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import yaml

import kubectl
from s3server import minio_server

ROOT = Path(__file__).resolve().parents[2]
RUNNER_IMAGE = os.environ.get("GAVEL_RUNNER_IMAGE", "gavel.local/runner:dev")
BUCKET = "gavel"
FINAL = ("Succeeded", "Failed", "Canceled")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pod_gateway(kube) -> str:
    """The address pods reach this host at: the cluster bridge's on the local route (cluster/lib.sh
    CNI_BRIDGE); on kind, this host's address on the nodes' Docker network."""
    if os.environ.get("CLUSTER") == "kind":
        node = kube.json("get", "nodes")["items"][0]
        node_ip = next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")
        out = subprocess.run(["ip", "-4", "route", "get", node_ip], capture_output=True, text=True).stdout
        match = re.search(r"\bsrc (\d+\.\d+\.\d+\.\d+)", out)
        assert match, f"no route from this host to the kind node {node_ip}: {out}"
        return match.group(1)
    out = subprocess.run(["ip", "-4", "-o", "addr", "show", "dev", "gavel0"], capture_output=True, text=True).stdout
    match = re.search(r"inet (\d+\.\d+\.\d+\.\d+)", out)
    assert match, "no gavel0 bridge address: is the cluster up (make cluster)?"
    return match.group(1)


@pytest.fixture(scope="session")
def kube() -> kubectl.Kube:
    return kubectl.from_environment()


@pytest.fixture(scope="session")
def crds(kube):
    for path in sorted((ROOT / "crds").glob("*.yaml")):
        kube("apply", "--server-side", "--force-conflicts", "-f", str(path))
    for name in ("evaluations.gavel.dev", "languages.gavel.dev", "problems.gavel.dev"):
        kube("wait", "--for=condition=Established", f"crd/{name}", "--timeout=60s")


def language_objects(image: str) -> list[dict]:
    objs = []
    for path in sorted((ROOT / "languages").glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        for v in doc["versions"]:
            v["image"] = image
        objs.append({"apiVersion": "gavel.dev/v1alpha1", "kind": "Language", "metadata": {"name": doc["name"]},
                     "spec": {"title": doc.get("title", ""), "versions": doc["versions"]}})
    return objs


@pytest.fixture(scope="session")
def languages(kube, crds):
    objs = language_objects(RUNNER_IMAGE)
    kube.apply(yaml.safe_dump_all(objs))
    yield
    # leave none behind: the chart's own Languages (make demo, tests/e2e) cannot adopt them
    kube("delete", "language", *[o["metadata"]["name"] for o in objs], "--ignore-not-found", check=False)


@pytest.fixture(scope="session")
def s3(kube, tmp_path_factory):
    gateway = pod_gateway(kube)
    with minio_server(tmp_path_factory.mktemp("minio") / "data", host="") as server:
        client = server.client()
        client.make_bucket(BUCKET)
        server.pod_endpoint = f"{gateway}:{server.endpoint.rsplit(':', 1)[1]}"
        yield server


class Operator:
    """`python -m gavel_operator` as its own process, as in its Deployment."""

    def __init__(self, kube, s3, log_dir: Path, **settings):
        self.kube, self.s3 = kube, s3
        self.log_path = log_dir / f"operator-{uuid.uuid4().hex[:6]}.log"
        self.health = free_port()
        self.metrics = free_port()
        self.env = {**os.environ, "KUBECONFIG": kube.kubeconfig,
                    "GAVEL_STORAGE_ENDPOINT": s3.endpoint, "GAVEL_POD_STORAGE_ENDPOINT": s3.pod_endpoint,
                    "GAVEL_STORAGE_ACCESS_KEY": s3.access_key, "GAVEL_STORAGE_SECRET_KEY": s3.secret_key,
                    "GAVEL_BUCKET": BUCKET, "GAVEL_IMAGE_PULL_POLICY": "Never",
                    "GAVEL_RUNNER_CPU": "100m", "GAVEL_RUNNER_CPU_LIMIT": "1",
                    "GAVEL_RUNNER_MEMORY_OVERHEAD_MI": "128",
                    "GAVEL_METRICS_PORT": str(self.metrics),
                    "GAVEL_LIVENESS": f"http://127.0.0.1:{self.health}/healthz",
                    "GAVEL_CALLBACK_ALLOWED": '["127.0.0.0/8"]',  # the tests' callback servers are on loopback
                    **{f"GAVEL_{k.upper()}": (json.dumps(v) if isinstance(v, (dict, list)) else str(v))
                       for k, v in settings.items()}}
        self.proc = None
        self.start()

    def start(self) -> None:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "gavel_operator"], env=self.env, stdout=log,
                                     stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"operator exited {self.proc.returncode}:\n{self.log_tail()}"
            try:
                import urllib.request
                urllib.request.urlopen(f"http://127.0.0.1:{self.health}/healthz", timeout=1)
                return
            except OSError:
                time.sleep(0.3)
        raise AssertionError(f"operator not healthy in 60 s:\n{self.log_tail()}")

    def stop(self, sig: str = "term") -> None:
        if self.proc and self.proc.poll() is None:
            (self.proc.kill if sig == "kill" else self.proc.terminate)()
            self.proc.wait(30)

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="session")
def operator_factory(kube, s3, languages, tmp_path_factory):
    made = []

    def make(**settings) -> Operator:
        op = Operator(kube, s3, tmp_path_factory.mktemp("operator"), **settings)
        made.append(op)
        return op

    yield make
    for op in made:
        op.stop()


@pytest.fixture(scope="module")
def operator(operator_factory):
    op = operator_factory()
    yield op
    op.stop()


@pytest.fixture
def namespace(kube):
    with kube.scratch_namespace("gavel-op") as name:
        yield name


class Problems:
    """Uploads sources and tests under NAMESPACE/ (what the default tenancy policy lets the
    namespace read); writes Evaluation manifests that name them."""

    def __init__(self, s3, namespace: str):
        self.client = s3.client()
        self.root = f"{namespace}/"

    def put(self, key: str, text: str) -> dict:
        data = text.encode()
        self.client.put_object(BUCKET, key, io.BytesIO(data), len(data))
        return {"key": key}

    def evaluation(self, name: str, source: str, language: str, tests: dict[str, tuple[str, str]] | None = None,
                   version: str | None = None, **spec) -> dict:
        run = self.root + uuid.uuid4().hex[:8]
        tests = tests or {"1": ("1 2\n", "3\n"), "2": ("40 2\n", "42\n")}
        body = {"language": language, "submission": self.put(f"{run}/source", source),
                "tests": [{"name": n, "input": self.put(f"{run}/{n}.in", i), "expected": self.put(f"{run}/{n}.out", o)}
                          for n, (i, o) in tests.items()], **spec}
        if version:
            body["version"] = version
        return {"apiVersion": "gavel.dev/v1alpha1", "kind": "Evaluation", "metadata": {"name": name}, "spec": body}


@pytest.fixture
def problems(s3, namespace) -> Problems:
    return Problems(s3, namespace)


def apply(kube, namespace: str, *objs: dict) -> None:
    kube("-n", namespace, "apply", "-f", "-", input="\n---\n".join(json.dumps(o) for o in objs))


SUM_C = '#include <stdio.h>\nint main(){long a,b;scanf("%ld %ld",&a,&b);printf("%ld\\n",a+b);}\n'


def describe(kube, namespace: str, name: str, operator: Operator | None) -> str:
    status = kube.run("-n", namespace, "get", "evaluation", name, "-o", "yaml", check=False).stdout
    events = kube.run("-n", namespace, "get", "events", "--field-selector", f"involvedObject.name={name}",
                      check=False).stdout
    return (f"\n--- evaluation {namespace}/{name}\n{status}\n--- events\n{events}" +
            (f"\n--- operator log\n{operator.log_tail()}" if operator else ""))


def wait_phase(kube, namespace: str, name: str, phases=FINAL, timeout: float = 180,
               operator: Operator | None = None) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = kube.run("-n", namespace, "get", "evaluation", name, "-o", "json", check=False)
        if out.returncode == 0:
            obj = json.loads(out.stdout)
            if (obj.get("status") or {}).get("phase") in phases:
                return obj
        time.sleep(1)
    raise AssertionError(f"{namespace}/{name} did not reach {phases} in {timeout} s" +
                         describe(kube, namespace, name, operator))


class CallbackServer:
    """Collects callback POSTs on loopback (the operator runs on this host)."""

    def __init__(self, fail_first: int = 0):
        self.received: list[dict] = []
        self.fail_first = fail_first
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if outer.fail_first > 0:
                    outer.fail_first -= 1
                    self.send_response(503)
                else:
                    outer.received.append(body)
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/done"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def callback_server():
    server = CallbackServer()
    yield server
    server.close()
