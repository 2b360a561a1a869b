"""Following Jobs and their pods through watches (no per-Evaluation timers): a finished Job's
result becomes the verdict; a failed Job is run again as the next attempt while spec.retries
allow, else Failed with the reason, as is a pod that cannot pull its image or that no node can
take; a pod stranded on a lost node is ended so its attempt fails and the next runs elsewhere;
runner logs go to storage; spec.cancel stops every attempt's Job.

Each attempt is a Job of its own with one pod (jobs.job_manifest: backoffLimit 0), whose task
names only that attempt's prefix (jobs.Placement.attempt): a failed attempt that may be retried
(`retryable`) is followed by the next Job (`retry`). Results are read from, and status.locations
point at, the prefix of the attempt judged; an earlier attempt's pod that comes back writes only
into its own prefix, which nothing reads."""

from __future__ import annotations

import asyncio

import kopf
from pydantic import ValidationError

from gavel_contract import Result

from . import jobs, launch, metrics, progress, taskdocs, tenancy
from .ledger import Entry
from .intake import error_delay
from .kube import ApiError
from .objectstore import without_signatures
from .resources import GROUP, VERSION, EvaluationSpec, Phase
from .state import FINAL_VALUES, STATE, eval_path, kube, log, ref_of, store_after_admission, write_status, write_status_held
from .status import age_seconds, condition, judged, now, result_from_summary, with_condition


PULL_FAILURES_AT_ONCE = {"ErrImageNeverPull", "InvalidImageName"}  # can never succeed


PULL_FAILURES_LATER = {"ErrImagePull", "ImagePullBackOff", "CreateContainerConfigError", "CreateContainerError"}


def evaluation_of(body, labels) -> str:
    """The name of the Evaluation a Job or pod is for (a label holds only 63 characters)."""
    return (body["metadata"].get("annotations") or {}).get(jobs.ANNOTATION_EVALUATION) or labels[jobs.LABEL_EVALUATION]


def is_final(ev: Entry | None) -> bool:
    return ev is None or ev.phase in FINAL_VALUES or ev.uid in STATE.ledger.finished


def stored_task(job: dict) -> bool:
    """Whether the Job's task is in storage (taskdocs.py), not in its Secret."""
    return (job["metadata"].get("annotations") or {}).get(taskdocs.ANNOTATION) == "true"


def owner_uid(job: dict) -> str | None:
    return next((o.get("uid") for o in job["metadata"].get("ownerReferences") or [] if o.get("kind") == "Evaluation"),
                None)


def job_condition(job_status: dict, type_: str) -> dict | None:
    for c in job_status.get("conditions") or []:
        if c.get("type") == type_ and c.get("status") == "True":
            return c
    return None


@kopf.on.event("batch", "v1", "jobs", labels={jobs.LABEL_EVALUATION: kopf.PRESENT,
                                               "app.kubernetes.io/managed-by": "gavel-operator"})
async def job_event(event, body, namespace, labels, **_):
    if event["type"] == "DELETED":  # with its Evaluation, or past its TTL: its stored task goes too
        uid = owner_uid(body)
        if stored_task(body) and uid:
            await taskdocs.forget(STATE.store, STATE.settings.results_bucket_name, uid, body["metadata"]["name"])
        if uid and is_final(STATE.ledger.get((namespace, evaluation_of(body, labels)))):
            await progress.forget(STATE.store, STATE.settings.results_bucket_name, uid)  # deleted while it ran
        return
    key = (namespace, evaluation_of(body, labels))
    ev = STATE.ledger.get(key)
    if is_final(ev) or not current_attempt(key[1], ev, body):
        return  # final, or an earlier attempt's Job (or not this Evaluation's)
    jstatus = body.get("status") or {}
    # a slot freed by a final status wakes the dispatcher (ledger.mark_finished); a runner pod that
    # succeeded has usually been judged by pod_event already (the Job controller says so later)
    if job_condition(jstatus, "Complete") or job_condition(jstatus, "SuccessCriteriaMet"):
        await finish_once(key, ev, body)
    elif failed := job_condition(jstatus, "Failed"):
        reason = failed.get("reason", "Failed")
        if retryable(reason, jobs.attempt_of(body), ev.retries) and not jobs.legacy_job(body):  # (those spent its own)
            await retry(key, ev, body, reason, failed.get("message", ""))
        else:
            await fail(key, ev, body, reason, failed.get("message", ""))
    elif (jstatus.get("ready") or 0) > 0 and ev.phase != Phase.RUNNING.value:
        running = {"phase": Phase.RUNNING.value, "startedAt": now(), "message": "judging",
                   "conditions": with_condition(ev.conditions, condition("Running", True, "PodRunning", ""))}
        await write_status(*key, ev.uid, running, final=False)
    elif body["spec"].get("suspend") and ev.phase != Phase.QUEUED.value:
        await write_status(*key, ev.uid, {"phase": Phase.QUEUED.value,
                                          "message": "waiting for Kueue to admit the Job"}, final=False)


