"""A contest judged on the real cluster (issue 17): three Problems, a dozen participants, real Jobs;
the scoreboard the operator writes to storage equals the standings computed here by hand (icpc:
penalties, a compilation error that costs nothing, a tie, first to solve, a rejudge that replaces a
verdict, a freeze that hides a late solve from the public view only); another namespace's Evaluation
labelled with the same contest changes nothing; a burst of completions rebuilds it a bounded number
of times (status.rebuilds and gavel_contest_rebuilds_total).
"""

from __future__ import annotations

import io
import json
import re
import time
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest

from conftest import BUCKET, apply, wait_phase

REBUILD_SECONDS = 3
RIGHT = {"pa": "a, b = map(int, input().split())\nprint(a + b)\n",
         "pb": "a, b = map(int, input().split())\nprint(a - b)\n",
         "pc": "a, b = map(int, input().split())\nprint(a * b)\n"}
WRONG = "a, b = map(int, input().split())\nprint(a + b + 1)\n"
SYNTAX_ERROR = "print(\n"  # python's compile step (an ast.parse) makes it a CompilationError
TESTS = {"pa": [("1 2", "3"), ("40 2", "42")], "pb": [("5 3", "2"), ("10 20", "-10")],
         "pc": [("6 7", "42"), ("2 3", "6")]}
LABELS = {"A": "pa", "B": "pb", "C": "pc"}
FREEZE_MINUTE = 100

# (participant, label, minute, source): minutes after the window's start, as gavel.dev/submitted-at says
PLAN = [
    ("p01", "A", 10, "right"), ("p01", "B", 20, "right"), ("p01", "C", 30, "right"),
    ("p02", "A", 5, "wrong"), ("p02", "A", 12, "right"), ("p02", "B", 25, "right"), ("p02", "C", 40, "right"),
    ("p03", "A", 8, "right"), ("p03", "B", 15, "syntax"), ("p03", "B", 18, "right"), ("p03", "C", 50, "right"),
    ("p04", "A", 20, "right"), ("p04", "B", 30, "right"),
    ("p05", "A", 10, "right"), ("p05", "C", 40, "right"),
    ("p06", "A", 15, "wrong"), ("p06", "A", 16, "wrong"), ("p06", "A", 30, "right"),
    ("p07", "B", 45, "right"),
    ("p08", "C", 70, "right"),
    ("p09", "A", 70, "right"),
    ("p10", "A", 30, "wrong"), ("p10", "B", 40, "wrong"),  # p10's A is rejudged below: Accepted
    ("p11", "A", 105, "right"),  # after the freeze: pending on the public scoreboard
]
# p12 never submits: listed in spec.participants, ranked last with nothing.

# By hand (penalty 20 per rejected try before the first Accepted, compilation errors free; ties by
# solved, penalty, minute of the last solve): (rank, participant, solved, total_time, solved labels).
FULL = [
    (1, "p01", 3, "1:00:00", "ABC"),     # 10 + 20 + 30
    (2, "p03", 3, "1:16:00", "ABC"),     # 8 + 18 + 50 (B's compilation error free)
    (3, "p02", 3, "1:37:00", "ABC"),     # 12 + 20 + 25 + 40
    (4, "p04", 2, "0:50:00", "AB"),      # last solve 30
    (5, "p05", 2, "0:50:00", "AC"),      # last solve 40: after p04
    (6, "p10", 1, "0:30:00", "A"),       # the rejudge: Accepted at its submission's minute 30, no penalty
    (7, "p07", 1, "0:45:00", "B"),
    (8, "p06", 1, "1:10:00", "A"),       # 30 + 2 * 20, last solve 30
    (9, "p08", 1, "1:10:00", "C"),       # 70, last solve 70: tied with p09
    (9, "p09", 1, "1:10:00", "A"),
    (11, "p11", 1, "1:45:00", "A"),
    (12, "p12", 0, "0:00:00", ""),
]
PUBLIC = FULL[:10] + [(11, "p11", 0, "0:00:00", ""), (11, "p12", 0, "0:00:00", "")]  # p11's solve hidden
FIRST_TO_SOLVE = {("p03", "A"), ("p03", "B"), ("p01", "C")}
JUDGED = 24  # every submission once (p10's A counts as its rejudge), the compilation error too


def problem_files(s3, namespace: str, name: str) -> str:
    client, prefix = s3.client(), f"{namespace}/problems/{name}"
    files = {"problem.yaml": f"name: {name}\ntitle: {name}\nlimits: {{timeMs: 2000, memoryKb: 65536}}\n"
                             "tests: {pattern: \"tests/*.in\"}\n"}
    for i, (given, answer) in enumerate(TESTS[name], 1):
        files[f"tests/{i}.in"], files[f"tests/{i}.out"] = given + "\n", answer + "\n"
    for path, text in files.items():
        client.put_object(BUCKET, f"{prefix}/{path}", io.BytesIO(text.encode()), len(text.encode()))
    return prefix


