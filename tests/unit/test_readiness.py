"""The operator's readiness probe (dispatch.readiness, served by metrics.app at /readyz): catching
up while the queue is rebuilt from the listing, ready after, whatever the backlog."""

from __future__ import annotations

import json

import pytest

from gavel_operator import dispatch, metrics
from gavel_operator.ledger import Entry, Ledger
from gavel_operator.state import STATE


@pytest.fixture
def state(monkeypatch):
    monkeypatch.setattr(STATE, "ledger", Ledger(max_running=2), raising=False)
    monkeypatch.setattr(STATE, "language_index", None)
    monkeypatch.setattr(STATE, "nothing_listed", False)
    return STATE


def call(app, path: str) -> tuple[str, bytes]:
    seen = {}

    def start_response(status, headers):
        seen["status"] = status

    body = b"".join(app({"PATH_INFO": path, "REQUEST_METHOD": "GET", "QUERY_STRING": ""}, start_response))
    return seen["status"], body


def test_catching_up_until_the_listing_is_whole_then_ready_however_long_the_queue(state):
    for i in range(5):
        state.ledger.observe(("ns", f"e{i}"), Entry(uid=f"u{i}", phase="Queued", created=f"2026-01-01T00:00:0{i}Z"))
    ready, words = dispatch.readiness()
    assert not ready and words == {"catching up": "rebuilding the queue from the listing of Evaluations", "listed": 5}
    state.language_index = {}  # the first handler ran: kopf's indexes hold the whole listing
    ready, words = dispatch.readiness()
    assert ready and words == {"queued": 5, "running": 0, "new": 0}


def test_ready_at_once_when_there_was_nothing_to_list(state):
    assert not dispatch.readiness()[0]
    state.nothing_listed = True  # no handler would ever run to say the listing is whole
    assert dispatch.readiness() == (True, {"queued": 0, "running": 0, "new": 0})


def test_served_at_readyz_beside_the_metrics(state):
    app = metrics.app(dispatch.readiness)
    status, body = call(app, "/readyz")
    assert status.startswith("503") and json.loads(body)["catching up"]
    state.language_index = {}
    status, body = call(app, "/readyz")
    assert status.startswith("200") and json.loads(body) == {"queued": 0, "running": 0, "new": 0}
    status, body = call(app, "/metrics")
    assert status.startswith("200") and b"gavel_verdicts_total" in body
