"""Built-in output checkers (exact, lines, tokens, float:EPS), streaming over the output and answer files.

An output may be as large as outputKb (64 MiB), so no file is ever read whole or split into a list
(64 MiB of short lines as a list of bytes took 1.4 GiB): both files are read in CHUNK pieces.
`lines` and `tokens` turn each file into a normalised byte stream (lines: b"\\n".join of the
right-stripped lines without the trailing blank ones; tokens: b" ".join of the tokens) and compare the
two streams; `float` compares token by token; `exact` compares raw chunks. The message names the
first difference as the old whole-file checkers did; the diff is a unified diff of a few lines
around it (second streaming passes find those lines).

Worst-case memory, whatever the input (a single 64 MiB line, 64 MiB of whitespace or of b"\\n", 64 MiB
of 1-byte tokens): a few CHUNKs per file for exact, lines and tokens (a chunk and its normalised
copies; a held-back blank run is kept as a newline count and a file span, re-read if it turns out to
matter); for float and unordered, a FLOAT_CHUNK's tokens (or lines) as a list plus one carried fragment
of at most LONG_TOKEN bytes, and for unordered a few thousand counters. Nothing grows with the output:
at most ~11 MiB above the interpreter's own with the defaults, measured at the 64 MiB cap by
tests/integration/test_checker_memory.py (unordered: tests/unit/test_checkers_more.py).

One deliberate difference from the old checkers: float treats a token longer than LONG_TOKEN (1 MiB)
as a word, never a number (it is kept as a SHA-256 and compared for equality only), so a "number"
with a megabyte of digits no longer gets the epsilon tolerance.

Options (DMOJ's checkers offer the same): `ignore_case` (lines, tokens, float's words) compares
letters without ASCII case (bytes.lower(): A-Z only, so "É" and "é" still differ); messages and the
excerpt show the real bytes. `order: unordered` (lines, tokens) accepts the answer's lines or tokens in
any order, i.e. the same multiset; see _unordered for how that stays in bounded memory. `exact` says when
the bytes differ only in whitespace (DMOJ's presentation error); the verdict is still a wrong answer.
validate() refuses options a checker cannot honour.
"""

from __future__ import annotations

import difflib
import hashlib
import math
import os
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from itertools import chain, compress, repeat
from operator import and_, eq, methodcaller, mul, rshift
from pathlib import Path
from typing import Generic, TypeVar

from gavel_contract import Checker, CheckerKind, Order
from gavel_contract.kattis import KattisFlags, c_double as _c_double, kattis_flags

CHUNK = 1 << 20  # bytes read at a time (tests shrink it to put chunk boundaries everywhere)
FLOAT_CHUNK = 256 << 10  # float and unordered split a chunk into a list of items: smaller keeps that list small
LONG_TOKEN = 1 << 20  # float: a longer token cannot be a number and is kept as a hash
HEAD = 256  # bytes kept of a line or token for a message: _show's 60 characters need at most 4*61+3
CONTEXT = 3  # lines of the excerpt before and after the first difference
ROW_CHARS = 200  # an excerpt line is cut to this many characters
ROW_HEAD = 4 * ROW_CHARS + 4  # bytes kept of an excerpt line
MAX_DIFF = 16 << 10  # the whole excerpt, in bytes
EXACT_ITEMS = 8192  # unordered, naming an item: up to this many items per file, and
EXACT_BYTES = 4 << 20  # this many bytes in both files, all are counted; else those of one bucket
BUCKET_BITS = 13  # of 2**13 buckets (by the items' hashes), so ~1/8192 of the items

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
        size, offset = size or CHUNK, start
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


# --- exact -------------------------------------------------------------------------------------------

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


def _exact(out: _Source, ans: _Source) -> _Difference | None:
    offset = newlines = 0
    while True:
        got, want = out.read(offset, CHUNK), ans.read(offset, CHUNK)
        if got == want:
            if not got:
                return None
            newlines += got.count(b"\n")
            offset += len(got)
            continue
        at = _mismatch(got, want)
        line = newlines + got.count(b"\n", 0, at) + 1
        return _Difference(f"byte {offset + at} (line {line}) differs: "
                           f"output has {out.size} bytes, answer {ans.size}", line)


# --- lines and tokens: normalised streams --------------------------------------------------------------

