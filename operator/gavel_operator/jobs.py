"""From an Evaluation to what runs it: the task (contract), its Secret, and the Job.
Pure functions of their inputs, so that the manifests are unit-tested as data."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import timedelta

from gavel_contract import (
    CHECKER_LIMITS, SECRET_TASK_MAX_BYTES, STARVED_FACTOR, Checker, CheckerKind, EgressCheck, Interactor, Language, LanguageVersion,
    Limits, SubmissionFile, SupportFile, Task, TaskRef, TestCase,
)
from gavel_contract.submission import MAX_FILES, archive_format, is_hidden, is_prefix

from .objectstore import ObjectStore
from .resources import EvaluationSpec
from .settings import Settings
from .tenancy import OPERATOR_PREFIX, TenantPolicy, pod_placement

LABEL_EVALUATION = "gavel.dev/evaluation"  # the Evaluation's name, shortened to a label value if need be
ANNOTATION_EVALUATION = "gavel.dev/evaluation-name"  # its whole name (up to 253 characters)
LABEL_ROLE = "gavel.dev/role"
LABEL_ATTEMPT = "gavel.dev/attempt"
LABEL_POOL = "gavel.dev/pool"  # where a runner pod may go, as a digest (pool_label): pods of a pool wait for the same nodes
MANAGED_BY = {"app.kubernetes.io/managed-by": "gavel-operator", "app.kubernetes.io/part-of": "gavel"}
TASK_DIR = "/etc/gavel/task"
WORK_DIR = "/tmp"  # the runner's private tree: made root-only (0711) by the runner before anything runs
SANDBOX_DIR = "/sandbox"  # what the sandbox uids may write: memory-backed, size-capped
SHM_MI = 64  # the runtime's /dev/shm tmpfs, writable by the submission, counted in the pod's memory
# what the runner needs as root to run tests as another uid: switch users, signal and reap
# them, hand them and take back their directories; nothing else (no CAP_SYS_ADMIN, no network admin)
RUNNER_CAPABILITIES = ["SETUID", "SETGID", "KILL", "CHOWN", "DAC_OVERRIDE", "FOWNER"]
EXIT_NOT_JUDGED = 1  # the runner could not deliver a result: infrastructure, retried
EXIT_USAGE = 2


@dataclass(frozen=True)
class Placement:
    bucket: str
    prefix: str

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}"

    def attempt(self, attempt: int) -> "Placement":
        """Where one attempt's outputs go: a prefix of its own under the Evaluation's
        (`PREFIX/attempt-N`), so that a runner pod of an earlier attempt that comes back (a paused
        node, a partition) can write only there, where nothing reads: the operator reads the result
        of, and points status.locations at, the attempt it judged."""
        return Placement(self.bucket, f"{self.prefix}/{ATTEMPT_DIR}{attempt}")

    def of_job(self, job: dict) -> "Placement":
        """Where a runner Job's attempt writes: its attempt's prefix (a Job an older operator made,
        `legacy_job`: the Evaluation's prefix itself, where that Job's task points)."""
        return self if legacy_job(job) else self.attempt(attempt_of(job))


ATTEMPT_DIR = "attempt-"
# on every Job made since each attempt is a Job of its own: a Job without it was made by an older
# operator (one Job for every attempt, its backoffLimit the retries, outputs directly under PREFIX/),
# and is followed as such through an upgrade
ANNOTATION_LAYOUT = "gavel.dev/results-layout"
LAYOUT_ATTEMPTS = "attempt-prefixes"


def legacy_job(job: dict) -> bool:
    """A Job an operator older than per-attempt prefixes made (and its pod may still be judging)."""
    meta = job.get("metadata") or {}
    return "spec" in job and (meta.get("annotations") or {}).get(ANNOTATION_LAYOUT) != LAYOUT_ATTEMPTS


def attempt_of(job: dict) -> int:
    """The attempt a runner Job (or its pod) is: its gavel.dev/attempt label (1 if it has none)."""
    value = ((job.get("metadata") or {}).get("labels") or {}).get(LABEL_ATTEMPT) or "1"
    return int(value) if value.isdigit() and int(value) > 0 else 1


def job_name(eval_name: str, uid: str, attempt: int = 1) -> str:
    """Derived from the Evaluation, so a restarted operator can never create a second Job for
    the same attempt: `gavel-NAME-UID8-aN`, within the 63 characters of a label value."""
    base = re.sub(r"[^a-z0-9-]", "-", eval_name.lower())[:40].strip("-")
    return f"gavel-{base}-{uid.replace('-', '')[:8]}-a{attempt}"


def pool_label(placement: dict) -> str:
    """A label value naming a runner pod's placement (runtimeClassName, nodeSelector, tolerations)."""
    return "p-" + hashlib.sha256(json.dumps(placement, sort_keys=True).encode()).hexdigest()[:12]


