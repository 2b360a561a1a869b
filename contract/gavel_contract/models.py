"""The contract between the operator and the runner: the task a Job is given, and
the result it hands back.  Versioned by `apiVersion`; both sides refuse what they
do not understand instead of guessing."""

from __future__ import annotations

import json
from enum import Enum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .submission import MAX_FILES, ArchiveFormat

TASK_API = "gavel.dev/task/v1"
RESULT_API = "gavel.dev/result/v1"
PROGRESS_API = "gavel.dev/progress/v1"
PROGRESS_MAX_BYTES = 4096  # what the operator reads of a progress object, at most
SUMMARY_MAX_BYTES = 4096

# An object location: a presigned http(s) URL (what a pod gets) or a local path
# (what a person on a laptop gets).
Location = Annotated[str, Field(min_length=1, description="presigned http(s) URL or local file path")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Verdict(str, Enum):
    """Overall verdict of an evaluation."""

    ACCEPTED = "Accepted"
    TEST_FAILED = "TestFailed"
    COMPILATION_ERROR = "CompilationError"
    INITIALIZATION_ERROR = "InitializationError"
    INTERNAL_ERROR = "InternalError"


class TestVerdict(str, Enum):
    """Verdict of one test case."""

    __test__ = False  # not a pytest class

    PASSED = "Passed"
    WRONG_ANSWER = "WrongAnswer"
    TIME_LIMIT_EXCEEDED = "TimeLimitExceeded"
    MEMORY_LIMIT_EXCEEDED = "MemoryLimitExceeded"
    OUTPUT_LIMIT_EXCEEDED = "OutputLimitExceeded"
    RUNTIME_ERROR = "RuntimeError"
    PARTIAL = "Partial"  # the checker gave part of the test's points
    SKIPPED = "Skipped"  # not run: fail-fast, a failed test earlier in its group, or a group it depends on failed


# One letter per test verdict in the termination message's summary (the operator reads it back).
VERDICT_CODES = {TestVerdict.PASSED: "P", TestVerdict.WRONG_ANSWER: "W", TestVerdict.TIME_LIMIT_EXCEEDED: "T",
                 TestVerdict.MEMORY_LIMIT_EXCEEDED: "M", TestVerdict.OUTPUT_LIMIT_EXCEEDED: "O",
                 TestVerdict.RUNTIME_ERROR: "R", TestVerdict.PARTIAL: "H", TestVerdict.SKIPPED: "S"}


# Processes and threads of one run at most (RLIMIT_NPROC of its uid); the sandbox samples a run's
# process tree up to this many processes (sandbox.c's MAX_TREE).
MAX_PROCESSES = 4096


# Waiting for a CPU on a crowded node does not count toward a run's wall limit, but stretches the run
# to this many times its wall limit at most; past that the sandbox kills it as starved (no verdict).
# sandbox.c's STARVED_FACTOR; the runner's watchdog and the operator's pod deadline allow as much.
STARVED_FACTOR = 3


class Limits(Strict):
    """Limits for one run of a program."""

    time_ms: int = Field(1000, ge=1, le=600_000, alias="timeMs", description="CPU time limit in milliseconds")
    wall_ms: int | None = Field(
        None, ge=1, le=1_200_000, alias="wallMs",
        description="wall-clock limit in milliseconds; default: twice the CPU limit plus one second",
    )
    memory_kb: int = Field(262_144, ge=1024, le=64 * 1024 * 1024, alias="memoryKb", description="peak memory (RSS) limit in kB")
    output_kb: int = Field(65_536, ge=1, le=1024 * 1024, alias="outputKb", description="cap on stdout, stderr and any file written, in kB")
    processes: int | None = Field(
        None, ge=1, le=MAX_PROCESSES,
        description="processes and threads the program may have at once (RLIMIT_NPROC of its uid; every one's CPU "
                    "counts toward timeMs); default: the language version's `processes`")

    @property
    def wall_limit_ms(self) -> int:
        return self.wall_ms or 2 * self.time_ms + 1000


# A custom checker's own limits: it is the problem's program, but it reads what the submission
# wrote, so it is sandboxed and limited like one (the operator sizes runner pods for it too).
CHECKER_LIMITS = Limits(timeMs=10_000, wallMs=20_000, memoryKb=262_144, outputKb=1024)


class MemoryModel(str, Enum):
    """How the sandbox holds a language to its memory limit.

    Both watch the resident set (killing at the limit) and decide MemoryLimitExceeded on the
    measured peak RSS.  rss (the default) sets no address-space limit: Java, Go and Node reserve
    gigabytes they never touch, and a C++ program that asks for 800 MB under a 64 MB limit
    should hear MemoryLimitExceeded, not die of a refused allocation.  address-space adds a
    backstop RLIMIT_AS of four times the limit plus `addressSpaceGraceKb`: an allocation past
    it fails inside the program, which then ends as the program decides (usually a
    RuntimeError)."""

    ADDRESS_SPACE = "address-space"
    RSS = "rss"


class EntryRule(str, Enum):
    """Which file of a submission of several files is the program.

    none: every source is built into one program (C, C++: compiled and linked together; Go: the
    package in the top directory). named: the first of entryNames found in the top directory, else
    the only source. java-main-class: the one class with `public static void main(String[])` among
    the compiled classes (none, or more than one, is a CompilationError); each source is placed in the
    directory its `package` declaration names."""

    NONE = "none"
    NAMED = "named"
    JAVA_MAIN_CLASS = "java-main-class"


class MultiFile(Strict):
    """How a submission of several files (a directory, a storage prefix, an archive) is built: the
    same toolchain as one file, with every source named on the command line."""

    sources: list[str] = Field(min_length=1, max_length=8,
                               description="globs of the source files' names (e.g. *.cpp), in any directory")
    compile: list[str] | None = Field(None, description="compile command; `{sources}` (a whole word) is every source's "
                                                        "path, `{entry}` the entry's; default: none")
    run: list[str] | None = Field(None, description="run command, `{entry}` the entry (a path, or Java's class); "
                                                    "default: the version's run")
    entry: EntryRule = EntryRule.NONE
    entry_names: list[str] = Field(default_factory=list, alias="entryNames", max_length=8,
                                   description="named: the entry's names tried in order; {problem} is the problem's name")


class LanguageVersion(Strict):
    """One version of a language: how to compile and run a submission in the runner image."""

    version: str = Field(min_length=1, max_length=32, pattern=r"^[a-z0-9][a-z0-9._+-]*$")
    aliases: list[str] = Field(default_factory=list, max_length=8,
                               description="other names this version answers to (older names kept working)")
    default: bool = False
    image: str = Field("gavel-runner", description="runner image that carries this toolchain")
    source_file: str = Field(alias="sourceFile", pattern=r"^[A-Za-z0-9_.-]+$", description="file name the submission is saved as")
    compile: list[str] | None = Field(None, description="compile command (argv; absolute program path), run in the build directory")
    run: list[str] = Field(min_length=1, description="run command (argv; absolute program path), run in a fresh scratch directory; {build} is the build directory")
    env: dict[str, str] = Field(default_factory=dict, description="environment of compile and run (the runner's own is never passed)")
    compile_limits: Limits = Field(
        default_factory=lambda: Limits(timeMs=30_000, wallMs=60_000, memoryKb=524_288, outputKb=1024),
        alias="compileLimits",
    )
    compile_processes: int = Field(64, ge=1, le=4096, alias="compileProcesses", description="processes and threads the compiler may use")
    processes: int = Field(1, ge=1, le=MAX_PROCESSES,
                           description="processes and threads a submission may use (RLIMIT_NPROC), unless its limits "
                                       "say otherwise (limits.processes)")
    memory_model: MemoryModel = Field(MemoryModel.RSS, alias="memoryModel")
    address_space_grace_kb: int = Field(
        262_144, ge=0, alias="addressSpaceGraceKb",
        description="address-space model: the backstop RLIMIT_AS is four times the memory limit plus this",
    )
    out_of_memory_exit_code: int | None = Field(
        None, alias="outOfMemoryExitCode",
        description="exit code the runtime uses when its own heap limit refuses an allocation; with "
                    "outOfMemoryMessage at the end of stderr, the test is MemoryLimitExceeded",
    )
    out_of_memory_message: str | None = Field(
        None, alias="outOfMemoryMessage", max_length=200,
        description="what the runtime prints (stdout or stderr) when its heap limit refuses an allocation (a program that exits "
                    "with the same code on its own stays a RuntimeError)",
    )
    memory_args: list[str] = Field(
        default_factory=list, alias="memoryArgs",
        description="extra arguments placed after the run program, {memoryMb} replaced (e.g. -Xmx{memoryMb}m for Java)",
    )
    default_limits: Limits = Field(default_factory=Limits, alias="defaultLimits")
    multi_file: MultiFile | None = Field(None, alias="multiFile",
                                         description="how a submission of several files is built; none: one file only")


class Language(Strict):
    """A language this runner judges, with its versions."""

    name: str = Field(min_length=1, max_length=32, pattern=r"^[a-z0-9][a-z0-9+-]*$")
    title: str = ""
    versions: list[LanguageVersion] = Field(min_length=1)

    def default_version(self) -> LanguageVersion:
        return next((v for v in self.versions if v.default), self.versions[0])

    def get(self, version: str | None) -> LanguageVersion | None:
        if not version:
            return self.default_version()
        return next((v for v in self.versions if v.version == version), None) or \
            next((v for v in self.versions if version in v.aliases), None)


class CheckerKind(str, Enum):
    EXACT = "exact"
    LINES = "lines"
    TOKENS = "tokens"
    FLOAT = "float"
    CUSTOM = "custom"
    # the problem package format's default output validator (Kattis, DOMjudge): tokens, case-insensitive
    # unless case_sensitive, numbers within float tolerances when given; its flags are each test's checkerArgs
    KATTIS = "kattis"


class CheckerProtocol(str, Enum):
    """How a custom checker says its verdict and score.

    testlib (default): exit 0 accepts, 1 or 2 reject, 7 gives partial points (`quitp(x)`: the
    first `points X` on stderr, or on stdout, X a fraction of the test's points from 0 to 1),
    anything else is a checker failure.  score-line: exit 0, and the first line of stdout is the
    fraction (1 accepts, 0 rejects, in between is partial); anything else is a checker failure.
    kattis: the problem package format's output validator: run as `checker input answer feedback_dir/
    [test's checkerArgs] < output` (an interactor: the same, talking through stdin and stdout), exit 42
    accepts, 43 rejects, anything else is a checker failure; `judgemessage.txt` in the feedback
    directory is the test's message.  kattis-score: the same, and `score.txt` (points, at most the
    test's) or `score_multiplier.txt` (a fraction) there scores an accepted test."""

    TESTLIB = "testlib"
    SCORE_LINE = "score-line"
    KATTIS = "kattis"
    KATTIS_SCORE = "kattis-score"


class Order(str, Enum):
    """How the lines or tokens of an output are matched with the answer's."""

    AS_GIVEN = "as-given"
    UNORDERED = "unordered"  # the same multiset, in any order (DMOJ's sorted/unordered)


FileName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}$")]


