"""Issue 21 item 3, on the real API server, real Jobs and MinIO: each attempt is a Job of its own
whose task names only that attempt's prefix (RESULTS/attempt-N/). A runner pod of an earlier
attempt that comes back (a paused node, a partition) holds PUT URLs only for its own prefix: with
every one of them, before and after the judged attempt's verdict, the verdict, status.locations,
the judged attempt's objects and what `gavel fetch` downloads are unchanged."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request

from conftest import BUCKET, apply, wait_phase
from s3server import read_all

from gavel_client.client import Storage, fetch
from gavel_operator import jobs

# the first attempt's pod (named after its Job, `...-a1-xxxxx`) outlives its deadline; the next answers
SLOW_FIRST = ("import socket, time\n"
              "if '-a1-' in socket.gethostname():\n"
              "    time.sleep(120)\n"
              "a, b = map(int, input().split())\n"
              "print(a + b)\n")


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


def test_a_stale_attempt_cannot_overwrite_the_judged_one(kube, namespace, operator, problems, tmp_path):
    client = problems.client
    ev = problems.evaluation("stale", SLOW_FIRST, "python", limits={"timeMs": 5000, "wallMs": 60000},
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
    assert first.get("attempt", 1) == 1

    # its pod outlives its deadline: the operator starts attempt 2, a Job and task of its own
    second = kube.wait_for("attempt 2's task Secret", lambda: task_of(kube, namespace, second_job), timeout=120,
                           interval=0.5)
    assert second["attempt"] == 2 and all(k.startswith(f"{prefix}/attempt-2/") for k in put_urls(second))
    assert not set(stale) & set(put_urls(second))
    # while attempt 2 runs, the stale pod "comes back" and uploads a verdict of its own (claiming attempt 2)
    forged = json.dumps({"apiVersion": "gavel.dev/result/v1", "attempt": 2, "verdict": "TestFailed",
                         "message": "forged by a stale attempt",
                         "tests": [{"name": "1", "verdict": "WrongAnswer"}, {"name": "2", "verdict": "WrongAnswer"}]})
    assert put(stale[f"{prefix}/attempt-1/result.json"], forged.encode()) == 200

    st = wait_phase(kube, namespace, "stale", operator=operator, timeout=240)["status"]
    assert (st["verdict"], st["passed"], st["attempts"], st["jobName"]) == ("Accepted", "2/2", 2, second_job), st
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
    # attempt 1's log is kept in its own prefix
    assert f"{prefix}/attempt-1/runner.log" in read_all(client, BUCKET, f"{prefix}/attempt-1/")

    judged = read_all(client, BUCKET, f"{prefix}/attempt-2/")
    assert json.loads(judged[f"{prefix}/attempt-2/result.json"])["attempt"] == 2
    evaluation = kube.json("-n", namespace, "get", "evaluation", "stale")

    # after the verdict, every URL the stale pod holds: they work, and reach attempt-1/ only
    for key, url in stale.items():
        assert put(url, b"forged by a stale attempt\n") == 200, key
    assert read_all(client, BUCKET, f"{prefix}/attempt-2/") == judged
    assert kube.json("-n", namespace, "get", "evaluation", "stale")["status"] == evaluation["status"]
    overwritten = read_all(client, BUCKET, f"{prefix}/attempt-1/")
    assert {k for k, v in overwritten.items() if v == b"forged by a stale attempt\n"} == set(stale)

    # `gavel fetch` downloads the judged attempt's outputs, none of the stale one's
    storage = Storage(operator.s3.endpoint, operator.s3.access_key, operator.s3.secret_key, bucket=BUCKET)
    fetched = fetch(storage, evaluation, tmp_path / "fetched")
    assert {p.name for p in fetched} >= {"result.json", "runner.log", "1.stdout", "2.stdout"}, fetched
    assert not [p for p in fetched if b"forged" in p.read_bytes()]
    assert json.loads((tmp_path / "fetched" / "result.json").read_text())["verdict"] == "Accepted"
