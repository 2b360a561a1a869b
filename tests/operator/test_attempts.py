"""Issue 21 item 3, on the real API server, real Jobs and MinIO: each attempt is a Job of its own
whose task names only that attempt's prefix (RESULTS/attempt-N/). A runner pod of an earlier
attempt that comes back (a paused node, a partition) holds PUT URLs only for its own prefix.

Tried as that pod would (docs/attempts.md lists the attacks): with every one of its URLs, before
and after the judged attempt's verdict, forging the verdict the submission wants (Accepted, where
the judged attempt said TestFailed), its signature moved onto the judged attempt's keys, a path
that climbs out of its prefix: the verdict, status.locations, the judged attempt's objects and
what `gavel fetch` downloads are unchanged. A retry holds the slot it held and no other; cancel
and deletion take every attempt's Job."""

from __future__ import annotations

import base64
import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from conftest import BUCKET, apply, wait_phase
from s3server import read_all

from gavel_client.client import Storage, fetch
from gavel_operator import jobs

# the first attempt's pod (named after its Job, `...-a1-xxxxx`) outlives its deadline; the next one
# answers, wrongly: the judged verdict is TestFailed, and Accepted is what a forger wants
SLOW_FIRST_THEN_WRONG = ("import socket, time\n"
                         "if '-a1-' in socket.gethostname():\n"
                         "    time.sleep(120)\n"
                         "a, b = map(int, input().split())\n"
                         "print(a + b + 1)\n")
ALWAYS_SLOW = "import time\ntime.sleep(120)\n"
FORGED = json.dumps({"apiVersion": "gavel.dev/result/v1", "verdict": "Accepted", "message": "forged by a stale attempt",
                     "tests": [{"name": "1", "verdict": "Passed"}, {"name": "2", "verdict": "Passed"}]}).encode()


def task_of(kube, namespace: str, job: str) -> dict | None:
    out = kube.run("-n", namespace, "get", "secret", job, "-o", "json", check=False)
    if out.returncode != 0:
        return None
    return json.loads(base64.b64decode(json.loads(out.stdout)["data"]["task.json"]))


def put_urls(task: dict) -> dict[str, str]:
    """Every presigned PUT URL of a task: its key (without the query) -> the URL."""
    urls = [task["result"], task["compileOutput"]] + [t[f] for t in task["tests"] for f in ("stdout", "stderr", "diff")]
    return {u.split("?", 1)[0].split(f"/{BUCKET}/", 1)[1]: u for u in urls}


def put(url: str, data: bytes) -> int:
    req = urllib.request.Request(url, data=data, method="PUT")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


def put_raw(url: str, path: str, data: bytes) -> int:
    """PUT to `path` (sent as is, never normalized) with the query string of `url`."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.netloc, timeout=10)
    try:
        conn.request("PUT", f"{path}?{parts.query}", body=data)
        return conn.getresponse().status
    finally:
        conn.close()


@pytest.fixture
def operator(operator_factory, namespace):
    """An operator of the test's namespace alone: its running count (ledger) is this test's."""
    op = operator_factory(namespaces=namespace)
    yield op
    op.stop()


def running(operator) -> int:
    """The operator's running count (its ledger), as gavel_running reads it at scrape time (kopf's
    /healthz caches its probes for a minute)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{operator.metrics}/metrics", timeout=5) as resp:
        lines = resp.read().decode().splitlines()
    return int(sum(float(line.rsplit(" ", 1)[1]) for line in lines if line.startswith("gavel_running{")))


def jobs_of(kube, namespace: str, name: str) -> list[str]:
    found = kube.json("-n", namespace, "get", "jobs", "-l", f"{jobs.LABEL_EVALUATION}={name}")["items"]
    return sorted(j["metadata"]["name"] for j in found if not j["metadata"].get("deletionTimestamp"))


