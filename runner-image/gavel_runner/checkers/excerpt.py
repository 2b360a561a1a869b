"""The diff written on a wrong answer: a unified diff of a few lines around the first difference."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, replace

from gavel_contract import Checker, CheckerKind

from . import bounds
from .base import WHITESPACE, _Difference, _Source
from .linewise import _nth_line
from .tokenwise import _nth_token


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
            room = bounds.ROW_HEAD - len(head)
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
    if row.cut or len(text) > bounds.ROW_CHARS:
        text = text[:bounds.ROW_CHARS] + "…"
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
    want, got = (_window(src, max(1, line - bounds.CONTEXT), line + bounds.CONTEXT) for src, line in zip((ans, out), lines))
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
    if len(data := text.encode()) > bounds.MAX_DIFF:  # only lines full of escaped characters get here
        text = data[:bounds.MAX_DIFF - 20].decode("utf-8", "ignore") + "\n… (diff cut)\n"
    return text
