"""A task too large for a Secret, through the real operator code and runner against a real S3
server (MinIO): stored sealed outside every prefix a namespace may be given, judged, and deleted;
nothing a user may list or fetch (`gavel fetch`, every prefix of the namespace, the whole bucket)
holds a presigned URL (issue 21, item 1)."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from gavel_contract import Result, TaskRef, sealed
from gavel_contract.languages import builtin_languages
from gavel_client.client import Storage, fetch
from gavel_operator import jobs, taskdocs, tenancy
from gavel_operator.objectstore import ObjectStore
from gavel_operator.resources import EvaluationSpec
from gavel_operator.settings import Settings
from gavel_operator.status import judged
from s3server import minio_server, read_all

BUCKET = "gavel"
NAMESPACE = "team-a"
SUM = '#include <stdio.h>\nint main(){long a,b;scanf("%ld %ld",&a,&b);printf("%ld\\n",a+b);}\n'
SIGNATURE = b"X-Amz-Signature"


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    with minio_server(tmp_path_factory.mktemp("minio") / "data") as server:
        server.client().make_bucket(BUCKET)
        yield server


@pytest.fixture
def settings(s3) -> Settings:
    return Settings(storage_endpoint=s3.endpoint, storage_access_key=s3.access_key,
                    storage_secret_key=s3.secret_key, bucket=BUCKET)


def put(client, key: str, text: str) -> dict:
    data = text.encode()
    client.put_object(BUCKET, key, io.BytesIO(data), len(data))
    return {"key": key}


def large_evaluation(s3, settings: Settings, tests: int = 200):
    """An Evaluation of many tests (within the default ceiling of 200: long keys make its task too
    large for a Secret), its task built and stored as the operator's launch does."""
    client, run = s3.client(), f"{NAMESPACE}/{uuid.uuid4().hex[:8]}/{('long-problem-name-' * 12 + '/') * 3}"
    inp, ans = put(client, f"{run}1.in", "20 22\n"), put(client, f"{run}1.out", "42\n")
    spec = EvaluationSpec.model_validate({
        "language": "c", "submission": put(client, f"{run}main.c", SUM), "limits": {"timeMs": 1000, "memoryKb": 65536},
        "tests": [{"name": str(i), "input": inp, "expected": ans} for i in range(1, tests + 1)]})
    uid, name = str(uuid.uuid4()), "big"
    lang = builtin_languages()["c"]
    where = jobs.placement(spec, NAMESPACE, name, uid, settings)
    store = ObjectStore(settings)
    expiry = timedelta(hours=1)
    task = jobs.build_task(f"{NAMESPACE}/{name}", spec, lang, lang.default_version(), where, store, settings, expiry)
    document = jobs.task_document(task)
    assert document is not None and SIGNATURE in document  # too large for a Secret, and full of URLs
    job = jobs.job_name(name, uid)
    ref = taskdocs.store(store, settings.results_bucket_name, uid, job, document, expiry)
    return store, where, uid, jobs.task_secret(job, ref)["stringData"]["task.json"]


def run_runner(tmp_path: Path, task_file_text: str) -> tuple[int, str, dict]:
    task_file = tmp_path / "task.json"
    task_file.write_text(task_file_text)
    task_file.chmod(0o600)
    term = tmp_path / "termination-log"
    proc = subprocess.run([str(Path(sys.executable).with_name("gavel-runner")), "run", str(task_file),
                           "--termination-log", str(term)], capture_output=True, text=True, timeout=600)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, proc.stderr, json.loads(term.read_text()) if term.exists() else {}


