"""The kopf handlers: admit Evaluations, start Jobs within the concurrency caps, follow Jobs and
pods through watches (no per-Evaluation timers or polling), write verdicts back.

Restart-safe by construction: Job and Secret names derive from the Evaluation, so creating
them again is a no-op (409); what is running or queued is rebuilt from kopf's indexes, which
kopf fills from a full list on start; a finished Job seen again finds its Evaluation final."""

from __future__ import annotations

import asyncio
import base64
import logging
from datetime import timedelta
from typing import Any

import kopf
from pydantic import ValidationError

from gavel_contract import Language, Result, TaskRef, Verdict
from gavel_contract.languages import supported

from . import callbacks, ceilings, jobs, metrics, retention, tenancy
from .status import age_seconds, condition, judged, now, result_from_summary, with_condition
from .kube import ApiError, Kube
from .objectstore import ObjectStore, StorageError
from .resources import API_VERSION, FINAL_PHASES, GROUP, VERSION, EvaluationSpec, Phase
from .settings import Settings

log = logging.getLogger("gavel.operator")
FINAL_VALUES = {p.value for p in FINAL_PHASES}

PULL_FAILURES_AT_ONCE = {"ErrImageNeverPull", "InvalidImageName"}  # can never succeed
PULL_FAILURES_LATER = {"ErrImagePull", "ImagePullBackOff", "CreateContainerConfigError", "CreateContainerError"}


class State:
    """What the operator process holds: settings, clients, and who it is starting right now."""

    settings: Settings
    store: ObjectStore
    kube: Kube | None = None
    lock: asyncio.Lock
    starting: dict[tuple[str, str], str]  # started, not yet seen as such in the index
    policies: set[str]  # namespaces whose runner NetworkPolicy exists
    finished: set[str]  # uids this process wrote a final status for: the index may not show it yet
    evaluations: Any = None  # kopf's live evaluation index, for metrics and callbacks
    credentials: kopf.ConnectionInfo | None = None
    sweeper: asyncio.Task | None = None  # deletes finished Evaluations past their TTL
    tenant_stores: dict[tuple[str, str], ObjectStore]  # by the tenant's (access key, secret key)


STATE = State()


# --- start-up ------------------------------------------------------------------------------

@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, **_):
    STATE.settings = Settings.from_env()
    STATE.store = ObjectStore(STATE.settings)
    STATE.lock = asyncio.Lock()
    STATE.starting = {}
    STATE.policies = set()
    STATE.finished = set()
    STATE.tenant_stores = {}
    # progress in annotations: the status stays the user's to read
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    # the last-handled spec kopf keeps for diffs: only spec.cancel can change (CEL) and matter, so only
    # it is kept; the whole spec again in an annotation made every object (and the operator) 28% bigger
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=GROUP, ignored_fields=[
        f"spec.{field.alias or name}" for name, field in EvaluationSpec.model_fields.items() if name != "cancel"])
    settings.persistence.finalizer = f"{GROUP}/operator"
    settings.posting.level = logging.INFO
    settings.watching.server_timeout = 300
    # Filtered by the API server, not here: the pods and Jobs of a busy cluster are not Gavel's to
    # hold in memory; lists come in pages, so a start-up never holds one huge response.
    settings.watching.label_selectors["", "v1", "pods"] = f"{jobs.LABEL_ROLE}=runner"
    settings.watching.label_selectors["batch", "v1", "jobs"] = "app.kubernetes.io/managed-by=gavel-operator"
    settings.watching.chunk_size = 500
    # finished Evaluations are labelled and leave the watch (the API server sends DELETED)
    settings.watching.label_selectors[GROUP, VERSION, "evaluations"] = retention.WATCH_SELECTOR
    settings.batching.error_delays = [1, 2, 5, 10, 30, 60]
    if STATE.settings.create_buckets:
        await asyncio.to_thread(STATE.store.ensure_buckets)
    metrics.start(STATE.settings.metrics_port, lambda: STATE.evaluations)
    callbacks.start(STATE)
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
    await callbacks.stop()
    if STATE.sweeper:
        STATE.sweeper.cancel()
    if STATE.kube:
        await STATE.kube.close()


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
    if keys not in STATE.tenant_stores:
        STATE.tenant_stores[keys] = STATE.store.with_credentials(*keys)
    return STATE.tenant_stores[keys]


