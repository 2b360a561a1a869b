"""Tenancy on the real API server and MinIO: a namespace reaches only the storage its policy
gives it (never by naming another's keys, never with the operator's credentials when it brings
its own), results never share a prefix, and placement is the administrator's to allow; a
RuntimeClass or node that does not exist fails the Evaluation within seconds."""

from __future__ import annotations

import contextlib
import io
import json
import time
import uuid

import pytest
from minio import Minio
from minio.credentials import StaticProvider
from minio.error import S3Error
from minio.minioadmin import MinioAdmin

from conftest import BUCKET, SUM_C, Problems, apply, wait_phase

TENANT_BUCKET = "gavel-tenant"


@pytest.fixture(scope="module")
def tenants(kube, s3, operator_factory):
    """Namespaces a (the default policy), b (its own storage credentials and bucket), c (may place
    its pods), with one operator whose policy names them."""
    with contextlib.ExitStack() as stack:
        a, b, c = (stack.enter_context(kube.scratch_namespace(f"gavel-op-{x}")) for x in "abc")
        op = operator_factory(namespace_tenancy={
            b: {"storage": {"read": [f"{TENANT_BUCKET}/"], "write": [f"{TENANT_BUCKET}/"],
                            "credentialsSecret": "tenant-storage"}},
            c: {"placement": {"allowed": {"runtimeClassNames": ["*"], "nodeSelectors": ["gavel.dev/pool=*"]}}}})
        try:
            yield op, a, b, c
        finally:
            op.stop()


def status(kube, op, namespace, name, **kw) -> dict:
    return wait_phase(kube, namespace, name, operator=op, **kw)["status"]


def jobs(kube, namespace) -> str:
    return kube("-n", namespace, "get", "jobs", "-o", "name").strip()


def test_a_namespace_reads_and_writes_only_its_own_prefix(kube, s3, tenants):
    op, a, b, _ = tenants
    client = s3.client()
    client.put_object(BUCKET, f"{b}/hidden/1.out", io.BytesIO(b"3\n"), 2)  # another team's hidden answer
    problems = Problems(s3, a)
    evs = {}
    for name, key in (("steal", f"{b}/hidden/1.out"), ("probe", f"{b}/hidden/nothing.out"),
                      ("dotdot", f"{a}/../{b}/hidden/1.out")):
        ev = problems.evaluation(name, SUM_C, "c")
        ev["spec"]["tests"][0]["expected"] = {"key": key}
        evs[name] = ev
    evs["overwrite"] = problems.evaluation("overwrite", SUM_C, "c", results={"prefix": f"{b}/results/x"})
    apply(kube, a, *evs.values())
    said = {name: status(kube, op, a, name, timeout=60) for name in evs}
    assert all(st["verdict"] == "InitializationError" for st in said.values()), said
    rule = f"is outside what namespace {a} may read (tenancy.storage.read: gavel/{a}/)"
    assert said["steal"]["message"] == f"test 1 expected s3://gavel/{b}/hidden/1.out {rule}"
    # whether the object exists is never told: the same words for one that does not
    assert said["probe"]["message"] == f"test 1 expected s3://gavel/{b}/hidden/nothing.out {rule}"
    assert "'..' path segment" in said["dotdot"]["message"]
    assert f"s3://gavel/{b}/results/x/ is outside what namespace {a} may write" in said["overwrite"]["message"]
    assert jobs(kube, a) == ""


def test_two_evaluations_never_share_a_results_prefix(kube, s3, tenants):
    op, a, _, _ = tenants
    problems = Problems(s3, a)
    apply(kube, a, problems.evaluation("first", SUM_C, "c", results={"prefix": f"{a}/mine"}))
    assert status(kube, op, a, "first")["verdict"] == "Accepted"
    apply(kube, a, problems.evaluation("second", SUM_C, "c", results={"prefix": f"{a}/mine/"}),
          problems.evaluation("inner", SUM_C, "c", results={"prefix": f"{a}/mine/inner"}),
          problems.evaluation("outer", SUM_C, "c", results={"prefix": a}))
    st = status(kube, op, a, "second", timeout=60)
    assert st["verdict"] == "InitializationError" and \
        f"results prefix s3://gavel/{a}/mine/ holds another Evaluation's results" in st["message"], st
    st = status(kube, op, a, "inner", timeout=60)
    assert f"s3://gavel/{a}/mine/inner/ lies inside another Evaluation's results s3://gavel/{a}/mine/" \
        in st["message"], st
    st = status(kube, op, a, "outer", timeout=60)  # around it: its listing would show the first one's files
    assert f"results prefix s3://gavel/{a}/ already holds objects" in st["message"], st
    # the first one's results are untouched
    assert json.loads(s3.client().get_object(BUCKET, f"{a}/mine/attempt-1/result.json").read())["verdict"] == "Accepted"


