"""The Evaluation, Problem, Language and Contest resources as typed models: the operator reads objects through
them, and crdgen.py turns them into the CustomResourceDefinitions in crds/, so that schema
and code cannot drift. Descriptions here are what `kubectl explain` shows."""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from gavel_contract.models import MAX_PROCESSES
from gavel_contract import CheckerArg, CheckerKind, CheckerProtocol, FileIO, Group, LanguageVersion, Order, TestVerdict, Verdict

GROUP = "gavel.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ObjectRef(Spec):
    """An object in the storage the operator is configured with (S3-compatible)."""

    bucket: str | None = Field(
        None, min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9.-]+[a-z0-9]$",
        description="Bucket; default: the operator's default bucket (values: storage.bucket).")
    key: str = Field(min_length=1, max_length=1024,
                     description="Object key, e.g. team-a/problems/sum/1.in. It must lie where the namespace may "
                                 "read: by default under NAMESPACE/ of the default bucket (the operator's tenancy "
                                 "policy; anything else is InitializationError naming the rule).")


class SupportFileRef(ObjectRef):
    """A file placed beside a checker's or interactor's source before it compiles."""

    name: str = Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}$", description="Its name there, e.g. testlib.h.")


class TestLimits(Spec):
    time_ms: int | None = Field(None, ge=1, le=600_000, alias="timeMs",
                                description="CPU time limit in milliseconds. TimeLimitExceeded past it.")
    wall_ms: int | None = Field(None, ge=1, le=1_200_000, alias="wallMs",
                                description="Wall-clock limit in milliseconds (default 2 × timeMs + 1000): "
                                            "catches a program that sleeps or blocks.")
    memory_kb: int | None = Field(None, ge=1024, le=16 * 1024 * 1024, alias="memoryKb",
                                  description="Peak resident memory limit in kB. MemoryLimitExceeded past it.")
    output_kb: int | None = Field(None, ge=1, le=1024 * 1024, alias="outputKb",
                                  description="Cap on stdout, stderr and any file written, in kB. "
                                              "OutputLimitExceeded past it.")
    processes: int | None = Field(None, ge=1, le=MAX_PROCESSES,
                                  description="Processes and threads the program may have at once (RLIMIT_NPROC of "
                                              "its uid): a thread or fork past it fails (EAGAIN). The CPU of all of "
                                              "them counts toward timeMs. Default: the language version's processes "
                                              "(kubectl get language NAME -o yaml).")


class EvaluationTest(TestLimits):
    """One test case: an input, its expected output, and optional limits overriding spec.limits."""

    __test__ = False
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$",
                      description="Test name, unique in the list; results are reported under it.")
    input: ObjectRef = Field(description="Object fed to the program's stdin (or its fileIO.input file).")
    expected: ObjectRef = Field(description="Object holding the expected output (the answer).")
    points: float | None = Field(None, ge=0, le=1_000_000,
                                 description="What passing it is worth (default 1); a checker may give part of it.")
    group: str | None = Field(None, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$",
                              description="The group (subtask) it belongs to, one of spec.groups; none: scored alone.")
    checker_args: list[CheckerArg] = Field(
        default_factory=list, alias="checkerArgs", max_length=32,
        description="Checker kattis: its flags for this test (case_sensitive, space_change_sensitive, "
                    "float_tolerance EPS, float_absolute_tolerance EPS, float_relative_tolerance EPS); a custom "
                    "checker or interactor of protocol kattis: the arguments after its feedback directory.")


