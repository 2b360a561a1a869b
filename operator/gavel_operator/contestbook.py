"""What the operator keeps for contests, and when it rebuilds them: pure Python on asyncio, no kopf,
no cluster (tests/unit/test_contestbook.py).

- `Book`: the judgement of every Evaluation that carries `gavel.dev/contest`, by (namespace,
  contest), kept from a watch: an event costs O(1) and says which contests changed (none when an
  event changes nothing a scoreboard shows, such as a Running Evaluation's progress). A judgement
  holds the Problem's name, not the contest's label for it: the Contest may come, change or go
  after its Evaluations, so labels are given at rebuild. Only an Evaluation's own namespace is ever
  looked at: a Contest sees its namespace's Evaluations, of its namespace's Problems.
- `Rebuilds`: a contest whose judgements changed is rebuilt once, `delay` seconds later, however
  many changes came meanwhile; a change during a rebuild makes one more after it. So a burst of
  completions costs at most one rebuild per contest per `delay` (plus one), never one per event.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from . import tenancy
from .resources import ContestSpec, ContestState, ContestWindow
from .scoreboard import (
    CONTEST_LABEL, Judgement, Standings, contest_state, judgement_from_evaluation, scoreboard_html, scoreboard_json,
    standings,
)

log = logging.getLogger("gavel.contests")

ContestKey = tuple[str, str]  # (namespace, Contest name)
EvalKey = tuple[str, str]  # (namespace, Evaluation name)


class _ProblemNames(dict):
    """problem_labels for judgement_from_evaluation that keeps the Problem's name (any but none)."""

    def get(self, key, default=None):
        return key or default


def same(a: Judgement | None, b: Judgement | None) -> bool:
    """Judgement compares by identity (eq=False): equal here when every field is."""
    return a is b or (a is not None and b is not None and vars(a) == vars(b))


class Book:
    def __init__(self) -> None:
        self._held: dict[EvalKey, tuple[ContestKey, Judgement, str]] = {}  # -> (contest, judgement, uid)
        self._by_contest: dict[ContestKey, dict[str, Judgement]] = {}  # -> Evaluation name -> judgement

    def observe(self, obj: Mapping[str, Any]) -> set[ContestKey]:
        """An Evaluation as the watch shows it (ADDED, MODIFIED, or listed): the contests it changed."""
        meta = obj["metadata"]
        contest = (meta.get("labels") or {}).get(CONTEST_LABEL)
        judgement = judgement_from_evaluation(obj, _ProblemNames()) if contest else None
        where = (meta["namespace"], contest) if judgement is not None else None
        return self._put((meta["namespace"], meta["name"]), where, judgement, meta.get("uid", ""))

    def forget(self, namespace: str, name: str, uid: str | None = None) -> set[ContestKey]:
        """Deleted (uid given: only that one, not an Evaluation created again under its name)."""
        held = self._held.get((namespace, name))
        if held is None or (uid is not None and held[2] != uid):
            return set()
        return self._put((namespace, name), None, None, "")

    def keep_only(self, keys: set[EvalKey], namespace: str | None = None) -> set[ContestKey]:
        """After a listing (of one namespace, or of all): forget what it no longer holds."""
        gone = [k for k in self._held if k not in keys and (namespace is None or k[0] == namespace)]
        changed: set[ContestKey] = set()
        for key in gone:
            changed |= self._put(key, None, None, "")
        return changed

    def judgements(self, contest: ContestKey) -> list[Judgement]:
        return list(self._by_contest.get(contest, {}).values())

    def contests(self) -> set[ContestKey]:
        return set(self._by_contest)

    def __len__(self) -> int:
        return len(self._held)

    def _put(self, key: EvalKey, contest: ContestKey | None, judgement: Judgement | None, uid: str) -> set[ContestKey]:
        old = self._held.get(key)
        if old is not None and old[0] == contest and same(old[1], judgement):
            if old[2] != uid:
                self._held[key] = (contest, judgement, uid)
            return set()
        changed: set[ContestKey] = set()
        if old is not None:
            del self._held[key]
            held = self._by_contest[old[0]]
            del held[key[1]]
            if not held:
                del self._by_contest[old[0]]
            changed.add(old[0])
        if contest is not None and judgement is not None:
            self._held[key] = (contest, judgement, uid)
            self._by_contest.setdefault(contest, {})[key[1]] = judgement
            changed.add(contest)
        return changed


def ranked(spec: ContestSpec, judgements: Iterable[Judgement], now: datetime) -> tuple[Standings, Standings]:
    """The public and the full (jury) standings of the judgements the Book holds for the contest: each
    Problem's name becomes the contest's label for it; Evaluations of other Problems do not count."""
    labels = {p.problem: p.label for p in spec.problems}
    mine = [replace(j, problem=labels[j.problem]) for j in judgements if j.problem in labels]
    return standings(spec, mine, now), standings(spec, mine, now, jury=True)


FILES = ("public.json", "public.html", "full.json", "full.html")
REFRESH_SECONDS = 30  # the HTML page reloads itself this often until the contest is over and thawed


