"""A burst of Evaluations on simulated nodes: every one judged exactly once, from its runner pod's
summary, every runner pod on a simulated node; what it cost is printed (make bench-scale measures
1k, 5k and 10k; no timing is asserted here)."""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter

import harness

N = int(os.environ.get("GAVEL_SCALE_EVALUATIONS", "300"))
CAP = int(os.environ.get("GAVEL_SCALE_RUNNING", "40"))


def _s(value) -> str:
    return "-" if value is None else f"{value:.2f} s"


def test_a_burst_on_simulated_nodes_is_judged_once_each(kube, namespace, s3, operator_kubeconfig, kwok, language,
                                                        work):
    harness.upload(s3, namespace)
    op = harness.Operator(operator_kubeconfig, s3, work, **harness.operator_settings(namespace, CAP)).start()
    op.wait_ready()  # nothing to rebuild: ready without any Evaluation to handle

    async def run() -> harness.Burst:
        api = harness.Api(kube.kubeconfig)
        try:
            return await harness.burst(api, kube, op, namespace, N, CAP, timeout=420, progress=print)
        finally:
            await api.close()

    try:
        result = asyncio.run(run())
        # the operator's own count of verdicts written (write_status lets one final status through per
        # Evaluation; the pod and its Job both finish it): judged exactly once each, none Failed
        exited = op.proc.poll()
        assert exited is None, f"the operator exited {exited}\n{op.log_tail()}"
        for _ in range(20):  # the watch may show a verdict a moment before the operator counts it
            verdicts_written = op.counters("gavel_verdicts_total")
            if sum(verdicts_written.values()) >= N:
                break
            time.sleep(0.5)
        failures = op.counters("gavel_failures_total")
    finally:
        op.stop()
    after_done, after_verdict = result.slot_latencies()
    print(f"\n[scale] {N} Evaluations at once, cap {CAP}, {len(kwok.names)} simulated nodes: created in "
          f"{result.created_s:.1f} s, all admitted after {result.admitted_s:.1f} s "
          f"({result.admissions_per_s():.1f}/s), all judged after {result.judged_s:.1f} s "
          f"({result.judged_per_s():.2f}/s); operator RSS {result.rss_idle_kib // 1024} -> "
          f"{result.rss_peak_kib // 1024} MiB, CPU {result.operator_cpu_s or 0:.0f} s (the machine "
          f"{100 * (result.machine_busy or 0):.0f}% busy); API requests per Evaluation: operator "
          f"{result.api_operator / N:.1f}, all clients {result.api_all / N:.1f}; objects {result.objects}; "
          f"runner pod ended -> next Job p50 {_s(harness.percentile(after_done, 50))} p99 "
          f"{_s(harness.percentile(after_done, 99))}")
    assert result.create_errors == 0
    assert not result.unready, f"a backlog is work: the readiness probe said {result.unready[:3]}"
    assert not result.timed_out, (f"{result.judged} of {N} judged in 420 s\n--- operator log\n{op.log_tail()}"
                                  f"\n--- kwok log\n{kwok.log_tail()}")
    assert verdicts_written == {'verdict="Accepted"': N} and not any(failures.values()), (verdicts_written, failures)
    verdicts = Counter((phase, verdict, passed) for phase, verdict, passed in result.seen.verdicts.values())
    assert verdicts == {("Succeeded", "Accepted", "1/1"): N}, verdicts
    # exactly one Job each, each with one pod, every pod on a simulated node
    jobs = kube.json("-n", namespace, "get", "jobs")["items"]
    per_eval = Counter(j["metadata"]["annotations"]["gavel.dev/evaluation-name"] for j in jobs)
    assert len(per_eval) == N and set(per_eval.values()) == {1}, {k: v for k, v in per_eval.items() if v != 1}
    pods = kube.json("-n", namespace, "get", "pods")["items"]
    assert len(pods) == N, len(pods)
    nodes = Counter(p["spec"].get("nodeName") for p in pods)
    assert set(nodes) <= set(kwok.names), nodes
    assert len(nodes) > 1, nodes  # spread over the simulated nodes
    # the status came from the summary (no result.json in storage): per-test detail is the summary's
    sample = kube.json("-n", namespace, "get", "evaluation", "s00000")["status"]
    assert [t["verdict"] for t in sample["tests"]] == ["Passed"] and "kwok" in sample["message"], sample
    assert result.objects["Job"] == N and result.objects["Secret"] == N
