"""The problem package format read as a Gavel problem (gavel_contract.package): tests, groups and
their scoring, validator flags, limits, time limits, submissions' expectations, the package's own
verdict (problemtools' default grader), and what is refused, with a message naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from gavel_contract import CheckerKind, CheckerProtocol, GroupScoring, TestResult, TestVerdict
from gavel_contract.kattis import c_double, kattis_flags
from gavel_contract.package import Outcome, grade, is_package, load
from gavel_contract.package import outcomes_of
from gavel_contract.problem import ProblemError

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ROOT / "examples" / "packages"


def from_dir(directory: Path):
    files = [p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()]
    return load(files, lambda f: (directory / f).read_bytes(), directory.name)


def from_files(files: dict[str, str], name: str = "p"):
    """A package from {path: text}; an .in without its .ans gets one."""
    files = dict(files)
    for path in list(files):
        if path.endswith(".in"):
            files.setdefault(path[:-3] + ".ans", "1\n")
    return load(files, lambda f: files[f].encode() if f in files else None, name)


SECRET = {"data/secret/1.in": "1\n", "data/secret/2.in": "2\n"}


# --- Gavel's example packages ---------------------------------------------------------------------

def test_pairsum_legacy_pass_fail_with_a_custom_validator():
    pkg = from_dir(PACKAGES / "pairsum")
    p = pkg.problem
    assert (pkg.version, pkg.scoring, pkg.interactive) == ("legacy", False, False)
    assert p.checker.kind == CheckerKind.CUSTOM and p.checker.custom.protocol == CheckerProtocol.KATTIS
    assert p.checker.custom.source == "output_validators/pairsum/validate.py" and p.checker.custom.language == "python"
    assert [t.name for t in p.tests][:3] == ["sample.1", "sample.2", "secret.large.01-far-apart"]
    groups = {g.name: g for g in p.groups}
    assert list(groups) == ["sample", "secret.large", "secret.small"]  # lexicographic, as the spec says
    assert groups["sample"].scoring == GroupScoring.ALL and not groups["sample"].short_circuit  # on_reject: continue
    assert groups["secret.large"].short_circuit and groups["secret.large"].depends_on == ["sample"]
    assert groups["secret.small"].depends_on == ["sample", "secret.large"]  # secret breaks too (the default)
    assert p.limits.memory_kb == 256 * 1024 and p.limits.output_kb == 8 * 1024
    assert pkg.time.fixed_ms is None and pkg.time.ac_to_time_limit == 5 and pkg.time.time_limit_to_tle == 2
    assert any("no time limit stated" in n for n in pkg.notes)
    subs = {s.path: s for s in pkg.submissions}
    assert subs["accepted/pairs.cpp"].language == "cpp" and subs["accepted/pairs.cpp"].expectation.lower_bound
    assert subs["time_limit_exceeded/quadratic.py"].expectation.verdict == "TLE"


def test_average_2023_07_scoring_groups_from_test_group_yaml():
    pkg = from_dir(PACKAGES / "average")
    p = pkg.problem
    assert (pkg.version, pkg.scoring, pkg.group_model) == ("2023-07-draft", True, True)
    groups = {g.name: g for g in p.groups}
    assert (groups["sample"].scoring, groups["sample"].points) == (GroupScoring.ALL, 0)
    assert (groups["secret.group1"].scoring, groups["secret.group1"].points) == (GroupScoring.ALL, 30)
    assert (groups["secret.group2"].scoring, groups["secret.group2"].test_points) == (GroupScoring.SUM, 17.5)
    assert groups["secret.group2"].depends_on == ["secret.group1"]
    assert p.max_score() == 100 and pkg.range_max == 100
    args = {t.name: t.checker_args for t in p.tests}
    assert args["secret.group1.01"] == ["float_tolerance", "1e-6"]
    assert args["secret.group2.02-all-max"] == ["float_absolute_tolerance", "1e-6"]  # its own .yaml
    assert p.checker.kind == CheckerKind.KATTIS
    assert (pkg.time.fixed_ms, pkg.time.source) == (1000, "limits.time_limit")
    subs = {s.path: s for s in pkg.submissions}
    rules = subs["rejected/int32.c"].expectation.rules
    assert {"required": ["RTE", "TLE", "WA"]} in rules and {"score": 47.5} in rules
    assert {"permitted": ["AC"], "tests": "secret/group1"} in rules
    assert subs["wrong_answer/floor.py"].expectation.rules == [{"permitted": ["AC", "WA"], "required": ["WA"],
                                                                "score": 0}]
    assert subs["run_time_error/fixed_buffer.c"].expectation.lower_bound  # permitted lacks TLE
    assert subs["time_limit_exceeded/prefix.py"].expectation.upper_bound


def test_higherlower_legacy_interactive_with_scores():
    pkg = from_dir(PACKAGES / "higherlower")
    p = pkg.problem
    assert pkg.interactive and p.interactor.protocol == CheckerProtocol.KATTIS_SCORE
    assert p.checker.kind is None and p.checker.custom is None
    groups = {g.name: g for g in p.groups}
    assert (groups["sample"].test_points, groups["secret"].test_points) == (0, 20)  # ignore_sample
    assert groups["secret"].depends_on == []  # the root continues
    assert (pkg.time.fixed_ms, pkg.time.source) == (1000, ".timelimit")


# --- recognising and refusing -------------------------------------------------------------------------

def test_a_package_is_recognised_by_its_layout():
    assert is_package({"problem_format_version": "2023-07-draft"}, [])
    assert is_package({"name": "x"}, ["data/secret/1.in"]) and is_package(None, ["data/secret/1.in"])
    assert not is_package({"name": "x", "tests": {"pattern": "t/*.in"}}, ["data/secret/1.in"])
    assert not is_package({"apiVersion": "gavel.dev/problem/v1"}, [])


@pytest.mark.parametrize("files, says", [
    ({"problem.yaml": "problem_format_version: 2025-09\n"}, "not one Gavel reads"),
    ({"problem.yaml": "colour: red\n"}, "unknown key colour"),
    ({"problem.yaml": "type: multi-pass\nproblem_format_version: 2023-07-draft\n"}, "multi-pass is not supported"),
    ({"problem.yaml": "validation: custom\n"}, "no output_validators/"),
    ({"problem.yaml": "", "include/cpp/x.h": ""}, "include/"),
    ({"problem.yaml": "", "data/testdata.yaml": "grading: custom\n"}, "custom grader"),
    ({"problem.yaml": "type: scoring\n", "data/secret/testdata.yaml": "reject_score: -1\n"}, "reject_score"),
    ({"problem.yaml": "type: scoring\n", **SECRET, "data/secret/testdata.yaml": "grader_flags: max\n"},
     "max over several"),
    ({"problem.yaml": "", "data/secret/testdata.yaml": "output_validator_flags: float_tol 1\n"}, "no flag"),
    ({"problem.yaml": "", "data/secret/testdata.yaml": "frobnicate: 1\n"}, "unknown key frobnicate"),
    ({"problem.yaml": "", "data/secret/a.files/x": ""}, ".files"),
    ({"problem.yaml": "validation: custom\n", "output_validators/v/build": "", "output_validators/v/v.cc": ""},
     "build or run script"),
    ({"problem.yaml": "validation: custom\n", "output_validators/v/a.cc": "", "output_validators/v/b.cc": ""},
     "2 cpp sources"),
    ({"problem.yaml": "validation: custom\n", "output_validators/a/v.py": "", "output_validators/b/v.py": ""},
     "one output validator"),
    ({"problem.yaml": "problem_format_version: 2023-07-draft\ntype: scoring\n",
      "data/secret/test_group.yaml": "max_score: unbounded\n"}, "unbounded"),
    ({"problem.yaml": "problem_format_version: 2023-07-draft\ntype: scoring\n",
      "data/secret/test_group.yaml": "score_aggregation: min\n",
      "data/secret/g1/1.in": "", "data/secret/g1/test_group.yaml": "max_score: 100\n"}, "min over test groups"),
    ({"problem.yaml": "problem_format_version: 2023-07-draft\n", "data/secret/test_group.yaml": "max_score: 5\n"},
     "for scoring problems"),
    ({"problem.yaml": "", "data/secret/1.yaml": "args: [x]\n"}, "only"),
    ({"problem.yaml": "", "data/secret/b.in": "", "data/secret/a/1.in": "", "data/secret/c/1.in": ""},
     "mixes tests and test groups"),
    ({"problem.yaml": "limits: {time_limit: 0}\n"}, "limits.time_limit must be a number > 0"),
])
def test_what_gavel_cannot_take_is_refused_with_its_reason(files, says):
    files = {**({"data/secret/1.in": "1\n"} if not any(f.startswith("data/secret/") and f.endswith(".in")
                                                       for f in files) else {}), **files}
    if says == "only":  # test args in a legacy package are unknown keys of no file: use 2023-07
        files["problem.yaml"] = "problem_format_version: 2023-07-draft\n"
        says = "args (command-line arguments"
    with pytest.raises(ProblemError) as err:
        from_files(files)
    assert says in str(err.value), str(err.value)


def test_test_names_and_validator_flags():
    pkg = from_files({"problem.yaml": "validator_flags: case_sensitive\n", **SECRET,
                      "data/secret/g/x.y.in": "3\n",
                      "data/secret/g/testdata.yaml": "output_validator_flags: float_tolerance 1e-3\n"})
    tests = {t.name: t for t in pkg.problem.tests}
    assert list(tests) == ["secret.1", "secret.2", "secret.g.x.y"]
    assert tests["secret.1"].checker_args == ["case_sensitive"]
    assert tests["secret.g.x.y"].checker_args == ["case_sensitive", "float_tolerance", "1e-3"]
    assert pkg.problem.name == "p" and pkg.problem.limits.memory_kb == 1024 * 1024


def test_a_legacy_validator_beside_files_in_languages_no_validator_is_written_in():
    """output_validators/ holding validate.cc, its header and a note in R is one program: only the
    languages validators come in (C, C++, Python) count as a second program."""
    pkg = from_files({"problem.yaml": "validation: custom\n", **SECRET, "output_validators/validate.cc": "",
                      "output_validators/validate.h": "", "output_validators/notes.r": "",
                      "output_validators/README.md": ""})
    custom = pkg.problem.checker.custom
    assert (custom.source, custom.language) == ("output_validators/validate.cc", "cpp")


def test_a_validator_directory_with_headers_and_a_python_module_program():
    pkg = from_files({"problem.yaml": "validation: custom\n", **SECRET, "output_validators/v/validate.cc": "",
                      "output_validators/v/validate.h": "", "output_validators/v/testlib.h": ""})
    custom = pkg.problem.checker.custom
    assert (custom.source, custom.language) == ("output_validators/v/validate.cc", "cpp")
    assert custom.files == ["output_validators/v/testlib.h", "output_validators/v/validate.h"]
    pkg = from_files({"problem.yaml": "problem_format_version: 2023-07-draft\n", **SECRET,
                      "output_validator/__main__.py": "", "output_validator/__init__.py": "",
                      "output_validator/util.py": ""})
    custom = pkg.problem.checker.custom
    assert (custom.source, custom.language) == ("output_validator/__main__.py", "python")


def test_time_limit_sources_and_the_computed_limit():
    pkg = from_files({"problem.yaml": "", **SECRET, ".timelimit": "2.5\n"})
    assert (pkg.time.fixed_ms, pkg.time.source, pkg.problem.limits.time_ms) == (2500, ".timelimit", 2500)
    pkg = from_files({"problem.yaml": "problem_format_version: 2023-07-draft\nlimits:\n  time_resolution: 0.5\n"
                                      "  time_multipliers: {ac_to_time_limit: 3, time_limit_to_tle: 2}\n", **SECRET})
    assert pkg.time.computed_ms(100) == 500 and pkg.time.computed_ms(400) == 1500 and pkg.time.high_ms(1500) == 3000
    legacy = from_files({"problem.yaml": "", **SECRET})
    assert legacy.time.computed_ms(10) == 1000 and legacy.time.computed_ms(1100) == 6000  # x5, whole seconds


def test_submission_languages():
    pkg = from_files({"problem.yaml": "", **SECRET, "submissions/accepted/a.py": "#!/usr/bin/python2\n",
                      "submissions/accepted/b.swift": "", "submissions/accepted/c.py": "print(1)\n",
                      "submissions/accepted/d/Main.java": "", "submissions/weird/e.py": ""})
    subs = {s.path: s for s in pkg.submissions}
    assert subs["accepted/a.py"].unsupported.startswith("Python 2")
    assert subs["accepted/b.swift"].language is None and "not supported" in subs["accepted/b.swift"].unsupported
    assert subs["accepted/c.py"].language == "python" and subs["accepted/c.py"].unsupported is None
    assert subs["accepted/d"].language == "java" and subs["accepted/d"].unsupported is None  # several files
    assert "weird/e.py" not in subs and any("weird/e.py" in n for n in pkg.notes)


def test_every_language_has_its_suffix():
    """DOMjudge's hello submissions, by name: each one's language is Gavel's (`.pl` by what it holds)."""
    from gavel_contract.languages import builtin_languages
    from gavel_contract.package import file_language
    names = {"hello.adb": "ada", "hello.awk": "awk", "hello.bash": "bash", "hello.sh": "bash", "hello.c": "c",
             "hello.cpp": "cpp", "hello.cs": "csharp", "hello.d": "d", "hello.f95": "fortran", "hello.go": "go",
             "hello.hs": "haskell", "Hello.java": "java", "hello.js": "javascript", "hello.kt": "kotlin",
             "hello.lua": "lua", "hello.ml": "ocaml", "hello.pas": "pascal", "hello.php": "php", "hello.plg": "prolog",
             "hello.py": "python", "hello.R": "r", "hello.rb": "ruby", "hello.rs": "rust", "hello.scala": "scala"}
    assert {file_language(n, lambda: b"") for n in names} | {"perl", "pypy"} == set(builtin_languages())
    assert {n: file_language(n, lambda: b"") for n in names} == names
    assert file_language("hello.pl", lambda: b"#!/usr/bin/perl\nprint \"hi\";\n") == "perl"
    assert file_language("hello.pl", lambda: b"main :- write(hi), nl.\n") == "prolog"


