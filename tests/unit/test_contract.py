import json

import pytest
from pydantic import ValidationError

from gavel_contract import SUMMARY_MAX_BYTES, Result, Task, TestResult, TestVerdict, Verdict
from gavel_contract.languages import UnknownLanguage, builtin_languages, resolve
from gavel_contract.schema import schemas


def test_every_language_of_the_issue_is_defined():
    langs = builtin_languages()
    want = {"c": {"11", "17"}, "cpp": {"17", "20", "23"}, "python": {"3"}, "java": {"17"},
            "go": {"1.19"}, "rust": {"2021"}, "javascript": {"node"},
            # the family images' (issue 19)
            "fortran": {"2018"}, "ada": {"2012"}, "d": {"2.076"}, "pascal": {"3.2"}, "kotlin": {"1.3"},
            "scala": {"2.11"}, "csharp": {"mono"}, "haskell": {"9.0"}, "ocaml": {"4.13"}, "prolog": {"9"},
            "pypy": {"3"}, "ruby": {"3.1"}, "lua": {"5.4"}, "perl": {"5"}, "php": {"8.2"}, "bash": {"5"},
            "awk": {"5"}, "r": {"4.2"}}
    assert {n: {v.version for v in l.versions} for n, l in langs.items()} == want
    for lang in langs.values():
        assert sum(v.default for v in lang.versions) == 1, lang.name
        for v in lang.versions:
            assert all(cmd[0].startswith(("/", "{build}")) for cmd in (v.run, v.compile or ["/"])), v


def test_unknown_language_names_what_exists():
    with pytest.raises(UnknownLanguage, match=r"unknown language 'cobol'; supported: ada \(2012\), awk \(5\), bash \(5\), c \(17, 11\), cpp"):
        resolve("cobol")
    with pytest.raises(UnknownLanguage, match=r"unknown version '99' of cpp; supported: 17, 20, 23"):
        resolve("cpp:99")
    assert resolve("cpp")[1].version == "17"


def test_task_rejects_unknown_fields_and_duplicate_tests():
    lang = builtin_languages()["c"].versions[0].model_dump(by_alias=True)
    base = {"apiVersion": "gavel.dev/task/v1", "language": lang, "languageName": "c", "submission": "s.c",
            "tests": [{"name": "1", "input": "1.in", "expected": "1.out"}]}
    Task.model_validate(base)
    with pytest.raises(ValidationError, match="bogus"):
        Task.model_validate({**base, "bogus": 1})
    with pytest.raises(ValidationError, match="repeated: 1"):
        Task.model_validate({**base, "tests": base["tests"] * 2})
    with pytest.raises(ValidationError):
        Task.model_validate({**base, "apiVersion": "gavel.dev/task/v2"})


def test_summary_fits_a_termination_message():
    tests = [TestResult(name=f"t{i}", verdict=TestVerdict.PASSED) for i in range(1000)]
    tests[3] = TestResult(name="t3", verdict=TestVerdict.TIME_LIMIT_EXCEEDED)
    result = Result(verdict=Verdict.TEST_FAILED, message="x" * 10_000, tests=tests)
    text = result.summary()
    assert len(text.encode()) <= SUMMARY_MAX_BYTES
    doc = json.loads(text)
    assert doc["passed"] == 999 and doc["total"] == 1000 and doc["tests"][:5] == "PPPTP"
    many = Result(verdict=Verdict.ACCEPTED, tests=[TestResult(name=str(i), verdict=TestVerdict.PASSED) for i in range(5000)])
    assert len(many.summary().encode()) <= SUMMARY_MAX_BYTES


def test_checked_in_json_schemas_are_current():
    from pathlib import Path
    root = Path(__file__).resolve().parents[2] / "contract" / "schema"
    for name, schema in schemas().items():
        path = root / name
        assert path.exists(), f"{path} missing: run `make schema`"
        assert json.loads(path.read_text()) == schema, f"{path} is out of date: run `make schema`"


def test_versions_are_named_alike_and_old_names_still_work():
    from gavel_contract.languages import resolve

    assert resolve("c:17")[1].version == resolve("c:c17")[1].version == "17"
    assert resolve("cpp:17")[1].version == "17" and resolve("c:c11")[1].version == "11"


def test_a_task_that_uses_nothing_new_is_the_same_document_as_before():
    """Fields added to task/v1 are left out at their defaults: an older runner still judges it."""
    import json

    from gavel_contract import Task

    task = Task.model_validate({
        "language": {"version": "3", "sourceFile": "main.py", "run": ["/usr/bin/python3", "main.py"]},
        "languageName": "python", "submission": "s.py", "tests": [{"name": "1", "input": "i", "expected": "e"}]})
    doc = json.loads(task.document())
    assert "groups" not in doc and "fileIO" not in doc and set(doc["checker"]) == {"kind"}
    assert set(doc["tests"][0]) == {"name", "input", "expected", "limits"}
    assert Task.model_validate(doc) == task
    scored = task.model_copy(update={"groups": []})
    scored.tests[0].points = 5
    assert json.loads(scored.document())["tests"][0]["points"] == 5
