"""The Helm chart on the real cluster, as the chart-installing tiers (tests/e2e, tests/nodes) use
it: helm bound to the tier's kubeconfig, the bundled MinIO reached from this host, waiting for
Evaluations. Each failure prints the operator's log and the Evaluation's status and events."""

from __future__ import annotations

import base64
import copy
import io
import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest

import kubectl

ROOT = Path(__file__).resolve().parents[1]
RELEASE, NAMESPACE = "gavel-e2e", "gavel-e2e"
FINAL = ("Succeeded", "Failed", "Canceled")
# the offline cluster: images loaded by hand, never pulled; small CPU requests on 2 cores
VALUES = ["storage.bundled.enabled=true", "runner.pullPolicy=Never", "operator.image.pullPolicy=Never",
          "storage.bundled.image.pullPolicy=Never", "runner.cpu=100m", "runner.cpuLimit=1",
          "runner.memoryOverheadMi=128", "operator.logFormat=plain", "concurrency.maxRunning=8",
          # links a person can open (issue 20): what status.logUrl and status.outputsUrl are rendered from
          "links.logUrlTemplate=https://logs.example.com/{namespace}/{pod}",
          "links.outputsUrlTemplate=https://console.example.com/browser/{bucket}/{prefix}/"]
# RUNTIME=gvisor (make test-e2e / test-hostile): every runner pod of the install in the RuntimeClass
# gvisor (cluster/gvisor.sh install), imposed on every namespace as an administrator would
RUNTIME = os.environ.get("GAVEL_TEST_RUNTIME", "")
if RUNTIME:
    VALUES.append(f"tenancy.default.placement.imposed.runtimeClassName={RUNTIME}")