def test_a_directory_submission_gets_the_language_of_most_of_its_sources():
    pkg = from_files({"problem.yaml": "", **SECRET, "submissions/accepted/ada/hello.adb": "", "submissions/accepted/ada/notes.txt": "",
                      "submissions/accepted/two/a.rb": "", "submissions/accepted/two/b.rb": "",
                      "submissions/accepted/mix/a.cpp": "", "submissions/accepted/mix/b.cpp": "",
                      "submissions/accepted/mix/c.py": "", "submissions/accepted/none/x.txt": ""})
    subs = {s.path: s for s in pkg.submissions}
    assert (subs["accepted/ada/hello.adb"].language, subs["accepted/ada/hello.adb"].unsupported) == ("ada", None)
    assert subs["accepted/two"].language is None and "ruby takes one source file" in subs["accepted/two"].unsupported
    assert "2 ruby sources (a.rb, b.rb): not supported" in subs["accepted/two"].unsupported
    assert subs["accepted/mix"].language == "cpp"
    assert "not supported" in subs["accepted/none"].unsupported


# --- the package's verdict and score --------------------------------------------------------------

def outcomes(**verdicts: str) -> dict[str, Outcome]:
    return {name.replace("_", "."): Outcome(v, 1.0 if v == "AC" else 0.0, 10) for name, v in verdicts.items()}


