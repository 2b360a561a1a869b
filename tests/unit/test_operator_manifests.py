"""The operator's pure parts: CRDs generated from the models, the Job and Secret it makes."""

import json
from datetime import timedelta
from pathlib import Path

import yaml

from gavel_contract import Result, TaskRef, TestResult, Verdict
from gavel_contract.languages import builtin_languages
from gavel_operator import crdgen, jobs
from gavel_operator.objectstore import ObjectStore
from gavel_operator.resources import EvaluationSpec
from gavel_operator.settings import Settings
from gavel_operator.status import judged, result_from_summary, with_condition, condition

ROOT = Path(__file__).resolve().parents[2]
SPEC = EvaluationSpec.model_validate({
    "language": "cpp", "submission": {"key": "subs/1.cpp"},
    "limits": {"timeMs": 2000, "memoryKb": 131072},
    "tests": [{"name": "1", "input": {"key": "p/1.in"}, "expected": {"key": "p/1.out"}},
              {"name": "2", "input": {"key": "p/2.in"}, "expected": {"key": "p/2.out"}, "memoryKb": 524288,
               "timeMs": 500}],
})


def test_checked_in_crds_are_current():
    for name, text in crdgen.render().items():
        path = ROOT / "crds" / name
        assert path.exists() and path.read_text() == text, f"{path} is out of date: run `make crds`"


def _walk(node, path="$"):
    if isinstance(node, dict):
        for key, value in node.items():
            yield path, key, value
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}[{i}]")


def test_crds_are_structural_and_explained():
    for name in crdgen.render():
        crd = yaml.safe_load((ROOT / "crds" / name).read_text())
        schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        for path, key, value in _walk(schema):
            if not path.endswith(".properties"):  # property names may be anything, even "title"
                assert key not in ("$ref", "anyOf", "allOf", "oneOf", "title", "$defs"), f"{name} {path}.{key}"
            if key == "properties":
                for prop, sub in value.items():
                    assert "type" in sub, f"{name} {path}.{prop} has no type"
    spec = crdgen.evaluation_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    for field in ("language", "version", "submission", "tests", "limits", "checker", "queue", "priority",
                  "retries", "cancel", "callbackUrl"):
        assert spec["properties"][field].get("description"), field
    assert spec["properties"]["tests"]["x-kubernetes-list-map-keys"] == ["name"]


def test_limits_are_layered():
    version = builtin_languages()["cpp"].default_version()
    first, second = (jobs.resolve_limits(version, SPEC, t) for t in SPEC.tests)
    assert (first.time_ms, first.memory_kb) == (2000, 131072)
    assert (second.time_ms, second.memory_kb) == (500, 524288)
    assert first.output_kb == version.default_limits.output_kb
    assert first.processes is None  # not asked for: the runner uses the language's (version.processes)


def test_processes_are_layered_and_left_out_of_the_task_when_unset():
    from gavel_operator.resources import EvaluationSpec

    version = builtin_languages()["c"].default_version()
    assert version.processes == 64  # threads of C, C++ and Rust are allowed by default
    spec = EvaluationSpec.model_validate({
        "language": "c", "submission": {"key": "ns/s.c"}, "limits": {"processes": 8},
        "tests": [{"name": "1", "input": {"key": "ns/1.in"}, "expected": {"key": "ns/1.out"}},
                  {"name": "2", "input": {"key": "ns/2.in"}, "expected": {"key": "ns/2.out"}, "processes": 2}]})
    assert [jobs.resolve_limits(version, spec, t).processes for t in spec.tests] == [8, 2]
    # a task that does not ask carries no `processes`: a runner image older than the operator judges it
    from gavel_contract import Limits, Task, TestCase

    task = Task(language=version, languageName="c", submission="s.c",
                tests=[TestCase(name="1", input="1.in", expected="1.out", limits=Limits())])
    assert "processes" not in json.loads(task.document())["tests"][0]["limits"]


