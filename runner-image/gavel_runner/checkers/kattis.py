"""kattis: the problem package format's default output validator (problemtools' default_validator),
its flags each test's checkerArgs: tokens without case unless case_sensitive, whitespace byte for byte
with space_change_sensitive, numbers within float tolerances when given."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from gavel_contract.kattis import KattisFlags, c_double as _c_double, kattis_flags

from .base import BLANK, _by_stream, _Cursor, _Difference, _folded, _mismatch, _show, _Source
from .floats import _head, _token_batches
from .tokenwise import _token_head, _token_stream


def _kattis_close(got: bytes, want: bytes, flags: KattisFlags) -> bool | None:
    """Whether an output token matches a numeric answer token within the tolerances; None when the
    answer token is no number (then it is compared as a word)."""
    w = _c_double(want)
    if w is None:
        return None
    g = _c_double(got)
    if g is None:
        return False
    diff = abs(g - w)
    return ((flags.absolute is not None and diff <= flags.absolute)
            or (flags.relative is not None and diff <= flags.relative * abs(w)))


def _kattis_tokens(out: _Source, ans: _Source, flags: KattisFlags) -> _Difference | None:
    """Token by token with the float tolerances (words folded unless case_sensitive)."""
    fold = not flags.case_sensitive
    got, want = _Cursor(_token_batches(out)), _Cursor(_token_batches(ans))
    seen = 0
    while n := min(got.ahead(), want.ahead()):
        g, w = got.peek(n), want.peek(n)
        if g != w:
            for i, (x, y) in enumerate(zip(g, w), seen + 1):
                if x == y:
                    continue
                if type(x) is bytes and type(y) is bytes:
                    close = _kattis_close(x, y, flags)
                    if close or (close is None and fold and x.lower() == y.lower()):
                        continue
                    if close is False:
                        return _Difference(f"token {i}: expected {_show(y)}, got {_show(x)} (not within the "
                                           f"tolerance{_tolerances(flags)})", i, True)
                return _Difference(f"token {i}: expected {_show(_head(y))}, got {_show(_head(x))}", i, True)
        seen += n
        got.skip(n)
        want.skip(n)
    if got.ahead() or want.ahead():
        counts = [seen + sum(map(len, c.rest())) for c in (want, got)]
        return _Difference(f"expected {counts[0]} tokens, got {counts[1]}", seen + 1, True)
    return None


def _tolerances(flags: KattisFlags) -> str:
    words = ([f"absolute {flags.absolute:g}"] if flags.absolute is not None else []) + \
            ([f"relative {flags.relative:g}"] if flags.relative is not None else [])
    return ": " + " or ".join(words)


# translate: whitespace kept, anything else -> "x"; runs of "x" are then halved to one
_SPACE_MARKS = bytes(i if i in BLANK else ord("x") for i in range(256))


def _space_stream(src: _Source) -> Iterator[bytes]:
    """src with every token (run of non-whitespace) as one "x" and its whitespace as it is: two files
    agree on it exactly when their whitespace is the same byte for byte."""
    in_token = False
    for _, chunk in src.chunks():
        text = chunk.translate(_SPACE_MARKS)
        while b"xx" in text:
            text = text.replace(b"xx", b"x")
        if in_token and text[:1] == b"x":
            text = text[1:]
        in_token = chunk[-1:] not in (b"", b" ", b"\t", b"\n", b"\r", b"\v", b"\f")
        if text:
            yield text


def _space_change(out: _Source, ans: _Source) -> _Difference | None:
    """space_change_sensitive: the first line whose whitespace differs from the answer's."""
    got, want = _Cursor(_space_stream(out)), _Cursor(_space_stream(ans))
    lines = 1
    while n := min(got.ahead(), want.ahead()):
        g, w = got.peek(n), want.peek(n)
        if g != w:
            at = _mismatch(g, w)
            lines += g.count(b"\n", 0, at)
            return _Difference(f"line {lines}: the whitespace differs from the answer's (space_change_sensitive: "
                               f"expected {_whitespace(w[at:at + 1])}, got {_whitespace(g[at:at + 1])})", lines)
        lines += g.count(b"\n")
        got.skip(n)
        want.skip(n)
    if got.ahead() or want.ahead():
        g = got.peek(1) if got.ahead() else b""
        w = want.peek(1) if want.ahead() else b""
        return _Difference(f"line {lines}: the whitespace differs from the answer's (space_change_sensitive: "
                           f"expected {_whitespace(w)}, got {_whitespace(g)})", lines)
    return None


def _whitespace(mark: bytes) -> str:
    return {b"": "the end", b"x": "a token", b" ": "a space", b"\n": "a newline", b"\t": "a tab",
            b"\r": "a carriage return"}.get(mark, repr(mark.decode("latin-1")))


def _kattis(out: _Source, ans: _Source, args: Iterable[str]) -> _Difference | None:
    flags = kattis_flags(args)
    if flags.space_change_sensitive and (difference := _space_change(out, ans)):
        return difference
    if flags.floats:
        return _kattis_tokens(out, ans, flags)
    stream = _token_stream if flags.case_sensitive else _folded(_token_stream)
    return _by_stream(out, ans, stream, b" ", "token", _token_head)