class SupportFile(Strict):
    """A file placed beside a checker's or interactor's source before it compiles: a header such
    as testlib.h (a problem ships its own), a data table."""

    name: FileName
    location: Location


class Checker(Strict):
    """How an output is compared with the expected answer.

    exact: byte for byte.  lines (default): trailing whitespace of each line and trailing
    blank lines ignored.  tokens: whitespace-separated tokens equal.  float: tokens, numbers
    within absolute or relative `epsilon`.  custom: a program run as `checker input output
    answer`, exit 0 accepts (testlib's convention: 1 or 2 reject, anything else is a checker
    failure)."""

    kind: CheckerKind = CheckerKind.LINES
    epsilon: float | None = Field(None, gt=0, lt=1)
    ignore_case: bool = Field(False, alias="ignoreCase", description="lines and tokens: letters compared without case")
    order: Order = Field(Order.AS_GIVEN, description="lines and tokens: as-given, or unordered (any order)")
    program: Location | None = Field(None, description="custom checker: source or executable")
    language: str | None = Field(None, description="custom checker source language as NAME[:VERSION]; none: an executable")
    protocol: CheckerProtocol = Field(CheckerProtocol.TESTLIB, description="custom checker: how it reports")
    files: list[SupportFile] = Field(default_factory=list, max_length=16,
                                     description="custom checker: files beside its source (e.g. testlib.h)")

    @classmethod
    def parse(cls, text: str) -> "Checker":
        """`exact`, `lines`, `tokens`, `float:EPS`, `kattis`, or a path to a custom checker."""
        name, _, arg = text.partition(":")
        if name == "float":
            return cls(kind=CheckerKind.FLOAT, epsilon=float(arg or "1e-6"))
        if name in ("exact", "lines", "tokens", "kattis") and not arg:
            return cls(kind=CheckerKind(name))
        return cls(kind=CheckerKind.CUSTOM, program=text)