def _newlines(n: int) -> Iterator[bytes]:
    while n > 0:
        yield b"\n" * min(n, CHUNK)
        n -= CHUNK


def _strip_line_ends(body: bytes) -> Iterator[bytes]:
    """body without the whitespace before each line end (body does not end in whitespace)."""
    if b"\r\n" in body:
        body = body.replace(b"\r\n", b"\n")
    if b" \n" not in body.translate(_WS_MARKS):  # the common case: one C pass, no regex
        yield body
        return
    start = 0  # re.sub keeps a list of all its pieces: feed it slices ending at line ends, to bound that list
    while start < len(body):
        end = body.find(b"\n", start + (64 << 10)) + 1 or len(body)
        yield _TRAILING_WS.sub(b"\n", body[start:end])
        start = end


def _line_stream(src: _Source, start: int = 0) -> Iterator[bytes]:
    """src from `start` as `lines` sees it: b"\\n".join(right-stripped lines, trailing blank ones dropped).

    The blank run at the end of what has been read ([ \\t\\r\\v\\f\\n]*) is held back, since it only
    counts if something non-blank follows; it is held as its newline count plus the file span of the
    whitespace after its last newline (re-read when needed), so a 64 MiB blank run costs nothing."""
    newlines, ws_start = 0, start
    for offset, chunk in src.chunks(start=start):
        end = len(chunk.rstrip(BLANK))
        if not end:
            if n := chunk.count(b"\n"):
                newlines, ws_start = newlines + n, offset + chunk.rindex(b"\n") + 1
            continue
        # the held-back run and this chunk's leading blanks are followed by text: they count now
        lead = _NON_BLANK.search(chunk).start()
        if (nl := chunk.rfind(b"\n", 0, lead)) >= 0:
            yield from _newlines(newlines + chunk.count(b"\n", 0, lead))
            yield chunk[nl + 1:lead]
        else:
            yield from _newlines(newlines)
            yield from (piece for _, piece in src.chunks(start=ws_start, end=offset))
            yield chunk[:lead]
        yield from _strip_line_ends(chunk[lead:end])
        newlines = chunk.count(b"\n", end)
        ws_start = offset + (chunk.rindex(b"\n") + 1 if newlines else end)


def _token_stream(src: _Source, start: int = 0) -> Iterator[bytes]:
    """src from `start` as `tokens` sees it: b" ".join(data.split())."""
    started = separated = False
    for _, chunk in src.chunks(start=start):
        text = chunk.translate(_TO_SPACE)
        while b"  " in text:  # halves every run of spaces: log2(run) passes in C
            text = text.replace(b"  ", b" ")
        if body := text.strip(b" "):
            if started and (separated or text[0] == 32):
                yield b" "
            yield body
            started, separated = True, text[-1] == 32
        else:
            separated = True


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


def _nth_line(src: _Source, n: int) -> int | None:
    """Offset where line n (1-based) starts, None if src has fewer newlines than n - 1."""
    if (need := n - 1) <= 0:
        return 0
    for offset, chunk in src.chunks():
        if (count := chunk.count(b"\n")) < need:
            need -= count
            continue
        return offset + _nth(chunk, b"\n", need) + 1
    return None


def _nth_token(src: _Source, n: int) -> tuple[int | None, int]:
    """(offset, line) where token n (1-based) starts; (None, line of the last token) if there are fewer."""
    seen = newlines = 0
    line, before = 1, b" "
    for offset, chunk in src.chunks():
        marks = before + chunk.translate(_MARKS)  # marks[k:k+2] == b" x": a token starts at chunk[k]
        starts = marks.count(b" x")
        if seen + starts >= n:
            at = _nth(marks, b" x", n - seen)
            return offset + at, newlines + chunk.count(b"\n", 0, at) + 1
        if starts:
            line = newlines + chunk.count(b"\n", 0, marks.rfind(b" x")) + 1
        seen, newlines, before = seen + starts, newlines + chunk.count(b"\n"), marks[-1:]
    return None, line


def _line_head(src: _Source, n: int) -> bytes:
    """The first HEAD bytes of line n, right-stripped."""
    head = b""
    for piece in _line_stream(src, _nth_line(src, n) or 0):
        cut = piece.find(b"\n")
        head += piece[:min(HEAD - len(head), len(piece) if cut < 0 else cut)]
        if cut >= 0 or len(head) >= HEAD:
            break
    return head


