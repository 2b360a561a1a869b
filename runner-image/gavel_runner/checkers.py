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
matter); for float, a FLOAT_CHUNK's tokens as a list plus one carried token fragment of at most
LONG_TOKEN bytes. Nothing grows with the output: at most ~11 MiB above the interpreter's own with the
defaults, measured at the 64 MiB cap by tests/integration/test_checker_memory.py.

One deliberate difference from the old checkers: float treats a token longer than LONG_TOKEN (1 MiB)
as a word, never a number (it is kept as a SHA-256 and compared for equality only), so a "number"
with a megabyte of digits no longer gets the epsilon tolerance.
"""

from __future__ import annotations

import difflib
import hashlib
import math
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from gavel_contract import Checker, CheckerKind

CHUNK = 1 << 20  # bytes read at a time (tests shrink it to put chunk boundaries everywhere)
FLOAT_CHUNK = 256 << 10  # float splits a chunk into a list of tokens: smaller keeps that list small
LONG_TOKEN = 1 << 20  # float: a longer token cannot be a number and is kept as a hash
HEAD = 256  # bytes kept of a line or token for a message: _show's 60 characters need at most 4*61+3
CONTEXT = 3  # lines of the excerpt before and after the first difference
ROW_CHARS = 200  # an excerpt line is cut to this many characters
ROW_HEAD = 4 * ROW_CHARS + 4  # bytes kept of an excerpt line
MAX_DIFF = 16 << 10  # the whole excerpt, in bytes

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


def _nth_line(src: _Source, n: int) -> int | None:
    """Offset where line n (1-based) starts, None if src has fewer newlines than n - 1."""
    if (need := n - 1) <= 0:
        return 0
    for offset, chunk in src.chunks():
        if (count := chunk.count(b"\n")) < need:
            need -= count
            continue
        at = -1
        for _ in range(need):
            at = chunk.index(b"\n", at + 1)
        return offset + at + 1
    return None


def _nth_token(src: _Source, n: int) -> tuple[int | None, int]:
    """(offset, line) where token n (1-based) starts; (None, line of the last token) if there are fewer."""
    seen = newlines = 0
    line, before = 1, b" "
    for offset, chunk in src.chunks():
        marks = before + chunk.translate(_MARKS)  # marks[k:k+2] == b" x": a token starts at chunk[k]
        starts = marks.count(b" x")
        if seen + starts >= n:
            at = -1
            for _ in range(n - seen):
                at = marks.index(b" x", at + 1)
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
    """A token over LONG_TOKEN bytes: never a number, so only its length, hash and head are kept."""
    size: int
    digest: bytes
    head: bytes


class _LongBuilder:
    def __init__(self, start: bytes):
        self.hash, self.size, self.head = hashlib.sha256(start), len(start), start[:HEAD]

    def add(self, piece: bytes) -> None:
        self.hash.update(piece)
        self.size += len(piece)
        if len(self.head) < HEAD:
            self.head += piece[:HEAD - len(self.head)]

    def token(self) -> _LongToken:
        return _LongToken(self.size, self.hash.digest(), self.head)


Token = bytes | _LongToken


def _token_batches(src: _Source) -> Iterator[list[Token]]:
    """The tokens of src, a FLOAT_CHUNK's worth at a time; a token cut by a chunk boundary is carried
    over (as a _LongBuilder once it passes LONG_TOKEN bytes, so the carry stays bounded)."""
    carry, long = b"", None
    for _, chunk in src.chunks(FLOAT_CHUNK):
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
            tokens = [_LongBuilder(t).token() if len(t) > LONG_TOKEN else t for t in tokens]
        if len(carry) > LONG_TOKEN:
            carry, long = b"", _LongBuilder(carry)
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


def _float(out: _Source, ans: _Source, epsilon: float) -> _Difference | None:
    got, want = _Cursor(_token_batches(out)), _Cursor(_token_batches(ans))
    seen = 0
    while n := min(got.ahead(), want.ahead()):
        g, w = got.peek(n), want.peek(n)
        if g != w:  # list equality runs in C; only a batch with a difference is walked token by token
            for i, (x, y) in enumerate(zip(g, w), seen + 1):
                if x != y and not (type(x) is bytes and type(y) is bytes and _close(x, y, epsilon)):
                    return _Difference(f"token {i}: expected {_show(_head(y))}, got {_show(_head(x))}", i, True)
        seen += n
        got.skip(n)
        want.skip(n)
    if got.ahead() or want.ahead():
        counts = [seen + sum(map(len, c.rest())) for c in (want, got)]
        return _Difference(f"expected {counts[0]} tokens, got {counts[1]}", seen + 1, True)
    return None


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
}


def _render(row: _Row) -> str:
    text = row.head.decode("utf-8", "replace")
    if row.cut or len(text) > ROW_CHARS:
        text = text[:ROW_CHARS] + "…"
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)  # make \r, \t, \x00 visible
    return text if row.newline else text + "\n\\ No newline at end of file"


def _excerpt(difference: _Difference, out: _Source, ans: _Source, kind: CheckerKind) -> str:
    """The message, then a unified diff of the few lines around the first difference in each file.

    Lines are matched up with difflib, but only within these windows (at most 2 * CONTEXT + 1 lines of
    ROW_CHARS each), so it is cheap whatever the files; the line holding the difference (by the
    checker's rule) is always shown as changed."""
    if difference.tokens:
        lines = [_nth_token(src, difference.index)[1] for src in (ans, out)]
    else:
        lines = [difference.index] * 2
    want, got = (_window(src, max(1, line - CONTEXT), line + CONTEXT) for src, line in zip((ans, out), lines))
    key = _ROW_KEYS[kind]
    matcher = difflib.SequenceMatcher(None, [key(r) if r.number != lines[0] else "-" for r in want],
                                      [key(r) if r.number != lines[1] else "+" for r in got], autojunk=False)
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

def _find(checker: Checker, out: _Source, ans: _Source) -> _Difference | None:
    match checker.kind:
        case CheckerKind.EXACT:
            return _exact(out, ans)
        case CheckerKind.LINES:
            return _by_stream(out, ans, _line_stream, b"\n", "line", _line_head)
        case CheckerKind.TOKENS:
            return _by_stream(out, ans, _token_stream, b" ", "token", _token_head)
        case CheckerKind.FLOAT:
            return _float(out, ans, checker.epsilon or 1e-6)
    raise ValueError(f"{checker.kind} is not a built-in checker")


def _outcome(checker: Checker, out: _Source, ans: _Source) -> Outcome:
    difference = _find(checker, out, ans)
    if difference is None:
        return Outcome(True, "", "")
    return Outcome(False, difference.message, _excerpt(difference, out, ans, checker.kind))


def check_files(checker: Checker, output: Path, answer: Path) -> Outcome:
    """Compare the output file with the answer file in bounded memory (see the module docstring)."""
    with _opened(output) as out, _opened(answer) as ans:
        return _outcome(checker, out, ans)


def check_bytes(checker: Checker, output: bytes, answer: bytes) -> Outcome:
    return _outcome(checker, _Source(output), _Source(answer))


def compare(checker: Checker, output: bytes, answer: bytes) -> tuple[bool, str]:
    difference = _find(checker, _Source(output), _Source(answer))
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
