import math
import random
from pathlib import Path

import pytest

from gavel_contract import Checker, CheckerKind
from gavel_runner import checkers

LINES, TOKENS, EXACT = (Checker(kind=k) for k in (CheckerKind.LINES, CheckerKind.TOKENS, CheckerKind.EXACT))
FLOAT = Checker.parse("float:1e-6")


def test_exact():
    assert checkers.exact(b"1 2\n", b"1 2\n") == (True, "")
    ok, msg = checkers.exact(b"1 2 \n", b"1 2\n")
    assert not ok and "byte 3" in msg
    assert checkers.exact(b"a\nb\nc", b"a\nb\nd") == (False, "byte 4 (line 3) differs: output has 5 bytes, answer 5")
    assert checkers.exact(b"a\n", b"a\nb") == (False, "byte 2 (line 2) differs: output has 2 bytes, answer 3")
    assert checkers.exact(b"", b"")[0]


def test_lines_ignores_trailing_whitespace_and_blank_lines():
    assert checkers.lines(b"1  \r\n2\t\n\n\n", b"1\n2\n")[0]
    assert checkers.lines(b"1\n2", b"1\n2\n")[0]
    ok, msg = checkers.lines(b"1\n3\n", b"1\n2\n")
    assert not ok and msg == "line 2: expected '2', got '3'"
    ok, msg = checkers.lines(b"1\n", b"1\n2\n")
    assert not ok and msg == "expected 2 lines, got 1"
    # leading whitespace and inner spacing still count
    assert not checkers.lines(b" 1\n", b"1\n")[0]
    assert not checkers.lines(b"1  2\n", b"1 2\n")[0]
    # blank lines inside count; whitespace-only lines are blank
    assert checkers.lines(b"1\n \t\n2\n", b"1\n\n2") == (True, "")
    assert checkers.lines(b"", b"\n \n") == (True, "")
    assert checkers.lines(b"", b"\nx") == (False, "expected 2 lines, got 0")
    assert checkers.lines(b"1\n2", b"1\n23") == (False, "line 2: expected '23', got '2'")


def test_tokens():
    assert checkers.tokens(b"1\n2   3", b"1 2 3\n")[0]
    ok, msg = checkers.tokens(b"1 2", b"1 2 3")
    assert not ok and msg == "expected 3 tokens, got 2"
    assert checkers.tokens(b"1 2", b"1 23") == (False, "token 2: expected '23', got '2'")
    assert checkers.tokens(b"\v\f 1\r\n", b"1")[0]
    assert checkers.tokens(b"a\x1cb", b"a b") == (False, "token 1: expected 'a', got 'a\\x1cb'")  # not whitespace


def test_float_absolute_and_relative():
    assert checkers.tokens(b"0.3333", b"0.33333333", 1e-3)[0]
    assert not checkers.tokens(b"0.33", b"0.33333333", 1e-3)[0]
    assert checkers.tokens(b"1000001", b"1000000", 1e-6)[0]  # relative
    assert checkers.tokens(b"nan inf", b"nan inf", 1e-6)[0]
    assert not checkers.tokens(b"inf", b"1e308", 1e-6)[0]
    assert not checkers.tokens(b"abc", b"1.0", 1e-6)[0]
    assert checkers.tokens(b"yes 1.0", b"yes 1", 1e-9)[0]
    assert checkers.tokens(b"1 2.5 3", b"1 2.6 3", 1e-6) == (False, "token 2: expected '2.6', got '2.5'")
    assert checkers.tokens(b"1.0 2", b"1 2 3", 1e-6) == (False, "expected 3 tokens, got 2")
    assert checkers.compare(Checker.parse("float:0.1"), b"1.05", b"1")[0]


def test_parse():
    assert Checker.parse("float:1e-4") == Checker(kind=CheckerKind.FLOAT, epsilon=1e-4)
    assert Checker.parse("tokens").kind == CheckerKind.TOKENS
    assert Checker.parse("./check.cpp") == Checker(kind=CheckerKind.CUSTOM, program="./check.cpp")