def _token_head(src: _Source, n: int) -> bytes:
    """The first HEAD bytes of token n."""
    offset, _ = _nth_token(src, n)
    return src.read(offset, HEAD).split(None, 1)[0] if offset is not None else b""


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


# --- float -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _LongToken:
    """A token (or with unordered a line) over LONG_TOKEN bytes: never a number, so only its length,
    hash and head are kept."""
    size: int
    digest: bytes
    head: bytes = field(compare=False)  # the digest covers it


class _LongBuilder:
    def __init__(self, start: bytes, new_hash: Callable = hashlib.sha256):
        self.hash, self.size, self.head = new_hash(start), len(start), start[:HEAD]

    def add(self, piece: bytes) -> None:
        self.hash.update(piece)
        self.size += len(piece)
        if len(self.head) < HEAD:
            self.head += piece[:HEAD - len(self.head)]

    def token(self) -> _LongToken:
        return _LongToken(self.size, self.hash.digest(), self.head)


Token = bytes | _LongToken


def _token_batches(src: _Source, fold: bool = False, new_hash: Callable = hashlib.sha256) -> Iterator[list[Token]]:
    """The tokens of src (lower-cased with fold), a FLOAT_CHUNK's worth at a time; a token cut by a chunk
    boundary is carried over (as a _LongBuilder once it passes LONG_TOKEN bytes, so the carry stays
    bounded). A token is a _LongToken exactly when it is over LONG_TOKEN bytes, however it was cut."""
    carry, long = b"", None
    for _, chunk in src.chunks(FLOAT_CHUNK):
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
        if len(data) > LONG_TOKEN and tokens and max(map(len, tokens)) > LONG_TOKEN:
            tokens = [_LongBuilder(t, new_hash).token() if len(t) > LONG_TOKEN else t for t in tokens]
        if len(carry) > LONG_TOKEN:
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


# --- kattis: the problem package format's default output validator -----------------------------------

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


# --- unordered: the same multiset of lines or tokens ------------------------------------------------

def _line_batches(src: _Source, fold: bool, new_hash: Callable) -> Iterator[list[Token]]:
    """The lines of src as `lines` sees them (_line_stream: right-stripped, trailing blank ones dropped),
    lower-cased with fold, a FLOAT_CHUNK's worth at a time; like _token_batches, a line over
    LONG_TOKEN bytes is a _LongToken (the carry of a cut line stays bounded)."""
    carry, long = b"", None
    for piece in _line_stream(src):
        for at in range(0, len(piece), FLOAT_CHUNK):
            part = piece[at:at + FLOAT_CHUNK]
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
            if len(data) > LONG_TOKEN and lines and max(map(len, lines)) > LONG_TOKEN:
                lines = [_LongBuilder(t, new_hash).token() if len(t) > LONG_TOKEN else t for t in lines]
            if len(carry) > LONG_TOKEN:
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
    if max(want_n, got_n) > EXACT_ITEMS or ans.size + out.size > EXACT_BYTES:
        shift, mask = 64 - BUCKET_BITS, (1 << BUCKET_BITS) - 1  # a bucket: a hash's top bits, or its low bits
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


# --- the excerpt -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Row:
    number: int
    head: bytes  # the first ROW_HEAD bytes
    cut: bool  # longer than head
    newline: bool  # ends with b"\n"


def _window(src: _Source, first: int, last: int) -> list[_Row]:
    """Lines first..last of src (fewer where it ends)."""
    if (start := _nth_line(src, first)) is None:
        return []
    rows: list[_Row] = []
    number, head, cut = first, b"", False
    for _, chunk in src.chunks(start=start):
        pos = 0
        while pos < len(chunk):
            if number > last:
                return rows
            nl = chunk.find(b"\n", pos)
            end = len(chunk) if nl < 0 else nl
            room = ROW_HEAD - len(head)
            head, cut = head + chunk[pos:pos + min(room, end - pos)], cut or end - pos > room
            if nl < 0:
                break
            rows.append(_Row(number, head, cut, True))
            number, head, cut, pos = number + 1, b"", False, nl + 1
    if head:
        rows.append(_Row(number, head, cut, False))
    return rows