async def store_after_admission(namespace: str) -> ObjectStore | None:
    """store_for, once admitted: a Secret gone meanwhile means results are read from the pod's
    summary and logs are not kept (never with the operator's own credentials)."""
    try:
        return await store_for(namespace)
    except StorageError as err:
        log.warning("%s: %s", namespace, err)
        return None


@kopf.on.probe(id="storage")
def storage_probe(**_):
    return STATE.settings.storage_endpoint


# --- indexes -------------------------------------------------------------------------------

@kopf.index(GROUP, VERSION, "languages")
def language_index(name, spec, **_):
    return {name: dict(spec)}


@kopf.index(GROUP, VERSION, "evaluations")
def evaluation_index(namespace, name, uid, spec, status, meta, body, **_):
    entry = {"uid": uid, "phase": status.get("phase"), "queue": spec.get("queue", "default")}
    if entry["phase"] in FINAL_VALUES:  # never handled again, and soon out of the watch: no body kept
        return {(namespace, name): entry}
    entry.update(priority=spec.get("priority", 0), created=meta.get("creationTimestamp"),
                 cancel=spec.get("cancel", False), conditions=status.get("conditions") or [], body=body)
    return {(namespace, name): entry}


def one(index, key):
    for value in index.get(key, ()):
        return value
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


@kopf.on.create(GROUP, VERSION, "languages")
@kopf.on.update(GROUP, VERSION, "languages")
@kopf.on.resume(GROUP, VERSION, "languages")
def language_status(spec, patch, **_):
    versions = [v.get("version") for v in spec.get("versions", [])]
    default = next((v.get("version") for v in spec.get("versions", []) if v.get("default")), versions[0] if versions else "")
    patch.status["versions"] = ", ".join(versions)
    patch.status["defaultVersion"] = default


# --- admission -----------------------------------------------------------------------------

