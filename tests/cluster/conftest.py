"""Fixtures for the cluster tier: a real API server, reached with kubectl.

The kubeconfig comes from $GAVEL_KUBECONFIG (set by `make test-cluster`) or from
`make -s kubeconfig`; kubectl from $GAVEL_KUBECTL or `make -s kubectl`. The cluster must
be up (`make cluster`); tests that cannot reach it fail rather than skip.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TESTBOX_IMAGE = "gavel.local/testbox:1"


def _make(target: str) -> str:
    return subprocess.run(["make", "-s", "-C", str(REPO), target], check=True,
                          capture_output=True, text=True).stdout.strip()


class Kube:
    """A thin kubectl wrapper bound to one kubeconfig."""

    def __init__(self, kubectl: str, kubeconfig: str):
        self.kubectl, self.kubeconfig = kubectl, kubeconfig

    def run(self, *args: str, input: str | None = None, check: bool = True,
            timeout: float = 120) -> subprocess.CompletedProcess:
        cmd = [self.kubectl, "--kubeconfig", self.kubeconfig, *args]
        proc = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def __call__(self, *args: str, **kw) -> str:
        return self.run(*args, **kw).stdout

    def json(self, *args: str) -> dict:
        return json.loads(self(*args, "-o", "json"))

    def apply(self, manifest: str) -> None:
        self("apply", "-f", "-", input=manifest)

    def wait_for(self, what: str, predicate, timeout: float = 120, interval: float = 1.0):
        """Poll predicate() until it returns a truthy value; return that value."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = predicate()
                if last:
                    return last
            except (AssertionError, KeyError, IndexError, json.JSONDecodeError) as exc:
                last = exc
            time.sleep(interval)
        raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


@pytest.fixture(scope="session")
def kube() -> Kube:
    kubeconfig = os.environ.get("GAVEL_KUBECONFIG") or _make("kubeconfig")
    kubectl = os.environ.get("GAVEL_KUBECTL") or _make("kubectl")
    assert Path(kubeconfig).is_file(), f"no kubeconfig at {kubeconfig}: run `make cluster`"
    return Kube(kubectl, kubeconfig)


@pytest.fixture
def namespace(kube: Kube):
    """A fresh namespace, deleted (without waiting) after the test."""
    name = f"gavel-test-{uuid.uuid4().hex[:8]}"
    kube("create", "namespace", name)
    # The namespace's default service account appears asynchronously; pods need it.
    kube.wait_for("default service account", lambda: kube.run("-n", name, "get", "sa", "default", check=False).returncode == 0, 30)
    yield name
    kube("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def make_namespace(kube: Kube):
    """Factory for extra namespaces (with labels), all deleted after the test."""
    created = []

    def make(**labels: str) -> str:
        name = f"gavel-test-{uuid.uuid4().hex[:8]}"
        kube("create", "namespace", name)
        if labels:
            kube("label", "namespace", name, *[f"{k}={v}" for k, v in labels.items()])
        kube.wait_for("default service account", lambda: kube.run("-n", name, "get", "sa", "default", check=False).returncode == 0, 30)
        created.append(name)
        return name

    yield make
    for name in created:
        kube("delete", "namespace", name, "--wait=false", check=False)
