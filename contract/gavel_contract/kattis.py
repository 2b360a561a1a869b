"""The problem package format's default output validator, as far as the contract needs it: its flags
(`validator_flags`, `output_validator_flags`, `output_validator_args`), read and checked when a
problem is loaded and again by the runner's checker (gavel_runner.checkers), and what it takes for
a number."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class KattisFlags:
    """The default output validator's flags (problem package format, `validator_flags`,
    `output_validator_flags`/`output_validator_args`): case-insensitive tokens unless case_sensitive;
    with space_change_sensitive, the whitespace between (and around) tokens must be the answer's byte
    for byte; with a float tolerance, an answer token that is a finite number (as C's strtod reads
    it, whole) accepts an output token that is a finite number within the absolute or relative
    tolerance. Repeated flags: the last wins, as the reference validator (problemtools) does."""

    case_sensitive: bool = False
    space_change_sensitive: bool = False
    absolute: float | None = None
    relative: float | None = None

    @property
    def floats(self) -> bool:
        return self.absolute is not None or self.relative is not None


KATTIS_FLAGS = ("case_sensitive", "space_change_sensitive", "float_relative_tolerance", "float_absolute_tolerance",
                "float_tolerance")


def kattis_flags(args: Iterable[str]) -> KattisFlags:
    """The flags a test gives the default validator, or ValueError naming the one it does not know."""
    words, out = list(args), {}
    i = 0
    while i < len(words):
        word = words[i]
        if word in ("case_sensitive", "space_change_sensitive"):
            out[word] = True
        elif word in KATTIS_FLAGS:
            value = c_double(words[i + 1].encode()) if i + 1 < len(words) else None
            if value is None or value < 0:
                raise ValueError(f"the default output validator's {word} needs a number >= 0 after it")
            if word != "float_absolute_tolerance":
                out["relative"] = value
            if word != "float_relative_tolerance":
                out["absolute"] = value
            i += 1
        else:
            raise ValueError(f"the default output validator has no flag {word!r} (it knows {', '.join(KATTIS_FLAGS)})")
        i += 1
    return KattisFlags(**out)


_DECIMAL = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_HEXADECIMAL = re.compile(rb"[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?\d+)?")


def c_double(token: bytes) -> float | None:
    """The finite number a whole token is to C's strtod (decimal or hexadecimal; not inf, nan, or a number
    with anything after it), else None: what the reference validator calls a floating-point token."""
    if len(token) > 400:  # no sensible number; spares float() a megabyte of digits
        return None
    if _DECIMAL.fullmatch(token):
        value = float(token)
    elif _HEXADECIMAL.fullmatch(token):
        text = token.decode()
        sign = -1.0 if text.startswith("-") else 1.0
        body = text.lstrip("+-")
        if "p" not in body.lower():
            body += "p0"
        try:
            value = sign * float.fromhex(body)
        except OverflowError:
            return None
    else:
        return None
    return value if math.isfinite(value) else None
