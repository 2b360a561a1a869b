"""The operator's heap steps (heap.py) and what it keeps out of its process (__main__.prepare)."""

import asyncio
import subprocess
import sys

from gavel_operator import heap


def test_trim_runs_and_arenas_are_limited_on_glibc():
    heap.trim()  # collects and trims without error, glibc or not
    if heap.LIBC is not None:
        assert heap.limit_arenas(2)


def test_trim_forever_trims_until_cancelled(monkeypatch):
    calls = []
    monkeypatch.setattr(heap, "trim", lambda: calls.append(1))

    async def run():
        task = asyncio.create_task(heap.trim_forever(0.01))
        await asyncio.sleep(0.1)
        task.cancel()

    asyncio.run(run())
    assert len(calls) >= 2


def test_the_official_client_stays_out_of_the_operator():
    code = ("import sys; from gavel_operator.__main__ import prepare; "
            "from gavel_operator.settings import Settings; prepare(Settings()); import kopf; "
            "import gavel_operator.handlers; print(sorted(m for m in sys.modules if m.startswith('kubernetes')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['kubernetes']"  # the blocked name only, no module loaded
