"""Built-in output checkers (exact, lines, tokens, float:EPS, kattis), streaming over the output and answer files.

One module per checker kind, as DMOJ's judge keeps them: bytewise (exact), linewise (lines), tokenwise
(tokens), floats (float), kattis (the problem package format's default output validator), unordered
(order: unordered); base holds what they share, excerpt the diff, bounds the sizes. This module is the
entry point: validate, check_files, check_bytes, compare.

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

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from gavel_contract import Checker, CheckerKind, Order
from gavel_contract.kattis import kattis_flags

from . import bounds
from .base import Outcome, _by_stream, _Difference, _folded, _opened, _show, _Source
from .bounds import MAX_DIFF
from .bytewise import _exact
from .excerpt import _excerpt
from .floats import _close, _float  # noqa: F401 - _close, _show, _Fingerprint, _hash_is_secret: tests use them
from .kattis import _kattis
from .linewise import _line_head, _line_stream
from .tokenwise import _token_head, _token_stream
from .unordered import _Fingerprint, _hash_is_secret, _unordered

__all__ = ["Outcome", "validate", "check_files", "check_bytes", "compare", "exact", "lines", "tokens", "kattis_flags",
           "MAX_DIFF"]


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
    if checker.kind in _SAME_BYTES_PASS and out.size == ans.size <= bounds.CHUNK:
        validate(checker)  # the usual case, an accepted test, in two reads and a compare: no streams
        # a byte past the size each, so that a file grown since its fstat still differs (a read of
        # CHUNK would allocate a MiB per file for a few bytes, each test)
        if out.read(0, out.size + 1) == ans.read(0, ans.size + 1):
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
