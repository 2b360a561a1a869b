"""Ceilings per namespace, on the real API server: refused at admission with the limit named,
and a namespace's running cap holding its Evaluations Queued while another namespace runs."""

from __future__ import annotations

from conftest import SUM_C, apply, wait_phase


def test_ceilings_refuse_at_admission_and_cap_a_namespace(kube, namespace, operator_factory, problems):
    op = operator_factory(ceilings={"maxTimeMs": 2000},
                          namespace_ceilings={namespace: {"maxTests": 2, "maxRunning": 1}})
    try:
        three = {str(i): (f"{i} 1\n", f"{i + 1}\n") for i in range(1, 4)}
        apply(kube, namespace, problems.evaluation("too-long", SUM_C, "c", limits={"timeMs": 5000}),
              problems.evaluation("too-many", SUM_C, "c", three))
        for name, words in (("too-long", "timeMs 5000 exceeds namespace"), ("too-many", "3 tests exceed")):
            st = wait_phase(kube, namespace, name, operator=op, timeout=60)["status"]
            assert st["verdict"] == "InitializationError" and words in st["message"], st
        # one at a time in this namespace: the second waits Queued, naming the ceiling, then runs
        # (applied one after the other: admissions of one apply run concurrently, in either order)
        apply(kube, namespace, problems.evaluation("first", "import time\ntime.sleep(10)\nprint(3)\n", "python",
                                                   {"1": ("", "3\n")}, limits={"wallMs": 30000}))
        wait_phase(kube, namespace, "first", phases=("Pending", "Running"), operator=op, timeout=60)
        apply(kube, namespace, problems.evaluation("second", SUM_C, "c"))
        queued = wait_phase(kube, namespace, "second", phases=("Queued",), operator=op, timeout=60)["status"]
        assert "ceilings.maxRunning" in queued["conditions"][-1]["message"], queued
        for name in ("first", "second"):
            assert wait_phase(kube, namespace, name, operator=op)["status"]["verdict"] == "Accepted"
    finally:
        op.stop()
