"""Concurrency caps, priorities, and an operator killed in the middle of 50 Evaluations."""

from __future__ import annotations

import json
import time

from conftest import CallbackServer, wait_phase

SUM_PY = "a, b = map(int, input().split())\nprint(a + b)\n"
SLOW_PY = "import time\ntime.sleep(4)\na, b = map(int, input().split())\nprint(a + b)\n"


def phases(kube, namespace) -> dict[str, str]:
    items = kube.json("-n", namespace, "get", "evaluations")["items"]
    return {i["metadata"]["name"]: (i.get("status") or {}).get("phase") for i in items}


def holding_slots(kube, namespace) -> list[str]:
    """Evaluations Pending or Running whose runner pod has not ended: what maxRunning caps. A pod
    that ended frees its slot at once (ledger.pod_ended), while its Evaluation shows Running until
    the verdict is written a moment later. The pods are listed after the Evaluations, so a slot
    freed and taken again between the two listings is never counted twice."""
    now = phases(kube, namespace)
    pods = kube.json("-n", namespace, "get", "pods", "-l", "gavel.dev/role=runner")["items"]
    ended, live = set(), set()  # by Evaluation (a later attempt's pod may live beside an ended one)
    for pod in pods:
        done = (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")
        (ended if done else live).add(pod["metadata"]["labels"].get("gavel.dev/evaluation"))
    return [n for n, p in now.items() if p in ("Pending", "Running") and (n not in ended or n in live)]


def test_concurrency_cap_and_priority(kube, namespace, operator_factory, problems):
    # priorities above 0 are the administrator's to grant (tenancy.placement.allowed.maxPriority)
    op = operator_factory(max_running=2, namespace_tenancy={namespace: {"placement": {"allowed": {"maxPriority": 10}}}})
    try:
        evs = [problems.evaluation(f"e{i}", SLOW_PY, "python", tests={"1": ("1 2\n", "3\n")}, priority=i,
                                   limits={"wallMs": 10000}) for i in range(5)]
        # e0 and e1 take the two slots; e2, e3, e4 then wait, and must start by priority
        kube("-n", namespace, "apply", "-f", "-", input="\n---\n".join(json.dumps(e) for e in evs[:2]))
        kube.wait_for("e0 and e1 started", lambda: all(
            p in ("Pending", "Running", "Succeeded") for p in phases(kube, namespace).values()), 60, 0.2)
        kube("-n", namespace, "apply", "-f", "-", input="\n---\n".join(json.dumps(e) for e in evs[2:]))
        most, saw_queued = 0, False
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            running = holding_slots(kube, namespace)
            most = max(most, len(running))
            now = phases(kube, namespace)
            saw_queued |= any(p == "Queued" for p in now.values())
            if all(p in ("Succeeded", "Failed", "Canceled") for p in now.values()) and len(now) == 5:
                break
            time.sleep(0.5)
        assert most <= 2, f"{most} ran at once under a cap of 2"
        assert saw_queued
        final = {n: wait_phase(kube, namespace, n, operator=op)["status"].get("verdict") for n in phases(kube, namespace)}
        assert all(final.values()), {n: kube.json("-n", namespace, "get", "evaluation", n)["status"] for n in final}
        assert set(final.values()) == {"Accepted"}
        # the three that waited started by priority: e4, then e3, then e2 (ties: the same second)
        created = {j["metadata"]["labels"]["gavel.dev/evaluation"]: j["metadata"]["creationTimestamp"]
                   for j in kube.json("-n", namespace, "get", "jobs")["items"]}
        assert created["e4"] <= created["e3"] <= created["e2"], created
    finally:
        op.stop()


def test_restart_in_the_middle_of_50_loses_and_duplicates_nothing(kube, namespace, operator_factory, problems):
    op = operator_factory(max_running=6)
    try:
        evs = [problems.evaluation(f"r{i:02d}", SUM_PY, "python", tests={"1": ("1 2\n", "3\n")}) for i in range(50)]
        kube("-n", namespace, "apply", "-f", "-", input="\n---\n".join(json.dumps(e) for e in evs))
        # kill it hard once some are judged and many are still queued
        kube.wait_for("a few verdicts", lambda: sum(p == "Succeeded" for p in phases(kube, namespace).values()) >= 5,
                      180)
        op.stop("kill")
        time.sleep(3)
        op.start()
        for i in range(50):
            st = wait_phase(kube, namespace, f"r{i:02d}", timeout=420, operator=op)["status"]
            assert st["verdict"] == "Accepted", st
        jobs = kube.json("-n", namespace, "get", "jobs")["items"]
        per_eval = {}
        for j in jobs:
            per_eval.setdefault(j["metadata"]["labels"]["gavel.dev/evaluation"], []).append(j["metadata"]["name"])
        assert len(per_eval) == 50 and all(len(v) == 1 for v in per_eval.values()), per_eval
        events = kube.json("-n", namespace, "get", "events", "--field-selector", "reason=JobCreated")["items"]
        created = {}
        for e in events:
            created[e["involvedObject"]["name"]] = created.get(e["involvedObject"]["name"], 0) + e.get("count", 1)
        assert all(n == 1 for n in created.values()), {k: v for k, v in created.items() if v != 1}
    finally:
        op.stop()


def test_a_job_left_by_a_killed_operator_is_followed_not_repeated(kube, namespace, operator_factory, problems):
    """The narrowest kill: the Job created, the status not yet written. The next operator finds
    the Evaluation Queued and its Job done; whichever it handles first (the Job's watch event
    or the restart's dispatch), the verdict must come from that Job and stay written."""
    op = operator_factory(max_running=8)
    try:
        names = [f"k{i}" for i in range(6)]
        evs = [problems.evaluation(n, SUM_PY, "python", tests={"1": ("1 2\n", "3\n")}) for n in names]
        kube("-n", namespace, "apply", "-f", "-", input="\n---\n".join(json.dumps(e) for e in evs))
        jobs_before = {n: wait_phase(kube, namespace, n, operator=op)["status"]["jobName"] for n in names}
        op.stop()
        for n in names:
            kube("-n", namespace, "patch", "evaluation", n, "--subresource=status", "--type=json", "-p", json.dumps(
                [{"op": "replace", "path": "/status", "value": {"phase": "Queued", "message": "waiting"}}]))
            kube("-n", namespace, "label", "evaluation", n, "gavel.dev/finished-")  # back in the watch
        op.start()
        for n in names:
            st = wait_phase(kube, namespace, n, operator=op)["status"]
            assert (st.get("verdict"), st.get("jobName")) == ("Accepted", jobs_before[n]), st
        time.sleep(3)  # a late "Job created" status would land now
        for n in names:
            ev = kube.json("-n", namespace, "get", "evaluation", n)
            st = ev["status"]
            assert (st["phase"], st.get("verdict")) == ("Succeeded", "Accepted"), st
            assert ev["metadata"]["labels"].get("gavel.dev/finished") == "true", ev["metadata"]  # out of the watch
        assert len(kube.json("-n", namespace, "get", "jobs")["items"]) == len(names)
    finally:
        op.stop()


def test_a_callback_pending_at_a_kill_is_delivered_after_the_restart(kube, namespace, operator_factory, problems):
    """An Evaluation leaves the operator's watch once finished, but not while its callback is
    still being retried: the next operator must list it to deliver it."""
    server = CallbackServer(fail_first=1000)  # refuses until told otherwise
    op = operator_factory(callback_retries=20)
    try:
        ev = problems.evaluation("cb", SUM_PY, "python", tests={"1": ("1 2\n", "3\n")}, callbackUrl=server.url)
        kube("-n", namespace, "apply", "-f", "-", input=json.dumps(ev))
        wait_phase(kube, namespace, "cb", operator=op)
        time.sleep(4)  # a few refused attempts
        meta = kube.json("-n", namespace, "get", "evaluation", "cb")["metadata"]
        assert "gavel.dev/finished" not in (meta.get("labels") or {}), meta  # still watched: callback pending
        op.stop("kill")
        server.fail_first = 0
        op.start()
        kube.wait_for("the callback, after the restart", lambda: server.received, 90)
        assert server.received[0]["status"]["verdict"] == "Accepted"
        kube.wait_for("labelled finished once the callback is recorded", lambda: kube.json(
            "-n", namespace, "get", "evaluation", "cb")["metadata"].get("labels", {}).get("gavel.dev/finished"), 30)
    finally:
        op.stop()
        server.close()