def test_job_is_isolated_and_named_for_its_evaluation():
    settings = Settings()
    version = builtin_languages()["cpp"].default_version()
    limits = [jobs.resolve_limits(version, SPEC, t) for t in SPEC.tests]
    name = jobs.job_name("a-very-long-evaluation-name-" * 3, "0b7a1d2c-1111-2222-3333-444455556666", 2)
    assert len(name) <= 63 and name.endswith("-0b7a1d2c-a2")
    job = jobs.job_manifest(name=name, secret=name, eval_name="e1", spec=SPEC, version=version, limits=limits,
                            attempt=2, settings=settings)
    pod = job["spec"]["template"]["spec"]
    c = pod["containers"][0]
    assert pod["automountServiceAccountToken"] is False and pod["enableServiceLinks"] is False
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"], "add": jobs.RUNNER_CAPABILITIES}
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["resources"]["requests"] == c["resources"]["limits"]  # Guaranteed
    # test 2 and compile: 512 MB; what the sandbox uids may fill in memory; the runner's own
    assert c["resources"]["limits"]["memory"] == \
        f"{512 + settings.sandbox_size_mi + jobs.SHM_MI + settings.runner_memory_overhead_mi}Mi"
    # one pod per Job: each attempt is a Job of its own (following.retry), so no two pods share a task
    assert job["spec"]["backoffLimit"] == 0
    assert job["metadata"]["labels"][jobs.LABEL_ATTEMPT] == "2" and jobs.attempt_of(job) == 2
    assert jobs.attempt_of(job["spec"]["template"]) == 2  # its pod says which attempt it is too
    assert job["spec"]["ttlSecondsAfterFinished"] == settings.job_ttl_seconds
    # one attempt's deadline runs on the pod (from its start on a node: waiting for one is not running),
    # with twice its tests' wall limits more for waiting for a CPU (a run may stretch to 3 x its wall
    # limit on a crowded node); the Job's covers its one attempt and the wait for a node
    asked = 60 + (5000 + 2000) // 1000 + 1 + 180
    attempt = asked + 2 * (5000 + 2000) // 1000
    assert jobs.deadline_seconds(SPEC, limits, settings) == asked  # what a ceiling bounds
    assert pod["activeDeadlineSeconds"] == attempt
    assert job["spec"]["activeDeadlineSeconds"] == attempt + settings.pending_seconds
    assert job["spec"]["template"]["metadata"]["labels"][jobs.LABEL_POOL].startswith("p-")
    assert pod["volumes"][0]["secret"]["defaultMode"] == 0o400
    # the sandbox uids write only to a size-capped tmpfs (ENOSPC, never an eviction); the runner
    # makes its own emptyDir root-only before running anything (GAVEL_WORK_DIR)
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["sandbox"]["emptyDir"] == {"medium": "Memory", "sizeLimit": f"{settings.sandbox_size_mi}Mi"}
    env = {e["name"]: e["value"] for e in c["env"]}
    assert env["GAVEL_WORK_DIR"] == jobs.WORK_DIR and env["GAVEL_SANDBOX_DIR"] == jobs.SANDBOX_DIR
    assert jobs.dry_run_pod(job)["spec"] is pod
    assert job["spec"]["template"]["metadata"]["labels"][jobs.LABEL_ROLE] == "runner"


