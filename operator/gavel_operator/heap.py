"""The operator's heap under a burst: what CPython and glibc keep after a peak.

Measured with `make bench-memory` (10,000 Evaluations in flight): glibc gives each thread that
allocates an arena of its own (up to 8 per core; kopf's sync handlers and asyncio.to_thread run on
executor threads), and freed memory inside them stays resident; CPython frees its own objects but
glibc keeps the pages until a trim. Two arenas and a periodic trim keep the operator's RSS close to
what it holds."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import logging

log = logging.getLogger("gavel.operator")
M_ARENA_MAX = -8  # mallopt's parameter (malloc.h)
TRIM_SECONDS = 30.0


def _libc():
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
        return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None
    except OSError:
        return None


LIBC = _libc()  # None: not glibc (musl has neither call), and both steps are skipped


def limit_arenas(arenas: int = 2) -> bool:
    """At most `arenas` malloc arenas for the threads started after this (call it before any)."""
    return bool(LIBC and LIBC.mallopt(M_ARENA_MAX, arenas) == 1)


def trim() -> None:
    """Collect cycles, then give freed heap pages back to the kernel."""
    gc.collect()
    if LIBC:
        LIBC.malloc_trim(0)


async def trim_forever(seconds: float = TRIM_SECONDS) -> None:
    """trim() every `seconds`: a few ms each time, on the event loop (its heap is the one to trim)."""
    while True:
        await asyncio.sleep(seconds)
        try:
            trim()
        except Exception:  # never worth stopping the operator for
            log.exception("heap trim failed")