def evaluation_label(eval_name: str) -> str:
    """A label value (63 characters) naming the Evaluation: its name, or for a longer one a prefix
    and a digest of the whole (the annotation carries the whole name)."""
    if len(eval_name) <= 63:
        return eval_name
    return f"{eval_name[:50]}-{hashlib.sha256(eval_name.encode()).hexdigest()[:12]}"


def placement(spec: EvaluationSpec, namespace: str, name: str, uid: str, settings: Settings) -> Placement:
    return results_placement(spec.results.bucket, spec.results.prefix, namespace, name, uid, settings)


def results_placement(bucket: str | None, prefix: str | None, namespace: str, name: str, uid: str,
                      settings: Settings) -> Placement:
    """Where an Evaluation's results go: spec.results, else NAMESPACE/NAME/UID of the results bucket."""
    return Placement(bucket or settings.results_bucket_name, (prefix or f"{namespace}/{name}/{uid}").strip("/"))


PROGRESS_PREFIX = f"{OPERATOR_PREFIX}progress/"


def progress_key(uid: str) -> str:
    """Where the runner overwrites its progress and the operator reads it (progress.py), in the
    operator's results bucket with its own credentials: under the operator's prefix, which no
    namespace may be given (tenancy.OPERATOR_PREFIX), never in the Evaluation's results prefix (no
    listing, `gavel fetch` or status.locations shows it; reading it needs no tenant's Secret)."""
    return f"{PROGRESS_PREFIX}{uid}.json"


def resolve_limits(version: LanguageVersion, spec: EvaluationSpec, test) -> Limits:
    """Language defaults, then the Evaluation's limits, then the test's own."""
    values = version.default_limits.model_dump(by_alias=True)
    for layer in (spec.limits, test):
        for key, value in layer.model_dump(by_alias=True, include={"time_ms", "wall_ms", "memory_kb", "output_kb", "processes"}).items():
            if value is not None:
                values[key] = value
    return Limits.model_validate(values)


def deadline_seconds(spec: EvaluationSpec, limits: list[Limits], settings: Settings) -> int:
    """One attempt's deadline as asked (spec.deadlineSeconds) or derived from the limits: what
    ceilings.maxDeadlineSeconds bounds."""
    if spec.deadline_seconds:
        return spec.deadline_seconds
    return settings.compile_wall_seconds + tests_wall_ms(limits) // 1000 + 1 + settings.start_grace_seconds


def tests_wall_ms(limits: list[Limits]) -> int:
    return sum(lim.wall_limit_ms for lim in limits)


def pod_deadline_seconds(spec: EvaluationSpec, limits: list[Limits], settings: Settings) -> int:
    """The runner pod's activeDeadlineSeconds, which counts from the pod's start on a node, so
    waiting for a node never spends it: the attempt's deadline, and, when derived, the time its
    tests may spend waiting for a CPU on a crowded node (the sandbox lets a run stretch to
    STARVED_FACTOR x its wall limit): waiting is not running, and must not fail an honest one."""
    waiting_ms = 0 if spec.deadline_seconds else (STARVED_FACTOR - 1) * tests_wall_ms(limits)
    return deadline_seconds(spec, limits, settings) + waiting_ms // 1000


def job_deadline_seconds(attempt_deadline: int, settings: Settings) -> int:
    """The Job's activeDeadlineSeconds, the last wall: a Job is one attempt (one pod), so its own
    deadline plus the time its pod may wait for a node (settings.pending_seconds)."""
    return attempt_deadline + settings.pending_seconds