class Helm:
    def __init__(self, kube: kubectl.Kube):
        self.binary = os.environ.get("GAVEL_HELM") or subprocess.run(
            [str(ROOT / "scripts" / "helm.sh")], check=True, capture_output=True, text=True).stdout.strip()
        self.kube = kube

    def run(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        cmd = [self.binary, "--kubeconfig", self.kube.kubeconfig, *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}\n{operator_log(self.kube)}")
        return proc

    def install(self, *extra: str, action: str = "install") -> None:
        sets = [x for v in (*VALUES, *extra) for x in ("--set", v)]
        self.run(action, RELEASE, str(ROOT / "charts" / "gavel"), "-n", NAMESPACE, "--create-namespace",
                 *sets, "--wait", "--timeout", "5m")


def operator_log(kube, lines: int = 80) -> str:
    # both replicas: the active one and the standby (which says only that it waits)
    out = kube.run("-n", NAMESPACE, "logs", "-l", "app.kubernetes.io/name=gavel-operator", "--prefix",
                   f"--tail={lines}", check=False)
    return f"--- operator log\n{out.stdout}{out.stderr}"


class Storage:
    """The bundled MinIO, reached from this host through its Service's cluster IP."""

    root = ""  # where evaluation() uploads: a namespace's own prefix (the default tenancy policy), see at()

    def __init__(self, kube):
        svc = kube.json("-n", NAMESPACE, "get", "service", f"{RELEASE}-minio")
        secret = kube.json("-n", NAMESPACE, "get", "secret", f"{RELEASE}-minio")["data"]
        from minio import Minio

        self.client = Minio(f"{svc['spec']['clusterIP']}:9000", secure=False, region="us-east-1",
                            access_key=base64.b64decode(secret["accessKey"]).decode(),
                            secret_key=base64.b64decode(secret["secretKey"]).decode())
        # the operator retries storage for 60 s, then restarts (the kubelet's back-off): a slow start
        # on a loaded machine is not a failure, a crash loop is (the message says why)
        deadline = time.monotonic() + 180
        while not self.client.bucket_exists("gavel"):  # the operator creates it at start
            if time.monotonic() > deadline:  # the operator's own reason (a setting it refuses…)
                pods = kube.run("-n", NAMESPACE, "get", "pods", "-o", "wide", check=False).stdout
                logs = kube.run("-n", NAMESPACE, "logs", "-l", "app.kubernetes.io/name=gavel-operator",
                                "--prefix", "--tail=30", "--previous", check=False)
                raise AssertionError(f"bucket gavel never appeared\n{pods}{operator_log(kube)}\n"
                                     f"--- before the last restart\n{logs.stdout}{logs.stderr}")
            time.sleep(1)

    def put(self, key: str, text: str) -> dict:
        data = text.encode()
        self.client.put_object("gavel", key, io.BytesIO(data), len(data))
        return {"key": key}

    def at(self, namespace: str) -> "Storage":
        """The same storage, uploading for Evaluations of `namespace` (under NAMESPACE/)."""
        bound = copy.copy(self)
        bound.root = f"{namespace}/"
        return bound

    def evaluation(self, name: str, source: str, language: str, tests: dict[str, tuple[str, str]], **spec) -> dict:
        assert self.root, "storage.at(namespace).evaluation(...): objects go under the namespace's prefix"
        run = f"{self.root}e2e/{uuid.uuid4().hex[:8]}"
        lang, _, version = language.partition(":")
        body = {"language": lang, "submission": self.put(f"{run}/source", source),
                "tests": [{"name": n, "input": self.put(f"{run}/{n}.in", i),
                           "expected": self.put(f"{run}/{n}.out", o)} for n, (i, o) in tests.items()], **spec}
        if version:
            body["version"] = version
        return {"apiVersion": "gavel.dev/v1alpha1", "kind": "Evaluation", "metadata": {"name": name}, "spec": body}


def apply(kube, namespace: str, objs: list[dict]) -> None:
    kube("-n", namespace, "apply", "-f", "-", input="\n---\n".join(json.dumps(o) for o in objs))


def wait_all(kube, namespace: str, names: list[str], timeout: float = 600, phases=FINAL) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    while True:
        items = {i["metadata"]["name"]: i for i in kube.json("-n", namespace, "get", "evaluations")["items"]}
        done = {n: items[n] for n in names if n in items and (items[n].get("status") or {}).get("phase") in phases}
        if len(done) == len(names):
            return done
        if time.monotonic() > deadline:
            missing = [n for n in names if n not in done][:3]
            details = "".join(kube.run("-n", namespace, "get", "evaluation", n, "-o", "yaml", check=False).stdout +
                              kube.run("-n", namespace, "get", "events", "--field-selector",
                                       f"involvedObject.name={n}", check=False).stdout for n in missing)
            raise AssertionError(f"not final after {timeout} s: {missing}\n{details}\n{operator_log(kube)}")
        time.sleep(2)


def install_fresh(kube, helm: Helm, *values: str):
    """The chart, installed once for a tier (an earlier release removed first), removed after it."""
    helm.run("uninstall", RELEASE, "-n", NAMESPACE, "--wait", check=False)
    # Languages another tier applied by hand would block the chart's own (Helm adopts nothing)
    for lang in kube.json("get", "languages")["items"]:
        if (lang["metadata"].get("annotations") or {}).get("meta.helm.sh/release-name") is None:
            kube("delete", "language", lang["metadata"]["name"])
    helm.install(*values)
    yield
    helm.run("uninstall", RELEASE, "-n", NAMESPACE, "--wait", check=False)


# The fixtures both tiers share (their conftest.py imports them; each has its own `installed`).

@pytest.fixture(scope="session")
def kube() -> kubectl.Kube:
    return kubectl.from_environment()


@pytest.fixture(scope="session")
def helm(kube) -> Helm:
    return Helm(kube)


@pytest.fixture(scope="session")
def crds(kube):
    """Helm installs crds/ once and never upgrades them: as a user upgrading Gavel does, apply them."""
    kube("apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "charts" / "gavel" / "crds"))


@pytest.fixture(scope="session")
def storage(kube, installed) -> Storage:
    return Storage(kube)


@pytest.fixture
def namespace(kube):
    with kube.scratch_namespace("gavel-e2e") as name:
        yield name
