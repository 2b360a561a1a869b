"""How far a judgement got, overwritten in storage while it works (task.progress: a presigned PUT
URL that lives in the task, which the submission cannot read, and in this process's memory).

The judging loop only notes where it is (`update`: O(1), no I/O, never waits on storage); a
thread of its own builds and writes the latest snapshot at most once every `task.progressSeconds`, and only
when it changed, so a judgement of many quick tests costs one small PUT every couple of seconds,
and a storage that hangs delays nothing but the next write. A write that fails is said once in the
log and tried again at the next change: progress is a courtesy, never a reason to fail."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from typing import Sequence

from gavel_contract import Progress, Stage, Task, TestResult
from gavel_contract.scoring import max_score, score_so_far

from . import storage

log = logging.getLogger("gavel.runner")
WRITE_TIMEOUT_S = 10


def snapshot(task: Task, stage: Stage, results: Sequence[TestResult], test: str | None = None,
             most: float | None = None) -> Progress:
    """The progress of `task` with `results` decided (pure: unit-tested)."""
    return Progress(stage=stage, judged=len(results), total=len(task.tests), test=test,
                    verdicts=dict(Counter(r.verdict for r in results)),
                    score=score_so_far(task.groups, task.tests, results),
                    maxScore=max_score(task.groups, task.tests) if most is None else most)


class Reporter:
    """Writes a task's progress from a thread of its own; `update` is all the judging loop calls."""

    def __init__(self, task: Task, put=None):
        self.task = task
        self.location = task.progress
        self.interval = task.progress_seconds
        self.most = max_score(task.groups, task.tests)
        self._put = put or (lambda data: storage.store(self.location, data, timeout=WRITE_TIMEOUT_S))
        self._state: tuple | None = None  # (stage, the results list, how many of it are decided, test)
        self._written: bytes | None = None
        self._changed = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._failed = False
        self.writes = 0
        self._thread = None
        if self.location:
            self._thread = threading.Thread(target=self._loop, name="progress", daemon=True)
            self._thread.start()

    def update(self, stage: Stage, results: Sequence[TestResult], test: str | None = None) -> None:
        if not self.location:
            return
        with self._lock:  # the results list only grows while judging: its first n are what was decided
            self._state = (stage, results, len(results), test)
        self._changed.set()

    def close(self, results: Sequence[TestResult] | None = None) -> None:
        """The thread stopped, and the last snapshot (stage done) written now, unless a write still
        hangs (the result matters, this does not: the operator takes the final count from it)."""
        if not self.location or self._stop.is_set():
            return  # (closed already: a judgement's end, then its context's exit)
        if results is not None:
            self.update(Stage.DONE, results)
        self._stop.set()
        self._changed.set()
        if self._thread is not None:
            self._thread.join(WRITE_TIMEOUT_S + 1)
            if self._thread.is_alive():
                return
        self._write()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._changed.wait()
            if self._stop.is_set():
                return
            self._changed.clear()
            self._write()
            self._stop.wait(self.interval)  # at most one write an interval

    def _write(self) -> None:
        with self._lock:
            state = self._state
        if state is None:
            return
        stage, results, n, test = state
        try:
            data = snapshot(self.task, stage, list(results[:n]), test, self.most).model_dump_json(
                by_alias=True, exclude_none=True).encode()
            if data == self._written:
                return
            self._put(data)
        except Exception as err:  # noqa: BLE001 - storage, or a snapshot the model refuses: never the verdict's concern
            if not self._failed:  # a StorageError names the object without its signature; others by type only
                why = str(err) if isinstance(err, storage.StorageError) else type(err).__name__
                log.warning("progress not written (tried again at the next change): %s", why)
            self._failed = True
            return
        self._written = data
        self.writes += 1
