"""Contests (issue 17): each Contest's scoreboard rebuilt from its Evaluations as they are judged;
four files in storage, the summary in its status, a callback when it changed.

- Evaluations: one watch of those labelled gavel.dev/contest, per namespace served (listwatch.py: a
  judged Evaluation leaves kopf's watch, never this one), feeds BOOK (contestbook.Book). Nothing
  else costs anything: other Evaluations never reach it. Deleting an Evaluation takes it off the
  scoreboard; the Evaluations are the only source (retention's TTL spares contests' ones).
- Contests: kopf's watch (on.event). A new or changed spec is rebuilt; our own status writes are not.
- Rebuilds: REBUILDS (contestbook.Rebuilds) rebuilds a contest `contest_rebuild_seconds` after its
  judgements changed, once for all the changes meanwhile. A rebuild is a full recomputation over
  the contest's judgements (cheap next to judging). The state changes no judgement announces
  (start, freeze, end, thaw) are one asyncio handle per contest at its next boundary, made again
  at each rebuild: no kopf timer or daemon per Contest, no task per Contest.
- Files: BUCKET/PREFIX/{public,full}.{json,html}, where the namespace may write (tenancy.py), with
  the namespace's own storage credentials when its policy names them (state.store_for).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import kopf
from pydantic import ValidationError

from . import callbacks, listwatch, metrics
from .contestbook import (
    FILES, Book, ContestKey, Rebuilds, fingerprint, next_boundary, ranked, scoreboard_files, storage_of,
)
from .kube import ApiError
from .objectstore import ObjectStore, StorageError, uri
from .resources import API_VERSION, GROUP, VERSION, ContestSpec
from .scoreboard import CONTEST_LABEL, abstime, scoreboard_json, status_summary
from .state import STATE, kube, log, store_for
from .status import condition, with_condition

BOUNDARY_MARGIN = 0.5  # seconds after a boundary: the clocks of call_later and of the wall may differ a little

BOOK = Book()
REBUILDS: Rebuilds | None = None
_watches: list[asyncio.Task] = []


@dataclass
class Contest:
    """What the operator keeps of one Contest."""

    uid: str
    generation: int | None
    spec: ContestSpec | None  # None: invalid (`invalid` says why)
    invalid: str = ""
    rebuilds: int = 0  # status.rebuilds, counted on from what the status held at start
    sent: str | None = None  # fingerprint of the scoreboard last delivered to spec.callbackUrl
    callback_failures: int = 0
    conditions: list = field(default_factory=list)


CONTESTS: dict[ContestKey, Contest] = {}


def contest_path(namespace: str, name: str) -> str:
    return f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/contests/{name}"


# ---- start and stop (handlers.startup, handlers.cleanup) -------------------------------------------

def start(state) -> None:
    global REBUILDS
    REBUILDS = Rebuilds(state.settings.contest_rebuild_seconds, rebuild)
    namespaces = state.settings.namespace_list or [None]
    whole: set[str | None] = set()

    def listed(namespace: str | None, keys: set) -> None:
        touch(BOOK.keep_only(keys, namespace))
        whole.add(namespace)
        if len(whole) == len(namespaces):
            REBUILDS.open()  # every namespace listed once: the Book is whole

    loop = asyncio.get_running_loop()
    for namespace in namespaces:
        _watches.append(loop.create_task(follow(namespace, listed)))


def stop() -> None:
    for task in _watches:
        task.cancel()
    _watches.clear()
    if REBUILDS is not None:
        REBUILDS.close()


async def follow(namespace: str | None, listed) -> None:
    while STATE.credentials is None:  # kopf logs in after the start-up handlers
        await asyncio.sleep(0.2)
    scope = f"/namespaces/{namespace}" if namespace else ""
    await listwatch.follow(lambda path, **params: kube().get(path, **params),
                           lambda path, **params: kube().watch(path, **params),
                           f"/apis/{GROUP}/{VERSION}{scope}/evaluations", CONTEST_LABEL,
                           each=lambda obj: touch(BOOK.observe(obj)),
                           listed=lambda keys: listed(namespace, keys),
                           changed=evaluation_changed)


def evaluation_changed(kind: str, obj: dict) -> None:
    meta = obj["metadata"]
    if kind == "DELETED":
        touch(BOOK.forget(meta["namespace"], meta["name"], meta.get("uid")))
    else:
        touch(BOOK.observe(obj))


def touch(contests: set[ContestKey]) -> None:
    """Rebuild these, if they exist (a label may name a Contest not made yet: its event rebuilds it)."""
    for key in contests:
        if key in CONTESTS:
            REBUILDS.touch(key)


# ---- the Contests -------------------------------------------------------------------------------

@kopf.on.event(GROUP, VERSION, "contests")
async def contest_event(event, body, namespace, name, **_):  # async: kopf runs a sync handler in a thread
    key = (namespace, name)
    meta, status = body["metadata"], body.get("status") or {}
    held = CONTESTS.get(key)
    if event["type"] == "DELETED":
        if held is not None and held.uid == meta["uid"]:
            del CONTESTS[key]
            REBUILDS.forget(key)
        return  # its files stay in storage, as Evaluations' results do
    mine = held is not None and held.uid == meta["uid"]
    if mine and held.generation == meta.get("generation"):
        return  # a status write (ours) or metadata: nothing a scoreboard shows
    try:
        spec, invalid = ContestSpec.model_validate(dict(body.get("spec") or {})), ""
    except ValidationError as err:
        spec, invalid = None, f"invalid spec: {err.errors()[0]['msg']}"
    CONTESTS[key] = Contest(uid=meta["uid"], generation=meta.get("generation"), spec=spec, invalid=invalid,
                            rebuilds=max(status.get("rebuilds") or 0, held.rebuilds if mine else 0),
                            sent=held.sent if mine else None,
                            conditions=list(status.get("conditions") or []))
    REBUILDS.touch(key)


# ---- a rebuild -----------------------------------------------------------------------------------

async def rebuild(key: ContestKey) -> None:
    contest = CONTESTS.get(key)
    if contest is None:
        return
    began = time.monotonic()
    namespace, name = key
    spec = contest.spec
    if spec is None:
        await write(key, contest, {"message": contest.invalid, "observedGeneration": contest.generation})
        return
    at = datetime.now(timezone.utc)
    public, full = ranked(spec, BOOK.judgements(key), at)
    values = status_summary(public, full)
    notes = []
    bucket, prefix, refused = storage_of(spec, namespace, name, STATE.settings)
    if refused:
        notes.append(f"scoreboard files not written: {refused}")
        values["scoreboards"] = None
    else:
        try:
            store = await store_for(namespace)
            await asyncio.to_thread(write_files, store, bucket, prefix, scoreboard_files(spec, name, public, full))
            values["scoreboards"] = locations(store, bucket, prefix)
        except StorageError as err:  # the namespace's credentials Secret, a missing bucket: the namespace's to fix
            notes.append(f"scoreboard files not written: {err}")
        except Exception as err:  # noqa: BLE001 - unreachable: said, the rest written, files tried again
            notes.append(f"scoreboard files not written: storage unreachable at {STATE.settings.storage_endpoint}: {err}")
            REBUILDS.touch(key, REBUILDS.retry_seconds)
    if spec.callback_url:
        if note := await call_back(key, contest, spec, public, full, values):
            notes.append(note)
        values["conditions"] = contest.conditions
    values |= {"lastRebuilt": abstime(at), "rebuilds": contest.rebuilds + 1, "message": "; ".join(notes)[:1000],
               "observedGeneration": contest.generation}
    if await write(key, contest, values):
        contest.rebuilds += 1
        metrics.contest_rebuilt(time.monotonic() - began)
    boundary = next_boundary(spec.window, at)
    REBUILDS.at(key, None if boundary is None else (boundary - at).total_seconds() + BOUNDARY_MARGIN)


def write_files(store: ObjectStore, bucket: str, prefix: str, files: dict[str, tuple[bytes, str]]) -> None:
    for file in FILES:
        data, content_type = files[file]
        store.write(bucket, f"{prefix}/{file}", data, content_type)


def locations(store: ObjectStore, bucket: str, prefix: str) -> dict:
    """s3:// of each file, and links without signature where the operator has a public endpoint."""
    fields = {"publicJson": "public.json", "publicHtml": "public.html", "fullJson": "full.json",
              "fullHtml": "full.html"}
    out: dict = {field: uri(bucket, f"{prefix}/{file}") for field, file in fields.items()}
    links = {field: store.link(bucket, f"{prefix}/{file}") for field, file in fields.items()}
    out["links"] = {k: v for k, v in links.items() if v} or None
    return out


