"""The checkers' options: ignoreCase, order: unordered, exact's whitespace-only note, and their validation.

test_checkers.py holds the checkers' base behaviour; this file checks the options against small
whole-file references (with chunk boundaries everywhere). Memory and time on large outputs:
tests/integration/test_checker_memory.py.
"""

import random
import sys
from collections import Counter

import pytest

from gavel_contract import Checker, CheckerKind, Order
from gavel_runner import checkers
from gavel_runner.checkers import _show


def checker(kind: str, order: str = "as-given", ignore_case: bool = False, **more) -> Checker:
    return Checker(kind=CheckerKind(kind), order=Order(order), ignoreCase=ignore_case, **more)


LINES_I, TOKENS_I, FLOAT_I = (checker(k, ignore_case=True) for k in ("lines", "tokens", "float"))
LINES_U, TOKENS_U = checker("lines", "unordered"), checker("tokens", "unordered")
LINES_UI, TOKENS_UI = checker("lines", "unordered", True), checker("tokens", "unordered", True)


def check(c: Checker, output: bytes, answer: bytes) -> tuple[bool, str]:
    """compare(), after checking that check_bytes() agrees and that its diff starts with the message."""
    ok, message = checkers.compare(c, output, answer)
    outcome = checkers.check_bytes(c, output, answer)
    assert (outcome.accepted, outcome.message) == (ok, message)
    assert outcome.diff == "" if ok else outcome.diff.startswith(message + "\n--- expected\n+++ output\n@@ -")
    return ok, message


# --- ignoreCase ---------------------------------------------------------------------------------------

def test_ignore_case_lines():
    assert check(LINES_I, b"Hello World  \r\nYES\n\n", b"hello world\nyes") == (True, "")
    # the message shows the real bytes, not the lower-cased ones
    assert check(LINES_I, b"Hello\nNO\n", b"hello\nYes\n") == (False, "line 2: expected 'Yes', got 'NO'")
    assert check(LINES_I, b"A\n", b"a\nB\n") == (False, "expected 2 lines, got 1")
    # ASCII only: bytes.lower() leaves other letters alone
    assert check(LINES_I, "É\n".encode(), "é\n".encode()) == (False, "line 1: expected 'é', got 'É'")
    # without the option, case counts
    assert checkers.lines(b"Hello\n", b"hello\n") == (False, "line 1: expected 'hello', got 'Hello'")


def test_ignore_case_tokens():
    assert check(TOKENS_I, b"HELLO\n  World", b"hello world\n") == (True, "")
    assert check(TOKENS_I, b"HELLO wOrLd", b"hello World!") == (False, "token 2: expected 'World!', got 'wOrLd'")
    assert check(TOKENS_I, b"A B", b"a b c") == (False, "expected 3 tokens, got 2")


def test_ignore_case_float_words():
    c = checker("float", ignore_case=True, epsilon=1e-3)
    assert check(c, b"YES 1.0001 No NaN INF", b"yes 1 no nan inf") == (True, "")
    assert check(c, b"YES 1.0001 Nope", b"yes 1 no") == (False, "token 3: expected 'no', got 'Nope'")
    assert check(c, b"Yes 1.1", b"YES 1") == (False, "token 2: expected '1', got '1.1'")
    assert check(checker("float", epsilon=1e-3), b"YES", b"yes") == (False, "token 1: expected 'yes', got 'YES'")


def test_ignore_case_long_tokens(monkeypatch):
    monkeypatch.setattr(checkers.bounds, "CHUNK", 4)
    monkeypatch.setattr(checkers.bounds, "FLOAT_CHUNK", 4)
    monkeypatch.setattr(checkers.bounds, "LONG_TOKEN", 6)  # tokens over 6 bytes are kept as a hash: of the lower case
    assert check(FLOAT_I, b"ABCDEFGHIJKLMNOP q", b"abcdefghijklmnop Q") == (True, "")
    assert check(FLOAT_I, b"ABCDEFGHIJKLMNOX q", b"abcdefghijklmnop Q") == (
        False, "token 1: expected 'abcdefghijklmnop', got 'ABCDEFGHIJKLMNOX'")
    assert check(LINES_UI, b"XYZ\nABCDEFGHIJKLMNOP\n", b"abcdefghijklmnop\nxyz") == (True, "")