def test_runner_pods_leave_a_lost_node_sooner_than_kubernetes_default():
    version = builtin_languages()["cpp"].default_version()
    limits = [jobs.resolve_limits(version, SPEC, t) for t in SPEC.tests]

    def tolerations(spec, seconds=30):
        job = jobs.job_manifest(name="j", secret="j", eval_name="e1", spec=spec, version=version, limits=limits,
                                attempt=1, settings=Settings(node_lost_seconds=seconds))
        return job["spec"]["template"]["spec"]["tolerations"]

    assert tolerations(SPEC, 45) == [{"key": k, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 45}
                                     for k in jobs.NODE_LOST_TAINTS]
    # an Evaluation that tolerates one of them itself keeps its own
    own = {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"}
    got = tolerations(EvaluationSpec.model_validate({**SPEC.model_dump(by_alias=True, exclude_none=True),
                                                     "tolerations": [own]}))
    assert [t["key"] for t in got] == ["node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready"]
    assert "tolerationSeconds" not in got[0]


def test_task_carries_presigned_urls_only():
    settings = Settings(storage_endpoint="127.0.0.1:9000", pod_storage_endpoint="minio.gavel:9000",
                        storage_access_key="k", storage_secret_key="s")
    store = ObjectStore(settings)
    lang = builtin_languages()["cpp"]
    where = jobs.placement(SPEC, "ns", "e1", "uid-1", settings)
    task = jobs.build_task("ns/e1", SPEC, lang, lang.default_version(), where, store, settings, timedelta(hours=1))
    assert where.prefix == "ns/e1/uid-1"
    assert task.submission.startswith("http://minio.gavel:9000/gavel/subs/1.cpp?")
    assert "X-Amz-Signature=" in task.tests[0].input
    assert task.egress_check is None  # no runner NetworkPolicy: nothing to wait for
    with_policy = settings.model_copy(update={"runner_egress": []})
    task = jobs.build_task("ns/e1", SPEC, lang, lang.default_version(), where, store, with_policy, timedelta(hours=1))
    assert task.egress_check.addresses == ["kubernetes"]
    assert task.result.startswith("http://minio.gavel:9000/gavel/ns/e1/uid-1/result.json?")
    secret = jobs.task_secret("j", task)
    assert '"s"' not in secret["stringData"]["task.json"]  # no credential, only signatures


def test_judged_status():
    settings = Settings(public_endpoint="https://s3.example.com")
    result = Result(verdict=Verdict.TEST_FAILED, message="1/2 tests passed", tests=[
        TestResult(name="1", verdict="Passed", cpuTimeMs=3, memoryKb=900, exitCode=0),
        TestResult(name="2", verdict="TimeLimitExceeded", cpuTimeMs=1001, signal=9, message="CPU time")])
    st = judged(result, store=ObjectStore(settings), bucket="b", prefix="ns/e/u", conditions=None, logs_saved=True)
    assert st["phase"] == "Succeeded" and st["verdict"] == "TestFailed" and st["passed"] == "1/2"
    assert st["locations"]["result"] == "s3://b/ns/e/u/result.json"
    assert st["locations"]["links"]["logs"] == "https://s3.example.com/b/ns/e/u/runner.log"
    assert st["tests"][1] == {"name": "2", "verdict": "TimeLimitExceeded", "cpuTimeMs": 1001, "wallTimeMs": 0,
                              "memoryKb": 0, "signal": 9, "message": "CPU time"}
    internal = judged(Result(verdict=Verdict.INTERNAL_ERROR, message="x"), store=ObjectStore(settings), bucket="b",
                      prefix="p", conditions=None, logs_saved=False)
    assert internal["phase"] == "Failed"


def test_summary_fallback_and_conditions():
    r = result_from_summary('{"verdict":"TestFailed","passed":1,"total":2,"tests":"PW","message":"m"}')
    assert r.verdict == Verdict.TEST_FAILED and [t.verdict.value for t in r.tests] == ["Passed", "WrongAnswer"]
    assert result_from_summary("garbage") is None
    a = condition("Running", True, "PodRunning")
    conds = with_condition([a], condition("Running", True, "Still"))
    assert len(conds) == 1 and conds[0]["lastTransitionTime"] == a["lastTransitionTime"]


def test_settings_from_env():
    s = Settings.from_env({"GAVEL_MAX_RUNNING": "3", "GAVEL_QUEUE_LIMITS": '{"contest": 1}', "GAVEL_KUEUE": "true"})
    assert s.max_running == 3 and s.queue_limits == {"contest": 1} and s.kueue is True


def test_chart_carries_the_current_crds_and_languages():
    for sub, chart_sub in (("crds", "crds"), ("languages", "files/languages")):
        for path in (ROOT / sub).glob("*.yaml"):
            copy = ROOT / "charts" / "gavel" / chart_sub / path.name
            assert copy.exists() and copy.read_text() == path.read_text(), f"{copy} is stale: run `make crds`"


def test_retention_picks_evaluations_finished_ttl_ago():
    from datetime import datetime, timezone

    from gavel_operator.retention import expired

    now = datetime(2026, 11, 26, 12, 0, 0, tzinfo=timezone.utc)

    def ev(ns, name, finished):
        return {"metadata": {"namespace": ns, "name": name}, "status": {"finishedAt": finished} if finished else {}}

    items = [ev("a", "old", "2026-11-26T11:00:00Z"), ev("a", "new", "2026-11-26T11:59:30Z"),
             ev("b", "just", "2026-11-26T11:59:00Z"), ev("b", "no-time", None)]
    assert expired(items, 60, now) == [("a", "old"), ("b", "just")]
    assert expired([], 60, now) == []


def test_any_name_gives_valid_names_and_labels():
    long = "e" * 200 + ".x" * 26 + "z"  # 253 characters, the most Kubernetes allows
    label = jobs.evaluation_label(long)
    assert len(label) <= 63 and label[-1].isalnum() and jobs.evaluation_label("short") == "short"
    assert jobs.evaluation_label(long) != jobs.evaluation_label(long[:-1] + "y")
    version = builtin_languages()["cpp"].default_version()
    limits = [jobs.resolve_limits(version, SPEC, t) for t in SPEC.tests]
    name = jobs.job_name(long, "0b7a1d2c-1111-2222-3333-444455556666")
    job = jobs.job_manifest(name=name, secret=name, eval_name=long, spec=SPEC, version=version, limits=limits,
                            attempt=1, settings=Settings())
    assert len(name) <= 63 and job["metadata"]["annotations"][jobs.ANNOTATION_EVALUATION] == long
    assert job["spec"]["template"]["metadata"]["labels"][jobs.LABEL_EVALUATION] == label


def test_a_task_too_large_for_a_secret_goes_to_storage():
    settings = Settings(storage_access_key="k", storage_secret_key="s")
    store = ObjectStore(settings)
    lang = builtin_languages()["cpp"]
    where = jobs.placement(SPEC, "ns", "e1", "uid-1", settings)
    small = jobs.build_task("ns/e1", SPEC, lang, lang.default_version(), where, store, settings, timedelta(hours=1))
    assert jobs.task_document(small) is None
    many = SPEC.model_copy(update={"tests": [SPEC.tests[0].model_copy(update={"name": f"t{i}"}) for i in range(1000)]})
    big = jobs.build_task("ns/e1", many, lang, lang.default_version(), where, store, settings, timedelta(hours=1))
    document = jobs.task_document(big)
    assert document is not None and len(document) > 1 << 20  # more than a Secret holds
    ref = TaskRef(url="http://s3/results/.gavel/tasks/uid-1/j-0a1b2c3d?X-Amz-Signature=x", key="A" * 43 + "=")
    assert len(jobs.task_secret("j", ref)["stringData"]["task.json"]) < 200


def test_the_stored_runner_policy_compares_equal_to_the_settings():
    egress = [{"to": [{"ipBlock": {"cidr": "10.0.0.5/32"}}], "ports": [{"port": 9000}]}]
    desired = jobs.network_policy(egress)["spec"]
    stored = {"podSelector": {"matchLabels": {jobs.LABEL_ROLE: "runner"}}, "policyTypes": ["Ingress", "Egress"],
              "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.5/32"}}], "ports": [{"port": 9000, "protocol": "TCP"}]}]}
    assert jobs.same_policy(stored, desired)
    widened = {**stored, "egress": [{}]}
    assert not jobs.same_policy(widened, desired) and not jobs.same_policy(None, desired)


