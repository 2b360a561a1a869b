"""Interactive problems through the real judge: the program and the interactor (guess the number,
examples/problems/guess) run at once in two sandboxes, under two uids, talking through FIFOs;
the interactor decides the verdict and score, time and memory are the program's own; and what a
hostile program or a broken interactor can do ends in a verdict or an InternalError, never a hang."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gavel_contract import Interactor, Limits, Task, TestCase, TestVerdict, Verdict
from gavel_contract.languages import resolve
from gavel_runner.judge import judge

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="isolation needs root (the runner image runs as root)")

GUESS = Path(__file__).resolve().parents[2] / "examples" / "problems" / "guess"
SECRETS = [1, 37, 100]


def run(tmp_path: Path, source: str, language: str = "python", interactor: str | None = None,
        wall_ms: int = 4000) -> object:
    lang, ver = resolve(language)
    (tmp_path / ver.source_file).write_text(source)
    program = tmp_path / "interactor.py"
    program.write_text(interactor or (GUESS / "interactor.py").read_text())
    tests = []
    for i, secret in enumerate(SECRETS, 1):
        (tmp_path / f"{i}.in").write_text(f"{secret}\n")
        tests.append(TestCase(name=str(i), input=str(tmp_path / f"{i}.in"), expected=str(tmp_path / f"{i}.in"),
                              diff=str(tmp_path / f"{i}.diff"), limits=Limits(timeMs=1000, wallMs=wall_ms, memoryKb=65536)))
    return judge(Task(language=ver, languageName=lang.name, submission=str(tmp_path / ver.source_file), tests=tests,
                      interactor=Interactor(program=str(program), language="python")))


def verdicts(result) -> list[TestVerdict]:
    return [t.verdict for t in result.tests]


def test_binary_search_is_accepted_with_its_own_time_and_memory(tmp_path):
    result = run(tmp_path, (GUESS / "solutions" / "binary.c").read_text(), "c")
    assert result.verdict == Verdict.ACCEPTED and result.score == 3, result.message
    # the program's own measurement: a tiny static C program, not the Python interactor's 8 MB
    assert all(0 < t.memory_kb < 4000 for t in result.tests), [t.memory_kb for t in result.tests]


def test_the_interactor_gives_partial_points(tmp_path):
    result = run(tmp_path, (GUESS / "solutions" / "tens.py").read_text())
    assert verdicts(result) == [TestVerdict.PASSED, TestVerdict.PARTIAL, TestVerdict.PARTIAL]
    assert result.score == 2 and result.tests[1].score == 0.5 and "found in 11 guesses" in result.tests[1].message


@pytest.mark.parametrize("source, want", [
    ("pass\n", TestVerdict.WRONG_ANSWER),                               # ends at once: the interactor reads EOF
    ("print('x', flush=True)\ninput()\n", TestVerdict.WRONG_ANSWER),     # not a number
    ("while True:\n    pass\n", TestVerdict.TIME_LIMIT_EXCEEDED),       # its own CPU
    ("import time\ntime.sleep(60)\n", TestVerdict.TIME_LIMIT_EXCEEDED),  # idle: the interactor waits on it
    ("x = bytearray(200 << 20)\n", TestVerdict.MEMORY_LIMIT_EXCEEDED),
    # floods the interactor's stdin without reading: the interactor rejects the first line and ends;
    # the program's writes then fail (a closed pipe): the interactor's verdict
    ("import sys\nwhile True:\n    sys.stdout.write('9' * 65536 + '\\n')\n", TestVerdict.WRONG_ANSWER),
], ids=["ends", "not-a-number", "cpu", "idle", "memory", "flood"])
def test_a_misbehaving_program_gets_a_verdict(tmp_path, source, want):
    result = run(tmp_path, source)
    assert result.verdict == Verdict.TEST_FAILED and result.tests[1].verdict == want, \
        (result.message, [(t.verdict, t.message) for t in result.tests])


def test_the_program_cannot_read_the_secret_or_the_interactor(tmp_path):
    snoop = ("import glob, os\nfound = []\n"
             "for p in glob.glob('/tmp/**', recursive=True) + glob.glob('/proc/*/cmdline'):\n"
             "    try:\n        found.append(open(p).read(200))\n    except Exception:\n        pass\n"
             "secret = next((w for f in found for w in f.split() if w.isdigit() and 'in' in f), None)\n"
             "print(open(os.environ.get('NOPE', '/dev/null')).read() or 50, flush=True)\n")
    result = run(tmp_path, snoop)
    # guessing 50 once then reading EOF-less replies: never finds 1, 37 or 100 by reading files
    assert all(v != TestVerdict.PASSED for v in verdicts(result)), result.message


def test_a_broken_interactor_is_an_internal_error(tmp_path):
    result = run(tmp_path, (GUESS / "solutions" / "binary.py").read_text(), interactor="import sys\nsys.exit(5)\n")
    assert result.verdict == Verdict.INTERNAL_ERROR and "interactor failed on test 1 (exit 5" in result.message
    result = run(tmp_path / "x" if (tmp_path / "x").mkdir() is None else tmp_path,
                 (GUESS / "solutions" / "binary.py").read_text(), interactor="while True:\n    pass\n")
    assert result.verdict == Verdict.INTERNAL_ERROR and "interactor failed on test 1" in result.message, result.message


def test_a_program_gone_before_the_reply_is_a_wrong_answer_not_an_internal_error(tmp_path):
    """One guess, then exit: the interactor replies after the program has ended (it waits to make
    sure). Its reply must not fail it (a pipe without readers: Python's BrokenPipeError, exit 120,
    seen in a runner pod): it reads the end of the program's output and rejects."""
    slow = (GUESS / "interactor.py").read_text().replace(
        "    if guess == secret:", "    __import__('time').sleep(0.5)\n    if guess == secret:", 1)
    result = run(tmp_path, "print(50, flush=True)\n", interactor=slow)
    assert verdicts(result) == [TestVerdict.WRONG_ANSWER] * 3, [(t.verdict, t.message) for t in result.tests]
