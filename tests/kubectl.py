"""kubectl, bound to one kubeconfig: how the cluster tiers talk to the real API server."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _make(target: str) -> str:
    return subprocess.run(["make", "-s", "-C", str(REPO), target], check=True,
                          capture_output=True, text=True).stdout.strip()


def from_environment() -> "Kube":
    """$GAVEL_KUBECONFIG and $GAVEL_KUBECTL (set by the make targets), else `make -s kubeconfig`."""
    kubeconfig = os.environ.get("GAVEL_KUBECONFIG") or _make("kubeconfig")
    kubectl = os.environ.get("GAVEL_KUBECTL") or _make("kubectl")
    assert Path(kubeconfig).is_file(), f"no kubeconfig at {kubeconfig}: run `make cluster`"
    return Kube(kubectl, kubeconfig)


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

    @contextlib.contextmanager
    def scratch_namespace(self, prefix: str):
        """A fresh namespace PREFIX-xxxxxxxx for one test, deleted (without waiting) after it."""
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        self("create", "namespace", name)
        try:
            yield name
        finally:
            self("delete", "namespace", name, "--wait=false", check=False)

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
