"""Issue 20 as pure logic: the progress object (contract model, the runner's reporter, the
operator's reading of it and its polling round), the link templates, and the chart's values."""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from gavel_contract import PROGRESS_MAX_BYTES, Progress, Result, Stage, Task, TestResult, TestVerdict, Verdict
from gavel_contract.languages import builtin_languages
from gavel_contract.scoring import Scorer, max_score, score_so_far
from gavel_operator import jobs, links, progress
from gavel_operator.ledger import Entry, Ledger
from gavel_operator.objectstore import ObjectStore
from gavel_operator.resources import EvaluationSpec
from gavel_operator.settings import Settings
from gavel_operator.tenancy import OPERATOR_PREFIX
from gavel_runner.progress import Reporter, snapshot

ROOT = Path(__file__).resolve().parents[2]
P, W, S, T = TestVerdict.PASSED, TestVerdict.WRONG_ANSWER, TestVerdict.SKIPPED, TestVerdict.TIME_LIMIT_EXCEEDED


def task(n=4, groups=(), progress_url="http://s3/p?X-Amz-Signature=x", seconds=1, **tests_extra) -> Task:
    return Task.model_validate({
        "language": {"version": "3", "sourceFile": "main.py", "run": ["/usr/bin/python3", "main.py"]},
        "languageName": "python", "submission": "s.py", "groups": list(groups), "progress": progress_url,
        "progressSeconds": seconds,
        "tests": [{"name": str(i), "input": "i", "expected": "e", **tests_extra.get(str(i), {})}
                  for i in range(1, n + 1)]})


# ---- the contract's model: what the operator accepts -------------------------------------------

def test_progress_refuses_what_does_not_add_up():
    ok = Progress(stage=Stage.JUDGING, judged=2, total=4, verdicts={P: 1, W: 1}, test="3")
    assert ok.summary() == "2/4"
    for bad in ({"judged": 5, "total": 4, "verdicts": {"Passed": 5}},                  # more than there are
                {"judged": 2, "total": 4, "verdicts": {"Passed": 1}},                  # counts not the judged
                {"judged": 1, "total": 4, "verdicts": {"Accepted": 1}},                # not a test verdict
                {"judged": 0, "total": 4, "verdict": "Accepted"},                      # no such field
                {"judged": 0, "total": 4, "score": 5, "maxScore": 4},                  # more than the most
                {"judged": 0, "total": 4, "test": "../../etc"},                        # not a test name
                {"judged": 0, "total": 4, "apiVersion": "gavel.dev/progress/v2"}):
        with pytest.raises(ValidationError):
            Progress.model_validate(bad)


def test_score_so_far_never_passes_the_final_score_and_ends_equal_to_it():
    rng = random.Random(20)
    t = Task.model_validate({
        "language": {"version": "3", "sourceFile": "main.py", "run": ["/usr/bin/python3", "main.py"]},
        "languageName": "python", "submission": "s.py",
        "groups": [{"name": "a", "points": 20}, {"name": "m", "points": 30, "scoring": "min", "dependsOn": ["a"]},
                   {"name": "s", "scoring": "sum"}],
        "tests": [{"name": "u", "input": "i", "expected": "e", "points": 3}]
        + [{"name": f"{g}{i}", "input": "i", "expected": "e", "group": g, "points": 2} for g in "ams" for i in range(3)]})
    for _ in range(200):
        scorer, results, seen = Scorer(t.groups, t.tests), [], []
        for test in t.tests:
            if why := scorer.skip_reason(test):
                results.append(TestResult(name=test.name, verdict=S, message=why))
            else:
                v = rng.choice([P, P, W, TestVerdict.PARTIAL])
                results.append(TestResult(name=test.name, verdict=v, score=0.5 if v == TestVerdict.PARTIAL else None))
                scorer.record(results[-1])
            seen.append(score_so_far(t.groups, t.tests, results))
        total, most, _ = scorer.finish(results)
        assert seen == sorted(seen) and seen[-1] == total and max(seen) <= total
        assert max_score(t.groups, t.tests) == most


# ---- the runner's side ------------------------------------------------------------------------