CheckerArg = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[^\x00]*$")]


class TestCase(Strict):
    __test__ = False  # not a pytest class
    name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.-]+$")
    input: Location
    expected: Location
    points: float = Field(1, ge=0, le=1_000_000, description="what passing it is worth (a checker may give part)")
    group: str | None = Field(None, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$",
                              description="the group (subtask) it belongs to; none: scored alone")
    stdout: Location | None = Field(None, description="where the program's stdout goes")
    stderr: Location | None = Field(None, description="where the program's stderr goes")
    diff: Location | None = Field(None, description="where the checker's explanation goes on a wrong answer")
    limits: Limits = Field(default_factory=Limits)
    checker_args: list[CheckerArg] = Field(
        default_factory=list, alias="checkerArgs", max_length=32,
        description="the kattis checker's flags (case_sensitive, float_tolerance 1e-6, …), or arguments a kattis "
                    "custom checker or interactor is given after its feedback directory, for this test")


class EgressCheck(Strict):
    """Fail closed on the network: before any submission code runs (compiler included), the runner
    waits until each address refuses a connection, i.e. the pod's egress NetworkPolicy is in force
    (network plugins apply it to a new pod only seconds after it starts)."""

    addresses: list[str] = Field(
        min_length=1, max_length=16,
        description="host:port the runner pod must not reach; `kubernetes` names the API server's "
                    "Service from the pod's own KUBERNETES_SERVICE_HOST/PORT")
    timeout_seconds: int = Field(60, ge=1, le=600, alias="timeoutSeconds",
                                 description="give up (not judged, retried) when still reachable after this")