def test_ignore_case_excerpt_shows_real_bytes_and_matches_without_case(tmp_path):
    (tmp_path / "out").write_bytes(b"A\nb\nX\n")
    (tmp_path / "ans").write_bytes(b"a\nB\nc\n")
    outcome = checkers.check_files(LINES_I, tmp_path / "out", tmp_path / "ans")
    assert outcome.message == "line 3: expected 'c', got 'X'"
    # lines 1 and 2 differ only in case: context, shown as the output has them
    assert outcome.diff == ("line 3: expected 'c', got 'X'\n--- expected\n+++ output\n@@ -1,3 +1,3 @@\n"
                            " A\n b\n-c\n+X\n")


# --- order: unordered -----------------------------------------------------------------------------------

def test_unordered_lines():
    assert check(LINES_U, b"3\n1\n2\n", b"1\n2\n3\n") == (True, "")
    assert check(LINES_U, b"b a\na b\n", b"a b\nb a") == (True, "")
    # the lines rule still holds for each line: trailing whitespace and trailing blank lines ignored
    assert check(LINES_U, b"2  \r\n1\t\n\n\n", b"1\n2") == (True, "")
    # ... but a line is a line: inner and leading spacing count, and so do blank lines before the end
    assert check(LINES_U, b"a  b\n", b"a b\n") == (False, "line 'a b' appears 1 time in the answer, 0 in the output")
    assert check(LINES_U, b"a\nb\n\n", b"a\n\nb\n") == (
        False, "expected 3 lines, got 2: line '' appears 1 time in the answer, 0 in the output")
    # a missing line is named first (the first in the answer), then an extra one (the first in the output)
    assert check(LINES_U, b"c\nb\nd\n", b"a\nb\nc\n") == (False, "line 'a' appears 1 time in the answer, 0 in the output")
    assert check(LINES_U, b"x\nb\na\nb\n", b"a\nb\n") == (
        False, "expected 2 lines, got 4: line 'x' appears 0 times in the answer, 1 in the output")
    assert check(LINES_U, b"b\na\nb\n", b"a\nb\nb\nb\n") == (
        False, "expected 4 lines, got 3: line 'b' appears 3 times in the answer, 2 in the output")
    assert check(LINES_U, b"", b"x\n") == (False, "expected 1 lines, got 0: line 'x' appears 1 time in the answer, "
                                                  "0 in the output")
    assert check(LINES_U, b"\n \n", b"") == (True, "")
    # case counts unless ignoreCase
    assert check(LINES_U, b"B\na\n", b"a\nb\n") == (False, "line 'b' appears 1 time in the answer, 0 in the output")


def test_unordered_tokens():
    assert check(TOKENS_U, b"3 2\n1", b"1\n2\n3") == (True, "")
    assert check(TOKENS_U, b"  c a b \n\n", b"a b c") == (True, "")
    assert check(TOKENS_U, b"3 2 1 1", b"1 2 3") == (
        False, "expected 3 tokens, got 4: token '1' appears 1 time in the answer, 2 in the output")
    assert check(TOKENS_U, b"1 2 4", b"1 2 3") == (False, "token '3' appears 1 time in the answer, 0 in the output")


def test_unordered_with_ignore_case():
    assert check(LINES_UI, b"B\nA  \n\n", b"a\nb\n") == (True, "")
    assert check(TOKENS_UI, b"B a\nC", b"c A b") == (True, "")
    # folded before counting: "A" and "a" are the same line; names show the real bytes of the first occurrence
    assert check(LINES_UI, b"A\nB\na\n", b"a\nb\n") == (
        False, "expected 2 lines, got 3: line 'A' appears 1 time in the answer, 2 in the output")
    assert check(LINES_UI, b"B\nC\n", b"a\nb\n") == (False, "line 'a' appears 1 time in the answer, 0 in the output")
    assert check(TOKENS_UI, b"a B X", b"A b c") == (False, "token 'c' appears 1 time in the answer, 0 in the output")
    assert check(TOKENS_UI, b"a B X c", b"A b c") == (
        False, "expected 3 tokens, got 4: token 'X' appears 0 times in the answer, 1 in the output")


