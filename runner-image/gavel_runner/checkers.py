"""Built-in output checkers: pure functions of (output, answer) -> (accepted, message)."""

from __future__ import annotations

import difflib
import math

from gavel_contract import Checker, CheckerKind

WHITESPACE = b" \t\r\v\f"


def _show(token: bytes, limit: int = 60) -> str:
    text = token.decode("utf-8", "replace")
    return repr(text if len(text) <= limit else text[:limit] + "…")


def exact(output: bytes, answer: bytes) -> tuple[bool, str]:
    if output == answer:
        return True, ""
    at = next((i for i, (a, b) in enumerate(zip(output, answer)) if a != b), min(len(output), len(answer)))
    line = output.count(b"\n", 0, at) + 1
    return False, f"byte {at} (line {line}) differs: output has {len(output)} bytes, answer {len(answer)}"


def _lines(data: bytes) -> list[bytes]:
    lines = [line.rstrip(WHITESPACE) for line in data.split(b"\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def lines(output: bytes, answer: bytes) -> tuple[bool, str]:
    """Line by line; trailing whitespace of each line and trailing blank lines ignored."""
    got, want = _lines(output), _lines(answer)
    for i, (g, w) in enumerate(zip(got, want), 1):
        if g != w:
            return False, f"line {i}: expected {_show(w)}, got {_show(g)}"
    if len(got) != len(want):
        return False, f"expected {len(want)} lines, got {len(got)}"
    return True, ""


def tokens(output: bytes, answer: bytes, epsilon: float | None = None) -> tuple[bool, str]:
    """Whitespace-separated tokens; with epsilon, numbers equal within absolute or relative epsilon."""
    got, want = output.split(), answer.split()
    for i, (g, w) in enumerate(zip(got, want), 1):
        if g == w:
            continue
        if epsilon is not None and _close(g, w, epsilon):
            continue
        return False, f"token {i}: expected {_show(w)}, got {_show(g)}"
    if len(got) != len(want):
        return False, f"expected {len(want)} tokens, got {len(got)}"
    return True, ""


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


def compare(checker: Checker, output: bytes, answer: bytes) -> tuple[bool, str]:
    match checker.kind:
        case CheckerKind.EXACT:
            return exact(output, answer)
        case CheckerKind.LINES:
            return lines(output, answer)
        case CheckerKind.TOKENS:
            return tokens(output, answer)
        case CheckerKind.FLOAT:
            return tokens(output, answer, checker.epsilon or 1e-6)
    raise ValueError(f"{checker.kind} is not a built-in checker")


def diff_text(message: str, output: bytes, answer: bytes, max_lines: int = 200) -> str:
    """What goes in a wrong answer's diff file: the checker's message, then a unified diff."""
    if len(output) > 4 << 20 or len(answer) > 4 << 20:
        return message + "\n(outputs too large for a line diff)\n"
    got = output.decode("utf-8", "replace").splitlines(keepends=True)
    want = answer.decode("utf-8", "replace").splitlines(keepends=True)
    body = list(difflib.unified_diff(want, got, "expected", "output", n=2))
    if len(body) > max_lines:
        body = body[:max_lines] + [f"… {len(body) - max_lines} more diff lines\n"]
    return message + "\n" + "".join(line if line.endswith("\n") else line + "\n" for line in body)
