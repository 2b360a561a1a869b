"""Problems on disk: a directory with problem.yaml (the format: gavel_contract.problem), loaded
and checked as the operator checks one in storage, and turned into a local Task.

On disk, besides what the format refuses (absolute paths, `..`), a path must not lead out of the
directory through a symlink: every file a test, the checker or a solution uses is checked after
resolving links, and a glob that could reach into a directory symlink leading out is refused."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from gavel_contract import Limits, Result, package
from gavel_contract.languages import UnknownLanguage, resolve

from .multifile import local_fields
from gavel_contract.problem import (
    PROBLEM_FILE, Problem, ProblemError, Solution, TestPattern, glob_match, glob_may_enter,
)

__all__ = ["ProblemError", "load", "task_for", "check_solution", "SolutionCheck"]


def _problem_dir(directory: str | os.PathLike) -> Path:
    root = Path(directory)
    if root.name == PROBLEM_FILE and root.is_file():
        root = root.parent
    return root


def load(directory: str | os.PathLike) -> Problem:
    """The problem in this directory, its tests found and listed in full (names, answers, points,
    groups, in the order they run); ProblemError naming the file and the field otherwise. A
    problem package (the problem package format: gavel_contract.package) is read as one."""
    found = _load(directory)
    return found.problem if isinstance(found, package.Package) else found


def load_package(directory: str | os.PathLike) -> package.Package | None:
    """The problem package in this directory, or None when its problem.yaml is Gavel's own format."""
    found = _load(directory)
    return found if isinstance(found, package.Package) else None


