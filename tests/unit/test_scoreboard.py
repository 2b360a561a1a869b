"""Contest standings on hand-computed cases: both rules, the window, the freeze, a rejudge, the JSON of the
Contest API and the HTML page."""

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from gavel_contract import Verdict
from gavel_operator.resources import ContestSpec
from gavel_operator.scoreboard import (
    Judgement, contest_state, judgement_from_evaluation, scoreboard_html, scoreboard_json, standings, status_summary,
)

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 5, 1, 10, 0, 0, tzinfo=timezone.utc)
AC, WA, CE, IE = Verdict.ACCEPTED, Verdict.TEST_FAILED, Verdict.COMPILATION_ERROR, Verdict.INTERNAL_ERROR


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def contest(**over) -> ContestSpec:
    spec = {"problems": [{"label": "A", "problem": "pa"}, {"label": "B", "problem": "pb"},
                         {"label": "C", "problem": "pc"}],
            "window": {"start": "2026-05-01T10:00:00Z", "end": "2026-05-01T15:00:00Z"}}
    return ContestSpec.model_validate({**spec, **over})


_names = iter(range(10**6))


def j(who, problem, minute, verdict=None, *, score=0.0, groups=None, created=None, submission=None, name=None):
    n = next(_names)
    return Judgement(participant=who, problem=problem, submitted=at(minute), verdict=verdict, score=score,
                     groups=groups or {}, name=name or f"e{n}", uid=f"u{n}",
                     created=created or at(minute), submission=submission)


def table(st):
    """rank, participant, solved, penalty per row (icpc) or rank, participant, score (ioi)."""
    if st.rule.value == "icpc":
        return [(r.rank, r.participant, r.solved, r.penalty) for r in st.rows]
    return [(r.rank, r.participant, r.score) for r in st.rows]


def cell(st, who, label):
    row = next(r for r in st.rows if r.participant == who)
    return next(c for c in row.cells if c.label == label)


# --- icpc --------------------------------------------------------------------------------------------------------

ICPC_DAY = [
    # alice: A rejected at 10:10:30, a compile error (free), accepted at 10:20:59 (minute 20, rounded down):
    # 20 + 20 = 40; B accepted at 30: 30. Two solved, 70.
    j("alice", "A", 10.5, WA), j("alice", "A", 12, CE), j("alice", "A", 20 + 59 / 60, AC), j("alice", "B", 30, AC),
    # bob: A at 15 (first of all); B rejected twice, accepted at 35: 35 + 40 = 75. Two solved, 90.
    j("bob", "A", 15, AC), j("bob", "B", 20, WA), j("bob", "B", 25, WA), j("bob", "B", 35, AC),
    # carol and dave: one solved each at minute 40 (dave at 40:30): the same key, the same rank
    j("carol", "A", 40, AC), j("dave", "A", 40.5, AC),
    # erin: a compile error and a rejection on C, nothing solved
    j("erin", "C", 50, CE), j("erin", "C", 55, WA),
    # a submission after A was solved changes nothing
    j("bob", "A", 100, WA),
]


def test_icpc_penalties_ties_and_compile_errors():
    st = standings(contest(), ICPC_DAY, at(200), jury=True)
    assert table(st) == [(1, "alice", 2, 70), (2, "bob", 2, 90), (3, "carol", 1, 40), (3, "dave", 1, 40),
                         (5, "erin", 0, 0)]
    a = cell(st, "alice", "A")
    assert (a.solved, a.minute, a.penalty, a.judged, a.pending) == (True, 20, 40, 2, 0)  # the compile error: no try
    assert cell(st, "bob", "A").judged == 1  # what came after the Accepted is not counted
    e = cell(st, "erin", "C")
    assert (e.solved, e.judged, e.penalty) == (False, 1, 0)
    assert st.judged == 13 and st.pending == 0


