"""Following Jobs and their pods through watches (no per-Evaluation timers): a finished Job's
result becomes the verdict; a failed Job, a pod that cannot pull its image or that no node can
take, is Failed with the reason; a pod stranded on a lost node is ended so its Job runs again;
runner logs go to storage; spec.cancel stops the Job."""

from __future__ import annotations

import asyncio

import kopf
from pydantic import ValidationError

from gavel_contract import Result

from . import jobs, metrics, taskdocs, tenancy
from .ledger import Entry
from .kube import ApiError
from .objectstore import without_signatures
from .resources import GROUP, VERSION, EvaluationSpec, Phase
from .state import FINAL_VALUES, STATE, kube, log, ref_of, store_after_admission, write_status
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
        if stored_task(body) and (uid := owner_uid(body)):
            await taskdocs.forget(STATE.store, STATE.settings.results_bucket_name, uid)
        return
    key = (namespace, evaluation_of(body, labels))
    ev = STATE.ledger.get(key)
    if is_final(ev):
        return
    if body["metadata"]["name"] != (ev.job or body["metadata"]["name"]):
        return  # an older attempt's Job
    jstatus = body.get("status") or {}
    # a slot freed by a final status wakes the dispatcher (ledger.mark_finished); a runner pod that
    # succeeded has usually been judged by pod_event already (the Job controller says so later)
    if job_condition(jstatus, "Complete") or job_condition(jstatus, "SuccessCriteriaMet"):
        await finish_once(key, ev, body)
    elif failed := job_condition(jstatus, "Failed"):
        await fail(key, ev, body, failed.get("reason", "Failed"), failed.get("message", ""))
    elif (jstatus.get("ready") or 0) > 0 and ev.phase != Phase.RUNNING.value:
        running = {"phase": Phase.RUNNING.value, "startedAt": now(), "message": "judging",
                   "conditions": with_condition(ev.conditions, condition("Running", True, "PodRunning", ""))}
        await write_status(*key, ev.uid, running, final=False)
    elif body["spec"].get("suspend") and ev.phase != Phase.QUEUED.value:
        await write_status(*key, ev.uid, {"phase": Phase.QUEUED.value,
                                          "message": "waiting for Kueue to admit the Job"}, final=False)


@kopf.on.event("", "v1", "pods", labels={jobs.LABEL_ROLE: "runner", jobs.LABEL_EVALUATION: kopf.PRESENT})
async def pod_event(event, body, namespace, labels, **_):
    """A pod that cannot start its image, or that no node can ever take, never fails on its own:
    fail its attempt here. A pod evicted from a node that stopped answering never ends on its own
    either: end it here, so that its Job runs it again on another node."""
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
    await fail(key, ev, {"metadata": {"name": job, "namespace": namespace}}, reason, message, pod=body)
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
    meta = pod["metadata"]
    # what finish needs of the Job: its name and its annotations (the pod's template carries them)
    await finish_once(key, ev, {"metadata": {"name": job, "namespace": namespace,
                                             "annotations": meta.get("annotations") or {}}})


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


async def say_waiting(namespace: str, name: str, words: str) -> None:
    """Pending, and why: the scheduler's words in the message, once (not at each of its retries)."""
    ev = STATE.ledger.get((namespace, name))
    if ev is None or ev.phase != Phase.PENDING.value or ev.message.startswith(WAITING):
        return
    ev.message = WAITING + words  # until the watch brings it back: one write, not one per pod event
    await write_status(namespace, name, ev.uid, {"message": (WAITING + words)[:1000]}, final=False)


async def nodes_with(labels: dict[str, str]) -> bool:
    """Whether any node has these labels (one list call, at most one node back)."""
    selector = ",".join(f"{k}={v}" for k, v in labels.items())
    return bool((await kube().get("/api/v1/nodes", labelSelector=selector, limit="1")).get("items"))


