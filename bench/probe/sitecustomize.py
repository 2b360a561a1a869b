"""A memory probe for the operator process under `make bench-scale` (BENCH_SCALE_PROBE=1): on the
PYTHONPATH of the operator only, so Python imports it at start. Every GAVEL_PROBE_SECONDS (default
20) a thread writes to GAVEL_PROBE_DIR/probe-PID-N.txt: the RSS, the live objects by type (gc), the
asyncio tasks by coroutine, and, with GAVEL_PROBE_TRACEMALLOC=FRAMES, the 40 biggest allocation
sites (tracemalloc, grouped by traceback; it slows the process).

What it found is in the README's scale section; it is not part of the operator."""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import threading
import time
import tracemalloc
from collections import Counter

DIR = os.environ.get("GAVEL_PROBE_DIR")
FRAMES = int(os.environ.get("GAVEL_PROBE_TRACEMALLOC", "0") or 0)
EVERY = float(os.environ.get("GAVEL_PROBE_SECONDS", "20"))
_LOOP: list = []


def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _task_name(task) -> str:
    coro = task.get_coro()
    frames = []
    while coro is not None and len(frames) < 4:
        frames.append(getattr(coro, "__qualname__", type(coro).__name__))
        coro = getattr(coro, "cr_await", None)
        if coro is not None and not hasattr(coro, "cr_await"):
            frames.append(type(coro).__name__)
            break
    return " > ".join(frames)


def _dump(n: int) -> None:
    lines = [f"t={time.time():.0f} rss_kib={_rss_kib()} gc_counts={gc.get_count()}"]
    if tracemalloc.is_tracing():
        current, peak = tracemalloc.get_traced_memory()
        lines.append(f"tracemalloc current {current >> 10} KiB, peak {peak >> 10} KiB")
    objs = gc.get_objects()
    by_type = Counter(type(o).__qualname__ for o in objs)
    lines.append(f"gc objects: {len(objs)}")
    lines += [f"  {c:8d} {t}" for t, c in by_type.most_common(40)]
    del objs
    loop = _LOOP[0] if _LOOP else None
    if loop is not None:
        try:
            tasks = list(asyncio.all_tasks(loop))
        except RuntimeError:
            tasks = []
        lines.append(f"asyncio tasks: {len(tasks)}")
        lines += [f"  {c:8d} {name}" for name, c in Counter(_task_name(t) for t in tasks).most_common(25)]
    if FRAMES and tracemalloc.is_tracing():
        snap = tracemalloc.take_snapshot()
        stats = snap.statistics("traceback")
        total = sum(s.size for s in stats)
        lines.append(f"tracemalloc: {total / 1024:.0f} KiB traced in {len(stats)} sites")
        for s in stats[:40]:
            lines.append(f"  {s.size / 1024:9.0f} KiB {s.count:8d} blocks")
            lines += [f"      {fr.filename.split('site-packages/')[-1]}:{fr.lineno}" for fr in s.traceback[:FRAMES]]
    with open(os.path.join(DIR, f"probe-{os.getpid()}-{n:03d}.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


def _run() -> None:
    n = 0
    while True:
        time.sleep(EVERY)
        try:
            _dump(n)
        except Exception as err:  # noqa: BLE001 - a probe never stops the process
            print(f"probe: {err!r}", file=sys.stderr)
        n += 1


def _remember_loop() -> None:
    original = asyncio.BaseEventLoop.run_forever

    def run_forever(self):
        _LOOP[:] = [self]
        return original(self)

    asyncio.BaseEventLoop.run_forever = run_forever


if DIR:
    os.makedirs(DIR, exist_ok=True)
    if FRAMES:
        tracemalloc.start(FRAMES)
    _remember_loop()
    threading.Thread(target=_run, name="gavel-probe", daemon=True).start()
