"""Starting an admitted Evaluation: its task Secret and Job (both owned by it, named after it so a
restart can never make two), after a dry run of the runner pod through admission; and the runner
egress NetworkPolicy, kept as the settings say."""

from __future__ import annotations

import asyncio

import kopf

from gavel_contract import Language

from . import jobs, links, metrics, progress, taskdocs
from .kube import ApiError
from .resources import EvaluationSpec, Phase
from .state import STATE, kube, log, ref, store_for
from .status import condition, now


def not_started(body, reason: str, message: str) -> dict:
    """Failed before any Job ran (refused by the API server, or an operator error): the status to
    write, with its Event and metric."""
    full = f"could not be judged ({reason}): {message}"[:1000]
    kopf.warn(body, reason=reason, message=full)
    metrics.failed(reason)
    return {"phase": Phase.FAILED.value, "message": full, "finishedAt": now(),
            "conditions": [condition("Failed", True, reason, message[:1000])]}


async def start(namespace: str, name: str, uid: str, spec: EvaluationSpec, lang: Language, version, body,
                attempt: int) -> dict:
    """Create the task Secret and the Job of one attempt (1, or the next after a failed one:
    following.retry), both owned by the Evaluation. Returns its new status."""
    settings, store = STATE.settings, await store_for(namespace)
    where = jobs.placement(spec, namespace, name, uid, settings).attempt(attempt)  # this attempt's own prefix
    limits = [jobs.resolve_limits(version, spec, t) for t in spec.tests]
    deadline = jobs.job_deadline_seconds(jobs.pod_deadline_seconds(spec, limits, settings), settings)
    expiry = jobs.url_lifetime(deadline, settings)
    progress_url = STATE.store.put_url(settings.results_bucket_name, jobs.progress_key(uid), expiry)
    task = jobs.build_task(f"{namespace}/{name}", spec, lang, version, where, store, settings, expiry,
                           progress=progress_url)
    jname = jobs.job_name(name, uid, attempt)
    owner = ref(body)
    stored = (document := jobs.task_document(task)) is not None
    if stored:  # too large for a Secret: stored sealed where no namespace reads; the Secret holds where and the key
        task = await asyncio.to_thread(taskdocs.store, STATE.store, settings.results_bucket_name, uid, jname,
                                       document, expiry)
    secret = jobs.task_secret(jname, task)
    job = jobs.job_manifest(name=jname, secret=jname, eval_name=name, spec=spec, version=version, limits=limits,
                            attempt=attempt, settings=settings, tenancy=settings.tenancy_for(namespace))
    if stored:  # the Job's deletion (the Evaluation's) deletes it too: following.job_event
        job["metadata"]["annotations"][taskdocs.ANNOTATION] = "true"
        job["spec"]["template"]["metadata"]["annotations"][taskdocs.ANNOTATION] = "true"  # its pod finishes it too
    for obj in (secret, job):
        kopf.adopt(obj, owner=owner)
        obj["metadata"]["namespace"] = namespace
    await ensure_network_policy(namespace)
    # the pod as the Job controller would create it, through admission (Pod Security, quotas,
    # webhooks) without being stored: a refusal is said now, not after the Job's deadline. The task
    # Secret is created beside it (one round trip less between a free slot and its Job; refused, the
    # Secret stays the Evaluation's, deleted with it, as when the Job is refused)
    checked, made = await asyncio.gather(
        kube().request("POST", f"/api/v1/namespaces/{namespace}/pods", jobs.dry_run_pod(job), params={"dryRun": "All"}),
        kube().create(f"/api/v1/namespaces/{namespace}/secrets", secret), return_exceptions=True)
    refused = None
    for reason, outcome in (("PodRejected", checked), ("SecretRejected", made)):
        if isinstance(outcome, BaseException):
            if not isinstance(outcome, ApiError) or outcome.status >= 500 or outcome.status == 429:
                raise outcome  # the API server's trouble: tried again
            refused = refused or (reason, outcome)
    if refused is None:
        try:
            created = await kube().create(f"/apis/batch/v1/namespaces/{namespace}/jobs", job)
        except ApiError as err:
            if err.status >= 500 or err.status == 429:
                raise
            refused = ("JobRejected", err)
    if refused is not None:
        # the request itself cannot run here (Pod Security, a quota, a limit): said at once, with its words
        reason, err = refused
        what = {"PodRejected": "runner pod", "SecretRejected": "task Secret", "JobRejected": "Job"}[reason]
        log.info("%s/%s: the API server refused the %s: %s", namespace, name, what, err)
        if stored:
            await taskdocs.forget(STATE.store, settings.results_bucket_name, uid, jname)
        return {**not_started(body, reason, f"the API server refused the {what}: {err}"),
                "language": f"{lang.name}:{version.version}"}
    STATE.ledger.mark_starting((namespace, name), spec.queue)
    if created is None:  # made by a process killed before it could say so: follow that one
        log.info("Job %s of %s/%s exists already: following it", jname, namespace, name)
    else:
        kopf.info(owner, reason="JobCreated", message=f"Job {jname} judges {lang.name}:{version.version} "
                                                      f"on {len(spec.tests)} tests")
        log.info("started %s/%s as Job %s", namespace, name, jname)
        if attempt == 1:
            metrics.started(body["metadata"].get("creationTimestamp"))
    values = {"phase": Phase.PENDING.value, "jobName": jname, "attempts": attempt, "message": "Job created",
              "language": f"{lang.name}:{version.version}", "progress": progress.starting(len(spec.tests)),
              "conditions": [condition("Running", False, "JobCreated", f"Job {jname}")]}
    return {**values, **rendered_links(namespace, name, uid, where, jname)}


def rendered_links(namespace: str, name: str, uid: str, where: jobs.Placement, job: str, pod: str = "") -> dict:
    """status.outputsUrl and status.logUrl from the settings' templates (links.py), those that can be
    rendered now (a log link naming {pod} waits for the pod: following.pod_event)."""
    settings, out = STATE.settings, {}
    values = {"namespace": namespace, "name": name, "uid": uid, "job": job, "pod": pod, "bucket": where.bucket,
              "prefix": where.prefix}
    for field, template in (("outputsUrl", settings.outputs_url_template), ("logUrl", settings.log_url_template)):
        if (link := links.render(template, **values)) is not None:
            out[field] = link
    return out


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