class CheckerSpec(Spec):
    """How outputs are compared with the answers."""

    kind: CheckerKind = Field(
        CheckerKind.LINES,
        description="exact: byte for byte. lines (default): trailing whitespace of each line and "
                    "trailing blank lines ignored. tokens: whitespace-separated tokens. float: tokens, "
                    "numbers within absolute or relative epsilon. kattis: the problem package format's default "
                    "output validator, with each test's checkerArgs as its flags. custom: a program run as "
                    "`checker input output answer`, exit 0 accepts, 1 or 2 rejects (testlib).")
    epsilon: float | None = Field(None, gt=0, lt=1, description="Tolerance of the float checker (default 1e-6).")
    program: ObjectRef | None = Field(None, description="Custom checker: its source (or executable).")
    language: str | None = Field(
        None, max_length=40, pattern=r"^[a-z0-9+-]+(:[a-z0-9._+-]+)?$",
        description="Custom checker source language as NAME[:VERSION]; empty: the program is an executable.")
    ignore_case: bool = Field(False, alias="ignoreCase", description="lines and tokens: letters compared without case.")
    order: Order = Field(Order.AS_GIVEN, description="lines and tokens: as-given, or unordered (the same lines or "
                                                     "tokens in any order).")
    protocol: CheckerProtocol = Field(
        CheckerProtocol.TESTLIB,
        description="Custom checker: testlib (exit 0 accepts, 1 or 2 rejects, 7 with `points X` gives the fraction X "
                    "of the test's points), score-line (exit 0, the first line of stdout is the fraction 0..1), "
                    "kattis (the problem package format's output validator: run as `checker input answer "
                    "feedback_dir/ [checkerArgs] < output`, exit 42 accepts, 43 rejects, judgemessage.txt is the "
                    "message) or kattis-score (also score.txt or score_multiplier.txt).")
    files: list[SupportFileRef] = Field(default_factory=list, max_length=16,
                                        description="Custom checker: files beside its source when it compiles (a "
                                                    "testlib.h the problem ships).")


class InteractorSpec(Spec):
    """An interactive problem's program, talking with the submission through pipes."""

    program: ObjectRef = Field(description="Its source (or executable), run as `interactor input answer`: its "
                                           "stdout is the submission's stdin and the other way round; it decides "
                                           "the verdict as a testlib checker (exit 0, 1 or 2, 7 with points X).")
    language: str | None = Field(None, max_length=40, pattern=r"^[a-z0-9+-]+(:[a-z0-9._+-]+)?$",
                                 description="Its source language as NAME[:VERSION]; empty: an executable.")
    files: list[SupportFileRef] = Field(default_factory=list, max_length=16,
                                        description="Files beside its source when it compiles (a testlib.h).")
    protocol: CheckerProtocol = Field(
        CheckerProtocol.TESTLIB,
        description="testlib, or kattis / kattis-score: the problem package format's interactive validator, run "
                    "as `interactor input answer feedback_dir/ [checkerArgs]`, exit 42 accepts, 43 rejects (a "
                    "rejection before the program ended is the verdict).")


class ResultsSpec(Spec):
    """Where the runner's outputs go: BUCKET/PREFIX/attempt-N/{result.json, compile.txt, NAME.stdout,
    NAME.stderr, NAME.diff, runner.log}, one attempt-N/ per attempt (status.locations names the one
    judged)."""

    bucket: str | None = Field(None, min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9.-]+[a-z0-9]$",
                               description="Default: the operator's results bucket.")
    prefix: str | None = Field(None, max_length=512,
                               description="Default: NAMESPACE/NAME/UID, unique to this Evaluation. It must lie where "
                                           "the namespace may write (by default under NAMESPACE/) and not be "
                                           "another Evaluation's.")


class Toleration(Spec):
    key: str | None = None
    operator: str | None = Field(None, pattern=r"^(Exists|Equal)$")
    value: str | None = None
    effect: str | None = Field(None, pattern=r"^(NoSchedule|PreferNoSchedule|NoExecute)$")
    toleration_seconds: int | None = Field(None, alias="tolerationSeconds")


