"""The end-to-end tier: the Helm chart installed on the real cluster with its bundled MinIO,
judging through the in-cluster operator exactly as a user would. Each failure prints the
operator's log and the Evaluation's status and events."""

from __future__ import annotations

import pytest

from chart import crds, helm, install_fresh, kube, namespace, storage  # noqa: F401 (fixtures)


@pytest.fixture(scope="session")
def installed(kube, helm, crds):
    """The chart with the tier's values (chart.VALUES); test_zz_uninstall removes it, and if a test
    failed before that, nothing is left behind."""
    yield from install_fresh(kube, helm)
