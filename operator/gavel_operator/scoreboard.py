"""Standings of a Contest from its judgements: pure functions, no cluster, no storage.

The operator (contests.py) turns each Evaluation of a contest into a `Judgement`
(`judgement_from_evaluation`), ranks them (`standings`) once for the public view and once for the
jury, and writes `scoreboard_json` and `scoreboard_html` of both.

Rules, as built (docs/contests.md says the same for people):
- A submission counts when it is made in [window.start, window.end) by a ranked participant on a
  problem of the contest. Its time is the Evaluation's `gavel.dev/submitted-at` annotation (the
  platform's word) or else its creationTimestamp.
- A judgement is pending until its Evaluation is Succeeded; InternalError and InitializationError
  (the judge failed, not the submission) stay pending until a rejudge, as the CCS requirements
  treat a "judging error"; a Canceled Evaluation is not a submission at all.
- A rejudge: judgements with the same identity, (participant, problem, the `gavel.dev/submission`
  label or else the Evaluation's name), are one submission: the newest (creationTimestamp, then
  name) replaces the others, and the submission keeps the earliest time among them.
- icpc: solved, then penalty (the contest minute of the first Accepted, rounded down, plus the
  penalty per rejected submission before it; CompilationError is neither penalised nor counted as
  a try), then the minute of the last solve; equal keys share a rank. First to solve: the earliest
  Accepted of a problem, once no earlier submission of it is pending.
- ioi: the sum over problems of the best score, per submission or per group (subtask) across
  submissions; equal scores share a rank.
- The public view during a freeze shows submissions made at or after window.freeze as pending,
  until window.thaw; the jury view shows everything.

The JSON follows the scoreboard endpoint of the ICPC Contest API, release 2026-01
(https://ccs-specs.icpc.io/2026-01/contest_api#scoreboard, icpc/ccs-specs branch release-2026-01):
RELTIME strings (h:mm:ss) for times, `score.num_solved`/`total_time` for pass-fail and
`score.score` for score contests, `score.time` always present (null before the first solve).
`first_to_solve` on a pass-fail problem object is an extension (DOMjudge adds the same
property); the spec itself reports first solves as awards.
"""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from gavel_contract import Verdict

from .resources import ContestSpec, ContestState, ContestWindow, IoiBest, ScoringRule

CONTEST_LABEL = "gavel.dev/contest"
PARTICIPANT_LABEL = "gavel.dev/participant"
SUBMISSION_LABEL = "gavel.dev/submission"
SUBMITTED_AT_ANNOTATION = "gavel.dev/submitted-at"
PARTICIPANT_NAME_ANNOTATION = "gavel.dev/participant-name"

JUDGING_ERRORS = {Verdict.INTERNAL_ERROR, Verdict.INITIALIZATION_ERROR}
SCORE_DIGITS = 6  # scores are sums of floats: compare them rounded, or 70 ≠ 69.99999999
LEADER_MAX = 100


@dataclass(frozen=True, eq=False)
class Judgement:
    """What one Evaluation says about one submission."""

    participant: str
    problem: str  # the contest's label, e.g. A
    submitted: datetime
    verdict: Verdict | None = None  # None: not judged yet
    score: float = 0.0
    groups: Mapping[str, float] = field(default_factory=dict)  # group (subtask) name -> score
    name: str = ""  # the Evaluation's
    uid: str = ""
    created: datetime | None = None  # its creationTimestamp: orders a rejudge after what it replaces
    submission: str | None = None  # gavel.dev/submission; None: the Evaluation's name identifies it
    participant_name: str | None = None

    @property
    def pending(self) -> bool:
        return self.verdict is None or self.verdict in JUDGING_ERRORS

    @property
    def identity(self) -> tuple[str, str, str]:
        return self.participant, self.problem, self.submission or self.name