ODDECHO_LIKE = {
    "problem.yaml": "problem_format_version: 2023-07-draft\ntype: scoring\nname: x\n",
    "data/testdata.yaml": "on_reject: continue\nrange: 0 100\ngrader_flags: ignore_sample\n",
    "data/sample/testdata.yaml": "on_reject: continue\naccept_score: 0\nrange: 0 0\ngrader_flags: first_error\n",
    "data/secret/testdata.yaml": "on_reject: continue\nrange: 0 100\ngrader_flags: first_error accept_if_any_accepted\n",
    "data/secret/a/testdata.yaml": "on_reject: break\naccept_score: 50\nrange: 0 50\ngrader_flags: min\n",
    "data/secret/b/testdata.yaml": "on_reject: break\naccept_score: 50\nrange: 0 50\ngrader_flags: min\n",
    "data/sample/1.in": "", "data/secret/a/1.in": "", "data/secret/a/2.in": "", "data/secret/b/1.in": "",
}


def test_legacy_grading_as_problemtools_default_grader():
    pkg = from_files(ODDECHO_LIKE)
    groups = {g.name: g for g in pkg.problem.groups}
    assert (groups["secret.a"].scoring, groups["secret.a"].points) == (GroupScoring.MIN, 50)
    assert grade(pkg, outcomes(sample_1="AC", secret_a_1="AC", secret_a_2="AC", secret_b_1="AC"))[:2] == ("AC", 100)
    # a failed sample is ignored; a failed group scores 0 and the rest is still accepted
    assert grade(pkg, outcomes(sample_1="WA", secret_a_1="AC", secret_a_2="WA", secret_b_1="AC"))[:2] == ("AC", 50)
    assert grade(pkg, outcomes(sample_1="AC", secret_a_1="TLE", secret_a_2="", secret_b_1="WA"))[:2] == ("TLE", 0)
    # plain pass-fail: the first error breaks (worst_error then is the first one)
    plain = from_files({"problem.yaml": "", "data/sample/1.in": "", **SECRET})
    assert grade(plain, outcomes(sample_1="AC", secret_1="RTE", secret_2="WA")) == ("RTE", None, 10)
    assert grade(plain, outcomes(sample_1="WA", secret_1="", secret_2="")) == ("WA", None, 10)


