"""The line to admit (operator/gavel_operator/intake.py) and what a restart rebuilds it from
(Ledger.unadmitted): keys in order, no repeats, a bounded number at once, tries again."""

from __future__ import annotations

import asyncio

from gavel_operator import intake
from gavel_operator.intake import Intake
from gavel_operator.ledger import Entry, Ledger


def run(coro):
    return asyncio.run(coro)


def test_admits_in_arrival_order_at_most_at_once_and_drops_repeats():
    async def go():
        order, busy, peak = [], [0], [0]

        async def admit(key, uid, retry):
            busy[0] += 1
            peak[0] = max(peak[0], busy[0])
            await asyncio.sleep(0.01)
            order.append(key[1])
            busy[0] -= 1
            return None

        line = Intake(admit, at_once=3)
        line.start()
        for i in range(10):
            assert line.add(("ns", f"e{i}"), f"u{i}")
        assert not line.add(("ns", "e0"), "u0")  # already in line
        assert line.add(("ns", "e0"), "u0-again")  # created again under its name: another one
        for _ in range(200):
            if len(order) == 11:
                break
            await asyncio.sleep(0.01)
        line.stop()
        return order, peak[0], len(line)
    order, peak, left = run(go())
    assert order[:3] == ["e0", "e1", "e2"] and sorted(order) == sorted([f"e{i}" for i in range(10)] + ["e0"])
    assert peak == 3 and left == 0


def test_tried_again_after_the_delay_it_asks_for_and_after_an_error():
    async def go():
        tries: list[tuple[str, int]] = []

        async def admit(key, uid, retry):
            tries.append((key[1], retry))
            if key[1] == "later" and retry < 2:
                return 0.01
            if key[1] == "broken" and retry < 1:
                raise RuntimeError("a case no check foresaw")
            return None

        line = Intake(admit, at_once=2)
        line.start()
        line.add(("ns", "later"), "u1")
        line.add(("ns", "broken"), "u2")
        assert not line.add(("ns", "later"), "u1")  # waiting to be tried again: still held
        for _ in range(300):
            if len(tries) == 5:
                break
            await asyncio.sleep(0.01)
        line.stop()
        return tries, line.add(("ns", "later"), "u1")
    intake.ERROR_DELAYS = (0.01,)
    try:
        tries, again = run(go())
    finally:
        intake.ERROR_DELAYS = (1, 2, 5, 10, 30, 60)
    assert sorted(tries) == [("broken", 0), ("broken", 1), ("later", 0), ("later", 1), ("later", 2)]
    assert again  # done with it: a new event may put it in line again


def test_no_bound_is_a_task_each():
    async def go():
        started = []
        gate = asyncio.Event()

        async def admit(key, uid, retry):
            started.append(key[1])
            await gate.wait()
            return None

        line = Intake(admit, at_once=0)
        for i in range(50):
            line.add(("ns", f"e{i}"), f"u{i}")
        await asyncio.sleep(0.05)
        n = len(started)
        gate.set()
        await asyncio.sleep(0.05)
        return n, len(line)
    assert run(go()) == (50, 0)


def test_a_restart_rebuilds_the_line_from_the_ledger_oldest_first():
    ledger = Ledger()
    ledger.observe(("ns", "new2"), Entry(uid="u2", created="2026-01-01T00:00:02Z"))
    ledger.observe(("ns", "new1"), Entry(uid="u1", created="2026-01-01T00:00:01Z"))
    ledger.observe(("ns", "storage-down"), Entry(uid="u3", phase="Pending", created="2026-01-01T00:00:00Z"))
    ledger.observe(("ns", "started"), Entry(uid="u4", phase="Pending", job="j", created="2026-01-01T00:00:00Z"))
    ledger.observe(("ns", "queued"), Entry(uid="u5", phase="Queued", created="2026-01-01T00:00:00Z"))
    ledger.observe(("ns", "done"), Entry(uid="u6", phase="Succeeded", created="2026-01-01T00:00:00Z"))
    assert ledger.unadmitted() == [(("ns", "storage-down"), "u3"), (("ns", "new1"), "u1"), (("ns", "new2"), "u2")]
    ledger.mark_starting(("ns", "storage-down"), "default")  # being started by admission right now
    assert ledger.unadmitted() == [(("ns", "new1"), "u1"), (("ns", "new2"), "u2")]
