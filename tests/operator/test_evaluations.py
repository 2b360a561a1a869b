"""Every phase and verdict through real Jobs of the runner image, with real S3."""

from __future__ import annotations

import json
import urllib.request

from conftest import BUCKET, SUM_C, apply, wait_phase

SUM_PY = "a, b = map(int, input().split())\nprint(a + b)\n"


def test_every_verdict(kube, namespace, operator, problems, s3):
    cases = {
        "accepted": (SUM_C, "c", {}),
        "wrong": ('#include <stdio.h>\nint main(){puts("3");}\n', "c", {}),
        "tle": ("while True:\n    pass\n", "python", {"limits": {"timeMs": 500}}),
        "mle": ("x = bytearray(200 * 1024 * 1024)\nprint(len(x))\n", "python", {"limits": {"memoryKb": 65536}}),
        "compile": ("int main( { }\n", "c", {}),
        "crash": ("import sys\nsys.exit(3)\n", "python", {}),
        "ole": ("while True:\n    print('x' * 1000)\n", "python", {"limits": {"outputKb": 64}}),
    }
    apply(kube, namespace, *[problems.evaluation(name, src, lang, **spec) for name, (src, lang, spec) in cases.items()])
    got = {name: wait_phase(kube, namespace, name, operator=operator) for name in cases}
    st = {name: obj["status"] for name, obj in got.items()}
    assert st["accepted"]["phase"] == "Succeeded" and st["accepted"]["verdict"] == "Accepted", st["accepted"]
    assert st["accepted"]["passed"] == "2/2" and st["accepted"]["language"] == "c:17"
    assert [t["verdict"] for t in st["accepted"]["tests"]] == ["Passed", "Passed"]
    assert all(t["memoryKb"] > 0 for t in st["accepted"]["tests"])
    assert st["wrong"]["verdict"] == "TestFailed" and [t["verdict"] for t in st["wrong"]["tests"]] == ["Passed", "WrongAnswer"]
    assert st["tle"]["tests"][0]["verdict"] == "TimeLimitExceeded"
    assert st["mle"]["tests"][0]["verdict"] == "MemoryLimitExceeded"
    assert st["compile"]["verdict"] == "CompilationError" and "error" in st["compile"]["compileOutput"]
    assert st["crash"]["tests"][0]["verdict"] == "RuntimeError" and st["crash"]["tests"][0]["exitCode"] == 3
    assert st["ole"]["tests"][0]["verdict"] == "OutputLimitExceeded"
    for s in st.values():
        assert s["phase"] == "Succeeded" and any(c["type"] == "Complete" for c in s["conditions"])
    # the result and every output are in storage where the status says
    loc = st["wrong"]["locations"]
    bucket, key = loc["result"].removeprefix("s3://").split("/", 1)
    result = json.loads(s3.client().get_object(bucket, key).read())
    assert result["verdict"] == "TestFailed"
    diff_key = key.rsplit("/", 1)[0] + "/2.diff"
    assert b"expected '42', got '3'" in s3.client().get_object(BUCKET, diff_key).read()
    assert loc["logs"].endswith("/runner.log")
    # printer columns
    table = kube("-n", namespace, "get", "evaluations")
    assert "PHASE" in table and "VERDICT" in table and "PASSED" in table
    assert "accepted   Succeeded   Accepted" in " ".join(table.split("\n")) or "Accepted" in table
    # events and metrics
    events = kube("-n", namespace, "get", "events", "--field-selector", "involvedObject.name=accepted")
    assert "JobCreated" in events and "Accepted" in events
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{operator.metrics}/metrics").read().decode()
    assert 'gavel_verdicts_total{verdict="Accepted"}' in metrics and "gavel_time_to_verdict_seconds_bucket" in metrics
    started = [float(line.split()[-1]) for line in metrics.splitlines() if line.startswith("gavel_time_to_start_seconds_count")]
    assert started and started[0] >= 1  # its Job's start was timed


def test_unknown_language_is_judged_at_once_without_a_job(kube, namespace, operator, problems):
    apply(kube, namespace, problems.evaluation("cobol", "DISPLAY 'HI'.", "cobol"),
          problems.evaluation("cpp99", SUM_C, "cpp", version="99"))
    for name, what in (("cobol", "unknown language 'cobol'"), ("cpp99", "unknown version '99' of cpp")):
        st = wait_phase(kube, namespace, name, operator=operator)["status"]
        assert st["phase"] == "Succeeded" and st["verdict"] == "InitializationError"
        assert what in st["message"] and "cpp (17, 20, 23)" in st["message"]
    assert kube("-n", namespace, "get", "jobs", "-o", "name").strip() == ""


def test_missing_submission_object(kube, namespace, operator, problems):
    ev = problems.evaluation("missing", SUM_C, "c")
    ev["spec"]["submission"] = {"key": f"{namespace}/no/such/object.c"}
    apply(kube, namespace, ev)
    st = wait_phase(kube, namespace, "missing", operator=operator)["status"]
    assert st["verdict"] == "InitializationError" and \
        f"s3://gavel/{namespace}/no/such/object.c does not exist" in st["message"]


def test_missing_test_object_is_the_runners_initialization_error(kube, namespace, operator, problems):
    ev = problems.evaluation("missing-test", SUM_C, "c")
    ev["spec"]["tests"][1]["expected"] = {"key": f"{namespace}/no/such/2.out"}
    apply(kube, namespace, ev)
    st = wait_phase(kube, namespace, "missing-test", operator=operator)["status"]
    assert st["verdict"] == "InitializationError" and f"/gavel/{namespace}/no/such/2.out: HTTP 404" in st["message"]