URL_GRACE_SECONDS = 300  # clock skew, and an upload begun just before the deadline
KUEUE_WAIT_SECONDS = 86_400  # a Job Kueue holds suspended: its deadline runs only once admitted
MAX_URL_SECONDS = 7 * 86_400  # what S3 allows a presigned URL


def url_lifetime(deadline: int, settings: Settings) -> timedelta:
    """Presigned URLs live as long as the Job may and no longer: `deadline` is the Job's
    activeDeadlineSeconds (job_deadline_seconds: its one attempt and the wait for a node), whose
    attempt a ceiling caps (with Kueue, plus the day a Job may wait suspended before its deadline
    starts)."""
    wait = KUEUE_WAIT_SECONDS if settings.kueue else 0
    return timedelta(seconds=min(MAX_URL_SECONDS, deadline + URL_GRACE_SECONDS + wait))


def build_task(eval_id: str, spec: EvaluationSpec, language: Language, version: LanguageVersion,
               where: Placement, store: ObjectStore, settings: Settings, expiry: timedelta,
               progress: str | None = None) -> Task:
    """The task a Job is given: presigned URLs for exactly this Evaluation's objects; `where` is
    the attempt's own prefix (Placement.attempt), the only place its PUT URLs name. The task does
    not say which attempt it is (the runner needs not know, and a runner image older than the
    operator must still judge it): its URLs do. `progress`: the presigned PUT of its progress
    object, signed by the operator's own store (progress_key)."""
    src_bucket = settings.bucket
    get = lambda ref: store.get_url(ref.bucket or src_bucket, ref.key, expiry)  # noqa: E731
    put = lambda name: store.put_url(where.bucket, where.key(name), expiry)  # noqa: E731
    tests = [TestCase(name=t.name, input=get(t.input), expected=get(t.expected),
                      stdout=put(f"{t.name}.stdout"), stderr=put(f"{t.name}.stderr"), diff=put(f"{t.name}.diff"),
                      limits=resolve_limits(version, spec, t), group=t.group, checkerArgs=t.checker_args,
                      **({} if t.points is None else {"points": t.points})) for t in spec.tests]
    checker = Checker(kind=spec.checker.kind, epsilon=spec.checker.epsilon, language=spec.checker.language,
                      ignoreCase=spec.checker.ignore_case, order=spec.checker.order, protocol=spec.checker.protocol,
                      program=get(spec.checker.program) if spec.checker.program else None,
                      files=[SupportFile(name=f.name, location=get(f)) for f in spec.checker.files])
    egress = None
    if settings.runner_egress is not None:
        egress = EgressCheck(addresses=settings.egress_check_addresses,
                             timeoutSeconds=settings.egress_check_timeout_seconds)
    return Task(id=eval_id, language=version, languageName=language.name, **submission_fields(spec, store, src_bucket, expiry),
                tests=tests, checker=checker, result=put("result.json"), compileOutput=put("compile.txt"),
                failFast=spec.fail_fast, egressCheck=egress, groups=spec.groups, fileIO=spec.file_io,
                nodeCache=settings.node_cache, progressSeconds=settings.progress_seconds,
                progress=progress,
                interactor=Interactor(program=get(spec.interactor.program), language=spec.interactor.language,
                                      files=[SupportFile(name=f.name, location=get(f)) for f in spec.interactor.files],
                                      protocol=spec.interactor.protocol)
                if spec.interactor else None)


def submission_fields(spec: EvaluationSpec, store: ObjectStore, default_bucket: str, expiry: timedelta) -> dict:
    """The task's submission: one object; an archive (by its key's suffix); or a prefix (a key ending
    in /): the files under it, hidden ones left out, one past the limit at most (the runner refuses
    that many as the submission's CompilationError)."""
    ref = spec.submission
    bucket = ref.bucket or default_bucket
    if is_prefix(ref.key):
        keys = store.list_keys(bucket, ref.key, MAX_FILES + 1, skip=lambda k: is_hidden(k[len(ref.key):]))
        files = [SubmissionFile(path=k[len(ref.key):], location=store.get_url(bucket, k, expiry)) for k in keys]
        return {"submissionFiles": files, "problemName": spec.problem}
    url = store.get_url(bucket, ref.key, expiry)
    if fmt := archive_format(ref.key):
        return {"submission": url, "submissionArchive": fmt, "problemName": spec.problem}
    return {"submission": url}


