"""The ledger (operator/gavel_operator/ledger.py): the queue and running counts kept from the watch."""

from __future__ import annotations

import random

from gavel_operator.ledger import Entry, Ledger


def queued(uid, priority=0, created="2026-01-01T00:00:00Z", queue="default"):
    return Entry(uid=uid, phase="Queued", priority=priority, created=created, queue=queue)


def running(uid, queue="default"):
    return Entry(uid=uid, phase="Running", queue=queue, job=f"job-{uid}")


def drain(ledger: Ledger) -> list[str]:
    """Start everything startable, as dispatch does (the watch then shows each Pending)."""
    order = []
    while (key := ledger.next_startable()) is not None:
        entry = ledger.get(key)
        ledger.mark_starting(key, entry.queue)
        order.append(key[1])
        ledger.observe(key, Entry(uid=entry.uid, phase="Pending", queue=entry.queue, job="j"))
    return order


def test_starts_by_priority_then_age_then_name_up_to_the_cap():
    ledger = Ledger(max_running=3)
    ledger.observe(("ns", "old"), queued("u1", created="2026-01-01T00:00:01Z"))
    ledger.observe(("ns", "new"), queued("u2", created="2026-01-01T00:00:09Z"))
    ledger.observe(("ns", "urgent"), queued("u3", priority=5, created="2026-01-01T00:00:10Z"))
    ledger.observe(("ns", "b"), queued("u4", created="2026-01-01T00:00:01Z"))
    assert drain(ledger) == ["urgent", "b", "old"]
    assert ledger.running == 3 and ledger.queued == 1
    assert ledger.next_startable() is None


def test_a_slot_freeing_wakes_and_starts_the_next():
    woken = []
    ledger = Ledger(max_running=1, on_room=lambda: woken.append(1))
    ledger.observe(("ns", "a"), running("ua"))
    ledger.observe(("ns", "b"), queued("ub"))
    assert ledger.next_startable() is None
    woken.clear()
    ledger.observe(("ns", "a"), Entry(uid="ua", phase="Succeeded"))
    assert woken and ledger.next_startable() == ("ns", "b")


def test_finished_here_frees_the_slot_before_the_watch_shows_it():
    ledger = Ledger(max_running=1)
    ledger.observe(("ns", "a"), running("ua"))
    ledger.observe(("ns", "b"), queued("ub"))
    ledger.mark_finished(("ns", "a"), "ua")
    assert ledger.next_startable() == ("ns", "b")


def test_a_new_one_never_starts_past_those_that_wait():
    """A slot freed while admission runs: the queued ones (older, or of a higher priority) take it,
    not the Evaluation just admitted; one of a strictly higher priority may start at once."""
    ledger = Ledger(max_running=2)
    ledger.observe(("ns", "a"), running("ua"))
    ledger.observe(("ns", "waits"), queued("uw", priority=1))
    assert ledger.next_startable() == ("ns", "waits")  # room: one slot of two
    assert "wait for a slot" in ledger.why_new_waits("default", "ns", "", priority=0)
    assert "wait for a slot" in ledger.why_new_waits("default", "ns", "", priority=1)
    assert ledger.why_new_waits("default", "ns", "", priority=2) is None
    ledger.observe(("ns", "b"), running("ub"))
    assert "at once" in ledger.why_new_waits("default", "ns", "", priority=9)  # no room at all
    ledger.observe(("ns", "waits"), Entry(uid="uw", phase="Pending", job="j"))
    ledger.observe(("ns", "b"), Entry(uid="ub", phase="Succeeded"))  # a and waits run
    assert "at once" in ledger.why_new_waits("default", "ns", "", priority=0)
    ledger.observe(("ns", "a"), Entry(uid="ua", phase="Succeeded"))
    assert ledger.why_new_waits("default", "ns", "", priority=0) is None  # nothing waits: room is its


def test_caps_per_queue_and_namespace():
    ledger = Ledger(max_running=10, queue_limits={"slow": 1}, namespace_cap=lambda ns: 2 if ns == "small" else None)
    ledger.observe(("small", "s1"), queued("s1"))
    ledger.observe(("small", "s2"), queued("s2"))
    ledger.observe(("small", "s3"), queued("s3"))
    ledger.observe(("big", "q1"), queued("q1", queue="slow"))
    ledger.observe(("big", "q2"), queued("q2", queue="slow"))
    ledger.observe(("big", "d1"), queued("d1"))
    started = drain(ledger)
    assert sorted(started) == ["d1", "q1", "s1", "s2"]
    assert ledger.running_by_namespace["small"] == 2 and ledger.running_by_queue["slow"] == 1
    assert "ceiling of 2" in ledger.why_queued("default", "small")