class GroupScoring(str, Enum):
    """How a group's score follows from its tests (fractions f of each test, 0..1)."""

    ALL = "all"  # all-or-nothing: its points if every test passed fully, else 0 (a batch)
    MIN = "min"  # its points × the smallest f (CMS's GroupMin)
    SUM = "sum"  # the sum of its tests' own points × f


class Group(Strict):
    """A group of tests scored together (a subtask, a batch)."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    points: float = Field(0, ge=0, le=1_000_000, description="all and min: what the group is worth")
    scoring: GroupScoring = GroupScoring.ALL
    depends_on: list[str] = Field(default_factory=list, alias="dependsOn",
                                  description="groups that must score in full first; else this one is Skipped")
    short_circuit: bool = Field(True, alias="shortCircuit",
                                description="all and min: once a test scores 0, skip the rest of the group")


class FileIO(Strict):
    """The program reads a file and writes one instead of stdin and stdout."""

    input: str | None = Field(None, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$", description="e.g. input.txt")
    output: str | None = Field(None, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$", description="e.g. output.txt")


class Interactor(Strict):
    """An interactive problem's program: it talks with the submission through pipes (its stdout is
    the submission's stdin and the other way round), run as `interactor input answer` with the
    test's files, sandboxed under its own uid and CHECKER_LIMITS (its wall clock: the test's); it
    decides the verdict as a testlib checker does (exit 0 accepts, 1 or 2 rejects, 7 with
    `points X` on stderr gives that fraction). Time and memory are the submission's own."""

    program: Location = Field(description="the interactor: source or executable")
    language: str | None = Field(None, description="its source language as NAME[:VERSION]; none: an executable")
    files: list[SupportFile] = Field(default_factory=list, max_length=16,
                                     description="files beside its source (e.g. testlib.h)")
    protocol: CheckerProtocol = Field(
        CheckerProtocol.TESTLIB,
        description="testlib (run as `interactor input answer`, decides as a testlib checker) or kattis / "
                    "kattis-score (the problem package format: run as `interactor input answer feedback_dir/ [args]`, "
                    "exit 42 accepts, 43 rejects; a rejection given before the program ended is the verdict)")

    @field_validator("protocol")
    @classmethod
    def _interactive_protocol(cls, value: CheckerProtocol) -> CheckerProtocol:
        if value == CheckerProtocol.SCORE_LINE:
            raise ValueError("an interactor speaks testlib, kattis or kattis-score, not score-line")
        return value