def test_snapshot_counts_what_was_decided():
    t = task(4)
    got = snapshot(t, Stage.JUDGING, [TestResult(name="1", verdict=P), TestResult(name="2", verdict=W)], "3")
    assert (got.judged, got.total, got.test, got.score, got.max_score) == (2, 4, "3", 1, 4)
    assert got.verdicts == {P: 1, W: 1}


class Puts:
    def __init__(self, fail=0, hang: threading.Event | None = None):
        self.docs, self.at, self.fail, self.hang = [], [], fail, hang

    def __call__(self, data: bytes) -> None:
        if self.hang is not None:
            self.hang.wait()
        if self.fail:
            self.fail -= 1
            from gavel_runner.storage import StorageError
            raise StorageError("cannot store http://s3/p: HTTP 503")
        self.docs.append(json.loads(data))
        self.at.append(time.monotonic())


def test_the_reporter_writes_at_most_once_an_interval_only_what_changed_and_done_at_the_end():
    puts = Puts()
    t = task(30, seconds=1)
    r = Reporter(t, put=puts)
    results: list[TestResult] = []
    r.update(Stage.PREPARING, results)
    began = time.monotonic()
    while time.monotonic() - began < 3.2:  # many quick tests: one update each, never a wait
        before = time.monotonic()
        r.update(Stage.JUDGING, results, str(len(results) + 1))
        if len(results) < 29:
            results.append(TestResult(name=str(len(results) + 1), verdict=P))
        r.update(Stage.JUDGING, results)
        assert time.monotonic() - before < 0.05
        time.sleep(0.1)
    results.append(TestResult(name="30", verdict=W))
    r.close(results)
    r.close(results)  # again, as the judgement's context does: nothing more
    gaps = [b - a for a, b in zip(puts.at, puts.at[1:-1])]  # the last one is close's, at once
    assert 3 <= len(puts.docs) <= 6 and all(g >= 0.95 for g in gaps), (len(puts.docs), gaps)
    judged = [d["judged"] for d in puts.docs]
    assert judged == sorted(judged) and len(set(judged)) == len(judged)  # never the same twice
    assert puts.docs[-1] == {"apiVersion": "gavel.dev/progress/v1", "stage": "done", "judged": 30, "total": 30,
                             "verdicts": {"Passed": 29, "WrongAnswer": 1}, "score": 29.0, "maxScore": 30.0}
    assert all(len(json.dumps(d)) < PROGRESS_MAX_BYTES for d in puts.docs)


def test_a_failing_or_hanging_storage_never_holds_the_judgement(caplog):
    puts = Puts(fail=2)
    r = Reporter(task(2, seconds=1), put=puts)
    r.update(Stage.COMPILING, [])
    time.sleep(0.3)
    r.update(Stage.JUDGING, [TestResult(name="1", verdict=P)])
    time.sleep(1.3)
    r.close([TestResult(name="1", verdict=P), TestResult(name="2", verdict=P)])
    assert [d["judged"] for d in puts.docs] == [2]  # two failed, the next change written
    assert sum("progress not written" in m for m in caplog.messages) == 1
    assert "X-Amz" not in caplog.text

    hang = threading.Event()
    r = Reporter(task(2, seconds=1), put=Puts(hang=hang))
    r.update(Stage.COMPILING, [])
    time.sleep(0.2)  # the thread is stuck in its PUT
    before = time.monotonic()
    r.update(Stage.JUDGING, [TestResult(name="1", verdict=P)])
    assert time.monotonic() - before < 0.05
    hang.set()
    r.close()


def test_no_progress_location_no_thread():
    r = Reporter(task(2, progress_url=None), put=lambda data: pytest.fail("written"))
    r.update(Stage.JUDGING, [])
    r.close([])
    assert r._thread is None


def test_a_task_without_progress_is_the_same_document_as_before():
    doc = json.loads(task(2, progress_url=None, seconds=2).document())
    assert "progress" not in doc and "progressSeconds" not in doc


# ---- the operator's side ----------------------------------------------------------------------

def entry(tests=4, phase="Running", uid="u1", **kw) -> Entry:
    return Entry(uid=uid, phase=phase, job="j", tests=tests, **kw)


