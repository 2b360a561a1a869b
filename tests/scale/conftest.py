"""The kwok tier: the real operator process against the real API server, its runner pods on
simulated nodes (kwok as a host process), a real MinIO on loopback. Needs `make cluster`;
`make test-scale` brings it up and builds kwok. Leaves nothing behind: the fake nodes, kwok,
the operator's identity, the Language and the namespace go at the end."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
import kubectl  # noqa: E402
import simulated  # noqa: E402
from s3server import minio_server  # noqa: E402

NODES = int(os.environ.get("GAVEL_SCALE_NODES", "8"))


@pytest.fixture(scope="session")
def kube() -> kubectl.Kube:
    return kubectl.from_environment()


@pytest.fixture(scope="session")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("scale")


@pytest.fixture(scope="session")
def crds(kube):
    harness.install_crds(kube)


@pytest.fixture(scope="session")
def language(kube, crds):
    kube.apply(yaml.safe_dump(harness.language()))
    yield harness.LANGUAGE
    kube("delete", "language", harness.LANGUAGE, "--ignore-not-found", check=False)


@pytest.fixture(scope="session")
def s3(work):
    (work / "minio").mkdir()
    with minio_server(work / "minio" / "data") as server:  # loopback: no pod ever reaches it
        yield server


@pytest.fixture(scope="session")
def operator_kubeconfig(kube, work):
    with harness.operator_identity(kube, work) as path:
        yield path


@pytest.fixture(scope="session")
def kwok(kube, work):
    with simulated.Kwok(kube, work / "kwok", nodes=NODES) as k:
        yield k


@pytest.fixture
def namespace(kube):
    """A fresh namespace, deleted (and waited for, kwok still running) after the test."""
    with kube.scratch_namespace("gavel-scale") as name:
        yield name
    kube("delete", "namespace", name, "--ignore-not-found", "--timeout=180s", check=False, timeout=200)