def test_icpc_first_to_solve():
    st = standings(contest(), ICPC_DAY, at(200), jury=True)
    assert [r.participant for r in st.rows if cell(st, r.participant, "A").first_to_solve] == ["bob"]
    assert [r.participant for r in st.rows if cell(st, r.participant, "B").first_to_solve] == ["alice"]
    # an earlier submission still pending might yet be first: nobody is marked until it is judged
    waiting = ICPC_DAY + [j("frank", "C", 5), j("gina", "C", 60, AC)]
    assert not cell(standings(contest(), waiting, at(200), jury=True), "gina", "C").first_to_solve
    later = ICPC_DAY + [j("frank", "C", 70), j("gina", "C", 60, AC)]  # pending, but after the solve
    assert cell(standings(contest(), later, at(200), jury=True), "gina", "C").first_to_solve


def test_icpc_equal_penalty_is_decided_by_the_last_solve():
    judgements = [j("x", "A", 30, AC), j("x", "B", 30, AC),   # 60, last solve at 30
                  j("y", "A", 10, AC), j("y", "B", 50, AC)]   # 60, last solve at 50
    assert table(standings(contest(), judgements, at(100))) == [(1, "x", 2, 60), (2, "y", 2, 60)]


def test_icpc_penalty_per_rejection_is_configurable_and_pending_counts_apart():
    judgements = [j("x", "A", 5, WA), j("x", "A", 6, IE), j("x", "A", 7), j("x", "A", 9, AC)]
    st = standings(contest(scoring={"rule": "icpc", "penaltyMinutes": 5}), judgements, at(100))
    c = cell(st, "x", "A")
    # a judging error and a submission not judged yet are pending: no penalty, no try
    assert (c.solved, c.penalty, c.judged, c.pending) == (True, 9 + 5, 2, 2)
    assert (st.judged, st.pending) == (2, 2)


def test_submissions_outside_the_window_do_not_count():
    judgements = [j("x", "A", -0.01, AC),   # a second before the start
                  j("x", "B", 300, AC),     # at the end: the window is [start, end)
                  j("x", "C", 299.99, AC),  # the last second counts: minute 299
                  j("x", "Z", 10, AC)]      # no such problem in the contest
    st = standings(contest(), judgements, at(400), jury=True)
    assert table(st) == [(1, "x", 1, 299)]
    assert cell(st, "x", "A").judged == 0 and cell(st, "x", "B").judged == 0
    assert (st.judged, st.pending) == (1, 0)


def test_listed_participants_are_ranked_before_they_submit_and_no_one_else_is():
    spec = contest(participants=[{"id": "x", "name": "Team X"}, {"id": "quiet"}])
    st = standings(spec, [j("x", "A", 5, AC), j("stranger", "A", 1, AC)], at(100))
    assert [(r.rank, r.participant, r.name) for r in st.rows] == [(1, "x", "Team X"), (2, "quiet", "quiet")]


def test_freeze_hides_later_results_from_the_public_only():
    spec = contest(window={"start": "2026-05-01T10:00:00Z", "end": "2026-05-01T15:00:00Z",
                           "freeze": "2026-05-01T14:00:00Z"})
    judgements = [j("x", "A", 30, AC),
                  j("y", "A", 20, AC), j("y", "C", 239, WA), j("y", "C", 250, AC),  # C accepted after the freeze
                  j("x", "B", 245, WA)]
    now = at(280)
    public, full = standings(spec, judgements, now), standings(spec, judgements, now, jury=True)
    assert table(full) == [(1, "y", 2, 20 + 270), (2, "x", 1, 30)]
    assert table(public) == [(1, "y", 1, 20), (2, "x", 1, 30)]
    c = cell(public, "y", "C")
    assert (c.solved, c.judged, c.pending) == (False, 1, 1)
    assert (cell(public, "x", "B").judged, cell(public, "x", "B").pending) == (0, 1)  # a rejection is hidden too
    assert (public.judged, public.pending) == (3, 2) and (full.judged, full.pending) == (5, 0)
    assert contest_state(spec.window, now).value == "Frozen"
    # over, still frozen: nobody has thawed it
    assert table(standings(spec, judgements, at(400))) == table(public)
    # thawed: the public sees what the jury sees
    thawed = contest(window={**spec.window.model_dump(mode="json"), "thaw": "2026-05-01T16:00:00Z"})
    assert table(standings(thawed, judgements, at(359))) == table(public)
    assert table(standings(thawed, judgements, at(360))) == table(full)