# when two excerpt lines count as the same, by checker (a line cut short is never the same as a whole one)
_ROW_KEYS: dict[CheckerKind, Callable[[_Row], tuple]] = {
    CheckerKind.EXACT: lambda row: (row.head, row.cut, row.newline),
    CheckerKind.LINES: lambda row: (row.head.rstrip(WHITESPACE), row.cut),
    CheckerKind.TOKENS: lambda row: (tuple(row.head.split()), row.cut),
    CheckerKind.FLOAT: lambda row: (tuple(row.head.split()), row.cut),
    CheckerKind.KATTIS: lambda row: (tuple(row.head.split()), row.cut),
}


def _render(row: _Row) -> str:
    text = row.head.decode("utf-8", "replace")
    if row.cut or len(text) > ROW_CHARS:
        text = text[:ROW_CHARS] + "…"
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)  # make \r, \t, \x00 visible
    return text if row.newline else text + "\n\\ No newline at end of file"


def _excerpt(difference: _Difference, out: _Source, ans: _Source, checker: Checker) -> str:
    """The message, then a unified diff of the few lines around the first difference in each file.

    Lines are matched up with difflib, but only within these windows (at most 2 * CONTEXT + 1 lines of
    ROW_CHARS each), so it is cheap whatever the files; the line holding the difference (by the
    checker's rule) is always shown as changed. With unordered, that is the named item's line in the file
    that has it, with the same lines of the other file around it; with ignore_case, lines that differ
    only in case are matched (and shown as the output has them)."""
    if difference.lines:  # unordered: around the named item's line in its file, the same lines in the other
        marked = difference.lines
        lines = [line or next(filter(None, marked)) for line in marked]
    elif difference.tokens:
        marked = lines = [_nth_token(src, difference.index)[1] for src in (ans, out)]
    else:
        marked = lines = [difference.index] * 2
    want, got = (_window(src, max(1, line - CONTEXT), line + CONTEXT) for src, line in zip((ans, out), lines))
    base = _ROW_KEYS[checker.kind]
    key = (lambda row: base(replace(row, head=row.head.lower()))) if checker.ignore_case else base
    matcher = difflib.SequenceMatcher(None, [key(r) if r.number != marked[0] else "-" for r in want],
                                      [key(r) if r.number != marked[1] else "+" for r in got], autojunk=False)
    span = [f"{rows[0].number},{len(rows)}" if rows else "0,0" for rows in (want, got)]
    parts = [difference.message, "--- expected", "+++ output", f"@@ -{span[0]} +{span[1]} @@"]
    for tag, i, j, k, m in matcher.get_opcodes():
        if tag == "equal":
            parts += [" " + _render(row) for row in got[k:m]]
        else:
            parts += ["-" + _render(row) for row in want[i:j]] + ["+" + _render(row) for row in got[k:m]]
    text = "\n".join(parts) + "\n"
    if len(data := text.encode()) > MAX_DIFF:  # only lines full of escaped characters get here
        text = data[:MAX_DIFF - 20].decode("utf-8", "ignore") + "\n… (diff cut)\n"
    return text


# --- entry points ------------------------------------------------------------------------------------

def validate(checker: Checker) -> None:
    """Refuse the options a checker cannot honour, with a ValueError saying why (the problem loader and the
    operator refuse them too): ignoreCase for exact (bytes are bytes) and custom checkers (which decide
    themselves); order other than as-given except for lines and tokens (float matches numbers within
    epsilon by position; a custom checker decides)."""
    kind, problems = checker.kind, []
    if checker.ignore_case and kind in (CheckerKind.EXACT, CheckerKind.CUSTOM):
        problems.append(f"ignoreCase is for the lines, tokens and float checkers, not {kind.value}"
                        + (" (which compares bytes)" if kind is CheckerKind.EXACT else " (which decides itself)"))
    if checker.order is not Order.AS_GIVEN and kind not in (CheckerKind.LINES, CheckerKind.TOKENS):
        problems.append(f"order {checker.order.value} is for the lines and tokens checkers, not {kind.value}")
    if kind is CheckerKind.KATTIS and checker.ignore_case:
        problems.append("the kattis checker compares letters without case unless a test's flags say case_sensitive: "
                        "no ignoreCase")
    if kind is CheckerKind.KATTIS and checker.epsilon is not None:
        problems.append("the kattis checker takes its tolerances from each test's flags (float_tolerance EPS): "
                        "no epsilon")
    if problems:
        raise ValueError("; ".join(problems))


