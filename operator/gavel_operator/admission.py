"""Admission: a new Evaluation is checked (spec, language, ceilings, tenancy, storage) and judged
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
from .dispatch import indexed, pool_of
from .kube import ApiError
from .launch import not_started, start
from .problems import ProblemUnavailable, expand
from .objectstore import ObjectStore, StorageError
from .resources import GROUP, VERSION, EvaluationSpec, Phase
from .state import STATE, languages, log, store_for, write_status_held
from .status import condition, now


@kopf.on.create(GROUP, VERSION, "evaluations")
async def admit(body, spec, namespace, name, status, patch, retry, language_index, **_):
    indexed(language_index)
    if status.get("jobName") or status.get("phase") not in (None, Phase.PENDING.value):
        return  # admitted before a restart (Pending without a Job: retrying while storage was down)
    # At most settings.max_admitting at once (32): a burst of 10,000 ran 10,000 at once, each holding
    # its storage check's thread, its API requests and their buffers at the same moment, and the
    # operator's RSS followed. 32 keep the API server and storage busy (an admission is a few
    # round-trips); the rest wait as kopf's handler tasks, in creation order.
    async with STATE.admitting:
        await admit_one(body, spec, namespace, name, status, patch, retry, language_index)


async def admit_one(body, spec, namespace, name, status, patch, retry, language_index) -> None:
    try:
        parsed = EvaluationSpec.model_validate(dict(spec))
    except ValidationError as err:
        return reject(patch, body, Verdict.INITIALIZATION_ERROR, f"invalid spec: {err.errors()[0]['msg']}")
    if parsed.problem:  # its tests, groups, limits, checker, fileIO: as the problem says now
        try:
            parsed, digest = expand(parsed, namespace, parsed.language)
        except ProblemUnavailable as err:
            if retry < PROBLEM_WAITS:  # created with its Problem, which is being checked right now
                raise kopf.TemporaryError(str(err), delay=2) from None
            return reject(patch, body, Verdict.INITIALIZATION_ERROR, str(err))
        patch.status["problemDigest"] = digest
    if why := group_errors(parsed.groups, parsed.tests):
        return reject(patch, body, Verdict.INITIALIZATION_ERROR, f"invalid spec: {why}")
    known = languages(language_index)
    lang = known.get(parsed.language)
    label = f"{parsed.language}:{parsed.version or ''}".rstrip(":")
    if lang is None or lang.get(parsed.version) is None:
        what = f"unknown language {parsed.language!r}" if lang is None else \
            f"unknown version {parsed.version!r} of {parsed.language}"
        return reject(patch, body, Verdict.INITIALIZATION_ERROR,
                      f"{what}; this cluster judges: {supported(known) or 'no language (kubectl get languages)'}")
    version = lang.get(parsed.version)
    patch.status["language"] = f"{lang.name}:{version.version}"
    limits = [jobs.resolve_limits(version, parsed, t) for t in parsed.tests]
    if why := ceilings.violation(STATE.settings.ceilings_for(namespace), namespace, len(parsed.tests), [(t.name, lim) for t, lim in
                                 zip(parsed.tests, limits)], jobs.deadline_seconds(parsed, limits, STATE.settings)):
        return reject(patch, body, Verdict.INITIALIZATION_ERROR, why)
    if why := tenancy_violation(parsed, namespace, name, body["metadata"]["uid"]):
        return reject(patch, body, Verdict.INITIALIZATION_ERROR, why)
    try:
        store = await store_for(namespace)
        await asyncio.to_thread(check_storage, store, parsed, namespace, name, body["metadata"]["uid"])
    except StorageError as err:  # a missing bucket or object: the request is wrong, not the cluster
        return reject(patch, body, Verdict.INITIALIZATION_ERROR, str(err))
    except Exception as err:  # unreachable: retried with back-off, then Failed with the reason
        message = f"storage unreachable at {STATE.settings.storage_endpoint}: {err}"
        if retry + 1 >= STATE.settings.storage_retries:
            patch.status.update(phase=Phase.FAILED.value, message=message, finishedAt=now(),
                                conditions=[condition("Failed", True, "StorageUnreachable", message)])
            kopf.warn(body, reason="StorageUnreachable", message=message)
            metrics.failed("StorageUnreachable")
            return
        patch.status["phase"] = Phase.PENDING.value
        patch.status["message"] = message
        patch.status["conditions"] = [condition("StorageReachable", False, "StorageUnreachable", message)]
        raise kopf.TemporaryError(message, delay=min(60.0, STATE.settings.storage_retry_delay_seconds * 2 ** retry))
    log.info("admitted %s/%s (%s)", namespace, name, label)
    key = (namespace, name)
    async with STATE.locks(key):
        seen = STATE.ledger.get(key)  # the index function placed it already
        pool = seen.pool if seen is not None else pool_of(namespace, dict(spec))
        why = STATE.ledger.why_queued(parsed.queue, namespace, pool)
        if why is None:
            # the slot is taken now, before start's requests, so the dispatcher cannot take it too
            STATE.ledger.mark_starting(key, parsed.queue)
            # written here, under its lock: kopf's own patch lands after the handler returns, and a Job
            # left by a killed operator may be finished (and its verdict written) by then
            try:
                values = await start(namespace, name, body["metadata"]["uid"], parsed, lang, version, body,
                                     attempt=1)
            except (kopf.TemporaryError, ApiError):
                STATE.ledger.unmark_starting(key)
                raise  # the API server's trouble: kopf retries
            except Exception as err:  # a case no check foresaw: said on the Evaluation, never retried forever
                if retry + 1 < ADMIT_ATTEMPTS:
                    STATE.ledger.unmark_starting(key)
                    raise kopf.TemporaryError(f"could not start: {err}", delay=5 * (retry + 1)) from err
                log.exception("%s/%s could not be started", namespace, name)
                values = not_started(body, "OperatorError", f"the operator could not start it: {err}")
            await write_status_held(namespace, name, body["metadata"]["uid"], values,
                                    final=values["phase"] == Phase.FAILED.value)
        else:
            # where it stands when admitted (from the ledger's counts, not a scan of the queue); kept
            # current, it would cost a write to every queued Evaluation each time one starts
            ahead = STATE.ledger.waiting_ahead(parsed.queue, parsed.priority)
            waiting = f"waiting for a free slot: position {ahead + 1} in queue {parsed.queue} when admitted"
            patch.status.update(phase=Phase.QUEUED.value, queuedAt=now(), message=waiting,
                                conditions=[condition("Queued", True, "ConcurrencyLimit", why)])
            kopf.info(body, reason="Queued", message=f"{why}; waiting")


ADMIT_ATTEMPTS = 3
PROBLEM_WAITS = 5  # a Problem not (yet) Ready: admission waits this many times 2 s, then refuses  # an unforeseen error in starting an Evaluation: tried this often, then Failed


def reject(patch, body, verdict: Verdict, message: str) -> None:
    """Judged at once, without a Job: the request itself cannot be judged."""
    patch.status.update(phase=Phase.SUCCEEDED.value, verdict=verdict.value, message=message, passed="0/0",
                        finishedAt=now(),
                        conditions=[condition("Complete", True, verdict.value, message)])
    kopf.warn(body, reason=verdict.value, message=message)
    metrics.judged(verdict.value, body["metadata"].get("creationTimestamp"))


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
