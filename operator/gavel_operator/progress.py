"""Progress of Running Evaluations: each runner overwrites a small object (jobs.progress_key,
through a presigned PUT URL only its task holds) at most every `progress_seconds`; one task here
reads those of the Evaluations the ledger knows to be Running, at most `progress_concurrency` at
once, every `progress_seconds`, and writes status.progress when it changed. No timer or daemon per
Evaluation, no work per event: a round costs one GET per Running Evaluation (at most
concurrency.maxRunning of them), however many are Queued.

The object is written beside the submission, so it is read as untrusted input: at most
PROGRESS_MAX_BYTES, validated with the contract's model (gavel_contract.Progress), its number of
tests checked against the Evaluation's own, and only ever written to status.progress: never the
phase, the verdict, or anything else. The final status.progress comes from the result
(`final`), not from the object."""

from __future__ import annotations

import asyncio
import logging

from pydantic import ValidationError

from gavel_contract import PROGRESS_MAX_BYTES, Progress, Result, Stage, TestVerdict

from . import jobs
from .ledger import Entry, Key

log = logging.getLogger("gavel.operator")


# ---- pure: what the object says, as a status value ---------------------------------------------

def status_value(progress: Progress) -> dict:
    """status.progress for a Progress (the runner's, validated; or the final one)."""
    value = {"stage": progress.stage.value, "judged": progress.judged, "total": progress.total,
             "summary": progress.summary(),
             "verdicts": {verdict.value: n for verdict, n in sorted(progress.verdicts.items(), key=lambda i: i[0].value)}}
    if progress.test and progress.stage == Stage.JUDGING:
        value["test"] = progress.test
    if progress.score is not None:
        value["score"] = progress.score
    if progress.max_score is not None:
        value["maxScore"] = progress.max_score
    return value


def read(raw: bytes | None, entry: Entry) -> dict | None:
    """status.progress from the runner's object, or None when there is none or it is refused
    (too large, malformed, inconsistent, or not about this Evaluation's tests)."""
    if raw is None or len(raw) > PROGRESS_MAX_BYTES:
        return None
    try:
        progress = Progress.model_validate_json(raw)
    except ValidationError:
        return None
    if entry.tests and progress.total != entry.tests:
        return None
    if progress.stage == Stage.DONE:  # the verdict's business: the result says it, not this object
        progress = progress.model_copy(update={"stage": Stage.JUDGING, "test": None})
    return status_value(progress)


def starting(total: int) -> dict:
    """status.progress when its Job is created: nothing judged yet, and how many tests (what the
    runner's progress is checked against)."""
    return {"judged": 0, "total": total, "summary": f"0/{total}", "verdicts": {}}


def final(result: Result, total: int, max_score: float | None = None) -> dict:
    """status.progress with the verdict: from the result, whatever the object said last."""
    counts: dict[TestVerdict, int] = {}
    for t in result.tests:
        counts[t.verdict] = counts.get(t.verdict, 0) + 1
    total = max(total, len(result.tests))
    return status_value(Progress(stage=Stage.DONE, judged=len(result.tests), total=total, verdicts=counts,
                                 score=result.score, maxScore=result.max_score if result.max_score is not None
                                 else max_score))


def patch(old: dict | None, new: dict) -> dict:
    """A JSON merge patch taking status.progress from `old` to `new` (keys `new` lacks removed:
    the test being run, a verdict an earlier attempt counted)."""
    out = dict(new)
    for key, value in (old or {}).items():
        if key not in new:
            out[key] = None
        elif isinstance(value, dict) and isinstance(new[key], dict):
            out[key] = {**{k: None for k in value if k not in new[key]}, **new[key]}
    return out


# ---- the task ----------------------------------------------------------------------------------

def running(ledger) -> list[tuple[Key, Entry]]:
    """The Running Evaluations whose progress is read: those holding a slot, in phase Running."""
    out = []
    for key in ledger.running_keys():
        entry = ledger.get(key)
        if entry is not None and entry.phase == "Running" and not entry.cancel and entry.uid not in ledger.finished:
            out.append((key, entry))
    return out


async def poll_forever(state) -> None:
    """One task for every Running Evaluation (handlers.startup starts it)."""
    while True:
        await asyncio.sleep(state.settings.progress_seconds)
        try:
            await poll_once(state)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - progress is a courtesy: said, and tried at the next round
            log.exception("reading progress failed; trying again in %d s", state.settings.progress_seconds)


async def poll_once(state) -> int:
    """Read every Running Evaluation's progress, write what changed; how many were written."""
    from .state import store_after_admission, write_status

    todo = running(state.ledger)
    if not todo:
        return 0
    limit = asyncio.Semaphore(state.settings.progress_concurrency)
    stores: dict[str, asyncio.Future] = {}  # one storage client (and tenant Secret read) per namespace a round

    async def store_of(namespace: str):
        if namespace not in stores:
            stores[namespace] = asyncio.ensure_future(store_after_admission(namespace))
        return await stores[namespace]

    async def one(key: Key, entry: Entry) -> bool:
        async with limit:
            store = await store_of(key[0])
            if store is None:
                return False
            where = jobs.Placement(entry.bucket, entry.prefix)
            try:
                raw = await asyncio.to_thread(store.read, where.bucket, jobs.progress_key(where), PROGRESS_MAX_BYTES)
            except Exception as err:  # noqa: BLE001 - unreadable now, too large, storage down: next round
                log.debug("progress of %s/%s not read: %s", *key, err)
                return False
            value = read(raw, entry)
            if value is None or value == entry.progress:
                return False
            written = await write_status(*key, entry.uid, {"progress": patch(entry.progress, value)}, final=False)
            if written:
                entry.progress = value  # until the watch brings it back: one write, not one a round
            return written

    done = await asyncio.gather(*(one(key, entry) for key, entry in todo), return_exceptions=True)
    for (key, _), outcome in zip(todo, done):
        if isinstance(outcome, BaseException):
            log.warning("progress of %s/%s not written: %s", *key, outcome)
    return sum(1 for d in done if d is True)
