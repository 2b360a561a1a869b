"""The kattis checker: the problem package format's default output validator (problemtools'
support/default_validator is the reference; its own test cases agree: tests/integration/
test_packages.py). Compared with a whole-file reference of the spec's rules, at every chunk size."""

from __future__ import annotations

import random
import re

import pytest

from gavel_contract import Checker, CheckerKind
from gavel_contract.kattis import c_double, kattis_flags
from gavel_runner import checkers

KATTIS = Checker(kind=CheckerKind.KATTIS)
WS = rb"[ \t\n\r\x0b\x0c]+"


def reference(output: bytes, answer: bytes, args: list[str]) -> bool:
    """The spec's rules on whole files."""
    flags = kattis_flags(args)
    if flags.space_change_sensitive:
        skeleton = lambda data: re.sub(rb"[^ \t\n\r\x0b\x0c]+", b"x", data)  # noqa: E731
        if skeleton(output) != skeleton(answer):
            return False
    got, want = output.split(), answer.split()
    if len(got) != len(want):
        return False
    for g, w in zip(got, want):
        wv = c_double(w) if flags.floats else None
        if wv is not None:
            gv = c_double(g)
            if gv is None or not ((flags.absolute is not None and abs(gv - wv) <= flags.absolute) or
                                  (flags.relative is not None and abs(gv - wv) <= flags.relative * abs(wv))):
                return False
        elif (g if flags.case_sensitive else g.lower()) != (w if flags.case_sensitive else w.lower()):
            return False
    return True


def check(output: bytes, answer: bytes, args: list[str] = ()) -> tuple[bool, str]:
    ok, message = checkers.compare(KATTIS, output, answer, args)
    outcome = checkers.check_bytes(KATTIS, output, answer, args)
    assert (outcome.accepted, outcome.message) == (ok, message)
    return ok, message


def test_defaults_tokens_without_case():
    assert check(b"Hello  World\n\n", b"hello world") == (True, "")
    assert check(b"Hello World\n", b"hello world\n", ["case_sensitive"]) == (False, "token 1: expected 'hello', got 'Hello'")
    assert check(b"1.0\n", b"1\n") == (False, "token 1: expected '1', got '1.0'")  # no tolerance: words
    assert check(b"", b"") == (True, "") and check(b" \n", b"") == (True, "")
    assert check(b"1 2", b"1 2 3")[1] == "expected 3 tokens, got 2"


def test_floats_within_either_tolerance():
    assert check(b"3.14000000e-2\n", b"0.0314\n", ["float_tolerance", "1e-9"]) == (True, "")
    assert check(b"100.5", b"100", ["float_relative_tolerance", "0.01"]) == (True, "")
    assert not check(b"100.5", b"100", ["float_absolute_tolerance", "0.1"])[0]
    assert check(b"100.5", b"100", ["float_absolute_tolerance", "0.1", "float_relative_tolerance", "0.01"])[0]
    assert not check(b"abc", b"1", ["float_tolerance", "1"])[0]  # a number is wanted
    assert check(b"INF", b"inf", ["float_tolerance", "1"]) == (True, "")  # not a number: a word, without case
    assert not check(b"nan", b"1", ["float_tolerance", "1"])[0]


def test_space_change_sensitive_compares_every_whitespace_byte():
    assert check(b"1 2\n", b"1 2\n", ["space_change_sensitive"]) == (True, "")
    assert not check(b"1  2\n", b"1 2\n", ["space_change_sensitive"])[0]
    assert not check(b"1 2", b"1 2\n", ["space_change_sensitive"])[0]
    assert not check(b" 1 2\n", b"1 2\n", ["space_change_sensitive"])[0]
    assert not check(b"1\t2\n", b"1 2\n", ["space_change_sensitive"])[0]
    assert check(b"A 2\n", b"a 2\n", ["space_change_sensitive"]) == (True, "")
    ok, message = check(b"1 2\n3  4\n", b"1 2\n3 4\n", ["space_change_sensitive"])
    assert not ok and message.startswith("line 2: the whitespace differs"), message


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 1 << 20])
def test_agrees_with_the_whole_file_reference_at_every_chunk_size(monkeypatch, chunk):
    monkeypatch.setattr(checkers.bounds, "CHUNK", chunk)
    monkeypatch.setattr(checkers.bounds, "FLOAT_CHUNK", max(chunk, 2))
    rng = random.Random(chunk)
    words = [b"a", b"A", b"bb", b"1", b"1.0", b"1e0", b"0.99", b"x1", b"-0", b"0x10", b"16"]
    spaces = [b" ", b"  ", b"\n", b"\t", b" \n", b"\r\n"]
    flag_sets = [[], ["case_sensitive"], ["space_change_sensitive"], ["float_tolerance", "0.02"],
                 ["float_absolute_tolerance", "0.005", "case_sensitive"], ["space_change_sensitive", "case_sensitive"]]

    def text(n: int) -> bytes:
        return b"".join(rng.choice(words) + rng.choice(spaces) for _ in range(n))

    for _ in range(300):
        answer = text(rng.randint(0, 6))
        output = answer if rng.random() < 0.3 else text(rng.randint(0, 6))
        if rng.random() < 0.3:  # the same tokens, other whitespace or case
            output = b" ".join(answer.split()).swapcase() + rng.choice([b"", b"\n", b"  "])
        for args in flag_sets:
            assert check(output, answer, args)[0] == reference(output, answer, args), (output, answer, args, chunk)
