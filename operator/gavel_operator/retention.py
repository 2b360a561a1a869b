"""Finished Evaluations deleted a while after their verdict (GAVEL_FINISHED_TTL_SECONDS), as
`ttlSecondsAfterFinished` does for Jobs: etcd and the operator's memory (kopf lists every
Evaluation at start) stay bounded. The verdict and outputs stay in storage. One task for all,
reading kopf's index: no per-object timers."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from typing import Awaitable, Callable

log = logging.getLogger("gavel.operator")


def expired(index, ttl_seconds: int, final: set[str], now: datetime) -> list[tuple[str, str]]:
    """Keys of final Evaluations whose finishedAt is more than ttl_seconds ago."""
    out = []
    for key, values in (index.items() if index is not None else ()):
        for v in values:
            done = v.get("finishedAt")
            if v["phase"] in final and done:
                age = (now - datetime.fromisoformat(done.replace("Z", "+00:00"))).total_seconds()
                if age >= ttl_seconds:
                    out.append(key)
    return out


async def sweep_forever(get_index: Callable, ttl_seconds: int, final: set[str],
                        delete: Callable[[str, str], Awaitable[None]]) -> None:
    interval = min(60.0, max(1.0, ttl_seconds / 2))
    while True:
        await asyncio.sleep(interval)
        for namespace, name in expired(get_index(), ttl_seconds, final, datetime.now(timezone.utc)):
            try:
                await delete(namespace, name)
                log.info("deleted %s/%s: finished more than %d s ago", namespace, name, ttl_seconds)
            except Exception as err:  # noqa: BLE001 - the next sweep tries again
                log.warning("cannot delete %s/%s after its TTL: %s", namespace, name, err)