def test_presigned_urls_never_outlive_the_jobs_deadline():
    # activeDeadlineSeconds covers the Job's attempt and its wait for a node: the URLs need that, and a little grace
    assert jobs.url_lifetime(600, Settings()).total_seconds() == 600 + jobs.URL_GRACE_SECONDS
    assert jobs.url_lifetime(600, Settings(kueue=True)).total_seconds() == 600 + jobs.URL_GRACE_SECONDS + 86_400
    assert jobs.url_lifetime(10 * 86_400, Settings()).total_seconds() == 7 * 86_400


def test_a_failed_attempt_is_retried_only_when_its_pod_failed_and_retries_remain():
    from gavel_operator.following import retryable

    assert retryable("BackoffLimitExceeded", 1, 2) and retryable("BackoffLimitExceeded", 2, 2)
    assert not retryable("BackoffLimitExceeded", 3, 2)  # attempts 1 + spec.retries: Failed
    assert not retryable("BackoffLimitExceeded", 1, 0)
    assert not retryable("PodFailurePolicy", 1, 2)  # the runner's exit 2: the task cannot run
    assert not retryable("DeadlineExceeded", 1, 2)  # waited for a node past pendingSeconds
    assert jobs.attempt_of({"metadata": {"name": "j"}}) == 1  # a Job known by name only
    assert jobs.attempt_of({"metadata": {"labels": {jobs.LABEL_ATTEMPT: "x"}}}) == 1