def current_attempt(name: str, ev: Entry, job: dict) -> bool:
    """Whether `job` is the Job of the Evaluation's current attempt, the only one followed: the
    ledger's (status.jobName), or a later attempt's Job of the same Evaluation, which the ledger has
    not seen yet (the status write of `retry` not back from the watch, or an operator that stopped
    between creating the Job and writing its name): the ledger follows it from now on. An earlier
    attempt's Job (failed, its pod perhaps still running on a node that stopped answering) is never
    followed: its result is never read, its end never changes the verdict."""
    meta = job["metadata"]
    if owner_uid(job) not in (None, ev.uid):
        return False  # an Evaluation of the same name, deleted: its Jobs go with it
    if meta["name"] == ev.job:
        return True
    attempt = jobs.attempt_of(job)
    if ev.job is not None and attempt <= ev.attempt or meta["name"] != jobs.job_name(name, ev.uid, attempt):
        return False
    ev.job, ev.attempt = meta["name"], attempt  # until the watch brings status.jobName
    return True


@kopf.on.event("", "v1", "pods", labels={jobs.LABEL_ROLE: "runner", jobs.LABEL_EVALUATION: kopf.PRESENT})
async def pod_event(event, body, namespace, labels, **_):
    """A pod that cannot start its image, or that no node can ever take, never fails on its own:
    fail its attempt here. A pod evicted from a node that stopped answering never ends on its own
    either: end it here, so that its attempt fails and the next one runs on another node."""
    waiting = None if event["type"] == "DELETED" else no_node_yet(body)
    if pool := labels.get(jobs.LABEL_POOL):  # while the scheduler cannot place it, its pool starts no Job
        STATE.ledger.pod_unschedulable(pool, body["metadata"]["uid"], waiting is not None)
    if event["type"] == "DELETED":
        return
    if (body.get("status") or {}).get("phase") == "Succeeded":
        await pod_succeeded(body, namespace, labels)
        return
    if waiting is not None:
        await say_waiting(namespace, evaluation_of(body, labels), waiting)
    if STATE.settings.log_url_template and (body.get("status") or {}).get("phase") in ("Running", "Succeeded", "Failed"):
        await link_log(namespace, evaluation_of(body, labels), body)
    if node := await lost_node(body):
        await release_from_lost_node(body, namespace, node, STATE.ledger.get((namespace, evaluation_of(body, labels))))
        return
    reason = message = None
    # a nodeSelector no node has (yet a policy allowed): never scheduled, whatever the other nodes' state
    if (unschedulable := tenancy.unschedulable_by_selector(body)) and not await nodes_with(body["spec"]["nodeSelector"]):
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
    ev = STATE.ledger.get(key)
    if is_final(ev):
        return
    job = job_of_pod(body, labels)
    if job != ev.job:
        return  # an earlier attempt's pod (or one whose Job the ledger has not seen yet: its Job's events will)
    await fail(key, ev, {"metadata": {"name": job, "namespace": namespace,
                                      "labels": {jobs.LABEL_ATTEMPT: labels.get(jobs.LABEL_ATTEMPT, "1")}}},
               reason, message, pod=body)
    await kube().delete(f"/apis/batch/v1/namespaces/{namespace}/jobs/{job}")


