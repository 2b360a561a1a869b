"""tokens: each file as a normalised stream, b" ".join of its whitespace-separated tokens."""

from __future__ import annotations

from collections.abc import Iterator

from . import bounds
from .base import _MARKS, _TO_SPACE, _nth, _Source


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


def _token_head(src: _Source, n: int) -> bytes:
    """The first HEAD bytes of token n."""
    offset, _ = _nth_token(src, n)
    return src.read(offset, bounds.HEAD).split(None, 1)[0] if offset is not None else b""
