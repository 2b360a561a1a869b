"""Admission from the line (admission.admit_key) runs outside kopf's handler for its Evaluation, so
kopf no longer keeps it apart from that Evaluation's cancel: a cancel landing between admission's
read and its start must leave no Job behind. The Kubernetes API and storage are faked: this is the
ordering of pure logic (the operator tier judges real ones)."""

from __future__ import annotations

import asyncio

import kopf
import pytest

from gavel_operator import admission, dispatch, state
from gavel_operator.settings import Settings
from gavel_operator.state import STATE, KeyLocks

KEY, UID, CREATED = ("ns", "e1"), "u1", "2026-01-01T00:00:00Z"
SPEC = {"language": "c", "submission": {"key": "s.c"},
        "tests": [{"name": "1", "input": {"key": "i"}, "expected": {"key": "o"}}]}
C = {"versions": [{"version": "17", "default": True, "sourceFile": "main.c",
                   "compile": ["/usr/bin/gcc", "main.c"], "run": ["{build}/a.out"]}]}


class FakeKube:
    def __init__(self, body):
        self.body = body

    async def get(self, path, **_):
        return self.body


@pytest.fixture
def operator(monkeypatch):
    monkeypatch.setattr(STATE, "settings", Settings.from_env(), raising=False)
    monkeypatch.setattr(STATE, "locks", KeyLocks(), raising=False)
    monkeypatch.setattr(STATE, "tenancies", {}, raising=False)
    monkeypatch.setattr(STATE, "ledger", dispatch.make_ledger())
    monkeypatch.setattr(STATE, "language_index", {"c": [C]})
    body = {"apiVersion": "gavel.dev/v1alpha1", "kind": "Evaluation", "spec": SPEC, "status": {},
            "metadata": {"name": KEY[1], "namespace": KEY[0], "uid": UID, "creationTimestamp": CREATED}}
    monkeypatch.setattr(STATE, "kube", FakeKube(body))
    STATE.ledger.observe(KEY, dispatch.entry_of(*KEY, UID, SPEC, {}, CREATED))
    seen = {"writes": [], "jobs": []}

    async def patch_status(namespace, name, values):
        seen["writes"].append(values.get("phase"))

    async def start(namespace, name, uid, *_, **__):
        seen["jobs"].append(name)
        return {"phase": "Pending", "jobName": f"{name}-job"}

    monkeypatch.setattr(state, "patch_status", patch_status)
    monkeypatch.setattr(admission, "start", start)
    monkeypatch.setattr(admission, "check_storage", lambda *_: None)
    monkeypatch.setattr(admission, "tenancy_violation", lambda *_: None)
    monkeypatch.setattr(kopf, "info", lambda *_, **__: None)
    monkeypatch.setattr(kopf, "warn", lambda *_, **__: None)
    return seen


def test_admitted_from_the_line_with_a_job(operator, monkeypatch):
    async def store(namespace):
        return None
    monkeypatch.setattr(admission, "store_for", store)
    assert asyncio.run(admission.admit_key(KEY, UID, 0)) is None
    assert operator["jobs"] == ["e1"] and operator["writes"] == ["Pending"]


def test_a_cancel_between_the_read_and_the_start_leaves_no_job(operator, monkeypatch):
    async def cancel_meanwhile(namespace):  # what following.cancel does to one without a Job yet
        STATE.ledger.observe(KEY, dispatch.entry_of(*KEY, UID, {**SPEC, "cancel": True}, {}, CREATED))
        async with STATE.locks(KEY):
            assert await state.write_status_held(*KEY, UID, {"phase": "Canceled"})
    monkeypatch.setattr(admission, "store_for", cancel_meanwhile)
    assert asyncio.run(admission.admit_key(KEY, UID, 0)) is None
    assert operator["jobs"] == [] and operator["writes"] == ["Canceled"]
    assert STATE.ledger.running == 0


def test_one_created_again_under_its_name_is_not_admitted_as_the_old(operator, monkeypatch):
    STATE.kube.body = {**STATE.kube.body, "metadata": {**STATE.kube.body["metadata"], "uid": "u2"}}
    assert asyncio.run(admission.admit_key(KEY, UID, 0)) is None
    assert operator["jobs"] == [] and operator["writes"] == []


def test_a_queued_one_starts_from_what_the_watch_showed(operator):
    """Its spec (small) and problem digest are kept while it is Queued: the start reads nothing; a
    large spec, or one no longer Queued, is read from the API server."""
    from kopf._cogs.structs.bodies import Body  # what kopf hands the index function: views of the body
    spec = Body({"spec": SPEC}).spec
    STATE.ledger.observe(KEY, dispatch.entry_of(*KEY, UID, spec, {"phase": "Queued", "problemDigest": "d1"}, CREATED))
    body = dispatch.queued_body(KEY, UID)
    assert body["spec"] == SPEC and body["status"] == {"phase": "Queued", "problemDigest": "d1"}
    assert body["metadata"] == {"name": KEY[1], "namespace": KEY[0], "uid": UID, "creationTimestamp": CREATED}
    assert body["kind"] == "Evaluation"
    assert dispatch.queued_body(KEY, "another uid") is None
    big = {**SPEC, "tests": [{"name": str(i), "input": {"key": f"in/{i}"}, "expected": {"key": f"out/{i}"}}
                             for i in range(100)]}
    STATE.ledger.observe(KEY, dispatch.entry_of(*KEY, UID, big, {"phase": "Queued"}, CREATED))
    assert dispatch.queued_body(KEY, UID) is None
    STATE.ledger.observe(KEY, dispatch.entry_of(*KEY, UID, SPEC, {"phase": "Pending", "jobName": "j"}, CREATED))
    assert dispatch.queued_body(KEY, UID) is None