def job_of_pod(pod: dict, labels: dict) -> str | None:
    return labels.get("batch.kubernetes.io/job-name") or labels.get("job-name")


async def pod_succeeded(pod: dict, namespace: str, labels: dict) -> None:
    """A runner pod that exited 0 has judged (the runner exits 0 whenever it judged, and its Job
    needs one success): the verdict is read now, not when the Job controller gets round to marking
    the Job Complete (seconds to minutes later under a burst: it shares its client's rate limit
    with every Job and pod). The slot frees with the verdict."""
    key = (namespace, evaluation_of(pod, labels))
    ev = STATE.ledger.get(key)
    job = job_of_pod(pod, labels)
    if is_final(ev) or not job or job != ev.job:
        return
    STATE.ledger.pod_ended(key, ev.uid, job)
    meta = pod["metadata"]
    # what finish needs of the Job: its name and its annotations (the pod's template carries them)
    await finish_once(key, ev, {"metadata": {"name": job, "namespace": namespace,
                                             "annotations": meta.get("annotations") or {},
                                             "labels": {jobs.LABEL_ATTEMPT: labels.get(jobs.LABEL_ATTEMPT, "1")}}})


FINISHING: set[str] = set()  # uids being finished now (from the pod or the Job, whichever comes first)


async def finish_once(key, ev: Entry, job: dict) -> None:
    if ev.uid in FINISHING:
        return
    FINISHING.add(ev.uid)
    try:
        await finish(key, ev, job)
    finally:
        FINISHING.discard(ev.uid)


def no_node_yet(pod: dict) -> str | None:
    """The scheduler's words when it has found no node for the pod (yet), else None."""
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False" and cond.get("reason") == "Unschedulable":
            return cond.get("message") or "no node fits"
    return None


WAITING = "waiting for a node: "


def log_link(namespace: str, name: str, ev: Entry, pod: dict) -> str | None:
    """status.logUrl for this runner pod (links.log_url_template), or None: no template, or
    status holds it already."""
    if not STATE.settings.log_url_template or pod["metadata"]["name"] in ev.log_url:
        return None
    job = (pod["metadata"].get("labels") or {}).get("job-name") or ev.job or ""
    where = jobs.Placement(ev.bucket, ev.prefix).attempt(jobs.attempt_of(pod))  # its pod's attempt label, as its Job's
    link = launch.rendered_links(namespace, name, ev.uid, where, job, pod["metadata"]["name"]).get("logUrl")
    return None if link == ev.log_url else link


async def link_log(namespace: str, name: str, pod: dict) -> None:
    """status.logUrl, once the runner pod runs (a template naming {pod}): once a pod, not at each of
    its events; a retry's pod takes it over (and the verdict's write names the last pod whatever
    events were seen: finish, fail)."""
    ev = STATE.ledger.get((namespace, name))
    if is_final(ev) or (link := log_link(namespace, name, ev, pod)) is None:
        return
    ev.log_url = link  # until the watch brings it back
    await write_status(namespace, name, ev.uid, {"logUrl": link}, final=False)


# uid -> the scheduler's words, seen before the watch brought the Evaluation's own Pending back (the
# scheduler marks a pod Unschedulable within milliseconds, and says it once): said when it does
UNSAID: dict[str, str] = {}


async def say_waiting(namespace: str, name: str, words: str) -> None:
    """Pending, and why: the scheduler's words in the message, once (not at each of its retries)."""
    ev = STATE.ledger.get((namespace, name))
    if ev is None or is_final(ev) or ev.message.startswith(WAITING):
        return
    if ev.phase != Phase.PENDING.value:
        if ev.phase in (None, Phase.QUEUED.value):
            UNSAID[ev.uid] = words
        return
    UNSAID.pop(ev.uid, None)
    ev.message = WAITING + words  # until the watch brings it back: one write, not one per pod event
    await write_status(namespace, name, ev.uid, {"message": (WAITING + words)[:1000]}, final=False)


