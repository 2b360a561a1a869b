"""Last of the tier (files run in name order): uninstalling keeps the CRDs and the Evaluations."""

from __future__ import annotations

from chart import NAMESPACE, RELEASE, apply, wait_all


def test_zz_uninstall_keeps_crds_and_evaluations(kube, helm, namespace, storage):
    apply(kube, namespace, [storage.at(namespace).evaluation("keep", "print(3)\n", "python", {"1": ("1 2\n", "3\n")})])
    wait_all(kube, namespace, ["keep"])
    helm.run("uninstall", RELEASE, "-n", NAMESPACE, "--wait")
    assert kube("-n", NAMESPACE, "get", "deployments", "-o", "name").strip() == ""
    kube("get", "crd", "evaluations.gavel.dev", "languages.gavel.dev", "problems.gavel.dev")
    assert kube.json("-n", namespace, "get", "evaluation", "keep")["status"]["verdict"] == "Accepted"