def test_worst_error_and_sums_with_continue():
    pkg = from_files({"problem.yaml": "type: scoring\n", **SECRET, "data/secret/3.in": "",
                      "data/testdata.yaml": "on_reject: continue\n", "data/secret/testdata.yaml": "accept_score: 3\n"})
    assert pkg.problem.groups[0].test_points == 3
    assert grade(pkg, outcomes(secret_1="AC", secret_2="AC", secret_3="AC"))[:2] == ("AC", 9)
    assert grade(pkg, outcomes(secret_1="WA", secret_2="TLE", secret_3="AC"))[0] == "TLE"  # worst, by the grader's order
    avg = from_files({"problem.yaml": "type: scoring\n", **SECRET,
                      "data/secret/testdata.yaml": "accept_score: 10\ngrader_flags: avg\non_reject: continue\n"})
    assert avg.problem.groups[0].test_points == 5
    assert grade(avg, outcomes(secret_1="AC", secret_2="AC"))[:2] == ("AC", 10)


def test_outcomes_read_a_higher_limits_run_at_the_time_limit():
    results = [TestResult(name="a", verdict=TestVerdict.PASSED, cpuTimeMs=1500),
               TestResult(name="b", verdict=TestVerdict.PARTIAL, score=0.25, cpuTimeMs=10),
               TestResult(name="c", verdict=TestVerdict.MEMORY_LIMIT_EXCEEDED),
               TestResult(name="d", verdict=TestVerdict.SKIPPED)]
    got = outcomes_of(results, 1000)
    assert [(o.verdict, o.fraction) for o in got.values()] == [("TLE", 0), ("AC", 0.25), ("RTE", 0), ("", 0)]
    assert outcomes_of(results)["a"].verdict == "AC"