@dataclass
class Cell:
    """One participant on one problem."""

    label: str
    judged: int = 0  # icpc: up to and including the first Accepted, compilation errors left out
    pending: int = 0
    solved: bool = False
    minute: int | None = None  # icpc: of the first Accepted; ioi: when the score last rose
    penalty: int = 0  # icpc
    score: float = 0.0  # ioi
    first_to_solve: bool = False
    accepted_at: datetime | None = None  # icpc: the exact time, for first to solve


@dataclass
class Row:
    participant: str
    name: str
    cells: list[Cell]
    rank: int = 0

    @property
    def solved(self) -> int:
        return sum(c.solved for c in self.cells)

    @property
    def penalty(self) -> int:
        return sum(c.penalty for c in self.cells if c.solved)

    @property
    def score(self) -> float:
        return round(sum(c.score for c in self.cells), SCORE_DIGITS)

    @property
    def last_minute(self) -> int | None:
        """icpc: minute of the last solve; ioi: of the last score improvement."""
        minutes = [c.minute for c in self.cells if c.minute is not None and (c.solved or c.score > 0)]
        return max(minutes, default=None)


@dataclass
class Standings:
    spec: ContestSpec
    now: datetime
    jury: bool
    hides_after_freeze: bool  # this view shows submissions from window.freeze on as pending
    rows: list[Row]
    judged: int  # submissions counted, with a final judgement this view shows
    pending: int

    @property
    def rule(self) -> ScoringRule:
        return self.spec.scoring.rule


def contest_state(window: ContestWindow, now: datetime) -> ContestState:
    if now < window.start:
        return ContestState.SCHEDULED
    if now >= window.end:
        return ContestState.OVER
    if window.freeze is not None and now >= window.freeze:
        return ContestState.FROZEN
    return ContestState.RUNNING


def public_view_frozen(window: ContestWindow, now: datetime) -> bool:
    return window.freeze is not None and not (window.thaw is not None and now >= window.thaw)


def latest_judgements(judgements: Iterable[Judgement]) -> list[Judgement]:
    """One judgement per submission: the newest, carrying the earliest submission time of its kind."""
    by_identity: dict[tuple[str, str, str], list[Judgement]] = defaultdict(list)
    for j in judgements:
        by_identity[j.identity].append(j)
    out = []
    for same in by_identity.values():
        newest = max(same, key=lambda j: (j.created or datetime.min.replace(tzinfo=timezone.utc), j.name))
        first = min(j.submitted for j in same)
        out.append(newest if newest.submitted == first else replace(newest, submitted=first))
    return out


def standings(spec: ContestSpec, judgements: Iterable[Judgement], now: datetime, *, jury: bool = False) -> Standings:
    window = spec.window
    labels = [p.label for p in spec.problems]
    listed = {p.id: p.name for p in spec.participants} if spec.participants is not None else None
    hides = not jury and public_view_frozen(window, now)

    latest = latest_judgements(judgements)
    given: dict[str, str | None] = {}  # participant -> the newest name an Evaluation gave, if any
    for j in sorted(latest, key=lambda j: j.created or j.submitted):
        given[j.participant] = j.participant_name or given.get(j.participant)
    ids = list(listed) if listed is not None else list(given)
    names = {pid: (listed or {}).get(pid) or given.get(pid) or pid for pid in ids}

    counted: dict[tuple[str, str], list[Judgement]] = defaultdict(list)
    for j in latest:
        if j.participant in names and j.problem in labels and window.start <= j.submitted < window.end:
            counted[j.participant, j.problem].append(j)

    def hidden(j: Judgement) -> bool:
        return hides and window.freeze is not None and j.submitted >= window.freeze

    rows = []
    pending_at: dict[str, list[datetime]] = defaultdict(list)  # per label: when pending submissions were made
    judged_total = pending_total = 0
    for participant, name in names.items():
        cells = []
        for label in labels:
            subs = sorted(counted.get((participant, label), []),
                          key=lambda j: (j.submitted, j.created or j.submitted, j.name))
            shown = [None if (j.pending or hidden(j)) else j for j in subs]
            judged_total += sum(s is not None for s in shown)
            pending_total += sum(s is None for s in shown)
            pending_at[label] += [j.submitted for j, s in zip(subs, shown) if s is None]
            if spec.scoring.rule == ScoringRule.ICPC:
                cells.append(_icpc_cell(label, shown, window.start, spec.penalty_minutes))
            else:
                cells.append(_ioi_cell(label, shown, window.start, spec.ioi_best))
        rows.append(Row(participant, name, cells))

    if spec.scoring.rule == ScoringRule.ICPC:
        _mark_first_to_solve(rows, labels, pending_at)
    _rank(rows, spec.scoring.rule)
    return Standings(spec=spec, now=now, jury=jury, hides_after_freeze=hides, rows=rows, judged=judged_total,
                     pending=pending_total)


