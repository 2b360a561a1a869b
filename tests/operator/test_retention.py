"""Finished Evaluations deleted after GAVEL_FINISHED_TTL_SECONDS, by one sweep over kopf's index."""

from __future__ import annotations

import json

from conftest import wait_phase

SUM_PY = "a, b = map(int, input().split())\nprint(a + b)\n"


def test_finished_evaluation_is_deleted_after_its_ttl_and_a_running_one_is_not(kube, namespace,
                                                                                operator_factory, problems):
    # confined to this namespace: other tiers' finished Evaluations are older than any TTL here
    op = operator_factory(finished_ttl_seconds=4, namespaces=namespace)
    try:
        quick = problems.evaluation("quick", SUM_PY, "python", tests={"1": ("1 2\n", "3\n")})
        slow = problems.evaluation("slow", "import time\ntime.sleep(12)\n" + SUM_PY, "python",
                                   tests={"1": ("1 2\n", "3\n")}, limits={"timeMs": 20000, "wallMs": 20000})
        kube("-n", namespace, "apply", "-f", "-", input="\n---\n".join(json.dumps(e) for e in (quick, slow)))
        assert wait_phase(kube, namespace, "quick", operator=op)["status"]["verdict"] == "Accepted"
        kube.wait_for("quick deleted after its TTL", lambda: kube.run(
            "-n", namespace, "get", "evaluation", "quick", check=False).returncode != 0, 60)
        # the slow one was running all along: not touched until it has a verdict of its own
        st = wait_phase(kube, namespace, "slow", operator=op)["status"]
        assert st["verdict"] == "Accepted", st
        kube.wait_for("slow deleted after its TTL", lambda: kube.run(
            "-n", namespace, "get", "evaluation", "slow", check=False).returncode != 0, 60)
        # owned by the Evaluations, their Jobs and Secrets go with them
        kube.wait_for("Jobs and Secrets collected", lambda: not kube.json(
            "-n", namespace, "get", "jobs,secrets", "-l", "app.kubernetes.io/managed-by=gavel-operator")["items"], 120)
    finally:
        op.stop()
