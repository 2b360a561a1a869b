"""Issue 20 on the real API server, real Jobs and MinIO: progress while judging, and what
`kubectl get evaluations -w` shows from apply to verdict (Queued with its position, Pending with
the scheduler's words, Running with progress, the verdict).

Each test starts its own operator (two must never watch the cluster at once) and stops it."""

from __future__ import annotations

import json
import subprocess
import threading
import time

import pytest

from conftest import BUCKET, apply, describe, wait_phase
from s3server import read_all

from gavel_client.client import Storage, fetch, signed_links

# sums its input after half a second of sleeping: every test takes ~0.5 s of wall clock, no CPU
SLOW_C = ('#include <stdio.h>\n#include <unistd.h>\n'
          'int main(){long a,b;scanf("%ld %ld",&a,&b);usleep(500000);printf("%ld\\n",a+b);}\n')
SIGNATURE = "X-Amz-Signature"


class Watch:
    """`kubectl get evaluations -w` in the background: every version of every Evaluation of the
    namespace as JSON (what a backend's watch sees), and the table a person sees (-o wide)."""

    def __init__(self, kube, namespace: str):
        base = [kube.kubectl, "--kubeconfig", kube.kubeconfig, "-n", namespace, "get", "evaluations", "-w"]
        self.objects: list[tuple[float, dict]] = []
        self.lines: list[str] = []
        self.procs = [subprocess.Popen(base + ["-o", "json"], stdout=subprocess.PIPE, text=True),
                      subprocess.Popen(base + ["-o", "wide"], stdout=subprocess.PIPE, text=True)]
        self.threads = [threading.Thread(target=self._json, daemon=True),
                        threading.Thread(target=self._table, daemon=True)]
        for t in self.threads:
            t.start()

    def _json(self) -> None:
        decoder, buf = json.JSONDecoder(), ""
        for line in self.procs[0].stdout:
            buf += line
            while buf.strip():
                try:
                    obj, end = decoder.raw_decode(buf.lstrip())
                except json.JSONDecodeError:
                    break
                self.objects.append((time.monotonic(), obj))
                buf = buf.lstrip()[end:]

    def _table(self) -> None:
        for line in self.procs[1].stdout:
            self.lines.append(line.rstrip("\n"))

    def of(self, name: str) -> list[dict]:
        return [o for _, o in self.objects if o["metadata"]["name"] == name]

    def stop(self) -> None:
        time.sleep(1)  # the last events
        for p in self.procs:
            p.terminate()
            p.wait(10)


def running_progress(versions: list[dict]) -> list[int]:
    """status.progress.judged of each version seen while Running, changes only."""
    seen: list[int] = []
    for v in versions:
        st = v.get("status") or {}
        if st.get("phase") == "Running" and (st.get("progress") or {}).get("judged") is not None:
            if not seen or seen[-1] != st["progress"]["judged"]:
                seen.append(st["progress"]["judged"])
    return seen


