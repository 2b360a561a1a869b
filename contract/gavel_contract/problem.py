"""A problem as a problem setter writes it: one directory holding `problem.yaml`, its tests, a
checker and reference solutions. The runner's local judge (`gavel judge --problem`, `gavel problem
check`) and the operator (a Problem in storage) read the same format and turn it into the same
Task, with the pure logic here: `Problem.resolve` against a listing of the directory's files (a
local walk, or the keys under a storage prefix), then `Problem.task`.

    name: subtasks
    title: Sum of N numbers
    limits: {timeMs: 1000, memoryKb: 65536}
    timeFactors: {python: 3}             # python gets 3 s of CPU
    tests: {pattern: "tests/*.in"}       # answers beside: NAME.out or NAME.ans
    groups:                              # tests join a group by a glob on their input path
      - {name: small, points: 20, tests: "tests/small-*.in"}
      - {name: medium, points: 30, tests: "tests/medium-*.in", dependsOn: [small]}
      - {name: large, scoring: sum, testPoints: 10, tests: "tests/large-*.in"}
    checker: {kind: tokens}
    solutions:
      - {path: solutions/accepted.py, language: python, expect: {verdict: Accepted, score: 100}}

Semantics (the operator's too):
- Paths are relative to the problem directory, `/`-separated, and stay inside it: no absolute
  path, no `..` (and, on disk, no symlink leading out).
- Globs match whole `/`-separated paths: `*`, `?` and `[...]` within one segment, `**` any number
  of segments.
- A test's name is its input's stem (`tests/small-2.in`: small-2); its answer, unless given, is
  NAME.out or else NAME.ans beside the input.
- A test belongs to the group it names (`group:`, listed tests) or whose `tests` glob matches its
  input path; two groups is an error. Its points: its own `points`, else its group's
  `testPoints`, else the pattern's `points`, else 1. In an `all` or `min` group only the group's
  `points` count; a `sum` group is worth the sum of its tests' points.
- Order: tests of no group first, then group by group in the order of `groups`; within each, a
  pattern's tests in natural name order (2 before 10), listed tests as listed.
- `timeFactors[language]` multiplies timeMs (and wallMs when given), rounded up, capped at the
  contract's maximum.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Callable, Iterable
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator, BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, model_validator,
)

from .models import (
    Checker, CheckerArg, CheckerKind, CheckerProtocol, FileIO, Group, GroupScoring, Interactor, LanguageVersion, Limits, Location,
    SupportFile,
    Order, Task, TestCase, Verdict,
)
from .scoring import group_errors

PROBLEM_API = "gavel.dev/problem/v1"
PROBLEM_FILE = "problem.yaml"
MAX_TIME_MS = 600_000  # Limits.time_ms's maximum
MAX_WALL_MS = 1_200_000
TEST_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
# a file with one of these suffixes is a source, not an executable: its language must be named
SOURCE_SUFFIXES = {".c", ".cc", ".cpp", ".cxx", ".py", ".rs", ".go", ".java", ".js"}


class ProblemError(ValueError):
    """Why a problem cannot be used, naming the field (`tests[2].answer`) and, from the loader, the
    file (`…/problem.yaml`)."""

    def __init__(self, message: str, field: str | None = None, file: str | None = None):
        super().__init__(message)
        self.message, self.field, self.file = message, field, file

    def __str__(self) -> str:
        return ": ".join(p for p in (self.file, self.field, self.message) if p)


# --- paths and globs ------------------------------------------------------------------------

def _path_error(value: str) -> str | None:
    if not value:
        return "an empty path"
    if "\\" in value:
        return f"{value}: use / to separate directories"
    if value.startswith("/") or re.match(r"^[A-Za-z]:", value):
        return f"{value} is an absolute path; paths are relative to the problem directory"
    if ".." in value.split("/"):
        return f"{value} leaves the problem directory (..)"
    return None


def _relative(value: str) -> str:
    """A relative path inside the problem directory, normalised (`./tests//1.in`: tests/1.in)."""
    if why := _path_error(value):
        raise ValueError(why)
    parts = [p for p in value.split("/") if p not in ("", ".")]
    if not parts:
        raise ValueError(f"{value!r} names the problem directory itself, not a file")
    return "/".join(parts)


RelPath = Annotated[str, AfterValidator(_relative),
                    Field(description="path relative to the problem directory, inside it")]
Glob = Annotated[str, AfterValidator(_relative),
                 Field(description="glob relative to the problem directory: * ? [..] within a segment, ** across")]


def _match_parts(pattern: list[str], path: list[str]) -> bool:
    if not pattern:
        return not path
    if pattern[0] == "**":
        return any(_match_parts(pattern[1:], path[i:]) for i in range(len(path) + 1))
    return bool(path) and fnmatch.fnmatchcase(path[0], pattern[0]) and _match_parts(pattern[1:], path[1:])


def glob_match(pattern: str, path: str) -> bool:
    """Whether a relative `/`-separated path matches a glob (see the module's docstring)."""
    return _match_parts(pattern.split("/"), path.split("/"))


def glob_may_enter(pattern: str, directory: str) -> bool:
    """Whether a glob could match a file somewhere under `directory`."""
    parts, dirs = pattern.split("/"), directory.split("/")

    def walk(p: list[str], d: list[str]) -> bool:
        if not d:
            return bool(p)
        if not p:
            return False
        if p[0] == "**":
            return True
        return fnmatch.fnmatchcase(d[0], p[0]) and walk(p[1:], d[1:])

    return walk(parts, dirs)


def natural_key(name: str) -> list:
    """`2` before `10`, `small-2` before `small-10`."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def answer_beside(input_path: str, files: set[str]) -> str | None:
    """NAME.out, else NAME.ans, beside an input, if there."""
    p = PurePosixPath(input_path)
    for suffix in (".out", ".ans"):
        candidate = str(p.with_suffix(suffix))
        if candidate != input_path and candidate in files:
            return candidate
    return None


# --- the model -------------------------------------------------------------------------------

class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, coerce_numbers_to_str=True)


Points = Annotated[float, Field(ge=0, le=1_000_000)]


class TestPattern(_Model):
    """Tests found by a glob over their inputs; each answer beside its input (NAME.out or NAME.ans)."""

    __test__ = False
    pattern: Glob = Field(description="glob of the inputs, e.g. tests/*.in; test names are the file stems, "
                                      "run in natural order (2 before 10)")
    points: Points | None = Field(None, description="points of each test (default 1), "
                                                    "unless its group gives testPoints")


class ProblemTest(_Model):
    """One test, listed."""

    __test__ = False
    name: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]+$", max_length=128,
                             description="default: the input's file stem")
    input: RelPath
    answer: RelPath | None = Field(None, description="default: NAME.out or NAME.ans beside the input")
    points: Points | None = Field(None, description="default: its group's testPoints, else 1")
    group: str | None = Field(None, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    checker_args: list[CheckerArg] = Field(
        default_factory=list, alias="checkerArgs", max_length=32,
        description="checker kattis: its flags for this test (case_sensitive, float_tolerance 1e-6, …); a kattis "
                    "custom checker or interactor: the arguments after its feedback directory")


def _form(value: Any) -> str:
    return "listed" if isinstance(value, list) else "pattern"


def _one_or_many(value: Any) -> str:
    return "many" if isinstance(value, list) else "one"


_UNION_TAGS = {"listed", "pattern", "one", "many"}

Tests = Annotated[
    Annotated[TestPattern, Tag("pattern")] | Annotated[list[ProblemTest], Field(min_length=1), Tag("listed")],
    Discriminator(_form),
]
Globs = Annotated[
    Annotated[Glob, Tag("one")] | Annotated[list[Glob], Field(min_length=1), Tag("many")],
    Discriminator(_one_or_many),
]


class ProblemGroup(_Model):
    """A group (subtask, batch): the contract's Group, plus a rule saying which tests are in it."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    points: Points | None = Field(None, description="all and min: what the group is worth (default 0); "
                                                    "a sum group is worth its tests' points: use testPoints")
    scoring: GroupScoring = GroupScoring.ALL
    depends_on: list[str] = Field(default_factory=list, alias="dependsOn",
                                  description="groups (listed before) that must score in full first")
    short_circuit: bool = Field(True, alias="shortCircuit",
                                description="all and min: once a test scores 0, skip the rest of the group")
    tests: Globs | None = Field(None, description="glob(s) of the input paths of its tests, e.g. tests/small-*.in")
    test_points: Points | None = Field(None, alias="testPoints",
                                       description="sum: points of each of its tests (default 1)")

    @model_validator(mode="after")
    def _points_fit_scoring(self) -> "ProblemGroup":
        if self.scoring == GroupScoring.SUM and self.points is not None:
            raise ValueError(f"group {self.name} is scored sum: it is worth the sum of its tests' points, "
                             "so give testPoints (each test's), not points")
        if self.scoring != GroupScoring.SUM and self.test_points is not None:
            raise ValueError(f"group {self.name} is scored {self.scoring.value}: only its points count, "
                             "testPoints is for sum groups")
        return self

    def globs(self) -> list[str]:
        return [] if self.tests is None else [self.tests] if isinstance(self.tests, str) else list(self.tests)

    def contract(self) -> Group:
        return Group(name=self.name, points=self.points or 0, scoring=self.scoring, dependsOn=self.depends_on,
                     shortCircuit=self.short_circuit)