def test_a_rejudge_replaces_the_old_judgement_and_keeps_the_submission_time():
    first = j("x", "A", 10, WA, submission="sub-1")
    rejudge = j("x", "A", 10, AC, submission="sub-1", created=at(90))
    rejudge = Judgement(**{**rejudge.__dict__, "submitted": at(90)})  # created again: a later creationTimestamp
    st = standings(contest(), [rejudge, first], at(100))
    c = cell(st, "x", "A")
    assert (c.solved, c.minute, c.penalty, c.judged) == (True, 10, 10, 1)
    # the same name created again (no submission label): the newer one counts
    old = j("y", "B", 20, AC, name="eval-7")
    again = j("y", "B", 20, WA, name="eval-7", created=at(95))
    assert not cell(standings(contest(), [old, again], at(100)), "y", "B").solved
    # a rejudge not done yet makes the submission pending, whatever it was
    running = j("y", "B", 20, None, name="eval-7", created=at(96))
    c = cell(standings(contest(), [old, running], at(100)), "y", "B")
    assert (c.solved, c.judged, c.pending) == (False, 0, 1)
    # two participants may use the same submission label: they stay two submissions
    both = [j("p", "A", 5, AC, submission="1"), j("q", "A", 6, AC, submission="1")]
    assert table(standings(contest(), both, at(100))) == [(1, "p", 1, 5), (2, "q", 1, 6)]


# --- ioi ---------------------------------------------------------------------------------------------------------

IOI_DAY = [
    # p1 solves group 1 at 10:05 and group 2 at 10:30, never both at once
    j("p1", "A", 5, WA, score=30, groups={"g1": 30, "g2": 0}),
    j("p1", "A", 30, WA, score=70, groups={"g1": 0, "g2": 70}),
    # p2: 80 in one submission
    j("p2", "A", 20, WA, score=80, groups={"g1": 30, "g2": 50}),
    # p3: 80 too, on two problems; a compile error scores 0 but is judged
    j("p3", "A", 25, CE), j("p3", "A", 26, WA, score=40, groups={"g1": 30, "g2": 10}), j("p3", "B", 40, AC, score=40),
]


def test_ioi_best_per_subtask_against_best_per_submission():
    subtask = standings(contest(scoring={"rule": "ioi"}), IOI_DAY, at(100))  # best: subtask is the default
    assert table(subtask) == [(1, "p1", 100), (2, "p2", 80), (2, "p3", 80)]
    c = cell(subtask, "p1", "A")
    assert (c.score, c.minute, c.judged) == (100, 30, 2)
    assert cell(subtask, "p3", "A").judged == 2  # in ioi a compile error is a judged submission worth 0
    per_submission = standings(contest(scoring={"rule": "ioi", "best": "submission"}), IOI_DAY, at(100))
    assert table(per_submission) == [(1, "p2", 80), (1, "p3", 80), (3, "p1", 70)]
    assert cell(per_submission, "p1", "A").minute == 30


def test_ioi_tests_outside_groups_are_one_more_part():
    judgements = [j("x", "A", 1, WA, score=40, groups={"g1": 30}),   # 10 from tests in no group
                  j("x", "A", 2, WA, score=50, groups={"g1": 0, "g2": 50})]
    assert table(standings(contest(scoring={"rule": "ioi"}), judgements, at(10))) == [(1, "x", 90)]


