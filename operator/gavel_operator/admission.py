"""Admission: a new Evaluation is put in line (intake.py) by the watch (dispatch.evaluation_event);
its turn come, it is read again, checked (spec, language, ceilings, tenancy, storage) and judged
at once when it cannot run, started when there is room, else Queued."""

from __future__ import annotations

import asyncio

import kopf
from pydantic import ValidationError

from gavel_contract import Verdict
from gavel_contract.languages import supported
from gavel_contract.scoring import group_errors
from gavel_contract.submission import is_prefix

from . import ceilings, jobs, metrics, tenancy
from .dispatch import pool_of
from .kube import ApiError
from .launch import not_started, start
from .problems import ProblemUnavailable, expand
from .objectstore import ObjectStore, StorageError
from .resources import EvaluationSpec, Phase
from .intake import error_delay
from .state import STATE, eval_path, kube, languages, log, store_for, write_status, write_status_held
from .status import awaiting_admission, condition, now


class Retry(Exception):
    """Admission cannot finish now: tried again `delay` seconds later."""

    def __init__(self, message: str, delay: float):
        super().__init__(message)
        self.delay = delay


async def admit_key(key: tuple[str, str], uid: str, retry: int) -> float | None:
    """One admission from the line (intake.Intake): the Evaluation read fresh, checked, then started,
    Queued or judged at once; its status written here. None: done; else seconds until the next try."""
    namespace, name = key
    try:
        body = await kube().get(eval_path(namespace, name))
    except (ApiError, OSError, asyncio.TimeoutError) as err:
        if isinstance(err, ApiError) and err.status == 404:
            return None  # deleted while in line
        log.warning("admitting %s/%s: reading it: %s", namespace, name, err)
        return error_delay(retry)
    if body["metadata"]["uid"] != uid or (body.get("spec") or {}).get("cancel") \
            or not awaiting_admission(body.get("status") or {}):
        return None  # another one under its name, canceled (following.cancel says so), or admitted already
    try:
        await admit_one(body, body.get("spec") or {}, namespace, name, retry)
    except Retry as err:
        return err.delay
    except (ApiError, OSError, asyncio.TimeoutError) as err:  # the API server's trouble: tried again
        log.warning("admitting %s/%s: %s", namespace, name, err)
        return error_delay(retry)
    return None


async def admit_one(body, spec, namespace, name, retry) -> None:
    uid = body["metadata"]["uid"]
    out: dict = {}  # status fields learnt on the way, written with the outcome

    async def refuse(verdict: Verdict, message: str) -> None:
        if await write_status(namespace, name, uid, {**out, **rejected(verdict, message)}):
            say_rejected(body, verdict, message)  # once written: not for one canceled meanwhile

    try:
        parsed = EvaluationSpec.model_validate(dict(spec))
    except ValidationError as err:
        return await refuse(Verdict.INITIALIZATION_ERROR, f"invalid spec: {err.errors()[0]['msg']}")
    if parsed.problem:  # its tests, groups, limits, checker, fileIO: as the problem says now
        try:
            parsed, digest = expand(parsed, namespace, parsed.language)
        except ProblemUnavailable as err:
            # created with its Problem, which is being checked right now (after a restart too: the
            # Problems are read again as the line is rebuilt)
            if retry < PROBLEM_WAITS:
                raise Retry(str(err), delay=2) from None
            return await refuse(Verdict.INITIALIZATION_ERROR, str(err))
        out["problemDigest"] = digest
    if why := group_errors(parsed.groups, parsed.tests):
        return await refuse(Verdict.INITIALIZATION_ERROR, f"invalid spec: {why}")
    known = languages(STATE.language_index)
    lang = known.get(parsed.language)
    label = f"{parsed.language}:{parsed.version or ''}".rstrip(":")
    if lang is None or lang.get(parsed.version) is None:
        what = f"unknown language {parsed.language!r}" if lang is None else \
            f"unknown version {parsed.version!r} of {parsed.language}"
        return await refuse(Verdict.INITIALIZATION_ERROR,
                            f"{what}; this cluster judges: {supported(known) or 'no language (kubectl get languages)'}")
    version = lang.get(parsed.version)
    out["language"] = f"{lang.name}:{version.version}"
    limits = [jobs.resolve_limits(version, parsed, t) for t in parsed.tests]
    if why := ceilings.violation(STATE.settings.ceilings_for(namespace), namespace, len(parsed.tests), [(t.name, lim) for t, lim in
                                 zip(parsed.tests, limits)], jobs.deadline_seconds(parsed, limits, STATE.settings)):
        return await refuse(Verdict.INITIALIZATION_ERROR, why)
    if why := tenancy_violation(parsed, namespace, name, uid):
        return await refuse(Verdict.INITIALIZATION_ERROR, why)
    try:
        store = await store_for(namespace)
        await asyncio.to_thread(check_storage, store, parsed, namespace, name, uid)
    except StorageError as err:  # a missing bucket or object: the request is wrong, not the cluster
        return await refuse(Verdict.INITIALIZATION_ERROR, str(err))
    except Exception as err:  # unreachable: retried with back-off, then Failed with the reason
        message = f"storage unreachable at {STATE.settings.storage_endpoint}: {err}"
        if retry + 1 >= STATE.settings.storage_retries:
            if await write_status(namespace, name, uid, {
                    **out, "phase": Phase.FAILED.value, "message": message, "finishedAt": now(),
                    "conditions": [condition("Failed", True, "StorageUnreachable", message)]}):
                kopf.warn(body, reason="StorageUnreachable", message=message)
                metrics.failed("StorageUnreachable")
            return
        await write_status(namespace, name, uid, {
            **out, "phase": Phase.PENDING.value, "message": message,
            "conditions": [condition("StorageReachable", False, "StorageUnreachable", message)]}, final=False)
        raise Retry(message, delay=min(60.0, STATE.settings.storage_retry_delay_seconds * 2 ** retry)) from None
    log.info("admitted %s/%s (%s)", namespace, name, label)
    key = (namespace, name)
    async with STATE.locks(key):
        seen = STATE.ledger.get(key)  # the index function placed it already
        if seen is not None and (seen.uid != uid or seen.cancel or uid in STATE.ledger.finished):
            # canceled (or deleted and made again) while this admission ran outside kopf's handler for
            # it: nothing is started behind the cancel's back (cancel takes this lock too)
            return
        pool = seen.pool if seen is not None else pool_of(namespace, dict(spec))
        why = STATE.ledger.why_new_waits(parsed.queue, namespace, pool, parsed.priority)
        if why is None:
            # the slot is taken now, before start's requests, so the dispatcher cannot take it too
            STATE.ledger.mark_starting(key, parsed.queue)
            try:
                values = await start(namespace, name, uid, parsed, lang, version, body, attempt=1)
            except (ApiError, OSError, asyncio.TimeoutError):
                STATE.ledger.unmark_starting(key)
                raise  # the API server's trouble: tried again
            except Exception as err:  # a case no check foresaw: said on the Evaluation, never retried forever
                if retry + 1 < ADMIT_ATTEMPTS:
                    STATE.ledger.unmark_starting(key)
                    raise Retry(f"could not start: {err}", delay=5 * (retry + 1)) from err
                log.exception("%s/%s could not be started", namespace, name)
                values = not_started(body, "OperatorError", f"the operator could not start it: {err}")
            if not await write_status_held(namespace, name, uid, {**out, **values},
                                           final=values["phase"] == Phase.FAILED.value):
                STATE.ledger.unmark_starting(key)  # deleted or final meanwhile: its slot is not taken
        else:
            # where it stands when admitted (from the ledger's counts, not a scan of the queue); kept
            # current, it would cost a write to every queued Evaluation each time one starts
            ahead = STATE.ledger.waiting_ahead(parsed.queue, parsed.priority)
            waiting = f"waiting for a free slot: position {ahead + 1} in queue {parsed.queue} when admitted"
            if await write_status_held(namespace, name, uid, {
                    **out, "phase": Phase.QUEUED.value, "queuedAt": now(), "message": waiting,
                    "conditions": [condition("Queued", True, "ConcurrencyLimit", why)]}, final=False):
                kopf.info(body, reason="Queued", message=f"{why}; waiting")