def scoreboard_files(spec: ContestSpec, name: str, public: Standings, full: Standings) -> dict[str, tuple[bytes, str]]:
    """The four files: file name -> (content, content type). Only standings and names: no URL, no key."""
    title = spec.title or name
    done = contest_state(spec.window, public.now) == ContestState.OVER and not public.hides_after_freeze
    refresh = None if done else REFRESH_SECONDS
    out = {}
    for view, st in (("public", public), ("full", full)):
        out[f"{view}.json"] = (json.dumps(scoreboard_json(st), indent=1).encode(), "application/json")
        out[f"{view}.html"] = (scoreboard_html(st, title=title if view == "public" else f"{title} (jury)",
                                               refresh_seconds=refresh).encode(), "text/html; charset=utf-8")
    return out


def fingerprint(public: Standings, full: Standings) -> str:
    """What a callback reports changed: the rows and the state of both views, not the time they were made."""
    docs = [scoreboard_json(public), scoreboard_json(full)]
    return hashlib.sha256(json.dumps([[d["rows"], d["state"]] for d in docs], sort_keys=True).encode()).hexdigest()


def storage_of(spec: ContestSpec, namespace: str, name: str, settings) -> tuple[str, str, str | None]:
    """(bucket, prefix) of the contest's files, and why the namespace may not write there (tenancy.py,
    as for an Evaluation's results), or None."""
    bucket = spec.storage.bucket or settings.results_bucket_name
    prefix = (spec.storage.prefix or f"{namespace}/contests/{name}").strip("/")
    why = tenancy.storage_violation(settings.tenancy_for(namespace), namespace, settings.bucket,
                                    settings.results_bucket_name, [], (bucket, prefix))
    return bucket, prefix, why


def next_boundary(window: ContestWindow, now: datetime) -> datetime | None:
    """The next time the contest's state or public view changes by itself (start, freeze, end, thaw)."""
    return min((t for t in (window.start, window.freeze, window.end, window.thaw) if t is not None and t > now),
               default=None)


class Rebuilds:
    """Debounced rebuilds, one at a time per contest. `touch` says a contest changed; `run(key)` is
    called at most once per `delay` for it. Until `open()` (the first listing of Evaluations whole)
    changes are only noted: a rebuild from half a listing would publish wrong standings."""

    def __init__(self, delay: float, run: Callable[[ContestKey], Awaitable[None]], retry_seconds: float = 30.0):
        self.delay, self.run, self.retry_seconds = delay, run, retry_seconds
        self.opened = False
        self.runs = 0  # rebuilds started, all contests
        self._due: dict[ContestKey, asyncio.TimerHandle] = {}
        self._running: set[ContestKey] = set()
        self._again: dict[ContestKey, float] = {}  # changed while rebuilding: once more after it, this much later
        self._noted: set[ContestKey] = set()
        self._boundaries: dict[ContestKey, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task] = set()

    def touch(self, key: ContestKey, delay: float | None = None) -> None:
        if not self.opened:
            self._noted.add(key)
        elif key in self._running:
            self._again[key] = min(self._again.get(key, float("inf")), self.delay if delay is None else delay)
        elif key not in self._due:  # one is due already: this change is in it
            self._due[key] = asyncio.get_running_loop().call_later(self.delay if delay is None else delay,
                                                                   self._start, key)

    def touch_all(self, keys: Iterable[ContestKey]) -> None:
        for key in keys:
            self.touch(key)

    def open(self) -> None:
        if not self.opened:
            self.opened = True
            self.touch_all(self._noted)
            self._noted.clear()

    def at(self, key: ContestKey, seconds: float | None) -> None:
        """Rebuild once more `seconds` from now (a state boundary no judgement announces); None: no more."""
        if (old := self._boundaries.pop(key, None)) is not None:
            old.cancel()
        if seconds is not None:
            self._boundaries[key] = asyncio.get_running_loop().call_later(max(0.0, seconds), self.touch, key, 0.0)

    def forget(self, key: ContestKey) -> None:
        for handles in (self._due, self._boundaries):
            if (handle := handles.pop(key, None)) is not None:
                handle.cancel()
        self._again.pop(key, None)
        self._noted.discard(key)

    def close(self) -> None:
        for key in list(self._due) + list(self._boundaries):
            self.forget(key)
        for task in self._tasks:
            task.cancel()

    @property
    def pending(self) -> int:
        return len(self._due) + len(self._running)

    def _start(self, key: ContestKey) -> None:
        self._due.pop(key, None)
        self._running.add(key)
        self.runs += 1
        task = asyncio.get_running_loop().create_task(self._run(key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, key: ContestKey) -> None:
        failed = False
        try:
            await self.run(key)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - one contest's failure must not stop the others: said, tried again
            log.exception("rebuilding contest %s/%s failed; again in %.0f s", *key, self.retry_seconds)
            failed = True
        finally:
            self._running.discard(key)
        if failed:
            self._again[key] = min(self._again.get(key, float("inf")), self.retry_seconds)
        if key in self._again:
            self.touch(key, self._again.pop(key))