class ProblemProgram(_Model):
    """A program the problem brings (a custom checker, an interactor): a source or an executable."""

    source: RelPath = Field(description="a source file (then name its language) or an executable")
    language: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9+-]*(:[a-z0-9][a-z0-9._+-]*)?$",
                                 description="NAME[:VERSION] of a source; none: an executable")
    files: list[RelPath] = Field(default_factory=list, max_length=16,
                                 description="files placed beside the source before it compiles, e.g. testlib.h")

    @model_validator(mode="after")
    def _source_has_language(self) -> "ProblemProgram":
        if self.language is None and PurePosixPath(self.source).suffix in SOURCE_SUFFIXES:
            raise ValueError(f"{self.source} is a source file: name its language (e.g. language: cpp)")
        return self


class CustomChecker(ProblemProgram):
    """run as `checker input output answer`."""

    protocol: CheckerProtocol = Field(CheckerProtocol.TESTLIB,
                                      description="testlib (exit codes, quitp), score-line, kattis or kattis-score")


class ProblemChecker(_Model):
    """A built-in checker (kind, with its options) or a custom one (custom: {source, language, protocol})."""

    kind: CheckerKind | None = Field(None, description="exact | lines (default) | tokens | float | kattis | custom")
    epsilon: float | None = Field(None, gt=0, lt=1, description="float: absolute or relative tolerance (default 1e-6)")
    ignore_case: bool = Field(False, alias="ignoreCase")
    order: Order = Order.AS_GIVEN
    custom: CustomChecker | None = None

    @model_validator(mode="after")
    def _custom_fits_kind(self) -> "ProblemChecker":
        if self.custom is not None and self.kind not in (None, CheckerKind.CUSTOM):
            raise ValueError(f"a custom checker is kind custom, not {self.kind.value}")
        if self.custom is None and self.kind == CheckerKind.CUSTOM:
            raise ValueError("kind custom needs custom: {source: …, language: …}")
        if self.epsilon is not None and self.kind != CheckerKind.FLOAT:
            raise ValueError("epsilon is for kind float")
        return self

    def contract(self, locate: Callable[[str], str]) -> Checker:
        if self.custom is not None:
            return Checker(kind=CheckerKind.CUSTOM, program=locate(self.custom.source), language=self.custom.language,
                           protocol=self.custom.protocol, files=support_files(self.custom.files, locate))
        return Checker(kind=self.kind or CheckerKind.LINES, epsilon=self.epsilon, ignoreCase=self.ignore_case,
                       order=self.order)


