"""What every checker stands on: random access to a file or bytes (_Source), a cursor over a stream of
pieces, the first difference found (_Difference), and the comparison of two normalised byte streams
(_by_stream) that lines, tokens and kattis share."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from . import bounds

WHITESPACE = b" \t\r\v\f"  # what `lines` strips from the end of each line
BLANK = WHITESPACE + b"\n"  # bytes.split()'s whitespace, which separates tokens
_TRAILING_WS = re.compile(rb"[ \t\r\v\f]+\n")
_NON_BLANK = re.compile(rb"[^ \t\r\v\f\n]")
_BLANK_BYTE = re.compile(rb"[ \t\r\v\f\n]")
_TO_SPACE = bytes.maketrans(b"\t\n\r\v\f", b"     ")
# translate: whitespace -> " ", b"\n" kept, other -> "x"; then b" \n" marks a line end with whitespace to strip
_WS_MARKS = bytes(32 if i in WHITESPACE else i if i == 10 else ord("x") for i in range(256))
_MARKS = bytes(32 if i in BLANK else ord("x") for i in range(256))  # translate: blank -> " ", other -> "x"


@dataclass(frozen=True)
class Outcome:
    accepted: bool
    message: str  # the first difference, "" when accepted
    diff: str  # "" when accepted; else the message and a bounded excerpt of both files around it


def _show(token: bytes, limit: int = 60) -> str:
    text = token.decode("utf-8", "replace")
    return repr(text if len(text) <= limit else text[:limit] + "…")


class _Source:
    """Random access to an open file (pread: no buffering, no file position) or to bytes in memory."""

    def __init__(self, data: bytes | int):
        self._data = data  # bytes, or a file descriptor
        self.size = len(data) if isinstance(data, bytes) else os.fstat(data).st_size

    def read(self, offset: int, n: int) -> bytes:
        if isinstance(self._data, bytes):
            return self._data[offset:offset + n]
        return os.pread(self._data, n, offset)

    def chunks(self, size: int = 0, start: int = 0, end: int | None = None) -> Iterator[tuple[int, bytes]]:
        """(offset, piece) from start to end (default: the end of the source)."""
        size, offset = size or bounds.CHUNK, start
        while (n := size if end is None else min(size, end - offset)) > 0 and (piece := self.read(offset, n)):
            yield offset, piece
            offset += len(piece)


@contextmanager
def _opened(path: Path) -> Iterator[_Source]:
    fd = os.open(path, os.O_RDONLY)
    try:
        yield _Source(fd)
    finally:
        os.close(fd)


T = TypeVar("T", bytes, list)


class _Cursor(Generic[T]):
    """A position in a stream of pieces (bytes, or lists of tokens), taken a slice at a time."""

    def __init__(self, pieces: Iterator[T]):
        self._pieces, self._buf, self._at = pieces, None, 0

    def ahead(self) -> int:
        """How much of the current piece is left, after moving to the next one if need be; 0 at the end."""
        while self._buf is None or self._at == len(self._buf):
            if (piece := next(self._pieces, None)) is None:
                return 0
            self._buf, self._at = piece, 0
        return len(self._buf) - self._at

    def peek(self, n: int) -> T:
        return self._buf[self._at:self._at + n]

    def skip(self, n: int) -> None:
        self._at += n

    def rest(self) -> Iterator[T]:
        if self.ahead():
            yield self._buf[self._at:]
        yield from self._pieces


def _mismatch(a: bytes, b: bytes) -> int:
    """Index of the first differing byte, or the shorter length if one is a prefix of the other."""
    lo, hi = 0, min(len(a), len(b))
    if a[:hi] == b[:hi]:
        return hi
    while hi - lo > 64:  # a[:lo] == b[:lo]; the first difference is before hi
        mid = (lo + hi) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid
    return next(i for i in range(lo, hi) if a[i] != b[i])


@dataclass(frozen=True)
class _Difference:
    message: str
    index: int  # the line to show in both files, or with `tokens` the token whose line to show in each
    tokens: bool = False
    lines: tuple[int | None, int | None] | None = None  # else the line to show in (answer, output); None: none


def _nth(data: bytes, sub: bytes, k: int) -> int:
    """Where the k-th (1-based) occurrence of sub starts in data (sub cannot overlap itself), found by
    bisecting on bytes.count: ~20 scans in C rather than k calls of bytes.index."""
    lo, hi = len(sub), len(data)  # the shortest prefix holding k of them is data[:hi]
    while lo < hi:
        mid = (lo + hi) // 2
        if data.count(sub, 0, mid) >= k:
            hi = mid
        else:
            lo = mid + 1
    return hi - len(sub)


def _by_stream(out: _Source, ans: _Source, stream: Callable[[_Source], Iterator[bytes]], sep: bytes,
               noun: str, head: Callable[[_Source, int], bytes]) -> _Difference | None:
    """Compare two normalised streams whose fields (lines, tokens) are joined by sep."""
    got, want = _Cursor(stream(out)), _Cursor(stream(ans))
    seps = common = 0  # separators in, and length of, the common prefix
    while n := min(got.ahead(), want.ahead()):
        g, w = got.peek(n), want.peek(n)
        if differs := g != w:
            n = _mismatch(g, w)
        seps, common = seps + g.count(sep, 0, n), common + n
        got.skip(n)
        want.skip(n)
        if differs:
            break
    g, w = got.peek(1) if got.ahead() else b"", want.peek(1) if want.ahead() else b""
    if not g and not w:
        return None
    index = seps + 1
    if (g and w) or (common and sep not in (g, w)):  # field `index` is in both (one may be a prefix)
        return _Difference(f"{noun} {index}: expected {_show(head(ans, index))}, got {_show(head(out, index))}",
                           index, noun == "token")
    # one stream ended at the end of a field: count the fields of the other, whose next field is missing
    counts = [seps + sum(piece.count(sep) for piece in c.rest()) + (common > 0 or bool(x))
              for c, x in ((want, w), (got, g))]
    return _Difference(f"expected {counts[0]} {noun}s, got {counts[1]}", index + (common > 0), noun == "token")


def _folded(stream: Callable[[_Source], Iterator[bytes]]) -> Callable[[_Source], Iterator[bytes]]:
    return lambda src: map(bytes.lower, stream(src))
