"""Tenancy rules as pure logic; the cluster tests (tests/operator/test_tenancy.py) prove them on Evaluations."""

import pytest

from gavel_operator.settings import Settings
from gavel_operator.tenancy import (TenantPolicy, placement_violation, pod_placement, storage_violation,
                                   unschedulable_by_selector)


def check(policy, reads, results=("gavel", "team-a/ev/uid"), namespace="team-a"):
    return storage_violation(policy, namespace, "gavel", "gavel", reads, results)


def test_default_scope_is_the_namespaces_own_prefix():
    policy = TenantPolicy()
    assert check(policy, [("submission", "gavel", "team-a/sub.c")]) is None
    why = check(policy, [("submission", "gavel", "team-a/sub.c"), ("test 2 input", "gavel", "team-b/hidden/2.in")])
    assert why == ("test 2 input s3://gavel/team-b/hidden/2.in is outside what namespace team-a may read "
                   "(tenancy.storage.read: gavel/team-a/)")
    # a namespace whose name starts like another's does not reach into it
    assert "outside" in check(policy, [("submission", "gavel", "team-ab/s.c")])
    assert "outside" in check(policy, [("submission", "other", "team-a/s.c")])


@pytest.mark.parametrize("key", ["team-a/../team-b/x", "team-a/./x", "team-a//x", "/team-a/x", "team-a/.."])
def test_keys_that_normalize_elsewhere_are_refused(key):
    assert "path segment" in check(TenantPolicy(), [("submission", "gavel", key)])


def test_results_must_be_writable():
    policy = TenantPolicy()
    assert check(policy, [], results=("gavel", "team-a/mine")) is None
    why = check(policy, [], results=("gavel", "team-b/ev/uid"))
    assert "results prefix s3://gavel/team-b/ev/uid/ is outside what namespace team-a may write" in why
    assert "tenancy.storage.write: gavel/team-a/" in why
    assert check(policy, [], results=("gavel", "team-a")) is None  # team-a/result.json is the namespace's


def test_namespace_policy_over_default_and_placeholders():
    settings = Settings.model_validate({
        "bucket": "src", "results_bucket": "out",
        "tenancy": {"storage": {"read": ["{bucket}/{namespace}/", "src/shared/"]}},
        "namespace_tenancy": {"contest": {"storage": {"read": ["problems/"]},
                                          "placement": {"allowed": {"maxPriority": 10}}}}})
    team = settings.tenancy_for("team-a")
    assert storage_violation(team, "team-a", "src", "out", [("t", "src", "shared/1.in")], ("out", "team-a/x")) is None
    contest = settings.tenancy_for("contest")
    assert contest.storage.read == ["problems/"] and contest.storage.write == ["{resultsBucket}/{namespace}/"]
    assert contest.placement.allowed.max_priority == 10 and contest.placement.allowed.queues == ["default"]
    assert storage_violation(contest, "contest", "src", "out", [("t", "problems", "a/1.in")], ("out", "contest/x")) is None


def test_settings_from_env_parse_the_policy():
    settings = Settings.from_env({"GAVEL_NAMESPACE_TENANCY": '{"a": {"storage": {"sharedResults": true}}}'})
    assert settings.tenancy_for("a").storage.shared_results is True
    assert settings.tenancy_for("b").storage.shared_results is False
    with pytest.raises(Exception):
        Settings.from_env({"GAVEL_TENANCY": '{"storage": {"reed": []}}'})


def placement(policy, **ask):
    ask = {"runtime_class": None, "node_selector": None, "toleration_keys": [], "queue": "default", "priority": 0,
           **ask}
    return placement_violation(policy, "team-a", **ask)


def test_placement_refused_by_default():
    policy = TenantPolicy()
    assert placement(policy) is None
    assert "runtimeClassName gvisor (tenancy.placement.allowed.runtimeClassNames: none)" in \
        placement(policy, runtime_class="gvisor")
    assert "select nodes by zone=a" in placement(policy, node_selector={"zone": "a"})
    assert "tolerate taint (every taint)" in placement(policy, toleration_keys=[None])
    assert "queue contest" in placement(policy, queue="contest")
    assert "priority 5 exceeds namespace team-a's maximum of 0" in placement(policy, priority=5)


def test_placement_allowed_and_imposed():
    policy = TenantPolicy.model_validate({"placement": {
        "allowed": {"runtimeClassNames": ["gvisor"], "nodeSelectors": ["zone=*", "disk=ssd"],
                    "tolerations": ["judge"], "queues": ["*"], "maxPriority": 100},
        "imposed": {"nodeSelector": {"pool": "judges"}, "runtimeClassName": "runc-judge",
                    "tolerations": [{"key": "judge", "operator": "Exists"}]}}})
    assert placement(policy, runtime_class="gvisor", node_selector={"zone": "b", "disk": "ssd"},
                     toleration_keys=["judge"], queue="x", priority=100) is None
    assert "disk=hdd" in placement(policy, node_selector={"disk": "hdd"})
    assert "change nodeSelector pool=judges" in placement(policy, node_selector={"pool": "mine"})
    pod = pod_placement(policy, None, {"zone": "b"}, None)
    assert pod == {"runtimeClassName": "runc-judge", "nodeSelector": {"zone": "b", "pool": "judges"},
                   "tolerations": [{"key": "judge", "operator": "Exists"}]}
    assert pod_placement(TenantPolicy(), None, None, None) == {}


def unschedulable(message):
    return {"status": {"conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                       "message": message}]}}


def test_unschedulable_by_selector_asks_about_the_labels_only_when_the_scheduler_names_them():
    def pod(message, selector=None):
        return {**unschedulable(message), "spec": {"nodeSelector": selector or {"gavel.dev/pool": "x"}}}

    for message in ("0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.",
                    "0/3 nodes are available: 1 node(s) had untolerated taint(s), 2 node(s) didn't match Pod's "
                    "node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful."):
        assert unschedulable_by_selector(pod(message)) == message
    assert unschedulable_by_selector(pod("0/1 nodes are available: 1 Insufficient memory.")) is None
    assert unschedulable_by_selector({"status": {"phase": "Running"}}) is None


def test_chart_values_match_the_model():
    import json
    from pathlib import Path

    import yaml

    from gavel_operator.tenancy import values_schema

    chart = Path(__file__).resolve().parents[2] / "charts" / "gavel"
    assert json.loads((chart / "values.schema.json").read_text())["properties"]["tenancy"] == values_schema(), \
        "charts/gavel/values.schema.json is stale: regenerate its tenancy part from tenancy.values_schema()"
    values = yaml.safe_load((chart / "values.yaml").read_text())["tenancy"]
    assert TenantPolicy.model_validate(values["default"]) == TenantPolicy()  # the chart's default is the code's
