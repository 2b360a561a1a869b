"""float: tokens, numbers within absolute or relative epsilon; token batches (a token over LONG_TOKEN
bytes kept as a hash) shared with kattis and unordered."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from . import bounds
from .base import _BLANK_BYTE, BLANK, _Cursor, _Difference, _show, _Source
from .tokenwise import _token_head


@dataclass(frozen=True)
class _LongToken:
    """A token (or with unordered a line) over LONG_TOKEN bytes: never a number, so only its length,
    hash and head are kept."""
    size: int
    digest: bytes
    head: bytes = field(compare=False)  # the digest covers it


class _LongBuilder:
    def __init__(self, start: bytes, new_hash: Callable = hashlib.sha256):
        self.hash, self.size, self.head = new_hash(start), len(start), start[:bounds.HEAD]

    def add(self, piece: bytes) -> None:
        self.hash.update(piece)
        self.size += len(piece)
        if len(self.head) < bounds.HEAD:
            self.head += piece[:bounds.HEAD - len(self.head)]

    def token(self) -> _LongToken:
        return _LongToken(self.size, self.hash.digest(), self.head)


Token = bytes | _LongToken


def _token_batches(src: _Source, fold: bool = False, new_hash: Callable = hashlib.sha256) -> Iterator[list[Token]]:
    """The tokens of src (lower-cased with fold), a FLOAT_CHUNK's worth at a time; a token cut by a chunk
    boundary is carried over (as a _LongBuilder once it passes LONG_TOKEN bytes, so the carry stays
    bounded). A token is a _LongToken exactly when it is over LONG_TOKEN bytes, however it was cut."""
    carry, long = b"", None
    for _, chunk in src.chunks(bounds.FLOAT_CHUNK):
        if fold:
            chunk = chunk.lower()
        batch: list[Token] = []
        if long is not None:
            blank = _BLANK_BYTE.search(chunk)
            long.add(chunk[:blank.start()] if blank else chunk)
            if blank is None:
                continue
            batch, long, chunk = [long.token()], None, chunk[blank.start():]
        data = carry + chunk
        tokens = data.split()
        carry = tokens.pop() if tokens and data[-1] not in BLANK else b""
        if len(data) > bounds.LONG_TOKEN and tokens and max(map(len, tokens)) > bounds.LONG_TOKEN:
            tokens = [_LongBuilder(t, new_hash).token() if len(t) > bounds.LONG_TOKEN else t for t in tokens]
        if len(carry) > bounds.LONG_TOKEN:
            carry, long = b"", _LongBuilder(carry, new_hash)
        yield batch + tokens if batch else tokens
    if long is not None or carry:
        yield [long.token() if long is not None else carry]


def _close(got: bytes, want: bytes, epsilon: float) -> bool:
    try:
        g, w = float(got), float(want)
    except ValueError:
        return False
    if math.isnan(w) or math.isnan(g):
        return math.isnan(w) and math.isnan(g)
    if math.isinf(w) or math.isinf(g):
        return g == w
    diff = abs(g - w)
    # a little slack for the decimal rounding of epsilon itself
    return diff <= epsilon * (1 + 1e-9) or diff <= epsilon * abs(w) * (1 + 1e-9)


def _head(token: Token) -> bytes:
    return token.head if isinstance(token, _LongToken) else token


def _float(out: _Source, ans: _Source, epsilon: float, fold: bool = False) -> _Difference | None:
    """With fold, words are compared lower-cased (numbers are anyway: float() reads "1E5" and "INF")."""
    got, want = _Cursor(_token_batches(out, fold)), _Cursor(_token_batches(ans, fold))
    seen = 0
    while n := min(got.ahead(), want.ahead()):
        g, w = got.peek(n), want.peek(n)
        if g != w:  # list equality runs in C; only a batch with a difference is walked token by token
            for i, (x, y) in enumerate(zip(g, w), seen + 1):
                if x != y and not (type(x) is bytes and type(y) is bytes and _close(x, y, epsilon)):
                    if fold:  # the tokens are lower-cased: show the real ones
                        x, y = _token_head(out, i), _token_head(ans, i)
                    return _Difference(f"token {i}: expected {_show(_head(y))}, got {_show(_head(x))}", i, True)
        seen += n
        got.skip(n)
        want.skip(n)
    if got.ahead() or want.ahead():
        counts = [seen + sum(map(len, c.rest())) for c in (want, got)]
        return _Difference(f"expected {counts[0]} tokens, got {counts[1]}", seen + 1, True)
    return None