def test_unordered_excerpt_is_around_the_named_item(tmp_path):
    answer = b"".join(b"%d\n" % i for i in range(1, 101))
    output = b"".join(b"%d\n" % i for i in range(100, 0, -1) if i != 50)
    (tmp_path / "out").write_bytes(output)
    (tmp_path / "ans").write_bytes(answer)
    outcome = checkers.check_files(LINES_U, tmp_path / "out", tmp_path / "ans")
    assert outcome.message == "expected 100 lines, got 99: line '50' appears 1 time in the answer, 0 in the output"
    rows = outcome.diff.splitlines()
    # the answer's lines 47-53, line 50 marked; the output's lines 47-53 (it has no line "50")
    assert rows[3] == "@@ -47,7 +47,7 @@" and "-50" in rows and sum(r[0] in " +" for r in rows[4:]) == 7
    # tokens: around the token's own line
    outcome = checkers.check_files(TOKENS_U, tmp_path / "out", tmp_path / "ans")
    assert outcome.message == "expected 100 tokens, got 99: token '50' appears 1 time in the answer, 0 in the output"
    assert outcome.diff.splitlines()[3] == "@@ -47,7 +47,7 @@"


def test_unordered_names_an_extra_item_in_the_output(tmp_path):
    (tmp_path / "out").write_bytes(b"1\n2\nX\n3\n")
    (tmp_path / "ans").write_bytes(b"3\n2\n1\n")
    outcome = checkers.check_files(LINES_U, tmp_path / "out", tmp_path / "ans")
    assert outcome.message == "expected 3 lines, got 4: line 'X' appears 0 times in the answer, 1 in the output"
    assert "\n+X\n" in outcome.diff and outcome.diff.splitlines()[3] == "@@ -1,3 +1,4 @@"


def test_fingerprint_key_is_random_per_call():
    a, b = checkers._Fingerprint(), checkers._Fingerprint()
    assert a.key != b.key
    items = [b"1", b"2", b"abc"]
    assert a.values(items) != b.values(items)
    assert a.total(items) == sum(a.values(items)) == a.total(items[::-1])


@pytest.mark.parametrize("siphash", [True, False], ids=["siphash", "blake2b"])
def test_unordered_with_either_hash(monkeypatch, siphash):
    """Python's own hash (when its key is secret to the process) or a keyed BLAKE2b: the same verdicts."""
    monkeypatch.setattr(checkers.unordered, "_SIPHASH", siphash)
    assert check(LINES_U, b"b\na\n", b"a\nb\n") == (True, "")
    assert check(TOKENS_UI, b"B A", b"a b") == (True, "")
    assert check(LINES_U, b"b\nc\n", b"a\nb\n") == (False, "line 'a' appears 1 time in the answer, 0 in the output")
    monkeypatch.setattr(checkers.bounds, "EXACT_ITEMS", 0)  # the bucket passes too: which item they name depends on
    for _ in range(20):  # the hash (with blake2b, the call's key), so compare() and check_bytes() may differ
        assert checkers.compare(LINES_U, b"b\nc\n", b"a\nb\n")[1] in (
            "line 'a' appears 1 time in the answer, 0 in the output", "line 'c' appears 0 times in the answer, 1 in the output")


def test_hash_is_secret_only_without_a_fixed_seed(monkeypatch):
    monkeypatch.delenv("PYTHONHASHSEED", raising=False)
    assert checkers._hash_is_secret() == bool(sys.flags.hash_randomization)
    for seed in ("0", "1234"):
        monkeypatch.setenv("PYTHONHASHSEED", seed)
        assert checkers._hash_is_secret() is bool(sys.flags.ignore_environment and sys.flags.hash_randomization)


# --- the options against whole-file references ----------------------------------------------------------