class EvaluationSpec(Spec):
    """A submission to judge against ordered test cases. Immutable once created, but for
    `cancel`."""

    language: str = Field(min_length=1, max_length=32, pattern=r"^[a-z0-9][a-z0-9+-]*$",
                          description="Language name, as `kubectl get languages` lists them (e.g. cpp).")
    version: str | None = Field(None, max_length=32, pattern=r"^[a-z0-9][a-z0-9._+-]*$",
                                description="Language version (e.g. 20 for C++20); default: the "
                                            "language's default version.")
    submission: ObjectRef = Field(description="The submitted source file; or several files: a key ending in / (a "
                                              "prefix: every object under it) or a .zip, .tar, .tar.gz, .tgz, "
                                              ".tar.bz2 or .tar.xz archive.")
    problem: str | None = Field(
        None, min_length=1, max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
        description="A Problem in this namespace (kubectl get problems) whose tests, groups, limits, checker and "
                    "fileIO are used instead of listing them here; spec.limits, if given, lie over the problem's. "
                    "The problem's digest at admission is recorded in status.problemDigest.")
    tests: list[EvaluationTest] = Field(default_factory=list, max_length=500,
                                        description="Test cases, run in this order (or spec.problem).")
    groups: list[Group] = Field(default_factory=list, max_length=100,
                                description="Groups (subtasks) the tests name: all (all-or-nothing: its points when "
                                            "every test passed), min (its points times the weakest test's fraction) "
                                            "or sum (its tests' own points); dependsOn: groups that must score in full "
                                            "first, else this one is Skipped; shortCircuit: once a test fails, the "
                                            "rest of an all or min group is Skipped.")
    interactor: InteractorSpec | None = Field(None, description="Interactive problem: the program each test's "
                                                                 "input and answer are given to, which the "
                                                                 "submission talks with (then no fileIO).")
    file_io: FileIO | None = Field(None, alias="fileIO",
                                   description="The program reads fileIO.input and writes fileIO.output (e.g. "
                                               "input.txt, output.txt) in its directory instead of stdin and stdout.")
    limits: TestLimits = Field(default_factory=TestLimits,
                               description="Default limits of every test; each test may override them. "
                                           "Unset: the language version's default limits.")
    checker: CheckerSpec = Field(default_factory=CheckerSpec)
    results: ResultsSpec = Field(default_factory=ResultsSpec)
    fail_fast: bool = Field(False, alias="failFast", description="Stop at the first failed test; the rest are Skipped.")
    queue: str = Field("default", min_length=1, max_length=63, pattern=r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$",
                       description="Queue name: running Evaluations are capped per queue (operator settings). "
                                   "With Kueue installed, the Job is handed to this Kueue LocalQueue instead. Only "
                                   "queues the namespace's tenancy policy allows (by default: default).")
    priority: int = Field(0, ge=-1000, le=1000,
                          description="Higher runs first among queued Evaluations; ties by age. At most the "
                                      "namespace's tenancy maximum (by default 0).")
    retries: int = Field(2, ge=0, le=10,
                         description="How often an infrastructure failure (eviction, node lost, runner crash, "
                                     "out of memory) is retried, each time as a new Job writing under a prefix of "
                                     "its own (attempt-N), before the Evaluation is Failed.")
    deadline_seconds: int | None = Field(None, ge=10, le=86_400, alias="deadlineSeconds",
                                         description="Wall-clock limit of one attempt (the runner pod's "
                                                     "activeDeadlineSeconds), counted from the pod's start on a node: "
                                                     "waiting for a node or in the queue does not spend it. Default: "
                                                     "derived from the limits.")
    cancel: bool = Field(False, description="Set to true to stop the evaluation: the Job is stopped, the phase "
                                            "becomes Canceled. Cannot be undone.")
    callback_url: str | None = Field(None, alias="callbackUrl", max_length=2048, pattern=r"^https?://",
                                     description="The finished result is POSTed here as JSON (retried with back-off).")
    runtime_class_name: str | None = Field(None, alias="runtimeClassName", max_length=253,
                                           description="RuntimeClass of the runner pod (e.g. gvisor), if the namespace's "
                                                       "tenancy policy allows it.")
    node_selector: dict[str, str] | None = Field(None, alias="nodeSelector", description="Node selector of the runner pod, as far as the "
                                                                             "namespace's tenancy policy allows.")
    tolerations: list[Toleration] | None = Field(None, description="Tolerations of the runner pod, of the taints "
                                                                   "the namespace's tenancy policy allows.")