def test_ioi_score_time_is_the_last_improvement():
    judgements = [j("x", "A", 5, WA, score=30, groups={"g1": 30}), j("x", "A", 9, WA, score=30, groups={"g1": 30}),
                  j("x", "B", 7, AC, score=100)]
    doc = scoreboard_json(standings(contest(scoring={"rule": "ioi"}), judgements, at(10)))
    row = doc["rows"][0]
    assert row["score"] == {"score": 130, "time": "0:07:00"}
    assert row["problems"][0] == {"problem_id": "A", "num_judged": 2, "num_pending": 0, "score": 30, "time": "0:05:00"}
    assert row["problems"][2] == {"problem_id": "C", "num_judged": 0, "num_pending": 0, "score": 0}


# --- the documents -----------------------------------------------------------------------------------------------


def test_json_follows_the_contest_api_scoreboard():
    spec = contest(window={"start": "2026-05-01T10:00:00Z", "end": "2026-05-01T15:00:00Z",
                           "freeze": "2026-05-01T14:00:00Z"})
    doc = scoreboard_json(standings(spec, ICPC_DAY, at(250.5)))
    assert doc["time"] == "2026-05-01T14:10:30Z" and doc["contest_time"] == "4:10:30"
    assert doc["state"] == {"started": "2026-05-01T10:00:00Z", "frozen": "2026-05-01T14:00:00Z", "ended": None,
                            "thawed": None, "finalized": None, "end_of_updates": None}
    assert doc["rows"][0] == {
        "rank": 1, "team_id": "alice", "score": {"num_solved": 2, "total_time": "1:10:00", "time": "0:30:00"},
        "problems": [
            {"problem_id": "A", "num_judged": 2, "num_pending": 0, "solved": True, "time": "0:20:00",
             "first_to_solve": False},
            {"problem_id": "B", "num_judged": 1, "num_pending": 0, "solved": True, "time": "0:30:00",
             "first_to_solve": True},
            {"problem_id": "C", "num_judged": 0, "num_pending": 0, "solved": False, "first_to_solve": False}]}
    assert doc["rows"][-1]["score"] == {"num_solved": 0, "total_time": "0:00:00", "time": None}
    assert [r["rank"] for r in doc["rows"]] == [1, 2, 3, 3, 5]
    before = scoreboard_json(standings(spec, [], at(-10)))
    assert before["contest_time"] == "-0:10:00" and before["state"]["started"] is None and before["rows"] == []


def test_html_escapes_names_and_runs_no_script():
    spec = contest(title="Finals <b>&", participants=[{"id": "x", "name": "<script>alert(1)</script>"},
                                                     {"id": "y"}],
                   problems=[{"label": "A", "problem": "pa", "name": 'Say "hi"', "color": "#ff0000"}])
    given = Judgement(participant="y", problem="A", submitted=at(3), verdict=AC, name="e", created=at(3),
                      participant_name='"><img src=x onerror=alert(2)>')
    page = scoreboard_html(standings(spec, [j("x", "A", 5, AC), given], at(10)), title=spec.title)
    assert "<script" not in page and "<img" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&quot;&gt;&lt;img src=x onerror=alert(2)&gt;" in page
    assert "Finals &lt;b&gt;&amp;" in page and 'title="Say &quot;hi&quot;"' in page
    assert "default-src 'none'" in page  # even if something slipped through, the page may run nothing
    assert page.index("onerror") < page.index("alert(1)")  # y solved first: ranked first


def test_html_shows_cells_for_people():
    spec = contest(window={"start": "2026-05-01T10:00:00Z", "end": "2026-05-01T15:00:00Z",
                           "freeze": "2026-05-01T14:00:00Z"})
    page = scoreboard_html(standings(spec, ICPC_DAY + [j("erin", "B", 245, AC)], at(250)), title="t")
    assert "public scoreboard" in page and "are hidden" in page
    assert '<td class="first">15<small>1 try</small></td>' in page           # bob on A
    assert '<td class="solved">20<small>2 tries</small></td>' in page        # alice on A
    assert '<td class="pending">?<small>1 pending</small></td>' in page      # erin on B, after the freeze
    assert '<td class="failed"><small>1 try</small></td>' in page            # erin on C
    jury = scoreboard_html(standings(spec, ICPC_DAY, at(250), jury=True), title="t")
    assert "full (jury) scoreboard" in jury and "hidden" not in jury