def task_secret(name: str, task: Task | TaskRef) -> dict:
    """The task itself, or (too large for a Secret: see `task_document`) where it is in storage."""
    return {
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": name, "labels": dict(MANAGED_BY)},
        "stringData": {"task.json": task.document() if isinstance(task, Task) else
                       task.model_dump_json(by_alias=True, exclude_none=True)},
    }


def task_document(task: Task) -> bytes | None:
    """The task's JSON when it is too large for a Secret (then it goes to storage), else None."""
    data = task.document().encode()
    return data if len(data) > SECRET_TASK_MAX_BYTES else None


def memory_mi(version: LanguageVersion, limits: list[Limits], settings: Settings, checker: bool = False,
              interactor: bool = False) -> int:
    """The pod's memory: the largest of the test (with an interactor: plus its limit, they run at
    once), compile and checker limits, plus what the sandbox uids may fill in memory-backed
    filesystems (the sandbox volume, /dev/shm), plus the runner's own; so a submission filling all
    of it is a verdict, never the runner OOM-killed."""
    beside = CHECKER_LIMITS.memory_kb if interactor else 0
    largest_kb = max([lim.memory_kb + beside for lim in limits] + [version.compile_limits.memory_kb] +
                     ([CHECKER_LIMITS.memory_kb] if checker or interactor else []))
    return -(-largest_kb // 1024) + settings.sandbox_size_mi + SHM_MI + settings.runner_memory_overhead_mi


# The taints the node lifecycle controller puts on a node that stops answering. Every pod tolerates
# them for 300 s unless it says otherwise (the DefaultTolerationSeconds admission plugin); a judge
# should move sooner: settings.node_lost_seconds.
NODE_LOST_TAINTS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")


def node_lost_tolerations(tolerations: list[dict], seconds: int) -> list[dict]:
    """The runner pod's tolerations of NODE_LOST_TAINTS, unless its tolerations already name them."""
    named = {t.get("key") for t in tolerations}
    return [{"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": seconds}
            for key in NODE_LOST_TAINTS if key not in named]


def job_manifest(*, name: str, secret: str, eval_name: str, spec: EvaluationSpec, version: LanguageVersion,
                 limits: list[Limits], attempt: int, settings: Settings, tenancy: TenantPolicy | None = None) -> dict:
    """The runner Job; `tenancy`: the namespace's policy, whose imposed placement is added."""
    labels = {**MANAGED_BY, LABEL_EVALUATION: evaluation_label(eval_name), LABEL_ROLE: "runner",
              LABEL_ATTEMPT: str(attempt)}
    annotations = {ANNOTATION_EVALUATION: eval_name}
    memory = f"{memory_mi(version, limits, settings, spec.checker.kind == CheckerKind.CUSTOM, bool(spec.interactor))}Mi"
    requests = {"cpu": settings.runner_cpu, "memory": memory}
    limits_ = {"cpu": settings.runner_cpu_limit or settings.runner_cpu, "memory": memory}
    pod_spec = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,  # the submission gets no Kubernetes credential
        "enableServiceLinks": False,
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{
            "name": "runner",
            "image": version.image,
            "imagePullPolicy": settings.image_pull_policy,
            "command": ["gavel-runner", "run", f"{TASK_DIR}/task.json"],
            "env": [{"name": "TMPDIR", "value": WORK_DIR}, {"name": "GAVEL_WORK_DIR", "value": WORK_DIR},
                    {"name": "GAVEL_SANDBOX_DIR", "value": SANDBOX_DIR}],
            "resources": {"requests": requests, "limits": limits_},
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
            "securityContext": {
                # root inside, to run each test as its own unprivileged uid; every other capability dropped
                "runAsUser": 0, "runAsNonRoot": False, "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True, "privileged": False,
                "capabilities": {"drop": ["ALL"], "add": RUNNER_CAPABILITIES},
            },
            "volumeMounts": [{"name": "task", "mountPath": TASK_DIR, "readOnly": True},
                             {"name": "tmp", "mountPath": WORK_DIR},
                             {"name": "sandbox", "mountPath": SANDBOX_DIR}],
        }],
        "volumes": [
            {"name": "task", "secret": {"secretName": secret, "defaultMode": 0o400}},
            {"name": "tmp", "emptyDir": {"sizeLimit": f"{settings.scratch_size_mi}Mi"}},
            # tmpfs sized to its limit: a submission that fills it gets ENOSPC, not the pod evicted
            {"name": "sandbox", "emptyDir": {"medium": "Memory", "sizeLimit": f"{settings.sandbox_size_mi}Mi"}},
        ],
    }
    placed = pod_placement(tenancy or TenantPolicy(), spec.runtime_class_name, spec.node_selector,
                           [t.model_dump(by_alias=True, exclude_none=True) for t in spec.tolerations or []])
    pod_spec.update(placed)
    # the attempt's deadline runs from the pod's start on a node: waiting for one is not running
    attempt_deadline = pod_deadline_seconds(spec, limits, settings)
    pod_spec["activeDeadlineSeconds"] = attempt_deadline
    if lost := node_lost_tolerations(pod_spec.get("tolerations") or [], settings.node_lost_seconds):
        pod_spec["tolerations"] = [*(pod_spec.get("tolerations") or []), *lost]
    job = {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "labels": labels,
                     "annotations": {**annotations, ANNOTATION_LAYOUT: LAYOUT_ATTEMPTS}},
        "spec": {
            # one pod per Job: every attempt is a Job of its own (following.retry makes the next, with
            # a task whose PUT URLs name that attempt's prefix only), so no two pods ever hold URLs
            # for the same objects
            "backoffLimit": 0,
            "activeDeadlineSeconds": job_deadline_seconds(attempt_deadline, settings),
            "ttlSecondsAfterFinished": settings.job_ttl_seconds,
            "podFailurePolicy": {"rules": [
                # the runner's own word that the task cannot be run: retrying cannot help (the Job's
                # reason is then PodFailurePolicy, which following.retryable does not retry)
                {"action": "FailJob", "onExitCodes": {"containerName": "runner", "operator": "In",
                                                      "values": [EXIT_USAGE]}},
                # evicted, preempted, drained, node lost: the attempt failed like a crash
                # (BackoffLimitExceeded), and the operator runs the next (on another node) while
                # spec.retries remain
                {"action": "Count", "onPodConditions": [{"type": "DisruptionTarget"}]},
            ]},
            "template": {"metadata": {"labels": {**labels, LABEL_POOL: pool_label(placed)}, "annotations": annotations},
                         "spec": pod_spec},
        },
    }
    if settings.kueue:
        job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] = spec.queue
        job["spec"]["suspend"] = True
    return job