def test_a_namespace_with_its_own_credentials(kube, s3, tenants):
    """b's objects live in a bucket only b's MinIO user may touch; the operator presigns, reads
    results and writes logs with b's Secret. With that Secret's key wrong, nothing works, though
    the operator's own credentials could read everything: they are not used."""
    op, _, b, _ = tenants
    admin = MinioAdmin(endpoint=s3.endpoint, credentials=StaticProvider(s3.access_key, s3.secret_key), secure=False)
    user, secret = f"tenant-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
    root = s3.client()
    if not root.bucket_exists(TENANT_BUCKET):
        root.make_bucket(TENANT_BUCKET)
    admin.policy_add(user, policy={"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:*"],
         "Resource": [f"arn:aws:s3:::{TENANT_BUCKET}", f"arn:aws:s3:::{TENANT_BUCKET}/*"]}]})
    admin.user_add(user, secret)
    admin.policy_set(user, user=user)
    tenant = Minio(s3.endpoint, access_key=user, secret_key=secret, secure=False, region="us-east-1")
    assert not _can_read(tenant, BUCKET, "anything")  # the tenant's user is confined to its bucket

    def evaluation(name):
        objs = {}
        for key, text in (("src.c", SUM_C), ("1.in", "1 2\n"), ("1.out", "3\n")):
            tenant.put_object(TENANT_BUCKET, f"{b}/{name}/{key}", io.BytesIO(text.encode()), len(text))
            objs[key] = {"bucket": TENANT_BUCKET, "key": f"{b}/{name}/{key}"}
        return {"apiVersion": "gavel.dev/v1alpha1", "kind": "Evaluation", "metadata": {"name": name},
                "spec": {"language": "c", "submission": objs["src.c"],
                         "tests": [{"name": "1", "input": objs["1.in"], "expected": objs["1.out"]}],
                         "results": {"bucket": TENANT_BUCKET}}}

    def credentials(key):
        kube("-n", b, "apply", "-f", "-", input=json.dumps({
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "tenant-storage"},
            "stringData": {"accessKey": user, "secretKey": key}}))

    apply(kube, b, evaluation("no-secret"))
    st = status(kube, op, b, "no-secret", timeout=60)
    assert st["verdict"] == "InitializationError" and \
        f"storage credentials: Secret {b}/tenant-storage not found (tenancy.storage.credentialsSecret)" \
        in st["message"], st
    credentials(secret)
    apply(kube, b, evaluation("own"))
    st = status(kube, op, b, "own")
    assert st["verdict"] == "Accepted", st
    assert st["locations"]["result"].startswith(f"s3://{TENANT_BUCKET}/{b}/own/")
    tenant.stat_object(TENANT_BUCKET, st["locations"]["logs"].split("/", 3)[3])  # the runner log, there too
    credentials("wrong-" + secret)
    apply(kube, b, evaluation("wrong-key"))
    st = status(kube, op, b, "wrong-key", timeout=60)
    assert st["verdict"] == "InitializationError" and "AccessDenied" in st["message"], st


def _can_read(client, bucket, key) -> bool:
    try:
        client.stat_object(bucket, key)
        return True
    except S3Error as err:
        return err.code != "AccessDenied"  # NoSuchKey: allowed to look


def test_placement_is_the_administrators(kube, s3, tenants):
    op, a, _, c = tenants
    apply(kube, a, Problems(s3, a).evaluation("sandboxed", SUM_C, "c", runtimeClassName="gvisor"),
          Problems(s3, a).evaluation("vip", SUM_C, "c", priority=5))
    st = status(kube, op, a, "sandboxed", timeout=60)
    assert st["verdict"] == "InitializationError" and \
        f"namespace {a} may not use runtimeClassName gvisor (tenancy.placement.allowed.runtimeClassNames: none)" \
        in st["message"], st
    st = status(kube, op, a, "vip", timeout=60)
    assert "priority 5 exceeds" in st["message"] and "maxPriority" in st["message"], st
    # allowed, but nothing in the cluster answers to it: Failed, with the reason, within seconds
    problems = Problems(s3, c)
    started = time.monotonic()
    apply(kube, c, problems.evaluation("no-runtime", SUM_C, "c", runtimeClassName="no-such-runtime"),
          problems.evaluation("no-node", SUM_C, "c", nodeSelector={"gavel.dev/pool": "nowhere"}))
    st = status(kube, op, c, "no-runtime", timeout=60)
    assert st["phase"] == "Failed" and 'RuntimeClass "no-such-runtime" not found' in st["message"], st
    st = status(kube, op, c, "no-node", timeout=60)
    assert st["phase"] == "Failed" and st["conditions"][-1]["reason"] == "NoMatchingNode" and \
        "didn't match Pod's node affinity/selector" in st["message"], st
    print(f"both Failed {time.monotonic() - started:.1f} s after apply")
