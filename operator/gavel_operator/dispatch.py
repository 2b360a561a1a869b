"""The queue: what is running (from kopf's index, plus what this process is starting), the caps
(in all, per queue, per namespace), and starting Queued Evaluations by priority then age as slots
free up."""

from __future__ import annotations

import time

import kopf

from gavel_contract import Verdict

from . import callbacks, retention
from .launch import start
from .problems import ProblemUnavailable, expand
from .resources import GROUP, VERSION, EvaluationSpec, Phase
from .state import FINAL_VALUES, STATE, languages, one, patch_evaluation, write_status_held
from .status import condition, now


PROBLEM_GRACE_SECONDS = 120  # after a start, a queued Evaluation's Problem may not be read again yet


def active(evaluation_index) -> dict[tuple[str, str], str]:
    """Running or about to run, by key -> queue."""
    out = {}
    for key, values in evaluation_index.items():
        for v in values:
            if v["phase"] in (Phase.PENDING.value, Phase.RUNNING.value) and not v["cancel"] \
                    and v["uid"] not in STATE.finished:  # finished here, the index not caught up yet
                out[key] = v["queue"]
    for key, queue in STATE.starting.items():
        out[key] = queue
    return out


def namespace_full(namespace: str, running: dict) -> bool:
    """The namespace has as many running as its ceiling allows (ceilings.maxRunning)."""
    cap = STATE.settings.ceilings_for(namespace).max_running
    return cap is not None and sum(key[0] == namespace for key in running) >= cap


def room_for(queue: str, evaluation_index, namespace: str, exclude=None) -> bool:
    running = active(evaluation_index)
    running.pop(exclude, None)
    if namespace_full(namespace, running):  # the namespace's ceiling holds with Kueue too
        return False
    if STATE.settings.kueue:
        return True  # Kueue admits suspended Jobs
    if len(running) >= STATE.settings.max_running:
        return False
    cap = STATE.settings.queue_limits.get(queue)
    return cap is None or sum(q == queue for q in running.values()) < cap


async def dispatch(evaluation_index, language_index) -> None:
    """Start queued Evaluations, by priority then age, while there is room."""
    STATE.evaluations = evaluation_index
    async with STATE.lock:
        for key in [k for k, v in STATE.starting.items()]:
            seen = one(evaluation_index, key)
            if seen is None or seen["phase"] != Phase.QUEUED.value:
                STATE.starting.pop(key, None)
        queued = []
        for key, values in evaluation_index.items():
            for v in values:
                if v["phase"] == Phase.QUEUED.value and not v["cancel"] and key not in STATE.starting \
                        and v["uid"] not in STATE.finished:  # judged from a Job a killed operator left
                    queued.append((-v["priority"], v["created"] or "", key, v))
        for _, _, key, v in sorted(queued, key=lambda item: item[:3]):
            if not room_for(v["queue"], evaluation_index, key[0]):
                continue
            namespace, name = key
            body = v["body"]
            spec = EvaluationSpec.model_validate(dict(body["spec"]))
            lang = languages(language_index).get(spec.language)
            version = lang.get(spec.version) if lang else None
            message = None
            if spec.problem:
                if (namespace, spec.problem) not in STATE.problems and \
                        time.monotonic() - STATE.started < PROBLEM_GRACE_SECONDS:
                    continue  # the operator is starting: its Problems are being read again
                try:
                    spec, digest = expand(spec, namespace, spec.language)
                    if digest != (body.get("status") or {}).get("problemDigest"):
                        message = (f"problem {spec.problem} changed while this Evaluation waited (digest "
                                   f"{digest[:12]}, admitted with another): create it again to be judged on it")
                except ProblemUnavailable as err:
                    message = f"{err}; it was when this Evaluation was admitted"
            STATE.starting[key] = spec.queue
            if version is None:  # the Language went away while it waited
                message = f"language {spec.language}:{spec.version or ''} is no longer defined in this cluster"
            if message:
                await write_status_held(namespace, name, v["uid"], {
                    "phase": Phase.SUCCEEDED.value, "verdict": Verdict.INITIALIZATION_ERROR.value,
                    "message": message, "finishedAt": now(),
                    "conditions": [condition("Complete", True, "InitializationError", message)]})
                continue
            values = await start(namespace, name, v["uid"], spec, lang, version, body, attempt=1)
            await write_status_held(namespace, name, v["uid"], values, final=values["phase"] == Phase.FAILED.value)


@kopf.on.resume(GROUP, VERSION, "evaluations", when=lambda status, **_: status.get("phase") == Phase.QUEUED.value)
async def resume(evaluation_index, language_index, **_):
    """After a restart, Queued Evaluations start again as room allows."""
    await dispatch(evaluation_index, language_index)


@kopf.on.event(GROUP, VERSION, "evaluations")
async def evaluation_event(event, evaluation_index, language_index, **_):
    STATE.evaluations = evaluation_index
    body = event["object"]
    final = (body.get("status") or {}).get("phase") in FINAL_VALUES
    # a slot may have freed: an Evaluation gone (deleted, or labelled finished), or seen final
    if event["type"] == "DELETED" or final:
        STATE.finished.discard(body["metadata"]["uid"])  # the index (updated before handlers) shows it now
        await dispatch(evaluation_index, language_index)
    callbacks.consider(body)
    if final and event["type"] != "DELETED" and callbacks.settled(body) \
            and retention.LABEL_FINISHED not in (body["metadata"].get("labels") or {}):
        # out of the watch from now on (a pending callback keeps it in: a restart must find it);
        # on a restart, finished ones left unlabelled get it here
        await patch_evaluation(body["metadata"]["namespace"], body["metadata"]["name"],
                               {"metadata": {"labels": {retention.LABEL_FINISHED: "true"}}})
