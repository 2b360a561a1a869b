"""Fixtures for the cluster tier: a real API server, reached with kubectl.

The kubeconfig comes from $GAVEL_KUBECONFIG (set by `make test-cluster`) or from
`make -s kubeconfig`; kubectl from $GAVEL_KUBECTL or `make -s kubectl`. The cluster must
be up (`make cluster`); tests that cannot reach it fail rather than skip.
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

import kubectl
from kubectl import Kube

REPO = Path(__file__).resolve().parents[2]
TESTBOX_IMAGE = "gavel.local/testbox:1"


@pytest.fixture(scope="session")
def kube() -> Kube:
    return kubectl.from_environment()


@pytest.fixture
def namespace(kube: Kube):
    """A fresh namespace, deleted (without waiting) after the test."""
    with kube.scratch_namespace("gavel-test") as name:
        wait_for_default_sa(kube, name)
        yield name


def wait_for_default_sa(kube: Kube, name: str) -> None:
    """The namespace's default service account appears asynchronously; pods need it."""
    kube.wait_for("default service account", lambda: kube.run("-n", name, "get", "sa", "default", check=False).returncode == 0, 30)


@pytest.fixture
def make_namespace(kube: Kube):
    """Factory for extra namespaces (with labels), all deleted after the test."""
    with contextlib.ExitStack() as namespaces:
        def make(**labels: str) -> str:
            name = namespaces.enter_context(kube.scratch_namespace("gavel-test"))
            if labels:
                kube("label", "namespace", name, *[f"{k}={v}" for k, v in labels.items()])
            wait_for_default_sa(kube, name)
            return name

        yield make