def make_problems(kube, s3, namespace: str) -> None:
    apply(kube, namespace, *[{"apiVersion": "gavel.dev/v1alpha1", "kind": "Problem", "metadata": {"name": name},
                              "spec": {"prefix": problem_files(s3, namespace, name)}} for name in TESTS])
    for name in TESTS:
        kube.wait_for(f"problem {name} Ready", lambda name=name: any(
            c["type"] == "Ready" and c["status"] == "True" for c in
            (kube.json("-n", namespace, "get", "problem", name).get("status") or {}).get("conditions") or []), 60, 0.5)


def evaluation(problems, name: str, participant: str, label: str, at: datetime, source: str, *,
               submission: str | None = None, language: str = "python") -> dict:
    labels = {"gavel.dev/contest": "spring", "gavel.dev/participant": participant}
    if submission:
        labels["gavel.dev/submission"] = submission
    return {"apiVersion": "gavel.dev/v1alpha1", "kind": "Evaluation",
            "metadata": {"name": name, "labels": labels,
                         "annotations": {"gavel.dev/submitted-at": at.strftime("%Y-%m-%dT%H:%M:%SZ")}},
            "spec": {"language": language, "problem": LABELS[label],
                     "submission": problems.put(f"{problems.root}src/{name}.py", source)}}


def contest_status(kube, namespace: str) -> dict:
    return kube.json("-n", namespace, "get", "contest", "spring").get("status") or {}


def read(s3, key: str) -> bytes:
    resp = s3.client().get_object(BUCKET, key)
    try:
        return resp.read()
    finally:
        resp.close()
        resp.release_conn()


def rows(doc: dict) -> list[tuple]:
    return [(r["rank"], r["team_id"], r["score"]["num_solved"], r["score"]["total_time"],
             "".join(p["problem_id"] for p in r["problems"] if p["solved"])) for r in doc["rows"]]


