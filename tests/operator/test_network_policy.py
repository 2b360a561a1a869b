"""The runner egress policy: kept as the settings say (made again if deleted, put back if widened),
and waited for by each runner before any submission code runs."""

from __future__ import annotations

import re

from conftest import SUM_C, apply, wait_phase

POLICY = "gavel-runner-egress"


def test_runner_policy_is_waited_for_and_kept(kube, namespace, operator_factory, problems, s3):
    host, port = s3.pod_endpoint.rsplit(":", 1)
    op = operator_factory(runner_egress=[{"to": [{"ipBlock": {"cidr": f"{host}/32"}}], "ports": [{"port": int(port)}]}])
    try:
        apply(kube, namespace, problems.evaluation("behind-policy", SUM_C, "c"))
        st = wait_phase(kube, namespace, "behind-policy", operator=op)["status"]
        assert st["verdict"] == "Accepted", st
        # the runner saw the API server refused before it compiled anything
        bucket, key = st["locations"]["logs"].removeprefix("s3://").split("/", 1)
        log = s3.client().get_object(bucket, key).read().decode()
        waited = re.search(r"egress closed to kubernetes after ([0-9.]+) s", log)
        assert waited, log
        print(f"runner waited {waited.group(1)} s for the egress policy")

        get = ("-n", namespace, "get", "networkpolicy", POLICY)
        kube("-n", namespace, "delete", "networkpolicy", POLICY)
        kube.wait_for("the deleted policy made again", lambda: kube.run(*get, check=False).returncode == 0, timeout=60)
        kube("-n", namespace, "patch", "networkpolicy", POLICY, "--type=merge", "-p", '{"spec":{"egress":[{}]}}')
        kube.wait_for("the widened policy put back",
                      lambda: kube.json(*get)["spec"]["egress"][0].get("to") is not None, timeout=60)
    finally:
        op.stop()
