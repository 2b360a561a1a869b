"""The line of Evaluations waiting to be admitted: keys and uids in arrival order, never bodies.

The watch (dispatch.evaluation_event) only puts a new Evaluation in line and returns; `at_once`
tasks take them out and admit each from a fresh read of it (admission.admit_key). Before, each
handler waited for an admission slot itself: under a burst thousands of kopf's handler calls
waited at once, each with its event's parsed body, its stream, worker and handler state, and the
operator's heap grew with the backlog and stayed grown (pymalloc keeps an arena while any of its
pools is used). A key in line is a tuple; a body lives only while its admission runs.

A restart loses the line: it is rebuilt from the ledger (new Evaluations, and Pending ones that
have no Job yet) in creation order (dispatch.indexed).

Pure asyncio, no kopf: unit-tested (tests/unit/test_intake.py)."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Awaitable, Callable

Key = tuple[str, str]  # (namespace, name)
# admits one: None when done with it, else the seconds until it is tried again
Admit = Callable[[Key, str, int], Awaitable[float | None]]
ERROR_DELAYS = (1, 2, 5, 10, 30, 60)  # an admission that raised: tried again after these (then the last)

log = logging.getLogger("gavel.operator")


def error_delay(retry: int) -> int:
    return ERROR_DELAYS[min(retry, len(ERROR_DELAYS) - 1)]


class Intake:
    def __init__(self, admit: Admit, at_once: int, doing: str = "admitting"):
        self._admit = admit
        self._doing = doing  # what the log says it was doing when `admit` raised
        self._at_once = at_once  # 0: no bound, a task each (the baseline bench-memory measures)
        self._line: deque[tuple[Key, str, int]] = deque()
        self._held: set[str] = set()  # uids in line, being admitted, or waiting to be tried again
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        self._timers: set[asyncio.TimerHandle] = set()
        self.admitting = 0

    def __len__(self) -> int:
        """Evaluations in line or being admitted (not those waiting to be tried again)."""
        return len(self._line) + self.admitting

    def add(self, key: Key, uid: str) -> bool:
        """Put one in line unless it is already there (by uid: one created again under the same
        name is another Evaluation). False: it was."""
        if uid in self._held:
            return False
        self._held.add(uid)
        self._enqueue(key, uid, 0)
        return True

    def start(self) -> None:
        """The admitting tasks, started where they inherit the caller's context (kopf's, for its
        Events)."""
        if self._at_once and not self._tasks:
            for _ in range(self._at_once):
                self._spawn(self._work())

    def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for timer in list(self._timers):
            timer.cancel()

    def _enqueue(self, key: Key, uid: str, retry: int) -> None:
        if self._at_once:
            self._line.append((key, uid, retry))
            self._wake.set()
        else:
            self._spawn(self._one(key, uid, retry))

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _work(self) -> None:
        while True:
            while not self._line:
                self._wake.clear()
                await self._wake.wait()
            await self._one(*self._line.popleft())

    async def _one(self, key: Key, uid: str, retry: int) -> None:
        self.admitting += 1
        try:
            delay = await self._admit(key, uid, retry)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - admit says what it foresees; the line must keep moving
            delay = error_delay(retry)
            log.exception("%s %s/%s (try %d) failed; trying again in %d s", self._doing, *key, retry + 1, delay)
        finally:
            self.admitting -= 1
        if delay is None:
            self._held.discard(uid)
            return
        timer: asyncio.TimerHandle | None = None

        def again():
            self._timers.discard(timer)
            self._enqueue(key, uid, retry + 1)
        timer = asyncio.get_running_loop().call_later(delay, again)
        self._timers.add(timer)
