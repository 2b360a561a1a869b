"""Per-Evaluation locks (state.KeyLocks): one key's holder never waits for another key's."""

from __future__ import annotations

import asyncio

from gavel_operator.state import KeyLocks


def test_one_key_waits_for_itself_only_and_nothing_is_kept_after():
    locks = KeyLocks()
    order = []

    async def hold(key, tag, seconds):
        async with locks(key):
            order.append(f"{tag} in")
            await asyncio.sleep(seconds)
            order.append(f"{tag} out")

    async def main():
        await asyncio.gather(hold(("ns", "a"), "a1", 0.05), hold(("ns", "a"), "a2", 0), hold(("ns", "b"), "b", 0))

    asyncio.run(main())
    # b goes while a1 holds a's lock; a2 waits for a1
    assert order.index("b out") < order.index("a1 out") < order.index("a2 in"), order
    assert len(locks) == 0
