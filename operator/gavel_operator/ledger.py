"""The queue and the running counts, kept from the watch so that an event costs O(log n).

Every Evaluation event reaches `observe` (from kopf's index function) or `forget` (DELETED):
each updates the counters of running Evaluations (in all, per queue, per namespace) and the
queued ones' heaps (one per queue, namespace and node pool, by priority then age) by what changed for that
one key. `next_startable` looks at the top of each heap only: its cost grows with the number of
(queue, namespace, pool) triples that wait, never with how many wait in them. A restart rebuilds all of
it in the one pass kopf makes over its initial listing. Entries hold the few fields dispatch and
following need, never whole bodies.

Pure Python, no kopf: unit-tested as data (tests/unit/test_ledger.py)."""

from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

Key = tuple[str, str]  # (namespace, name)
FINAL = ("Succeeded", "Failed", "Canceled")
QUEUED = "Queued"


@dataclass(slots=True)
class Entry:
    """What the operator keeps of one Evaluation in flight."""
    uid: str
    phase: str | None = None
    queue: str = "default"
    priority: int = 0
    created: str = ""
    cancel: bool = False
    job: str | None = None  # status.jobName: the current attempt's Job
    attempt: int = 1  # status.attempts: the current attempt (its Job is `job`)
    retries: int = 2  # spec.retries: attempts after the first (one Job each)
    bucket: str = ""  # where its results go
    prefix: str = ""
    pool: str = ""  # digest of the runner pod's placement (nodeSelector, tolerations, runtime class)
    conditions: list = field(default_factory=list)
    message: str = ""
    tests: int = 0  # how many tests it has (status.progress.total once started; 0: not known yet)
    progress: dict | None = None  # status.progress as last written
    log_url: str = ""  # status.logUrl as last written
    # while Queued: its spec as compact JSON and status.problemDigest, so that a start needs no GET of
    # it (one round trip less between a free slot and its Job); None when the spec is large
    kept: tuple[bytes, str] | None = None