class SubmissionFile(Strict):
    """One file of a submission of several files: its path in the submission and where it is. The
    path is checked by the runner (gavel_contract.submission.checked_path): a bad one is the
    submission's CompilationError, not a malformed task."""

    path: str = Field(min_length=1, max_length=1024)
    location: Location


class Task(Strict):
    """What the runner is asked to judge: one submission against ordered test cases."""

    api_version: Literal["gavel.dev/task/v1"] = Field(TASK_API, alias="apiVersion")
    id: str = Field("local", max_length=317, description="evaluation identity, for logs (NAMESPACE/NAME: 63 + 1 + 253)")
    language: LanguageVersion
    language_name: str = Field(alias="languageName")
    submission: Location | None = Field(None, description="the source file, or the archive (submissionArchive)")
    submission_archive: ArchiveFormat | None = Field(None, alias="submissionArchive",
                                                     description="the submission is an archive of several files")
    submission_files: list[SubmissionFile] = Field(
        default_factory=list, alias="submissionFiles", max_length=MAX_FILES + 1,
        description="instead of submission: the files of a directory or a storage prefix (one past the limit "
                    "at most: the runner refuses that many)")
    problem_name: str | None = Field(None, alias="problemName", max_length=253, pattern=r"^[A-Za-z0-9_.-]+$",
                                     description="the problem's name: the entry of several files may be named after it")
    tests: list[TestCase] = Field(min_length=1, max_length=1000)
    checker: Checker = Field(default_factory=Checker)
    result: Location | None = Field(None, description="where the result JSON goes")
    compile_output: Location | None = Field(None, alias="compileOutput", description="where the compiler's output goes")
    fail_fast: bool = Field(False, alias="failFast", description="stop at the first failed test; the rest are Skipped")
    egress_check: EgressCheck | None = Field(None, alias="egressCheck",
                                             description="addresses that must be unreachable before judging")
    groups: list[Group] = Field(default_factory=list, description="groups tests belong to, by name, in order")
    file_io: FileIO | None = Field(None, alias="fileIO")
    interactor: Interactor | None = Field(None, description="interactive problem: the program the submission talks with")
    progress: Location | None = Field(
        None, description="where the runner overwrites its progress (gavel.dev/progress/v1) while it judges: a "
                          "presigned PUT URL the operator reads back for running Evaluations only")
    progress_seconds: int = Field(2, ge=1, le=60, alias="progressSeconds",
                                  description="at most one progress write this often (only when it changed)")
    node_cache: str | None = Field(
        None, alias="nodeCache", pattern=r"^http://[A-Za-z0-9.-]+(:[0-9]{1,5})?$",
        description="http://host:port of the node cache (the chart's cache DaemonSet, node-local): inputs and "
                    "answers are fetched through it, handing it their presigned URLs, and directly when it fails")

    @field_validator("tests")
    @classmethod
    def _unique_names(cls, tests: list[TestCase]) -> list[TestCase]:
        names = [t.name for t in tests]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"test names must be unique, repeated: {', '.join(dup)}")
        return tests

    def document(self) -> str:
        """The task as JSON, fields added to task/v1 since its first release left out where unused:
        a runner image older than the operator still judges every task that does not use them."""
        doc = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        doc["language"].pop("aliases", None)  # names for people choosing a version: the runner is given one
        _drop_defaults(doc, {"groups": [], "fileIO": None, "progressSeconds": 2, "submissionFiles": []})
        _drop_defaults(doc.get("checker", {}), {"ignoreCase": False, "order": "as-given", "protocol": "testlib",
                                                "files": []})
        if doc.get("interactor"):
            _drop_defaults(doc["interactor"], {"protocol": "testlib"})
        for test in doc["tests"]:
            _drop_defaults(test, {"points": 1, "group": None, "checkerArgs": []})
        return json.dumps(doc, separators=(",", ":"))

    @property
    def several_files(self) -> bool:
        return bool(self.submission_files) or self.submission_archive is not None

    @model_validator(mode="after")
    def _groups_known(self) -> "Task":
        from .scoring import group_errors

        if why := group_errors(self.groups, self.tests):
            raise ValueError(why)
        if self.interactor is not None and self.file_io is not None:
            raise ValueError("an interactive problem talks through stdin and stdout: no fileIO")
        if (self.submission is None) == (not self.submission_files):
            raise ValueError("give either submission (a file or an archive) or submissionFiles")
        if self.submission_archive is not None and self.submission is None:
            raise ValueError("submissionArchive names the format of submission")
        if not self.several_files and self.language.multi_file is not None:
            # one file: no multiFile in the task, so that a runner older than it still takes the task
            self.language = self.language.model_copy(update={"multi_file": None})
        return self


