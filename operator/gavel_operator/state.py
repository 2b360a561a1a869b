"""What the operator process holds (settings, clients, who it is starting), and the few ways it
writes to an Evaluation: every status write after admission goes through write_status."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from typing import Any

import kopf
from pydantic import ValidationError

from gavel_contract import Language

from .kube import ApiError, Kube
from .ledger import Ledger
from .objectstore import ObjectStore, StorageError
from .resources import API_VERSION, FINAL_PHASES, GROUP, VERSION
from .settings import Settings

log = logging.getLogger("gavel.operator")
FINAL_VALUES = {p.value for p in FINAL_PHASES}
TENANT_STORES = 64  # storage clients kept for namespaces' own credentials


class State:
    """What the operator process holds: settings, clients, and who it is starting right now."""

    settings: Settings
    store: ObjectStore
    kube: Kube | None = None
    locks: "KeyLocks"  # one per Evaluation, held while starting its Job and writing its status after admission
    ledger: Ledger | None = None  # the queue and running counts, from the watch (ledger.py)
    wake: asyncio.Event | None = None  # the dispatcher's (dispatch.kick)
    intake: Any = None  # intake.Intake: those waiting to be admitted, settings.max_admitting at once
    cancels: Any = None  # intake.Intake: spec.cancel being carried out, each in a task (following.cancel_key)
    trimmer: asyncio.Task | None = None  # heap.trim_forever
    language_index: Any = None  # kopf's, once its indexes are whole (dispatch.indexed)
    nothing_listed: bool = False  # the watch of Evaluations started empty (dispatch.readiness)
    policies: set[str]  # namespaces whose runner NetworkPolicy exists
    credentials: kopf.ConnectionInfo | None = None
    sweeper: asyncio.Task | None = None  # deletes finished Evaluations past their TTL
    looker: asyncio.Task | None = None  # dispatch.look_for_nothing_listed
    dispatcher: asyncio.Task | None = None  # starts Queued Evaluations (dispatch.dispatcher)
    progress: asyncio.Task | None = None  # reads Running Evaluations' progress (progress.poll_forever)
    tenant_stores: dict[tuple[str, str], ObjectStore]  # by the tenant's (access key, secret key)
    problems: dict[tuple[str, str], Any]  # checked Problems by (namespace, name): problems.Resolved
    started: float = 0.0  # time.monotonic() at start-up
    tenancies: dict[str, Any]  # namespace -> its TenantPolicy (settings do not change while running)

    def tenancy_of(self, namespace: str):
        if namespace not in self.tenancies:
            self.tenancies[namespace] = self.settings.tenancy_for(namespace)
        return self.tenancies[namespace]


class KeyLocks:
    """An asyncio.Lock per Evaluation (namespace, name), kept only while someone holds or waits
    for it. Per Evaluation, not one for all: under a burst every status write and every start
    queued behind one lock, one API round-trip after another (the kwok tier: a verdict's write
    waited 5 s at the median), and judging went at the pace of that line."""

    def __init__(self):
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._users: dict[tuple[str, str], int] = {}

    @contextlib.asynccontextmanager
    async def __call__(self, key: tuple[str, str]):
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]

    def __len__(self) -> int:
        return len(self._locks)


STATE = State()


def kube() -> Kube:
    if STATE.kube is None:
        STATE.kube = Kube(STATE.credentials)
    return STATE.kube


async def store_for(namespace: str) -> ObjectStore:
    """The storage client for a namespace's objects: the operator's own, or the one made from the
    Secret its tenancy policy names (read each time: a rotated key takes effect at once)."""
    name = STATE.settings.tenancy_for(namespace).storage.credentials_secret
    if not name:
        return STATE.store
    where = f"storage credentials: Secret {namespace}/{name}"
    try:
        secret = await kube().get(f"/api/v1/namespaces/{namespace}/secrets/{name}")
    except ApiError as err:
        if err.status == 404:
            raise StorageError(f"{where} not found (tenancy.storage.credentialsSecret)") from None
        if err.status == 403:
            raise StorageError(f"{where}: the operator may not read it (the chart grants `get` on the Secrets "
                               "its tenancy values name)") from None
        raise
    try:
        keys = tuple(base64.b64decode((secret.get("data") or {})[k]).decode() for k in ("accessKey", "secretKey"))
    except (KeyError, ValueError):
        raise StorageError(f"{where} needs the keys accessKey and secretKey") from None
    stores = STATE.tenant_stores
    store = stores.pop(keys, None) or STATE.store.with_credentials(*keys)
    stores[keys] = store  # most recently used last; a namespace rotating keys cannot grow it without end
    while len(stores) > TENANT_STORES:
        del stores[next(iter(stores))]
    return store


async def store_after_admission(namespace: str) -> ObjectStore | None:
    """store_for, once admitted: a Secret gone meanwhile means results are read from the pod's
    summary and logs are not kept (never with the operator's own credentials)."""
    try:
        return await store_for(namespace)
    except StorageError as err:
        log.warning("%s: %s", namespace, err)
        return None


def languages(language_index) -> dict[str, Language]:
    out = {}
    for name, specs in language_index.items():
        for spec in specs:
            try:
                out[name] = Language.model_validate({"name": name, **spec})
            except ValidationError as err:
                log.warning("Language %s is unusable: %s", name, err)
    return out


def ref(body) -> dict:
    """What kopf.event and kopf.adopt need of an Evaluation."""
    meta = body["metadata"]
    return ref_of(meta["namespace"], meta["name"], meta["uid"])


def ref_of(namespace: str, name: str, uid: str) -> dict:
    return {"apiVersion": API_VERSION, "kind": "Evaluation",
            "metadata": {"name": name, "namespace": namespace, "uid": uid}}


def eval_path(namespace: str, name: str) -> str:
    return f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/evaluations/{name}"


async def patch_evaluation(namespace: str, name: str, patch: dict, subresource: str = "") -> None:
    try:
        await kube().merge_patch(eval_path(namespace, name) + subresource, patch)
    except ApiError as err:
        if err.status != 404:  # deleted meanwhile: nothing to report to
            raise


async def patch_status(namespace: str, name: str, values: dict) -> None:
    await patch_evaluation(namespace, name, {"status": values}, "/status")


async def write_status(namespace: str, name: str, uid: str, values: dict, final: bool = True) -> bool:
    """Status writes after admission go through here, serialized with starting its Job (its lock in
    STATE.locks), so nothing ("Job created", "judging") lands on top of a verdict. False: already final."""
    async with STATE.locks((namespace, name)):
        return await write_status_held(namespace, name, uid, values, final)


async def write_status_held(namespace: str, name: str, uid: str, values: dict, final: bool = True) -> bool:
    """write_status for a caller that holds the Evaluation's lock (STATE.locks)."""
    ledger = STATE.ledger
    if uid in ledger.finished:
        return False
    seen = ledger.get((namespace, name))  # gone: deleted, or final and labelled out of the watch
    if seen is None or seen.uid != uid or seen.phase in FINAL_VALUES:
        return False
    await patch_status(namespace, name, values)
    if final:
        ledger.mark_finished((namespace, name), uid)
    return True