def test_progress_rises_while_it_runs_and_the_verdict_is_the_results(kube, namespace, operator_factory, problems,
                                                                     s3, tmp_path):
    operator = operator_factory(log_url_template="https://logs.example.com/{namespace}/{pod}?ev={name}",
                                outputs_url_template="https://console.example.com/browser/{bucket}/{prefix}/")
    watch = Watch(kube, namespace)
    try:
        n = 20
        ev = problems.evaluation("slow", SLOW_C, "c", {str(i): (f"{i} 1\n", f"{i + 1}\n") for i in range(1, n + 1)},
                                 limits={"timeMs": 1000, "memoryKb": 65536})
        apply(kube, namespace, ev)
        uid = kube.json("-n", namespace, "get", "evaluation", "slow")["metadata"]["uid"]
        key = f".gavel/progress/{uid}.json"
        # while it runs, the runner's object is in the operator's prefix: time the operator's one GET of it
        raw = kube.wait_for("the progress object", lambda: read_all(s3.client(), BUCKET, key).get(key),
                            timeout=120, interval=0.2)
        assert json.loads(raw)["total"] == n and SIGNATURE.encode() not in raw
        client, took = s3.client(), []
        for _ in range(20):
            began = time.monotonic()
            resp = client.get_object(BUCKET, key)
            resp.read()
            resp.close()
            resp.release_conn()
            took.append(time.monotonic() - began)
        obj = wait_phase(kube, namespace, "slow", timeout=240, operator=operator)
    finally:
        watch.stop()
        operator.stop()
    st = obj["status"]
    versions = watch.of("slow")
    seen = running_progress(versions)
    stages = [((v.get("status") or {}).get("progress") or {}).get("stage") for v in versions]
    writes = sum(1 for a, b in zip(versions, versions[1:])
                 if (a.get("status") or {}).get("progress") != (b.get("status") or {}).get("progress"))
    print(f"\nprogress seen while Running: {seen}; {writes} status.progress changes in {len(versions)} versions; "
          f"GET of the progress object: median {sorted(took)[len(took) // 2] * 1000:.1f} ms, "
          f"max {max(took) * 1000:.1f} ms ({len(raw)} bytes)")
    print("\n".join(watch.lines))
    why = describe(kube, namespace, "slow", operator)
    # progress rose at least three times before the verdict, never fell, and said where it was
    assert len(seen) >= 4 and seen == sorted(seen) and seen[-1] <= n, (seen, why)
    assert "judging" in stages, (stages, why)
    assert any(((v.get("status") or {}).get("progress") or {}).get("test") for v in versions
               if (v.get("status") or {}).get("phase") == "Running"), why
    # the final status agrees with the result
    assert st["phase"] == "Succeeded" and st["verdict"] == "Accepted" and st["passed"] == f"{n}/{n}", why
    assert st["progress"] == {"stage": "done", "judged": n, "total": n, "summary": f"{n}/{n}",
                              "verdicts": {"Passed": n}, "score": n, "maxScore": n}, why
    result = json.loads(s3.client().get_object(BUCKET, st["locations"]["result"].split("/", 3)[3]).read())
    assert result["verdict"] == "Accepted" and len(result["tests"]) == n
    # the links: rendered from the templates, the log's once the pod ran; no signature anywhere in status
    job_pods = kube.json("-n", namespace, "get", "pods", "-l", f"job-name={st['jobName']}")["items"]
    assert st["logUrl"] == (f"https://logs.example.com/{namespace}/{job_pods[-1]['metadata']['name']}?ev=slow"), why
    prefix = st["locations"]["outputs"].removeprefix(f"s3://{BUCKET}/")
    assert st["outputsUrl"] == f"https://console.example.com/browser/{BUCKET}/{prefix}", why
    assert SIGNATURE not in json.dumps(st) and "progress" not in json.dumps(st["locations"])
    # Events only at the start and the end: none per progress
    events = kube.json("-n", namespace, "get", "events", "--field-selector", "involvedObject.name=slow")["items"]
    reasons = [e["reason"] for e in events]
    assert sorted(r for r in reasons if r != "Logging") == ["Accepted", "JobCreated"], reasons  # Logging: kopf's
    assert sum(e.get("count") or 1 for e in events) <= 6, (reasons, writes)  # however many progress writes
    # the object is gone with the verdict, and never among the outputs
    assert read_all(s3.client(), BUCKET, key) == {}
    storage = Storage(s3.endpoint, s3.access_key, s3.secret_key, bucket=BUCKET)
    fetched = {p.name for p in fetch(storage, obj, tmp_path / "out")}
    assert "result.json" in fetched and not [f for f in fetched if "progress" in f], fetched
    # gavel fetch --url: a signed GET per output of this Evaluation's prefix, each opening that object only
    links = signed_links(storage, obj, seconds=60)
    assert set(links) == fetched and all(f"/{BUCKET}/{prefix}" in u and SIGNATURE in u for u in links.values())
    import urllib.request
    assert json.loads(urllib.request.urlopen(links["result.json"], timeout=10).read())["verdict"] == "Accepted"
    assert kube.json("-n", namespace, "get", "evaluation", "slow")["status"] == st  # nothing stored by it
    # the table a person watches: Running with the Progress column, then the verdict
    rows = [line.split() for line in watch.lines if line.startswith("slow ")]
    assert any(r[1] == "Running" and r[2] == f"{seen[1]}/{n}" for r in rows), watch.lines
    assert rows[-1][1:4] == ["Succeeded", f"{n}/{n}", "Accepted"], watch.lines


