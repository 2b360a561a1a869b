"""The queue: one dispatcher task starts Queued Evaluations, by priority then age, as slots free
up. Slots and the queue are the ledger's (ledger.py), kept from the watch; the ledger wakes the
dispatcher when a slot frees or one more waits, so a burst of events makes one pass, not one
scan of the queue per event. Starting one costs what launch.start creates (and a GET of it when
its spec is too large for the ledger to keep: queued_body)."""

from __future__ import annotations

import asyncio
import json
import time

import kopf

from gavel_contract import Verdict

from . import callbacks, following, jobs, retention
from .kube import ApiError
from .launch import start
from .ledger import Entry, Ledger
from .problems import ProblemUnavailable, expand
from .resources import GROUP, VERSION, EvaluationSpec, Phase
from .state import FINAL_VALUES, STATE, eval_path, kube, languages, log, patch_evaluation, ref_of, write_status_held
from .status import awaiting_admission, condition, now
from .tenancy import pod_placement

PROBLEM_GRACE_SECONDS = 120  # after a start, a queued Evaluation's Problem may not be read again yet
RETRY_SECONDS = 5  # the API server refused a start for its own reasons: the dispatcher tries again


def make_ledger() -> Ledger:
    settings = STATE.settings
    caps: dict[str, int | None] = {}

    def namespace_cap(namespace: str) -> int | None:
        if namespace not in caps:  # settings do not change while the process runs
            caps[namespace] = settings.ceilings_for(namespace).max_running
        return caps[namespace]

    return Ledger(max_running=settings.max_running, queue_limits=dict(settings.queue_limits),
                  namespace_cap=namespace_cap, kueue=settings.kueue, on_room=kick)


def pool_of(namespace: str, spec: dict) -> str:
    """A digest of where the runner pod may go (jobs.job_manifest labels the pod with it): pods of
    one pool wait for the same nodes."""
    placement = pod_placement(STATE.tenancy_of(namespace), spec.get("runtimeClassName"), spec.get("nodeSelector"),
                              spec.get("tolerations"))
    return jobs.pool_label(placement)


def entry_of(namespace: str, name: str, uid: str, spec: dict, status: dict, created: str) -> Entry:
    results = spec.get("results") or {}
    where = jobs.results_placement(results.get("bucket"), results.get("prefix"), namespace, name, uid, STATE.settings)
    progress = status.get("progress") or None
    return Entry(uid=uid, phase=status.get("phase"), queue=spec.get("queue", "default"),
                 priority=spec.get("priority", 0), created=created or "", cancel=bool(spec.get("cancel")),
                 job=status.get("jobName"), attempt=status.get("attempts") or 1, bucket=where.bucket,
                 prefix=where.prefix, retries=spec.get("retries", EvaluationSpec.model_fields["retries"].default),
                 pool=pool_of(namespace, spec), conditions=list(status.get("conditions") or []),
                 message=status.get("message") or "", progress=progress, log_url=status.get("logUrl") or "",
                 tests=(progress or {}).get("total") or len(spec.get("tests") or []), kept=kept_spec(spec, status))


KEPT_SPEC_BYTES = 2048  # a queued Evaluation's spec kept up to this size (most are a few hundred bytes)


def kept_spec(spec: dict, status: dict) -> tuple[bytes, str] | None:
    if status.get("phase") != Phase.QUEUED.value:
        return None
    try:  # kopf's Spec is a view: its dict. Only a saving: whatever fails here, the start reads it
        data = json.dumps(dict(spec), separators=(",", ":")).encode()
    except (TypeError, ValueError):
        return None
    return (data, status.get("problemDigest") or "") if len(data) <= KEPT_SPEC_BYTES else None


# ---- the dispatcher task -----------------------------------------------------------------------

def kick() -> None:
    """Something may start: wake the dispatcher (many kicks before it runs make one pass)."""
    if STATE.wake is not None:
        STATE.wake.set()


def indexed(language_index) -> None:
    """Called by handlers: kopf runs them only once its indexes hold the whole initial listing,
    so from now on the ledger is whole and the dispatcher may start what waits."""
    if STATE.language_index is None:
        STATE.language_index = language_index
        # started from a handler, so that it inherits kopf's context: kopf.info and kopf.warn (Events)
        # look up kopf's event queue in a context variable, which a task made at start-up lacked (every
        # start from the queue raised LookupError after creating its Job, and was done again 5 s later)
        if STATE.dispatcher is None:
            STATE.dispatcher = asyncio.get_running_loop().create_task(dispatcher())
        # the line to admit, after a restart: those the last process had not admitted, oldest first
        # (the listing's events ask for them too, in the order kopf handles them; the line drops repeats)
        for key, uid in STATE.ledger.unadmitted():
            STATE.intake.add(key, uid)
        STATE.intake.start()
        kick()


# ---- readiness: catching up while the queue is rebuilt -------------------------------------------