def line_items(data: bytes) -> list[bytes]:
    lines = [line.rstrip(b" \t\r\v\f") for line in data.split(b"\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def ref_in_order(output: bytes, answer: bytes, tokens: bool, fold: bool, epsilon: float | None = None,
                 long: int = 1 << 20) -> tuple[bool, str]:
    """lines, tokens or float, as the old whole-file checkers, comparing lower-cased with fold."""
    noun, items = ("token", bytes.split) if tokens else ("line", line_items)
    got, want = items(output), items(answer)
    for i, (g, w) in enumerate(zip(got, want), 1):
        if (g.lower() == w.lower()) if fold else g == w:
            continue
        if epsilon is not None and max(len(g), len(w)) <= long and checkers._close(g, w, epsilon):
            continue
        return False, f"{noun} {i}: expected {_show(w)}, got {_show(g)}"
    if len(got) != len(want):
        return False, f"expected {len(want)} {noun}s, got {len(got)}"
    return True, ""


def ref_unordered(output: bytes, answer: bytes, tokens: bool, fold: bool) -> tuple[bool, str, set[str]]:
    """(accepted, message, the messages allowed): whole files in Counters. With all the items counted the
    checker names the first missing item, else the first extra one (message); when it counts one bucket
    of them, any item whose count differs, or none (rarely)."""
    noun, items = ("token", bytes.split) if tokens else ("line", line_items)
    got_real, want_real = items(output), items(answer)
    key = bytes.lower if fold else bytes
    got, want = Counter(map(key, got_real)), Counter(map(key, want_real))
    if got == want:
        return True, "", set()
    counts = f"expected {len(want_real)} {noun}s, got {len(got_real)}: " if len(want_real) != len(got_real) else ""

    def named(k: bytes) -> str:
        real = next(x for x in (want_real if want[k] > got[k] else got_real) if key(x) == k)
        n = want[k]
        return f"{counts}{noun} {_show(real)} appears {n} time{'' if n == 1 else 's'} in the answer, {got[k]} in the output"

    missing = [k for k in dict.fromkeys(map(key, want_real)) if want[k] > got[k]]
    extra = [k for k in dict.fromkeys(map(key, got_real)) if got[k] > want[k]]
    fallback = (counts[:-2] if counts else f"the {noun}s differ") + f" (not the answer's {noun}s in some order)"
    return False, named((missing or extra)[0]), {named(k) for k in missing + extra} | {fallback}


WORDS = [b"a", b"A", b"b", b"B", b"ab", b"aB", b"1", b"1.0", b"\xc3\xa9", b"\xc3\x89", b"", b"abcdefgh", b"ABCDEFGH"]
SPACES = [b" ", b"  ", b"\t", b"\r", b"\v"]


def random_line(rng: random.Random) -> bytes:
    return b"".join(rng.choice(WORDS) + rng.choice(SPACES) * rng.randrange(2) for _ in range(rng.randrange(3)))


def shuffled_pair(rng: random.Random) -> tuple[bytes, bytes]:
    """An answer and an output that is its lines in another order, with a few edits: case changed, trailing
    whitespace, a line changed, dropped or added, lines joined or split, trailing blank lines."""
    answer = [random_line(rng) for _ in range(rng.randrange(0, 9))]
    output = answer[:]
    rng.shuffle(output)
    for _ in range(rng.randrange(0, 3)):
        at, op = rng.randrange(len(output) + 1), rng.randrange(6)
        if op == 0 and at < len(output):
            output[at] = output[at].swapcase()
        elif op == 1 and at < len(output):
            output[at] += rng.choice(SPACES)
        elif op == 2 and at < len(output):
            output[at] = random_line(rng)
        elif op == 3 and at < len(output):
            del output[at]
        elif op == 4:
            output.insert(at, random_line(rng))
        elif op == 5 and at + 1 < len(output):
            output[at:at + 2] = [output[at] + b" " + output[at + 1]]
    end = rng.choice([b"", b"\n", b"\n\n", b"\n \n\t"])
    return rng.choice([b"\n", b"\r\n"]).join(output) + end, b"\n".join(answer) + rng.choice([b"", b"\n"])


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 64])
def test_options_agree_with_the_whole_file_references(monkeypatch, chunk):
    monkeypatch.setattr(checkers.bounds, "CHUNK", chunk)
    monkeypatch.setattr(checkers.bounds, "FLOAT_CHUNK", chunk)
    monkeypatch.setattr(checkers.bounds, "LONG_TOKEN", 6)  # "abcdefgh", and lines over 6 bytes, are long items
    rng = random.Random(chunk)
    verdicts = Counter()
    for _ in range(400):
        output, answer = shuffled_pair(rng)
        case = (output, answer)
        for tokens in (False, True):
            for fold in (False, True):
                kind = "tokens" if tokens else "lines"
                assert check(checker(kind, ignore_case=fold), output, answer) == \
                    ref_in_order(output, answer, tokens, fold), case
                ok, message, _ = ref_unordered(output, answer, tokens, fold)
                assert check(checker(kind, "unordered", fold), output, answer) == (ok, message), case
                verdicts[ok] += 1
        assert check(FLOAT_I, output, answer) == ref_in_order(output, answer, True, True, 1e-6, long=6), case
    assert verdicts[True] > 200 and verdicts[False] > 200  # both verdicts are well exercised