def test_messages_show_at_most_60_characters():
    long = "é" * 100
    ok, msg = checkers.lines(long.encode() + b"  \n", b"x\n")
    assert msg == f"line 1: expected 'x', got '{'é' * 60}…'"
    ok, msg = checkers.tokens(b"a " + b"\xff" * 5000, b"a b", 1e-6)
    assert msg == f"token 2: expected 'b', got '{chr(0xfffd) * 60}…'"


# --- the old whole-file checkers, as the reference the streaming ones must agree with ---------------

def ref_exact(output: bytes, answer: bytes) -> tuple[bool, str]:
    if output == answer:
        return True, ""
    at = next((i for i, (a, b) in enumerate(zip(output, answer)) if a != b), min(len(output), len(answer)))
    line = output.count(b"\n", 0, at) + 1
    message = f"byte {at} (line {line}) differs: output has {len(output)} bytes, answer {len(answer)}"
    if output.split() == answer.split():  # like DMOJ's identical: a presentation error, still wrong
        message += "; the output differs only in whitespace (presentation error)"
    return False, message


def ref_lines(output: bytes, answer: bytes) -> tuple[bool, str]:
    def split(data: bytes) -> list[bytes]:
        lines = [line.rstrip(b" \t\r\v\f") for line in data.split(b"\n")]
        while lines and not lines[-1]:
            lines.pop()
        return lines

    got, want = split(output), split(answer)
    for i, (g, w) in enumerate(zip(got, want), 1):
        if g != w:
            return False, f"line {i}: expected {checkers._show(w)}, got {checkers._show(g)}"
    if len(got) != len(want):
        return False, f"expected {len(want)} lines, got {len(got)}"
    return True, ""


def ref_tokens(output: bytes, answer: bytes, epsilon: float | None = None, long: int = 1 << 20) -> tuple[bool, str]:
    got, want = output.split(), answer.split()
    for i, (g, w) in enumerate(zip(got, want), 1):
        if g == w:
            continue
        # the one deliberate change: a token over LONG_TOKEN bytes is never a number
        if epsilon is not None and max(len(g), len(w)) <= long and checkers._close(g, w, epsilon):
            continue
        return False, f"token {i}: expected {checkers._show(w)}, got {checkers._show(g)}"
    if len(got) != len(want):
        return False, f"expected {len(want)} tokens, got {len(got)}"
    return True, ""


PIECES = [b"1", b"2", b"0.5", b"0.50000001", b"ab", b"\xc3\xa9", b" ", b"  ", b"\t", b"\r", b"\n", b"\n",
          b"\r\n", b"\v", b"\f", b"nan", b"-inf", b"1e3"]


def fuzz_pair(rng: random.Random) -> tuple[bytes, bytes]:
    answer = [rng.choice(PIECES) for _ in range(rng.randrange(0, 25))]
    output = list(answer)
    for _ in range(rng.randrange(0, 3)):  # usually a few edits away, so differences are late and subtle
        op, at = rng.randrange(3), rng.randrange(len(output) + 1)
        if op == 0:
            output.insert(at, rng.choice(PIECES))
        elif output and at < len(output):
            output[at:at + 1] = [] if op == 1 else [rng.choice(PIECES)]
    return b"".join(output), b"".join(answer)


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64])
def test_streaming_agrees_with_the_whole_file_checkers(monkeypatch, chunk):
    monkeypatch.setattr(checkers.bounds, "CHUNK", chunk)
    monkeypatch.setattr(checkers.bounds, "FLOAT_CHUNK", chunk)
    monkeypatch.setattr(checkers.bounds, "LONG_TOKEN", 6)  # so long tokens cross boundaries too
    rng = random.Random(chunk)
    for _ in range(600):
        output, answer = fuzz_pair(rng)
        case = (output, answer)
        assert checkers.exact(output, answer) == ref_exact(output, answer), case
        assert checkers.lines(output, answer) == ref_lines(output, answer), case
        assert checkers.tokens(output, answer) == ref_tokens(output, answer), case
        assert checkers.tokens(output, answer, 1e-6) == ref_tokens(output, answer, 1e-6, long=6), case
        for checker in (EXACT, LINES, TOKENS, FLOAT):
            ok, message = checkers.compare(checker, output, answer)
            outcome = checkers.check_bytes(checker, output, answer)
            assert (outcome.accepted, outcome.message) == (ok, message), case
            assert outcome.diff == "" if ok else outcome.diff.startswith(message + "\n--- expected\n+++ output\n@@ -")
            assert ok or "\n-" in outcome.diff or "\n+" in outcome.diff, case


