"""Scores through the real judge: groups (all-or-nothing, a dependency, a sum group) with the
tests the scorer skips, and partial points from custom checkers (testlib's exit 7 and
`points X`, and the score-line protocol), with the real sandbox and compilers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gavel_contract import Checker, Limits, Task, TestCase, TestVerdict, Verdict
from gavel_contract.languages import resolve
from gavel_runner.judge import judge

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="isolation needs root (the runner image runs as root)")

CAT = "import sys\nsys.stdout.write(sys.stdin.read())\n"  # prints its input: the input says what to print


@pytest.fixture
def judge_task(tmp_path: Path):
    """judge_task(source, language, [(name, input, answer, extra test fields)], groups=..., checker=...)"""
    count = iter(range(1_000_000))

    def run(source: str, language: str, cases: list[tuple], **task_fields):
        lang, ver = resolve(language)
        where = tmp_path / f"j{next(count)}"
        where.mkdir()
        (where / ver.source_file).write_text(source)
        tests = []
        for name, inp, ans, *extra in cases:
            (where / f"{name}.in").write_text(inp)
            (where / f"{name}.ans").write_text(ans)
            tests.append(TestCase(name=name, input=str(where / f"{name}.in"), expected=str(where / f"{name}.ans"),
                                  stdout=str(where / "out" / f"{name}.stdout"),
                                  diff=str(where / "out" / f"{name}.diff"),
                                  limits=Limits(timeMs=2000, memoryKb=65536), **(extra[0] if extra else {})))
        return judge(Task(language=ver, languageName=lang.name, submission=str(where / ver.source_file),
                          tests=tests, **task_fields))

    return run


def verdicts(result) -> dict[str, TestVerdict]:
    return {t.name: t.verdict for t in result.tests}


P, W, H, S = TestVerdict.PASSED, TestVerdict.WRONG_ANSWER, TestVerdict.PARTIAL, TestVerdict.SKIPPED

GROUPS = [{"name": "small", "points": 20},  # all-or-nothing
          {"name": "large", "points": 50, "dependsOn": ["small"]},
          {"name": "extra", "scoring": "sum"}]


def grouped(small_ok: bool) -> list[tuple]:
    return [("s1", "1\n", "1\n", {"group": "small"}),
            ("s2", "2\n", "2\n" if small_ok else "not 2\n", {"group": "small"}),
            ("s3", "3\n", "3\n", {"group": "small"}),
            ("l1", "4\n", "4\n", {"group": "large"}),
            ("e1", "5\n", "5\n", {"group": "extra", "points": 10}),
            ("e2", "6\n", "wrong\n", {"group": "extra", "points": 20}),
            ("e3", "7\n", "7\n", {"group": "extra", "points": 5}),
            ("solo", "8\n", "8\n", {"points": 3})]


def test_groups_skip_what_need_not_run_and_add_up(judge_task):
    result = judge_task(CAT, "python", grouped(small_ok=False), groups=GROUPS)
    assert result.verdict == Verdict.TEST_FAILED, result.message
    assert verdicts(result) == {"s1": P, "s2": W, "s3": S, "l1": S, "e1": P, "e2": W, "e3": P, "solo": P}
    by_name = {t.name: t for t in result.tests}
    assert by_name["s3"].message == "an earlier test of group small failed"
    assert by_name["l1"].message == "group large depends on group small, which did not score in full"
    assert by_name["s3"].cpu_time_ms == 0 and by_name["s3"].stdout is None  # never run
    assert (result.score, result.max_score) == (18, 108)  # extra 10 + 5, solo 3
    assert [(g.name, g.score, g.max_score, g.skipped) for g in result.groups] == [
        ("small", 0, 20, False), ("large", 0, 50, True), ("extra", 15, 35, False)]
    assert [by_name[n].points for n in ("e1", "e2", "e3", "solo")] == [10, 0, 5, 3]
    assert by_name["s1"].points is None  # scored with its all-or-nothing group
    assert result.message.startswith("4/8 tests passed, score 18/108; first failure: test s2: WrongAnswer")
    summary = result.summary()
    assert '"tests":"PWSSPWPP"' in summary and '"score":18' in summary and '"maxScore":108' in summary


def test_groups_in_full_are_accepted_with_every_point(judge_task):
    cases = [c if c[0] != "e2" else ("e2", "6\n", "6\n", c[3]) for c in grouped(small_ok=True)]
    result = judge_task(CAT, "python", cases, groups=GROUPS)
    assert result.verdict == Verdict.ACCEPTED, result.message
    assert (result.score, result.max_score) == (108, 108)
    assert [(g.name, g.score, g.skipped) for g in result.groups] == [
        ("small", 20, False), ("large", 50, False), ("extra", 35, False)]
    assert result.message == "8/8 tests passed, score 108/108"


def test_plain_task_scores_one_point_a_test_and_keeps_its_message(judge_task):
    result = judge_task(CAT, "python", [("1", "1\n", "1\n"), ("2", "2\n", "3\n")])
    assert (result.score, result.max_score, result.groups) == (1, 2, [])
    assert result.message.startswith("1/2 tests passed; first failure: test 2: WrongAnswer")


def test_fail_fast_still_skips_the_rest(judge_task):
    result = judge_task(CAT, "python", [("1", "1\n", "2\n"), ("2", "2\n", "2\n")], failFast=True)
    assert verdicts(result) == {"1": W, "2": S} and result.score == 0


# A testlib-style checker without testlib.h: the program's output says what to answer.
TESTLIB_CHECKER = r"""#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
    char word[64] = "", arg[64] = "";
    FILE *out = fopen(argv[2], "r");
    if (!out || fscanf(out, "%63s %63s", word, arg) < 1) { fprintf(stderr, "empty output\n"); return 1; }
    if (!strcmp(word, "ok")) { fprintf(stderr, "ok\n"); return 0; }
    if (!strcmp(word, "wa")) { fprintf(stderr, "wrong answer: wanted more\n"); return 1; }
    if (!strcmp(word, "half")) { fprintf(stderr, "points 0.5 half of it\n"); return 7; }
    if (!strcmp(word, "points")) { fprintf(stderr, "points %s given\n", arg); return 7; }
    if (!strcmp(word, "stdout")) { printf("points %s on stdout\n", arg); return 7; }
    if (!strcmp(word, "silent")) return 7;
    return 3;
}
"""


@pytest.fixture
def testlib_checker(tmp_path: Path) -> Checker:
    path = tmp_path / "check.c"
    path.write_text(TESTLIB_CHECKER)
    return Checker(kind="custom", program=str(path), language="c")


def test_testlib_partial_points(judge_task, testlib_checker):
    cases = [("ok", "ok\n", "", {"points": 4}), ("half", "half\n", "", {"points": 4}),
             ("wa", "wa\n", "", {"points": 4}), ("quarter", "points 0.25\n", "", {"points": 8}),
             ("out", "stdout 0.75\n", "", {"points": 4}), ("full", "points 1\n", "", {"points": 4}),
             ("over", "points 1.5\n", "", {"points": 4}), ("none", "points 0\n", "", {"points": 4})]
    result = judge_task(CAT, "python", cases, checker=testlib_checker)
    assert result.verdict == Verdict.TEST_FAILED, result.message
    assert verdicts(result) == {"ok": P, "half": H, "wa": W, "quarter": H, "out": H, "full": P, "over": P, "none": W}
    by_name = {t.name: t for t in result.tests}
    assert (by_name["half"].score, by_name["half"].points) == (0.5, 2)
    assert "half of it" in by_name["half"].message
    assert (by_name["quarter"].score, by_name["quarter"].points) == (0.25, 2)
    assert (by_name["out"].score, by_name["out"].points) == (0.75, 3)
    assert by_name["ok"].score is None and by_name["ok"].points == 4
    assert by_name["wa"].message == "wrong answer: wanted more"
    assert (result.score, result.max_score) == (4 + 2 + 2 + 3 + 4 + 4, 36)
    assert result.message.startswith("3/8 tests passed, score 19/36; first failure: test half: Partial")
    assert '"tests":"PHWHHPPW"' in result.summary()


def test_partial_in_a_min_group_and_an_all_group(judge_task, testlib_checker):
    groups = [{"name": "m", "points": 40, "scoring": "min", "shortCircuit": False}, {"name": "a", "points": 10}]
    cases = [("m1", "half\n", "", {"group": "m"}), ("m2", "ok\n", "", {"group": "m"}),
             ("a1", "half\n", "", {"group": "a"}), ("a2", "ok\n", "", {"group": "a"})]
    result = judge_task(CAT, "python", cases, checker=testlib_checker, groups=groups)
    assert verdicts(result) == {"m1": H, "m2": P, "a1": H, "a2": P}  # a partial test is not a failed one
    assert [(g.name, g.score) for g in result.groups] == [("m", 20), ("a", 0)]
    assert (result.score, result.max_score) == (20, 50)


@pytest.mark.parametrize("output, words", [
    ("points abc\n", "exit 7 (partial points) without `points X`"),
    ("points\n", "exit 7 (partial points) without `points X`"),
    ("points nan\n", "exit 7 (partial points) without `points X`"),
    ("silent\n", "exit 7 (partial points) without `points X`"),
    ("crash\n", "(exit 3, signal None)"),
])
def test_malformed_points_are_the_checkers_failure(judge_task, testlib_checker, output, words):
    result = judge_task(CAT, "python", [("1", "ok\n", ""), ("2", output, "")], checker=testlib_checker)
    assert result.verdict == Verdict.INTERNAL_ERROR, result.message
    assert result.message.startswith("custom checker failed on test 2") and words in result.message, result.message
    assert result.tests == []


SCORE_LINE_CHECKER = """import sys
said = open(sys.argv[2]).read().split()
if said[0] == "exit":
    sys.exit(int(said[1]))