class Expectation(_Model):
    verdict: Verdict
    score: float | None = Field(None, ge=0, description="points it must earn; none: not compared")


class Solution(_Model):
    """A reference solution and what it must get (`gavel problem check` judges each)."""

    path: RelPath
    language: str = Field(pattern=r"^[a-z0-9][a-z0-9+-]*(:[a-z0-9][a-z0-9._+-]*)?$", description="NAME[:VERSION]")
    expect: Expectation


class ProblemInteractor(ProblemProgram):
    """An interactive problem's program: run as `interactor input answer` with each test's files,
    its stdout the submission's stdin and the other way round; it decides as a testlib checker (or,
    protocol kattis, as the problem package format's validators do)."""

    protocol: CheckerProtocol = Field(CheckerProtocol.TESTLIB, description="testlib, kattis or kattis-score")

    @model_validator(mode="after")
    def _interactive_protocol(self) -> "ProblemInteractor":
        if self.protocol == CheckerProtocol.SCORE_LINE:
            raise ValueError("an interactor speaks testlib, kattis or kattis-score, not score-line")
        return self


class Problem(_Model):
    """problem.yaml: a problem's tests, groups, limits, checker and reference solutions."""

    api_version: Literal["gavel.dev/problem/v1"] = Field(PROBLEM_API, alias="apiVersion")
    name: str = Field(min_length=1, max_length=63, pattern=r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
    title: str = Field("", max_length=200)
    limits: Limits = Field(default_factory=Limits, description="per test; defaults as the contract's Limits")
    time_factors: dict[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9+-]*$")],
                       Annotated[float, Field(gt=0, le=100)]] = Field(
        default_factory=dict, alias="timeFactors",
        description="language name -> multiplier of timeMs (and wallMs when given), e.g. {python: 3, java: 2}")
    tests: Tests = Field(description="{pattern: GLOB, points: N} or a list of {name, input, answer, points, group}")
    groups: list[ProblemGroup] = Field(default_factory=list, description="groups (subtasks), in order")
    checker: ProblemChecker = Field(default_factory=ProblemChecker)
    file_io: FileIO | None = Field(None, alias="fileIO", description="read and write these files, not stdin/stdout")
    interactor: ProblemInteractor | None = Field(
        None, description="interactive problem: the program the submission talks with (then no fileIO, no checker)")
    solutions: list[Solution] = Field(default_factory=list)

    @model_validator(mode="after")
    def _interactor_decides_alone(self) -> "Problem":
        if self.interactor and self.file_io:
            raise ValueError("an interactive problem talks through stdin and stdout: no fileIO with an interactor")
        if self.interactor and (self.checker.custom or self.checker.kind is not None):
            raise ValueError("an interactive problem's interactor decides the verdict: no checker with it")
        return self

    @classmethod
    def parse(cls, document: Any) -> "Problem":
        """The model of a problem.yaml's content, or ProblemError naming each bad field."""
        if not isinstance(document, dict):
            raise ProblemError("expected a mapping of fields (name, tests, …)")
        try:
            return cls.model_validate(document)
        except ValidationError as err:
            raise ProblemError(describe(err)) from None

    # --- resolution ------------------------------------------------------------------------

    @property
    def resolved(self) -> bool:
        """Tests listed in full (what `resolve` returns): name, answer and group of each known."""
        return isinstance(self.tests, list) and all(t.name and t.answer for t in self.tests)

    def referenced_paths(self) -> list[tuple[str, str]]:
        """(field, path) of every file named outright (not by a glob)."""
        out = []
        if isinstance(self.tests, list):
            for i, t in enumerate(self.tests):
                out.append((f"tests[{i}].input", t.input))
                if t.answer:
                    out.append((f"tests[{i}].answer", t.answer))
        if self.checker.custom:
            out.append(("checker.custom.source", self.checker.custom.source))
            out += [(f"checker.custom.files[{i}]", f) for i, f in enumerate(self.checker.custom.files)]
        if self.interactor:
            out.append(("interactor.source", self.interactor.source))
            out += [(f"interactor.files[{i}]", f) for i, f in enumerate(self.interactor.files)]
        out += [(f"solutions[{i}].path", s.path) for i, s in enumerate(self.solutions)]
        return out

    def globs(self) -> list[tuple[str, str]]:
        """(field, glob) of every glob."""
        out = [("tests.pattern", self.tests.pattern)] if isinstance(self.tests, TestPattern) else []
        for i, g in enumerate(self.groups):
            out += [(f"groups[{i}].tests", p) for p in g.globs()]
        return out

    def resolve(self, files: Iterable[str]) -> "Problem":
        """The problem with its tests listed in full and in order, given the relative paths of every
        file in its directory; ProblemError (naming the field) when it cannot be judged."""
        present = set(files)
        for field, path in self.referenced_paths():
            if path not in present:
                raise ProblemError(f"{path} does not exist", field)
        entries = self._entries(present)
        groups = self._assign_groups(entries)
        position = {g.name: i for i, g in enumerate(self.groups)}
        ordered = sorted(entries, key=lambda e: -1 if e["group"] is None else position[e["group"]])
        tests = [ProblemTest(name=e["name"], input=e["input"], answer=e["answer"], group=e["group"],
                             points=self._points(e, groups), checkerArgs=e["args"]) for e in ordered]
        if why := group_errors([g.contract() for g in self.groups], tests):
            raise ProblemError(why, "groups")
        return self.model_copy(update={"tests": tests})

    def _entries(self, present: set[str]) -> list[dict]:
        entries = []
        if isinstance(self.tests, TestPattern):
            pattern = self.tests.pattern
            inputs = sorted(f for f in present if glob_match(pattern, f))
            if not inputs:
                raise ProblemError(f"no tests found: no file matches {pattern}", "tests.pattern")
            for inp in inputs:
                name = PurePosixPath(inp).stem
                answer = answer_beside(inp, present)
                if answer is None:
                    raise ProblemError(f"{inp} has no answer: no {name}.out or {name}.ans beside it", "tests.pattern")
                entries.append({"field": "tests.pattern", "name": name, "input": inp, "answer": answer,
                                "points": None, "group": None, "args": []})
            entries.sort(key=lambda e: (natural_key(e["name"]), e["input"]))
        else:
            for i, t in enumerate(self.tests):
                name = t.name or PurePosixPath(t.input).stem
                answer = t.answer or answer_beside(t.input, present)
                if answer is None:
                    raise ProblemError(f"{t.input} has no answer: give answer, or put {name}.out or {name}.ans "
                                       "beside it", f"tests[{i}].answer")
                entries.append({"field": f"tests[{i}]", "name": name, "input": t.input, "answer": answer,
                                "points": t.points, "group": t.group, "args": t.checker_args})
        seen: dict[str, str] = {}
        for e in entries:
            if not TEST_NAME.match(e["name"]):
                raise ProblemError(f"test name {e['name']!r} (of {e['input']}) may hold only letters, digits, "
                                   "_ . and - (at most 128)", e["field"])
            if e["name"] in seen:
                raise ProblemError(f"two tests are named {e['name']}: {seen[e['name']]} and {e['input']}", e["field"])
            seen[e["name"]] = e["input"]
        return entries

    def _assign_groups(self, entries: list[dict]) -> dict[str, ProblemGroup]:
        groups: dict[str, ProblemGroup] = {}
        for i, g in enumerate(self.groups):
            if g.name in groups:
                raise ProblemError(f"two groups are named {g.name}", f"groups[{i}].name")
            groups[g.name] = g
        for e in entries:
            if e["group"] is not None and e["group"] not in groups:
                raise ProblemError(f"group {e['group']} is not in groups", f"{e['field']}.group")
        for i, g in enumerate(self.groups):
            for e in entries:
                if not any(glob_match(p, e["input"]) for p in g.globs()) or e["group"] == g.name:
                    continue
                if e["group"] is not None:
                    raise ProblemError(f"test {e['name']} ({e['input']}) is in two groups: {e['group']} and {g.name}",
                                       f"groups[{i}].tests")
                e["group"] = g.name
        for i, g in enumerate(self.groups):
            if not any(e["group"] == g.name for e in entries):
                rule = f": no test's input matches {', '.join(g.globs())}" if g.globs() else ""
                raise ProblemError(f"group {g.name} has no tests{rule}", f"groups[{i}]")
        for e in entries:
            g = groups.get(e["group"]) if e["group"] else None
            if g is not None and e["points"] is not None and g.scoring != GroupScoring.SUM:
                raise ProblemError(f"test {e['name']} is in group {g.name}, scored {g.scoring.value}: only the "
                                   "group's points count, not its tests'", f"{e['field']}.points")
        return groups

    def _points(self, entry: dict, groups: dict[str, ProblemGroup]) -> float | None:
        """None in an all or min group, where only the group's points count."""
        if entry["points"] is not None:
            return entry["points"]
        group = groups.get(entry["group"]) if entry["group"] else None
        if group is not None and group.scoring != GroupScoring.SUM:
            return None
        if group is not None and group.test_points is not None:
            return group.test_points
        if isinstance(self.tests, TestPattern) and self.tests.points is not None:
            return self.tests.points
        return 1

    # --- the task ---------------------------------------------------------------------------

    def limits_for(self, language: str) -> Limits:
        """The limits of one test in this language: timeFactors applied."""
        factor = self.time_factors.get(language, 1)
        if factor == 1:
            return self.limits.model_copy()

        def scale(ms: int, most: int) -> int:
            return min(math.ceil(round(ms * factor, 6)), most)

        return self.limits.model_copy(update={
            "time_ms": scale(self.limits.time_ms, MAX_TIME_MS),
            "wall_ms": None if self.limits.wall_ms is None else scale(self.limits.wall_ms, MAX_WALL_MS)})

    def max_score(self) -> float:
        """What a submission can earn (the result's maxScore)."""
        tests = self._resolved_tests()
        alone = sum(1 if t.points is None else t.points for t in tests if t.group is None)
        return alone + sum(self._worth(g, tests) for g in self.groups)

    @staticmethod
    def _worth(group: ProblemGroup, tests: list[ProblemTest]) -> float:
        if group.scoring == GroupScoring.SUM:
            return sum(1 if t.points is None else t.points for t in tests if t.group == group.name)
        return group.points or 0

    def describe_groups(self) -> str:
        """`small 20, medium 30 (after small), large 50 (sum)`."""
        tests = self._resolved_tests()
        words = []
        for g in self.groups:
            worth = self._worth(g, tests)
            notes = ([g.scoring.value] if g.scoring != GroupScoring.ALL else []) + \
                    ([f"after {', '.join(g.depends_on)}"] if g.depends_on else [])
            words.append(f"{g.name} {worth:g}" + (f" ({'; '.join(notes)})" if notes else ""))
        return ", ".join(words)

    def _resolved_tests(self) -> list[ProblemTest]:
        if not self.resolved:
            raise ProblemError("the problem's tests are not resolved yet: call resolve(files) first")
        return self.tests  # type: ignore[return-value]

    def task(self, *, language_name: str, language: LanguageVersion, submission: Location | None,
             locate: Callable[[str], str], limits: Limits | None = None,
             test_outputs: Callable[[str], dict[str, str]] | None = None, **fields: Any) -> Task:
        """The contract Task judging `submission` on this (resolved) problem. locate: a path in the
        problem directory -> its Location (a local path, a presigned URL); limits: instead of the
        problem's (timeFactors not applied); test_outputs: test name -> its stdout/stderr/diff
        Locations; fields: more Task fields (id, result, compileOutput, failFast, submissionFiles, …).
        With several files, the problem's name is the task's problemName (their entry may be named after it)."""
        lim = limits or self.limits_for(language_name)
        tests = [TestCase(name=t.name, input=locate(t.input), expected=locate(t.answer),
                          points=1 if t.points is None else t.points, checkerArgs=t.checker_args,
                          group=t.group, limits=lim, **(test_outputs(t.name) if test_outputs else {}))
                 for t in self._resolved_tests()]
        return Task.model_validate({
            "language": language, "languageName": language_name, "tests": tests,
            **({"submission": submission} if submission is not None else {}),
            **({"problemName": self.name} if submission is None or fields.get("submissionArchive") else {}),
            "checker": self.checker.contract(locate), "groups": [g.contract() for g in self.groups],
            "fileIO": self.file_io, **fields,
            **({"interactor": Interactor(program=locate(self.interactor.source), language=self.interactor.language,
                                         files=support_files(self.interactor.files, locate),
                                         protocol=self.interactor.protocol)}
               if self.interactor else {})})


def support_files(paths: list[str], locate: Callable[[str], str]) -> list[SupportFile]:
    """Files a checker or interactor source compiles with, under their own names (tests/lib/testlib.h:
    testlib.h); two of one name would overwrite each other."""
    names = [PurePosixPath(p).name for p in paths]
    if dup := sorted({n for n in names if names.count(n) > 1}):
        raise ProblemError(f"two support files are named {', '.join(dup)}")
    return [SupportFile(name=n, location=locate(p)) for n, p in zip(names, paths)]


def describe(err: ValidationError) -> str:
    """A pydantic error as `field.path: message; …`, in the YAML's own names."""
    out = []
    for e in err.errors()[:10]:
        loc = ""
        for part in e["loc"]:
            if isinstance(part, int):
                loc += f"[{part}]"
            elif part not in _UNION_TAGS:
                loc += f".{part}" if loc else str(part)
        msg = e["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        out.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(out)
