"""Finished Evaluations: labelled, out of the operator's watch, and deleted a while after their
verdict.

Once an Evaluation is final the operator labels it `gavel.dev/finished`; its watch selects
`!gavel.dev/finished` on the API server, so kopf never lists or holds a finished Evaluation
again (memory and start-up scale with the Evaluations in flight, not with history).
With GAVEL_FINISHED_TTL_SECONDS, one task deletes finished Evaluations that long after their
verdict, as `ttlSecondsAfterFinished` does for Jobs: it pages through the labelled ones, so no
timer per object. Verdicts, outputs and logs stay in storage. Evaluations of a contest (label
`gavel.dev/contest`) are never deleted here: its scoreboard is made of them (contests.py); they go
when the platform deletes them."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from typing import Awaitable, Callable, Iterable

from .status import age_seconds

log = logging.getLogger("gavel.operator")

LABEL_FINISHED = "gavel.dev/finished"
WATCH_SELECTOR = f"!{LABEL_FINISHED}"  # what the operator's Evaluation watch asks for
SWEEP_SELECTOR = f"{LABEL_FINISHED},!gavel.dev/contest"  # what the TTL deletes (scoreboard.CONTEST_LABEL spared)
PAGE = 500


def expired(items: Iterable[dict], ttl_seconds: int, now: datetime) -> list[tuple[str, str]]:
    """(namespace, name) of the Evaluations whose status.finishedAt is ttl_seconds ago or more."""
    out = []
    for item in items:
        done = (item.get("status") or {}).get("finishedAt")
        if done and age_seconds(done, now) >= ttl_seconds:
            out.append((item["metadata"]["namespace"], item["metadata"]["name"]))
    return out


async def sweep_forever(get: Callable[..., Awaitable[dict]], delete: Callable[[str, str], Awaitable[None]],
                        list_paths: list[str], ttl_seconds: int) -> None:
    """get(path, **params) and delete(namespace, name) are the operator's API calls; list_paths
    are the Evaluation collections it serves (all namespaces, or each of GAVEL_NAMESPACES)."""
    interval = min(60.0, max(1.0, ttl_seconds / 2))
    while True:
        await asyncio.sleep(interval)
        for path in list_paths:
            token = ""
            try:
                while True:
                    params = {"labelSelector": SWEEP_SELECTOR, "limit": str(PAGE)}
                    if token:
                        params["continue"] = token
                    page = await get(path, **params)
                    for namespace, name in expired(page.get("items", []), ttl_seconds, datetime.now(timezone.utc)):
                        await delete(namespace, name)
                        log.info("deleted %s/%s: finished more than %d s ago", namespace, name, ttl_seconds)
                    token = (page.get("metadata") or {}).get("continue") or ""
                    if not token:
                        break
            except Exception as err:  # noqa: BLE001 - the next sweep tries again
                log.warning("retention sweep of %s stopped: %s", path, err)
