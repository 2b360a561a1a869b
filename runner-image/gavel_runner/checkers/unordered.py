"""order: unordered (lines, tokens): the same multiset of lines or tokens, in bounded memory, compared by
keyed fingerprints a submission cannot aim at."""

from __future__ import annotations

import hashlib
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from itertools import chain, compress, repeat
from operator import and_, eq, methodcaller, mul, rshift

from . import bounds
from .base import _Difference, _Source, _show
from .floats import Token, _LongBuilder, _LongToken, _token_batches
from .linewise import _line_head, _line_stream
from .tokenwise import _nth_token, _token_head


def _line_batches(src: _Source, fold: bool, new_hash: Callable) -> Iterator[list[Token]]:
    """The lines of src as `lines` sees them (_line_stream: right-stripped, trailing blank ones dropped),
    lower-cased with fold, a FLOAT_CHUNK's worth at a time; like _token_batches, a line over
    LONG_TOKEN bytes is a _LongToken (the carry of a cut line stays bounded)."""
    carry, long = b"", None
    for piece in _line_stream(src):
        for at in range(0, len(piece), bounds.FLOAT_CHUNK):
            part = piece[at:at + bounds.FLOAT_CHUNK]
            if fold:
                part = part.lower()
            batch: list[Token] = []
            if long is not None:
                if (cut := part.find(b"\n")) < 0:
                    long.add(part)
                    continue
                long.add(part[:cut])
                batch, long, part = [long.token()], None, part[cut + 1:]
            data = carry + part
            lines = data.split(b"\n")
            carry = lines.pop()  # the line the next part continues
            if len(data) > bounds.LONG_TOKEN and lines and max(map(len, lines)) > bounds.LONG_TOKEN:
                lines = [_LongBuilder(t, new_hash).token() if len(t) > bounds.LONG_TOKEN else t for t in lines]
            if len(carry) > bounds.LONG_TOKEN:
                carry, long = b"", _LongBuilder(carry, new_hash)
            if batch or lines:
                yield batch + lines if batch else lines
    if long is not None or carry:  # the stream ends with a non-blank line, if it has any
        yield [long.token() if long is not None else carry]


def _hash_is_secret() -> bool:
    """Whether Python's own hash() of bytes is SipHash keyed by a secret random to this process: so unless
    PYTHONHASHSEED fixed it (then it is public, and collisions could be searched for offline)."""
    seed = "" if sys.flags.ignore_environment else os.environ.get("PYTHONHASHSEED", "")
    return bool(sys.hash_info.algorithm.startswith("siphash") and sys.hash_info.cutoff == 0
                and sys.flags.hash_randomization and seed in ("", "random"))


_SIPHASH = _hash_is_secret()  # read at import: os.environ may be changed later for child processes


def _repetitive(batch: list[Token]) -> bool:
    """Whether a batch seems to repeat its items (half of its first 2048 do), so that going over its
    distinct ones is quicker."""
    return len(batch) > 4096 and len(set(batch[:2048])) < 1024


def _add(tally: Counter, keys: Iterable, counts: Iterable[int], few: bool) -> None:
    """tally[key] += count for each; in C unless there are few keys."""
    if few:
        for key, count in zip(keys, counts):
            tally[key] += count
    else:
        tally.update(chain.from_iterable(map(repeat, keys, counts)))


def _tally(tally: Counter, items: list[Token], f: Callable[[list[Token]], Iterable]) -> None:
    """tally.update(f(items)) for f mapping items one to one; on repetitive items, f maps each distinct one
    once."""
    if _repetitive(items):
        counts = Counter(items)
        _add(tally, f(list(counts)), counts.values(), len(counts) * 8 < len(items))
    else:
        tally.update(f(items))


class _Fingerprint:
    """A keyed 64-bit hash of items (bytes, or _LongTokens), with a key random to each comparison, so that
    a submission cannot craft two different multisets of lines with the same sum of hashes.

    An item's value is hash(key + item): SipHash-1-3, keyed by the process's random secret, of the item
    after this call's random 16-byte key; mapped over a batch in C it costs ~0.1 µs an item. When the
    process's hash is not secret (PYTHONHASHSEED set) it is a keyed BLAKE2b of the item instead, ~6x
    slower (a Python object per item). A long item is hashed as it is read, with the keyed BLAKE2b.
    Values are signed 64-bit integers. A batch whose first items repeat (say 64 MiB of "1 ") is
    hashed one distinct item at a time."""

    def __init__(self) -> None:
        self.key = os.urandom(16)
        self.new_long = partial(hashlib.blake2b, key=self.key, digest_size=8)
        if _SIPHASH:
            self._map = lambda batch: map(hash, map(self.key.__add__, batch))
        else:
            digest, number = methodcaller("digest"), partial(int.from_bytes, byteorder="big", signed=True)
            self._map = lambda batch: map(number, map(digest, map(self.new_long, batch)))

    def _value(self, item: Token) -> int:
        if isinstance(item, _LongToken):
            return int.from_bytes(item.digest, signed=True)
        return next(self._map([item]))

    def _values(self, items: list[Token]) -> list[int]:
        try:
            return list(self._map(items))
        except TypeError:  # a _LongToken among them (rare): item by item
            return list(map(self._value, items))

    def values(self, batch: list[Token]) -> list[int]:
        if _repetitive(batch):
            distinct = list(dict.fromkeys(batch))
            return list(map(dict(zip(distinct, self._values(distinct))).__getitem__, batch))
        return self._values(batch)

    def total(self, batch: list[Token]) -> int:
        if _repetitive(batch):
            counts = Counter(batch)
            return sum(map(mul, self._values(list(counts)), counts.values()))
        try:
            return sum(self._map(batch))
        except TypeError:
            return sum(map(self._value, batch))


