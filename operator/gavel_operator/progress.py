"""Progress of Running Evaluations: each runner overwrites a small object (jobs.progress_key:
`.gavel/progress/UID.json` in the operator's results bucket, through a presigned PUT URL only its
task holds) at most every `progress_seconds`; one task here reads those of the Evaluations the
ledger knows to be Running, at most `progress_concurrency` at once, every `progress_seconds`, with
the operator's own storage client, and writes status.progress when it changed. No timer or daemon
per Evaluation, no work per event: a round costs one GET per Running Evaluation (at most
concurrency.maxRunning of them) and one status PATCH per one whose progress changed, however many
are Queued.

The object is written by the runner beside the submission it runs, so it is read as untrusted
input: at most PROGRESS_MAX_BYTES, validated with the contract's model (gavel_contract.Progress),
its number of tests checked against the Evaluation's own, and only ever written to status.progress:
never the phase, the verdict, or anything else (and, like every status write after admission,
never after the verdict: state.write_status). The final status.progress comes from the result
(`final`), not from the object, which is deleted with the verdict (`forget`)."""

from __future__ import annotations

import asyncio
import logging

from pydantic import ValidationError

from gavel_contract import PROGRESS_MAX_BYTES, Progress, Result, Stage, TestVerdict

from . import jobs
from .ledger import Entry, Key
from .objectstore import ObjectStore

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


def final(result: Result, total: int) -> dict:
    """status.progress with the verdict: from the result (the runner's own, trusted), whatever the
    object said last; built directly, so that no bound of the untrusted object's model can fail a
    verdict."""
    counts: dict[str, int] = {}
    for t in result.tests:
        counts[t.verdict.value] = counts.get(t.verdict.value, 0) + 1
    total = max(total, len(result.tests))
    value = {"stage": Stage.DONE.value, "judged": len(result.tests), "total": total,
             "summary": f"{len(result.tests)}/{total}", "verdicts": dict(sorted(counts.items()))}
    if result.score is not None:
        value["score"] = result.score
    if result.max_score is not None:
        value["maxScore"] = result.max_score
    return value


FIELDS = ("stage", "judged", "total", "summary", "test", "verdicts", "score", "maxScore")


def replacing(new: dict) -> dict:
    """A JSON merge patch that makes status.progress exactly `new`, whatever it held before (every
    field and verdict `new` lacks set to null: the test no longer being run, a verdict an earlier
    attempt counted), so that no write depends on what this process last saw."""
    out: dict = {field: None for field in FIELDS}
    out.update(new)
    out["verdicts"] = {**{v.value: None for v in TestVerdict}, **(new.get("verdicts") or {})}
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
    from .state import write_status

    todo = running(state.ledger)
    if not todo:
        return 0
    limit = asyncio.Semaphore(state.settings.progress_concurrency)
    bucket = state.settings.results_bucket_name

    async def one(key: Key, entry: Entry) -> bool:
        async with limit:
            try:
                raw = await asyncio.to_thread(state.store.read, bucket, jobs.progress_key(entry.uid),
                                              PROGRESS_MAX_BYTES)
            except Exception as err:  # noqa: BLE001 - unreadable now, too large, storage down: next round
                log.debug("progress of %s/%s not read: %s", *key, err)
                return False
        value = read(raw, entry)
        if value is None or value == entry.progress:
            return False
        written = await write_status(*key, entry.uid, {"progress": replacing(value)}, final=False)
        if written:
            entry.progress = value  # until the watch brings it back: one write, not one a round
        return written

    done = await asyncio.gather(*(one(key, entry) for key, entry in todo), return_exceptions=True)
    for (key, _), outcome in zip(todo, done):
        if isinstance(outcome, BaseException):
            log.warning("progress of %s/%s not written: %s", *key, outcome)
    return sum(1 for d in done if d is True)


async def forget(store: ObjectStore, bucket: str, uid: str) -> None:
    """Delete an Evaluation's progress object (its verdict is in, or it is gone); nothing is raised:
    the object holds counts only, and the next final write of a Job of the same uid is impossible."""
    try:
        await asyncio.to_thread(store.remove, bucket, jobs.progress_key(uid))
    except Exception as err:  # noqa: BLE001 - a courtesy: never a lost verdict
        log.warning("cannot delete the progress object of Evaluation %s: %s", uid, err)
