"""launch.start's requests, against a fake API server (pure logic; the operator tier creates real
ones): the pod's dry run beside the Secret, then the Job; a Secret left by an earlier try is kept;
a refusal fails the Evaluation with the API server's words and creates no Job."""

from __future__ import annotations

import asyncio

import kopf
import pytest

from gavel_contract.languages import builtin_languages
from gavel_operator import launch
from gavel_operator.kube import ApiError
from gavel_operator.ledger import Ledger
from gavel_operator.objectstore import ObjectStore
from gavel_operator.resources import EvaluationSpec
from gavel_operator.settings import Settings
from gavel_operator.state import STATE

NS, NAME, UID = "ns", "e1", "0b7a1d2c-1111-2222-3333-444455556666"
SPEC = EvaluationSpec.model_validate({"language": "c", "submission": {"key": "s.c"},
                                      "tests": [{"name": "1", "input": {"key": "i"}, "expected": {"key": "o"}}]})
BODY = {"apiVersion": "gavel.dev/v1alpha1", "kind": "Evaluation",
        "metadata": {"name": NAME, "namespace": NS, "uid": UID, "creationTimestamp": "2026-01-01T00:00:00Z"}}


class FakeApi:
    """Answers by (method, kind of object): an ApiError to raise, or a dict (None: 409, exists)."""

    def __init__(self, answers=None):
        self.answers, self.calls = answers or {}, []

    async def request(self, method, path, body=None, params=None, content_type=None):
        kind = "dryrun" if params and params.get("dryRun") else path.rstrip("/").split("/")[-2 if method == "PATCH" else -1]
        self.calls.append((method, kind))
        await asyncio.sleep(0)
        answer = self.answers.get((method, kind), {"metadata": {}})
        if isinstance(answer, ApiError):
            raise answer
        return answer

    async def create(self, path, body):
        try:
            out = await self.request("POST", path, body)
        except ApiError as err:
            if err.status == 409:
                return None
            raise
        return out


@pytest.fixture
def operator(monkeypatch):
    settings = Settings.from_env()
    settings.runner_egress = None  # no NetworkPolicy request in these
    monkeypatch.setattr(STATE, "settings", settings, raising=False)
    monkeypatch.setattr(STATE, "store", ObjectStore(settings), raising=False)
    monkeypatch.setattr(STATE, "tenancies", {}, raising=False)
    monkeypatch.setattr(STATE, "ledger", Ledger(), raising=False)
    monkeypatch.setattr(kopf, "info", lambda *_, **__: None)
    monkeypatch.setattr(kopf, "warn", lambda *_, **__: None)
    monkeypatch.setattr(kopf, "adopt", lambda *_, **__: None)


def run(api, monkeypatch):
    monkeypatch.setattr(STATE, "kube", api, raising=False)
    lang = builtin_languages()["c"]
    return asyncio.run(launch.start(NS, NAME, UID, SPEC, lang, lang.default_version(), BODY, attempt=1))


def test_the_dry_run_and_the_secret_then_the_job(operator, monkeypatch):
    api = FakeApi()
    values = run(api, monkeypatch)
    assert values["phase"] == "Pending" and values["jobName"]
    assert sorted(api.calls[:2]) == [("POST", "dryrun"), ("POST", "secrets")] and api.calls[2:] == [("POST", "jobs")]


def test_a_secret_left_by_an_earlier_try_is_left_as_it_is(operator, monkeypatch):
    """The operator may only create Secrets (the chart's RBAC): one made by an earlier try, or by a
    process killed after it, keeps its task; a stored task is written under a name of its own each
    try (taskdocs.key), so the one that Secret names is never overwritten."""
    api = FakeApi({("POST", "secrets"): ApiError(409, "exists")})
    assert run(api, monkeypatch)["phase"] == "Pending"
    assert api.calls[2:] == [("POST", "jobs")]


def test_a_refused_pod_creates_no_job(operator, monkeypatch):
    api = FakeApi({("POST", "dryrun"): ApiError(403, "violates PodSecurity")})
    values = run(api, monkeypatch)
    assert values["phase"] == "Failed" and "refused the runner pod" in values["message"]
    assert "violates PodSecurity" in values["message"] and ("POST", "jobs") not in api.calls


def test_the_api_servers_trouble_is_tried_again(operator, monkeypatch):
    api = FakeApi({("POST", "dryrun"): ApiError(503, "busy")})
    with pytest.raises(ApiError):
        run(api, monkeypatch)
    assert ("POST", "jobs") not in api.calls