@pytest.mark.parametrize("bits", [1, 2, 13])
def test_unordered_buckets_name_a_differing_item(monkeypatch, bits):
    """Beyond EXACT_ITEMS the naming pass counts one bucket of items; with 2 or 4 buckets, the differing
    items often share one (then the low bits' buckets are tried) or both (then none is named)."""
    monkeypatch.setattr(checkers.bounds, "CHUNK", 3)
    monkeypatch.setattr(checkers.bounds, "FLOAT_CHUNK", 3)
    monkeypatch.setattr(checkers.bounds, "LONG_TOKEN", 6)
    monkeypatch.setattr(checkers.bounds, "EXACT_ITEMS", 0)
    monkeypatch.setattr(checkers.bounds, "BUCKET_BITS", bits)
    low_bits = Counter()  # eq is only used to select a bucket by the low bits
    monkeypatch.setattr(checkers.unordered, "eq", lambda a, b: low_bits.update([a == b]) or a == b)
    rng = random.Random(bits)
    named = unnamed = 0
    for _ in range(400):
        output, answer = shuffled_pair(rng)
        for tokens in (False, True):
            ok, _, messages = ref_unordered(output, answer, tokens, True)
            c = checker("tokens" if tokens else "lines", "unordered", True)
            got, outcome = checkers.compare(c, output, answer), checkers.check_bytes(c, output, answer)
            assert got[0] == outcome.accepted == ok and (ok or {got[1], outcome.message} <= messages), (
                output, answer, got, messages)
            assert outcome.diff.startswith(outcome.message + "\n--- expected\n+++ output\n@@ -") or ok
            if not ok:
                unnamed += "(not the answer's" in got[1]
                named += "(not the answer's" not in got[1]
    # which items share buckets depends on the process's hash key: only near-certainties are asserted
    assert named > 100
    assert unnamed > 0 if bits == 1 else unnamed == 0 if bits == 13 else True  # 2**-26 a case with 13 bits
    assert low_bits[True] > 0 or bits == 13


def test_unordered_repetitive_batches(monkeypatch):
    """Batches that repeat their items are hashed and counted one distinct item at a time."""
    rng = random.Random(3)
    words = [b"YES", b"NO", b"MAYBE"]
    answer = [rng.choice(words) for _ in range(60_000)]
    output = answer[:]
    rng.shuffle(output)
    assert check(LINES_U, b"\n".join(output), b"\n".join(answer)) == (True, "")
    old, output[12_345], n = output[12_345], b"yes", Counter(answer)
    assert check(LINES_U, b"\n".join(output), b"\n".join(answer))[1] in {
        f"line {_show(old)} appears {n[old]} times in the answer, {n[old] - 1} in the output",
        "line 'yes' appears 0 times in the answer, 1 in the output"}
    assert check(LINES_UI, b"\n".join(output), b"\n".join(answer))[0] is (old == b"YES")
    # repetitive at first, then all different: the distinct items are many, counted in C
    answer = [b"1"] * 3000 + [b"%d" % i for i in range(40_000)]
    output = answer[::-1]
    assert check(TOKENS_U, b" ".join(output), b" ".join(answer)) == (True, "")
    output[-1] = b"2"
    assert check(TOKENS_U, b" ".join(output), b" ".join(answer))[1] in {
        "token '1' appears 3001 times in the answer, 3000 in the output",
        "token '2' appears 1 time in the answer, 2 in the output"}