def rebuilds_metric(operator) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{operator.metrics}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    match = re.search(r"^gavel_contest_rebuilds_total (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


@pytest.fixture(scope="module")
def contest_operator(operator_factory):
    op = operator_factory(contest_rebuild_seconds=REBUILD_SECONDS)
    yield op
    op.stop()


def test_a_contest_judged_on_the_cluster(kube, namespace, contest_operator, problems, s3):
    op = contest_operator
    kube("wait", "--for=condition=Established", "crd/contests.gavel.dev", "--timeout=60s")
    make_problems(kube, s3, namespace)
    start = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(minutes=120)
    contest = {"apiVersion": "gavel.dev/v1alpha1", "kind": "Contest", "metadata": {"name": "spring"},
               "spec": {"title": "Spring <round>", "problems": [{"label": k, "problem": v} for k, v in LABELS.items()],
                        "window": {"start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                   "end": (start + timedelta(minutes=240)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                                   "freeze": (start + timedelta(minutes=FREEZE_MINUTE)).strftime("%Y-%m-%dT%H:%M:%SZ")},
                        "participants": [{"id": f"p{i:02d}", "name": f"Team {i:02d}"} for i in range(1, 13)],
                        "top": 5}}
    apply(kube, namespace, contest)
    sources = {"right": None, "wrong": WRONG, "syntax": SYNTAX_ERROR}
    evs = [evaluation(problems, f"s{i:02d}-{who}", who, label, start + timedelta(minutes=minute),
                      sources[kind] or RIGHT[LABELS[label]], submission=f"{who}-{i}")
           for i, (who, label, minute, kind) in enumerate(PLAN)]
    apply(kube, namespace, *evs)

    # another namespace's Evaluation labelled with the same contest, judged Accepted on its own Problem:
    # it is that namespace's business, never this contest's
    with kube.scratch_namespace("gavel-op") as other:
        make_problems(kube, s3, other)
        from conftest import Problems
        theirs = Problems(s3, other)
        apply(kube, other, evaluation(theirs, "intruder", "p12", "A", start + timedelta(minutes=1), RIGHT["pa"]))
        for e in evs:
            wait_phase(kube, namespace, e["metadata"]["name"], timeout=600, operator=op)
        wait_phase(kube, other, "intruder", timeout=300, operator=op)

        # p10's rejected A, rejudged (the platform's same submission id, a new Evaluation): Accepted now
        p10 = next(i for i, p in enumerate(PLAN) if p[:2] == ("p10", "A"))
        apply(kube, namespace, evaluation(problems, "rejudge-p10", "p10", "A", start + timedelta(minutes=30),
                                          RIGHT["pa"], submission=f"p10-{p10}"))
        rejudged = wait_phase(kube, namespace, "rejudge-p10", operator=op)["status"]
        assert rejudged.get("verdict") == "Accepted", rejudged

        # the rejudge keeps the submission id, so "judged" is the same number before and after it: the
        # full scoreboard itself (p10's A solved, rank 6) says when the rebuild after it has landed
        board = f"{namespace}/contests/spring/full.json"
        status = kube.wait_for("the scoreboard of every judgement, the rejudge included", lambda: (
            st := contest_status(kube, namespace)).get("judged") == JUDGED and st.get("pending") == 0
            and st.get("leader") == "Team 01" and st.get("top", [{}])[4:5] == [
                {"rank": 5, "participant": "p05", "name": "Team 05", "solved": 2, "penalty": 50}]
            and rows(json.loads(read(s3, board))) == FULL and st, 60, 1)
    assert (status["state"], status["participants"]) == ("Frozen", 12), status
    assert [r["participant"] for r in status["top"]] == ["p01", "p03", "p02", "p04", "p05"]
    assert status["rebuilds"] >= 1 and status["lastRebuilt"] and not status.get("message"), status
    where = f"{namespace}/contests/spring"
    assert status["scoreboards"]["publicJson"] == f"s3://{BUCKET}/{where}/public.json", status

    full = json.loads(read(s3, f"{where}/full.json"))
    public = json.loads(read(s3, f"{where}/public.json"))
    assert rows(full) == FULL, rows(full)
    assert rows(public) == PUBLIC, rows(public)
    firsts = {(r["team_id"], p["problem_id"]) for r in full["rows"] for p in r["problems"] if p["first_to_solve"]}
    assert firsts == FIRST_TO_SOLVE
    p11 = next(r for r in public["rows"] if r["team_id"] == "p11")["problems"][0]
    assert (p11["num_pending"], p11["solved"]) == (1, False)
    assert public["state"]["frozen"] and not public["state"]["ended"]
    cell = next(r for r in full["rows"] if r["team_id"] == "p03")["problems"][1]
    assert (cell["num_judged"], cell["solved"]) == (1, True)  # the compilation error is no try
    page = read(s3, f"{where}/public.html").decode()
    assert "Spring &lt;round&gt;" in page and "Team 01" in page and "<script" not in page
    for name in ("public.json", "public.html", "full.json", "full.html"):
        data = read(s3, f"{where}/{name}")
        assert b"X-Amz-" not in data and s3.secret_key.encode() not in data, name
    table = kube("-n", namespace, "get", "contests")
    assert "Frozen" in table and "Team 01" in table and "icpc" in table, table


def test_a_burst_of_completions_rebuilds_a_bounded_number_of_times(kube, namespace, contest_operator, problems, s3):
    """60 Evaluations judged at once (an unknown language: InitializationError at admission, no Job)
    change the contest 120 times in seconds (created, then judged); it is rebuilt about once per
    REBUILD_SECONDS meanwhile, not once per change."""
    op = contest_operator
    make_problems(kube, s3, namespace)
    start = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(minutes=10)
    apply(kube, namespace, {"apiVersion": "gavel.dev/v1alpha1", "kind": "Contest", "metadata": {"name": "spring"},
                            "spec": {"problems": [{"label": k, "problem": v} for k, v in LABELS.items()],
                                     "window": {"start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                                "end": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")}}})
    first = kube.wait_for("the first rebuild", lambda: contest_status(kube, namespace).get("rebuilds"), 60, 0.5)
    before, metric_before = first, rebuilds_metric(op)
    burst = [evaluation(problems, f"b{i:03d}", f"q{i % 12:02d}", "A", start + timedelta(minutes=5), RIGHT["pa"],
                        language="cobol") for i in range(60)]
    began = time.monotonic()
    apply(kube, namespace, *burst)
    kube.wait_for("every one judged", lambda: all(
        (i.get("status") or {}).get("phase") == "Succeeded"
        for i in kube.json("-n", namespace, "get", "evaluations")["items"]) and
        len(kube.json("-n", namespace, "get", "evaluations")["items"]) == 60, 120, 1)
    # InitializationError is the judge's failure, not the submission's: each stays pending (docs/contests.md)
    status = kube.wait_for("the burst on the scoreboard", lambda: (
        st := contest_status(kube, namespace)).get("pending") == 60 and st, 60, 0.5)
    took = time.monotonic() - began
    time.sleep(2 * REBUILD_SECONDS)  # nothing more is due
    after = contest_status(kube, namespace)["rebuilds"]
    bound = took / REBUILD_SECONDS + 3
    print(f"\n60 judged at once: {after - before} rebuilds in {took:.1f} s (bound {bound:.1f})")
    assert after - before <= bound and after - before < 30, (before, after, took, status)
    # the operator's counter covers all its contests (the first test's may be rebuilt as its namespace goes)
    assert rebuilds_metric(op) - metric_before >= after - before
    assert status["participants"] == 12 and status["judged"] == 0