def test_cancel_stops_the_job(kube, namespace, operator, problems):
    ev = problems.evaluation("slow", "import time\ntime.sleep(120)\n", "python",
                             limits={"timeMs": 1000, "wallMs": 150000})
    apply(kube, namespace, ev)
    wait_phase(kube, namespace, "slow", phases=("Running",), operator=operator)
    kube("-n", namespace, "patch", "evaluation", "slow", "--type=merge", "-p", '{"spec":{"cancel":true}}')
    st = wait_phase(kube, namespace, "slow", operator=operator)["status"]
    assert st["phase"] == "Canceled" and st["locations"]["logs"].endswith("runner.log")
    kube.wait_for("job gone", lambda: kube("-n", namespace, "get", "jobs", "-o", "name").strip() == "", 60)
    undo = kube.run("-n", namespace, "patch", "evaluation", "slow", "--type=merge", "-p",
                    '{"spec":{"cancel":false}}', check=False)
    assert undo.returncode != 0 and "cancel cannot be undone" in undo.stderr


def test_deletion_removes_job_pods_and_secret(kube, namespace, operator, problems):
    apply(kube, namespace, problems.evaluation("gone", SUM_C, "c"))
    wait_phase(kube, namespace, "gone", operator=operator)
    sel = "gavel.dev/evaluation=gone"
    assert kube("-n", namespace, "get", "jobs", "-l", sel, "-o", "name").strip()
    assert kube("-n", namespace, "get", "secrets", "-o", "name").count("secret/gavel-gone-") == 1
    kube("-n", namespace, "delete", "evaluation", "gone", "--wait=true")

    def all_gone():
        left = kube("-n", namespace, "get", "jobs,pods,secrets", "-l", "app.kubernetes.io/part-of=gavel", "-o", "name")
        return left.strip() == ""
    kube.wait_for("owned objects collected", all_gone, 90)


def test_image_that_does_not_exist(kube, namespace, operator, problems):
    lang = {"apiVersion": "gavel.dev/v1alpha1", "kind": "Language", "metadata": {"name": "ghost"},
            "spec": {"title": "no image", "versions": [{"version": "1", "sourceFile": "main.py",
                                                        "image": "gavel.local/no-such-image:0",
                                                        "run": ["/usr/bin/python3", "{build}/main.py"]}]}}
    kube.apply(json.dumps(lang))
    try:
        kube.wait_for("language indexed", lambda: "ghost" in kube("get", "languages"), 30)
        apply(kube, namespace, problems.evaluation("ghost", SUM_PY, "ghost"))
        st = wait_phase(kube, namespace, "ghost", operator=operator, timeout=120)["status"]
        assert st["phase"] == "Failed" and "ErrImageNeverPull" in st["message"]
        assert "gavel.local/no-such-image:0" in st["message"]
    finally:
        kube("delete", "language", "ghost", check=False)


def test_callback_is_received(kube, namespace, operator, problems, callback_server):
    apply(kube, namespace, problems.evaluation("called", SUM_PY, "python", callbackUrl=callback_server.url))
    wait_phase(kube, namespace, "called", operator=operator)
    kube.wait_for("callback", lambda: callback_server.received, 60)
    (body,) = callback_server.received
    assert body["kind"] == "EvaluationResult" and body["metadata"]["name"] == "called"
    assert body["status"]["verdict"] == "Accepted" and body["status"]["passed"] == "2/2"

    def delivered():
        conds = kube.json("-n", namespace, "get", "evaluation", "called")["status"]["conditions"]
        return any(c["type"] == "CallbackDelivered" and c["status"] == "True" for c in conds)
    kube.wait_for("CallbackDelivered condition", delivered, 30)


def test_language_handshake(kube, operator):
    table = kube("get", "languages")
    for name in ("c", "cpp", "python", "java", "go", "rust", "javascript"):
        assert f"\n{name} " in "\n" + table
    assert "17, 20, 23" in table


def test_results_bucket_outside_the_namespaces_scope(kube, namespace, operator, problems):
    ev = problems.evaluation("nobucket", SUM_C, "c", results={"bucket": "no-such-bucket"})
    apply(kube, namespace, ev)
    st = wait_phase(kube, namespace, "nobucket", operator=operator)["status"]
    assert st["verdict"] == "InitializationError" and \
        f"results prefix s3://no-such-bucket/{namespace}/nobucket/" in st["message"] and \
        f"outside what namespace {namespace} may write (tenancy.storage.write: gavel/{namespace}/)" in st["message"]


def test_any_name_and_hundreds_of_tests_are_judged(kube, namespace, operator, problems):
    # 253 characters (a label holds 63) and as many tests as the default ceiling allows (200): both
    # used to leave the Evaluation without a phase, its Job or Secret refused and retried forever (a
    # task too large for a Secret: tests/operator/test_stored_task.py)
    name = "long-" + "n" * 246 + ".x"
    tests = {str(i): (f"{i} {i}\n", f"{2 * i}\n") for i in range(1, 201)}
    apply(kube, namespace, problems.evaluation(name, SUM_C, "c", tests))
    st = wait_phase(kube, namespace, name, operator=operator, timeout=300)["status"]
    assert st["verdict"] == "Accepted" and st["passed"] == "200/200", st.get("message")


def test_a_pod_refused_by_admission_fails_at_once_with_its_reason(kube, namespace, operator, problems):
    kube("-n", namespace, "create", "quota", "no-pods", "--hard=pods=0")
    apply(kube, namespace, problems.evaluation("refused", SUM_C, "c"))
    st = wait_phase(kube, namespace, "refused", operator=operator, timeout=60)["status"]
    assert st["phase"] == "Failed" and "exceeded quota" in st["message"], st
    assert st["conditions"][-1]["reason"] == "PodRejected"
