"""Shared fixtures: local judging of inline sources with the real sandbox and compilers."""

from __future__ import annotations

from pathlib import Path

import pytest

from gavel_contract import Checker, Limits, Result, Task, TestCase
from gavel_contract.languages import resolve
from gavel_runner.judge import judge


@pytest.fixture
def judge_source(tmp_path: Path):
    """judge_source(source, "cpp", {"1": ("1 2\\n", "3\\n")}, time_ms=..., memory_kb=...) -> Result"""

    def run(source: str, language: str, tests: dict[str, tuple[str, str]] | None = None,
            checker: str | Checker = "lines", **limits) -> Result:
        lang, ver = resolve(language)
        tests = tests or {"1": ("1 2\n", "3\n")}
        src = tmp_path / ver.source_file
        src.write_text(source)
        cases = []
        for name, (inp, ans) in tests.items():
            (tmp_path / f"{name}.in").write_text(inp)
            (tmp_path / f"{name}.ans").write_text(ans)
            cases.append(TestCase(name=name, input=str(tmp_path / f"{name}.in"), expected=str(tmp_path / f"{name}.ans"),
                                  stdout=str(tmp_path / "out" / f"{name}.stdout"),
                                  stderr=str(tmp_path / "out" / f"{name}.stderr"),
                                  diff=str(tmp_path / "out" / f"{name}.diff"),
                                  limits=Limits(**{"timeMs": 1000, "memoryKb": 65536, **limits})))
        task = Task(language=ver, languageName=lang.name, submission=str(src), tests=cases,
                    checker=checker if isinstance(checker, Checker) else Checker.parse(checker))
        return judge(task)

    return run