def _minute(at: datetime, start: datetime) -> int:
    return int((at - start).total_seconds() // 60)  # rounded down: 59.99 s is minute 0


def _icpc_cell(label: str, shown: list[Judgement | None], start: datetime, penalty_minutes: int) -> Cell:
    """shown: the submissions in time order, None where this view shows one as pending."""
    cell = Cell(label)
    for j in shown:
        if j is None:
            cell.pending += 1
            continue
        if j.verdict == Verdict.COMPILATION_ERROR:
            continue
        cell.judged += 1
        if j.verdict == Verdict.ACCEPTED:
            cell.solved, cell.accepted_at = True, j.submitted
            cell.minute = _minute(j.submitted, start)
            cell.penalty = cell.minute + penalty_minutes * (cell.judged - 1)
            break  # what comes after the first Accepted does not count
    return cell


def _ioi_cell(label: str, shown: list[Judgement | None], start: datetime, best: IoiBest) -> Cell:
    cell = Cell(label)
    kept: dict[str, float] = {}  # best so far per part: per group, or the whole submission ("")
    for j in shown:
        if j is None:
            cell.pending += 1
            continue
        cell.judged += 1
        for part, value in _parts(j, best).items():
            kept[part] = max(kept.get(part, 0.0), value)
        total = round(sum(kept.values()), SCORE_DIGITS)
        if total > cell.score:
            cell.score, cell.minute = total, _minute(j.submitted, start)
    return cell


def _parts(j: Judgement, best: IoiBest) -> dict[str, float]:
    if best == IoiBest.SUBMISSION or not j.groups:
        return {"": j.score}
    parts = dict(j.groups)
    rest = j.score - sum(j.groups.values())  # tests outside every group are one more part ("": no group's name)
    if rest > 10 ** -SCORE_DIGITS:
        parts[""] = rest
    return parts


def _mark_first_to_solve(rows: list[Row], labels: list[str], pending_at: Mapping[str, list[datetime]]) -> None:
    for i, label in enumerate(labels):
        solved = [r.cells[i] for r in rows if r.cells[i].solved]
        if not solved:
            continue
        first = min(c.accepted_at for c in solved)
        if any(at < first for at in pending_at.get(label, [])):
            continue  # an earlier submission may still be the first: not decided yet
        for c in solved:
            c.first_to_solve = c.accepted_at == first


def _rank(rows: list[Row], rule: ScoringRule) -> None:
    def key(r: Row) -> tuple:
        if rule == ScoringRule.ICPC:
            return -r.solved, r.penalty, r.last_minute or 0
        return (-r.score,)

    rows.sort(key=lambda r: (key(r), r.name.casefold(), r.participant))
    for i, r in enumerate(rows):
        r.rank = rows[i - 1].rank if i and key(rows[i - 1]) == key(r) else i + 1


# --- the Contest API document ----------------------------------------------------------------------------------


def abstime(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def reltime(seconds: float) -> str:
    """RELTIME: (-)h:mm:ss."""
    sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
    whole = int(seconds)
    return f"{sign}{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def _minutes(m: int) -> str:
    return reltime(m * 60)


def _number(x: float) -> int | float:
    return int(x) if float(x).is_integer() else x


def contest_api_state(window: ContestWindow, now: datetime) -> dict[str, str | None]:
    def reached(at: datetime | None) -> str | None:
        return abstime(at) if at is not None and now >= at else None

    return {"started": reached(window.start), "frozen": reached(window.freeze), "ended": reached(window.end),
            "thawed": reached(window.thaw), "finalized": None, "end_of_updates": None}


def scoreboard_json(st: Standings) -> dict[str, Any]:
    """The scoreboard object of the Contest API (release 2026-01)."""
    icpc = st.rule == ScoringRule.ICPC
    rows = []
    for r in st.rows:
        last = r.last_minute
        if icpc:
            score = {"num_solved": r.solved, "total_time": _minutes(r.penalty),
                     "time": _minutes(last) if r.solved else None}
        else:
            score = {"score": _number(r.score), "time": _minutes(last) if r.score > 0 else None}
        problems = []
        for c in r.cells:
            p: dict[str, Any] = {"problem_id": c.label, "num_judged": c.judged, "num_pending": c.pending}
            if icpc:
                p["solved"] = c.solved
                if c.solved:
                    p["time"] = _minutes(c.minute)
                p["first_to_solve"] = c.first_to_solve
            else:
                p["score"] = _number(c.score)
                if c.score > 0:
                    p["time"] = _minutes(c.minute)
            problems.append(p)
        rows.append({"rank": r.rank, "team_id": r.participant, "score": score, "problems": problems})
    return {"time": abstime(st.now), "contest_time": reltime((st.now - st.spec.window.start).total_seconds()),
            "state": contest_api_state(st.spec.window, st.now), "rows": rows}


# --- the status ------------------------------------------------------------------------------------------------


def status_summary(public: Standings, full: Standings) -> dict[str, Any]:
    """What status shows of a rebuild: the ranking as the public sees it, the counts as they are."""
    first = [r for r in public.rows if r.rank == 1]
    someone = first and (first[0].solved if public.rule == ScoringRule.ICPC else first[0].score) > 0
    leader = ", ".join(r.name for r in first) if someone else None
    if leader and len(leader) > LEADER_MAX:
        leader = leader[:LEADER_MAX - 1] + "…"
    top = []
    for r in public.rows[:public.spec.top]:
        row: dict[str, Any] = {"rank": r.rank, "participant": r.participant}
        if r.name != r.participant:
            row["name"] = r.name
        if public.rule == ScoringRule.ICPC:
            row |= {"solved": r.solved, "penalty": r.penalty}
        else:
            row["score"] = _number(r.score)
        top.append(row)
    return {"state": contest_state(public.spec.window, public.now).value, "participants": len(full.rows),
            "leader": leader, "judged": full.judged, "pending": full.pending, "top": top}


# --- the HTML page ---------------------------------------------------------------------------------------------

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#111}
h1{font-size:1.4em;margin:0 0 .2em}
p.state{margin:0 0 1em;color:#444}
table{border-collapse:collapse}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:center}
td.name{text-align:left;max-width:20em;overflow-wrap:anywhere}
th .swatch{display:inline-block;width:.8em;height:.8em;border-radius:50%;margin-right:.3em;border:1px solid #888}
td.solved{background:#c8f0c8}td.first{background:#3c3}td.failed{background:#f6c6c6}
td.pending{background:#fff0a8}td.scored{background:#e3f3d6}
small{display:block;color:#555}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def scoreboard_html(st: Standings, *, title: str, refresh_seconds: int | None = None) -> str:
    """A self-contained page (inline CSS, no script; a CSP forbids any). Every name is escaped: participant
    names are whatever the platform was given."""
    icpc = st.rule == ScoringRule.ICPC
    window = st.spec.window
    state = contest_state(window, st.now)
    note = {ContestState.SCHEDULED: f"starts {abstime(window.start)}",
            ContestState.RUNNING: f"running, ends {abstime(window.end)}",
            ContestState.FROZEN: f"frozen since {abstime(window.freeze)}" if window.freeze else "",
            ContestState.OVER: f"ended {abstime(window.end)}"}[state]
    if st.hides_after_freeze and window.freeze is not None and st.now >= window.freeze:
        note += f"; results of submissions from {abstime(window.freeze)} on are hidden"
    view = "full (jury) scoreboard" if st.jury else "public scoreboard"

    head = ["<th>Rank</th><th>Participant</th>",
            "<th>Solved</th><th>Penalty</th>" if icpc else "<th>Score</th>"]
    for p in st.spec.problems:
        swatch = f'<span class="swatch" style="background:{_e(p.color)}"></span>' if p.color else ""
        head.append(f'<th title="{_e(p.name or p.label)}">{swatch}{_e(p.label)}</th>')
    body = []
    for r in st.rows:
        cells = [f"<td>{r.rank}</td>", f'<td class="name">{_e(r.name)}</td>',
                 f"<td>{r.solved}</td><td>{r.penalty}</td>" if icpc else f"<td>{_e(_number(r.score))}</td>"]
        cells += [_html_cell(c, icpc) for c in r.cells]
        body.append("<tr>" + "".join(cells) + "</tr>")
    refresh = f'<meta http-equiv="refresh" content="{int(refresh_seconds)}">' if refresh_seconds else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        f"{refresh}<title>{_e(title)}</title><style>{STYLE}</style></head><body>\n"
        f"<h1>{_e(title)}</h1>\n<p class=\"state\">{_e(view)}: {_e(note)}; generated {_e(abstime(st.now))}</p>\n"
        f"<table><thead><tr>{''.join(head)}</tr></thead><tbody>\n" + "\n".join(body) +
        "\n</tbody></table></body></html>\n")


def _html_cell(c: Cell, icpc: bool) -> str:
    waiting = f"<small>{c.pending} pending</small>" if c.pending else ""
    if icpc:
        tries = f"<small>{c.judged} {'try' if c.judged == 1 else 'tries'}</small>" if c.judged else ""
        if c.solved:
            kind = "first" if c.first_to_solve else "solved"
            return f'<td class="{kind}">{c.minute}{tries}</td>'
        if c.pending:
            return f'<td class="pending">?{tries}{waiting}</td>'
        return f'<td class="failed">{tries}</td>' if c.judged else "<td></td>"
    if c.pending:
        return f'<td class="pending">{_e(_number(c.score))}{waiting}</td>'
    if not c.judged:
        return "<td></td>"
    return f'<td class="{"scored" if c.score > 0 else "failed"}">{_e(_number(c.score))}</td>'  # max unknown here


# --- from an Evaluation ------------------------------------------------------------------------------------------


def judgement_from_evaluation(obj: Mapping[str, Any], problem_labels: Mapping[str, str]) -> Judgement | None:
    """The judgement an Evaluation (as the API server returns it) gives, or None when it is no submission of
    the contest: no participant label, a problem not in it (problem_labels: Problem name -> label), Canceled."""
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    annotations = meta.get("annotations") or {}
    status = obj.get("status") or {}
    participant = labels.get(PARTICIPANT_LABEL)
    label = problem_labels.get((obj.get("spec") or {}).get("problem") or "")
    if not participant or label is None or status.get("phase") == "Canceled":
        return None
    created = _parse_time(meta.get("creationTimestamp"))
    submitted = _parse_time(annotations.get(SUBMITTED_AT_ANNOTATION)) or created
    if submitted is None:
        return None
    verdict = None
    if status.get("phase") == "Succeeded":
        try:
            verdict = Verdict(status.get("verdict"))
        except ValueError:
            verdict = None
    elif status.get("phase") == "Failed":
        verdict = Verdict.INTERNAL_ERROR  # could not be judged: pending until a rejudge
    groups = {g["name"]: float(g.get("score") or 0) for g in status.get("groups") or [] if g.get("name")}
    return Judgement(participant=participant, problem=label, submitted=submitted, verdict=verdict,
                     score=float(status.get("score") or 0), groups=groups, name=meta.get("name", ""),
                     uid=meta.get("uid", ""), created=created, submission=labels.get(SUBMISSION_LABEL),
                     participant_name=annotations.get(PARTICIPANT_NAME_ANNOTATION))


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)