class ProblemSpec(Spec):
    """A problem kept in storage: a problem.yaml (its format: contract/schema/problem.schema.json) and the
    files it names, all under one prefix."""

    bucket: str | None = Field(None, min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9.-]+[a-z0-9]$",
                               description="Bucket; default: the operator's default bucket.")
    prefix: str = Field(min_length=1, max_length=512,
                        description="Where problem.yaml is, e.g. team-a/problems/sum; it must lie where the "
                                    "namespace may read (the operator's tenancy policy).")


class ProblemStatus(BaseModel):
    title: str | None = None
    tests: int | None = Field(None, description="number of tests")
    max_score: float | None = Field(None, alias="maxScore")
    groups: str | None = Field(None, description="groups and their points, e.g. small 20, large 50 (after small)")
    digest: str | None = Field(None, description="sha256 of problem.yaml and of every object it names (by ETag): "
                                                 "an Evaluation records the digest it was admitted with")
    message: str | None = None
    checked_at: str | None = Field(None, alias="checkedAt")
    conditions: list[Condition] | None = None
    observed_generation: int | None = Field(None, alias="observedGeneration")
    model_config = ConfigDict(populate_by_name=True)


class Phase(str, Enum):
    PENDING = "Pending"
    QUEUED = "Queued"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELED = "Canceled"


FINAL_PHASES = {Phase.SUCCEEDED, Phase.FAILED, Phase.CANCELED}


class Condition(BaseModel):
    type: str
    status: str = Field(pattern=r"^(True|False|Unknown)$")
    reason: str = ""
    message: str = ""
    last_transition_time: str | None = Field(None, alias="lastTransitionTime")
    model_config = ConfigDict(populate_by_name=True)


class TestStatus(BaseModel):
    __test__ = False
    name: str
    verdict: TestVerdict
    cpu_time_ms: int = Field(0, alias="cpuTimeMs")
    wall_time_ms: int = Field(0, alias="wallTimeMs")
    memory_kb: int = Field(0, alias="memoryKb")
    exit_code: int | None = Field(None, alias="exitCode")
    signal: int | None = None
    message: str | None = None
    points: float | None = Field(None, description="points it earned (tests scored alone or in a sum group)")
    score: float | None = Field(None, description="the fraction of its points a checker gave (Partial)")
    model_config = ConfigDict(populate_by_name=True)


class GroupStatus(BaseModel):
    name: str
    score: float
    max_score: float = Field(alias="maxScore")
    skipped: bool = False
    model_config = ConfigDict(populate_by_name=True)


class Locations(BaseModel):
    """Where the outputs are: s3://bucket/key, and http(s) links where a public endpoint is set."""

    result: str | None = None
    compile_output: str | None = Field(None, alias="compileOutput")
    logs: str | None = None
    outputs: str | None = Field(None, description="prefix holding NAME.stdout, NAME.stderr, NAME.diff: "
                                                 "the judged attempt's, PREFIX/attempt-N/")
    links: dict[str, str] | None = Field(None, description="http(s) links of the same objects")
    model_config = ConfigDict(populate_by_name=True)