def ref(body) -> dict:
    """What kopf.event and kopf.adopt need of an Evaluation."""
    meta = body["metadata"]
    return {"apiVersion": API_VERSION, "kind": "Evaluation",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"]}}


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
    """Status writes after admission go through here, serialized with starting Jobs (STATE.lock),
    so nothing ("Job created", "judging") lands on top of a verdict. False: already final."""
    async with STATE.lock:
        return await write_status_held(namespace, name, uid, values, final)


async def write_status_held(namespace: str, name: str, uid: str, values: dict, final: bool = True) -> bool:
    """write_status for a caller that holds STATE.lock."""
    if uid in STATE.finished:
        return False
    if STATE.evaluations is not None:  # gone from the index: deleted, or final and labelled out of the watch
        seen = one(STATE.evaluations, (namespace, name))
        if seen is None or seen["uid"] != uid or seen["phase"] in FINAL_VALUES:
            return False
    await patch_status(namespace, name, values)
    if final:
        STATE.finished.add(uid)
    return True


@kopf.on.create(GROUP, VERSION, "evaluations")
async def admit(body, spec, namespace, name, status, patch, retry, language_index, evaluation_index, **_):
    STATE.evaluations = evaluation_index
    if status.get("jobName") or status.get("phase") not in (None, Phase.PENDING.value):
        return  # admitted before a restart (Pending without a Job: retrying while storage was down)
    try:
        parsed = EvaluationSpec.model_validate(dict(spec))
    except ValidationError as err:
        return reject(patch, body, Verdict.INITIALIZATION_ERROR, f"invalid spec: {err.errors()[0]['msg']}")
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
            metrics.failed("StorageUnreachable", body)
            return
        patch.status["phase"] = Phase.PENDING.value
        patch.status["message"] = message
        patch.status["conditions"] = [condition("StorageReachable", False, "StorageUnreachable", message)]
        raise kopf.TemporaryError(message, delay=min(60.0, STATE.settings.storage_retry_delay_seconds * 2 ** retry))
    log.info("admitted %s/%s (%s)", namespace, name, label)
    async with STATE.lock:
        key = (namespace, name)
        if room_for(parsed.queue, evaluation_index, namespace, exclude=key):
            # written here, under the lock: kopf's own patch lands after the handler returns, and a Job
            # left by a killed operator may be finished (and its verdict written) by then
            try:
                values = await start(namespace, name, body["metadata"]["uid"], parsed, lang, version, body,
                                     attempt=1)
            except (kopf.TemporaryError, ApiError):
                raise  # the API server's trouble: kopf retries
            except Exception as err:  # a case no check foresaw: said on the Evaluation, never retried forever
                if retry + 1 < ADMIT_ATTEMPTS:
                    raise kopf.TemporaryError(f"could not start: {err}", delay=5 * (retry + 1)) from err
                log.exception("%s/%s could not be started", namespace, name)
                values = not_started(body, "OperatorError", f"the operator could not start it: {err}")
            await write_status_held(namespace, name, body["metadata"]["uid"], values,
                                    final=values["phase"] == Phase.FAILED.value)
        else:
            cap = STATE.settings.ceilings_for(namespace).max_running
            why = (f"namespace {namespace} is at its ceiling of {cap} running (ceilings.maxRunning)"
                   if namespace_full(namespace, active(evaluation_index)) else f"queue {parsed.queue} is at its cap")
            patch.status.update(phase=Phase.QUEUED.value, queuedAt=now(), message="waiting for a free slot",
                                conditions=[condition("Queued", True, "ConcurrencyLimit", why)])
            kopf.info(body, reason="Queued", message=f"{why}; waiting")


ADMIT_ATTEMPTS = 3  # an unforeseen error in starting an Evaluation: tried this often, then Failed


def not_started(body, reason: str, message: str) -> dict:
    """Failed before any Job ran (refused by the API server, or an operator error): the status to
    write, with its Event and metric."""
    full = f"could not be judged ({reason}): {message}"[:1000]
    kopf.warn(body, reason=reason, message=full)
    metrics.failed(reason, body)
    return {"phase": Phase.FAILED.value, "message": full, "finishedAt": now(),
            "conditions": [condition("Failed", True, reason, message[:1000])]}


def reject(patch, body, verdict: Verdict, message: str) -> None:
    """Judged at once, without a Job: the request itself cannot be judged."""
    patch.status.update(phase=Phase.SUCCEEDED.value, verdict=verdict.value, message=message, passed="0/0",
                        finishedAt=now(),
                        conditions=[condition("Complete", True, verdict.value, message)])
    kopf.warn(body, reason=verdict.value, message=message)
    metrics.judged(verdict.value, body)


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
    where = jobs.placement(spec, namespace, name, uid, settings)
    return tenancy.storage_violation(policy, namespace, default, settings.results_bucket_name, reads,
                                     (where.bucket, where.prefix))


def check_storage(store: ObjectStore, spec: EvaluationSpec, namespace: str, name: str, uid: str) -> None:
    """The submission exists and the results bucket too (a full listing of tests would cost a
    request per object: a missing test object is the runner's InitializationError); the results
    prefix is this Evaluation's alone, unless the policy lets prefixes be shared."""
    settings = STATE.settings
    store.check_object(spec.submission.bucket or settings.bucket, spec.submission.key)
    where = jobs.placement(spec, namespace, name, uid, settings)
    if not store.bucket_exists(where.bucket):
        raise StorageError(f"results bucket {where.bucket} does not exist")
    if not settings.tenancy_for(namespace).storage.shared_results:
        store.claim_results(where.bucket, where.prefix, uid)


# --- concurrency ---------------------------------------------------------------------------

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
            STATE.starting[key] = spec.queue
            if version is None:  # the Language went away while it waited
                message = f"language {spec.language}:{spec.version or ''} is no longer defined in this cluster"
                await write_status_held(namespace, name, v["uid"], {
                    "phase": Phase.SUCCEEDED.value, "verdict": Verdict.INITIALIZATION_ERROR.value,
                    "message": message, "finishedAt": now(),
                    "conditions": [condition("Complete", True, "InitializationError", message)]})
                continue
            values = await start(namespace, name, v["uid"], spec, lang, version, body, attempt=1)
            await write_status_held(namespace, name, v["uid"], values, final=values["phase"] == Phase.FAILED.value)


async def start(namespace: str, name: str, uid: str, spec: EvaluationSpec, lang: Language, version, body,
                attempt: int) -> dict:
    """Create the task Secret and the Job, both owned by the Evaluation. Returns its new status."""
    settings, store = STATE.settings, await store_for(namespace)
    where = jobs.placement(spec, namespace, name, uid, settings)
    limits = [jobs.resolve_limits(version, spec, t) for t in spec.tests]
    deadline = jobs.deadline_seconds(spec, limits, settings)
    expiry = timedelta(seconds=min(7 * 86400, deadline * (spec.retries + 1) + 3600))
    task = jobs.build_task(f"{namespace}/{name}", spec, lang, version, where, store, settings, expiry)
    jname = jobs.job_name(name, uid, attempt)
    owner = ref(body)
    if (document := jobs.task_document(task)) is not None:  # too large for a Secret: the Secret says where it is
        await asyncio.to_thread(store.write, where.bucket, where.key("task.json"), document, "application/json")
        task = TaskRef(url=store.get_url(where.bucket, where.key("task.json"), expiry))
    secret = jobs.task_secret(jname, task)
    job = jobs.job_manifest(name=jname, secret=jname, eval_name=name, spec=spec, version=version, limits=limits,
                            attempt=attempt, settings=settings, tenancy=settings.tenancy_for(namespace))
    for obj in (secret, job):
        kopf.adopt(obj, owner=owner)
        obj["metadata"]["namespace"] = namespace
    await ensure_network_policy(namespace)
    reason = "PodRejected"
    try:
        # the pod as the Job controller would create it, through admission (Pod Security, quotas,
        # webhooks) without being stored: a refusal is said now, not after the Job's deadline
        await kube().request("POST", f"/api/v1/namespaces/{namespace}/pods", jobs.dry_run_pod(job),
                             params={"dryRun": "All"})
        reason = "SecretRejected"
        await kube().create(f"/api/v1/namespaces/{namespace}/secrets", secret)
        reason = "JobRejected"
        created = await kube().create(f"/apis/batch/v1/namespaces/{namespace}/jobs", job)
    except ApiError as err:
        if err.status >= 500 or err.status == 429:
            raise  # the API server's trouble: kopf retries the handler
        # the request itself cannot run here (Pod Security, a quota, a limit): said at once, with its words
        what = {"PodRejected": "runner pod", "SecretRejected": "task Secret", "JobRejected": "Job"}[reason]
        log.info("%s/%s: the API server refused the %s: %s", namespace, name, what, err)
        return {**not_started(body, reason, f"the API server refused the {what}: {err}"),
                "language": f"{lang.name}:{version.version}"}
    STATE.starting[(namespace, name)] = spec.queue
    if created is None:  # made by a process killed before it could say so: follow that one
        log.info("Job %s of %s/%s exists already: following it", jname, namespace, name)
    else:
        kopf.info(owner, reason="JobCreated", message=f"Job {jname} judges {lang.name}:{version.version} "
                                                      f"on {len(spec.tests)} tests")
        log.info("started %s/%s as Job %s", namespace, name, jname)
    return {"phase": Phase.PENDING.value, "jobName": jname, "attempts": attempt, "message": "Job created",
            "language": f"{lang.name}:{version.version}",
            "conditions": [condition("Running", False, "JobCreated", f"Job {jname}")]}


async def ensure_network_policy(namespace: str) -> None:
    """The egress policy of runner pods, before a Job (create is idempotent); afterwards
    `policy_event` keeps it as the settings say."""
    if STATE.settings.runner_egress is None or namespace in STATE.policies:
        return
    policy = jobs.network_policy(STATE.settings.runner_egress)
    policy["metadata"]["namespace"] = namespace
    path = f"/apis/networking.k8s.io/v1/namespaces/{namespace}/networkpolicies"
    if await kube().create(path, policy) is None:  # there already: bring it to the current settings
        await kube().merge_patch(f"{path}/{jobs.NETWORK_POLICY}", {"spec": policy["spec"]})
    STATE.policies.add(namespace)


@kopf.on.event("networking.k8s.io", "v1", "networkpolicies",
               labels={"app.kubernetes.io/managed-by": "gavel-operator"})
async def policy_event(event, body, namespace, name, **_):
    """The runner egress policy is the operator's: deleted, it is made again; widened or changed
    by anyone, it is put back (the change is said in an Event on it)."""
    if name != jobs.NETWORK_POLICY or STATE.settings.runner_egress is None:
        return
    desired = jobs.network_policy(STATE.settings.runner_egress)["spec"]
    if event["type"] == "DELETED":
        STATE.policies.discard(namespace)
        log.warning("runner egress policy of %s was deleted: made again", namespace)
        await ensure_network_policy(namespace)
    elif not jobs.same_policy(body.get("spec"), desired):
        log.warning("runner egress policy of %s was changed: put back", namespace)
        kopf.warn(body, reason="PolicyRestored", message="changed by someone else; put back as the operator's settings say")
        path = f"/apis/networking.k8s.io/v1/namespaces/{namespace}/networkpolicies/{name}"
        await kube().request("PATCH", path, [{"op": "replace", "path": "/spec", "value": desired}],
                             content_type="application/json-patch+json")


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


# --- following Jobs and pods ---------------------------------------------------------------

def evaluation_of(body, labels) -> str:
    """The name of the Evaluation a Job or pod is for (a label holds only 63 characters)."""
    return (body["metadata"].get("annotations") or {}).get(jobs.ANNOTATION_EVALUATION) or labels[jobs.LABEL_EVALUATION]


def is_final(ev: dict | None) -> bool:
    return ev is None or ev["phase"] in FINAL_VALUES or ev["uid"] in STATE.finished


def job_condition(job_status: dict, type_: str) -> dict | None:
    for c in job_status.get("conditions") or []:
        if c.get("type") == type_ and c.get("status") == "True":
            return c
    return None


@kopf.on.event("batch", "v1", "jobs", labels={jobs.LABEL_EVALUATION: kopf.PRESENT,
                                               "app.kubernetes.io/managed-by": "gavel-operator"})
async def job_event(event, body, namespace, labels, evaluation_index, language_index, **_):
    if event["type"] == "DELETED":
        return
    key = (namespace, evaluation_of(body, labels))
    ev = one(evaluation_index, key)
    if is_final(ev):
        return
    if body["metadata"]["name"] != (ev["body"].get("status") or {}).get("jobName", body["metadata"]["name"]):
        return  # an older attempt's Job
    jstatus = body.get("status") or {}
    if job_condition(jstatus, "Complete") or job_condition(jstatus, "SuccessCriteriaMet"):
        await finish(key, ev, body)
        await dispatch(evaluation_index, language_index)
    elif failed := job_condition(jstatus, "Failed"):
        await fail(key, ev, body, failed.get("reason", "Failed"), failed.get("message", ""))
        await dispatch(evaluation_index, language_index)
    elif (jstatus.get("ready") or 0) > 0 and ev["phase"] != Phase.RUNNING.value:
        running = {"phase": Phase.RUNNING.value, "startedAt": now(), "message": "judging",
                   "conditions": with_condition(ev["conditions"], condition("Running", True, "PodRunning", ""))}
        await write_status(*key, ev["uid"], running, final=False)
    elif body["spec"].get("suspend") and ev["phase"] != Phase.QUEUED.value:
        await write_status(*key, ev["uid"], {"phase": Phase.QUEUED.value,
                                             "message": "waiting for Kueue to admit the Job"}, final=False)


@kopf.on.event("", "v1", "pods", labels={jobs.LABEL_ROLE: "runner", jobs.LABEL_EVALUATION: kopf.PRESENT})
async def pod_event(event, body, namespace, labels, evaluation_index, language_index, **_):
    """A pod that cannot start its image, or that no node can ever take, never fails on its own:
    fail its attempt here."""
    if event["type"] == "DELETED":
        return
    reason = message = None
    if unschedulable := tenancy.no_node_matches(body):  # a nodeSelector no node has (yet a policy allowed)
        reason, message = "NoMatchingNode", f"no node has the labels the runner pod selects: {unschedulable}"
    for cs in (body.get("status") or {}).get("containerStatuses") or []:
        waiting = (cs.get("state") or {}).get("waiting") or {}
        pull = waiting.get("reason")
        if pull not in PULL_FAILURES_AT_ONCE | PULL_FAILURES_LATER:
            continue
        if pull in PULL_FAILURES_LATER and \
                age_seconds(body["metadata"]["creationTimestamp"]) < STATE.settings.image_pull_grace_seconds:
            continue
        reason, message = pull, f"{pull}: {waiting.get('message', '')} (image {cs.get('image')})"
        break
    if reason is None:
        return
    key = (namespace, evaluation_of(body, labels))
    ev = one(evaluation_index, key)
    if is_final(ev):
        return
    job = labels.get("job-name") or labels.get("batch.kubernetes.io/job-name")
    await fail(key, ev, {"metadata": {"name": job, "namespace": namespace}}, reason, message, pod=body)
    await kube().delete(f"/apis/batch/v1/namespaces/{namespace}/jobs/{job}")
    await dispatch(evaluation_index, language_index)


async def runner_pods(namespace: str, job_name: str) -> list[dict]:
    pods = await kube().get(f"/api/v1/namespaces/{namespace}/pods", labelSelector=f"job-name={job_name}")
    return sorted(pods.get("items", []), key=lambda p: p["metadata"]["creationTimestamp"])


async def save_logs(namespace: str, job_name: str, ev: dict, pods: list[dict] | None = None) -> bool:
    """Every attempt's runner log to storage, as runner.log (as the old update worker did)."""
    pods = pods if pods is not None else await runner_pods(namespace, job_name)
    parts = []
    for pod in pods:
        pname = pod["metadata"]["name"]
        try:
            text = await kube().log(namespace, pname)
        except ApiError as err:
            text = f"(no log: {err})"
        parts.append(f"===== pod {pname} =====\n{text}")
    if not parts or (store := await store_after_admission(namespace)) is None:
        return False
    spec = EvaluationSpec.model_validate(dict(ev["body"]["spec"]))
    where = jobs.placement(spec, namespace, ev["body"]["metadata"]["name"], ev["uid"], STATE.settings)
    try:
        await asyncio.to_thread(store.write, where.bucket, where.key("runner.log"), "\n".join(parts).encode())
    except Exception as err:  # logs are a courtesy: never lose a verdict for them
        log.warning("cannot save logs of %s: %s", job_name, err)
        return False
    return True


def termination_message(pods: list[dict]) -> str | None:
    for pod in reversed(pods):
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            term = (cs.get("state") or {}).get("terminated") or {}
            if term.get("message"):
                return term["message"]
    return None


async def finish(key, ev: dict, job: dict) -> None:
    namespace, name = key
    spec = EvaluationSpec.model_validate(dict(ev["body"]["spec"]))
    where = jobs.placement(spec, namespace, name, ev["uid"], STATE.settings)
    pods = await runner_pods(namespace, job["metadata"]["name"])
    store = await store_after_admission(namespace)
    raw = None if store is None else await asyncio.to_thread(store.read, where.bucket, where.key("result.json"))
    result = None
    if raw is not None:
        try:
            result = Result.model_validate_json(raw)
        except ValidationError as err:
            log.warning("result of %s/%s is malformed: %s", namespace, name, err)
    if result is None and (summary := termination_message(pods)):
        result = result_from_summary(summary)  # the fallback: counts, without per-test detail
    logs = await save_logs(namespace, job["metadata"]["name"], ev, pods)
    if result is None:
        await fail(key, ev, job, "NoResult", "the runner finished without a result", saved=logs)
        return
    values = judged(result, store=store or STATE.store, bucket=where.bucket, prefix=where.prefix,
                           conditions=ev["conditions"], logs_saved=logs)
    if not await write_status(namespace, name, ev["uid"], values):
        return
    owner = ref(ev["body"])
    (kopf.info if values["phase"] == Phase.SUCCEEDED.value else kopf.warn)(
        owner, reason=result.verdict.value, message=f"{result.verdict.value}: {result.message}"[:1000])
    metrics.judged(result.verdict.value, ev["body"])


async def fail(key, ev: dict, job: dict, reason: str, message: str, pod: dict | None = None,
               saved: bool | None = None) -> None:
    """Could not be judged: phase Failed with the reason, logs saved and linked."""
    namespace, name = key
    job_name = job["metadata"]["name"]
    pods = await runner_pods(namespace, job_name)
    detail = pod_failure(pods)
    if detail:
        message = f"{message}; {detail}" if message else detail
    logs = saved if saved is not None else await save_logs(namespace, job_name, ev, pods)
    spec = EvaluationSpec.model_validate(dict(ev["body"]["spec"]))
    where = jobs.placement(spec, namespace, name, ev["uid"], STATE.settings)
    full = f"could not be judged ({reason}): {message}"
    values = {"phase": Phase.FAILED.value, "message": full[:1000], "finishedAt": now(),
              "attempts": len(pods) or 1,
              "conditions": with_condition(ev["conditions"], condition("Failed", True, reason, message))}
    if logs:
        values["locations"] = {"logs": f"s3://{where.bucket}/{where.key('runner.log')}"}
    if not await write_status(namespace, name, ev["uid"], values):
        return
    kopf.warn(ref(ev["body"]), reason=reason, message=full[:1000])
    metrics.failed(reason, ev["body"])


def pod_failure(pods: list[dict]) -> str:
    """How the last attempt ended, in words: exit code, OOMKilled, evicted."""
    if not pods:
        return ""
    pod = pods[-1]
    st = pod.get("status") or {}
    if st.get("reason"):
        return f"last pod {st['reason']}: {st.get('message', '')}".strip()
    for cs in st.get("containerStatuses") or []:
        term = (cs.get("state") or {}).get("terminated")
        if term:
            # the runner claims its termination log before any submission code runs: its own words
            said = f": {term['message'][:500]}" if term.get("exitCode") and term.get("message") else ""
            return f"last pod: runner {term.get('reason', '')} (exit code {term.get('exitCode')}){said}"
    return ""


# --- cancel --------------------------------------------------------------------------------

@kopf.on.field(GROUP, VERSION, "evaluations", field="spec.cancel", new=True)
async def cancel(body, namespace, name, status, evaluation_index, language_index, **_):
    if status.get("phase") in FINAL_VALUES:
        return
    ev = one(evaluation_index, (namespace, name)) or {"body": body, "uid": body["metadata"]["uid"], "conditions": []}
    values = {"phase": Phase.CANCELED.value, "message": "canceled by spec.cancel", "finishedAt": now(),
              "conditions": with_condition(status.get("conditions"),
                                                  condition("Canceled", True, "Canceled", "spec.cancel"))}
    job_name = status.get("jobName")
    if job_name:
        if await save_logs(namespace, job_name, ev):
            spec = EvaluationSpec.model_validate(dict(body["spec"]))
            where = jobs.placement(spec, namespace, name, body["metadata"]["uid"], STATE.settings)
            values["locations"] = {"logs": f"s3://{where.bucket}/{where.key('runner.log')}"}
        await kube().delete(f"/apis/batch/v1/namespaces/{namespace}/jobs/{job_name}", propagation="Foreground")
    if not await write_status(namespace, name, body["metadata"]["uid"], values):
        return
    kopf.info(body, reason="Canceled", message="stopped at the request of spec.cancel")
    metrics.failed("Canceled", body)
    await dispatch(evaluation_index, language_index)