def _drop_defaults(doc: dict, defaults: dict) -> None:
    for key, value in defaults.items():
        if key in doc and doc[key] == value:
            del doc[key]


TASKREF_API = "gavel.dev/taskref/v1"
SECRET_TASK_MAX_BYTES = 512 * 1024  # a task larger than this goes to storage (a Secret holds 1 MiB)


class TaskRef(Strict):
    """What the task file holds instead of the task when the task is in storage: a task of many
    tests does not fit in a Secret. The stored task holds presigned URLs of every input, answer
    and output: it is sealed (gavel_contract.sealed) with a key that only this file holds, so
    whoever can read the object (an administrator's policy may give a namespace the whole bucket)
    learns nothing from it."""

    api_version: Literal["gavel.dev/taskref/v1"] = Field(TASKREF_API, alias="apiVersion")
    url: Location = Field(description="presigned URL of the stored task")
    key: str | None = Field(None, min_length=44, max_length=44,
                            description="base64 of the AES-256-GCM key the stored task is sealed with "
                                        "(gavel_contract.sealed); none: the stored task is plain JSON")


class TestResult(Strict):
    __test__ = False  # not a pytest class
    name: str
    verdict: TestVerdict
    cpu_time_ms: int = Field(0, alias="cpuTimeMs")
    wall_time_ms: int = Field(0, alias="wallTimeMs")
    memory_kb: int = Field(0, alias="memoryKb", description="peak resident memory")
    exit_code: int | None = Field(None, alias="exitCode")
    signal: int | None = None
    message: str = ""
    stdout: str | None = Field(None, description="location the stdout was uploaded to")
    stderr: str | None = None
    diff: str | None = None
    score: float | None = Field(None, description="fraction of its points it earned, 0..1 (scored tasks)")
    points: float | None = Field(None, description="points it earned (tests scored alone)")