def test_status_summary():
    spec = contest(top=2, window={"start": "2026-05-01T10:00:00Z", "end": "2026-05-01T15:00:00Z",
                                  "freeze": "2026-05-01T14:00:00Z"})
    judgements = ICPC_DAY + [j("erin", "B", 245, AC), j("erin", "C", 246)]
    summary = status_summary(standings(spec, judgements, at(250)), standings(spec, judgements, at(250), jury=True))
    assert summary == {"state": "Frozen", "participants": 5, "leader": "alice", "judged": 14, "pending": 1,
                       "top": [{"rank": 1, "participant": "alice", "solved": 2, "penalty": 70},
                               {"rank": 2, "participant": "bob", "solved": 2, "penalty": 90}]}
    nobody = status_summary(standings(spec, [j("x", "A", 1, WA)], at(5)), standings(spec, [], at(5), jury=True))
    assert nobody["leader"] is None and nobody["state"] == "Running"


# --- from Evaluations, and the resource ----------------------------------------------------------------------------


def evaluation(name="e1", phase="Succeeded", verdict="Accepted", problem="pa", labels=None, annotations=None,
               **status):
    return {"metadata": {"name": name, "uid": "u-1", "creationTimestamp": "2026-05-01T10:20:00Z",
                         "labels": {"gavel.dev/contest": "c", "gavel.dev/participant": "team-1", **(labels or {})},
                         "annotations": annotations or {}},
            "spec": {"problem": problem},
            "status": {"phase": phase, "verdict": verdict, **status}}


def test_judgement_from_an_evaluation():
    labels = {"pa": "A", "pb": "B"}
    got = judgement_from_evaluation(evaluation(score=70, groups=[{"name": "g1", "score": 30, "maxScore": 30},
                                                                 {"name": "g2", "score": 40, "maxScore": 70}],
                                               labels={"gavel.dev/submission": "s-9"},
                                               annotations={"gavel.dev/submitted-at": "2026-05-01T10:03:00Z",
                                                            "gavel.dev/participant-name": "Team One"}), labels)
    assert (got.participant, got.problem, got.verdict, got.score, dict(got.groups)) == \
        ("team-1", "A", AC, 70, {"g1": 30, "g2": 40})
    assert got.submitted == at(3) and got.created == at(20) and got.identity == ("team-1", "A", "s-9")
    assert got.participant_name == "Team One"
    running = judgement_from_evaluation(evaluation(phase="Running", verdict=None), labels)
    assert running.pending and running.submitted == at(20) and running.identity == ("team-1", "A", "e1")
    failed = judgement_from_evaluation(evaluation(phase="Failed", verdict=None), labels)
    assert failed.pending and failed.verdict == IE
    assert judgement_from_evaluation(evaluation(phase="Canceled"), labels) is None
    assert judgement_from_evaluation(evaluation(problem="other"), labels) is None
    no_one = evaluation()
    del no_one["metadata"]["labels"]["gavel.dev/participant"]
    assert judgement_from_evaluation(no_one, labels) is None


def test_contest_spec_defaults_and_refusals():
    doc = yaml.safe_load((ROOT / "examples" / "contest.yaml").read_text())
    spec = ContestSpec.model_validate(doc["spec"])
    assert spec.penalty_minutes == 20 and [p.label for p in spec.problems] == ["A", "B", "C"]
    ioi = contest(scoring={"rule": "ioi"})
    assert ioi.ioi_best.value == "subtask" and contest().penalty_minutes == 20 and contest().top == 10
    with pytest.raises(ValidationError):  # a time without an offset is not RFC 3339
        contest(window={"start": "2026-05-01T10:00:00", "end": "2026-05-01T15:00:00Z"})
    with pytest.raises(ValidationError):
        contest(problems=[{"label": "A", "problem": "pa", "color": "red"}])
    with pytest.raises(ValidationError):
        contest(participants=[{"id": "<script>"}])  # ids are label values