class ProgressStatus(BaseModel):
    """How far the judgement got. While it runs, from what the runner reports every couple of seconds
    (an object it overwrites in storage, which the operator reads for Running Evaluations only and
    checks: it never sets the phase or the verdict); with the verdict, from the result."""

    stage: str | None = Field(None, description="preparing (fetching the files), compiling, judging, or done "
                                                "(the verdict is in)")
    judged: int | None = Field(None, description="tests decided so far: run, or Skipped")
    total: int | None = Field(None, description="tests in all")
    summary: str | None = Field(None, description="judged/total, e.g. 37/100: the Progress column")
    test: str | None = Field(None, description="the test being run now")
    verdicts: dict[str, int] | None = Field(None, description="test verdicts so far, counted, e.g. "
                                                              "{Passed: 36, WrongAnswer: 1}")
    score: float | None = Field(None, description="points earned so far (a group counts once all its tests are "
                                                  "decided)")
    max_score: float | None = Field(None, alias="maxScore", description="points in all")
    model_config = ConfigDict(populate_by_name=True)


class EvaluationStatus(BaseModel):
    phase: Phase | None = None
    verdict: Verdict | None = None
    message: str | None = None
    passed: str | None = Field(None, description="passed/total, e.g. 3/5")
    score: float | None = Field(None, description="points earned: each test's points (default 1), or its group's")
    max_score: float | None = Field(None, alias="maxScore")
    groups: list[GroupStatus] | None = Field(None, description="score per group (subtask)")
    language: str | None = Field(None, description="NAME:VERSION judged with")
    attempts: int | None = Field(None, description="the attempt (runner Job, one pod each) judged or running: more "
                                 "than 1 after a crash, an eviction, a drain or a lost node (spec.retries); its "
                                 "outputs are under the results prefix's attempt-N/")
    job_name: str | None = Field(None, alias="jobName")
    queued_at: str | None = Field(None, alias="queuedAt")
    started_at: str | None = Field(None, alias="startedAt")
    finished_at: str | None = Field(None, alias="finishedAt")
    compile_output: str | None = Field(None, alias="compileOutput", description="excerpt of the compiler output")
    tests: list[TestStatus] | None = None
    locations: Locations | None = None
    progress: ProgressStatus | None = None
    log_url: str | None = Field(None, alias="logUrl", description="the runner's log in your log viewer: the "
                                "operator's links.logUrlTemplate rendered (no signature; absent without one)")
    outputs_url: str | None = Field(None, alias="outputsUrl", description="the outputs in your storage console: "
                                    "links.outputsUrlTemplate rendered (no signature). Short-lived signed links "
                                    "to each output: `gavel fetch NAME --url`")
    conditions: list[Condition] | None = None
    observed_generation: int | None = Field(None, alias="observedGeneration")
    problem_digest: str | None = Field(None, alias="problemDigest", description="spec.problem's digest at admission")
    model_config = ConfigDict(populate_by_name=True)


class LanguageSpec(Spec):
    """A language this cluster judges: `kubectl get languages` is the handshake."""

    title: str = Field("", max_length=100, description="Human name, e.g. C++ (GCC).")
    versions: list[LanguageVersion] = Field(min_length=1, max_length=32,
                                            description="Versions, each with its runner image and commands.")



# A Kubernetes label value: what gavel.dev/participant on an Evaluation may hold.
LABEL_VALUE = r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$"


class ContestProblem(Spec):
    """One problem of a contest, under the label people know it by."""

    label: str = Field(max_length=10, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,9}$",
                       description="Short label shown on the scoreboard, e.g. A; unique in the contest. It is the "
                                   "problem_id of the Contest API scoreboard.")
    problem: str = Field(min_length=1, max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
                         description="A Problem in this namespace (kubectl get problems): Evaluations whose "
                                     "spec.problem names it count for this label.")
    name: str | None = Field(None, max_length=200, description="Title shown on the scoreboard; default: the label.")
    color: str | None = Field(None, pattern=r"^#[0-9A-Fa-f]{6}$",
                              description="Balloon colour as #RRGGBB, shown beside the label.")