class Stage(str, Enum):
    """Where a judgement is: fetching its files, compiling, running tests, done."""

    PREPARING = "preparing"
    COMPILING = "compiling"
    JUDGING = "judging"
    DONE = "done"


TestName = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.-]+$")]


class Progress(Strict):
    """How far a judgement got, which the runner overwrites while it works (task.progress). Written
    by the runner, beside the submission it runs: whoever reads it (the operator) treats it as
    untrusted input, at most PROGRESS_MAX_BYTES, checked against what it knows (the number of tests),
    and never takes a verdict from it: the verdict is the result's."""

    api_version: Literal["gavel.dev/progress/v1"] = Field(PROGRESS_API, alias="apiVersion")
    stage: Stage = Stage.PREPARING
    judged: int = Field(0, ge=0, le=1000, description="tests decided so far (run, or Skipped)")
    total: int = Field(0, ge=0, le=1000, description="tests in all")
    test: TestName | None = Field(None, description="the test being run now")
    verdicts: dict[TestVerdict, Annotated[int, Field(ge=0, le=1000)]] = Field(
        default_factory=dict, description="test verdicts so far, counted (Passed: 36, WrongAnswer: 1)")
    score: float | None = Field(None, ge=0, le=1e12, description="points earned so far")
    max_score: float | None = Field(None, ge=0, le=1e12, alias="maxScore", description="points in all")

    @model_validator(mode="after")
    def _consistent(self) -> "Progress":
        if self.judged > self.total:
            raise ValueError(f"judged {self.judged} exceeds total {self.total}")
        if sum(self.verdicts.values()) != self.judged:
            raise ValueError("the verdicts counted are not the tests judged")
        if self.score is not None and self.max_score is not None and self.score > self.max_score + 1e-6:
            raise ValueError("score exceeds maxScore")
        return self

    def summary(self) -> str:
        """What `kubectl get evaluations` shows: judged/total, e.g. 37/100."""
        return f"{self.judged}/{self.total}"


class GroupResult(Strict):
    name: str
    score: float
    max_score: float = Field(alias="maxScore")
    skipped: bool = Field(False, description="a group it depends on did not score in full")


class Result(Strict):
    api_version: Literal["gavel.dev/result/v1"] = Field(RESULT_API, alias="apiVersion")
    id: str = "local"
    verdict: Verdict
    message: str = ""
    compile_output: str = Field("", alias="compileOutput", description="compiler output, truncated")
    compile_output_location: str | None = Field(None, alias="compileOutputLocation")
    tests: list[TestResult] = Field(default_factory=list)
    score: float | None = Field(None, description="points earned in all")
    max_score: float | None = Field(None, alias="maxScore")
    groups: list[GroupResult] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list, description="isolation that could not be applied, leftovers killed")

    @property
    def passed(self) -> int:
        return sum(t.verdict == TestVerdict.PASSED for t in self.tests)

    def dump(self) -> dict:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def summary(self) -> str:
        """A compact form under 4,096 bytes for the pod's termination message."""
        doc = {
            "apiVersion": RESULT_API,
            "verdict": self.verdict.value,
            "passed": self.passed,
            "total": len(self.tests),
            "tests": "".join(VERDICT_CODES[t.verdict] for t in self.tests),
            "message": self.message,
        }
        if self.score is not None:
            doc.update(score=self.score, maxScore=self.max_score)
        text = json.dumps(doc, separators=(",", ":"))
        while len(text.encode()) > SUMMARY_MAX_BYTES and doc["message"]:
            doc["message"] = doc["message"][: len(doc["message"]) // 2]
            text = json.dumps(doc, separators=(",", ":"))
        if len(text.encode()) > SUMMARY_MAX_BYTES:  # more tests than fit: keep the counts
            doc["tests"] = ""
            text = json.dumps(doc, separators=(",", ":"))
        return text