def _folded(stream: Callable[[_Source], Iterator[bytes]]) -> Callable[[_Source], Iterator[bytes]]:
    return lambda src: map(bytes.lower, stream(src))


ONLY_WHITESPACE = "the output differs only in whitespace (presentation error)"


def _find(checker: Checker, out: _Source, ans: _Source, args: Iterable[str] = ()) -> _Difference | None:
    validate(checker)
    fold, unordered = checker.ignore_case, checker.order is Order.UNORDERED
    match checker.kind:
        case CheckerKind.EXACT:
            difference = _exact(out, ans)
            if difference and _by_stream(out, ans, _token_stream, b" ", "token", _token_head) is None:
                difference = replace(difference, message=f"{difference.message}; {ONLY_WHITESPACE}")
            return difference
        case CheckerKind.LINES if unordered:
            return _unordered(out, ans, False, fold)
        case CheckerKind.TOKENS if unordered:
            return _unordered(out, ans, True, fold)
        case CheckerKind.LINES:
            return _by_stream(out, ans, _folded(_line_stream) if fold else _line_stream, b"\n", "line", _line_head)
        case CheckerKind.TOKENS:
            return _by_stream(out, ans, _folded(_token_stream) if fold else _token_stream, b" ", "token", _token_head)
        case CheckerKind.FLOAT:
            return _float(out, ans, checker.epsilon or 1e-6, fold)
        case CheckerKind.KATTIS:
            return _kattis(out, ans, args)
    raise ValueError(f"{checker.kind} is not a built-in checker")


# the kinds that accept an output byte for byte the answer (float need not: a "nan" equals no number)
_SAME_BYTES_PASS = (CheckerKind.EXACT, CheckerKind.LINES, CheckerKind.TOKENS, CheckerKind.KATTIS)
_ACCEPTED = Outcome(True, "", "")


def _outcome(checker: Checker, out: _Source, ans: _Source, args: Iterable[str] = ()) -> Outcome:
    if checker.kind is CheckerKind.KATTIS:
        kattis_flags(args)  # unknown flags are refused even when the output is the answer
    if checker.kind in _SAME_BYTES_PASS and out.size == ans.size <= CHUNK:
        validate(checker)  # the usual case, an accepted test, in two reads and a compare: no streams
        if out.read(0, CHUNK) == ans.read(0, CHUNK):
            return _ACCEPTED
    difference = _find(checker, out, ans, args)
    if difference is None:
        return _ACCEPTED
    return Outcome(False, difference.message, _excerpt(difference, out, ans, checker))


def check_files(checker: Checker, output: Path, answer: Path, args: Iterable[str] = ()) -> Outcome:
    """Compare the output file with the answer file in bounded memory (see the module docstring);
    args: the test's checkerArgs (the kattis checker's flags)."""
    with _opened(output) as out, _opened(answer) as ans:
        return _outcome(checker, out, ans, args)


def check_bytes(checker: Checker, output: bytes, answer: bytes, args: Iterable[str] = ()) -> Outcome:
    return _outcome(checker, _Source(output), _Source(answer), args)


def compare(checker: Checker, output: bytes, answer: bytes, args: Iterable[str] = ()) -> tuple[bool, str]:
    difference = _find(checker, _Source(output), _Source(answer), args)
    return (True, "") if difference is None else (False, difference.message)


def exact(output: bytes, answer: bytes) -> tuple[bool, str]:
    return compare(Checker(kind=CheckerKind.EXACT), output, answer)


def lines(output: bytes, answer: bytes) -> tuple[bool, str]:
    """Line by line; trailing whitespace of each line and trailing blank lines ignored."""
    return compare(Checker(kind=CheckerKind.LINES), output, answer)


def tokens(output: bytes, answer: bytes, epsilon: float | None = None) -> tuple[bool, str]:
    """Whitespace-separated tokens; with epsilon, numbers equal within absolute or relative epsilon."""
    if epsilon is None:
        return compare(Checker(kind=CheckerKind.TOKENS), output, answer)
    difference = _float(_Source(output), _Source(answer), epsilon)
    return (True, "") if difference is None else (False, difference.message)