class ContestWindow(Spec):
    """When submissions count: from start (inclusive) to end (exclusive)."""

    start: AwareDatetime = Field(description="RFC 3339 date-time, e.g. 2026-05-01T09:00:00Z. Submissions made "
                                             "before it are not counted.")
    end: AwareDatetime = Field(description="RFC 3339 date-time; submissions made at or after it are not counted.")
    freeze: AwareDatetime | None = Field(
        None, description="From this time on, the public scoreboard shows new submissions as pending without "
                          "their results; the full (jury) scoreboard shows everything. Between start and end.")
    thaw: AwareDatetime | None = Field(
        None, description="When the public scoreboard shows everything again (at or after end); unset: it stays "
                          "frozen until this is set.")


class ScoringRule(str, Enum):
    ICPC = "icpc"
    IOI = "ioi"


class IoiBest(str, Enum):
    SUBMISSION = "submission"
    SUBTASK = "subtask"


class ContestScoring(Spec):
    """How the standings are ranked."""

    rule: ScoringRule = Field(
        ScoringRule.ICPC,
        description="icpc: problems solved, then penalty time (minutes from start to the first Accepted "
                    "submission plus penaltyMinutes per rejected one before it; compilation errors not counted), "
                    "then the time of the last solve. ioi: the sum over problems of the best score (see best).")
    penalty_minutes: int | None = Field(None, ge=0, le=1440, alias="penaltyMinutes",
                                        description="icpc: minutes added per rejected submission before the first "
                                                    "Accepted one (default 20).")
    best: IoiBest | None = Field(None, description="ioi: subtask (default, IOI's rule since 2017): the best score "
                                                   "of each group across all submissions, summed; submission: "
                                                   "the best total score of any one submission.")


class ContestParticipant(Spec):
    id: str = Field(pattern=LABEL_VALUE, description="What Evaluations carry in their gavel.dev/participant label.")
    name: str | None = Field(None, max_length=200, description="Name shown on the scoreboard; default: the id.")


class ScoreboardStorage(Spec):
    """Where the scoreboard files go: BUCKET/PREFIX/{public,full}.{json,html}."""

    bucket: str | None = Field(None, min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9.-]+[a-z0-9]$",
                               description="Default: the operator's results bucket.")
    prefix: str | None = Field(None, max_length=512,
                               description="Default: NAMESPACE/contests/NAME. It must lie where the namespace may "
                                           "write (by default under NAMESPACE/).")


class ContestSpec(Spec):
    """A contest over Problems of this namespace: its Evaluations (labelled gavel.dev/contest: NAME and
    gavel.dev/participant: ID by the platform) are ranked by its scoring rule."""

    title: str | None = Field(None, max_length=200, description="Shown above the scoreboard; default: the name.")
    problems: list[ContestProblem] = Field(min_length=1, max_length=100,
                                           description="The problems, in scoreboard order.")
    window: ContestWindow
    scoring: ContestScoring = Field(default_factory=ContestScoring)
    participants: list[ContestParticipant] | None = Field(
        None, max_length=10_000,
        description="Who is ranked, listed even before they submit; others' Evaluations are ignored. Unset: "
                    "every gavel.dev/participant seen on the contest's Evaluations.")
    top: int = Field(10, ge=0, le=50, description="How many rows of the ranking status.top holds.")
    storage: ScoreboardStorage = Field(default_factory=ScoreboardStorage)
    callback_url: str | None = Field(
        None, alias="callbackUrl", max_length=2048, pattern=r"^https?://",
        description="The public scoreboard is POSTed here as JSON each time it changes, under the operator's "
                    "callback policy (the addresses it may reach), as an Evaluation's result is.")

    @property
    def penalty_minutes(self) -> int:
        return 20 if self.scoring.penalty_minutes is None else self.scoring.penalty_minutes

    @property
    def ioi_best(self) -> IoiBest:
        return self.scoring.best or IoiBest.SUBTASK


class ContestState(str, Enum):
    SCHEDULED = "Scheduled"  # before start
    RUNNING = "Running"
    FROZEN = "Frozen"        # between freeze and end: the public scoreboard hides new results
    OVER = "Over"            # at or after end