def test_pending_without_a_job_is_not_running():
    """Admission retrying while storage is down writes Pending with no Job: it holds no slot."""
    ledger = Ledger(max_running=1)
    ledger.observe(("ns", "a"), Entry(uid="ua", phase="Pending"))
    ledger.observe(("ns", "b"), queued("ub"))
    assert ledger.next_startable() == ("ns", "b")


def test_a_pool_the_scheduler_cannot_place_starts_nothing_more():
    ledger = Ledger(max_running=10)
    ledger.observe(("ns", "a"), Entry(uid="ua", phase="Queued", pool="p1"))
    ledger.observe(("ns", "b"), Entry(uid="ub", phase="Queued", pool="p2", created="2026-01-02T00:00:00Z"))
    ledger.pod_unschedulable("p1", "pod-x", True)
    assert ledger.next_startable() == ("ns", "b")
    woken = []
    ledger.on_room = lambda: woken.append(1)
    ledger.pod_unschedulable("p1", "pod-x", False)
    assert woken and ledger.next_startable() == ("ns", "a")


def test_canceled_deleted_and_recreated():
    ledger = Ledger(max_running=1)
    ledger.observe(("ns", "a"), running("ua"))
    ledger.observe(("ns", "b"), queued("ub"))
    ledger.observe(("ns", "c"), queued("uc", created="2026-01-02T00:00:00Z"))
    ledger.observe(("ns", "b"), Entry(uid="ub", phase="Queued", cancel=True))  # canceled while queued
    ledger.forget(("ns", "a"), "ua")  # deleted while running
    assert ledger.next_startable() == ("ns", "c")
    ledger.forget(("ns", "c"), "other-uid")  # a late DELETED of an older object of that name: ignored
    assert ledger.get(("ns", "c")).uid == "uc"
    ledger.observe(("ns", "c"), running("uc2"))  # created again under the same name, already running
    assert ledger.running == 1 and ledger.queued == 0


def test_a_job_kueue_holds_is_not_started_again():
    ledger = Ledger(max_running=5, kueue=True)
    ledger.observe(("ns", "a"), Entry(uid="ua", phase="Queued", job="gavel-a-a1"))  # suspended, waiting for Kueue
    assert ledger.next_startable() is None and ledger.running == 0


def test_starting_counts_until_the_watch_catches_up():
    ledger = Ledger(max_running=1)
    ledger.observe(("ns", "a"), queued("ua"))
    ledger.observe(("ns", "b"), queued("ub", created="2026-01-02T00:00:00Z"))
    ledger.mark_starting(("ns", "a"), "default")
    assert ledger.running == 1 and ledger.next_startable() is None
    ledger.observe(("ns", "a"), queued("ua"))  # an older event of it: still being started
    assert ledger.next_startable() is None
    ledger.unmark_starting(("ns", "a"))  # the start failed: back in the queue, first again
    assert ledger.next_startable() == ("ns", "a")


def test_agrees_with_a_full_scan_under_random_events():
    """Every count and every choice equals what a scan of all entries would give, after each of
    thousands of random events (the old dispatch's rule, recomputed from scratch)."""
    rng = random.Random(7)
    caps = {"n0": 3}
    ledger = Ledger(max_running=6, queue_limits={"q1": 2}, namespace_cap=caps.get)
    names = [(f"n{i % 3}", f"e{i}") for i in range(60)]
    uids = {}
    for step in range(5000):
        key = rng.choice(names)
        roll = rng.random()
        if roll < 0.1:
            ledger.forget(key)
            continue
        uid = uids.setdefault(key, f"{key[1]}-{rng.randrange(2)}")
        phase = rng.choice([None, "Queued", "Queued", "Pending", "Running", "Succeeded", "Failed"])
        entry = Entry(uid=uid, phase=phase, queue=rng.choice(["default", "q1"]), priority=rng.choice([0, 0, 5]),
                      created=f"2026-01-01T00:00:{rng.randrange(60):02d}Z", cancel=rng.random() < 0.05,
                      job="j" if phase in ("Pending", "Running") and rng.random() < 0.9 else None)
        ledger.observe(key, entry)
        if roll > 0.97 and ledger.get(key).phase == "Queued":
            ledger.mark_starting(key, entry.queue)
        if 0.9 < roll <= 0.93 and entry.job:
            ledger.pod_ended(key, uid, entry.job)
        run = {k: (v.queue, k[0]) for k, v in ledger.entries.items()
               if (v.phase == "Running" or (v.phase == "Pending" and v.job)) and not v.cancel
               and v.uid not in ledger.finished and ledger.ended.get(v.uid) != v.job}
        run.update({k: (q, k[0]) for k, q in ledger.starting.items()})
        assert ledger.running == len(run), step
        for q in ("default", "q1"):
            assert ledger.running_by_queue[q] == sum(1 for v in run.values() if v[0] == q)
        waiting = [k for k, v in ledger.entries.items() if v.phase == "Queued" and not v.cancel
                   and k not in ledger.starting and not v.job]
        assert ledger.queued == len(waiting)
        for q in ("default", "q1"):  # the Queued message's position, from counts, as a scan would give it
            for p in (-1, 0, 5, 6):
                assert ledger.waiting_ahead(q, p) == sum(1 for k in waiting if ledger.entries[k].queue == q
                                                         and ledger.entries[k].priority >= p), step
        assert set(ledger.running_keys()) == set(run), step

        def room(k):
            v = ledger.entries[k]
            per_ns = sum(1 for r in run.values() if r[1] == k[0])
            per_q = sum(1 for r in run.values() if r[0] == v.queue)
            return len(run) < 6 and (v.queue != "q1" or per_q < 2) and (k[0] not in caps or per_ns < caps[k[0]])

        fits = sorted((-ledger.entries[k].priority, ledger.entries[k].created, k[1], k) for k in waiting if room(k))
        expect = fits[0][3] if fits else None
        got = ledger.next_startable()
        if expect is None:
            assert got is None, step
        else:  # ties of priority, age and name across namespaces may go either way
            assert got is not None and fits[0][:3] == (-ledger.entries[got].priority, ledger.entries[got].created,
                                                       got[1]), step