def test_each_attempt_writes_under_a_prefix_of_its_own():
    """Issue 21 item 3: a runner pod of an earlier attempt that comes back holds PUT URLs only
    for its own attempt's prefix, never for the judged attempt's objects."""
    settings = Settings(storage_endpoint="127.0.0.1:9000", storage_access_key="k", storage_secret_key="s")
    store, lang = ObjectStore(settings), builtin_languages()["cpp"]
    base = jobs.placement(SPEC, "ns", "e1", "uid-1", settings)
    first, second, tenth = base.attempt(1), base.attempt(2), base.attempt(10)
    assert (first.prefix, second.prefix) == ("ns/e1/uid-1/attempt-1", "ns/e1/uid-1/attempt-2")

    def puts(where):
        task = jobs.build_task("ns/e1", SPEC, lang, lang.default_version(), where, store, settings,
                               timedelta(hours=1))
        urls = [task.result, task.compile_output] + [u for t in task.tests for u in (t.stdout, t.stderr, t.diff)]
        return {u.split("?")[0].split("/gavel/", 1)[1] for u in urls}

    one, two, ten = puts(first), puts(second), puts(tenth)
    assert all(k.startswith("ns/e1/uid-1/attempt-1/") for k in one)
    assert all(k.startswith("ns/e1/uid-1/attempt-2/") for k in two)
    assert not one & two and not one & ten and len(one) == len(two) == 2 + 3 * len(SPEC.tests)
    assert not [k for k in one if k.startswith("ns/e1/uid-1/attempt-10/")]
    # the task does not say its attempt (its URLs do): a runner image older than the operator judges
    # every attempt's task
    task = jobs.build_task("ns/e1", SPEC, lang, lang.default_version(), second, store, settings, timedelta(hours=1))
    assert '"attempt' not in task.document()


def test_a_stored_task_is_sealed_outside_every_namespace_and_only_its_secret_opens_it():
    import pytest

    from gavel_contract import sealed
    from gavel_operator import taskdocs, tenancy

    key = sealed.new_key()
    blob = sealed.seal(b'{"tests": "http://s3/x?X-Amz-Signature=abc"}', key)
    assert b"X-Amz" not in blob and sealed.unseal(blob, key).endswith(b'abc"}')
    for wrong in (sealed.new_key(), None):
        with pytest.raises(sealed.SealError):
            sealed.unseal(blob if wrong else blob[:-1] + bytes([blob[-1] ^ 1]), wrong or key)
    with pytest.raises(sealed.SealError):
        sealed.unseal(b'{"plain": "json"}', key)
    # a fresh name per write (a restarted operator never overwrites what an existing Secret opens)
    first, second = taskdocs.key("uid-1", "gavel-e-uid1-a1"), taskdocs.key("uid-1", "gavel-e-uid1-a1")
    assert first != second and first.startswith(".gavel/tasks/uid-1/gavel-e-uid1-a1-")
    assert first.startswith(taskdocs.prefix("uid-1")) and taskdocs.prefix("uid-1").startswith(tenancy.OPERATOR_PREFIX)
    # no namespace is named .gavel, and no policy, however wide, lets an Evaluation read or write there
    everything = tenancy.TenantPolicy.model_validate({"storage": {"read": ["results/"], "write": ["results/"]}})
    assert "operator's own" in tenancy.storage_violation(everything, "ns", "gavel", "results",
                                                         [("test 1 input", "results", first)])
    assert "operator's own" in tenancy.storage_violation(everything, "ns", "gavel", "results", [],
                                                         ("results", ".gavel/tasks"))
    assert tenancy.storage_violation(everything, "ns", "gavel", "results", [("x", "results", "ns/.gavel/x")]) is None
    # the Secret holds where it is and its key, a few hundred bytes
    ref = TaskRef(url="http://s3/results/.gavel/tasks/uid-1/j?X-Amz-Signature=x", key=key)
    assert json.loads(jobs.task_secret("j", ref)["stringData"]["task.json"])["key"] == key


