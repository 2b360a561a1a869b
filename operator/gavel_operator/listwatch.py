"""A list-then-watch of one collection, for what kopf's one watch per resource kind cannot give.

kopf watches Evaluations with `!gavel.dev/finished` (retention.py): a judged Evaluation leaves that
watch, yet a contest's scoreboard is made of judged Evaluations. So the contests' Evaluations
(label selector `gavel.dev/contest`) are followed by one watch of their own, per operator (per
namespace served), not per Contest: listed once in pages, then watched from the listing's
resourceVersion, listed again only when the watch is too old (410 Gone) or broken, as client-go's
reflector does. Events of other Evaluations never reach it: the API server filters them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from .kube import ApiError

log = logging.getLogger("gavel.operator")

PAGE = 500
WATCH_SECONDS = 300  # the API server ends each watch after this long; it is made again from where it was


class Gone(Exception):
    """The resourceVersion is too old to watch from: list again."""


async def list_all(get: Callable[..., Awaitable[dict]], path: str, selector: str,
                   each: Callable[[dict], Any]) -> tuple[set[tuple[str, str]], str]:
    """Every object (each(obj) as it comes, page by page: no listing is held whole), the (namespace,
    name) keys seen, and the resourceVersion to watch from."""
    seen: set[tuple[str, str]] = set()
    token, version = "", ""
    while True:
        params = {"labelSelector": selector, "limit": str(PAGE), **({"continue": token} if token else {})}
        page = await get(path, **params)
        for obj in page.get("items") or []:
            meta = obj["metadata"]
            seen.add((meta.get("namespace", ""), meta["name"]))
            each(obj)
        meta = page.get("metadata") or {}
        version = version or meta.get("resourceVersion", "")  # the first page's: the listing's snapshot
        token = meta.get("continue") or ""
        if not token:
            return seen, version


async def watch_from(stream: Callable[..., AsyncIterator[dict]], path: str, selector: str, version: str,
                     changed: Callable[[str, dict], Any], seconds: int = WATCH_SECONDS) -> str:
    """Events from `version` on, until the API server ends the watch; the resourceVersion reached."""
    async for event in stream(path, labelSelector=selector, resourceVersion=version, allowWatchBookmarks="true",
                              timeoutSeconds=str(seconds)):
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise Gone(obj.get("message", ""))
            raise ApiError(obj.get("code") or 500, obj.get("message", "watch error"))
        version = (obj.get("metadata") or {}).get("resourceVersion") or version
        if kind != "BOOKMARK":
            changed(kind, obj)
    return version


async def follow(get: Callable[..., Awaitable[dict]], stream: Callable[..., AsyncIterator[dict]], path: str,
                 selector: str, *, each: Callable[[dict], Any], listed: Callable[[set], Any],
                 changed: Callable[[str, dict], Any], retry_seconds: float = 5.0) -> None:
    """For ever: list (each(obj), then listed(keys seen): what is not among them is gone), then
    watch (changed(type, obj)); listed again after a 410 at once, after any other failure a little
    later. get and stream are the operator's API calls (Kube.get, Kube.watch)."""
    while True:
        try:
            keys, version = await list_all(get, path, selector, each)
            listed(keys)
            while True:
                version = await watch_from(stream, path, selector, version, changed)
        except asyncio.CancelledError:
            raise
        except Gone:
            continue
        except Exception as err:  # noqa: BLE001 - unreachable or refused: said, and listed again
            log.warning("watch of %s (%s) stopped: %s; listing again in %.0f s", path, selector, err, retry_seconds)
            await asyncio.sleep(retry_seconds)