def _load(directory: str | os.PathLike) -> Problem | package.Package:
    root = _problem_dir(directory)
    file = str(root / PROBLEM_FILE)
    if not root.is_dir():
        raise ProblemError(f"{root} is not a directory")
    try:
        text = (root / PROBLEM_FILE).read_text()
    except FileNotFoundError:
        raise ProblemError(f"no {PROBLEM_FILE} in {root}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ProblemError(f"cannot read it: {getattr(err, 'strerror', None) or err}", file=file) from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ProblemError(f"not valid YAML: {err}", file=file) from None
    real_root = root.resolve()
    files, outside = _listing(root, real_root)
    if package.is_package(document, files):
        return _load_package(root, real_root, files, outside)
    try:
        problem = Problem.parse(document)
        for field, path in problem.referenced_paths():
            _check_inside(root, real_root, path, field)
        for field, glob in problem.globs():
            for path, is_dir in outside:
                if glob_may_enter(glob, path) if is_dir else glob_match(glob, path):
                    raise ProblemError(f"{path} is a symlink leading out of the problem directory", field)
        field = "tests.pattern" if isinstance(problem.tests, TestPattern) else "tests"
        problem = problem.resolve(files)
        for t in problem.tests:  # found by a glob or beside an input
            _check_inside(root, real_root, t.input, field)
            _check_inside(root, real_root, t.answer, field)
    except ProblemError as err:
        err.file = file
        raise
    return problem


PACKAGE_FILE_MAX_BYTES = 1 << 20  # a configuration file of a package is a page of text


def _load_package(root: Path, real_root: Path, files: list[str], outside: list[tuple[str, bool]]) -> package.Package:
    """A problem package on disk: every file it uses stays inside it (no symlink leading out)."""
    leading_out = {path for path, _ in outside}

    def read(rel: str) -> bytes | None:
        _check_inside(root, real_root, rel, "")
        try:
            with open(root / rel, "rb") as f:
                data = f.read(PACKAGE_FILE_MAX_BYTES + 1)
        except OSError:
            return None
        if len(data) > PACKAGE_FILE_MAX_BYTES:
            raise ProblemError(f"larger than {PACKAGE_FILE_MAX_BYTES // 1024} kB", file=str(root / rel))
        return data

    try:
        pkg = package.load(files, read, real_root.name)
        for field, path in pkg.problem.referenced_paths() + [("tests", p) for t in pkg.problem.tests
                                                              for p in (t.input, t.answer)]:
            if path in leading_out:
                raise ProblemError(f"{path} is a symlink leading out of the problem directory")
            _check_inside(root, real_root, path, field)
        for sub in pkg.submissions:
            if f"submissions/{sub.path}" in leading_out:
                raise ProblemError(f"submissions/{sub.path} is a symlink leading out of the problem directory")
    except ProblemError as err:
        err.file = err.file if err.file and err.file.startswith("/") else str(root / (err.file or PROBLEM_FILE))
        raise
    return pkg


def _check_inside(root: Path, real_root: Path, rel: str, field: str) -> None:
    path = root / rel
    real = path.resolve()
    if not real.is_relative_to(real_root):
        raise ProblemError(f"{rel} is a symlink leading out of the problem directory", field)
    if not real.exists():
        raise ProblemError(f"{rel} does not exist", field)
    if not real.is_file():
        raise ProblemError(f"{rel} is not a file", field)


def _listing(root: Path, real_root: Path) -> tuple[list[str], list[tuple[str, bool]]]:
    """Every file under root (relative, `/`-separated), following directory symlinks that stay
    inside; and the symlinks that lead out, with whether each is a directory (not entered)."""
    files: list[str] = []
    outside: list[tuple[str, bool]] = []

    def walk(directory: Path, rel: str, chain: frozenset[Path]) -> None:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as err:
            raise ProblemError(f"cannot list {rel or '.'}: {err.strerror}") from None
        for entry in entries:
            path = f"{rel}/{entry.name}" if rel else entry.name
            if entry.is_dir(follow_symlinks=True):
                real = Path(entry.path).resolve()
                if entry.is_symlink():
                    if not real.is_relative_to(real_root):
                        outside.append((path, True))
                        continue
                    if real in chain:  # a loop
                        continue
                walk(Path(entry.path), path, chain | {real})
            elif entry.is_file(follow_symlinks=False) or entry.is_symlink():
                if entry.is_symlink() and not Path(entry.path).resolve().is_relative_to(real_root):
                    outside.append((path, False))
                files.append(path)

    walk(root, "", frozenset({real_root}))
    return files, outside


def task_for(problem: Problem, directory: str | os.PathLike, source: str | os.PathLike, language: str,
             version: str | None = None, *, limits: Limits | None = None, output_dir: str | os.PathLike | None = None,
             fail_fast: bool = False):
    """The Task judging `source` on a loaded problem with local file paths: the language's time
    factor applied (unless `limits` are given), groups, points, checker and fileIO as in
    problem.yaml. language: NAME or NAME:VERSION; version: the version, if not in language."""
    lang, ver = resolve(f"{language}:{version}" if version and ":" not in language else language)
    root = _problem_dir(directory).resolve()
    out = Path(output_dir).resolve() if output_dir else None

    def locate(rel: str) -> str:
        return str((root / rel).resolve())

    def outputs(name: str) -> dict[str, str]:
        return {"stdout": str(out / f"{name}.stdout"), "stderr": str(out / f"{name}.stderr"),
                "diff": str(out / f"{name}.diff")}
    several = local_fields(source)  # one file: its path; several: the directory's files, or the archive
    return problem.task(language_name=lang.name, language=ver, submission=several.pop("submission", None), **several,
                        locate=locate, limits=limits, test_outputs=outputs if out else None, failFast=fail_fast,
                        compileOutput=str(out / "compile.txt") if out else None)


@dataclass
class SolutionCheck:
    """How a listed solution fared against what it must get."""

    solution: Solution
    ok: bool
    result: Result | None
    problems: list[str]


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


def check_solution(problem: Problem, directory: str | os.PathLike, solution: Solution, judge) -> SolutionCheck:
    """Judge a listed solution (judge: Task -> Result) and compare with its expect."""
    root = _problem_dir(directory)
    try:
        task = task_for(problem, root, root / solution.path, solution.language)
    except UnknownLanguage as err:
        return SolutionCheck(solution, False, None, [str(err)])
    result = judge(task)
    mismatches = []
    want = solution.expect
    if result.verdict != want.verdict:
        mismatches.append(f"expected {want.verdict.value}, got {result.verdict.value}")
    if want.score is not None:
        if result.score is None:
            mismatches.append(f"expected score {want.score:g}, got none (the judge gave no score)")
        elif not _same(result.score, want.score):
            mismatches.append(f"expected score {want.score:g}, got {result.score:g}")
    return SolutionCheck(solution, not mismatches, result, mismatches)
