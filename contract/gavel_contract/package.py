"""A problem in the problem package format (Kattis, ICPC, DOMjudge, BAPCtools; versions `legacy` and
`2023-07-draft`) read as a Gavel Problem: the same typed problem `problem.yaml` gives, so that
`gavel judge --problem`, `gavel problem check` and the operator's Problem judge a package the way
they judge Gavel's own format, with nothing judged differently. Pure logic over a listing of the
package's files and a function reading one (a local directory, or the objects under a storage
prefix).

What a package becomes:
- tests: `data/sample/**.in` and `data/secret/**.in` with their `.ans`, named by their path under
  `data/` with `.` for `/` (`secret/group1/01.in`: `secret.group1.01`), in the order the spec gives
  (lexicographic within each directory, tests and subdirectories together);
- groups: one Gavel group per directory holding tests (`sample`, `secret`, `secret.group1`);
- the checker: the default output validator (Gavel's `kattis` checker) with the test's flags as its
  `checkerArgs`, or the custom output validator (protocol `kattis`, `kattis-score` when it scores),
  or for an interactive problem the same program as a `kattis` interactor;
- limits: `limits.time_limit` or `.timelimit` (else Gavel's default, said in `notes`), memory and
  output from `limits` (else 1024 MiB and 8 MiB, problemtools' defaults).

Grading. Legacy `testdata.yaml` (and the `2023-07-draft` packages problemtools reads, which keep
those keys): `on_reject` break becomes the group's shortCircuit and, between directories,
`dependsOn` the earlier ones; scoring problems score a directory's tests by `accept_score` each
(`sum`, `avg`: a `sum` group; `min`: a `min` group worth `accept_score`), directories holding
directories must `sum` them; `ignore_sample` makes the samples worth 0. The verdict flags
(`first_error`, `worst_error`, `always_accept`, `accept_if_any_accepted`, `ignore_sample`) decide
the package's verdict, which `grade` computes from a Result as problemtools' default grader does.
`2023-07-draft` `test_group.yaml` (`max_score`, `score_aggregation`, `require_pass`): each group of
`secret` is a Gavel group (`pass-fail`: all, `sum`, `min`), `require_pass` its dependsOn. What
Gavel's groups cannot express (custom graders, `max` or `min` over several groups, a reject_score,
unbounded scores, multi-pass and submit-answer problems, `include/`, `.files`, test `args`,
validators with build/run scripts or several sources) is refused with a message naming it.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import yaml

from .kattis import kattis_flags
from .languages import resolve as resolve_language
from .models import CheckerKind, CheckerProtocol, GroupScoring, Limits, TestVerdict
from .problem import (
    MAX_TIME_MS, PROBLEM_FILE, CustomChecker, Problem, ProblemChecker, ProblemError, ProblemGroup, ProblemInteractor,
    ProblemTest,
)

LEGACY = "legacy"
DRAFT = "2023-07-draft"
VERSIONS = {"legacy": LEGACY, "legacy-icpc": LEGACY, "2023-07-draft": DRAFT, "2023-07": DRAFT}
TIMELIMIT_FILE = ".timelimit"
DEFAULT_MEMORY_MIB = 1024  # problemtools' default (the spec: "system default", typically 2048)
DEFAULT_OUTPUT_MIB = 8
CONFIG_MAX_BYTES = 1 << 20
NAME_MAX = 64  # a test's name as the Evaluation's tests take it

LEGACY_KEYS = {"problem_format_version", "type", "name", "uuid", "author", "source", "source_url", "license",
               "rights_owner", "limits", "validation", "validator_flags", "grading", "keywords"}
DRAFT_KEYS = {"problem_format_version", "type", "name", "uuid", "version", "credits", "source", "license",
              "rights_owner", "embargo_until", "limits", "keywords", "languages", "allow_file_writing", "constants"}
LEGACY_LIMITS = {"time_multiplier", "time_safety_margin", "time_limit", "memory", "output", "code", "compilation_time",
                 "compilation_memory", "validation_time", "validation_memory", "validation_output"}
DRAFT_LIMITS = {"time_multipliers", "time_limit", "time_resolution", "memory", "output", "code", "compilation_time",
                "compilation_memory", "validation_time", "validation_memory", "validation_output", "validation_passes"}
# testdata.yaml (legacy, and the 2023-07-draft packages problemtools reads)
GRADING_KEYS = {"on_reject", "grading", "grader_flags", "accept_score", "reject_score", "range",
                "input_validator_flags", "output_validator_flags"}
# test_group.yaml (2023-07-draft): scoring keys are the group's own; the others are inherited
GROUP_SCORING_KEYS = {"max_score", "score_aggregation", "require_pass", "static_validation_score"}
GROUP_ARG_KEYS = {"args", "input_validator_args", "output_validator_args", "static_validator_args",
                  "input_visualizer_args", "output_visualizer_args", "full_feedback"}
TEST_KEYS = {"args", "input_validator_args", "output_validator_args", "input_visualizer_args",
             "output_visualizer_args", "full_feedback", "hint", "description"}
GRADER_VERDICT_MODES = ("worst_error", "no_errors", "first_error", "always_accept")
GRADER_SCORE_MODES = ("sum", "avg", "min", "max")
GRADER_FLAGS = (*GRADER_VERDICT_MODES, *GRADER_SCORE_MODES, "ignore_sample", "accept_if_any_accepted")

# a program's language by its files' suffixes: the spec's languages table (problemtools' languages.yaml)
# and the suffixes DOMjudge's and Kattis' packages use, for every language Gavel judges. `.pl` is
# Prolog in the spec and Perl in DOMjudge: pl_language reads the file to tell them apart.
SUFFIX_LANGUAGES = {".c": "c", ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".c++": "cpp", ".C": "cpp",
                    ".py": "python", ".py3": "python", ".java": "java", ".rs": "rust", ".go": "go", ".js": "javascript",
                    ".kt": "kotlin", ".scala": "scala", ".sc": "scala", ".cs": "csharp", ".hs": "haskell",
                    ".ml": "ocaml", ".pas": "pascal", ".pp": "pascal", ".p": "pascal", ".pl": "prolog", ".plg": "prolog",
                    ".rb": "ruby", ".lua": "lua", ".php": "php", ".sh": "bash", ".bash": "bash", ".awk": "awk",
                    ".R": "r", ".r": "r", ".f90": "fortran", ".f95": "fortran", ".f03": "fortran", ".f08": "fortran",
                    ".f": "fortran", ".for": "fortran", ".adb": "ada", ".ada": "ada", ".d": "d"}
# problemtools' tie-break when a directory holds as many sources of two languages (higher first)
LANGUAGE_PRIORITY = ("cpp", "c", "python", "java", "csharp", "ruby", "haskell", "rust", "scala", "javascript", "php",
                     "go", "ocaml", "pascal", "kotlin", "prolog")
HEAD_BYTES = 64 << 10  # how much of a file is read to tell its language
LANGUAGE_CODES = {"python3": "python", "c++": "cpp"}  # the languages table's codes, Gavel's names
VALIDATOR_LANGUAGES = {"c", "cpp", "python"}  # the spec: validators without build/run scripts are these

# expectations of the example submissions, by directory
LEGACY_DIRECTORIES = {"accepted": "AC", "partially_accepted": "AC", "wrong_answer": "WA",
                      "time_limit_exceeded": "TLE", "run_time_error": "RTE"}
ALL_VERDICTS = ("AC", "WA", "TLE", "RTE")
DRAFT_DIRECTORIES: dict[str, dict[str, Any]] = {
    "accepted": {"permitted": ["AC"]},
    "rejected": {"required": ["RTE", "TLE", "WA"]},
    "wrong_answer": {"permitted": ["AC", "WA"], "required": ["WA"]},
    "time_limit_exceeded": {"permitted": ["AC", "TLE"], "required": ["TLE"]},
    "run_time_error": {"permitted": ["AC", "RTE"], "required": ["RTE"]},
    "brute_force": {"permitted": ["AC", "RTE", "TLE"], "required": ["RTE", "TLE"]},
}
SUBMISSION_RULE_KEYS = {"permitted", "required", "score", "message", "use_for_time_limit"}
SUBMISSION_KEYS = SUBMISSION_RULE_KEYS | {"language", "entrypoint", "authors", "model_solution"}

# a Gavel test verdict as the package's verdicts name it (memory past the limit is a run-time error
# there; an output past the limit too)
PACKAGE_VERDICTS = {TestVerdict.PASSED: "AC", TestVerdict.PARTIAL: "AC", TestVerdict.WRONG_ANSWER: "WA",
                    TestVerdict.TIME_LIMIT_EXCEEDED: "TLE", TestVerdict.MEMORY_LIMIT_EXCEEDED: "RTE",
                    TestVerdict.RUNTIME_ERROR: "RTE", TestVerdict.OUTPUT_LIMIT_EXCEEDED: "RTE"}
WORST_FIRST = ("JE", "IF", "RTE", "MLE", "TLE", "OLE", "WA", "PE", "AC")


# --- what a package holds -----------------------------------------------------------------------

@dataclass
class TestNode:
    """A test case: data/PATH.in with data/PATH.ans."""

    __test__ = False
    path: str  # under data/, without .in: secret/group1/01
    name: str  # the Gavel test's: secret.group1.01
    input: str
    answer: str
    args: list[str] = field(default_factory=list)


@dataclass
class GroupNode:
    """A test data group: a directory under data/ (data/ itself is the root), with its configuration
    (inherited where the spec says so) and its tests and subgroups in order."""

    path: str  # under data/: "" (the root), sample, secret, secret/group1
    config: dict[str, Any]
    own: dict[str, Any]  # what its own configuration file says
    items: list["TestNode | GroupNode"] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.replace("/", ".") or "data"

    def tests(self) -> list[TestNode]:
        return [i for i in self.items if isinstance(i, TestNode)]

    def subgroups(self) -> list["GroupNode"]:
        return [i for i in self.items if isinstance(i, GroupNode)]

    def all_tests(self) -> list[TestNode]:
        out: list[TestNode] = []
        for item in self.items:
            out += [item] if isinstance(item, TestNode) else item.all_tests()
        return out

    def walk(self) -> Iterable["GroupNode"]:
        yield self
        for g in self.subgroups():
            yield from g.walk()

    def flags(self) -> list[str]:
        """Its grader_flags (inherited); ignore_sample only at the root, where it means something."""
        flags = str(self.config.get("grader_flags") or "").split()
        return flags if not self.path else [f for f in flags if f != "ignore_sample"]


@dataclass
class Expectation:
    """What one example submission must get: legacy, the package verdict (and partially_accepted: not
    the full score); 2023-07-draft, rules of permitted and required test verdicts (each over the tests
    its `tests` glob names, all when none), a score, a message."""

    verdict: str | None = None
    partial: bool = False
    rules: list[dict[str, Any]] = field(default_factory=list)
    lower_bound: bool = False  # its time bounds the time limit from below
    upper_bound: bool = False  # from above (it must time out)


@dataclass
class PackageSubmission:
    path: str  # under submissions/: accepted/hello.py
    language: str | None  # none: Gavel cannot judge it (why: `unsupported`)
    expectation: Expectation
    unsupported: str | None = None


@dataclass
class TimeLimit:
    fixed_ms: int | None  # limits.time_limit or .timelimit; none: computed by `gavel problem check`
    source: str  # where fixed_ms comes from, or "default"
    ac_to_time_limit: float
    time_limit_to_tle: float
    resolution_s: float

    def computed_ms(self, slowest_ms: int) -> int:
        """The spec's time limit from the slowest lower-bounding submission: the smallest multiple of
        the resolution at least slowest × ac_to_time_limit (at least one resolution)."""
        exact = slowest_ms / 1000 * self.ac_to_time_limit
        steps = max(1, math.ceil(round(exact / self.resolution_s, 9)))
        return min(MAX_TIME_MS, max(1, round(steps * self.resolution_s * 1000)))

    def high_ms(self, limit_ms: int) -> int:
        return min(MAX_TIME_MS, math.ceil(limit_ms * self.time_limit_to_tle))


@dataclass
class Package:
    """A package read: the Gavel problem it judges as, and what else `gavel problem check` needs."""

    problem: Problem
    version: str
    scoring: bool
    interactive: bool
    group_model: bool  # 2023-07-draft test_group.yaml scoring (else legacy testdata.yaml grading)
    root: GroupNode
    time: TimeLimit
    submissions: list[PackageSubmission]
    read_paths: list[str]  # every configuration file read (what a digest must cover)
    notes: list[str]
    range_max: float | None  # the package's best score (scoring), when it says

    def test_max(self, name: str) -> float:
        """What a test is worth in the package's terms (its Gavel points, or its min group's)."""
        test = next(t for t in self.problem.tests if t.name == name)
        group = next((g for g in self.problem.groups if g.name == test.group), None)
        if group is not None and group.scoring == GroupScoring.MIN:
            return group.points or 0
        if group is not None and group.scoring == GroupScoring.ALL:
            return 0
        return 1 if test.points is None else test.points


def is_package(document: Any, files: Iterable[str]) -> bool:
    """Whether a problem.yaml is the problem package format's rather than Gavel's own: Gavel's names
    its `tests` (and may say `apiVersion`); a package says neither and keeps its tests under data/."""
    if isinstance(document, dict) and ("tests" in document or "apiVersion" in document):
        return False
    return document is None or isinstance(document, dict) and (
        "problem_format_version" in document or any(f.startswith("data/") for f in files))


# --- reading ------------------------------------------------------------------------------------

def _yaml(read: Callable[[str], bytes | None], path: str, read_paths: list[str]) -> Any:
    raw = read(path)
    if raw is None:
        raise ProblemError(f"{path} cannot be read")
    read_paths.append(path)
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as err:
        raise ProblemError(f"not valid YAML: {err}", file=path) from None


def _mapping(value: Any, path: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ProblemError("expected a mapping", file=path)
    return value


def _number(value: Any, what: str, path: str, *, low: float = 0, strict: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or \
            (value <= low if strict else value < low):
        raise ProblemError(f"{what} must be a number {'>' if strict else '>='} {low:g}, not {value!r}", file=path)
    return float(value)


def _words(value: Any, what: str, path: str) -> list[str]:
    """A flags value: a string of words or a list of strings."""
    if value is None:
        return []
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value):
        return [str(v) for v in value]
    raise ProblemError(f"{what} must be a string or a list of strings", file=path)


def _hidden(part: str) -> bool:
    """The spec: names beginning with a dot or a dash (.gitignore, .git/) are not part of the package."""
    return part.startswith((".", "-"))


def load(files: Iterable[str], read: Callable[[str], bytes | None], directory_name: str) -> Package:
    """The package whose files (relative `/`-separated paths) are `files`, each readable by `read`;
    ProblemError naming the file and what Gavel cannot take otherwise. directory_name: the package's
    short name (its directory, or the last part of its storage prefix)."""
    files = {f for f in files if not any(_hidden(p) for p in f.split("/"))} | \
        ({TIMELIMIT_FILE} if TIMELIMIT_FILE in set(files) else set())
    read_paths: list[str] = []
    notes: list[str] = []
    meta = _mapping(_yaml(read, PROBLEM_FILE, read_paths), PROBLEM_FILE)
    raw_version = str(meta.get("problem_format_version", LEGACY))
    if raw_version not in VERSIONS:
        raise ProblemError(f"problem_format_version {raw_version} is not one Gavel reads (legacy, 2023-07-draft)",
                           file=PROBLEM_FILE)
    version = VERSIONS[raw_version]
    known = LEGACY_KEYS if version == LEGACY else DRAFT_KEYS
    if unknown := sorted(set(meta) - known):
        raise ProblemError(f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} (version {version})",
                           file=PROBLEM_FILE)
    types = _types(meta, version)
    scoring, interactive = "scoring" in types, "interactive" in types
    custom_validation, validation_scores, validator_flags = False, scoring and version == DRAFT, []
    if version == LEGACY:
        words = str(meta.get("validation", "default")).split()
        if not words or words[0] not in ("default", "custom") or \
                any(w not in ("score", "interactive") for w in words[1:]) or (words[0] == "default" and words[1:]):
            raise ProblemError(f"validation must be default or custom [score] [interactive], not "
                               f"{meta.get('validation')!r}", file=PROBLEM_FILE)
        custom_validation = words[0] == "custom"
        interactive = "interactive" in words[1:]
        validation_scores = "score" in words[1:]
        if validation_scores and not scoring:
            raise ProblemError("validation: custom score is for scoring problems (type: scoring)", file=PROBLEM_FILE)
        validator_flags = _words(meta.get("validator_flags"), "validator_flags", PROBLEM_FILE)
        grading = _mapping(meta.get("grading"), PROBLEM_FILE)
        if grading.get("objective", "max") != "max":
            raise ProblemError("grading.objective min is not supported: Gavel's scores are maximised",
                               file=PROBLEM_FILE)
    limits_doc = _mapping(meta.get("limits"), PROBLEM_FILE)
    if unknown := sorted(set(limits_doc) - (LEGACY_LIMITS if version == LEGACY else DRAFT_LIMITS)):
        raise ProblemError(f"limits: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}",
                           file=PROBLEM_FILE)
    time = _time_limit(limits_doc, version, files, read, read_paths, notes)
    limits = _limits(limits_doc, time)
    if any(f.startswith("include/") for f in files):
        raise ProblemError("include/ (files added to every submission) is not supported", file="include/")
    if "submissions/submissions.yaml" in files and version == LEGACY:
        notes.append("submissions/submissions.yaml is a 2023-07-draft file: ignored in a legacy package")

    program = _validator(files, version, custom_validation or interactive)
    root = _data_tree(files, read, version, read_paths)
    group_model = any(set(g.own) & GROUP_SCORING_KEYS for g in root.walk())
    if group_model and version == LEGACY:
        raise ProblemError("max_score, score_aggregation and require_pass are 2023-07-draft keys, not legacy ones")
    _test_args(root, validator_flags, program is None and not interactive, files, read, read_paths)
    if group_model:
        groups, points, range_max = _group_model(root, scoring)
    else:
        groups, points, range_max = _grading_model(root, scoring, validation_scores)
    names = {g.name for g in groups}
    tests = []
    for node, test in _in_order(root):
        group = node.name if node.name in names else node.path.split("/")[0]  # a pass-fail secret is one group
        tests.append(ProblemTest(name=test.name, input=test.input, answer=test.answer, group=group,
                                 points=points.get(test.name), checkerArgs=test.args))
    if not tests:
        raise ProblemError("no tests: data/secret (and data/sample) hold no NAME.in with NAME.ans")
    checker, interactor = ProblemChecker(), None
    protocol = CheckerProtocol.KATTIS_SCORE if validation_scores else CheckerProtocol.KATTIS
    if interactive:
        if program is None:
            raise ProblemError("an interactive problem needs its output validator (output_validators/ or "
                               "output_validator/), which talks with the submission")
        interactor = ProblemInteractor(source=program[0], language=program[1], files=program[2], protocol=protocol)
    elif program is not None:
        checker = ProblemChecker(kind=CheckerKind.CUSTOM, custom=CustomChecker(
            source=program[0], language=program[1], files=program[2], protocol=protocol))
    else:
        checker = ProblemChecker(kind=CheckerKind.KATTIS)
    title = _title(meta.get("name"))
    try:
        problem = Problem(name=_short_name(directory_name), title=title[:200], limits=limits, tests=tests,
                          groups=groups, checker=checker, interactor=interactor)
    except ValueError as err:
        raise ProblemError(f"cannot be judged as a Gavel problem: {err}") from None
    problem = problem.resolve(files)
    submissions = _submissions(files, read, version, scoring, read_paths, notes)
    if time.fixed_ms is None:
        notes.append(f"no time limit stated (limits.time_limit or {TIMELIMIT_FILE}): judged with "
                     f"{limits.time_ms / 1000:g} s; `gavel problem check --write-timelimit` computes one from the "
                     "accepted submissions and writes it")
    return Package(problem=problem, version=version, scoring=scoring, interactive=interactive, group_model=group_model,
                   root=root, time=time, submissions=submissions, read_paths=read_paths, notes=notes,
                   range_max=range_max)


def _types(meta: dict, version: str) -> set[str]:
    raw = meta.get("type", "pass-fail")
    types = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else None
    allowed = {"pass-fail", "scoring"} if version == LEGACY else \
        {"pass-fail", "scoring", "interactive", "multi-pass", "submit-answer"}
    if not types or any(not isinstance(t, str) or t not in allowed for t in types):
        raise ProblemError(f"type must be {' or '.join(sorted(allowed))}{' (or a list)' if version == DRAFT else ''}, "
                           f"not {raw!r}", file=PROBLEM_FILE)
    if "pass-fail" in types and "scoring" in types:
        raise ProblemError("type cannot be both pass-fail and scoring", file=PROBLEM_FILE)
    for unsupported in ("multi-pass", "submit-answer"):
        if unsupported in types:
            raise ProblemError(f"type {unsupported} is not supported", file=PROBLEM_FILE)
    return set(types)


def _title(name: Any) -> str:
    if isinstance(name, dict):
        name = name.get("en") or next(iter(name.values()), "")
    return str(name or "")


def _short_name(directory_name: str) -> str:
    """The Gavel problem's name: the package's short name (its directory), lower-cased, as a DNS label."""
    name = re.sub(r"[^a-z0-9-]+", "-", directory_name.lower()).strip("-")[:63].strip("-")
    return name or "problem"


def _time_limit(doc: dict, version: str, files: set[str], read, read_paths: list[str], notes: list[str]) -> TimeLimit:
    if version == LEGACY:
        ac = _number(doc.get("time_multiplier", 5), "limits.time_multiplier", PROBLEM_FILE, low=1, strict=False)
        tle = _number(doc.get("time_safety_margin", 2), "limits.time_safety_margin", PROBLEM_FILE, low=1,
                      strict=False)
        resolution = 1.0
    else:
        multipliers = _mapping(doc.get("time_multipliers"), PROBLEM_FILE)
        if unknown := sorted(set(multipliers) - {"ac_to_time_limit", "time_limit_to_tle"}):
            raise ProblemError(f"limits.time_multipliers: unknown key {', '.join(unknown)}", file=PROBLEM_FILE)
        ac = _number(multipliers.get("ac_to_time_limit", 2.0), "limits.time_multipliers.ac_to_time_limit",
                     PROBLEM_FILE, low=1, strict=False)
        tle = _number(multipliers.get("time_limit_to_tle", 1.5), "limits.time_multipliers.time_limit_to_tle",
                      PROBLEM_FILE, low=1, strict=False)
        resolution = _number(doc.get("time_resolution", 1.0), "limits.time_resolution", PROBLEM_FILE)
    fixed, source = None, "default"
    if "time_limit" in doc:
        fixed, source = _number(doc["time_limit"], "limits.time_limit", PROBLEM_FILE), "limits.time_limit"
    elif TIMELIMIT_FILE in files:
        raw = read(TIMELIMIT_FILE)
        read_paths.append(TIMELIMIT_FILE)
        try:
            fixed = float((raw or b"").decode().strip())
        except (ValueError, UnicodeDecodeError):
            raise ProblemError("must hold a number of seconds", file=TIMELIMIT_FILE) from None
        if not (math.isfinite(fixed) and fixed > 0):
            raise ProblemError("must hold a number of seconds > 0", file=TIMELIMIT_FILE)
        source = TIMELIMIT_FILE
    fixed_ms = None if fixed is None else math.ceil(round(fixed * 1000, 6))
    if fixed_ms is not None and fixed_ms > MAX_TIME_MS:
        raise ProblemError(f"a time limit of {fixed:g} s is above Gavel's {MAX_TIME_MS // 1000} s",
                           file=PROBLEM_FILE if source != TIMELIMIT_FILE else TIMELIMIT_FILE)
    return TimeLimit(fixed_ms=fixed_ms, source=source, ac_to_time_limit=ac, time_limit_to_tle=tle,
                     resolution_s=resolution)


def _limits(doc: dict, time: TimeLimit) -> Limits:
    memory = _number(doc.get("memory", DEFAULT_MEMORY_MIB), "limits.memory (MiB)", PROBLEM_FILE)
    output = _number(doc.get("output", DEFAULT_OUTPUT_MIB), "limits.output (MiB)", PROBLEM_FILE)
    try:
        return Limits(timeMs=time.fixed_ms or Limits().time_ms, memoryKb=math.ceil(memory * 1024),
                      outputKb=math.ceil(output * 1024))
    except ValueError as err:
        raise ProblemError(f"limits: {err}", file=PROBLEM_FILE) from None


# --- the output validator ---------------------------------------------------------------------------

def _validator(files: set[str], version: str, needed: bool) -> tuple[str, str, list[str]] | None:
    """The custom output validator as (source, language, support files), or None for the default one.
    A program is a file or a directory; output_validators/ (legacy) holds programs, output_validator/
    (2023-07-draft) is one (problemtools reads a program inside it too)."""
    roots = [d for d in ("output_validators", "output_validator") if any(f.startswith(d + "/") for f in files)]
    if not roots:
        if needed:
            raise ProblemError("validation is custom, but there is no output_validators/ (or output_validator/)")
        return None
    if len(roots) > 1:
        raise ProblemError("both output_validators/ and output_validator/: which is the validator?")
    if not needed and version == LEGACY:
        return None  # validation: default: the default validator, whatever output_validators/ holds
    base = roots[0]
    inside = sorted(f[len(base) + 1:] for f in files if f.startswith(base + "/"))
    tops = sorted({p.split("/")[0] for p in inside})
    dirs = sorted({p.split("/")[0] for p in inside if "/" in p})
    if len(dirs) == 1 and len(tops) == 1:
        program = f"{base}/{dirs[0]}"
    elif not dirs and (version == DRAFT or len(tops) == 1 or
                       sum(1 for t in tops if SUFFIX_LANGUAGES.get(PurePosixPath(t).suffix) in VALIDATOR_LANGUAGES) == 1):
        program = base  # the directory is the program (or holds one file and its headers)
    else:
        raise ProblemError(f"{base}/ holds {', '.join(tops)}: Gavel runs one output validator, a file or a "
                           "directory")
    return _program(files, program, "output validator")


def _program(files: set[str], program: str, what: str) -> tuple[str, str, list[str]]:
    members = sorted(f for f in files if f.startswith(program + "/"))
    if any(f.count("/") > program.count("/") + 1 for f in members):
        raise ProblemError(f"the {what} {program}/ has subdirectories: not supported")
    names = [PurePosixPath(f).name for f in members]
    if "build" in names or "run" in names:
        raise ProblemError(f"the {what} {program}/ has a build or run script: not supported (a single C, C++ or "
                           "Python program is)")
    sources: dict[str, list[str]] = {}
    for f in members:
        lang = SUFFIX_LANGUAGES.get(PurePosixPath(f).suffix)
        if lang:
            sources.setdefault(lang, []).append(f)
    usable = {lang: paths for lang, paths in sources.items() if lang in VALIDATOR_LANGUAGES}
    if len(usable) != 1:
        found = ", ".join(sorted(sources)) or "none"
        raise ProblemError(f"the {what} {program}/ must be C, C++ or Python (one language; found: {found})")
    lang, paths = next(iter(usable.items()))
    if lang == "python":
        mains = [p for p in paths if PurePosixPath(p).name == "__main__.py"] or (paths if len(paths) == 1 else [])
        if len(mains) != 1:
            raise ProblemError(f"the {what} {program}/ holds several Python files and no __main__.py")
    else:
        if len(paths) != 1:
            raise ProblemError(f"the {what} {program}/ holds {len(paths)} {lang} sources: only one is supported "
                               "(headers beside it are)")
        mains = paths
    main = mains[0]
    support = [f for f in members if f != main]
    if len(support) > 16:
        raise ProblemError(f"the {what} {program}/ holds {len(members)} files: at most 17 are supported")
    return main, lang, support


# --- test data ------------------------------------------------------------------------------------

def _data_tree(files: set[str], read, version: str, read_paths: list[str]) -> GroupNode:
    data = sorted(f[len("data/"):] for f in files if f.startswith("data/"))
    for top in ("sample", "secret"):
        for f in data:
            parts = f.split("/")
            if parts[0] == top and any(p.endswith(".files") for p in parts[1:-1]):
                raise ProblemError(f"data/{f}: test files given to the submission (.files) are not supported")
    if not any(f.startswith("secret/") for f in data):
        raise ProblemError("no data/secret/: a package's tests are under data/secret (and data/sample)")

    def config_of(directory: str) -> tuple[dict, str | None]:
        prefix = f"data/{directory}/" if directory else "data/"
        names = [n for n in ("testdata.yaml", "test_group.yaml") if prefix + n in files]
        if len(names) > 1:
            raise ProblemError(f"{prefix} has both testdata.yaml and test_group.yaml")
        if not names:
            return {}, None
        if names[0] == "test_group.yaml" and version == LEGACY:
            raise ProblemError("test_group.yaml is a 2023-07-draft file; a legacy package has testdata.yaml",
                               file=prefix + names[0])
        path = prefix + names[0]
        own = _mapping(_yaml(read, path, read_paths), path)
        if unknown := sorted(set(own) - GRADING_KEYS - GROUP_SCORING_KEYS - GROUP_ARG_KEYS):
            raise ProblemError(f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}", file=path)
        return own, path

    def build(directory: str, inherited: dict) -> GroupNode:
        own, path = config_of(directory)
        config = {k: v for k, v in inherited.items() if k not in GROUP_SCORING_KEYS} | own
        if path:
            config["_file"] = path
        node = GroupNode(path=directory, config=config, own=own)
        prefix = directory + "/" if directory else ""
        here = [f[len(prefix):] for f in data if f.startswith(prefix)]
        subdirs = sorted({p.split("/")[0] for p in here if "/" in p})
        if not directory:
            subdirs = [d for d in ("sample", "secret") if d in subdirs]
        entries: dict[str, TestNode | str] = {}
        for p in here:
            if "/" in p or not p.endswith(".in") or not directory:
                continue
            base = p[:-3]
            test_path = prefix + base
            answer = f"data/{test_path}.ans"
            if answer not in files:
                raise ProblemError(f"data/{test_path}.in has no {PurePosixPath(answer).name} beside it")
            entries[base] = TestNode(path=test_path, name=test_path.replace("/", "."), input=f"data/{test_path}.in",
                                     answer=answer)
        for d in subdirs:
            if d.endswith(".files"):
                continue
            entries.setdefault(d, d)
        for key in sorted(entries):
            item = entries[key]
            node.items.append(item if isinstance(item, TestNode) else build(prefix + item, config))
        return node

    root = build("", {})
    for g in root.walk():
        if g.path.startswith("sample") and set(g.own) & (GROUP_SCORING_KEYS - {"static_validation_score"}):
            raise ProblemError("max_score, score_aggregation and require_pass are not allowed in data/sample",
                               file=g.config.get("_file"))
    for t in root.all_tests():
        if len(t.name) > NAME_MAX:
            raise ProblemError(f"data/{t.path}.in: its test name {t.name} is longer than {NAME_MAX} characters")
    return root


def _test_args(root: GroupNode, problem_flags: list[str], default_validator: bool, files: set[str], read,
               read_paths: list[str]) -> None:
    """Each test's output validator arguments: legacy, problem.yaml's validator_flags then the group's
    output_validator_flags; 2023-07-draft, output_validator_args from test_group.yaml, or from the
    test's own NAME.yaml. The default validator's flags are checked here."""
    for group in root.walk():
        cfg = group.config
        if cfg.get("grading", "default") != "default":
            raise ProblemError("grading: custom (a custom grader) is not supported", file=cfg.get("_file"))
        if _words(cfg.get("args"), "args", cfg.get("_file")):
            raise ProblemError("args (command-line arguments for the submission) are not supported",
                               file=cfg.get("_file"))
        flags = cfg.get("output_validator_flags")
        if isinstance(flags, dict):  # {name, flags}: that validator's arguments
            flags = flags.get("flags")
        group_args = _words(flags, "output_validator_flags", cfg.get("_file")) + \
            _words(cfg.get("output_validator_args"), "output_validator_args", cfg.get("_file"))
        for test in group.tests():
            test.args = problem_flags + group_args
            own = f"data/{test.path}.yaml"
            if own in files:
                doc = _mapping(_yaml(read, own, read_paths), own)
                if unknown := sorted(set(doc) - TEST_KEYS):
                    raise ProblemError(f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}", file=own)
                if _words(doc.get("args"), "args", own):
                    raise ProblemError("args (command-line arguments for the submission) are not supported", file=own)
                if "output_validator_args" in doc:
                    test.args = problem_flags + _words(doc["output_validator_args"], "output_validator_args", own)
            if default_validator:
                try:
                    kattis_flags(test.args)
                except ValueError as err:
                    raise ProblemError(f"test {test.path}: {err}", file=cfg.get("_file") or PROBLEM_FILE) from None


def _in_order(root: GroupNode) -> list[tuple[GroupNode, TestNode]]:
    """Every test with the directory holding it, in the order the package runs them."""
    out: list[tuple[GroupNode, TestNode]] = []

    def visit(g: GroupNode) -> None:
        for item in g.items:
            if isinstance(item, TestNode):
                out.append((g, item))
            else:
                visit(item)

    visit(root)
    return out


# --- grading -----------------------------------------------------------------------------------------

def _segments(root: GroupNode) -> list[GroupNode]:
    """The directories holding tests, in the order their tests run; a directory's tests must come all
    before or all after its subdirectories (Gavel's groups are contiguous)."""
    for group in root.walk():
        kinds = [isinstance(i, TestNode) for i in group.items]
        changes = sum(1 for a, b in zip(kinds, kinds[1:]) if a != b)
        if changes > 1:
            raise ProblemError(f"data/{group.path}/ mixes tests and test groups in between each other "
                               "(lexicographically): not supported")
    return list({id(g): g for g, _ in _in_order(root)}.values())


def _grading_model(root: GroupNode, scoring: bool,
                   validator_scores: bool) -> tuple[list[ProblemGroup], dict[str, float], float | None]:
    """Legacy grading (testdata.yaml) as Gavel groups; see the module's docstring."""
    for g in root.walk():
        if unknown := [f for f in g.flags() if f not in GRADER_FLAGS]:
            raise ProblemError(f"grader_flags: unknown {', '.join(unknown)}", file=g.config.get("_file"))
        if g.config.get("on_reject", "break") not in ("break", "continue"):
            raise ProblemError("on_reject must be break or continue", file=g.config.get("_file"))
        if "ignore_sample" in str(g.own.get("grader_flags") or "").split() and g.path:
            raise ProblemError("grader_flags: ignore_sample is for the root (data/testdata.yaml) only",
                               file=g.config.get("_file"))
    segments = _segments(root)
    ignore_sample = "ignore_sample" in root.flags()
    points: dict[str, float] = {}
    groups: list[ProblemGroup] = []
    for seg in segments:
        cfg = seg.config
        accept = _score_value(cfg.get("accept_score", 1), "accept_score", cfg)
        reject = _score_value(cfg.get("reject_score", 0), "reject_score", cfg)
        if ignore_sample and seg.path.split("/")[0] == "sample":
            accept = 0.0
        tests = seg.tests()
        if scoring:
            if reject != 0:
                raise ProblemError("reject_score other than 0 is not supported", file=cfg.get("_file"))
            mode = _score_mode(seg.flags())
            if mode == "max" and len(tests) > 1:
                raise ProblemError("grader_flags max over several tests is not supported", file=cfg.get("_file"))
            if mode == "avg" and validator_scores:
                raise ProblemError("grader_flags avg with a validator's scores (validation: custom score) is not "
                                   "supported", file=cfg.get("_file"))
            if mode == "min" or mode == "max":
                group = ProblemGroup(name=seg.name, scoring=GroupScoring.MIN, points=accept,
                                     shortCircuit=cfg.get("on_reject", "break") == "break")
            else:
                share = accept / len(tests) if mode == "avg" else accept
                group = ProblemGroup(name=seg.name, scoring=GroupScoring.SUM, testPoints=share)
                for t in tests:
                    points[t.name] = share
                if cfg.get("on_reject", "break") == "break" and _forgiving(seg, root):
                    raise ProblemError("on_reject: break with a score summed over tests, under a group that may "
                                       "accept a failed one (always_accept, accept_if_any_accepted): not "
                                       "supported", file=cfg.get("_file"))
        else:
            group = ProblemGroup(name=seg.name, scoring=GroupScoring.ALL, points=len(tests),
                                 shortCircuit=cfg.get("on_reject", "break") == "break")
        groups.append(group)
    if scoring:  # directories of directories sum them (or hold one thing)
        for g in root.walk():
            if g.subgroups() and len(g.items) > 1 and _score_mode(g.flags()) != "sum" and \
                    not (not g.path and "ignore_sample" in g.flags()):
                raise ProblemError(f"grader_flags {_score_mode(g.flags())} over several test groups "
                                   f"(data/{g.path}) is not supported: Gavel sums its groups",
                                   file=g.config.get("_file"))
    _depends_on(root, groups, scoring)
    range_max = _range_max(root) if scoring else None
    return groups, points, range_max


def _score_value(value: Any, key: str, cfg: dict) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ProblemError(f"{key} must be a number >= 0 for Gavel (scores are points), not {value!r}",
                           file=cfg.get("_file"))
    return float(value)


def _score_mode(flags: list[str]) -> str:
    mode = "sum"
    for f in flags:
        if f in GRADER_SCORE_MODES:
            mode = f
    return mode


def _verdict_mode(flags: list[str]) -> str:
    mode = "worst_error"
    for f in flags:
        if f in GRADER_VERDICT_MODES:
            mode = "worst_error" if f == "no_errors" else f
    return mode


def _forgiving(node: GroupNode, root: GroupNode) -> bool:
    """Whether a failed test under `node` can leave an ancestor (or the node itself) accepted."""
    path = node.path
    for g in root.walk():
        if (g.path == "" or path == g.path or path.startswith(g.path + "/")) and \
                ({"always_accept", "accept_if_any_accepted"} & set(g.flags()) or _verdict_mode(g.flags()) ==
                 "always_accept"):
            return True
    return False


def _accepts_only_all(node: GroupNode) -> bool:
    """Whether the group is accepted only when each of its tests is (no forgiving verdict flags below)."""
    return not any({"always_accept", "accept_if_any_accepted"} & set(g.flags()) for g in node.walk())


def _depends_on(root: GroupNode, groups: list[ProblemGroup], scoring: bool) -> None:
    """on_reject: break between a group's items: each Gavel group depends on the Gavel groups of the
    items before it in every breaking ancestor (and those items must be accepted only when all their
    tests are: else, for a scoring problem, it is refused)."""
    by_name = {g.name: g for g in groups}
    seg_names = {g.name for g in groups}

    def gavel_groups(item) -> list[str]:
        if isinstance(item, TestNode):
            return []
        return [g.name for g in item.walk() if g.name in seg_names]

    def visit(node: GroupNode, deps: list[str]) -> None:
        breaking = node.config.get("on_reject", "break") == "break"
        before: list[str] = []
        own_tests_done = False
        for item in node.items:
            if isinstance(item, TestNode):
                if not own_tests_done:
                    own_tests_done = True
                    by_name[node.name].depends_on = list(dict.fromkeys(deps + before))
                    if breaking:
                        before.append(node.name)
                continue
            visit(item, deps + before)
            if breaking:
                if _accepts_only_all(item):
                    before += gavel_groups(item)
                elif scoring and item is not node.items[-1]:
                    raise ProblemError(f"on_reject: break after data/{item.path}, which may be accepted with a "
                                       "failed test (always_accept, accept_if_any_accepted): not supported",
                                       file=node.config.get("_file"))

    visit(root, [])


def _range_max(root: GroupNode) -> float | None:
    for g in (root, *root.subgroups()):
        raw = g.config.get("range")
        if raw is not None and (not g.path or g.path == "secret"):
            try:
                low, high = (float(x) for x in str(raw).split())
            except ValueError:
                raise ProblemError(f"range must be two numbers, not {raw!r}", file=g.config.get("_file")) from None
            if math.isfinite(high):
                return high
    return None


def _group_model(root: GroupNode, scoring: bool) -> tuple[list[ProblemGroup], dict[str, float], float | None]:
    """2023-07-draft test_group.yaml scoring (max_score, score_aggregation, require_pass) as Gavel groups."""
    if not scoring:
        raise ProblemError("max_score, score_aggregation and require_pass are for scoring problems (type: scoring)")
    for g in root.walk():
        if GRADING_KEYS & set(g.own) - {"input_validator_flags", "output_validator_flags"}:
            raise ProblemError("testdata.yaml grading keys (on_reject, grader_flags, accept_score, …) mixed with "
                               "test_group.yaml scoring (max_score, score_aggregation, require_pass)",
                               file=g.config.get("_file"))
    secret = next(g for g in root.subgroups() if g.path == "secret")
    sample = next((g for g in root.subgroups() if g.path == "sample"), None)
    if sample is not None and sample.subgroups():
        raise ProblemError("data/sample must not hold test groups")
    if secret.tests() and secret.subgroups():
        raise ProblemError("data/secret holds tests and test groups: one or the other")
    for g in secret.subgroups():
        if g.subgroups():
            raise ProblemError(f"data/{g.path} holds test groups: test groups cannot be nested")

    def max_score(g: GroupNode, default: Any) -> float:
        raw = g.own.get("max_score", default)
        if raw == "unbounded" or raw is None:
            raise ProblemError("an unbounded max_score is not supported (Gavel scores tests as parts of a "
                               "maximum)", file=g.config.get("_file"))
        return _score_value(raw, "max_score", g.config)

    def aggregation(g: GroupNode, default: str) -> str:
        value = g.own.get("score_aggregation", default)
        if value not in ("pass-fail", "sum", "min"):
            raise ProblemError(f"score_aggregation must be pass-fail, sum or min, not {value!r}",
                               file=g.config.get("_file"))
        return value

    top = aggregation(secret, "sum")
    total = max_score(secret, 100)
    groups: list[ProblemGroup] = []
    points: dict[str, float] = {}
    if sample is not None and sample.tests():
        groups.append(ProblemGroup(name="sample", scoring=GroupScoring.ALL, points=0, shortCircuit=False))

    def mapped(g: GroupNode, mode: str, worth: float) -> ProblemGroup:
        tests = g.tests()
        if mode == "pass-fail":
            return ProblemGroup(name=g.name, scoring=GroupScoring.ALL, points=worth)
        if mode == "min":
            return ProblemGroup(name=g.name, scoring=GroupScoring.MIN, points=worth)
        for t in tests:
            points[t.name] = worth / len(tests)
        return ProblemGroup(name=g.name, scoring=GroupScoring.SUM, testPoints=worth / len(tests))

    if secret.tests():
        groups.append(mapped(secret, top, total))
    else:
        if top == "min":
            raise ProblemError("score_aggregation min over test groups is not supported: Gavel sums its groups",
                               file=secret.config.get("_file"))
        worth = 0.0
        for g in secret.subgroups():
            mode = aggregation(g, "pass-fail")
            if top == "pass-fail" and mode != "pass-fail":
                raise ProblemError("secret is pass-fail: so must its groups be", file=g.config.get("_file"))
            worth_g = max_score(g, None)
            worth += worth_g
            groups.append(mapped(g, mode, worth_g))
        if top == "pass-fail":  # all or nothing over every test of secret: one Gavel group
            groups = [g for g in groups if g.name == "sample"]
            groups.append(ProblemGroup(name="secret", scoring=GroupScoring.ALL, points=total))
        elif not math.isclose(worth, total):
            raise ProblemError(f"the groups of data/secret are worth {worth:g} in all, not its max_score "
                               f"{total:g}", file=secret.config.get("_file"))
    names = {g.name for g in groups}
    for g in root.walk():
        required = g.own.get("require_pass")
        if required is None:
            continue
        required = [required] if isinstance(required, str) else required
        if not isinstance(required, list):
            raise ProblemError("require_pass must be a group name or a list of them", file=g.config.get("_file"))
        gavel = next((x for x in groups if x.name == g.name), None)
        for r in required:
            dep = str(r).replace("/", ".")
            if dep not in names or gavel is None or dep == g.name:
                raise ProblemError(f"require_pass: {r} is not a test group before {g.path}",
                                   file=g.config.get("_file"))
            gavel.depends_on.append(dep)
    return groups, points, total


# --- example submissions --------------------------------------------------------------------------

def pl_language(head: bytes) -> str:
    """A `.pl` file: Prolog when it has a clause with a body (`:-`) and no Perl #! line; Perl otherwise."""
    if re.match(rb"#!.*perl", head) or not re.search(rb":-", head):
        return "perl"
    return "prolog"


def file_language(path: str, head: Callable[[], bytes]) -> str | None:
    """A file's language by its suffix; `head()` (its first bytes) is read only where the suffix
    leaves it open (`.pl`): the operator reads a package from storage, a request per file."""
    lang = SUFFIX_LANGUAGES.get(PurePosixPath(path).suffix)
    return pl_language(head()) if lang == "prolog" and path.endswith(".pl") else lang


def submission_language(path: str, head: bytes) -> tuple[str | None, str | None]:
    """(Gavel language, None) of an example submission, or (None, why it cannot be judged)."""
    suffix = PurePosixPath(path).suffix
    lang = file_language(path, lambda: head)
    if lang is None:
        return None, f"language of {suffix or 'a file without suffix'} not supported by Gavel"
    if lang == "python" and re.match(rb"^#!.*python2", head):
        return None, "Python 2 (its #! line) is not supported by Gavel"
    return lang, None


def directory_language(entry: str, members: list[str], read) -> tuple[str, str | None, str | None]:
    """(what to judge, Gavel language, None) of a submission that is a directory, or (entry, None, why
    not). The language is the one most of its sources are in (problemtools' rule); a language that
    takes one source file is judged on it when the directory holds exactly one."""
    sources: dict[str, list[str]] = {}
    for m in members:
        lang = file_language(m, lambda: (read(f"submissions/{m}") or b"")[:HEAD_BYTES])
        if lang:
            sources.setdefault(lang, []).append(m)
    if not sources:
        return entry, None, "a directory without a source file in a language Gavel judges: not supported"
    rank = {name: i for i, name in enumerate(LANGUAGE_PRIORITY)}
    lang = max(sources, key=lambda n: (len(sources[n]), -rank.get(n, len(rank))))
    paths = sources[lang]
    _, version = resolve_language(lang)
    if version.multi_file is not None:
        return entry, lang, None
    if len(paths) == 1:
        return paths[0], lang, None  # a one-file language: its one source
    return entry, None, (f"{len(paths)} {lang} sources ({', '.join(PurePosixPath(p).name for p in paths[:4])}): "
                         f"not supported, Gavel's {lang} takes one source file")


def _submissions(files: set[str], read, version: str, scoring: bool, read_paths: list[str],
                 notes: list[str]) -> list[PackageSubmission]:
    entries = sorted({"/".join(f.split("/")[1:3]) for f in files
                      if f.startswith("submissions/") and f.count("/") >= 2})
    config: dict[str, Any] = {}
    if version == DRAFT and "submissions/submissions.yaml" in files:
        config = _mapping(_yaml(read, "submissions/submissions.yaml", read_paths), "submissions/submissions.yaml")
    out = []
    for entry in entries:
        directory = entry.split("/")[0]
        is_dir = any(f.startswith(f"submissions/{entry}/") for f in files)
        expectation = _expectation(entry, directory, version, scoring, config)
        if expectation is None:
            notes.append(f"submissions/{entry}: not in a directory that says what it must get: not checked")
            continue
        if is_dir:
            members = sorted(f[len("submissions/"):] for f in files if f.startswith(f"submissions/{entry}/"))
            entry, lang, why = directory_language(entry, members, read)
        else:
            lang, why = submission_language(entry, (read(f"submissions/{entry}") or b"")[:HEAD_BYTES])
        rules_language = _rules_for(entry, config).get("language")
        if rules_language:  # the languages table's code
            code = str(rules_language).lower()
            lang, why = LANGUAGE_CODES.get(code, code), None
        out.append(PackageSubmission(entry, lang, expectation, why))
    return out


def _rules_for(entry: str, config: dict) -> dict:
    merged: dict = {}
    for pattern, value in config.items():
        if isinstance(value, dict) and spec_glob(str(pattern), entry):
            merged |= {k: v for k, v in value.items() if k in SUBMISSION_KEYS}
    return merged


def _brace(pattern: str) -> list[str]:
    match = re.search(r"\{([^{}]*)\}", pattern)
    if not match:
        return [pattern]
    return [x for alt in match.group(1).split(",")
            for x in _brace(pattern[:match.start()] + alt + pattern[match.end():])]


def spec_glob(pattern: str, path: str) -> bool:
    """The spec's globs: `*` within a name, brace expansion; a path matches when it or a parent does."""
    parts = path.split("/")
    for p in _brace(pattern):
        pp = p.strip("/").split("/")
        if len(pp) <= len(parts) and all(fnmatch.fnmatchcase(a, b) and "[" not in b for a, b in zip(parts, pp)):
            return True
    return False


def _expectation(entry: str, directory: str, version: str, scoring: bool, config: dict) -> Expectation | None:
    if version == LEGACY:
        verdict = LEGACY_DIRECTORIES.get(directory)
        if verdict is None:
            return None
        return Expectation(verdict=verdict, partial=directory == "partially_accepted",
                           lower_bound=directory == "accepted", upper_bound=directory == "time_limit_exceeded")
    base = dict(DRAFT_DIRECTORIES.get(directory, {}))
    overridden = directory in config and isinstance(config[directory], dict)
    if overridden:  # a directory's defaults, overridden
        base |= {k: v for k, v in config[directory].items() if k in SUBMISSION_RULE_KEYS}
    rules = [base] if base else []
    for pattern, value in config.items():
        if pattern == directory or not isinstance(value, dict) or not spec_glob(str(pattern), entry):
            continue
        if unknown := [k for k in value if k not in SUBMISSION_KEYS and not _looks_like_group(k)]:
            raise ProblemError(f"{pattern}: unknown key {', '.join(unknown)}", file="submissions/submissions.yaml")
        own = {k: v for k, v in value.items() if k in SUBMISSION_RULE_KEYS}
        if own:
            rules.append(own)
        for key, sub in value.items():
            if _looks_like_group(key) and isinstance(sub, dict):
                rules.append({**{k: v for k, v in sub.items() if k in SUBMISSION_RULE_KEYS}, "tests": key})
    if directory == "partially_accepted" and not overridden:
        # problemtools reads this legacy directory in 2023-07-draft packages as legacy does: the
        # package's verdict accepted (its grading may accept failed tests), not the full score
        return Expectation(verdict="AC", partial=True, rules=rules)
    if not rules:
        return None
    lower = upper = False
    for r in rules:
        use = r.get("use_for_time_limit")
        permitted = r.get("permitted", list(ALL_VERDICTS))
        if use == "lower" or (use is not False and "TLE" not in permitted):
            lower = True
        if use == "upper" or (use is not False and r.get("required") == ["TLE"]):
            upper = True
    return Expectation(rules=rules, lower_bound=lower, upper_bound=upper)


def _looks_like_group(key: str) -> bool:
    return key.split("/")[0] in ("sample", "secret") or "*" in key


# --- the package's verdict ----------------------------------------------------------------------------

@dataclass
class Outcome:
    """A test's result in the package's terms."""

    verdict: str  # AC WA TLE RTE, or "" when not judged (skipped)
    fraction: float  # of its maximum, when accepted (a validator's score may give part)
    time_ms: int
    message: str = ""


def outcomes_of(results: Iterable[Any], limit_ms: int | None = None) -> dict[str, Outcome]:
    """Each test's outcome from a Result's tests; with limit_ms, a test whose CPU time is past it is a
    time-limit failure (a judgement at a higher limit, read at this one)."""
    out = {}
    for r in results:
        verdict = PACKAGE_VERDICTS.get(r.verdict, "")
        if limit_ms is not None and verdict and r.cpu_time_ms > limit_ms:
            verdict = "TLE"
        fraction = (1.0 if r.score is None else r.score) if verdict == "AC" else 0.0
        out[r.name] = Outcome(verdict, fraction, r.cpu_time_ms, r.message)
    return out


def grade(package: Package, outcomes: dict[str, Outcome]) -> tuple[str, float | None, int]:
    """The package's verdict, score (scoring problems) and the slowest judged test's CPU time: legacy
    grading through testdata.yaml's tree as problemtools' default grader does (on_reject, verdict and
    score modes), the 2023-07-draft group model through Gavel's groups."""
    if package.group_model:
        return _grade_groups(package, outcomes)
    validator_scores = _has_validator_score(package)
    ignore_sample = "ignore_sample" in package.root.flags()

    def node(g: GroupNode) -> tuple[str, float, int] | None:
        results: list[tuple[str, float, int]] = []
        breaking = g.config.get("on_reject", "break") == "break"
        for item in g.items:
            if isinstance(item, TestNode):
                o = outcomes.get(item.name)
                if o is None or not o.verdict:
                    break  # not judged: Gavel skipped it, as the package would have
                accept = 0.0 if ignore_sample and item.path.startswith("sample/") else \
                    float(g.config.get("accept_score", 1))
                if o.verdict == "AC":
                    score = accept * o.fraction if validator_scores else accept
                else:
                    score = float(g.config.get("reject_score", 0))
                results.append((o.verdict, score, o.time_ms))
            else:
                sub = node(item)
                if sub is None:
                    continue
                results.append(sub)
            if results[-1][0] != "AC" and breaking:
                break
        if not results:
            return None
        flags = g.flags()
        verdicts, scores = [r[0] for r in results], [r[1] for r in results]
        if "ignore_sample" in flags and len(results) == 2:
            verdicts, scores = verdicts[-1:], scores[-1:]
        mode = _verdict_mode(flags)
        if ("accept_if_any_accepted" in flags and "AC" in verdicts) or mode == "always_accept":
            verdict = "AC"
        elif mode == "first_error":
            verdict = next((v for v in verdicts if v != "AC"), "AC")
        else:
            verdict = min(verdicts, key=lambda v: WORST_FIRST.index(v) if v in WORST_FIRST else 0)
        aggregate = {"sum": sum, "min": min, "max": max, "avg": lambda s: sum(s) / len(s)}[_score_mode(flags)]
        return verdict, aggregate(scores), max(r[2] for r in results)

    verdict, score, slowest = node(package.root) or ("AC", 0.0, 0)
    return verdict, (round(score, 6) if package.scoring else None), slowest


def _has_validator_score(package: Package) -> bool:
    program = package.problem.checker.custom or package.problem.interactor
    return program is not None and program.protocol == CheckerProtocol.KATTIS_SCORE


def _grade_groups(package: Package, outcomes: dict[str, Outcome]) -> tuple[str, float | None, int]:
    """The group model (scoring only): the score as Gavel's groups give it."""
    judged = [o for o in outcomes.values() if o.verdict]
    slowest = max((o.time_ms for o in judged), default=0)
    tests = package.problem.tests
    members = {g.name: [t for t in tests if t.group == g.name] for g in package.problem.groups}

    def fraction(name: str) -> float:
        o = outcomes.get(name)
        return o.fraction if o is not None and o.verdict == "AC" else 0.0

    total = 0.0
    for g in package.problem.groups:
        if not all(fraction(t.name) >= 1 for d in g.depends_on for t in members[d]):
            continue
        got = [fraction(t.name) for t in members[g.name]]
        if g.scoring == GroupScoring.SUM:
            total += sum((1 if t.points is None else t.points) * f for t, f in zip(members[g.name], got))
        elif g.scoring == GroupScoring.MIN:
            total += (g.points or 0) * min(got)
        else:
            total += (g.points or 0) if all(f >= 1 for f in got) else 0.0
    verdict = next((o.verdict for o in judged if o.verdict != "AC"), "AC")
    return verdict, round(total, 6), slowest