async def lost_node(pod: dict) -> str | None:
    """The node of a runner pod that Kubernetes evicted for not answering (the taints of
    jobs.NODE_LOST_TAINTS outlived the pod's tolerations) while that node is still not Ready, or
    gone: no kubelet is left to end the pod, and until it ends its Job starts no other (a Job with a
    podFailurePolicy replaces only Failed pods). As the pod garbage collector does for a node taken
    out of service, the operator marks it Failed; its DisruptionTarget condition stays, so the
    Job's policy counts it as the disruption it is."""
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
    message = f"node {node} stopped answering: the runner pod is marked Failed so that its Job runs it again"
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
    """Every attempt's runner log to storage, as runner.log (as the old update worker did)."""
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


def attempts(job: dict, pods: list[dict], succeeded: int = 0) -> int:
    """Runner pods that took the Evaluation: the Job counts those gone already (an evicted pod is
    deleted once it ends; one stranded on a lost node stays). Its counts lag: a pod the controller
    has not counted yet is in uncountedTerminatedPods, and when the Job meets its success criteria
    the succeeded pod may be in neither (`succeeded`: the caller knows one succeeded)."""
    st = job.get("status") or {}
    uncounted = st.get("uncountedTerminatedPods") or {}
    failed = (st.get("failed") or 0) + len(uncounted.get("failed") or [])
    done = max((st.get("succeeded") or 0) + len(uncounted.get("succeeded") or []), succeeded)
    return max(len(pods), failed + done + (st.get("active") or 0), 1)


def termination_message(pods: list[dict]) -> str | None:
    for pod in reversed(pods):
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            term = (cs.get("state") or {}).get("terminated") or {}
            if term.get("message"):
                return term["message"]
    return None


def placement_of(ev: Entry) -> jobs.Placement:
    return jobs.Placement(ev.bucket, ev.prefix)


async def finish(key, ev: Entry, job: dict) -> None:
    namespace, name = key
    where = placement_of(ev)
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
    if result is None:
        await fail(key, ev, job, "NoResult", "the runner finished without a result", saved=logs)
        return
    values = judged(result, store=store or STATE.store, bucket=where.bucket, prefix=where.prefix,
                           conditions=ev.conditions, logs_saved=logs)
    values["attempts"] = attempts(job, pods, succeeded=1)
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
    where = placement_of(ev)
    logs = saved if saved is not None else await save_logs(namespace, job_name, where, pods)
    if stored_task(job):  # (a pod that cannot start: its Job is deleted next, and that deletes it)
        await taskdocs.forget(STATE.store, STATE.settings.results_bucket_name, ev.uid)
    full = f"could not be judged ({reason}): {message}"
    values = {"phase": Phase.FAILED.value, "message": full[:1000], "finishedAt": now(),
              "attempts": attempts(job, pods),
              "conditions": with_condition(ev.conditions, condition("Failed", True, reason, message))}
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


@kopf.on.field(GROUP, VERSION, "evaluations", field="spec.cancel", new=True)
async def cancel(body, namespace, name, status, **_):
    if status.get("phase") in FINAL_VALUES:
        return
    values = {"phase": Phase.CANCELED.value, "message": "canceled by spec.cancel", "finishedAt": now(),
              "conditions": with_condition(status.get("conditions"),
                                                  condition("Canceled", True, "Canceled", "spec.cancel"))}
    job_name = status.get("jobName")
    if job_name:
        spec = EvaluationSpec.model_validate(dict(body["spec"]))
        where = jobs.placement(spec, namespace, name, body["metadata"]["uid"], STATE.settings)
        if await save_logs(namespace, job_name, where):
            values["locations"] = {"logs": f"s3://{where.bucket}/{where.key('runner.log')}"}
        await kube().delete(f"/apis/batch/v1/namespaces/{namespace}/jobs/{job_name}", propagation="Foreground")
        await taskdocs.forget(STATE.store, STATE.settings.results_bucket_name, body["metadata"]["uid"])
    if not await write_status(namespace, name, body["metadata"]["uid"], values):
        return
    kopf.info(body, reason="Canceled", message="stopped at the request of spec.cancel")
    metrics.failed("Canceled")
