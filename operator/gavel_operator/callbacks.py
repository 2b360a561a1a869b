"""Callbacks: when an Evaluation with spec.callbackUrl is final, its result is POSTed as JSON,
retried with back-off. One worker for the whole operator (per-resource timers do not scale);
a failed callback becomes a condition, never a lost verdict. An Evaluation stays in the
operator's watch until its callback's outcome is a condition, so after a restart the watch's
initial listing brings every undelivered callback back."""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections import OrderedDict

import aiohttp

from .resources import API_VERSION

log = logging.getLogger("gavel.callbacks")
FINAL = {"Succeeded", "Failed", "Canceled"}

_heap: list[tuple[float, str]] = []
_bodies: dict[str, dict] = {}  # uid -> latest body
_attempts: dict[str, int] = {}
_done: OrderedDict[str, None] = OrderedDict()  # delivered or given up; the newest DONE_KEPT are enough
DONE_KEPT = 10_000  # (an Evaluation with its CallbackDelivered condition leaves the watch soon after)
_wake: asyncio.Event | None = None
_task: asyncio.Task | None = None
_state = None


def start(state) -> None:
    global _wake, _task, _state
    _state, _wake = state, asyncio.Event()
    _task = asyncio.get_running_loop().create_task(_worker())


async def stop() -> None:
    if _task:
        _task.cancel()


def consider(body) -> None:
    """Called on every Evaluation event: schedule its callback when it is due."""
    status = body.get("status") or {}
    url = (body.get("spec") or {}).get("callbackUrl")
    uid = body["metadata"]["uid"]
    if not url or status.get("phase") not in FINAL or uid in _done:
        return
    if recorded(body):
        _remember(uid)
        return
    first = uid not in _bodies
    _bodies[uid] = body
    if first:
        heapq.heappush(_heap, (time.monotonic(), uid))
        if _wake:
            _wake.set()


def recorded(body) -> bool:
    """The callback's outcome is a condition already (CallbackDelivered, true or false)."""
    return any(c.get("type") == "CallbackDelivered" for c in (body.get("status") or {}).get("conditions") or [])


def settled(body) -> bool:
    """No callback, or its outcome recorded: the Evaluation may leave the operator's watch.
    Until then a restart must list it to deliver the callback."""
    return not (body.get("spec") or {}).get("callbackUrl") or recorded(body)


def _remember(uid: str) -> None:
    _done[uid] = None
    while len(_done) > DONE_KEPT:
        _done.popitem(last=False)


def payload(body) -> dict:
    meta = body["metadata"]
    return {"apiVersion": API_VERSION, "kind": "EvaluationResult",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"],
                         "labels": meta.get("labels") or {}},
            "spec": {k: body["spec"].get(k) for k in ("language", "version", "submission", "queue")},
            "status": body.get("status") or {}}


async def _worker() -> None:
    async with aiohttp.ClientSession() as session:
        while True:
            if not _heap:
                _wake.clear()
                await _wake.wait()
                continue
            due, uid = _heap[0]
            delay = due - time.monotonic()
            if delay > 0:
                _wake.clear()
                try:
                    await asyncio.wait_for(_wake.wait(), timeout=delay)
                except asyncio.TimeoutError:
                    pass
                continue
            heapq.heappop(_heap)
            try:
                await _deliver(session, uid)
            except Exception:  # noqa: BLE001 - the worker must outlive any one callback
                log.exception("callback of %s failed unexpectedly", uid)


async def _deliver(session: aiohttp.ClientSession, uid: str) -> None:
    from .handlers import patch_status
    from .status import condition, with_condition

    body = _bodies[uid]
    meta, url = body["metadata"], body["spec"]["callbackUrl"]
    settings = _state.settings
    attempt = _attempts.get(uid, 0) + 1
    try:
        async with session.post(url, json=payload(body),
                                timeout=aiohttp.ClientTimeout(total=settings.callback_timeout_seconds)) as resp:
            if resp.status >= 300:
                raise RuntimeError(f"HTTP {resp.status}")
        cond = condition("CallbackDelivered", True, "Delivered", f"POST {url}: attempt {attempt}")
    except Exception as err:  # noqa: BLE001 - whatever the receiver did, it is reported, not raised
        if attempt <= settings.callback_retries:
            _attempts[uid] = attempt
            backoff = min(300.0, 2.0 ** attempt)
            log.info("callback of %s/%s failed (%s); retry in %.0fs", meta["namespace"], meta["name"], err, backoff)
            heapq.heappush(_heap, (time.monotonic() + backoff, uid))
            return
        cond = condition("CallbackDelivered", False, "CallbackFailed", f"POST {url}: {attempt} attempts, last: {err}")
    _remember(uid)
    _bodies.pop(uid, None)
    _attempts.pop(uid, None)
    conditions = with_condition((body.get("status") or {}).get("conditions"), cond)
    await patch_status(meta["namespace"], meta["name"], {"conditions": conditions})