def test_a_stale_attempt_cannot_change_the_judged_one(kube, namespace, operator, problems, tmp_path):
    client = problems.client
    ev = problems.evaluation("stale", SLOW_FIRST_THEN_WRONG, "python", limits={"timeMs": 5000, "wallMs": 60000},
                             deadlineSeconds=20, retries=1)
    apply(kube, namespace, ev)
    uid = kube.json("-n", namespace, "get", "evaluation", "stale")["metadata"]["uid"]
    prefix = f"{namespace}/stale/{uid}"
    first_job, second_job = jobs.job_name("stale", uid, 1), jobs.job_name("stale", uid, 2)

    # attempt 1's task, as its pod holds it in memory: PUT URLs for attempt-1/ only
    first = kube.wait_for("attempt 1's task Secret", lambda: task_of(kube, namespace, first_job), timeout=60,
                          interval=0.5)
    stale = put_urls(first)
    assert stale and all(k.startswith(f"{prefix}/attempt-1/") for k in stale), sorted(stale)
    assert "attempt" not in first  # the URLs say it: a runner older than the operator reads every attempt's task

    # its pod outlives its deadline: the operator starts attempt 2, a Job and task of its own, in the slot
    # attempt 1 held (one running, never two, never none)
    # (sampled from attempt 1's Job on: its Secret is made just before it, and the slot counted just after)
    kube.wait_for("attempt 1's Job", lambda: first_job in jobs_of(kube, namespace, "stale"), timeout=30,
                  interval=0.2)
    slots = []
    second = None
    deadline = time.monotonic() + 120
    while second is None and time.monotonic() < deadline:
        slots.append(running(operator))
        second = task_of(kube, namespace, second_job)
        time.sleep(0.3)
    assert second is not None, "no attempt 2"
    assert set(slots) == {1}, slots
    assert all(k.startswith(f"{prefix}/attempt-2/") for k in put_urls(second))
    assert not set(stale) & set(put_urls(second))
    # while attempt 2 runs, the stale pod "comes back" and uploads the verdict it wants
    assert put(stale[f"{prefix}/attempt-1/result.json"], FORGED) == 200

    st = wait_phase(kube, namespace, "stale", operator=operator, timeout=240)["status"]
    assert (st["verdict"], st["passed"], st["attempts"], st["jobName"]) == ("TestFailed", "0/2", 2, second_job), st
    loc = st["locations"]
    assert loc["outputs"] == f"s3://{BUCKET}/{prefix}/attempt-2/", loc
    assert loc["result"] == f"s3://{BUCKET}/{prefix}/attempt-2/result.json", loc
    assert loc["logs"] == f"s3://{BUCKET}/{prefix}/attempt-2/runner.log", loc
    assert "attempt-1" not in json.dumps(st)
    first_status = kube.json("-n", namespace, "get", "job", first_job)["status"]
    assert any(c["type"] == "Failed" and c["status"] == "True" for c in first_status.get("conditions") or []), \
        first_status
    events = kube("-n", namespace, "get", "events", "--field-selector", "involvedObject.name=stale,reason=Retrying")
    assert "attempt 1" in events, events
    assert kube.wait_for("the slot freed", lambda: running(operator) == 0, timeout=30, interval=0.5)
    # attempt 1's log is kept in its own prefix
    assert f"{prefix}/attempt-1/runner.log" in read_all(client, BUCKET, f"{prefix}/attempt-1/")

    judged = read_all(client, BUCKET, f"{prefix}/attempt-2/")
    assert json.loads(judged[f"{prefix}/attempt-2/result.json"])["verdict"] == "TestFailed"
    evaluation = kube.json("-n", namespace, "get", "evaluation", "stale")

    # after the verdict, every URL the stale pod holds: they work, and reach attempt-1/ only
    for key, url in stale.items():
        assert put(url, FORGED if key.endswith("result.json") else b"forged by a stale attempt\n") == 200, key
    # its signatures on the judged attempt's keys, or on a path that climbs out of its prefix: refused
    url = stale[f"{prefix}/attempt-1/result.json"]
    for path in (f"/{BUCKET}/{prefix}/attempt-2/result.json",
                 f"/{BUCKET}/{prefix}/attempt-1/../attempt-2/result.json",
                 f"/{BUCKET}/{prefix}/attempt-1/%2E%2E/attempt-2/result.json"):
        assert put_raw(url, path, FORGED) >= 400, path
    assert read_all(client, BUCKET, f"{prefix}/attempt-2/") == judged
    time.sleep(3)  # what the operator would do with it, it has done by now
    assert kube.json("-n", namespace, "get", "evaluation", "stale")["status"] == evaluation["status"]
    overwritten = read_all(client, BUCKET, f"{prefix}/attempt-1/")
    assert {k for k in stale if overwritten.get(k) in (FORGED, b"forged by a stale attempt\n")} == set(stale)

    # `gavel fetch` downloads the judged attempt's outputs, none of the stale one's
    storage = Storage(operator.s3.endpoint, operator.s3.access_key, operator.s3.secret_key, bucket=BUCKET)
    fetched = fetch(storage, evaluation, tmp_path / "fetched")
    assert {p.name for p in fetched} >= {"result.json", "runner.log", "1.stdout", "2.stdout"}, fetched
    assert not [p for p in fetched if b"forged" in p.read_bytes()]
    assert json.loads((tmp_path / "fetched" / "result.json").read_text())["verdict"] == "TestFailed"

    # deleting the Evaluation takes every attempt's Job and Secret (owner references)
    kube("-n", namespace, "delete", "evaluation", "stale", "--wait=true")
    kube.wait_for("every attempt's Job gone", lambda: not jobs_of(kube, namespace, "stale"), timeout=60)
    for job in (first_job, second_job):
        kube.wait_for(f"Secret {job} gone", lambda: task_of(kube, namespace, job) is None, timeout=60)


def test_cancel_stops_every_attempt_and_starts_no_other(kube, namespace, operator, problems):
    ev = problems.evaluation("slow", ALWAYS_SLOW, "python", limits={"timeMs": 5000, "wallMs": 60000},
                             deadlineSeconds=20, retries=3)
    apply(kube, namespace, ev)
    uid = kube.json("-n", namespace, "get", "evaluation", "slow")["metadata"]["uid"]
    second_job = jobs.job_name("slow", uid, 2)
    kube.wait_for("attempt 2's Job", lambda: second_job in jobs_of(kube, namespace, "slow"), timeout=120,
                  interval=0.5)
    assert running(operator) == 1
    kube("-n", namespace, "patch", "evaluation", "slow", "--type=merge", "-p", '{"spec":{"cancel":true}}')
    st = wait_phase(kube, namespace, "slow", operator=operator, timeout=60)["status"]
    assert st["phase"] == "Canceled", st
    assert st["locations"]["logs"] == f"s3://{BUCKET}/{namespace}/slow/{uid}/attempt-2/runner.log", st
    kube.wait_for("every attempt's Job gone", lambda: not jobs_of(kube, namespace, "slow"), timeout=60)
    assert kube.wait_for("the slot freed", lambda: running(operator) == 0, timeout=30, interval=0.5)
    time.sleep(25)  # attempt 2's pod would have failed by its deadline: no attempt 3 comes of it
    assert jobs_of(kube, namespace, "slow") == []
    assert kube.json("-n", namespace, "get", "evaluation", "slow")["status"]["phase"] == "Canceled"