ADMIT_ATTEMPTS = 3  # an unforeseen error in starting an Evaluation: tried this often, then Failed
PROBLEM_WAITS = 5  # a Problem not (yet) Ready: admission waits this many times 2 s, then refuses


def say_rejected(body, verdict: Verdict, message: str) -> None:
    kopf.warn(body, reason=verdict.value, message=message)
    metrics.judged(verdict.value, body["metadata"].get("creationTimestamp"))


def rejected(verdict: Verdict, message: str) -> dict:
    """Judged at once, without a Job (the request itself cannot be judged): the status to write."""
    return {"phase": Phase.SUCCEEDED.value, "verdict": verdict.value, "message": message, "passed": "0/0",
            "finishedAt": now(), "conditions": [condition("Complete", True, verdict.value, message)]}


def tenancy_violation(spec: EvaluationSpec, namespace: str, name: str, uid: str) -> str | None:
    """Why the namespace may not ask for this (tenancy.py), before any object is looked at."""
    settings = STATE.settings
    policy = settings.tenancy_for(namespace)
    if why := tenancy.placement_violation(
            policy, namespace, runtime_class=spec.runtime_class_name, node_selector=spec.node_selector,
            toleration_keys=[t.key for t in spec.tolerations or []], queue=spec.queue, priority=spec.priority):
        return why
    default = settings.bucket
    reads = [("submission", spec.submission.bucket or default, spec.submission.key)]
    for t in spec.tests:
        reads += [(f"test {t.name} input", t.input.bucket or default, t.input.key),
                  (f"test {t.name} expected", t.expected.bucket or default, t.expected.key)]
    if spec.checker.program:
        reads.append(("checker program", spec.checker.program.bucket or default, spec.checker.program.key))
    reads += [(f"checker file {f.name}", f.bucket or default, f.key) for f in spec.checker.files]
    if spec.interactor:
        reads.append(("interactor program", spec.interactor.program.bucket or default, spec.interactor.program.key))
        reads += [(f"interactor file {f.name}", f.bucket or default, f.key) for f in spec.interactor.files]
    where = jobs.placement(spec, namespace, name, uid, settings)
    return tenancy.storage_violation(policy, namespace, default, settings.results_bucket_name, reads,
                                     (where.bucket, where.prefix))


def check_storage(store: ObjectStore, spec: EvaluationSpec, namespace: str, name: str, uid: str) -> None:
    """The submission exists and the results bucket too (a full listing of tests would cost a
    request per object: a missing test object is the runner's InitializationError); the results
    prefix is this Evaluation's alone, unless the policy lets prefixes be shared."""
    settings = STATE.settings
    bucket = spec.submission.bucket or settings.bucket
    if is_prefix(spec.submission.key):  # several files: at least one under the prefix
        if not store.list_keys(bucket, spec.submission.key, 1):
            raise StorageError(f"no objects under s3://{bucket}/{spec.submission.key}")
    else:
        store.check_object(bucket, spec.submission.key)
    where = jobs.placement(spec, namespace, name, uid, settings)
    if not store.bucket_exists(where.bucket):
        raise StorageError(f"results bucket {where.bucket} does not exist")
    if not settings.tenancy_for(namespace).storage.shared_results:
        store.claim_results(where.bucket, where.prefix, uid)