def readiness() -> tuple[bool, dict]:
    """The readiness probe's answer (metrics.app, from the metrics thread). Catching up until the
    ledger holds the whole listing of Evaluations (after a restart: the backlog rebuilt; kopf runs
    no handler before that, and the first one calls `indexed`), or a look found nothing to list.
    Never about the backlog's size: a queue is work, not a fault (the liveness probe is kopf's)."""
    ledger = STATE.ledger
    if ledger is None:
        return False, {"catching up": "starting"}
    if STATE.language_index is None and not STATE.nothing_listed:
        return False, {"catching up": "rebuilding the queue from the listing of Evaluations",
                       "listed": len(ledger.entries)}
    return True, {"queued": ledger.queued, "running": ledger.running, "new": ledger.by_phase["New"]}


async def look_for_nothing_listed(every: float = 5.0) -> None:
    """Until the ledger is whole: whether the watch of Evaluations would list none at all (then no
    handler runs to say it is whole, and there is nothing to rebuild). One object asked for per look."""
    while STATE.language_index is None:
        if STATE.credentials is not None:  # kopf logs in after the start-up handlers
            scopes = [f"/namespaces/{n}" for n in STATE.settings.namespace_list] or [""]
            try:
                for scope in scopes:
                    page = await kube().get(f"/apis/{GROUP}/{VERSION}{scope}/evaluations",
                                            labelSelector=retention.WATCH_SELECTOR, limit="1")
                    if page.get("items"):
                        break
                else:
                    STATE.nothing_listed = True
                    return
            except (ApiError, OSError, asyncio.TimeoutError) as err:
                log.warning("looking for Evaluations to rebuild the queue from: %s", err)
        await asyncio.sleep(every if STATE.credentials is not None else 0.2)


async def dispatcher() -> None:
    while True:
        await STATE.wake.wait()
        STATE.wake.clear()
        if STATE.language_index is None:
            continue  # still indexing: a handler's indexed() kicks again
        try:
            await dispatch()
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the queue must keep moving: said, and tried again
            log.exception("dispatch stopped; trying again in %d s", RETRY_SECONDS)
            asyncio.get_running_loop().call_later(RETRY_SECONDS, kick)


STARTS_AT_ONCE = 32  # starts in flight at once (each is four requests, three of them in a row)