# --- the default validator's flags -----------------------------------------------------------------

def test_default_validator_flags():
    flags = kattis_flags(["case_sensitive", "float_tolerance", "1e-6", "float_absolute_tolerance", "0.5"])
    assert flags.case_sensitive and not flags.space_change_sensitive
    assert (flags.absolute, flags.relative) == (0.5, 1e-6)  # the last wins, as problemtools' validator does
    for bad in (["float_tolerance"], ["float_tolerance", "x"], ["float_tolerance", "-1"], ["frob"]):
        with pytest.raises(ValueError):
            kattis_flags(bad)


def test_numbers_as_c_reads_them():
    assert c_double(b"3.14000000e-2") == 0.0314 and c_double(b"-0x1p3") == -8.0 and c_double(b".5") == 0.5
    for word in (b"inf", b"nan", b"1e999", b"1_000", b"1.0x", b"", b"+"):
        assert c_double(word) is None, word


def test_the_task_carries_checker_args_and_the_protocol_only_when_used():
    """An operator newer than a runner still hands it tasks it reads, where a package is not used."""
    import json

    from gavel_contract import Checker, Interactor, Task, TestCase
    from gavel_contract.languages import resolve

    lang, ver = resolve("python")
    plain = Task(language=ver, languageName=lang.name, submission="s", tests=[TestCase(name="1", input="i", expected="e")])
    doc = json.loads(plain.document())
    assert "checkerArgs" not in doc["tests"][0]
    kattis = Task(language=ver, languageName=lang.name, submission="s", checker=Checker(kind=CheckerKind.KATTIS),
                  tests=[TestCase(name="1", input="i", expected="e", checkerArgs=["float_tolerance", "1e-6"])],
                  interactor=Interactor(program="v", protocol=CheckerProtocol.KATTIS))
    doc = json.loads(kattis.document())
    assert doc["tests"][0]["checkerArgs"] == ["float_tolerance", "1e-6"] and doc["interactor"]["protocol"] == "kattis"
    assert Task.model_validate_json(kattis.document()) == kattis
    with pytest.raises(ValueError):
        Interactor(program="v", protocol=CheckerProtocol.SCORE_LINE)
