"""The node cache through the installed chart (cache.enabled, the default): a DaemonSet pod on the
node, reached by runner pods through a node-local Service, and a second Evaluation of the same tests
on that node reads them from the cache's copy, not from storage (the cache's own counters)."""

from __future__ import annotations

import os

from chart import NAMESPACE, RELEASE, apply, wait_all

SOURCE = "import sys\ndata = sys.stdin.buffer.read()\nprint(len(data))\n"


def cache_metrics(kube, node: str) -> dict[str, float]:
    """The counters of the cache pod on `node`, read through the API server's pod proxy."""
    pods = [p for p in kube.json("-n", NAMESPACE, "get", "pods", "-l", "app.kubernetes.io/name=gavel-cache")["items"]
            if p["spec"].get("nodeName") == node]
    assert pods, f"no cache pod on {node}"
    text = kube("get", "--raw", f"/api/v1/namespaces/{NAMESPACE}/pods/{pods[0]['metadata']['name']}:8091/proxy/metrics")
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def node_of(kube, namespace: str, name: str) -> str:
    pods = kube.json("-n", namespace, "get", "pods", "-l", f"gavel.dev/evaluation={name}")["items"]
    return pods[0]["spec"]["nodeName"]


def test_the_cache_runs_on_every_node_without_privilege(kube, installed):
    ds = kube.json("-n", NAMESPACE, "get", "daemonset", f"{RELEASE}-cache")
    kube.wait_for("the cache pods ready", lambda: kube.json("-n", NAMESPACE, "get", "daemonset", f"{RELEASE}-cache")
                  ["status"].get("numberReady", 0) == ds["status"]["desiredNumberScheduled"] > 0)
    pod = ds["spec"]["template"]["spec"]
    assert not any("hostPath" in v for v in pod["volumes"]) and pod["automountServiceAccountToken"] is False
    assert not any("STORAGE_ACCESS" in e["name"] or "valueFrom" in e for e in pod["containers"][0]["env"])
    # Pod Security: the API server's own judgement of the running cache pods against `restricted`
    check = kube.run("label", "--dry-run=server", "--overwrite", "namespace", NAMESPACE,
                     "pod-security.kubernetes.io/enforce=restricted")
    assert check.returncode == 0 and f"{RELEASE}-cache" not in check.stderr, check.stderr
    svc = kube.json("-n", NAMESPACE, "get", "service", f"{RELEASE}-cache")
    assert svc["spec"]["internalTrafficPolicy"] == "Local"


def test_a_second_evaluation_reads_its_tests_from_the_nodes_cache(kube, namespace, storage):
    store = storage.at(namespace)
    size = 1 << 20
    inputs = {str(n): os.urandom(size // 2).hex() for n in range(1, 4)}  # 1 MiB of text each
    first = store.evaluation("first", SOURCE, "python", {n: (text, f"{len(text)}\n") for n, text in inputs.items()})
    second = {**first, "metadata": {"name": "second"}}  # the same objects: what a Problem's Evaluations share
    second["spec"] = {**first["spec"], "submission": store.put(f"{namespace}/second.py", SOURCE)}
    total = sum(len(t) + len(f"{len(t)}\n") for t in inputs.values())

    apply(kube, namespace, [first])
    assert wait_all(kube, namespace, ["first"])["first"]["status"]["verdict"] == "Accepted"
    node = node_of(kube, namespace, "first")
    before = cache_metrics(kube, node)
    apply(kube, namespace, [second])
    assert wait_all(kube, namespace, ["second"])["second"]["status"]["verdict"] == "Accepted"
    if node_of(kube, namespace, "second") != node:  # another node: its own cache fetched them once
        node = node_of(kube, namespace, "second")
        before = {}
    after = cache_metrics(kube, node)
    delta = {k: after[k] - before.get(k, 0) for k in after}
    # six objects (three inputs, three answers), all served from the node's copies ...
    assert delta.get('gavel_cache_requests_total{outcome="hit"}', 0) >= 6 or before == {}, delta
    assert delta.get("gavel_cache_served_bytes_total", 0) >= total, delta
    if before:
        # ... so storage sent only the validations' single bytes, not the 3 MiB again
        assert delta["gavel_cache_fetches_total"] == 0 and delta["gavel_cache_storage_bytes_total"] <= 6, delta
        assert delta["gavel_cache_validations_total"] == 6, delta