def doc(**fields) -> bytes:
    return json.dumps({"apiVersion": "gavel.dev/progress/v1", **fields}).encode()


def test_the_object_is_untrusted_input():
    good = progress.read(doc(stage="judging", judged=1, total=4, verdicts={"Passed": 1}, test="2", score=1,
                             maxScore=4), entry())
    assert good == {"stage": "judging", "judged": 1, "total": 4, "summary": "1/4", "verdicts": {"Passed": 1},
                    "test": "2", "score": 1, "maxScore": 4}
    assert progress.read(None, entry()) is None
    assert progress.read(b"{" * (PROGRESS_MAX_BYTES + 1), entry()) is None            # too large
    assert progress.read(b"not json", entry()) is None
    assert progress.read(doc(judged=1, total=5, verdicts={"Passed": 1}), entry()) is None  # not its tests
    assert progress.read(doc(judged=0, total=4, phase="Succeeded"), entry()) is None     # no such field
    # "done" is the verdict's to say: shown as judging, without a test, until the result is read
    done = progress.read(doc(stage="done", judged=4, total=4, verdicts={"WrongAnswer": 4}, test="4"), entry())
    assert done["stage"] == "judging" and "test" not in done
    # and a status value holds nothing but progress
    assert set(good) <= set(progress.FIELDS)


def test_the_final_progress_is_the_results_and_replaces_whatever_was_there():
    result = Result(verdict=Verdict.TEST_FAILED, tests=[TestResult(name="1", verdict=P), TestResult(name="2", verdict=T)],
                    score=1, maxScore=3)
    final = progress.final(result, 3)
    assert final == {"stage": "done", "judged": 2, "total": 3, "summary": "2/3", "score": 1, "maxScore": 3,
                     "verdicts": {"Passed": 1, "TimeLimitExceeded": 1}}
    patch = progress.replacing(final)
    assert patch["test"] is None and patch["verdicts"]["WrongAnswer"] is None and patch["verdicts"]["Passed"] == 1
    # a result no object model bounds (many points): still a final progress, never a lost verdict
    big = Result(verdict=Verdict.ACCEPTED, tests=[TestResult(name="1", verdict=P)], score=5e12, maxScore=5e12)
    assert progress.final(big, 1)["score"] == 5e12


class FakeStore:
    def __init__(self, objects: dict[str, bytes]):
        self.objects, self.reads = objects, []

    def read(self, bucket, key, limit=None):
        self.reads.append((bucket, key))
        return self.objects.get(key)


class FakeState:
    def __init__(self, ledger, store):
        self.ledger, self.store = ledger, store
        self.settings = Settings(progress_concurrency=4)