async def dispatch() -> None:
    """Start queued Evaluations while there is room (ledger.next_startable), up to STARTS_AT_ONCE
    at a time. A start is three round trips in a row (the pod's dry run beside the Secret, the
    Job, the status; a GET first when its spec was not kept): one at a time, judging went no
    faster than one start per round-trips' worth (the kwok tier: 0.19 s each at the median, 4-5 a
    second, slots waiting for it); 8 at a time fell behind while admission loaded the API server.
    Taking a slot (mark_starting) happens with no await between it and the question, so nothing
    else takes it meanwhile; each start holds only its Evaluation's lock. Starts in flight together
    share one priority: a higher one never starts after a lower one."""
    ledger = STATE.ledger
    flying: dict[asyncio.Task, int] = {}  # start -> its priority
    stop, failure = False, None
    while True:
        while not stop and len(flying) < STARTS_AT_ONCE and (key := ledger.next_startable()) is not None:
            entry = ledger.get(key)
            if flying and entry.priority != next(iter(flying.values())):
                break  # once those of the higher priority are started
            ledger.mark_starting(key, entry.queue)
            flying[asyncio.get_running_loop().create_task(start_one(key, entry))] = entry.priority
        if not flying:
            break
        done, _ = await asyncio.wait(flying, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            del flying[task]
            if task.exception() is not None:
                stop, failure = True, failure or task.exception()
            elif task.result() == "stop":
                stop = True
    if failure is not None:
        raise failure  # a case no check foresaw: the dispatcher says so and tries again


async def start_one(key, entry: Entry) -> str:
    """One start: "go on", or "stop" (this pass ends; a kick is scheduled)."""
    try:
        async with STATE.locks(key):
            outcome = await start_queued(key, entry)
    except (ApiError, OSError, asyncio.TimeoutError) as err:
        STATE.ledger.unmark_starting(key)
        log.warning("could not start %s/%s (trying again in %d s): %s", *key, RETRY_SECONDS, err)
        asyncio.get_running_loop().call_later(RETRY_SECONDS, kick)
        return "stop"
    if outcome == "later":  # its Problem is being read again after a restart: keep the order
        STATE.ledger.unmark_starting(key)
        asyncio.get_running_loop().call_later(2, kick)
        return "stop"
    if outcome == "skip":  # deleted, canceled or changed meanwhile: the watch says what it is
        STATE.ledger.unmark_starting(key)
    return "go on"


async def start_queued(key, entry: Entry) -> str:
    namespace, name = key
    body = queued_body(key, entry.uid)
    if body is None:  # its spec too large to keep: read
        try:
            body = await kube().get(eval_path(namespace, name))
        except ApiError as err:
            if err.status == 404:
                return "skip"
            raise
    status = body.get("status") or {}
    if body["metadata"]["uid"] != entry.uid or status.get("phase") != Phase.QUEUED.value \
            or (body.get("spec") or {}).get("cancel"):
        return "skip"
    spec = EvaluationSpec.model_validate(dict(body["spec"]))
    if spec.problem and (namespace, spec.problem) not in STATE.problems and problems_loading():
        return "later"
    spec, lang, version, message = resolve(namespace, spec, status)
    if message:
        await write_status_held(namespace, name, entry.uid, {
            "phase": Phase.SUCCEEDED.value, "verdict": Verdict.INITIALIZATION_ERROR.value,
            "message": message, "finishedAt": now(),
            "conditions": [condition("Complete", True, "InitializationError", message)]})
        return "done"
    values = await start(namespace, name, entry.uid, spec, lang, version, body, attempt=1)
    await write_status_held(namespace, name, entry.uid, values, final=values["phase"] == Phase.FAILED.value)
    return "done"


def queued_body(key, uid: str) -> dict | None:
    """What start needs of a queued Evaluation, from the ledger (as the watch last showed it: its
    spec cannot change, and a cancel or deletion the watch has not shown yet is one a GET could have
    missed as well; cancel ends a started Job). None: read it from the API server."""
    entry = STATE.ledger.get(key)
    if entry is None or entry.uid != uid or entry.kept is None:
        return None
    spec, digest = entry.kept
    body = ref_of(key[0], key[1], uid)
    body["metadata"]["creationTimestamp"] = entry.created
    return {**body, "spec": json.loads(spec),
            "status": {"phase": entry.phase, "problemDigest": digest} if digest else {"phase": entry.phase}}


def problems_loading() -> bool:
    """Just started: the Problems may not all be read again yet."""
    return time.monotonic() - STATE.started < PROBLEM_GRACE_SECONDS


def resolve(namespace: str, spec: EvaluationSpec, status: dict):
    """An admitted Evaluation about to get a Job (the first, or the next attempt's): its spec with
    its Problem expanded, its Language and version; and why it cannot be judged as admitted (its
    Problem changed or went away, its Language went away), or None."""
    lang = languages(STATE.language_index).get(spec.language)
    version = lang.get(spec.version) if lang else None
    message = None
    if spec.problem:
        try:
            spec, digest = expand(spec, namespace, spec.language)
            if digest != status.get("problemDigest"):
                message = (f"problem {spec.problem} changed since this Evaluation was admitted (digest "
                           f"{digest[:12]}, admitted with another): create it again to be judged on it")
        except ProblemUnavailable as err:
            message = f"{err}; it was when this Evaluation was admitted"
    if version is None:  # the Language went away meanwhile
        message = f"language {spec.language}:{spec.version or ''} is no longer defined in this cluster"
    return spec, lang, version, message


# ---- the watch -----------------------------------------------------------------------------------

@kopf.on.event(GROUP, VERSION, "evaluations")
async def evaluation_event(event, language_index, **_):
    """Every event of every Evaluation. Admission and cancel are started from here, not from kopf's
    create and field handlers: those make kopf keep the last-handled spec in an annotation, one
    more write (and one more event) per Evaluation, and a diff on every event. Both are safe to
    ask for again: each line (intake.Intake) holds an Evaluation once, by uid, until done."""
    indexed(language_index)
    body = event["object"]
    meta = body["metadata"]
    status = body.get("status") or {}
    final = status.get("phase") in FINAL_VALUES
    if event["type"] == "DELETED":  # deleted, or labelled finished: out of the watch
        STATE.ledger.forget((meta["namespace"], meta["name"]), meta["uid"])
    elif (body.get("spec") or {}).get("cancel"):
        if not final:
            STATE.cancels.add((meta["namespace"], meta["name"]), meta["uid"])
    elif awaiting_admission(status):  # new, or admitted before a restart (the line drops repeats)
        STATE.intake.add((meta["namespace"], meta["name"]), meta["uid"])
    callbacks.consider(body)
    if meta["uid"] in following.UNSAID and event["type"] != "DELETED":
        phase = status.get("phase")
        if phase == Phase.PENDING.value:
            await following.say_waiting(meta["namespace"], meta["name"], following.UNSAID.pop(meta["uid"]))
        elif phase not in (None, Phase.QUEUED.value):
            following.UNSAID.pop(meta["uid"], None)
    elif event["type"] == "DELETED":
        following.UNSAID.pop(meta["uid"], None)
    if final and event["type"] != "DELETED" and callbacks.settled(body) \
            and retention.LABEL_FINISHED not in (meta.get("labels") or {}):
        # out of the watch from now on (a pending callback keeps it in: a restart must find it);
        # on a restart, finished ones left unlabelled get it here
        await patch_evaluation(meta["namespace"], meta["name"], {"metadata": {"labels": {retention.LABEL_FINISHED: "true"}}})