class StandingRow(BaseModel):
    rank: int
    participant: str
    name: str | None = None
    solved: int | None = Field(None, description="icpc: problems solved")
    penalty: int | None = Field(None, description="icpc: penalty minutes")
    score: float | None = Field(None, description="ioi: total score")
    model_config = ConfigDict(populate_by_name=True)


class ScoreboardLocations(BaseModel):
    """s3://bucket/key of each file, and http(s) links where a public endpoint is set."""

    public_json: str | None = Field(None, alias="publicJson", description="Contest API scoreboard, frozen view")
    public_html: str | None = Field(None, alias="publicHtml")
    full_json: str | None = Field(None, alias="fullJson", description="Contest API scoreboard, jury view")
    full_html: str | None = Field(None, alias="fullHtml")
    links: dict[str, str] | None = None
    model_config = ConfigDict(populate_by_name=True)


class ContestStatus(BaseModel):
    state: ContestState | None = None
    participants: int | None = Field(None, description="participants ranked")
    leader: str | None = Field(None, description="who ranks first on the public scoreboard (ties: all of them)")
    judged: int | None = Field(None, description="submissions in the window with a final judgement")
    pending: int | None = Field(None, description="submissions in the window not judged yet (or judging failed)")
    top: list[StandingRow] | None = Field(None, description="the first spec.top rows of the public scoreboard")
    scoreboards: ScoreboardLocations | None = None
    last_rebuilt: str | None = Field(None, alias="lastRebuilt")
    rebuilds: int | None = Field(None, description="how often the scoreboard was rebuilt")
    message: str | None = None
    conditions: list[Condition] | None = None
    observed_generation: int | None = Field(None, alias="observedGeneration")
    model_config = ConfigDict(populate_by_name=True)

# CEL rules the API server enforces (x-kubernetes-validations), by JSON path in the schema.
EVALUATION_RULES: dict[str, list[dict[str, Any]]] = {
    "spec": [
        {"rule": "self.language == oldSelf.language && "
                 "(has(self.version) == has(oldSelf.version) && (!has(self.version) || self.version == oldSelf.version)) && "
                 "self.submission == oldSelf.submission && "
                 "has(self.tests) == has(oldSelf.tests) && (!has(self.tests) || self.tests == oldSelf.tests)",
         "message": "an Evaluation's language, version, submission and tests cannot change; create a new Evaluation"},
        {"rule": "(has(self.problem) ? 1 : 0) + (has(self.tests) && size(self.tests) > 0 ? 1 : 0) == 1",
         "message": "an Evaluation names either spec.problem or spec.tests, one of the two"},
        {"rule": "has(self.problem) == has(oldSelf.problem) && (!has(self.problem) || self.problem == oldSelf.problem)",
         "message": "an Evaluation's problem cannot change; create a new Evaluation"},
        {"rule": "!has(self.interactor) || !has(self.fileIO)",
         "message": "an interactive problem talks through stdin and stdout: no fileIO with an interactor"},
    ],
    "spec.cancel": [
        {"rule": "self || !oldSelf", "message": "cancel cannot be undone"},
    ],
    "spec.checker": [
        {"rule": "self.kind != 'custom' || has(self.program)", "message": "a custom checker needs checker.program"},
        {"rule": "self.kind == 'custom' || !has(self.program)",
         "message": "checker.program is only for kind: custom"},
        {"rule": "self.kind == 'float' || !has(self.epsilon)", "message": "checker.epsilon is only for kind: float"},
        {"rule": "!has(self.ignoreCase) || !self.ignoreCase || self.kind in ['lines', 'tokens', 'float']",
         "message": "checker.ignoreCase is for kinds lines, tokens and float"},
        {"rule": "!has(self.order) || self.order == 'as-given' || self.kind in ['lines', 'tokens']",
         "message": "checker.order: unordered is for kinds lines and tokens"},
    ],
    "spec.limits": [
        {"rule": "!has(self.wallMs) || !has(self.timeMs) || self.wallMs >= self.timeMs",
         "message": "limits.wallMs must be at least limits.timeMs"},
    ],
}