def test_a_round_reads_running_evaluations_only_and_writes_what_changed(monkeypatch):
    ledger = Ledger(max_running=3)
    for i in range(3):
        ledger.observe(("ns", f"run{i}"), entry(uid=f"r{i}"))
    ledger.observe(("ns", "pending"), entry(uid="p", phase="Pending"))
    ledger.observe(("ns", "canceled"), entry(uid="c", cancel=True))
    for i in range(500):  # a burst waiting: costs a round nothing
        ledger.observe(("ns", f"q{i}"), Entry(uid=f"q{i}", phase="Queued", created=f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}Z"))
    store = FakeStore({jobs.progress_key("r0"): doc(stage="judging", judged=1, total=4, verdicts={"Passed": 1}),
                       jobs.progress_key("r1"): doc(stage="judging", judged=9, total=9, verdicts={"Passed": 9}),
                       jobs.progress_key("p"): doc(stage="judging", judged=1, total=4, verdicts={"Passed": 1})})
    writes = []

    async def write_status(namespace, name, uid, values, final=True):
        assert final is False
        writes.append((name, values))
        return True

    monkeypatch.setattr("gavel_operator.state.write_status", write_status)
    state = FakeState(ledger, store)
    assert asyncio.run(progress.poll_once(state)) == 1
    assert sorted(k for _, k in store.reads) == sorted(jobs.progress_key(f"r{i}") for i in range(3))
    assert all(b == state.settings.results_bucket_name for b, _ in store.reads)
    assert [(n, v["progress"]["summary"]) for n, v in writes] == [("run0", "1/4")]
    assert list(writes[0][1]) == ["progress"]  # nothing but status.progress
    # the same again: read, not written
    assert asyncio.run(progress.poll_once(state)) == 0 and len(store.reads) == 6


def test_the_progress_object_is_the_operators_own_and_signed_into_the_task():
    settings = Settings(storage_endpoint="127.0.0.1:9000", pod_storage_endpoint="minio.gavel:9000",
                        storage_access_key="k", storage_secret_key="s", results_bucket="results")
    store = ObjectStore(settings)
    key = jobs.progress_key("0b7a1d2c-1111")
    assert key == f"{OPERATOR_PREFIX}progress/0b7a1d2c-1111.json"
    spec = EvaluationSpec.model_validate({"language": "cpp", "submission": {"key": "s.cpp"},
                                          "tests": [{"name": "1", "input": {"key": "1.in"}, "expected": {"key": "1.out"}}]})
    lang = builtin_languages()["cpp"]
    where = jobs.placement(spec, "ns", "e1", "0b7a1d2c-1111", settings)
    url = store.put_url(settings.results_bucket_name, key, timedelta(minutes=5))
    t = jobs.build_task("ns/e1", spec, lang, lang.default_version(), where, store, settings, timedelta(minutes=5),
                        progress=url)
    assert t.progress.startswith("http://minio.gavel:9000/results/.gavel/progress/0b7a1d2c-1111.json?")
    assert t.progress_seconds == settings.progress_seconds
    assert not key.startswith(where.prefix)  # never among the outputs


# ---- links ------------------------------------------------------------------------------------

def test_link_templates_are_checked_and_rendered_quoted():
    for bad in ("https://x/{secret}", "https://x/{name!r}", "https://x/{name:>9}", "https://x/{", "https://x/{0}"):
        with pytest.raises(ValueError):
            links.check_template(bad)
    with pytest.raises(ValidationError):
        Settings(log_url_template="https://logs/{token}")
    assert links.render("", name="a") is None
    t = "https://logs.example.com/{namespace}/{pod}?q={name}&p={prefix}"
    assert links.render(t, namespace="ns", name="a b&c", pod="", prefix="x") is None  # no pod yet
    assert links.render(t, namespace="ns", name="a b&c", pod="j-x1", prefix="ns/a/u") == \
        "https://logs.example.com/ns/j-x1?q=a%20b%26c&p=ns/a/u"
    assert links.render("https://x/{name}", name="n" * 3000) is None  # too long for a status field


def test_settings_take_the_charts_link_and_progress_values_from_env():
    s = Settings.from_env({"GAVEL_LOG_URL_TEMPLATE": "https://g/{namespace}/{pod}", "GAVEL_OUTPUTS_URL_TEMPLATE": "",
                           "GAVEL_PROGRESS_SECONDS": "3", "GAVEL_PROGRESS_CONCURRENCY": "5"})
    assert (s.log_url_template, s.outputs_url_template, s.progress_seconds, s.progress_concurrency) == \
        ("https://g/{namespace}/{pod}", "", 3, 5)


def test_chart_values_and_schema_carry_links_and_progress():
    chart = ROOT / "charts" / "gavel"
    values = yaml.safe_load((chart / "values.yaml").read_text())
    schema = json.loads((chart / "values.schema.json").read_text())["properties"]
    assert values["links"] == {"logUrlTemplate": "", "outputsUrlTemplate": ""}
    assert set(schema["links"]["properties"]) == set(values["links"])
    assert values["progress"] == {"seconds": Settings().progress_seconds, "concurrency": Settings().progress_concurrency}
    deployment = (chart / "templates" / "deployment.yaml").read_text()
    for env in ("GAVEL_LOG_URL_TEMPLATE", "GAVEL_OUTPUTS_URL_TEMPLATE", "GAVEL_PROGRESS_SECONDS",
                "GAVEL_PROGRESS_CONCURRENCY"):
        assert env in deployment