async def call_back(key: ContestKey, contest: Contest, spec: ContestSpec, public, full, values: dict) -> str | None:
    """POST the public scoreboard when it changed since the last delivery (after a restart: once
    more). A failure is a condition; it is tried again by rebuilding later, with back-off, as often as
    an Evaluation's callback would be. What went wrong, for the status message, or None."""
    now_printed = fingerprint(public, full)
    if now_printed == contest.sent:
        return None
    namespace, name = key
    payload = {"apiVersion": API_VERSION, "kind": "ContestScoreboard",
               "metadata": {"name": name, "namespace": namespace, "uid": contest.uid},
               "status": {k: v for k, v in values.items() if k != "conditions"},
               "scoreboard": scoreboard_json(public)}
    err = await callbacks.send(spec.callback_url, payload)
    if err is None:
        contest.sent, contest.callback_failures = now_printed, 0
        contest.conditions = with_condition(contest.conditions, condition("CallbackDelivered", True, "Delivered",
                                                                          f"POST {spec.callback_url}"))
        return None
    contest.callback_failures += 1
    contest.conditions = with_condition(contest.conditions, condition("CallbackDelivered", False, err.reason,
                                                                      f"POST {spec.callback_url}: {err.message}"))
    if not err.final and contest.callback_failures <= STATE.settings.callback_retries:
        REBUILDS.touch(key, min(300.0, 2.0 ** contest.callback_failures))
    return f"callback failed: {err.message}"


async def write(key: ContestKey, contest: Contest, values: dict) -> bool:
    """Merge-patch the Contest's status; False when it is gone (or another one of its name)."""
    if CONTESTS.get(key) is not contest:
        return False
    try:
        await kube().merge_patch(contest_path(*key) + "/status", {"status": values})
    except ApiError as err:
        if err.status == 404:
            return False
        raise
    log.info("contest %s/%s rebuilt (%s)", *key, values.get("state") or values.get("message"))
    return True
