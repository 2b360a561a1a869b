"""The kopf handlers, by stage, each in its own module; kopf loads this one (`kopf run -m
gavel_operator.handlers`), which imports the others so that their handlers register:

- here: start-up, login, clean-up, probes, kopf's indexes (Languages, Evaluations);
- state.py: what the process holds, and status writes (serialized with starting Jobs);
- admission.py: a new Evaluation checked, then started, Queued, or judged at once;
- dispatch.py: caps and the queue; launch.py: the task Secret, the Job, the egress policy;
- following.py: Jobs and pods followed to the verdict or the failure, runner logs, cancel;
- contests.py: Contests' scoreboards rebuilt from their Evaluations' judgements.

Restart-safe by construction: Job and Secret names derive from the Evaluation, so creating
them again is a no-op (409); what is running or queued is rebuilt in the ledger from kopf's
initial listing (the Evaluation index function feeds it; kopf runs no handler before the listing
is whole); a finished Job seen again finds its Evaluation final."""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import kopf

from . import callbacks, heap, jobs, metrics, retention
from . import admission, contests, dispatch, following, launch, problems, progress
from .intake import Intake
from .objectstore import ObjectStore
from .resources import GROUP, VERSION
from .settings import Settings
from .state import STATE, KeyLocks, eval_path, kube

STORAGE_THREADS = 16

STAGES = (admission, contests, dispatch, following, launch, problems)  # imported so that kopf registers their handlers


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, **_):
    STATE.settings = Settings.from_env()
    # storage calls run in threads (asyncio.to_thread): the default pool, 6 threads on 2 cores,
    # held a burst's admissions (several storage round trips each) to 6 at a time
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(max_workers=STORAGE_THREADS, thread_name_prefix="storage"))
    STATE.store = ObjectStore(STATE.settings)
    STATE.locks = KeyLocks()
    STATE.policies = set()
    STATE.tenancies = {}
    STATE.ledger = dispatch.make_ledger()
    STATE.wake = asyncio.Event()
    STATE.intake = Intake(admission.admit_key, STATE.settings.max_admitting)  # started by dispatch.indexed
    STATE.cancels = Intake(following.cancel_key, 0, doing="canceling")  # a task each, none to start
    if STATE.settings.heap_trim_seconds:
        STATE.trimmer = asyncio.get_running_loop().create_task(heap.trim_forever(STATE.settings.heap_trim_seconds))
    STATE.dispatcher = None  # started by the first handler (dispatch.indexed), in kopf's context
    STATE.progress = asyncio.get_running_loop().create_task(progress.poll_forever(STATE))
    STATE.tenant_stores = {}
    STATE.problems = {}
    STATE.started = time.monotonic()
    # progress in annotations: the status stays the user's to read
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    # the last-handled spec kopf keeps for diffs, of Problems and Languages only: Evaluations have no
    # create or field handler (dispatch.evaluation_event), so kopf writes nothing on them
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=GROUP)
    settings.persistence.finalizer = f"{GROUP}/operator"
    settings.posting.level = logging.INFO
    # kopf's own line for every handler that succeeded (every event of every Job, pod and
    # Evaluation): ~5% of the operator's CPU in a burst (make bench-scale, profiled); failures
    # and warnings are still logged, and Gavel's own log lines and Events are not kopf's
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    settings.watching.server_timeout = 300
    # Filtered by the API server, not here: the pods and Jobs of a busy cluster are not Gavel's to
    # hold in memory; lists come in pages, so a start-up never holds one huge response.
    settings.watching.label_selectors["", "v1", "pods"] = f"{jobs.LABEL_ROLE}=runner"
    settings.watching.label_selectors["batch", "v1", "jobs"] = "app.kubernetes.io/managed-by=gavel-operator"
    settings.watching.chunk_size = 500
    # finished Evaluations are labelled and leave the watch (the API server sends DELETED)
    settings.watching.label_selectors[GROUP, VERSION, "evaluations"] = retention.WATCH_SELECTOR
    settings.batching.error_delays = [1, 2, 5, 10, 30, 60]
    # kopf keeps an object's worker (its stream, task and last event) this long for the next event:
    # 5 s by default, and a burst's peak memory was those of the last 5 s of creations, thousands
    settings.batching.idle_timeout = 1.0
    if STATE.settings.create_buckets:
        await asyncio.to_thread(STATE.store.ensure_buckets)
    metrics.start(STATE.settings.metrics_port, lambda: STATE.ledger, dispatch.readiness)
    STATE.looker = asyncio.get_running_loop().create_task(dispatch.look_for_nothing_listed())
    callbacks.start(STATE)
    contests.start(STATE)
    if STATE.settings.finished_ttl_seconds > 0:
        scopes = [f"/namespaces/{n}" for n in STATE.settings.namespace_list] or [""]
        STATE.sweeper = asyncio.get_running_loop().create_task(retention.sweep_forever(
            lambda path, **params: kube().get(path, **params),
            lambda namespace, name: kube().delete(eval_path(namespace, name)),
            [f"/apis/{GROUP}/{VERSION}{scope}/evaluations" for scope in scopes],
            STATE.settings.finished_ttl_seconds))


@kopf.on.login()
def login(**kwargs):
    info = kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)
    STATE.credentials = info
    return info


@kopf.on.cleanup()
async def cleanup(**_):
    contests.stop()
    await callbacks.stop()
    if STATE.dispatcher:
        STATE.dispatcher.cancel()
    for line in (STATE.intake, STATE.cancels):
        if line is not None:  # (empty, it is falsy: it has a length)
            line.stop()
    if STATE.progress:
        STATE.progress.cancel()
    if STATE.sweeper:
        STATE.sweeper.cancel()
    if STATE.looker:
        STATE.looker.cancel()
    if STATE.trimmer:
        STATE.trimmer.cancel()
    if STATE.kube:
        await STATE.kube.close()


@kopf.on.probe(id="storage")
def storage_probe(**_):
    return STATE.settings.storage_endpoint


@kopf.on.probe(id="queue")
def queue_probe(**_):
    """What /healthz reports of the work: counters, never a verdict on health (a backlog is work)."""
    ledger = STATE.ledger
    return {"running": ledger.running, "queued": ledger.queued, "admitting": len(STATE.intake),
            "indexed": STATE.language_index is not None}


@kopf.index(GROUP, VERSION, "languages")
def language_index(name, spec, **_):
    return {name: dict(spec)}


@kopf.index(GROUP, VERSION, "evaluations")
def evaluation_index(namespace, name, uid, spec, status, meta, **_):
    """Feeds the ledger (O(log n) an event) and keeps nothing itself: kopf registers it so that no
    handler runs before the initial listing is whole (DELETED reaches dispatch.evaluation_event)."""
    STATE.ledger.observe((namespace, name), dispatch.entry_of(namespace, name, uid, spec, status,
                                                              meta.get("creationTimestamp")))
    return None


@kopf.on.create(GROUP, VERSION, "languages")
@kopf.on.update(GROUP, VERSION, "languages")
@kopf.on.resume(GROUP, VERSION, "languages")
def language_status(spec, patch, **_):
    versions = [v.get("version") for v in spec.get("versions", [])]
    default = next((v.get("version") for v in spec.get("versions", []) if v.get("default")), versions[0] if versions else "")
    patch.status["versions"] = ", ".join(versions)
    patch.status["defaultVersion"] = default
    # `kubectl get languages -o wide`: the image each version runs in (one name when all share it)
    images = list(dict.fromkeys(v.get("image", "") for v in spec.get("versions", [])))
    patch.status["images"] = ", ".join(i for i in images if i)
