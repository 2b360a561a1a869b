"""Problem packages (the problem package format, legacy and 2023-07-draft) through the real judge
(sandbox, compilers): Gavel's own example packages (examples/packages, written from the
specification) and problemtools' examples (written by others, fetched from PyPI at test time: see
tests/others.py) pass `gavel problem check` as problemtools' verifyproblem would have them pass,
but for what Gavel cannot judge yet (said, and counted here)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import others
from gavel_contract import Checker, CheckerKind, CheckerProtocol, Interactor, Limits, Task, TestCase, TestVerdict
from gavel_contract.languages import resolve
from gavel_runner import checkers
from gavel_runner.judge import judge

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ROOT / "examples" / "packages"
GAVEL = str(Path(sys.executable).parent / "gavel")


def gavel(*args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([GAVEL, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def check_json(directory: Path) -> tuple[int, dict]:
    run = gavel("problem", "check", str(directory), "--json")
    assert run.stdout.strip(), run.stderr
    return run.returncode, json.loads(run.stdout)


# --- Gavel's own packages ------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["pairsum", "average", "higherlower"])
def test_each_example_package_passes_its_check(name):
    code, report = check_json(PACKAGES / name)
    subs = report["submissions"]
    assert code == 0 and subs and all(s["ok"] for s in subs), json.dumps(report, indent=1)
    assert {s["path"].split("/")[1] for s in subs} >= {"accepted", "wrong_answer", "time_limit_exceeded",
                                                       "run_time_error"}
    for s in subs:
        assert set(s) >= {"path", "expected", "verdict", "score", "timeMs"}


def test_the_check_report_says_verdicts_scores_and_the_time_limit():
    code, report = check_json(PACKAGES / "average")
    assert code == 0
    assert report["version"] == "2023-07-draft" and report["type"] == "scoring"
    assert report["timeLimit"]["source"] == "limits.time_limit" and report["timeLimit"]["ms"] == 1000
    assert report["timeLimit"]["tleMs"] == 1500
    subs = {s["path"]: s for s in report["submissions"]}
    assert subs["submissions/accepted/mean.py"]["score"] == 100
    assert subs["submissions/rejected/int32.c"]["score"] == 47.5
    assert subs["submissions/rejected/int32.c"]["verdict"] == "WA"


def test_a_computed_time_limit_is_stated_and_written(tmp_path):
    package = tmp_path / "pairsum"
    shutil.copytree(PACKAGES / "pairsum", package)
    run = gavel("problem", "check", str(package), "--write-timelimit")
    assert run.returncode == 0, run.stdout + run.stderr
    line = next(x for x in run.stdout.splitlines() if x.startswith("time limit:"))
    assert "computed" in line and "times 5 (time_multiplier)" in line and "x 2, time_safety_margin" in line, line
    written = float((package / ".timelimit").read_text())
    assert written >= 1 and written == int(written)
    # judging now uses it, and says nothing about a missing time limit
    run = gavel("judge", str(package / "submissions" / "accepted" / "pairs.py"), "--problem", str(package))
    assert run.returncode == 0 and "Accepted: 9/9 tests passed" in run.stdout, run.stdout + run.stderr
    assert "no time limit" not in run.stderr
    code, report = check_json(package)
    assert report["timeLimit"]["source"] == ".timelimit" and report["timeLimit"]["ms"] == written * 1000


def test_judge_with_a_package_prints_groups_validator_messages_and_partial_points():
    run = gavel("judge", str(PACKAGES / "higherlower" / "submissions" / "partially_accepted" / "hundreds.py"),
                "--problem", str(PACKAGES / "higherlower"))
    assert run.returncode == 0, run.stderr
    assert "score 82/100" in run.stdout, run.stdout
    rows = {line.split()[0]: line for line in run.stdout.splitlines() if line.startswith("secret.")}
    assert "Partial" in rows["secret.04"] and "2/20" in rows["secret.04"] and "in 23 guesses" in rows["secret.04"]
    run = gavel("judge", str(PACKAGES / "pairsum" / "submissions" / "wrong_answer" / "zero_based.py"),
                "--problem", str(PACKAGES / "pairsum"))
    # the sample group runs on (on_reject: continue), the secret groups depend on it (the root breaks)
    assert "a[0] + a[1]" not in run.stdout and "indices 0 1 are not" in run.stdout, run.stdout
    assert "Skipped" in run.stdout and "depends on group sample" in run.stdout


def test_a_default_validator_flag_it_does_not_know_is_refused(tmp_path):
    package = tmp_path / "average"
    shutil.copytree(PACKAGES / "average", package)
    (package / "data" / "secret" / "group2" / "04-one.yaml").write_text("output_validator_args: [float_tolerence, 1]\n")
    run = gavel("problem", "check", str(package))
    assert run.returncode == 2 and "has no flag 'float_tolerence'" in run.stderr, run.stderr


# --- problemtools' examples (by others) -----------------------------------------------------------

# Gavel's Java takes a program whose public class is Main (multi-file submissions and the class's
# detection are the issue's next item): problemtools' Java examples name theirs otherwise.
JAVA_NAMED_OTHERWISE = {"hello": ["accepted/hello.java"], "different": ["accepted/Different.java"],
                        "guess": ["accepted/guess.java", "wrong_answer/GuessCrash.java"], "oddecho": []}


@pytest.mark.parametrize("name", ["hello", "different", "guess", "oddecho"])
def test_problemtools_examples(name):
    top = others.problemtools()
    code, report = check_json(top / "examples" / name)
    subs = {s["path"].removeprefix("submissions/"): s for s in report["submissions"]}
    judged = {p: s for p, s in subs.items() if s["verdict"] is not None}
    failed = sorted(p for p, s in judged.items() if not s["ok"])
    assert failed == JAVA_NAMED_OTHERWISE[name], json.dumps(report, indent=1)
    assert all(judged[p]["verdict"] == "CE" for p in failed)
    skipped = {p: s["skipped"] for p, s in subs.items() if s["verdict"] is None}
    assert all("not supported" in why for why in skipped.values()), skipped
    assert len(judged) >= {"hello": 7, "different": 16, "guess": 12, "oddecho": 3}[name]
    if name == "different":  # the family images' languages, by the spec's suffixes; Scala's object found by main
        assert {p for p in judged if judged[p]["ok"]} >= {
            "accepted/Different.scala", "accepted/different.cs", "accepted/different.hs", "accepted/different.ml",
            "accepted/different.php", "accepted/different.rb"}
        assert "not supported, Gavel's prolog takes one source file" in skipped["accepted/prolog"]
    assert report["timeLimit"]["source"] == "computed"
    if name == "oddecho":
        assert judged["partially_accepted/sol.py"]["score"] == 50 and judged["accepted/js.py"]["score"] == 100
    if name == "guess":  # the validator's rejection comes first, whatever the program does after
        assert judged["wrong_answer/guess_tle.cc"]["verdict"] == "WA"
        assert judged["time_limit_exceeded/guess_no_flush.cc"]["verdict"] == "TLE"
        assert judged["run_time_error/guess_rte.c"]["verdict"] == "RTE"


def test_problemtools_default_validator_cases_agree_with_the_kattis_checker():
    cases = sorted((others.problemtools() / "tests" / "default_validator_tests").glob("test_*"))
    assert len(cases) >= 20
    kattis = Checker(kind=CheckerKind.KATTIS)
    for case in cases:
        args = (case / "args.txt").read_text().split() if (case / "args.txt").exists() else []
        want = int((case / "expected_exit_code.txt").read_text())
        outcome = checkers.check_files(kattis, case / "user.out", case / "judge.ans", args)
        assert outcome.accepted == (want == 42), (case.name, args, outcome.message)


# --- kattis validators in the sandbox -------------------------------------------------------------

def _task(tmp_path: Path, source: str, language: str, checker: Checker | None = None,
          interactor: Interactor | None = None, tests: dict[str, tuple[str, str]] | None = None,
          args: list[str] = (), points: float = 1) -> Task:
    lang, ver = resolve(language)
    src = tmp_path / f"sub-{ver.source_file}"
    src.write_text(source)
    cases = []
    for name, (inp, ans) in (tests or {"1": ("1 2\n", "3\n")}).items():
        (tmp_path / f"{name}.in").write_text(inp)
        (tmp_path / f"{name}.ans").write_text(ans)
        cases.append(TestCase(name=name, input=str(tmp_path / f"{name}.in"), expected=str(tmp_path / f"{name}.ans"),
                              limits=Limits(timeMs=2000, memoryKb=262144), checkerArgs=list(args), points=points))
    return Task(language=ver, languageName=lang.name, submission=str(src), tests=cases,
                checker=checker or Checker(), interactor=interactor)


def _validator(tmp_path: Path, body: str, protocol=CheckerProtocol.KATTIS) -> Checker:
    path = tmp_path / "validate.py"
    path.write_text(body)
    return Checker(kind=CheckerKind.CUSTOM, program=str(path), language="python", protocol=protocol)


SUM = "a, b = map(int, input().split())\nprint(a + b)\n"


def test_a_kattis_validator_reads_the_output_on_stdin_and_says_why_in_judgemessage(tmp_path):
    body = ("import sys\ninp, ans, fb = sys.argv[1:4]\nextra = sys.argv[4:]\nout = sys.stdin.read().split()\n"
            "ok = out == open(ans).read().split()\n"
            "open(fb + 'judgemessage.txt', 'w').write(f'got {out} args {extra}')\nsys.exit(42 if ok else 43)\n")
    checker = _validator(tmp_path, body)
    result = judge(_task(tmp_path, SUM, "python", checker, args=["case_sensitive", "7"]))
    assert result.tests[0].verdict == TestVerdict.PASSED
    assert result.tests[0].message == "got ['3'] args ['case_sensitive', '7']"
    result = judge(_task(tmp_path, "print(4)\n", "python", checker))
    assert result.tests[0].verdict == TestVerdict.WRONG_ANSWER and result.tests[0].message == "got ['4'] args []"


def test_a_kattis_validator_exiting_otherwise_is_an_internal_error(tmp_path):
    checker = _validator(tmp_path, "import sys\nsys.stdin.read()\nsys.exit(0)\n")
    result = judge(_task(tmp_path, SUM, "python", checker))
    assert result.verdict.value == "InternalError" and "exits 42 to accept, 43 to reject" in result.message


def test_kattis_scores_are_parts_of_a_tests_points(tmp_path):
    body = ("import sys\nfb = sys.argv[3]\nsys.stdin.read()\nopen(fb + sys.argv[4], 'w').write(sys.argv[5])\n"
            "sys.exit(42)\n")
    checker = _validator(tmp_path, body, CheckerProtocol.KATTIS_SCORE)
    cases = {"score.txt 5": (TestVerdict.PARTIAL, 0.5), "score.txt 10": (TestVerdict.PASSED, None),
             "score_multiplier.txt 0.25": (TestVerdict.PARTIAL, 0.25), "score.txt 0": (TestVerdict.PARTIAL, 0.0)}
    for args, (verdict, score) in cases.items():
        result = judge(_task(tmp_path, SUM, "python", checker, args=args.split(), points=10))
        assert (result.tests[0].verdict, result.tests[0].score) == (verdict, score), (args, result.message)
    result = judge(_task(tmp_path, SUM, "python", checker, args=["score.txt", "11"], points=10))
    assert result.verdict.value == "InternalError" and "above the test's 10 points" in result.message
    # protocol kattis (no score): the files are not read
    result = judge(_task(tmp_path, SUM, "python", _validator(tmp_path, body), args=["score.txt", "5"], points=10))
    assert result.tests[0].verdict == TestVerdict.PASSED and result.tests[0].score is None


def test_a_validator_cannot_make_root_read_through_its_feedback_directory(tmp_path):
    """judgemessage.txt as a symlink to the answers, a FIFO, or the directory swapped for a link:
    nothing is followed, nothing blocks, and the verdict still stands."""
    secret = tmp_path / "1.ans"
    body = ("import os, sys\nfb = sys.argv[3]\nsys.stdin.read()\nmode = sys.argv[4]\n"
            "if mode == 'link': os.symlink(%r, fb + 'judgemessage.txt')\n"
            "if mode == 'fifo': os.mkfifo(fb + 'judgemessage.txt')\n"
            "if mode == 'swap':\n    os.rename(fb, fb.rstrip('/') + '-old')\n    os.symlink('/etc', fb.rstrip('/'))\n"
            "sys.exit(43)\n") % str(secret)
    checker = _validator(tmp_path, body)
    for mode in ("link", "fifo", "swap"):
        result = judge(_task(tmp_path, SUM, "python", checker, args=[mode]))
        assert result.tests[0].verdict == TestVerdict.WRONG_ANSWER, (mode, result.message)
        assert "3" not in result.tests[0].message, (mode, result.tests[0].message)


def test_a_kattis_interactor_rejecting_first_stops_a_program_that_would_spin(tmp_path):
    (tmp_path / "v.py").write_text("import sys\nsys.stdin.readline()\nopen(sys.argv[3] + 'judgemessage.txt', 'w')"
                                   ".write('no')\nsys.exit(43)\n")
    interactor = Interactor(program=str(tmp_path / "v.py"), language="python", protocol=CheckerProtocol.KATTIS)
    spin = "print(1, flush=True)\nwhile True:\n    pass\n"
    result = judge(_task(tmp_path, spin, "python", interactor=interactor))
    test = result.tests[0]
    assert test.verdict == TestVerdict.WRONG_ANSWER and test.message == "no", result
    assert test.cpu_time_ms < 1500  # stopped, not run to its limit of 2000 ms


def test_a_kattis_interactor_reading_the_end_of_a_crashed_program_leaves_the_crash_the_verdict(tmp_path):
    """The program ends first (a crash, or killed at its wall limit while both wait): the validator
    rejects only because it read the end; the program's own verdict stands, as in problemtools."""
    (tmp_path / "v.py").write_text("import sys\nif not sys.stdin.readline():\n    sys.exit(43)\nsys.exit(42)\n")
    interactor = Interactor(program=str(tmp_path / "v.py"), language="python", protocol=CheckerProtocol.KATTIS)
    for _ in range(3):
        result = judge(_task(tmp_path, "raise SystemExit(3)\n", "python", interactor=interactor))
        assert result.tests[0].verdict == TestVerdict.RUNTIME_ERROR, result
    waits = "import sys\nsys.stdout.write('1\\n')\nsys.stdin.readline()\n"  # never flushed: both wait
    result = judge(_task(tmp_path, waits, "python", interactor=interactor))
    assert result.tests[0].verdict == TestVerdict.TIME_LIMIT_EXCEEDED, result