def test_chunk_boundaries_inside_lines_whitespace_and_tokens(monkeypatch):
    monkeypatch.setattr(checkers.bounds, "CHUNK", 4)
    monkeypatch.setattr(checkers.bounds, "FLOAT_CHUNK", 4)
    monkeypatch.setattr(checkers.bounds, "LONG_TOKEN", 10)
    # a whitespace run longer than a chunk, inside a line (kept) and at a line's end (dropped)
    assert checkers.lines(b"a" + b" " * 9 + b"b\n", b"a" + b" " * 9 + b"b")[0]
    assert checkers.lines(b"a" + b" " * 8 + b"b\n", b"a" + b" " * 9 + b"b")[0] is False
    assert checkers.lines(b"a" + b" \t" * 9 + b"\r\n\n  \n\t", b"a")[0]
    assert checkers.lines(b"\n" * 30 + b"x", b"\n" * 30 + b"y") == (False, "line 31: expected 'y', got 'x'")
    assert checkers.lines(b"\n" * 30 + b"x", b"") == (False, "expected 0 lines, got 31")
    # tokens cut by boundaries; a token longer than LONG_TOKEN compared whole
    assert checkers.tokens(b"abcdefghijklmnop q", b"abcdefghijklmnop\n\n\n\n\nq", 1e-6)[0]
    assert checkers.tokens(b"abcdefghijklmnoX q", b"abcdefghijklmnop q", 1e-6) == (
        False, "token 1: expected 'abcdefghijklmnop', got 'abcdefghijklmnoX'")
    assert checkers.tokens(b" 1.00000 2 ", b"1 2.0000000", 1e-6)[0]
    assert checkers.tokens(b"a" * 12, b"a" * 11) == (False, f"token 1: expected {'a' * 11!r}, got {'a' * 12!r}")


# --- check_files and its excerpt -------------------------------------------------------------------

def files(tmp_path: Path, output: bytes, answer: bytes) -> tuple[Path, Path]:
    (tmp_path / "out").write_bytes(output)
    (tmp_path / "ans").write_bytes(answer)
    return tmp_path / "out", tmp_path / "ans"


def test_check_files_accepts(tmp_path):
    out, ans = files(tmp_path, b"1 \n2\n\n", b"1\n2")
    assert checkers.check_files(LINES, out, ans) == checkers.Outcome(True, "", "")


def test_excerpt_around_the_first_differing_line(tmp_path):
    answer = b"".join(b"%d\n" % i for i in range(1, 101))
    output = answer.replace(b"\n50\n", b"\n5O\n").replace(b"\n52\n", b"\n52  \n")
    outcome = checkers.check_files(LINES, *files(tmp_path, output, answer))
    assert not outcome.accepted and outcome.message == "line 50: expected '50', got '5O'"
    # a unified diff of lines 47-53; line 52's trailing spaces do not count under `lines`
    assert outcome.diff == ("line 50: expected '50', got '5O'\n--- expected\n+++ output\n@@ -47,7 +47,7 @@\n"
                            " 47\n 48\n 49\n-50\n+5O\n 51\n 52  \n 53\n")