# `kubectl get evaluations` columns.
EVALUATION_COLUMNS = [
    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
    {"name": "Progress", "type": "string", "jsonPath": ".status.progress.summary",
     "description": "tests judged of all, while it runs and after"},
    {"name": "Verdict", "type": "string", "jsonPath": ".status.verdict"},
    {"name": "Passed", "type": "string", "jsonPath": ".status.passed"},
    {"name": "Score", "type": "number", "jsonPath": ".status.score"},
    {"name": "Max", "type": "number", "jsonPath": ".status.maxScore", "priority": 1},
    {"name": "Language", "type": "string", "jsonPath": ".status.language"},
    {"name": "Queue", "type": "string", "jsonPath": ".spec.queue", "priority": 1},
    {"name": "Message", "type": "string", "jsonPath": ".status.message", "priority": 1},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]

PROBLEM_COLUMNS = [
    {"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"},
    {"name": "Tests", "type": "integer", "jsonPath": ".status.tests"},
    {"name": "MaxScore", "type": "number", "jsonPath": ".status.maxScore"},
    {"name": "Title", "type": "string", "jsonPath": ".status.title"},
    {"name": "Message", "type": "string", "jsonPath": ".status.message", "priority": 1},
    {"name": "Digest", "type": "string", "jsonPath": ".status.digest", "priority": 1},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]

LANGUAGE_COLUMNS = [
    {"name": "Title", "type": "string", "jsonPath": ".spec.title"},
    {"name": "Versions", "type": "string", "jsonPath": ".status.versions"},
    {"name": "Default", "type": "string", "jsonPath": ".status.defaultVersion"},
    {"name": "Images", "type": "string", "jsonPath": ".status.images", "priority": 1},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]

CONTEST_RULES: dict[str, list[dict[str, Any]]] = {
    "spec.window": [
        {"rule": "self.end > self.start", "message": "window.end must be after window.start"},
        {"rule": "!has(self.freeze) || (self.freeze >= self.start && self.freeze <= self.end)",
         "message": "window.freeze must lie between window.start and window.end"},
        {"rule": "!has(self.thaw) || self.thaw >= self.end", "message": "window.thaw must not be before window.end"},
        {"rule": "!has(self.thaw) || has(self.freeze)", "message": "window.thaw needs window.freeze"},
    ],
    "spec.problems": [
        {"rule": "self.all(p, self.exists_one(q, q.label == p.label))",
         "message": "each problem label may appear once"},
        {"rule": "self.all(p, self.exists_one(q, q.problem == p.problem))",
         "message": "each Problem may appear once (Evaluations name the Problem, not the label)"},
    ],
    "spec.scoring": [
        {"rule": "self.rule == 'icpc' || !has(self.penaltyMinutes)",
         "message": "scoring.penaltyMinutes is for rule icpc"},
        {"rule": "self.rule == 'ioi' || !has(self.best)", "message": "scoring.best is for rule ioi"},
    ],
}

CONTEST_COLUMNS = [
    {"name": "State", "type": "string", "jsonPath": ".status.state"},
    {"name": "Rule", "type": "string", "jsonPath": ".spec.scoring.rule"},
    {"name": "Participants", "type": "integer", "jsonPath": ".status.participants"},
    {"name": "Leader", "type": "string", "jsonPath": ".status.leader"},
    {"name": "Judged", "type": "integer", "jsonPath": ".status.judged"},
    {"name": "Pending", "type": "integer", "jsonPath": ".status.pending"},
    {"name": "Start", "type": "date", "jsonPath": ".spec.window.start", "priority": 1},
    {"name": "Rebuilt", "type": "date", "jsonPath": ".status.lastRebuilt", "priority": 1},
    {"name": "Message", "type": "string", "jsonPath": ".status.message", "priority": 1},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]
