"""Claims of results prefixes (objectstore.PrefixLocks): siblings at once, nested ones one at a time."""

from __future__ import annotations

import threading
import time

from gavel_operator.objectstore import PrefixLocks


def held_while(locks: PrefixLocks, first: str, second: str) -> bool:
    """Whether a claim of `second` gets its lock while a claim of `first` holds its own."""
    got = threading.Event()

    def claim() -> None:
        with locks.hold("b", second):
            got.set()

    with locks.hold("b", first):
        t = threading.Thread(target=claim, daemon=True)
        t.start()
        overlapped = got.wait(0.3)
    t.join(5)
    assert got.is_set()  # it gets it once the first is let go, whichever way
    return overlapped


def test_siblings_are_claimed_at_once():
    assert held_while(PrefixLocks(), "ns/a/u1", "ns/b/u2")


def test_the_same_prefix_and_nested_ones_wait():
    assert not held_while(PrefixLocks(), "ns/a/u1", "ns/a/u1")
    assert not held_while(PrefixLocks(), "ns/a/u1", "ns")  # around it: waits for those inside
    assert not held_while(PrefixLocks(), "ns", "ns/a/u1")  # inside it
    assert not held_while(PrefixLocks(), "ns/a", "ns/a/u1")


def test_other_buckets_do_not_wait():
    locks = PrefixLocks()
    with locks.hold("one", "ns"):
        start = time.monotonic()
        with locks.hold("two", "ns/a"):
            pass
        assert time.monotonic() - start < 0.2


def test_let_go_leaves_nothing():
    locks = PrefixLocks()
    with locks.hold("b", "ns/a/u1"), locks.hold("b", "ns/b/u2"):
        pass
    assert not locks._alone and not locks._shared