def test_excerpt_at_the_ends_of_files(tmp_path):
    outcome = checkers.check_files(LINES, *files(tmp_path, b"1\n2\n", b"1\n2\n3\n"))
    assert outcome.diff == "expected 3 lines, got 2\n--- expected\n+++ output\n@@ -1,3 +1,2 @@\n 1\n 2\n-3\n"
    outcome = checkers.check_files(EXACT, *files(tmp_path, b"a\r\nb", b"a\nb\n"))
    assert outcome.diff == ("byte 1 (line 1) differs: output has 4 bytes, answer 4; the output differs only in "
                            "whitespace (presentation error)\n--- expected\n+++ output\n"
                            "@@ -1,2 +1,2 @@\n-a\n-b\n+a\\r\n+b\n\\ No newline at end of file\n")
    outcome = checkers.check_files(TOKENS, *files(tmp_path, b"", b"x\n"))
    assert outcome.diff == "expected 1 tokens, got 0\n--- expected\n+++ output\n@@ -1,1 +0,0 @@\n-x\n"


def test_excerpt_of_tokens_is_around_each_files_own_line(tmp_path):
    answer = b"1 2 3\n4 5 6\n7 8 9\n"
    output = b"1\n2\n3\n4\n5\n6\n7\n0\n9\n"
    outcome = checkers.check_files(FLOAT, *files(tmp_path, output, answer))
    assert outcome.message == "token 8: expected '8', got '0'"
    assert outcome.diff == ("token 8: expected '8', got '0'\n--- expected\n+++ output\n@@ -1,3 +5,5 @@\n"
                            "-1 2 3\n-4 5 6\n-7 8 9\n+5\n+6\n+7\n+0\n+9\n")


def test_excerpt_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(checkers.bounds, "CHUNK", 1000)
    line = "\x00é" * 10_000
    answer = "\n".join([line] * 20).encode()
    output = answer[:-1] + b"X"
    outcome = checkers.check_files(EXACT, *files(tmp_path, output, answer))
    rows = outcome.diff.splitlines()[4:]
    # lines 17-20, cut to ROW_CHARS characters; line 20, without a newline, differs only past the cut
    assert rows[:3] == [" " + ("\\x00é" * 100) + "…"] * 3 and len(rows) == 3 + 4
    assert rows[3][0] == "-" and rows[5][0] == "+" and rows[4] == rows[6] == "\\ No newline at end of file"
    assert len(outcome.diff.encode()) <= checkers.MAX_DIFF
    # lines of characters escaped to 10 each ("\\U000e0001") would pass the cap: it cuts them
    one, two = ("\U000e0001" * 300 + "\n").encode(), ("\U000e0002" * 300 + "\n").encode()
    outcome = checkers.check_files(EXACT, *files(tmp_path, one * 20, one * 10 + two * 10))
    assert len(outcome.diff.encode()) <= checkers.MAX_DIFF and outcome.diff.endswith("… (diff cut)\n")


def test_diff_of_many_short_lines_against_few_is_quick(tmp_path):
    # used to be difflib over whole files: 8,000 vs 80,000 lines took minutes
    output = b"".join(b"%d\n" % i for i in range(80_000))
    answer = b"".join(b"%d\n" % (i * 10) for i in range(8_000))
    outcome = checkers.check_files(LINES, *files(tmp_path, output, answer))
    assert outcome.message == "line 2: expected '10', got '1'"
    assert outcome.diff.count("\n") < 25


def test_builtin_only():
    with pytest.raises(ValueError):
        checkers.compare(Checker.parse("./check.cpp"), b"", b"")


def test_close_is_unchanged():
    assert checkers._close(b"1e-7", b"0", 1e-6) and not checkers._close(b"nan", b"1", 0.5)
    assert math.isclose(float(b"0.5"), 0.5)
