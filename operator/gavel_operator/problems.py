"""Problems: a problem.yaml and its files in storage (the format: contract/gavel_contract/problem.py),
checked by the operator and reported in the Problem's status. An Evaluation names one
(spec.problem) instead of listing every test; admission expands it into tests, groups, limits,
checker and fileIO, and records the problem's digest, so that a problem changed later never
changes what an admitted Evaluation is judged against (one still queued when it changes is
refused, never judged on the new tests)."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from pathlib import PurePosixPath

import kopf
import yaml
from pydantic import ValidationError

from gavel_contract import package
from gavel_contract.problem import PROBLEM_FILE, Problem, ProblemError

from . import tenancy
from .objectstore import ObjectStore, StorageError
from .resources import (
    GROUP, VERSION, CheckerSpec, EvaluationSpec, EvaluationTest, InteractorSpec, ObjectRef, ProblemSpec,
    SupportFileRef, TestLimits,
)
from .state import STATE, log, store_for
from .status import condition, now

PROBLEM_MAX_BYTES = 1 << 20  # a problem.yaml is a page of text; anything larger is refused unread


@dataclass(frozen=True)
class Resolved:
    """A checked problem: its tests listed in full, and the digest of what they are."""

    problem: Problem
    digest: str
    bucket: str
    prefix: str


class ProblemUnavailable(LookupError):
    pass


def read_problem(store: ObjectStore, bucket: str, prefix: str) -> Resolved:
    """problem.yaml under the prefix, resolved against the objects there (blocking: in a thread). A
    problem package (the problem package format: gavel_contract.package) is read as one; its digest
    covers every configuration file it read too (testdata.yaml, .timelimit, …)."""
    raw = store.read(bucket, f"{prefix}/{PROBLEM_FILE}", limit=PROBLEM_MAX_BYTES)
    if raw is None:
        raise ProblemError(f"no {PROBLEM_FILE} at s3://{bucket}/{prefix}/")
    try:
        document = yaml.safe_load(raw)
    except yaml.YAMLError as err:
        raise ProblemError(f"{PROBLEM_FILE} is not YAML: {err}") from None
    objects = store.listing(bucket, f"{prefix}/")  # relative path -> ETag
    configs: list[str] = []
    if package.is_package(document, objects):
        read = lambda path: store.read(bucket, f"{prefix}/{path}", limit=PROBLEM_MAX_BYTES)  # noqa: E731
        pkg = package.load(objects, read, PurePosixPath(prefix).name)
        problem, configs = pkg.problem, sorted(set(pkg.read_paths) - {PROBLEM_FILE})
    else:
        problem = Problem.parse(document).resolve(objects)
    used = sorted({p for t in problem.tests for p in (t.input, t.answer)} | set(configs) |
                  {p for f, p in problem.referenced_paths() if not f.startswith("solutions")})
    digest = hashlib.sha256(raw + "".join(f"\n{p} {objects[p]}" for p in used).encode()).hexdigest()
    return Resolved(problem, digest, bucket, prefix)


@kopf.on.create(GROUP, VERSION, "problems")
@kopf.on.update(GROUP, VERSION, "problems")
@kopf.on.resume(GROUP, VERSION, "problems")
async def check_problem(body, spec, namespace, name, meta, patch, retry, **_):
    """Read and check the problem; its status says what it holds, or why it cannot be used.
    Annotating it (e.g. problems.gavel.dev/refresh=NOW) checks it again after its objects changed
    (not under gavel.dev/: kopf takes annotations under its own prefix for its own and ignores them)."""
    settings = STATE.settings
    parsed = ProblemSpec.model_validate(dict(spec))
    bucket, prefix = parsed.bucket or settings.bucket, parsed.prefix.strip("/")
    patch.status["observedGeneration"] = meta.get("generation")
    patch.status["checkedAt"] = now()
    why = tenancy.storage_violation(settings.tenancy_for(namespace), namespace, settings.bucket,
                                    settings.results_bucket_name, [("problem", bucket, f"{prefix}/{PROBLEM_FILE}")])
    try:
        if why:
            raise ProblemError(why)
        store = await store_for(namespace)
        resolved = await asyncio.to_thread(read_problem, store, bucket, prefix)
    except (ProblemError, StorageError) as err:
        STATE.problems.pop((namespace, name), None)
        patch.status.update(message=str(err)[:1000], conditions=[condition("Ready", False, "Invalid", str(err))])
        kopf.warn(body, reason="ProblemInvalid", message=str(err)[:1000])
        return
    except Exception as err:  # storage unreachable: said, and tried again
        message = f"storage unreachable at {settings.storage_endpoint}: {err}"
        patch.status.update(message=message, conditions=[condition("Ready", False, "StorageUnreachable", message)])
        raise kopf.TemporaryError(message, delay=min(60, 5 * 2 ** retry)) from err
    STATE.problems[(namespace, name)] = resolved
    problem = resolved.problem
    patch.status.update(title=problem.title or problem.name, tests=len(problem.tests), maxScore=problem.max_score(),
                        groups=problem.describe_groups() or None, digest=resolved.digest, message="",
                        conditions=[condition("Ready", True, "Checked", f"{len(problem.tests)} tests")])
    log.info("problem %s/%s: %d tests, digest %s", namespace, name, len(problem.tests), resolved.digest[:12])
    from .dispatch import kick  # Evaluations queued while the operator (re)started wait for it
    kick()


@kopf.on.event(GROUP, VERSION, "problems")
def problem_gone(event, namespace, name, **_):
    if event["type"] == "DELETED":
        STATE.problems.pop((namespace, name), None)


def expand(spec: EvaluationSpec, namespace: str, language: str) -> tuple[EvaluationSpec, str]:
    """An Evaluation naming a problem, with the problem's tests, groups, limits (spec.limits over
    them, the language's time factor applied), checker and fileIO; and the problem's digest."""
    resolved = STATE.problems.get((namespace, spec.problem))
    if resolved is None:
        raise ProblemUnavailable(f"problem {spec.problem} is not Ready in namespace {namespace} "
                                 f"(kubectl get problem {spec.problem})")
    problem = resolved.problem

    def ref(path: str) -> ObjectRef:
        return ObjectRef(bucket=resolved.bucket, key=f"{resolved.prefix}/{path}")

    def files(paths: list[str]) -> list[SupportFileRef]:
        return [SupportFileRef(name=PurePosixPath(p).name, bucket=resolved.bucket, key=f"{resolved.prefix}/{p}")
                for p in paths]

    tests = [EvaluationTest(name=t.name, input=ref(t.input), expected=ref(t.answer), points=t.points, group=t.group,
                            checkerArgs=t.checker_args) for t in problem.tests]
    limits = {**problem.limits_for(language).model_dump(by_alias=True, exclude_none=True),
              **spec.limits.model_dump(by_alias=True, exclude_none=True)}
    checker = problem.checker
    if checker.custom:
        checker_spec = CheckerSpec(kind="custom", program=ref(checker.custom.source), language=checker.custom.language,
                                   protocol=checker.custom.protocol, files=files(checker.custom.files))
    else:
        checker_spec = CheckerSpec(kind=checker.kind or "lines", epsilon=checker.epsilon, ignoreCase=checker.ignore_case,
                                   order=checker.order)
    interactor = None
    if problem.interactor:
        interactor = InteractorSpec(program=ref(problem.interactor.source), language=problem.interactor.language,
                                    files=files(problem.interactor.files), protocol=problem.interactor.protocol)
    try:
        expanded = spec.model_copy(update={
            "tests": tests, "groups": [g.contract() for g in problem.groups], "checker": checker_spec,
            "file_io": problem.file_io, "interactor": interactor, "limits": TestLimits.model_validate(limits)})
    except ValidationError as err:
        raise ProblemUnavailable(f"problem {spec.problem}: {err.errors()[0]['msg']}") from None
    return expanded, resolved.digest