@dataclass
class Ledger:
    max_running: int = 20
    queue_limits: dict[str, int] = field(default_factory=dict)
    namespace_cap: Callable[[str], int | None] = lambda namespace: None
    kueue: bool = False  # Kueue admits: only the namespaces' ceilings hold here
    on_room: Callable[[], None] = lambda: None  # called when dispatch may have something to do

    entries: dict[Key, Entry] = field(default_factory=dict)
    starting: dict[Key, str] = field(default_factory=dict)  # started here, the watch not caught up: key -> queue
    finished: set[str] = field(default_factory=set)  # uids written final here, the watch not caught up
    ended: dict[str, str] = field(default_factory=dict)  # uid -> the Job whose runner pod ended, the verdict not yet seen
    blocked_pools: dict[str, set[str]] = field(default_factory=dict)  # pool -> runner pods the scheduler cannot place

    def __post_init__(self):
        self._running: dict[Key, tuple[str, str]] = {}  # key -> (queue, namespace)
        self.running_by_queue: Counter = Counter()
        self.running_by_namespace: Counter = Counter()
        self._heaps: dict[tuple[str, str, str], list] = {}  # (queue, namespace, pool) -> [(-priority, created, name, uid, queue, pool)]
        self._waiting: dict[Key, tuple] = {}  # key -> its live heap item (others are stale)
        self._stale = 0
        self.by_phase: Counter = Counter()
        self._waiting_by_rank: Counter = Counter()  # (queue, priority) -> how many wait

    # ---- the watch -------------------------------------------------------------------------
    def observe(self, key: Key, entry: Entry) -> None:
        old = self.entries.get(key)
        if old is not None:
            self.by_phase[old.phase or "New"] -= 1
        if old is not None and old.uid != entry.uid:
            self.starting.pop(key, None)  # deleted and created again under the same name
        self.entries[key] = entry
        self.by_phase[entry.phase or "New"] += 1
        if entry.phase != QUEUED and entry.phase is not None:
            self.starting.pop(key, None)  # started (or final): the watch shows it now
        if entry.phase in FINAL:
            self.finished.discard(entry.uid)  # the watch shows it: no need to remember
            self.ended.pop(entry.uid, None)
        self._refresh(key)

    def forget(self, key: Key, uid: str | None = None) -> None:
        old = self.entries.get(key)
        if old is None or (uid is not None and old.uid != uid):
            return
        del self.entries[key]
        self.by_phase[old.phase or "New"] -= 1
        self.starting.pop(key, None)
        self.finished.discard(old.uid)
        self.ended.pop(old.uid, None)
        self._refresh(key)

    def mark_starting(self, key: Key, queue: str) -> None:
        self.starting[key] = queue
        self._refresh(key)

    def unmark_starting(self, key: Key) -> None:
        if self.starting.pop(key, None) is not None:
            self._refresh(key)

    def mark_finished(self, key: Key, uid: str) -> None:
        self.finished.add(uid)
        self._refresh(key)

    def pod_ended(self, key: Key, uid: str, job: str) -> None:
        """The runner pod of this Job ended: its slot is free now, before its verdict is read and
        written (storage, logs, the status: round trips the next Evaluation need not wait for).
        The next attempt's Job, if any, takes a slot again."""
        self.ended[uid] = job
        self._refresh(key)

    def pod_unschedulable(self, pool: str, pod_uid: str, unschedulable: bool) -> None:
        """The scheduler found no node for a runner pod of this pool (or found one now): while any
        waits, no new Job of that pool starts (waiting for a node is not running)."""
        pods = self.blocked_pools.setdefault(pool, set())
        if unschedulable:
            pods.add(pod_uid)
        elif pod_uid in pods:
            pods.discard(pod_uid)
            if not pods:
                del self.blocked_pools[pool]
                self.on_room()

    # ---- questions ----------------------------------------------------------------------------
    def get(self, key: Key) -> Entry | None:
        return self.entries.get(key)

    @property
    def running(self) -> int:
        return len(self._running)

    @property
    def queued(self) -> int:
        return len(self._waiting)

    def running_keys(self) -> list[Key]:
        """The Evaluations holding a slot (being started, Pending with a Job, Running): at most
        max_running of them without Kueue, however many wait."""
        return list(self._running)

    def waiting_ahead(self, queue: str, priority: int) -> int:
        """How many wait in this queue that start before a new one of this priority (those of its
        priority or higher, all older): its position, less one, as the queue stands now. O(the
        priorities in use), never O(queued)."""
        return sum(n for (q, p), n in self._waiting_by_rank.items() if q == queue and p >= priority)

    def namespace_full(self, namespace: str) -> bool:
        cap = self.namespace_cap(namespace)
        return cap is not None and self.running_by_namespace[namespace] >= cap

    def room_for(self, queue: str, namespace: str, pool: str | None = None) -> bool:
        return self.why_queued(queue, namespace, pool) is None

    def why_queued(self, queue: str, namespace: str, pool: str | None = None) -> str | None:
        """What keeps an Evaluation of this queue, namespace and node pool from starting now, or None."""
        if self.namespace_full(namespace):  # the namespace's ceiling holds with Kueue too
            return (f"namespace {namespace} is at its ceiling of {self.namespace_cap(namespace)} running "
                    "(ceilings.maxRunning)")
        if self.kueue:
            return None  # Kueue admits suspended Jobs
        if pool is not None and self.blocked_pools.get(pool):
            return "the cluster has no node free for another runner pod (the scheduler says so)"
        if self.running >= self.max_running:
            return f"the operator runs {self.max_running} at once (concurrency.maxRunning)"
        cap = self.queue_limits.get(queue)
        if cap is not None and self.running_by_queue[queue] >= cap:
            return f"queue {queue} is at its cap"
        return None

    def why_new_waits(self, queue: str, namespace: str, pool: str | None, priority: int) -> str | None:
        """What keeps a newly admitted Evaluation from starting at once, or None: no room (why_queued),
        or room that a queued one ranking at least as high (priority, then age: it is older) may
        take. Admission never starts a new one past those that wait."""
        if (why := self.why_queued(queue, namespace, pool)) is not None:
            return why
        if (key := self.next_startable()) is not None and self.entries[key].priority >= priority:
            return "Evaluations admitted before it, of its priority or higher, wait for a slot"
        return None

    def next_startable(self) -> Key | None:
        """The queued Evaluation to start next (priority, then age, then name) among those whose
        queue, namespace and node pool have room; None when there is none."""
        best = None
        for (queue, namespace, pool), heap in list(self._heaps.items()):
            top = self._top((queue, namespace, pool), heap)
            if top is None:
                continue
            key = (namespace, top[2])
            if not self.room_for(queue, namespace, pool):
                continue
            if best is None or top < best[0]:
                best = (top, key)
        return None if best is None else best[1]

    def unadmitted(self) -> list[tuple[Key, str]]:
        """(key, uid) of those admission has not finished, oldest first: never admitted, or Pending
        without a Job (storage was down: admission was trying again). After a restart, the line to
        admit (intake.py) is rebuilt from these."""
        waiting = [(e.created, key, e.uid) for key, e in self.entries.items()
                   if e.phase is None or (e.phase == "Pending" and not e.job and key not in self.starting)]
        return [(key, uid) for _, key, uid in sorted(waiting)]

    def depths(self) -> Counter:
        """Queued Evaluations by queue."""
        out: Counter = Counter()
        for key in self._waiting:
            out[self.entries[key].queue] += 1
        return out

    # ---- bookkeeping ----------------------------------------------------------------------------
    def _top(self, where: tuple[str, str, str], heap: list):
        while heap:
            top = heap[0]
            if self._waiting.get((where[1], top[2])) is top:
                return top
            heapq.heappop(heap)
            self._stale -= 1
        del self._heaps[where]
        return None

    def _refresh(self, key: Key) -> None:
        namespace = key[0]
        entry = self.entries.get(key)
        # running: seen Pending/Running here, or being started by this process (not: Pending without a
        # Job, admission retrying; a Job whose runner pod ended, its slot free before the verdict)
        if key in self.starting:
            running = (self.starting[key], namespace)
        elif entry is not None and (entry.phase == "Running" or (entry.phase == "Pending" and entry.job)) \
                and not entry.cancel and entry.uid not in self.finished \
                and self.ended.get(entry.uid) != entry.job:
            running = (entry.queue, namespace)
        else:
            running = None
        was = self._running.get(key)
        if was != running:
            if was is not None:
                del self._running[key]
                self.running_by_queue[was[0]] -= 1
                self.running_by_namespace[was[1]] -= 1
            if running is not None:
                self._running[key] = running
                self.running_by_queue[running[0]] += 1
                self.running_by_namespace[running[1]] += 1
        # queued: waiting for a slot, not being started
        wants = (entry is not None and entry.phase == QUEUED and not entry.cancel and key not in self.starting
                 and entry.uid not in self.finished and not entry.job)  # with a Job: Kueue holds it
        item = self._waiting.get(key)
        if wants:
            new = (-entry.priority, entry.created, key[1], entry.uid, entry.queue, entry.pool)  # moved: a new item
            if item is None or item != new:
                if item is not None:
                    self._stale += 1
                    self._count_waiting(item, -1)
                self._count_waiting(new, 1)
                self._waiting[key] = new
                heapq.heappush(self._heaps.setdefault((entry.queue, namespace, entry.pool), []), new)
                self._compact()
        elif item is not None:
            del self._waiting[key]
            self._count_waiting(item, -1)
            self._stale += 1
            self._compact()
        if (was is not None and running is None) or (wants and item is None):
            self.on_room()  # a slot freed, or one more waits: dispatch may start something

    def _count_waiting(self, item: tuple, n: int) -> None:
        rank = (item[4], -item[0])  # (queue, priority) of a heap item
        self._waiting_by_rank[rank] += n
        if not self._waiting_by_rank[rank]:
            del self._waiting_by_rank[rank]

    def _compact(self) -> None:
        """Drop stale heap items once they outnumber the live ones (amortized O(1) per change)."""
        if self._stale <= max(64, len(self._waiting)):
            return
        heaps: dict[tuple[str, str, str], list] = {}
        for key, item in self._waiting.items():
            entry = self.entries[key]
            heaps.setdefault((entry.queue, key[0], entry.pool), []).append(item)
        for heap in heaps.values():
            heapq.heapify(heap)
        self._heaps, self._stale = heaps, 0