def test_a_large_task_is_stored_sealed_judged_and_deleted_and_no_signature_is_left_to_read(s3, settings, tmp_path):
    store, where, uid, secret_text = large_evaluation(s3, settings)
    client = s3.client()
    ref = TaskRef.model_validate_json(secret_text)
    assert ref.key and SIGNATURE.decode() in ref.url  # the Secret: where the task is, and the key
    stored = read_all(client, BUCKET, taskdocs.prefix(uid))
    assert len(stored) == 1 and next(iter(stored)).startswith(f".gavel/tasks/{uid}/gavel-big-")
    blob = next(iter(stored.values()))
    assert blob.startswith(sealed.MAGIC) and SIGNATURE not in blob and b"http" not in blob  # noise without the key

    code, log, summary = run_runner(tmp_path, secret_text)
    assert code == 0 and summary["verdict"] == "Accepted" and summary["passed"] == 200, summary
    assert SIGNATURE.decode() not in log  # the runner's log (runner.log) never prints a signature
    store.write(where.bucket, where.key("runner.log"), log.encode())  # as following.save_logs does

    # the Evaluation's status, and `gavel fetch` of what it names
    result = Result.model_validate_json(read_all(client, BUCKET, where.key("result.json"))[where.key("result.json")])
    status = judged(result, store=store, bucket=where.bucket, prefix=where.prefix, conditions=[], logs_saved=True)
    assert SIGNATURE.decode() not in json.dumps(status) and ".gavel/" not in json.dumps(status)
    fetched = fetch(Storage(s3.endpoint, s3.access_key, s3.secret_key, bucket=BUCKET), {"status": status},
                    tmp_path / "fetched")
    assert {p.name for p in fetched} >= {"result.json", "compile.txt", "runner.log", "1.stdout", "200.stdout"}
    assert not [p for p in fetched if SIGNATURE in p.read_bytes()]
    assert "task.json" not in {p.name for p in fetched}

    # every prefix the namespace may read or write (the default policy), and the whole bucket
    # (what an administrator's policy may give a namespace): no signature in any object
    policy = settings.tenancy_for(NAMESPACE)
    prefixes = tenancy.rules(policy.storage.read + policy.storage.write, NAMESPACE, BUCKET, BUCKET)
    assert prefixes == [(BUCKET, f"{NAMESPACE}/"), (BUCKET, f"{NAMESPACE}/")]
    for _, prefix in prefixes:
        readable = read_all(client, BUCKET, prefix)
        assert where.key("result.json") in readable and not [k for k, v in readable.items() if SIGNATURE in v]
    everything = read_all(client, BUCKET)
    assert not [k for k, v in everything.items() if SIGNATURE in v]
    # and no policy, however wide, lets an Evaluation name the stored task as an input
    whole = tenancy.TenantPolicy.model_validate({"storage": {"read": ["{bucket}/"], "write": ["{bucket}/"]}})
    key = next(iter(stored))
    why = tenancy.storage_violation(whole, NAMESPACE, BUCKET, BUCKET, [("test 1 input", BUCKET, key)])
    assert why and "is the operator's own" in why
    assert "operator's own" in tenancy.storage_violation(whole, NAMESPACE, BUCKET, BUCKET, [], (BUCKET, ".gavel/x"))

    # the verdict written: the stored task goes (following.finish), and a pod started again finds nothing
    asyncio.run(taskdocs.forget(store, settings.results_bucket_name, uid))
    assert read_all(client, BUCKET, taskdocs.prefix(uid)) == {}
    code, _, summary = run_runner(tmp_path, secret_text)
    assert code == 1 and "cannot load the task" in summary["message"] and "HTTP 404" in summary["message"]
    assert "X-Amz" not in summary["message"]


def test_a_stored_task_opens_only_with_its_own_key(s3, settings, tmp_path):
    store, _, uid, secret_text = large_evaluation(s3, settings)
    ref = TaskRef.model_validate_json(secret_text)
    other = ref.model_copy(update={"key": sealed.new_key()}).model_dump_json(by_alias=True, exclude_none=True)
    code, _, summary = run_runner(tmp_path, other)
    assert code == 1 and summary["verdict"] == "InitializationError", summary
    assert "does not open with this key" in summary["message"]
    # a changed byte is refused, never judged as something else
    name = next(iter(read_all(s3.client(), BUCKET, taskdocs.prefix(uid))))
    blob = bytearray(read_all(s3.client(), BUCKET, name)[name])
    blob[-1] ^= 1
    store.write(BUCKET, name, bytes(blob))
    code, _, summary = run_runner(tmp_path, secret_text)
    assert code == 1 and "does not open with this key" in summary["message"], summary
    asyncio.run(taskdocs.forget(store, settings.results_bucket_name, uid))