async def nodes_with(labels: dict[str, str]) -> bool:
    """Whether any node has these labels (one list call, at most one node back)."""
    selector = ",".join(f"{k}={v}" for k, v in labels.items())
    return bool((await kube().get("/api/v1/nodes", labelSelector=selector, limit="1")).get("items"))


async def lost_node(pod: dict) -> str | None:
    """The node of a runner pod that Kubernetes evicted for not answering (the taints of
    jobs.NODE_LOST_TAINTS outlived the pod's tolerations) while that node is still not Ready, or
    gone: no kubelet is left to end the pod, and until it ends its Job does not fail (a Job with a
    podFailurePolicy counts only Failed pods), so no next attempt starts. As the pod garbage
    collector does for a node taken out of service, the operator marks it Failed; its
    DisruptionTarget condition stays, so the Job's policy counts it as the disruption it is, and
    `retry` starts the next attempt on another node. Should the node come back, the pod's container
    may run on until its kubelet hears of it: it holds URLs for its own attempt's prefix only."""
    meta, st = pod["metadata"], pod.get("status") or {}
    node = (pod.get("spec") or {}).get("nodeName")
    if not meta.get("deletionTimestamp") or not node or st.get("phase") in ("Succeeded", "Failed"):
        return None
    if not any(c.get("type") == "DisruptionTarget" and c.get("status") == "True"
               and c.get("reason") == "DeletionByTaintManager" for c in st.get("conditions") or []):
        return None  # an eviction or deletion the node's kubelet carries out itself
    found = (await kube().get("/api/v1/nodes", fieldSelector=f"metadata.name={node}")).get("items") or [{}]
    if not found[0]:
        return node  # deleted
    conditions = found[0].get("status", {}).get("conditions") or []
    ready = next((c.get("status") for c in conditions if c.get("type") == "Ready"), "Unknown")
    return None if ready == "True" else node


async def release_from_lost_node(pod: dict, namespace: str, node: str, ev: Entry | None) -> None:
    name = pod["metadata"]["name"]
    message = f"node {node} stopped answering: the runner pod is marked Failed so that the next attempt runs"
    try:
        await kube().merge_patch(f"/api/v1/namespaces/{namespace}/pods/{name}/status",
                                 {"status": {"phase": "Failed", "reason": "NodeLost", "message": message}})
    except ApiError as err:
        if err.status in (404, 409, 422):  # gone, or ended meanwhile (a terminal phase cannot change)
            return
        raise
    log.warning("runner pod %s/%s: %s", namespace, name, message)
    if ev is not None and not is_final(ev):
        kopf.warn(ref_of(namespace, evaluation_of(pod, pod["metadata"].get("labels") or {}), ev.uid),
                  reason="NodeLost", message=f"{message} (pod {name})")


async def runner_pods(namespace: str, job_name: str) -> list[dict]:
    pods = await kube().get(f"/api/v1/namespaces/{namespace}/pods", labelSelector=f"job-name={job_name}")
    return sorted(pods.get("items", []), key=lambda p: p["metadata"]["creationTimestamp"])


async def save_logs(namespace: str, job_name: str, where: jobs.Placement, pods: list[dict] | None = None) -> bool:
    """The attempt's runner log to storage, as runner.log in the attempt's prefix (`where`), as the
    old update worker did. The operator writes it: no runner holds a URL for it."""
    pods = pods if pods is not None else await runner_pods(namespace, job_name)
    parts = []
    for pod in pods:
        pname = pod["metadata"]["name"]
        try:
            text = await kube().log(namespace, pname)
        except ApiError as err:
            text = f"(no log: {err})"
        parts.append(f"===== pod {pname} =====\n{without_signatures(text)}")
    if not parts or (store := await store_after_admission(namespace)) is None:
        return False
    try:
        await asyncio.to_thread(store.write, where.bucket, where.key("runner.log"), "\n".join(parts).encode())
    except Exception as err:  # logs are a courtesy: never lose a verdict for them
        log.warning("cannot save logs of %s: %s", job_name, err)
        return False
    return True


RETRYABLE = "BackoffLimitExceeded"  # the Job's reason when its one pod failed: crashed, evicted, node lost, OOM


