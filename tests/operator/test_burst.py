"""The last minutes of a contest: a burst much larger than the cluster can run at once, the
operator killed in the middle, and a second replica taking over from a killed or stopped one.

Runner pods here ask for 600m CPU, so the two-core node runs about two at a time while the
operator's cap (20) would start ten times as many: the rest of the burst must wait Queued, the
Jobs that do start must not spend their deadline waiting for a node, and every Evaluation must
be judged exactly once."""

from __future__ import annotations

import json
import time

from conftest import wait_phase

SUM_PY = "a, b = map(int, input().split())\nprint(a + b)\n"
BURST = 120


def phases(kube, namespace) -> dict[str, str]:
    items = kube.json("-n", namespace, "get", "evaluations")["items"]
    return {i["metadata"]["name"]: (i.get("status") or {}).get("phase") for i in items}


def jobs_per_evaluation(kube, namespace) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for j in kube.json("-n", namespace, "get", "jobs")["items"]:
        out.setdefault(j["metadata"]["labels"]["gavel.dev/evaluation"], []).append(j["metadata"]["name"])
    return out


def test_a_burst_beyond_the_cluster_with_the_operator_killed_twice(kube, namespace, operator_factory, problems):
    op = operator_factory(max_running=20, runner_cpu="600m", runner_cpu_limit="1")
    try:
        # one submission and test for all (a platform uploads a problem once); a short deadline per
        # attempt, which waiting for a node must not spend
        base = problems.evaluation("x", SUM_PY, "python", tests={"1": ("1 2\n", "3\n")})["spec"]
        evs = [{"apiVersion": "gavel.dev/v1alpha1", "kind": "Evaluation", "metadata": {"name": f"b{i:03d}"},
                "spec": {**base, "deadlineSeconds": 45, "retries": 1}} for i in range(BURST)]
        created = time.monotonic()
        kube("-n", namespace, "apply", "-f", "-", input="\n---\n".join(json.dumps(e) for e in evs))
        kube.wait_for("every one admitted", lambda: all(phases(kube, namespace).values())
                      and len(phases(kube, namespace)) == BURST, 120, 0.5)
        admitted = time.monotonic() - created
        seen = phases(kube, namespace)
        assert sum(p == "Queued" for p in seen.values()) > BURST // 2, seen  # the cluster, not the cap, limits
        # killed hard twice while most still wait
        for _ in range(2):
            kube.wait_for("a few more verdicts", lambda n=sum(p == "Succeeded" for p in phases(kube, namespace).values()):
                          sum(p == "Succeeded" for p in phases(kube, namespace).values()) >= n + 5, 300, 1)
            op.stop("kill")
            time.sleep(2)
            op.start()
        final = {}
        for i in range(BURST):
            final[f"b{i:03d}"] = wait_phase(kube, namespace, f"b{i:03d}", timeout=900, operator=op)["status"]
        took = time.monotonic() - created
        print(f"\n{BURST} admitted in {admitted:.1f} s, all judged in {took:.0f} s")
        wrong = {n: (s.get("phase"), s.get("verdict"), s.get("message")) for n, s in final.items()
                 if s.get("verdict") != "Accepted"}
        assert not wrong, wrong
        per_eval = jobs_per_evaluation(kube, namespace)
        assert len(per_eval) == BURST and all(len(v) == 1 for v in per_eval.values()), \
            {k: v for k, v in per_eval.items() if len(v) != 1}
        assert all(s.get("attempts") == 1 for s in final.values()), \
            {n: s.get("attempts") for n, s in final.items() if s.get("attempts") != 1}
        events = kube.json("-n", namespace, "get", "events", "--field-selector", "reason=JobCreated")["items"]
        counts: dict[str, int] = {}
        for e in events:
            counts[e["involvedObject"]["name"]] = counts.get(e["involvedObject"]["name"], 0) + e.get("count", 1)
        assert all(n == 1 for n in counts.values()), {k: v for k, v in counts.items() if v != 1}
    finally:
        op.stop()


def lease_holder(kube, namespace: str, name: str) -> str:
    out = kube.run("-n", namespace, "get", "lease", name, "-o", "jsonpath={.spec.holderIdentity}", check=False)
    return out.stdout.strip() if out.returncode == 0 else ""


def test_a_standby_replica_takes_over(kube, namespace, operator_factory, problems):
    lease = f"{namespace}/gavel-operator"
    first = operator_factory(leader_lease=lease)
    kube.wait_for("the first replica holds the Lease", lambda: lease_holder(kube, namespace, "gavel-operator"), 30, 0.2)
    holder = lease_holder(kube, namespace, "gavel-operator")
    second = operator_factory(leader_lease=lease)
    try:
        kube("-n", namespace, "apply", "-f", "-", input=json.dumps(
            problems.evaluation("before", SUM_PY, "python", tests={"1": ("1 2\n", "3\n")})))
        assert wait_phase(kube, namespace, "before", operator=first)["status"]["verdict"] == "Accepted"
        assert lease_holder(kube, namespace, "gavel-operator") == holder  # the standby did nothing
        took = {}
        for how, active, standby in (("kill", first, second), ("term", second, first)):
            if how == "term":
                standby.start()  # the killed one comes back: as the standby now
            was = lease_holder(kube, namespace, "gavel-operator")
            active.stop(how)
            stopped = time.monotonic()
            name = f"after-{how}"
            kube("-n", namespace, "apply", "-f", "-", input=json.dumps(
                problems.evaluation(name, SUM_PY, "python", tests={"1": ("1 2\n", "3\n")})))
            kube.wait_for(f"{name} admitted by the other replica",
                          lambda: phases(kube, namespace).get(name) is not None, 60, 0.2)
            took[how] = time.monotonic() - stopped
            assert lease_holder(kube, namespace, "gavel-operator") not in ("", was)
            assert wait_phase(kube, namespace, name, operator=standby)["status"]["verdict"] == "Accepted"
        print(f"\nadmissions resumed {took['kill']:.1f} s after the active replica was killed, "
              f"{took['term']:.1f} s after it was stopped")
        assert len(jobs_per_evaluation(kube, namespace)) == 3
    finally:
        first.stop()
        second.stop()