def dry_run_pod(job: dict) -> dict:
    """The pod a Job's template makes, for a dry-run create (admission sees what the Job
    controller will ask for)."""
    template = job["spec"]["template"]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"generateName": f"{job['metadata']['name']}-", **template["metadata"]},
            "spec": template["spec"]}


NETWORK_POLICY = "gavel-runner-egress"


def _defaulted(rule: dict) -> dict:
    """An egress rule as the API server stores it (a port's protocol defaults to TCP), so that the
    stored policy compares equal to the one the settings make."""
    ports = [{"protocol": "TCP", **p} for p in rule.get("ports", [])]
    return {**rule, **({"ports": ports} if ports else {})}


def _pruned(value):
    """Without empty lists and maps (the API server stores `ingress: []` as nothing)."""
    if isinstance(value, dict):
        return {k: _pruned(v) for k, v in value.items() if v not in ([], {}, None)}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def same_policy(stored: dict | None, desired: dict) -> bool:
    return _pruned(stored or {}) == _pruned(desired)


def network_policy(egress: list[dict]) -> dict:
    """Runner pods may reach only what `egress` allows (storage, DNS), and nothing may reach them."""
    egress = [_defaulted(rule) for rule in egress]
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": NETWORK_POLICY, "labels": dict(MANAGED_BY)},
        "spec": {"podSelector": {"matchLabels": {LABEL_ROLE: "runner"}},
                 "policyTypes": ["Ingress", "Egress"], "ingress": [], "egress": egress},
    }
