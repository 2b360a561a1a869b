"""problem.yaml: the model, the loader's errors (each naming the file and the field), pattern
discovery in natural order, group rules, the Task it builds, `gavel problem check` with a fake judge."""

import json
import os
from pathlib import Path

import pytest
import yaml

from gavel_contract import CheckerKind, GroupScoring, Result, TestResult, TestVerdict, Verdict
from gavel_contract.problem import Problem, ProblemError, glob_match, glob_may_enter, natural_key
from gavel_runner import cli
from gavel_runner.problems import check_solution, load, task_for

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "problems"


def make(root: Path, problem: dict | str, files: dict[str, str] | None = None) -> Path:
    """A problem directory: problem.yaml (a dict is dumped as YAML) and files (path -> content)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "problem.yaml").write_text(problem if isinstance(problem, str) else yaml.safe_dump(problem))
    for path, text in (files or {}).items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return root


def case_files(*names: str, answer: str = ".out") -> dict[str, str]:
    out = {}
    for name in names:
        out[f"tests/{name}.in"] = "1 2\n"
        out[f"tests/{name}{answer}"] = "3\n"
    return out


def refused(root: Path, *words: str) -> str:
    with pytest.raises(ProblemError) as err:
        load(root)
    text = str(err.value)
    assert text.startswith(str(root / "problem.yaml") + ": "), text
    for w in words:
        assert w in text, text
    return text


# --- examples and schema ---------------------------------------------------------------------

@pytest.mark.parametrize("name", ["sum", "subtasks", "fileio"])
def test_every_example_loads_and_lists_solutions_of_each_kind(name):
    problem = load(EXAMPLES / name)
    assert problem.name == name and problem.tests and problem.resolved
    verdicts = [s.expect.verdict for s in problem.solutions]
    assert Verdict.ACCEPTED in verdicts and Verdict.TEST_FAILED in verdicts
    scores = [s.expect.score for s in problem.solutions if s.expect.score is not None]
    assert 0 in scores and any(0 < s < problem.max_score() for s in scores), "a partial solution"
    for s in problem.solutions:
        assert (EXAMPLES / name / s.path).is_file()


def test_the_subtasks_example_is_three_groups_one_depending_on_another():
    problem = load(EXAMPLES / "subtasks")
    assert [(g.name, g.scoring, g.depends_on) for g in problem.groups] == [
        ("small", GroupScoring.ALL, []), ("medium", GroupScoring.ALL, ["small"]), ("large", GroupScoring.SUM, [])]
    assert [t.name for t in problem.tests][:4] == ["small-1", "small-2", "small-3", "medium-1"]
    assert problem.max_score() == 100
    assert problem.describe_groups() == "small 20, medium 30 (after small), large 50 (sum)"
    assert load(EXAMPLES / "fileio").file_io.output == "output.txt"


def test_checked_in_problem_schema_is_current():
    path = ROOT / "contract" / "schema" / "problem.schema.json"
    assert path.exists(), "run `make schema`"
    assert json.loads(path.read_text()) == Problem.model_json_schema(by_alias=True), "run `make schema`"


# --- discovery -------------------------------------------------------------------------------

def test_pattern_finds_tests_in_natural_order_with_out_or_ans_answers(tmp_path):
    files = {**case_files("10", "2", "1"), **case_files("b3", answer=".ans")}
    files["tests/2.ans"] = "ignored: NAME.out comes first\n"
    files["tests/notes.txt"] = "not a test"
    problem = load(make(tmp_path, {"name": "p", "tests": {"pattern": "tests/*.in"}}, files))
    assert [t.name for t in problem.tests] == ["1", "2", "10", "b3"]
    assert [t.answer for t in problem.tests] == ["tests/1.out", "tests/2.out", "tests/10.out", "tests/b3.ans"]
    assert all(t.points == 1 and t.group is None for t in problem.tests)


def test_natural_order_and_globs():
    assert sorted(["t10", "t2", "t1", "a"], key=natural_key) == ["a", "t1", "t2", "t10"]
    assert glob_match("tests/*.in", "tests/1.in") and not glob_match("tests/*.in", "tests/sub/1.in")
    assert not glob_match("*.in", "tests/1.in")
    assert glob_match("tests/**/*.in", "tests/1.in") and glob_match("tests/**/*.in", "tests/a/b/1.in")
    assert glob_match("tests/small-?.in", "tests/small-3.in") and glob_match("t/[ab].in", "t/b.in")
    assert glob_may_enter("tests/*.in", "tests") and glob_may_enter("**/*.in", "x/y")
    assert not glob_may_enter("tests/*.in", "data") and not glob_may_enter("tests/*.in", "tests/x")


def test_a_listed_test_defaults_its_name_and_answer(tmp_path):
    problem = load(make(tmp_path, {"name": "p", "tests": [
        {"input": "data/second.in", "points": 3},
        {"name": 7, "input": "data/first.txt", "answer": "data/first.expected"}]},
        {"data/second.in": "", "data/second.ans": "", "data/first.txt": "", "data/first.expected": ""}))
    assert [(t.name, t.answer, t.points) for t in problem.tests] == [
        ("second", "data/second.ans", 3), ("7", "data/first.expected", 1)]  # listed order kept


# --- groups ----------------------------------------------------------------------------------

def test_group_rules_give_groups_points_and_order(tmp_path):
    files = case_files("sample", "small-1", "small-2", "small-10", "large-1", "large-2")
    problem = load(make(tmp_path, {
        "name": "p", "tests": {"pattern": "tests/*.in", "points": 0},
        "groups": [{"name": "small", "points": 20, "tests": "tests/small-*.in"},
                   {"name": "large", "scoring": "sum", "testPoints": 15, "tests": ["tests/large-*.in"],
                    "dependsOn": ["small"]}]}, files))
    assert [(t.name, t.group, t.points) for t in problem.tests] == [
        ("sample", None, 0), ("small-1", "small", None), ("small-2", "small", None), ("small-10", "small", None),
        ("large-1", "large", 15), ("large-2", "large", 15)]  # no group first, then group by group
    assert problem.max_score() == 50
    # what resolve returns is a problem.yaml too, and resolves to itself
    again = Problem.parse(problem.model_dump(mode="json", by_alias=True, exclude_none=True))
    assert again.resolve(files) == problem
    assert [t.points for t in task_for(problem, tmp_path, "s.py", "python").tests] == [0, 1, 1, 1, 15, 15]


def test_a_listed_test_names_its_group_and_its_points_win(tmp_path):
    problem = load(make(tmp_path, {
        "name": "p", "tests": [{"input": "tests/1.in", "group": "g", "points": 4}, {"input": "tests/2.in"}],
        "groups": [{"name": "g", "scoring": "sum", "testPoints": 2, "tests": "tests/2.in"}]},
        case_files("1", "2")))
    assert [(t.name, t.group, t.points) for t in problem.tests] == [("1", "g", 4), ("2", "g", 2)]


def test_a_test_in_two_groups_is_refused(tmp_path):
    root = make(tmp_path / "a", {"name": "p", "tests": {"pattern": "tests/*.in"}, "groups": [
        {"name": "small", "points": 1, "tests": "tests/s*.in"},
        {"name": "all", "points": 1, "tests": "tests/*.in"}]}, case_files("s1", "x1"))
    refused(root, "groups[1].tests: test s1 (tests/s1.in) is in two groups: small and all")
    root = make(tmp_path / "b", {"name": "p", "tests": [{"input": "tests/s1.in", "group": "big"}], "groups": [
        {"name": "small", "points": 1, "tests": "tests/s*.in"}, {"name": "big", "points": 1}]}, case_files("s1"))
    refused(root, "groups[0].tests: test s1 (tests/s1.in) is in two groups: big and small")


def test_an_unknown_group_is_refused(tmp_path):
    root = make(tmp_path, {"name": "p", "tests": [{"input": "tests/1.in", "group": "huge"}],
                           "groups": [{"name": "small", "points": 1, "tests": "tests/*.in"}]}, case_files("1"))
    refused(root, "tests[0].group: group huge is not in groups")


def test_group_mistakes_are_refused(tmp_path):
    files = case_files("a1", "b1")
    cases = [
        ([{"name": "a", "tests": "tests/a*.in"}, {"name": "c", "tests": "tests/c*.in"}],
         "groups[1]: group c has no tests: no test's input matches tests/c*.in"),
        ([{"name": "a", "tests": "tests/a*.in", "dependsOn": ["b"]}, {"name": "b", "tests": "tests/b*.in"}],
         "groups: group a depends on b, which is not a group listed before it"),
        ([{"name": "a", "tests": "tests/a*.in"}, {"name": "a", "tests": "tests/b*.in"}],
         "groups[1].name: two groups are named a"),
        ([{"name": "a", "scoring": "sum", "points": 10, "tests": "tests/*.in"}],
         "groups[0]: group a is scored sum: it is worth the sum of its tests' points, so give testPoints"),
        ([{"name": "a", "scoring": "min", "testPoints": 3, "tests": "tests/*.in"}],
         "groups[0]: group a is scored min: only its points count, testPoints is for sum groups"),
    ]
    for i, (groups, words) in enumerate(cases):
        refused(make(tmp_path / str(i), {"name": "p", "tests": {"pattern": "tests/*.in"}, "groups": groups}, files),
                words)
    root = make(tmp_path / "pts", {"name": "p", "tests": [{"input": "tests/a1.in", "points": 5}],
                                   "groups": [{"name": "a", "points": 10, "tests": "tests/*.in"}]}, files)
    refused(root, "tests[0].points: test a1 is in group a, scored all: only the group's points count")


# --- errors ----------------------------------------------------------------------------------

def test_missing_answers_and_no_tests_are_refused(tmp_path):
    files = case_files("1", "2")
    del files["tests/2.out"]
    refused(make(tmp_path / "a", {"name": "p", "tests": {"pattern": "tests/*.in"}}, files),
            "tests.pattern: tests/2.in has no answer: no 2.out or 2.ans beside it")
    refused(make(tmp_path / "b", {"name": "p", "tests": [{"input": "tests/2.in"}]}, files),
            "tests[0].answer: tests/2.in has no answer: give answer, or put 2.out or 2.ans beside it")
    refused(make(tmp_path / "c", {"name": "p", "tests": [{"input": "tests/1.in", "answer": "tests/1.a"}]}, files),
            "tests[0].answer: tests/1.a does not exist")
    refused(make(tmp_path / "d", {"name": "p", "tests": {"pattern": "cases/*.in"}}, files),
            "tests.pattern: no tests found: no file matches cases/*.in")


def test_bad_test_names_are_refused(tmp_path):
    files = {**case_files("1"), "tests/x/1.in": "", "tests/x/1.out": ""}
    refused(make(tmp_path / "a", {"name": "p", "tests": {"pattern": "tests/**/*.in"}}, files),
            "tests.pattern: two tests are named 1: tests/1.in and tests/x/1.in")
    refused(make(tmp_path / "b", {"name": "p", "tests": {"pattern": "tests/*.in"}},
                 {"tests/a b.in": "", "tests/a b.out": ""}),
            "test name 'a b' (of tests/a b.in) may hold only letters, digits")


@pytest.mark.parametrize("path, words", [
    ("../outside.in", "tests[0].input: ../outside.in leaves the problem directory (..)"),
    ("/etc/passwd", "tests[0].input: /etc/passwd is an absolute path"),
    ("tests/../../x.in", "leaves the problem directory (..)"),
])
def test_paths_leaving_the_directory_are_refused(tmp_path, path, words):
    refused(make(tmp_path / "p", {"name": "p", "tests": [{"input": path}]}), words)


def test_symlinks_leading_out_are_refused(tmp_path):
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "1.in").write_text("x")
    (outside / "1.out").write_text("x")
    # a file found by the pattern
    root = make(tmp_path / "a", {"name": "p", "tests": {"pattern": "tests/*.in"}}, case_files("2"))
    os.symlink(outside / "1.in", root / "tests" / "1.in")
    refused(root, "tests.pattern: tests/1.in is a symlink leading out of the problem directory")
    # an answer found beside its input
    (root / "tests" / "1.in").unlink()
    (root / "tests" / "2.out").unlink()
    os.symlink(outside / "1.out", root / "tests" / "2.out")
    refused(root, "tests.pattern: tests/2.out is a symlink leading out of the problem directory")
    # a directory a glob would enter
    root = make(tmp_path / "b", {"name": "p", "tests": {"pattern": "tests/*.in"}})
    os.symlink(outside, root / "tests")
    refused(root, "tests.pattern: tests is a symlink leading out of the problem directory")
    # a file named outright
    root = make(tmp_path / "c", {"name": "p", "tests": [{"input": "t/1.in"}]})
    os.symlink(outside, root / "t")
    refused(root, "tests[0].input: t/1.in is a symlink leading out of the problem directory")
    root = make(tmp_path / "d", {"name": "p", "tests": {"pattern": "tests/*.in"}, "solutions": [
        {"path": "sol.py", "language": "python", "expect": {"verdict": "Accepted"}}]}, case_files("1"))
    os.symlink(outside / "1.in", root / "sol.py")
    refused(root, "solutions[0].path: sol.py is a symlink leading out of the problem directory")


def test_symlinks_inside_are_followed(tmp_path):
    root = make(tmp_path, {"name": "p", "tests": {"pattern": "tests/*.in"}}, {
        "data/1.in": "", "data/1.out": ""})
    os.symlink("data", root / "tests")
    os.symlink("..", root / "data" / "loop")  # a loop: not walked twice
    assert [t.input for t in load(root).tests] == ["tests/1.in"]


def test_an_interactor_decides_alone(tmp_path):
    base = {"name": "p", "tests": {"pattern": "tests/*.in"}}
    refused(make(tmp_path / "a", {**base, "interactor": {"source": "i.cpp"}}, case_files("1")),
            "i.cpp is a source file: name its language")
    refused(make(tmp_path / "b", {**base, "interactor": {"source": "i.py", "language": "python"}},
                 case_files("1")), "i.py does not exist")
    refused(make(tmp_path / "c", {**base, "interactor": {"source": "i.py", "language": "python"},
                                  "fileIO": {"input": "input.txt"}}, case_files("1")), "no fileIO with an interactor")
    refused(make(tmp_path / "d", {**base, "interactor": {"source": "i.py", "language": "python"},
                                  "checker": {"kind": "tokens"}}, case_files("1")), "no checker with it")


def test_malformed_files_name_the_field(tmp_path):
    refused(make(tmp_path / "a", {"name": "p", "tests": {"pattern": "t/*.in"}, "timeLimit": 3}),
            "timeLimit: Extra inputs are not permitted")
    refused(make(tmp_path / "b", {"name": "p", "tests": [{"input": "1.in", "answr": "x"}]}),
            "tests[0].answr: Extra inputs are not permitted")
    refused(make(tmp_path / "c", {"name": "p", "tests": {"pattern": "t/*.in"}, "limits": {"timeMs": 0}}),
            "limits.timeMs: Input should be greater than or equal to 1")
    refused(make(tmp_path / "d", "- just\n- a list\n"), "expected a mapping of fields")
    refused(make(tmp_path / "e", "name: [unclosed\n"), "not valid YAML")
    refused(make(tmp_path / "f", {"tests": {"pattern": "t/*.in"}}), "name: Field required")
    (tmp_path / "g").mkdir()
    with pytest.raises(ProblemError, match="no problem.yaml in"):
        load(tmp_path / "g")


def test_checkers(tmp_path):
    files = {**case_files("1"), "check.cpp": "int main(){}"}
    refused(make(tmp_path / "a", {"name": "p", "tests": {"pattern": "tests/*.in"},
                                  "checker": {"custom": {"source": "check.cpp"}}}, files),
            "checker.custom: check.cpp is a source file: name its language")
    refused(make(tmp_path / "b", {"name": "p", "tests": {"pattern": "tests/*.in"}, "checker": {"kind": "custom"}},
                 files), "checker: kind custom needs custom")
    refused(make(tmp_path / "c", {"name": "p", "tests": {"pattern": "tests/*.in"},
                                  "checker": {"custom": {"source": "gone.cpp", "language": "cpp"}}}, files),
            "checker.custom.source: gone.cpp does not exist")
    root = make(tmp_path / "d", {"name": "p", "tests": {"pattern": "tests/*.in"}, "checker": {
        "custom": {"source": "check.cpp", "language": "cpp:20", "protocol": "score-line"}}}, files)
    task = task_for(load(root), root, root / "sol.py", "python")
    assert task.checker.kind == CheckerKind.CUSTOM and task.checker.program == str((root / "check.cpp").resolve())
    assert task.checker.language == "cpp:20" and task.checker.protocol.value == "score-line"
    root = make(tmp_path / "e", {"name": "p", "tests": {"pattern": "tests/*.in"},
                                 "checker": {"kind": "tokens", "ignoreCase": True, "order": "unordered"}}, files)
    c = task_for(load(root), root, "s.py", "python").checker
    assert (c.kind, c.ignore_case, c.order.value) == (CheckerKind.TOKENS, True, "unordered")


# --- the task --------------------------------------------------------------------------------

def test_the_task_has_time_factors_groups_points_checker_and_file_io(tmp_path):
    root = make(tmp_path, {
        "name": "p", "limits": {"timeMs": 1500, "memoryKb": 65536}, "timeFactors": {"python": 3, "java": 1.5},
        "tests": {"pattern": "tests/*.in"}, "fileIO": {"input": "input.txt", "output": "output.txt"},
        "checker": {"kind": "float", "epsilon": 1e-4},
        "groups": [{"name": "a", "points": 40, "scoring": "min", "tests": "tests/a*"},
                   {"name": "b", "points": 60, "tests": "tests/b*", "dependsOn": ["a"], "shortCircuit": False}]},
        case_files("a1", "b1", "b2"))
    problem = load(root)
    py = task_for(problem, root, root / "main.py", "python")
    assert py.language_name == "python" and py.language.version == "3"
    assert [(t.name, t.group, t.limits.time_ms, t.limits.memory_kb) for t in py.tests] == [
        ("a1", "a", 4500, 65536), ("b1", "b", 4500, 65536), ("b2", "b", 4500, 65536)]
    assert py.tests[0].input == str((root / "tests/a1.in").resolve())
    assert py.tests[0].expected == str((root / "tests/a1.out").resolve())
    assert py.submission == str((root / "main.py").resolve())
    assert [(g.name, g.points, g.scoring.value, g.depends_on, g.short_circuit) for g in py.groups] == [
        ("a", 40, "min", [], True), ("b", 60, "all", ["a"], False)]
    assert py.file_io.input == "input.txt" and py.checker.epsilon == 1e-4
    assert task_for(problem, root, "x.cpp", "cpp", "20").tests[0].limits.time_ms == 1500
    assert task_for(problem, root, "x.cpp", "cpp:20").language.version == "20"
    assert task_for(problem, root, "X.java", "java").tests[0].limits.time_ms == 2250
    doc = json.loads(py.document())
    assert doc["fileIO"] == {"input": "input.txt", "output": "output.txt"} and len(doc["groups"]) == 2
    out = task_for(problem, root, "x.py", "python", output_dir=tmp_path / "o", fail_fast=True)
    assert out.tests[1].stdout == str(tmp_path / "o" / "b1.stdout") and out.fail_fast
    assert out.compile_output == str(tmp_path / "o" / "compile.txt")


def test_limits_default_as_the_contract_and_factors_scale_wall_and_cap():
    base = {"name": "p", "tests": {"pattern": "t/*.in"}}
    assert Problem.parse(base).limits_for("python").model_dump() == {
        "time_ms": 1000, "wall_ms": None, "memory_kb": 262144, "output_kb": 65536, "processes": None}
    p = Problem.parse({**base, "limits": {"timeMs": 300_000, "wallMs": 700_000}, "timeFactors": {"python": 3}})
    assert (p.limits_for("python").time_ms, p.limits_for("python").wall_ms) == (600_000, 1_200_000)
    p = Problem.parse({**base, "limits": {"timeMs": 1000, "wallMs": 2500}, "timeFactors": {"go": 1.1}})
    assert (p.limits_for("go").time_ms, p.limits_for("go").wall_ms) == (1100, 2750)
    with pytest.raises(ProblemError, match="timeFactors.python: Input should be greater than 0"):
        Problem.parse({**base, "timeFactors": {"python": 0}})


def test_an_unresolved_problem_builds_no_task():
    p = Problem.parse({"name": "p", "tests": {"pattern": "t/*.in"}})
    with pytest.raises(ProblemError, match="call resolve"):
        p.max_score()


# --- solutions and the CLI -------------------------------------------------------------------

def fake_judge(verdict: Verdict, score: float | None):
    def judge(task):
        return Result(verdict=verdict, score=score, maxScore=4, message="3/4 tests passed",
                      tests=[TestResult(name=t.name, verdict=TestVerdict.PASSED) for t in task.tests])
    return judge


def test_check_solution_compares_verdict_and_score():
    problem = load(EXAMPLES / "sum")
    wa = next(s for s in problem.solutions if s.path.endswith("wrong-answer.c"))
    assert check_solution(problem, EXAMPLES / "sum", wa, fake_judge(Verdict.TEST_FAILED, 3)).ok
    bad = check_solution(problem, EXAMPLES / "sum", wa, fake_judge(Verdict.ACCEPTED, 4))
    assert not bad.ok and bad.problems == ["expected TestFailed, got Accepted", "expected score 3, got 4"]
    none = check_solution(problem, EXAMPLES / "sum", wa, fake_judge(Verdict.TEST_FAILED, None))
    assert none.problems == ["expected score 3, got none (the judge gave no score)"]
    ce = next(s for s in problem.solutions if s.expect.verdict == Verdict.COMPILATION_ERROR)
    assert check_solution(problem, EXAMPLES / "sum", ce, fake_judge(Verdict.COMPILATION_ERROR, None)).ok


def test_problem_check_prints_a_line_a_solution_and_fails_on_a_mismatch(tmp_path, monkeypatch, capsys):
    root = make(tmp_path, {"name": "p", "tests": {"pattern": "tests/*.in"}, "solutions": [
        {"path": "a.py", "language": "python", "expect": {"verdict": "Accepted", "score": 1}},
        {"path": "b.py", "language": "cobol", "expect": {"verdict": "Accepted"}}]},
        {**case_files("1"), "a.py": "", "b.py": ""})
    monkeypatch.setattr(cli, "judge", fake_judge(Verdict.ACCEPTED, 1))
    assert cli.gavel_main(["problem", "check", str(root)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "p: 1 tests, each with its answer; max score 1"
    assert out[1].split() == ["ok", "a.py", "python", "Accepted", "1/4"]
    assert out[2].startswith("FAIL  b.py") and "unknown language 'cobol'" in out[2]
    assert out[3] == "1/2 solutions as expected"
    (root / "problem.yaml").write_text(yaml.safe_dump({"name": "p", "tests": {"pattern": "tests/*.in"}}))
    assert cli.gavel_main(["problem", "check", str(root)]) == 0
    assert capsys.readouterr().out.endswith("no solutions listed\n")


def test_cli_usage_errors(tmp_path, capsys):
    root = make(tmp_path, {"name": "p", "tests": {"pattern": "tests/*.in"}}, case_files("1"))
    assert cli.gavel_main(["problem", "check", str(tmp_path / "nowhere")]) == 2
    assert "is not a directory" in capsys.readouterr().err
    assert cli.gavel_main(["judge", "main.xyz", "--problem", str(root)]) == 2
    assert "cannot tell the language of main.xyz from its suffix: give --language" in capsys.readouterr().err
    assert cli.gavel_main(["judge", "main.py", "--problem", str(root), "--language", "cobol"]) == 2
    assert "unknown language 'cobol'" in capsys.readouterr().err
    for argv, words in ((["judge", "s.py", "--tests", "d"], "--language is required with --tests"),
                        (["judge", "s.py", "-l", "python"], "one of the arguments --tests/-t --problem/-p is required"),
                        (["judge", "s.py", "--problem", str(root), "--checker", "exact"], "--checker cannot be used"),
                        (["judge", "s.py", "--problem", str(root), "--tests", "d"], "not allowed with")):
        with pytest.raises(SystemExit) as exit_:
            cli.gavel_main(argv)
        assert exit_.value.code == 2 and words in capsys.readouterr().err
    (root / "problem.yaml").write_text("name: p\ntests: {pattern: 'none/*.in'}\n")
    assert cli.gavel_main(["judge", "s.py", "--problem", str(root)]) == 2
    assert "problem.yaml: tests.pattern: no tests found" in capsys.readouterr().err


def test_judge_with_a_problem_prints_points_groups_and_score(tmp_path, monkeypatch, capsys):
    from gavel_contract import GroupResult

    root = make(tmp_path, {"name": "p", "tests": {"pattern": "tests/*.in"}, "groups": [
        {"name": "a", "points": 20, "tests": "tests/a*"},
        {"name": "b", "scoring": "sum", "testPoints": 5, "tests": "tests/b*", "dependsOn": ["a"]}]},
        case_files("a1", "b1"))

    def judge(task):
        assert task.groups and task.tests[1].points == 5
        return Result(verdict=Verdict.TEST_FAILED, score=20, maxScore=25, message="1/2 tests passed",
                      tests=[TestResult(name="a1", verdict=TestVerdict.PASSED),
                             TestResult(name="b1", verdict=TestVerdict.WRONG_ANSWER, points=0)],
                      groups=[GroupResult(name="a", score=20, maxScore=20),
                              GroupResult(name="b", score=0, maxScore=5)])

    monkeypatch.setattr(cli, "judge", judge)
    assert cli.gavel_main(["judge", str(root / "main.py"), "--problem", str(root)]) == 0
    out = capsys.readouterr().out
    assert "score 20/25" in out and "TestFailed: 1/2 tests passed" in out
    lines = out.splitlines()
    assert lines[2].split()[:4] == ["b1", "b", "WrongAnswer", "0/5"]
    assert any(line.split()[:4] == ["b", "0", "5", "sum"] and "after a" in line for line in lines)
