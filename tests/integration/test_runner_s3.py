"""`gavel-runner run` against a real S3 server (MinIO on loopback) with presigned URLs,
as a pod runs it: objects in, verdicts and outputs out, and every kind of bad input."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from gavel_contract import Result, Task, TestVerdict, Verdict
from gavel_contract.languages import resolve
from s3server import minio_server

SUM = '#include <stdio.h>\nint main(){long a,b;scanf("%ld %ld",&a,&b);printf("%ld\\n",a+b);}\n'
HOUR = timedelta(hours=1)


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    with minio_server(tmp_path_factory.mktemp("minio") / "data") as server:
        client = server.client()
        for bucket in ("problems", "results"):
            client.make_bucket(bucket)
        yield server


def put(client, bucket, key, text):
    data = text.encode()
    client.put_object(bucket, key, io.BytesIO(data), len(data))


def get(client, bucket, key) -> bytes:
    resp = client.get_object(bucket, key)
    try:
        return resp.read()
    finally:
        resp.close()
        resp.release_conn()


def make_task(s3, source=SUM, language="c", tests=None, get_expiry=HOUR, results_bucket="results") -> tuple[dict, str]:
    """Upload a problem and a submission; a task with presigned URLs, as the operator makes one."""
    client = s3.client()
    run = uuid.uuid4().hex[:8]
    tests = tests or {"1": ("1 2\n", "3\n"), "2": ("40 2\n", "42\n")}
    put(client, "problems", f"{run}/main.c", source)
    for name, (inp, ans) in tests.items():
        put(client, "problems", f"{run}/{name}.in", inp)
        put(client, "problems", f"{run}/{name}.out", ans)
    lang, ver = resolve(language)
    pget = lambda key: client.presigned_get_object("problems", f"{run}/{key}", expires=get_expiry)  # noqa: E731
    pput = lambda key: client.presigned_put_object(results_bucket, f"{run}/{key}", expires=HOUR)  # noqa: E731
    task = {
        "apiVersion": "gavel.dev/task/v1", "id": f"default/{run}", "language": ver.model_dump(by_alias=True, mode="json"),
        "languageName": lang.name, "submission": pget("main.c"),
        "tests": [{"name": n, "input": pget(f"{n}.in"), "expected": pget(f"{n}.out"),
                   "stdout": pput(f"{n}.stdout"), "stderr": pput(f"{n}.stderr"), "diff": pput(f"{n}.diff"),
                   "limits": {"timeMs": 1000, "memoryKb": 65536}} for n in tests],
        "result": pput("result.json"), "compileOutput": pput("compile.txt"),
    }
    Task.model_validate(task)
    return task, run


def run_runner(tmp_path: Path, task: dict | str) -> tuple[int, str, dict]:
    task_file = tmp_path / "task.json"
    task_file.write_text(task if isinstance(task, str) else json.dumps(task))
    task_file.chmod(0o600)
    term = tmp_path / "termination-log"
    proc = subprocess.run([str(Path(sys.executable).with_name("gavel-runner")), "run", str(task_file),
                           "--termination-log", str(term)], capture_output=True, text=True, timeout=120)
    summary = json.loads(term.read_text()) if term.exists() else {}
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, proc.stderr, summary


def test_accepted_with_every_output_uploaded(s3, tmp_path):
    task, run = make_task(s3)
    code, _, summary = run_runner(tmp_path, task)
    assert code == 0
    assert summary == {"apiVersion": "gavel.dev/result/v1", "verdict": "Accepted", "passed": 2, "total": 2,
                       "tests": "PP", "message": "2/2 tests passed", "score": 2, "maxScore": 2}
    client = s3.client()
    result = Result.model_validate_json(get(client, "results", f"{run}/result.json"))
    assert result.verdict == Verdict.ACCEPTED and result.id == task["id"]
    assert get(client, "results", f"{run}/2.stdout") == b"42\n"
    assert result.tests[1].stdout == f"http://{s3.endpoint}/results/{run}/2.stdout"  # signature never echoed
    assert "X-Amz-Signature" not in json.dumps(result.dump())


def test_a_task_in_storage_named_by_a_task_ref(s3, tmp_path):
    """What the operator does with a task too large for a Secret (hundreds of tests)."""
    task, run = make_task(s3, tests={str(i): (f"{i} {i}\n", f"{2 * i}\n") for i in range(1, 301)})
    client = s3.client()
    put(client, "results", f"{run}/task.json", json.dumps(task))
    ref = {"apiVersion": "gavel.dev/taskref/v1", "url": client.presigned_get_object("results", f"{run}/task.json")}
    code, _, summary = run_runner(tmp_path, ref)
    assert code == 0 and summary["verdict"] == "Accepted" and summary["passed"] == 300, summary
    client.remove_object("results", f"{run}/task.json")
    code, _, summary = run_runner(tmp_path, ref)  # gone: said, not a crash
    assert code == 1 and "cannot load the task" in summary["message"] and "X-Amz" not in summary["message"]


def test_wrong_answer_uploads_a_diff(s3, tmp_path):
    task, run = make_task(s3, source='#include <stdio.h>\nint main(){puts("3");}\n')
    code, _, summary = run_runner(tmp_path, task)
    assert code == 0 and summary["verdict"] == "TestFailed" and summary["tests"] == "PW"
    diff = get(s3.client(), "results", f"{run}/2.diff").decode()
    assert diff.startswith("line 1: expected '42', got '3'") and "-42" in diff and "+3" in diff


def test_compilation_error_uploads_compiler_output(s3, tmp_path):
    task, run = make_task(s3, source="int main(){ nope }\n")
    code, _, summary = run_runner(tmp_path, task)
    assert code == 0 and summary["verdict"] == "CompilationError"
    assert b"error" in get(s3.client(), "results", f"{run}/compile.txt")
    result = Result.model_validate_json(get(s3.client(), "results", f"{run}/result.json"))
    assert "nope" in result.message and result.compile_output_location.endswith("/compile.txt")


def test_expired_url_is_an_initialization_error(s3, tmp_path):
    task, run = make_task(s3, get_expiry=timedelta(seconds=1))
    time.sleep(2.5)
    code, _, summary = run_runner(tmp_path, task)
    assert code == 0 and summary["verdict"] == "InitializationError"
    assert f"cannot fetch http://{s3.endpoint}/problems/{run}/main.c: HTTP 403" in summary["message"]
    assert "expired" in summary["message"] and "Signature" not in summary["message"]


def test_missing_object_is_an_initialization_error(s3, tmp_path):
    task, run = make_task(s3)
    s3.client().remove_object("problems", f"{run}/2.out")
    code, _, summary = run_runner(tmp_path, task)
    assert code == 0 and summary["verdict"] == "InitializationError"
    assert f"/problems/{run}/2.out: HTTP 404" in summary["message"]


def test_unreachable_storage_is_an_initialization_error(s3, tmp_path):
    task, _ = make_task(s3)
    task["submission"] = "http://127.0.0.1:9/problems/x/main.c?X-Amz-Signature=secret"
    code, _, summary = run_runner(tmp_path, task)
    assert code == 0 and summary["verdict"] == "InitializationError"
    assert "cannot connect" in summary["message"] and "secret" not in summary["message"]


def test_unwritable_output_is_an_internal_error_never_half_reported(s3, tmp_path):
    task, run = make_task(s3)
    task["tests"][1]["stdout"] = s3.client().presigned_put_object("no-such-bucket", f"{run}/2.stdout", expires=HOUR)
    code, _, summary = run_runner(tmp_path, task)
    assert code == 0 and summary["verdict"] == "InternalError"
    assert "could not upload its outputs" in summary["message"] and "no-such-bucket" in summary["message"]
    result = Result.model_validate_json(get(s3.client(), "results", f"{run}/result.json"))
    assert result.tests[1].stdout is None  # never points at what is not there


def test_unwritable_result_exits_nonzero_with_the_summary(s3, tmp_path):
    task, _ = make_task(s3, results_bucket="no-such-bucket")
    task["tests"] = [{k: v for k, v in t.items() if k not in ("stdout", "stderr", "diff")} for t in task["tests"]]
    task["compileOutput"] = None
    code, stderr, summary = run_runner(tmp_path, task)
    assert code == 1 and summary["verdict"] == "Accepted"
    assert "cannot store" in stderr and "no-such-bucket" in stderr


def test_malformed_task(tmp_path):
    code, _, summary = run_runner(tmp_path, '{"apiVersion": "gavel.dev/task/v1", "tests": []}')
    assert code == 1 and summary["verdict"] == "InitializationError"
    assert summary["message"].startswith("malformed task: ")
    assert "language: Field required" in summary["message"] and "tests: List should have at least 1 item" in summary["message"]
    code, _, summary = run_runner(tmp_path, "not json")
    assert code == 1 and "malformed task" in summary["message"]


def test_custom_checker_and_float_checker(s3, tmp_path, judge_source):
    checker = tmp_path / "check.py"
    checker.write_text("import sys\n"
                       "inp, out, ans = (open(p).read().split() for p in sys.argv[1:4])\n"
                       "ok = sum(map(int, out)) == sum(map(int, inp))\n"
                       "print('ok' if ok else 'wrong sum', file=sys.stderr)\n"
                       "sys.exit(0 if ok else 1)\n")
    from gavel_contract import Checker
    custom = Checker(kind="custom", program=str(checker), language="python")
    res = judge_source("print(*input().split()[::-1])\n", "python", {"1": ("1 2\n", "3\n")}, checker=custom)
    assert res.verdict == Verdict.ACCEPTED, res.message
    res = judge_source("print(5)\n", "python", {"1": ("1 2\n", "3\n")}, checker=custom)
    assert res.tests[0].verdict == TestVerdict.WRONG_ANSWER and res.tests[0].message == "wrong sum"
    res = judge_source("print('%.7f' % (1/3))\n", "python", {"1": ("", "0.333333333\n")}, checker="float:1e-6")
    assert res.verdict == Verdict.ACCEPTED
    res = judge_source("print('%.3f' % (1/3))\n", "python", {"1": ("", "0.333333333\n")}, checker="float:1e-6")
    assert res.verdict == Verdict.TEST_FAILED


SLOW_SUM = ('#include <stdio.h>\n#include <unistd.h>\n'
            'int main(){long a,b;scanf("%ld %ld",&a,&b);usleep(300000);printf("%ld\\n",a+b);}\n')


def test_progress_is_overwritten_through_its_presigned_url_while_judging(s3, tmp_path):
    """Issue 20: the runner's progress object, written as the tests go, ending with the result's counts."""
    task, run = make_task(s3, source=SLOW_SUM, tests={str(i): (f"{i} 1\n", f"{i + 1}\n") for i in range(1, 11)})
    client = s3.client()
    task["progress"] = client.presigned_put_object("results", f"{run}/progress.json", expires=HOUR)
    task["progressSeconds"] = 1
    seen, stop = [], False

    def watch():
        while not stop:
            try:
                doc = json.loads(get(client, "results", f"{run}/progress.json"))
            except Exception:  # noqa: BLE001 - not written yet
                doc = None
            if doc and (not seen or seen[-1] != doc):
                seen.append(doc)
            time.sleep(0.1)

    import threading
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    code, stderr, summary = run_runner(tmp_path, task)
    time.sleep(0.3)
    stop = True
    watcher.join(5)
    assert code == 0 and summary["verdict"] == "Accepted", summary
    judged = [d["judged"] for d in seen]
    assert judged == sorted(judged) and len(set(j for j in judged if 0 < j < 10)) >= 2, seen
    assert seen[-1] == {"apiVersion": "gavel.dev/progress/v1", "stage": "done", "judged": 10, "total": 10,
                        "verdicts": {"Passed": 10}, "score": 10.0, "maxScore": 10.0}
    assert {d["stage"] for d in seen} >= {"judging", "done"}
    assert "X-Amz" not in stderr


def test_gavel_fetch_url_signs_only_the_evaluations_own_prefix(s3, tmp_path):
    from gavel_client.client import NotItsOwn, Storage, signed_links

    client, prefix = s3.client(), f"ns/e/{uuid.uuid4()}"
    put(client, "results", f"{prefix}/.gavel-evaluation", "uid-1")
    put(client, "results", f"{prefix}/result.json", '{"verdict": "Accepted"}')
    put(client, "results", f"{prefix}/1.stdout", "3\n")
    storage = Storage(s3.endpoint, s3.access_key, s3.secret_key, bucket="results")
    ev = {"metadata": {"uid": "uid-1"}, "status": {"locations": {"outputs": f"s3://results/{prefix}/"}}}
    links = signed_links(storage, ev, seconds=60)
    assert set(links) == {"result.json", "1.stdout"}  # the claim marker is no output
    import urllib.request
    assert urllib.request.urlopen(links["1.stdout"], timeout=10).read() == b"3\n"
    assert "X-Amz-Expires=60" in links["1.stdout"]
    with pytest.raises(NotItsOwn):  # another Evaluation's prefix
        signed_links(storage, {**ev, "metadata": {"uid": "uid-2"}})
    put(client, "results", "shared/result.json", "{}")
    with pytest.raises(NotItsOwn):  # a prefix nobody claimed (shared results)
        signed_links(storage, {**ev, "status": {"locations": {"outputs": "s3://results/shared/"}}})
    with pytest.raises(ValueError):
        signed_links(storage, ev, seconds=8 * 86_400)