def retryable(reason: str, attempt: int, retries: int) -> bool:
    """Whether a failed attempt's Job is followed by another: its pod failed (not the runner's
    own word that the task cannot run, PodFailurePolicy; not the Job's deadline, the wall of waiting
    for a node), and spec.retries allows another."""
    return reason == RETRYABLE and attempt <= retries


def termination_message(pods: list[dict]) -> str | None:
    for pod in reversed(pods):
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            term = (cs.get("state") or {}).get("terminated") or {}
            if term.get("message"):
                return term["message"]
    return None


def placement_of(ev: Entry, job: dict) -> jobs.Placement:
    """The prefix of the Job's attempt: the only one read or pointed at for it (a Job an older
    operator made: the Evaluation's prefix itself, where its task's URLs point)."""
    return jobs.Placement(ev.bucket, ev.prefix).of_job(job)


BACKOFF_SECONDS, BACKOFF_MAX_SECONDS = 10, 60


def backoff_seconds(attempt: int) -> int:
    """How long after attempt `attempt` failed the next one starts: 10 s, doubled each time, at most
    a minute (the Job controller's back-off between the pods of one Job, capped lower): storage or a
    node that was down for a moment does not spend every retry at once."""
    return min(BACKOFF_SECONDS << max(attempt - 1, 0), BACKOFF_MAX_SECONDS)


RETRY_SECONDS = 5  # the next attempt could not be started (the API server's or storage's trouble): again
RETRY_MAX_SECONDS = 60
RETRY_TRIES = 10  # about 6 minutes of trying, then Failed with the error


async def retry(key, ev: Entry, job: dict, reason: str, message: str, tries: int = 0) -> None:
    """The attempt's pod failed and spec.retries allows another: its log saved in its own prefix,
    its stored task deleted, and the next attempt started as a Job of its own, with a task whose
    URLs name the next attempt's prefix only (the Evaluation read again: its Problem and Language
    must be as admitted). The Evaluation keeps its running slot throughout (its phase stays
    Pending or Running, with a Job): a retry neither frees one nor takes another. Should starting
    it fail (the API server's or storage's trouble), tried again with back-off, since no later
    event of a failed Job is certain to come; at last Failed with the error, never left waiting."""
    try:
        await start_next(key, ev, job, reason, message)
    except asyncio.CancelledError:
        raise
    except Exception as err:  # noqa: BLE001 - said, and tried again: the Evaluation must end somewhere
        if tries + 1 >= RETRY_TRIES:
            log.exception("%s/%s: could not start attempt %d: Failed", *key, jobs.attempt_of(job) + 1)
            await fail(key, ev, job, reason, f"{message}; the next attempt could not be started: {err}".strip("; "))
            return
        delay = min(RETRY_SECONDS << min(tries, 4), RETRY_MAX_SECONDS)
        log.warning("%s/%s: could not start attempt %d (trying again in %d s): %s", *key,
                    jobs.attempt_of(job) + 1, delay, err)
        asyncio.get_running_loop().call_later(
            delay, lambda: asyncio.ensure_future(retry(key, ev, job, reason, message, tries + 1)))