print(said[0])
print("checked", len(said), "words")
print("a note on stderr", file=sys.stderr)
"""


@pytest.fixture
def score_line_checker(tmp_path: Path) -> Checker:
    path = tmp_path / "check.py"
    path.write_text(SCORE_LINE_CHECKER)
    return Checker(kind="custom", program=str(path), language="python", protocol="score-line")


def test_score_line_checker(judge_task, score_line_checker):
    cases = [("one", "1\n", "", {"points": 10}), ("zero", "0\n", "", {"points": 10}),
             ("part", "0.3\n", "", {"points": 10}), ("float", "1.0\n", "", {"points": 10})]
    result = judge_task(CAT, "python", cases, checker=score_line_checker)
    assert verdicts(result) == {"one": P, "zero": W, "part": H, "float": P}, result.message
    part = result.tests[2]
    assert (part.score, part.points) == (0.3, 3)
    assert part.message == "a note on stderr\nchecked 1 words"  # the score line itself is not repeated
    assert (result.score, result.max_score) == (23, 40)


@pytest.mark.parametrize("output, words", [
    ("x\n", "the first line of its stdout must be a score from 0 to 1, not 'x'"),
    ("1.5\n", "must be a score from 0 to 1, not '1.5'"),
    ("-0.5\n", "must be a score from 0 to 1"),
    ("exit 1\n", "(exit 1, signal None; the score-line protocol wants exit 0)"),
    ("exit 0\n", "must be a score from 0 to 1, not ''"),
])
def test_score_line_malformed_is_the_checkers_failure(judge_task, score_line_checker, output, words):
    result = judge_task(CAT, "python", [("1", output, "")], checker=score_line_checker)
    assert result.verdict == Verdict.INTERNAL_ERROR
    assert result.message.startswith("custom checker failed on test 1") and words in result.message, result.message


def test_built_in_checkers_give_no_partial(judge_task):
    result = judge_task(CAT, "python", [("1", "0.5\n", "1\n", {"points": 2})], checker=Checker.parse("float:1e-6"))
    assert verdicts(result) == {"1": W} and result.tests[0].score is None and result.score == 0