def test_a_saved_runner_log_holds_no_signature_whatever_it_printed():
    from gavel_operator.objectstore import without_signatures

    url = ("http://10.0.0.5:9000/gavel/team-a/e/uid/1.stdout?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="
           "gavel%2F20261201%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261201T000000Z&X-Amz-Expires=900"
           "&X-Amz-SignedHeaders=host&X-Amz-Signature=0123abcd")
    text = f"ValueError: unknown url type: '{url}'\nbare X-Amz-Signature=0123abcd&x\ncannot fetch http://h/b/k: HTTP 404"
    clean = without_signatures(text)
    assert "0123abcd" not in clean and "X-Amz-Credential" not in clean and "gavel%2F" not in clean
    assert "http://10.0.0.5:9000/gavel/team-a/e/uid/1.stdout'" in clean and "http://h/b/k: HTTP 404" in clean


def test_an_earlier_attempts_job_deleted_takes_only_its_own_stored_task():
    import asyncio

    from gavel_operator import taskdocs

    class Store:
        removed: list = []

        def remove_prefix(self, bucket, prefix):
            self.removed.append(prefix)
            return 0

    store = Store()
    asyncio.run(taskdocs.forget(store, "b", "uid-1", "gavel-e-uid1-a1"))
    asyncio.run(taskdocs.forget(store, "b", "uid-1"))
    assert store.removed == [".gavel/tasks/uid-1/gavel-e-uid1-a1-", ".gavel/tasks/uid-1/"]
    # attempt 1's prefix is not attempt 10's
    assert not taskdocs.key("uid-1", "gavel-e-uid1-a10").startswith(store.removed[0])


def test_only_the_current_attempts_job_is_followed():
    """An earlier attempt's Job (its pod perhaps back from a node that stopped answering) is never
    followed, whatever it does; a later attempt's Job of the same Evaluation is, before the watch
    brings its name (the ledger follows it from then on); another Evaluation's never."""
    from gavel_operator.following import current_attempt
    from gavel_operator.ledger import Entry

    uid = "0123abcd-0000-0000-0000-000000000000"

    def job(attempt, owner=uid, name=None):
        return {"metadata": {"name": name or jobs.job_name("e1", uid, attempt),
                             "labels": {jobs.LABEL_ATTEMPT: str(attempt)},
                             "ownerReferences": [{"kind": "Evaluation", "uid": owner}]}}

    ev = Entry(uid=uid, phase="Running", job=jobs.job_name("e1", uid, 1), attempt=1)
    assert current_attempt("e1", ev, job(1))
    assert not current_attempt("e1", ev, job(1, owner="other-uid"))  # a deleted namesake's
    assert not current_attempt("e1", ev, job(3, name="gavel-made-up-a3"))  # not a name the operator gives
    assert current_attempt("e1", ev, job(2)) and (ev.job, ev.attempt) == (jobs.job_name("e1", uid, 2), 2)
    assert not current_attempt("e1", ev, job(1))  # from now on attempt 1 is an earlier one
    assert current_attempt("e1", ev, job(2))
    assert current_attempt("e1", Entry(uid=uid, phase="Pending"), job(1))  # no Job name seen yet


def test_a_job_an_older_operator_made_is_followed_where_its_task_points():
    """Through an upgrade: a Job made before per-attempt prefixes (one Job for every attempt, its
    outputs directly under the Evaluation's prefix) is read there, and never retried by the operator
    (its own backoffLimit did)."""
    settings = Settings()
    lang = builtin_languages()["cpp"]
    version = lang.default_version()
    limits = [jobs.resolve_limits(version, SPEC, t) for t in SPEC.tests]
    job = jobs.job_manifest(name=jobs.job_name("e1", "uid-1", 2), secret="s", eval_name="e1", spec=SPEC,
                            version=version, limits=limits, attempt=2, settings=settings)
    base = jobs.Placement("gavel", "ns/e1/uid-1")
    assert not jobs.legacy_job(job) and base.of_job(job).prefix == "ns/e1/uid-1/attempt-2"
    older = json.loads(json.dumps(job))
    del older["metadata"]["annotations"][jobs.ANNOTATION_LAYOUT]
    older["metadata"]["labels"][jobs.LABEL_ATTEMPT] = "1"
    assert jobs.legacy_job(older) and base.of_job(older) == base
    # a pod's Job known by its name only (following.pod_event): the current attempt's prefix
    named = {"metadata": {"name": "j", "labels": {jobs.LABEL_ATTEMPT: "3"}}}
    assert not jobs.legacy_job(named) and base.of_job(named).prefix == "ns/e1/uid-1/attempt-3"


