"""lines: each file as a normalised stream, b"\\n".join of its right-stripped lines without the trailing
blank ones; the blank run at the end of what has been read is held back, as a count and a file span."""

from __future__ import annotations

from collections.abc import Iterator

from . import bounds
from .base import _NON_BLANK, _TRAILING_WS, _WS_MARKS, BLANK, _nth, _Source


def _newlines(n: int) -> Iterator[bytes]:
    while n > 0:
        yield b"\n" * min(n, bounds.CHUNK)
        n -= bounds.CHUNK


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


def _line_head(src: _Source, n: int) -> bytes:
    """The first HEAD bytes of line n, right-stripped."""
    head = b""
    for piece in _line_stream(src, _nth_line(src, n) or 0):
        cut = piece.find(b"\n")
        head += piece[:min(bounds.HEAD - len(head), len(piece) if cut < 0 else cut)]
        if cut >= 0 or len(head) >= bounds.HEAD:
            break
    return head