def test_the_watch_tells_the_story_queued_pending_running_final(kube, namespace, operator_factory, problems):
    """One slot: the first runs while the others wait, each Queued with its position; then each is
    Pending (Job created), Running with progress, and judged."""
    operator = operator_factory(max_running=1)
    watch = Watch(kube, namespace)
    names = ("first", "second", "third")
    try:
        tests = {str(i): (f"{i} 1\n", f"{i + 1}\n") for i in range(1, 9)}  # ~4 s each
        for name in names:  # one by one: each admitted after the one before
            apply(kube, namespace, problems.evaluation(name, SLOW_C, "c", tests, limits={"timeMs": 1000}))
            kube.wait_for(f"{name} admitted", lambda: (kube.json("-n", namespace, "get", "evaluation", name)
                                                       .get("status") or {}).get("phase"), timeout=60, interval=0.3)
        final = {name: wait_phase(kube, namespace, name, timeout=300, operator=operator) for name in names}
    finally:
        watch.stop()
        operator.stop()
    print("\n" + "\n".join(watch.lines))
    why = "\n".join(watch.lines) + describe(kube, namespace, "third", operator)
    messages = {name: [(v.get("status") or {}).get("message") for v in watch.of(name)
                       if (v.get("status") or {}).get("phase") == "Queued"] for name in names}
    assert "waiting for a free slot: position 1 in queue default when admitted" in messages["second"], why
    assert "waiting for a free slot: position 2 in queue default when admitted" in messages["third"], why
    for name in names:
        phases = []
        for v in watch.of(name):
            phase = (v.get("status") or {}).get("phase")
            if phase and (not phases or phases[-1] != phase):
                phases.append(phase)
        story = ["Pending", "Running", "Succeeded"] if name == "first" else ["Queued", "Pending", "Running", "Succeeded"]
        assert phases == story, (name, phases, why)
        assert len(running_progress(watch.of(name))) >= 2, (name, why)
        assert final[name]["status"]["verdict"] == "Accepted" and final[name]["status"]["progress"]["summary"] == "8/8"
    rows = [line.split() for line in watch.lines if line.startswith("third ")]
    assert any("position 2 in queue default" in " ".join(r) for r in rows if r[1] == "Queued"), why


def test_pending_says_what_the_scheduler_says(kube, namespace, operator_factory, problems):
    """A runner pod no node can take (it asks for 1000 CPUs): Pending, with the scheduler's words."""
    operator = operator_factory(runner_cpu="1000", runner_cpu_limit="1000")
    try:
        apply(kube, namespace, problems.evaluation("huge", SLOW_C, "c"))
        st = kube.wait_for("the scheduler's reason", lambda: (lambda s: s if s.get("message", "").startswith(
            "waiting for a node: ") else None)(kube.json("-n", namespace, "get", "evaluation", "huge").get("status")
                                              or {}), timeout=90, interval=0.5)
        assert st["phase"] == "Pending" and "Insufficient cpu" in st["message"], st
        assert st["progress"]["summary"] == "0/2"
        table = kube("-n", namespace, "get", "evaluations", "-o", "wide")
        assert "waiting for a node: 0/" in table and "Insufficient cpu" in table, table
        kube("-n", namespace, "patch", "evaluation", "huge", "--type=merge", "-p", '{"spec":{"cancel":true}}')
        assert wait_phase(kube, namespace, "huge", operator=operator, timeout=60)["status"]["phase"] == "Canceled"
    finally:
        operator.stop()