def test_the_next_attempt_waits_as_the_job_controller_would():
    from gavel_operator.following import backoff_seconds

    assert [backoff_seconds(a) for a in range(1, 7)] == [10, 20, 40, 60, 60, 60]


def test_contest_crd_validates_what_a_person_gets_wrong():
    crd = crdgen.contest_crd()
    assert crd["spec"]["names"]["kind"] == "Contest" and crd["spec"]["scope"] == "Namespaced"
    version = crd["spec"]["versions"][0]
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    for field in ("problems", "window", "scoring", "participants", "top", "storage"):
        assert spec["properties"][field].get("description"), field
    window = spec["properties"]["window"]
    assert {window["properties"][t]["format"] for t in ("start", "end", "freeze", "thaw")} == {"date-time"}
    messages = {r["message"]: r["rule"] for node in (window, spec["properties"]["problems"],
                                                      spec["properties"]["scoring"])
                for r in node["x-kubernetes-validations"]}
    assert messages["window.end must be after window.start"] == "self.end > self.start"  # timestamps in CEL
    assert "self.freeze >= self.start && self.freeze <= self.end" in messages[
        "window.freeze must lie between window.start and window.end"]
    assert "each problem label may appear once" in messages
    # the API server estimates a rule's cost from the sizes the schema allows: without these bounds the
    # pairwise uniqueness rules would exceed its budget and the CRD itself would be refused
    problem = spec["properties"]["problems"]
    assert problem["maxItems"] <= 100
    assert problem["items"]["properties"]["label"]["maxLength"] <= 10
    assert problem["items"]["properties"]["problem"]["maxLength"] <= 253
    assert "scoring.penaltyMinutes is for rule icpc" in messages
    # neither has a schema default, or has() could never tell a rule it was set for the other rule
    assert "default" not in spec["properties"]["scoring"]["properties"]["penaltyMinutes"]
    assert "default" not in spec["properties"]["scoring"]["properties"]["best"]
    assert spec["properties"]["participants"]["x-kubernetes-list-map-keys"] == ["id"]
    columns = [c["name"] for c in version["additionalPrinterColumns"]]
    assert columns[:6] == ["State", "Rule", "Participants", "Leader", "Judged", "Pending"]
    status = version["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]
    assert {"state", "participants", "leader", "judged", "pending", "top", "scoreboards", "lastRebuilt",
            "rebuilds"} <= set(status)
    for column in version["additionalPrinterColumns"]:  # every column points at a field the schema has
        section, *path = column["jsonPath"].strip(".").split(".")
        node = version["schema"]["openAPIV3Schema"]["properties"].get(section, {"properties": {}})
        for part in path:
            node = node.get("properties", {}).get(part) if section != "metadata" else {}
        assert node is not None, column


def test_language_status_names_its_images_for_the_wide_listing():
    from types import SimpleNamespace

    from gavel_operator.handlers import language_status

    patch = SimpleNamespace(status={})
    language_status({"versions": [{"version": "1", "image": "r/runner-jvm:1"}, {"version": "2", "default": True,
                                                                               "image": "r/runner-jvm:1"}]}, patch)
    assert patch.status == {"versions": "1, 2", "defaultVersion": "2", "images": "r/runner-jvm:1"}
    columns = {c["name"]: c for c in crdgen.language_crd()["spec"]["versions"][0]["additionalPrinterColumns"]}
    assert columns["Images"] == {"name": "Images", "type": "string", "jsonPath": ".status.images", "priority": 1}