def _unordered(out: _Source, ans: _Source, tokens: bool, fold: bool) -> _Difference | None:
    """Whether the output's lines (or tokens) are the answer's in some order, in bounded memory.

    Each file's items are summarised as their count and the sum of their keyed hashes (_Fingerprint): an
    order-independent fingerprint, equal for equal multisets, different otherwise but for a chance of
    about 2**-64 that nobody can steer (the key is random to the call). That is the verdict.

    On a difference, one more pass names an item whose count differs, counting items in a Counter with
    the first place of each: all of them in small files (EXACT_ITEMS, EXACT_BYTES), else those of one
    bucket of hash values (hash(item)'s top BUCKET_BITS bits, so ~1/8192 of the distinct items and of
    the bytes) whose counts differ, found by a pass counting the items of each bucket (and in the ~1/8192
    case where the differing items share their buckets, one more by the low bits). Memory holds a
    FLOAT_CHUNK's worth of items and a few thousand counters; time is ~0.1-0.3 µs an item a pass.
    Where the named item first is gives its real bytes (fold lower-cases them) and the lines to show."""
    noun = "token" if tokens else "line"
    fp = _Fingerprint()

    def batches(src: _Source) -> Iterator[list[Token]]:
        return (_token_batches if tokens else _line_batches)(src, fold, fp.new_long)

    summaries = []
    for src in (ans, out):
        n = total = 0
        for batch in batches(src):
            n, total = n + len(batch), total + fp.total(batch)
        summaries.append((n, total))
    if summaries[0] == summaries[1]:
        return None
    (want_n, _), (got_n, _) = summaries
    counts = f"expected {want_n} {noun}s, got {got_n}" if want_n != got_n else ""

    # buckets need a hash a submission cannot aim at: Python's own when its key is secret (faster: no copy)
    keys: Callable[[list[Token]], Iterable[int]] = partial(map, hash) if _SIPHASH else fp.values

    def odd_bucket(bucket_of: Callable[[Iterable[int]], Iterator[int]]) -> int | None:
        """The first bucket whose item counts differ."""
        want, got = Counter(), Counter()
        for src, tally in ((ans, want), (out, got)):
            for batch in batches(src):
                _tally(tally, batch, lambda items: bucket_of(keys(items)))
        return min((r for r in want.keys() | got.keys() if want[r] != got[r]), default=None)

    select: Callable[[list[Token]], Iterator[Token]] | None = None  # which items to count: all, or a bucket's
    if max(want_n, got_n) > bounds.EXACT_ITEMS or ans.size + out.size > bounds.EXACT_BYTES:
        shift, mask = 64 - bounds.BUCKET_BITS, (1 << bounds.BUCKET_BITS) - 1  # a bucket: a hash's top bits, or its low bits
        if (top := odd_bucket(lambda hashes: map(rshift, hashes, repeat(shift)))) is not None:
            in_top = range(top << shift, (top + 1) << shift).__contains__
            select = lambda batch: compress(batch, map(in_top, keys(batch)))  # noqa: E731
        elif (low := odd_bucket(lambda hashes: map(and_, hashes, repeat(mask)))) is not None:
            select = lambda batch: compress(batch, map(eq, map(and_, keys(batch), repeat(mask)), repeat(low)))  # noqa: E731
        else:  # the differing items share both their buckets: a chance of ~2**-26 for one pair
            return _Difference((counts or f"the {noun}s differ") + f" (not the answer's {noun}s in some order)",
                               1, tokens)
    tallies: list[Counter] = []
    firsts: list[dict[Token, int]] = []  # item -> the index of its first occurrence
    for src in (ans, out):
        tally, first, seen = Counter(), {}, 0
        for batch in batches(src):
            if select is None:
                tally.update(batch)
                if len(first) < len(tally):  # new items: where they first are, in C (earlier batches win)
                    places = dict(zip(reversed(batch), range(seen + len(batch), seen, -1)))
                    places.update(first)
                    first = places
            else:
                if _repetitive(batch):  # each distinct item once, as _tally
                    repeats = Counter(batch)
                    chosen = list(select(list(repeats)))
                    _add(tally, chosen, map(repeats.__getitem__, chosen), len(chosen) * 8 < len(batch))
                else:
                    chosen = list(select(batch))
                    tally.update(chosen)
                if len(first) < len(tally):
                    for item in set(chosen).difference(first):
                        first[item] = seen + batch.index(item) + 1
            seen += len(batch)
        tallies.append(tally)
        firsts.append(first)
    (want, got), (want_at, got_at) = tallies, firsts
    if missing := [item for item, n in want.items() if n > got[item]]:  # name the first missing item,
        item = min(missing, key=want_at.__getitem__)
        src, index = ans, want_at[item]
    else:  # else the first extra one
        item = min((item for item, n in got.items() if n > want[item]), key=got_at.__getitem__)
        src, index = out, got_at[item]
    times = want[item]
    message = (f"{noun} {_show(_token_head(src, index) if tokens else _line_head(src, index))} appears "
               f"{times} time{'' if times == 1 else 's'} in the answer, {got[item]} in the output")
    line = _nth_token(src, index)[1] if tokens else index
    return _Difference(f"{counts}: {message}" if counts else message, index, tokens,
                       (line, None) if src is ans else (None, line))
