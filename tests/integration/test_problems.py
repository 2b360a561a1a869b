"""The example problems through the real judge (sandbox, compilers): `gavel problem check` passes
on each (every listed solution gets its expected verdict and score), and `gavel judge --problem`
prints a partial solution's points, group scores and total."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBLEMS = ROOT / "examples" / "problems"
GAVEL = str(Path(sys.executable).parent / "gavel")


def gavel(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([GAVEL, *args], capture_output=True, text=True, timeout=600, cwd=ROOT)


@pytest.mark.parametrize("name", ["sum", "subtasks", "fileio", "guess"])
def test_problem_check_passes_on_each_example(name):
    run = gavel("problem", "check", str(PROBLEMS / name))
    lines = run.stdout.splitlines()
    assert run.returncode == 0, run.stdout + run.stderr
    assert lines[0].startswith(f"{name}: ") and "each with its answer" in lines[0]
    solutions = [line for line in lines[1:-1]]
    assert solutions and all(line.startswith("ok ") for line in solutions), run.stdout
    assert lines[-1] == f"{len(solutions)}/{len(solutions)} solutions as expected"


def rows(output: str, first: str) -> dict[str, list[str]]:
    """The rows of the table that starts with a header whose first column is `first`, by name."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:1] == [first])
    table = {}
    for line in lines[start + 1:]:
        if not line.strip():
            break
        table[line.split()[0]] = line.split()
    return table


def test_judge_with_a_problem_prints_the_partial_score_and_groups():
    run = gavel("judge", str(PROBLEMS / "subtasks" / "solutions" / "int64.cpp"), "--problem", str(PROBLEMS / "subtasks"))
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "score 70/100" in out and "TestFailed:" in out, out
    tests = rows(out, "test")
    assert tests["large-2"][:4] == ["large-2", "large", "Passed", "10/10"]
    assert tests["large-3"][:4] == ["large-3", "large", "WrongAnswer", "0/10"]
    groups = rows(out, "group")
    assert groups["small"][:4] == ["small", "20", "20", "all"]
    assert groups["medium"][:4] == ["medium", "30", "30", "all"]
    assert groups["large"][:4] == ["large", "20", "50", "sum"]


def test_a_failed_group_skips_the_group_that_depends_on_it():
    run = gavel("judge", str(PROBLEMS / "subtasks" / "solutions" / "zero.py"), "--problem", str(PROBLEMS / "subtasks"),
                "--language", "python")
    out = run.stdout
    assert run.returncode == 0 and "score 0/100" in out, out + run.stderr
    tests = rows(out, "test")
    assert tests["small-2"][2] == "Skipped"  # short-circuit after small-1
    assert all(tests[f"medium-{i}"][2] == "Skipped" for i in (1, 2, 3)), out
    assert "skipped" in " ".join(rows(out, "group")["medium"]), out


def test_file_io_partial_solution(tmp_path):
    run = gavel("judge", str(PROBLEMS / "fileio" / "solutions" / "from-zero.py"), "--problem",
                str(PROBLEMS / "fileio"), "--output-dir", str(tmp_path))
    out = run.stdout
    assert run.returncode == 0 and "score 50/100" in out, out + run.stderr
    tests = rows(out, "test")
    assert [tests[n][1] for n in "1234"] == ["Passed", "Passed", "WrongAnswer", "WrongAnswer"]
    assert [tests[n][2] for n in "1234"] == ["25/25", "25/25", "0/25", "0/25"]


def test_a_checker_compiles_with_the_header_its_problem_ships(tmp_path):
    """A testlib.h-style checker: the problem ships the header (lib/points.h here, as a problem ships
    testlib.h), placed beside the checker's source when it compiles; exit 7 with points gives half."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "lib").mkdir()
    (tmp_path / "tests" / "1.in").write_text("1 2\n")
    (tmp_path / "tests" / "1.out").write_text("3\n")
    (tmp_path / "lib" / "points.h").write_text(
        "#include <stdio.h>\n#include <stdlib.h>\n"
        "static void quitp(double x, const char *m) { fprintf(stderr, \"points %g\\n%s\\n\", x, m); exit(7); }\n")
    (tmp_path / "checker.c").write_text('#include "points.h"\nint main(void) { quitp(0.5, "half, always"); }\n')
    (tmp_path / "sum.py").write_text("a, b = map(int, input().split())\nprint(a + b)\n")
    (tmp_path / "problem.yaml").write_text(
        "name: half\ntests: {pattern: 'tests/*.in', points: 10}\n"
        "checker: {custom: {source: checker.c, language: c, files: [lib/points.h]}}\n")
    run = gavel("judge", str(tmp_path / "sum.py"), "--problem", str(tmp_path))
    assert run.returncode == 0 and "score 5/10" in run.stdout and "half, always" in run.stdout, run.stdout + run.stderr
