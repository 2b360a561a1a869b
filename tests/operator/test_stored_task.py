"""Issue 21 on the real API server, real Jobs and MinIO, with the operator's default settings:
a task too large for a Secret is judged from storage (sealed, outside the namespace's prefixes,
gone after the verdict; no signature in anything the namespace can list or `gavel fetch`), and
the default ceilings refuse the maximal request with a message naming the ceiling."""

from __future__ import annotations

import base64
import json

from conftest import BUCKET, SUM_C, wait_phase
from s3server import read_all

from gavel_client.client import Storage, fetch

SIGNATURE = b"X-Amz-Signature"


def create(kube, namespace: str, obj: dict) -> None:
    # create, not apply: kubectl apply would copy the large spec into an annotation (256 KiB at most)
    kube("-n", namespace, "create", "-f", "-", input=json.dumps(obj))


def test_a_task_too_large_for_a_secret_is_judged_and_leaves_no_signature_to_read(kube, namespace, operator,
                                                                                  problems, tmp_path):
    client = problems.client
    # 200 tests (the default ceiling) with long keys: a task of about 650 KB, more than a Secret takes
    base = f"{namespace}/{('a-long-problem-name-' * 10 + '/') * 2}"
    inp, ans = problems.put(f"{base}1.in", "20 22\n"), problems.put(f"{base}1.out", "42\n")
    ev = problems.evaluation("big", SUM_C, "c", limits={"timeMs": 1000, "memoryKb": 65536})
    ev["spec"]["tests"] = [{"name": str(i), "input": inp, "expected": ans} for i in range(1, 201)]
    create(kube, namespace, ev)
    uid = kube.json("-n", namespace, "get", "evaluation", "big")["metadata"]["uid"]
    # while it runs: the task is in storage, sealed, under .gavel/ (written before the Job is made)
    seen = kube.wait_for("the stored task", lambda: read_all(client, BUCKET, f".gavel/tasks/{uid}/"),
                         timeout=60, interval=0.2)
    assert len(seen) == 1 and not [v for v in seen.values() if SIGNATURE in v or b"http" in v]  # sealed

    # the Secret holds where the task is and its key
    job = wait_phase(kube, namespace, "big", phases=("Pending", "Running", "Succeeded", "Failed"),
                     operator=operator)["status"]["jobName"]
    secret = kube.json("-n", namespace, "get", "secret", job)
    ref = json.loads(base64.b64decode(secret["data"]["task.json"]))
    assert ref["apiVersion"] == "gavel.dev/taskref/v1" and len(ref["key"]) == 44, ref
    assert f"/{BUCKET}/.gavel/tasks/{uid}/{job}-" in ref["url"], ref["url"]
    assert kube.json("-n", namespace, "get", "job", job)["metadata"]["annotations"]["gavel.dev/task-stored"] == "true"

    st = wait_phase(kube, namespace, "big", operator=operator, timeout=400)["status"]
    assert st["verdict"] == "Accepted" and st["passed"] == "200/200", st.get("message")
    # gone with the verdict
    assert read_all(client, BUCKET, f".gavel/tasks/{uid}/") == {}
    assert SIGNATURE.decode() not in json.dumps(st) and ".gavel/" not in json.dumps(st["locations"])

    # `gavel fetch`, every prefix the namespace may read or write (the default policy: its own), and
    # the whole bucket: no object holds a signature
    evaluation = kube.json("-n", namespace, "get", "evaluation", "big")
    storage = Storage(operator.s3.endpoint, operator.s3.access_key, operator.s3.secret_key, bucket=BUCKET)
    fetched = fetch(storage, evaluation, tmp_path / "fetched")
    names = {p.name for p in fetched}
    assert {"result.json", "runner.log", "1.stdout", "200.stdout"} <= names and "task.json" not in names, names
    assert not [p.name for p in fetched if SIGNATURE in p.read_bytes()]
    readable = read_all(client, BUCKET, f"{namespace}/")
    assert len(readable) > 200 and not [k for k, v in readable.items() if SIGNATURE in v]
    assert not [k for k, v in read_all(client, BUCKET).items() if SIGNATURE in v]


def test_the_default_ceilings_refuse_the_maximal_request(kube, namespace, operator, problems):
    """Issue 21: with no ceiling, 100 tests at the CRD's maximum got a Job of 16,832 MiB for 33 hours."""
    big = {"timeMs": 600_000, "wallMs": 1_200_000, "memoryKb": 16 * 1024 * 1024, "outputKb": 1024 * 1024}
    ev = problems.evaluation("maximal", SUM_C, "c", {str(i): ("1 2\n", "3\n") for i in range(1, 101)}, limits=big,
                             deadlineSeconds=86_400)
    create(kube, namespace, ev)
    st = wait_phase(kube, namespace, "maximal", operator=operator, timeout=120)["status"]
    assert st["verdict"] == "InitializationError", st
    assert st["message"] == (f"test 1: timeMs 600000 exceeds namespace {namespace}'s ceiling of 20000 "
                             "(ceilings.maxTimeMs)"), st["message"]
    assert kube.json("-n", namespace, "get", "jobs")["items"] == []
