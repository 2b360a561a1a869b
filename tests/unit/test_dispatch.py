"""The dispatcher's pass (dispatch.dispatch) over the ledger, with starts faked: several in flight,
never beyond the cap, a higher priority never after a lower one, a refused start tried later."""

from __future__ import annotations

import asyncio

import pytest

from gavel_operator import dispatch
from gavel_operator.kube import ApiError
from gavel_operator.ledger import Entry, Ledger
from gavel_operator.state import STATE, KeyLocks


@pytest.fixture
def ledger(monkeypatch):
    led = Ledger(max_running=20)
    monkeypatch.setattr(STATE, "ledger", led, raising=False)
    monkeypatch.setattr(STATE, "locks", KeyLocks(), raising=False)
    return led


def queue(ledger, n, priority=0, prefix="e"):
    for i in range(n):
        ledger.observe(("ns", f"{prefix}{i:02d}"), Entry(uid=f"{prefix}{i}", phase="Queued", priority=priority,
                                                         created=f"2026-01-01T00:00:{i:02d}Z"))


def fake_starts(monkeypatch, ledger, refuse=()):
    log = {"order": [], "most": 0, "now": 0}

    async def start_queued(key, entry):
        log["now"] += 1
        log["most"] = max(log["most"], log["now"])
        log["order"].append((entry.priority, key[1]))
        await asyncio.sleep(0.01)
        log["now"] -= 1
        if key[1] in refuse:
            raise ApiError(500, "busy")
        # the watch shows it Pending with its Job
        ledger.observe(key, Entry(uid=entry.uid, phase="Pending", priority=entry.priority, job=f"job-{key[1]}"))
        return "done"

    monkeypatch.setattr(dispatch, "start_queued", start_queued)
    return log


def test_starts_several_at_once_up_to_the_cap(ledger, monkeypatch):
    cap = ledger.max_running = dispatch.STARTS_AT_ONCE + 12
    queue(ledger, cap + 10)
    log = fake_starts(monkeypatch, ledger)
    asyncio.run(dispatch.dispatch())
    assert len(log["order"]) == cap and ledger.running == cap and ledger.queued == 10
    assert log["most"] == dispatch.STARTS_AT_ONCE


def test_a_higher_priority_is_never_started_after_a_lower_one(ledger, monkeypatch):
    queue(ledger, 5, priority=0, prefix="low")
    queue(ledger, 3, priority=5, prefix="high")
    log = fake_starts(monkeypatch, ledger)
    asyncio.run(dispatch.dispatch())
    assert [p for p, _ in log["order"]] == [5, 5, 5, 0, 0, 0, 0, 0]


def test_a_refused_start_gives_back_its_slot_and_ends_the_pass(ledger, monkeypatch):
    queue(ledger, 3)
    log = fake_starts(monkeypatch, ledger, refuse={"e00"})
    monkeypatch.setattr(STATE, "wake", None)

    async def main():
        await dispatch.dispatch()

    asyncio.run(main())
    assert ("ns", "e00") not in ledger.starting and ledger.get(("ns", "e00")).phase == "Queued"
    assert ledger.running == 2 and ledger.queued == 1  # the others of its round went on
