"""Storage the operator cannot reach: retried with back-off, then Failed with the reason.
A module of its own: its operator must be the only one watching."""

from conftest import SUM_C, apply, wait_phase


def test_unreachable_storage_is_retried_then_failed_with_the_reason(kube, namespace, operator_factory, problems):
    op = operator_factory(storage_endpoint="127.0.0.1:9", storage_retries=3, storage_retry_delay_seconds=1)
    try:
        apply(kube, namespace, problems.evaluation("nostorage", SUM_C, "c"))

        def pending_with_reason():
            st = kube.json("-n", namespace, "get", "evaluation", "nostorage").get("status") or {}
            return st.get("phase") == "Pending" and any(
                c["type"] == "StorageReachable" and c["status"] == "False" for c in st.get("conditions", []))
        kube.wait_for("Pending with StorageReachable=False", pending_with_reason, 60)
        st = wait_phase(kube, namespace, "nostorage", operator=op, timeout=120)["status"]
        assert st["phase"] == "Failed" and "storage unreachable at 127.0.0.1:9" in st["message"]
        assert kube("-n", namespace, "get", "jobs", "-o", "name").strip() == ""
    finally:
        op.stop()