async def start_next(key, ev: Entry, job: dict, reason: str, message: str) -> None:
    namespace, name = key
    job_name, attempt = job["metadata"]["name"], jobs.attempt_of(job)

    def superseded() -> bool:  # final, canceled, deleted, or the next attempt started already
        seen = STATE.ledger.get(key)
        return seen is None or seen.uid != ev.uid or is_final(seen) or seen.cancel or seen.job != job_name

    if superseded():
        return
    pods = await runner_pods(namespace, job_name)
    detail = pod_failure(pods)
    said = "; ".join(w for w in (f"{reason}: {message}" if message else reason, detail) if w)
    logs = await save_logs(namespace, job_name, placement_of(ev, job), pods)
    if stored_task(job):
        await taskdocs.forget(STATE.store, STATE.settings.results_bucket_name, ev.uid, job_name)
    await asyncio.sleep(backoff_seconds(attempt))  # as the Job controller did between a Job's pods
    if superseded():
        return
    from .dispatch import problems_loading, resolve  # (dispatch imports launch, as this module does)
    from .launch import start

    try:
        body = await kube().get(f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/evaluations/{name}")
    except ApiError as err:
        if err.status == 404:
            return  # deleted meanwhile
        raise
    if body["metadata"]["uid"] != ev.uid or (body.get("spec") or {}).get("cancel"):
        return
    spec = EvaluationSpec.model_validate(dict(body["spec"]))
    while spec.problem and (namespace, spec.problem) not in STATE.problems and problems_loading():
        await asyncio.sleep(2)  # just restarted: the Problems are being read again
    spec, lang, version, why = resolve(namespace, spec, body.get("status") or {})
    if why:
        await fail(key, ev, job, reason, f"{message}; not run again: {why}".strip("; "), saved=logs)
        return
    async with STATE.locks(key):  # cancel deletes the Evaluation's Jobs holding it: none is made behind its back
        if superseded():
            return
        values = await start(namespace, name, ev.uid, spec, lang, version, body, attempt=attempt + 1)
        if values["phase"] != Phase.FAILED.value:
            seen = STATE.ledger.get(key)
            seen.job, seen.attempt = values["jobName"], attempt + 1  # until the watch says so
            values["message"] = f"attempt {attempt} failed ({said}); attempt {attempt + 1} started"[:1000]
            kopf.warn(ref_of(namespace, name, ev.uid), reason="Retrying",
                      message=f"attempt {attempt} (Job {job_name}) failed ({said}); attempt {attempt + 1} "
                              f"is Job {values['jobName']}"[:1000])
            log.info("%s/%s: attempt %d failed (%s): attempt %d started", namespace, name, attempt, said,
                     attempt + 1)
            metrics.retried()
        await write_status_held(namespace, name, ev.uid, values, final=values["phase"] == Phase.FAILED.value)


async def finish(key, ev: Entry, job: dict) -> None:
    namespace, name = key
    where = placement_of(ev, job)
    attempt = jobs.attempt_of(job)
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
    logs = await save_logs(namespace, job["metadata"]["name"], where, pods)
    if stored_task(job):  # the Job is done with it: its presigned URLs must not outlive the verdict
        await taskdocs.forget(STATE.store, STATE.settings.results_bucket_name, ev.uid)
    await progress.forget(STATE.store, STATE.settings.results_bucket_name, ev.uid)  # the result says it now
    if result is None:
        await fail(key, ev, job, "NoResult", "the runner finished without a result", saved=logs)
        return
    values = judged(result, store=store or STATE.store, bucket=where.bucket, prefix=where.prefix,
                           conditions=ev.conditions, logs_saved=logs)
    values["attempts"], values["jobName"] = attempt, job["metadata"]["name"]
    if pods and (link := log_link(namespace, name, ev, pods[-1])):
        values["logUrl"] = link
    # how far it got, as the result says (never as the runner's progress object said)
    values["progress"] = progress.replacing(progress.final(result, ev.tests))
    if not await write_status(namespace, name, ev.uid, values):
        return
    owner = ref_of(namespace, name, ev.uid)
    (kopf.info if values["phase"] == Phase.SUCCEEDED.value else kopf.warn)(
        owner, reason=result.verdict.value, message=f"{result.verdict.value}: {result.message}"[:1000])
    metrics.judged(result.verdict.value, ev.created)


async def fail(key, ev: Entry, job: dict, reason: str, message: str, pod: dict | None = None,
               saved: bool | None = None) -> None:
    """Could not be judged: phase Failed with the reason, logs saved and linked."""
    namespace, name = key
    job_name = job["metadata"]["name"]
    pods = await runner_pods(namespace, job_name)
    detail = pod_failure(pods)
    if detail:
        message = f"{message}; {detail}" if message else detail
    where = placement_of(ev, job)
    logs = saved if saved is not None else await save_logs(namespace, job_name, where, pods)
    if stored_task(job):  # (a pod that cannot start: its Job is deleted next, and that deletes it)
        await taskdocs.forget(STATE.store, STATE.settings.results_bucket_name, ev.uid)
    await progress.forget(STATE.store, STATE.settings.results_bucket_name, ev.uid)
    full = f"could not be judged ({reason}): {message}"
    values = {"phase": Phase.FAILED.value, "message": full[:1000], "finishedAt": now(),
              "attempts": jobs.attempt_of(job), "jobName": job_name,
              "conditions": with_condition(ev.conditions, condition("Failed", True, reason, message))}
    if pods and (link := log_link(namespace, name, ev, pods[-1])):
        values["logUrl"] = link
    if (ev.progress or {}).get("test"):  # how far it got stays; no test is being run any more
        values["progress"] = {"test": None}
    if logs:
        values["locations"] = {"logs": f"s3://{where.bucket}/{where.key('runner.log')}"}
    if not await write_status(namespace, name, ev.uid, values):
        return
    kopf.warn(ref_of(namespace, name, ev.uid), reason=reason, message=full[:1000])
    metrics.failed(reason)


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


async def evaluation_jobs(namespace: str, name: str, uid: str) -> list[dict]:
    """Every attempt's Job of the Evaluation (one list call), earliest attempt first."""
    found = await kube().get(f"/apis/batch/v1/namespaces/{namespace}/jobs",
                             labelSelector=f"{jobs.LABEL_EVALUATION}={jobs.evaluation_label(name)},"
                                           f"{jobs.LABEL_ROLE}=runner")
    mine = [j for j in found.get("items") or [] if owner_uid(j) == uid]
    return sorted(mine, key=jobs.attempt_of)


async def cancel_key(key: tuple[str, str], uid: str, retry: int) -> float | None:
    """spec.cancel seen on an Evaluation not final (on the change, at its creation, in a restart's
    listing), from its line (STATE.cancels, an intake.Intake: a task each, once at a time by uid,
    tried again after the delay returned, or after any other error): None once final or gone."""
    namespace, name = key
    try:
        # read fresh: the event that asked may be old (a cancel done meanwhile)
        body = await kube().get(eval_path(namespace, name))
        status = body.get("status") or {}
        if body["metadata"]["uid"] == uid and status.get("phase") not in FINAL_VALUES:
            await cancel(body, namespace, name, status)
    except (ApiError, OSError, asyncio.TimeoutError) as err:
        if isinstance(err, ApiError) and err.status == 404:
            return None
        log.warning("canceling %s/%s: %s", namespace, name, err)
        return error_delay(retry)
    return None


async def cancel(body, namespace, name, status):
    """spec.cancel: every attempt's Job deleted (an earlier attempt's pod may still be on a node
    that stopped answering), the current attempt's log saved, then Canceled. The Jobs are listed and
    deleted holding its lock (STATE.locks), as `retry` starts the next attempt holding it: no attempt is started
    behind the cancel's back."""
    if status.get("phase") in FINAL_VALUES:
        return
    uid = body["metadata"]["uid"]
    values = {"phase": Phase.CANCELED.value, "message": "canceled by spec.cancel", "finishedAt": now(),
              "conditions": with_condition(status.get("conditions"),
                                                  condition("Canceled", True, "Canceled", "spec.cancel"))}
    if status.get("jobName"):
        spec = EvaluationSpec.model_validate(dict(body["spec"]))
        base = jobs.placement(spec, namespace, name, uid, STATE.settings)
        current = (await evaluation_jobs(namespace, name, uid))[-1:]
        if current:
            where = base.of_job(current[0])
            if await save_logs(namespace, current[0]["metadata"]["name"], where):
                values["locations"] = {"logs": f"s3://{where.bucket}/{where.key('runner.log')}"}
    async with STATE.locks((namespace, name)):
        for job in await evaluation_jobs(namespace, name, uid):
            await kube().delete(f"/apis/batch/v1/namespaces/{namespace}/jobs/{job['metadata']['name']}",
                                propagation="Foreground")
        await taskdocs.forget(STATE.store, STATE.settings.results_bucket_name, uid)
        await progress.forget(STATE.store, STATE.settings.results_bucket_name, uid)
        if not await write_status_held(namespace, name, uid, values):
            return
    kopf.info(body, reason="Canceled", message="stopped at the request of spec.cancel")
    metrics.failed("Canceled")