def test_unordered_long_items(monkeypatch):
    monkeypatch.setattr(checkers.bounds, "CHUNK", 5)
    monkeypatch.setattr(checkers.bounds, "FLOAT_CHUNK", 5)
    monkeypatch.setattr(checkers.bounds, "LONG_TOKEN", 8)
    long_a, long_b = b"a" * 30, b"a" * 29 + b"b"
    assert check(LINES_U, b"x\n" + long_a + b"\ny", b"y\nx\n" + long_a) == (True, "")
    assert check(TOKENS_U, long_a + b" " + long_b, long_b + b"\n" + long_a) == (True, "")
    assert check(LINES_U, b"x\n" + long_b, long_a + b"\nx") == (
        False, f"line {_show(long_a)} appears 1 time in the answer, 0 in the output")
    # a long item (over 8 bytes) and a short one
    assert check(TOKENS_U, b"a" * 8, b"a" * 9) == (
        False, "token 'aaaaaaaaa' appears 1 time in the answer, 0 in the output")


# --- exact: whitespace only --------------------------------------------------------------------------------

def test_exact_says_when_only_whitespace_differs():
    exact = checker("exact")
    assert check(exact, b"1 2\n", b"1 2\n") == (True, "")
    assert check(exact, b"1  2\r\n", b"1 2\n") == (
        False, "byte 2 (line 1) differs: output has 6 bytes, answer 4; "
               "the output differs only in whitespace (presentation error)")
    assert check(exact, b"1 2", b"1\n2\n")[1].endswith("only in whitespace (presentation error)")
    assert check(exact, b"", b"\n\n")[1].endswith("only in whitespace (presentation error)")
    # different tokens, or only case: no such note
    assert check(exact, b"1 3\n", b"1 2\n") == (False, "byte 2 (line 1) differs: output has 4 bytes, answer 4")
    assert "whitespace" not in check(exact, b"A\n", b"a\n")[1]
    assert "whitespace" not in check(exact, b"1 2 3", b"1 2")[1]


# --- validation -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("options, error", [
    (dict(kind="exact", ignoreCase=True), "ignoreCase is for the lines, tokens and float checkers, not exact"),
    (dict(kind="exact", order="unordered"), "order unordered is for the lines and tokens checkers, not exact"),
    (dict(kind="float", order="unordered"), "order unordered is for the lines and tokens checkers, not float"),
    (dict(kind="custom", program="./check.cpp", ignoreCase=True), "ignoreCase is for the lines, tokens and float "
                                                                  "checkers, not custom (which decides itself)"),
    (dict(kind="custom", program="./check.cpp", order="unordered"), "order unordered is for the lines and tokens"),
    (dict(kind="exact", order="unordered", ignoreCase=True), "not exact (which compares bytes); order unordered"),
])
def test_validation_refuses_options_a_checker_cannot_honour(options, error):
    c = Checker(**options)
    with pytest.raises(ValueError, match=error.replace("(", r"\(").replace(")", r"\)")):
        checkers.validate(c)
    if c.kind is not CheckerKind.CUSTOM:
        with pytest.raises(ValueError, match="is for the"):
            checkers.compare(c, b"", b"")
        with pytest.raises(ValueError, match="is for the"):
            checkers.check_bytes(c, b"", b"")


@pytest.mark.parametrize("options", [
    dict(kind="lines", ignoreCase=True, order="unordered"), dict(kind="tokens", ignoreCase=True, order="unordered"),
    dict(kind="float", ignoreCase=True, epsilon=1e-3), dict(kind="exact"), dict(kind="custom", program="./c"),
    dict(kind="lines"),
])
def test_validation_accepts_the_rest(options):
    checkers.validate(Checker(**options))


def test_custom_is_still_not_built_in():
    with pytest.raises(ValueError, match="not a built-in checker"):
        checkers.compare(Checker(kind=CheckerKind.CUSTOM, program="./check.cpp"), b"", b"")