def test_a_retry_keeps_its_slot_and_takes_no_other():
    """Issue 21 item 3: each attempt is a Job of its own. Between a failed attempt's Job and the
    next one (following.retry: Pending again, with the next Job's name) the Evaluation holds the
    one slot it held; it frees it once final."""
    woken = []
    ledger = Ledger(max_running=1, on_room=lambda: woken.append(1))
    key = ("ns", "a")
    ledger.observe(key, Entry(uid="ua", phase="Running", job="gavel-a-ua-a1", attempt=1))
    ledger.observe(("ns", "b"), queued("ub"))
    assert ledger.running == 1 and ledger.next_startable() is None
    woken.clear()
    ledger.mark_starting(key, "default")  # launch.start of attempt 2, before the watch shows it
    assert ledger.running == 1 and ledger.next_startable() is None
    ledger.observe(key, Entry(uid="ua", phase="Running", job="gavel-a-ua-a1", attempt=1))  # an older event
    ledger.observe(key, Entry(uid="ua", phase="Pending", job="gavel-a-ua-a2", attempt=2))
    ledger.observe(key, Entry(uid="ua", phase="Running", job="gavel-a-ua-a2", attempt=2))
    assert ledger.running == 1 and ledger.running_by_namespace["ns"] == 1 and not woken
    assert ledger.next_startable() is None
    ledger.observe(key, Entry(uid="ua", phase="Succeeded", job="gavel-a-ua-a2", attempt=2))
    assert ledger.running == 0 and woken and ledger.next_startable() == ("ns", "b")


def test_position_in_the_queue_counts_those_that_start_first():
    ledger = Ledger(max_running=0)
    for i, (priority, queue) in enumerate([(0, "default"), (0, "default"), (5, "default"), (0, "other")]):
        ledger.observe(("ns", f"e{i}"), queued(f"u{i}", priority=priority, queue=queue))
    assert ledger.waiting_ahead("default", 0) == 3  # a new one of priority 0 is fourth
    assert ledger.waiting_ahead("default", 5) == 1 and ledger.waiting_ahead("default", 9) == 0
    assert ledger.waiting_ahead("other", 0) == 1 and ledger.waiting_ahead("none", 0) == 0
    ledger.observe(("ns", "e2"), Entry(uid="u2", phase="Canceled"))
    assert ledger.waiting_ahead("default", 0) == 2 and ledger.running_keys() == []


def test_a_runner_pod_that_ended_frees_its_slot_before_the_verdict():
    """following.pod_succeeded: the slot frees when the runner pod ends, not after the verdict is
    read and written (round trips the next Evaluation need not wait for); a later attempt's Job
    holds one again, and a final status forgets it."""
    woken = []
    ledger = Ledger(max_running=1, on_room=lambda: woken.append(1))
    key = ("ns", "a")
    ledger.observe(key, Entry(uid="ua", phase="Running", job="gavel-a-ua-a1"))
    ledger.observe(("ns", "b"), queued("ub"))
    assert ledger.next_startable() is None
    woken.clear()
    ledger.pod_ended(key, "ua", "gavel-a-ua-a1")
    assert woken and ledger.running == 0 and ledger.next_startable() == ("ns", "b")
    ledger.observe(key, Entry(uid="ua", phase="Running", job="gavel-a-ua-a1"))  # a progress write: still free
    assert ledger.running == 0
    ledger.observe(key, Entry(uid="ua", phase="Pending", job="gavel-a-ua-a2", attempt=2))  # another attempt
    assert ledger.running == 1 and ledger.next_startable() is None
    ledger.observe(key, Entry(uid="ua", phase="Succeeded", job="gavel-a-ua-a2", attempt=2))
    assert ledger.running == 0 and not ledger.ended
