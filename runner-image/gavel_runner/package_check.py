"""`gavel problem check` on a problem package: its example submissions judged and held to what
their directories (and, 2023-07-draft, submissions/submissions.yaml) say they must get, the way
problemtools' verifyproblem does, with the time limit the package states or the one its
multipliers give from the accepted submissions.

Each submission is judged once, at the higher of the two limits the spec speaks of (the time limit
times time_limit_to_tle, problemtools' "safety margin"); its verdict at the time limit itself is
read from the same run (a test whose CPU time is past the limit is a time-limit failure there).
Without a stated time limit the submissions that bound it from below (accepted; 2023-07-draft: any
whose rules do not permit TLE) are judged first, under a cap, and the limit is computed from the
slowest of their tests."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gavel_contract import Limits, Result, Task, Verdict
from gavel_contract.languages import UnknownLanguage
from gavel_contract.package import (
    ALL_VERDICTS, DRAFT, LEGACY, TIMELIMIT_FILE, Outcome, Package, PackageSubmission, grade, spec_glob, outcomes_of,
)

from . import problems

DEFAULT_CAP_MS = 60_000  # what the submissions bounding a time limit from below may take, per test, before it is known
RESULT_VERDICTS = {Verdict.COMPILATION_ERROR: "CE", Verdict.INTERNAL_ERROR: "JE", Verdict.INITIALIZATION_ERROR: "JE"}


@dataclass
class SubmissionCheck:
    submission: PackageSubmission
    judged: bool = False
    ok: bool = False
    expected: str = ""
    verdict: str = ""  # the package's verdict at the time limit (CE: did not compile, JE: a judge error)
    score: float | None = None
    time_ms: int = 0  # its slowest test
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    result: Result | None = None

    def dump(self) -> dict:
        out = {"path": f"submissions/{self.submission.path}", "language": self.submission.language,
               "expected": self.expected, "verdict": self.verdict if self.judged else None,
               "score": self.score, "timeMs": self.time_ms if self.judged else None,
               "ok": self.ok if self.judged else None, "problems": self.problems, "notes": self.notes}
        if not self.judged:
            out["skipped"] = self.submission.unsupported
        return out


@dataclass
class TimeLimitReport:
    limit_ms: int
    high_ms: int
    source: str  # limits.time_limit, .timelimit, computed, cap (could not be computed)
    explanation: str
    slowest_ms: int | None = None

    def dump(self) -> dict:
        return {"ms": self.limit_ms, "tleMs": self.high_ms, "source": self.source, "explanation": self.explanation,
                **({"slowestAcceptedMs": self.slowest_ms} if self.slowest_ms is not None else {})}


def _seconds(ms: float) -> str:
    return f"{ms / 1000:.3f}".rstrip("0").rstrip(".") + " s"


def expectation_text(sub: PackageSubmission, pkg: Package) -> str:
    e = sub.expectation
    if e.verdict:
        return e.verdict + (" (partial score)" if e.partial else "")
    parts = []
    for r in e.rules:
        words = []
        if "permitted" in r:
            words.append("only " + "/".join(r["permitted"]))
        if "required" in r:
            words.append("some " + "/".join(r["required"]))
        if "score" in r:
            words.append(f"score {r['score']}")
        if "message" in r:
            words.append(f"message {r['message']!r}")
        parts.append((f"{r['tests']}: " if "tests" in r else "") + ", ".join(words))
    return "; ".join(p for p in parts if p) or "anything"


def _task(pkg: Package, directory: Path, sub: PackageSubmission, limit_ms: int, all_tests: bool) -> Task:
    """The task judging a submission at limit_ms (wall: the contract's default for it); all_tests:
    no skipping but what the problem's require_pass asks (2023-07-draft rules look at every test)."""
    problem = pkg.problem
    if all_tests:
        groups = [g.model_copy(update={"short_circuit": False,
                                       "depends_on": g.depends_on if pkg.group_model else []})
                  for g in problem.groups]
        problem = problem.model_copy(update={"groups": groups})
    limits = Limits.model_validate(problem.limits.model_copy(update={"time_ms": limit_ms, "wall_ms": None})
                                   .model_dump())
    return problems.task_for(problem, directory, directory / "submissions" / sub.path, sub.language, limits=limits)


def _verdict_of(result: Result, pkg: Package, limit_ms: int) -> tuple[str, float | None, int, dict[str, Outcome]]:
    if result.verdict in RESULT_VERDICTS:
        return RESULT_VERDICTS[result.verdict], None, 0, {}
    outcomes = outcomes_of(result.tests, limit_ms)
    verdict, score, slowest = grade(pkg, outcomes)
    return verdict, score, slowest, outcomes


def _full(pkg: Package, score: float | None) -> bool:
    if not pkg.scoring or score is None:
        return True
    best = pkg.range_max
    if best is None:
        best = pkg.problem.max_score()
    return math.isclose(score, best, rel_tol=1e-9, abs_tol=1e-6)


def _rule_tests(pkg: Package, rule: dict) -> set[str]:
    if "tests" not in rule:
        return {t.name for t in pkg.problem.tests}
    paths = {t.name: t.input[len("data/"):-len(".in")] for t in pkg.problem.tests}
    return {name for name, path in paths.items() if spec_glob(rule["tests"], path)}


def _score_matches(want, score: float | None) -> bool:
    if score is None:
        return False
    if isinstance(want, list) and len(want) == 2:
        return want[0] - 1e-6 <= score <= want[1] + 1e-6
    return math.isclose(float(want), score, rel_tol=1e-9, abs_tol=1e-6)


def _judge_rules(pkg: Package, check: SubmissionCheck, low: dict[str, Outcome], high: dict[str, Outcome],
                 score: float | None) -> None:
    for rule in check.submission.expectation.rules:
        names = _rule_tests(pkg, rule)
        where = f" on {rule['tests']}" if "tests" in rule else ""
        got = [low[n].verdict for n in sorted(names) if n in low and low[n].verdict]
        permitted = rule.get("permitted", list(ALL_VERDICTS))
        required = rule.get("required", list(ALL_VERDICTS))
        if bad := sorted({v for v in got if v not in permitted}):
            check.problems.append(f"got {'/'.join(bad)}{where}, permitted only {'/'.join(permitted)}")
        if not any(v in required for v in got):
            check.problems.append(f"got none of {'/'.join(required)}{where}")
        if "score" in rule and "tests" not in rule and not _score_matches(rule["score"], score):
            check.problems.append(f"score {score if score is not None else 'none'}, not {rule['score']}")
        if "message" in rule and not any(rule["message"] in (low[n].message or "") for n in names if n in low):
            check.problems.append(f"no judge message{where} says {rule['message']!r}")
        if required == ["TLE"] and rule.get("use_for_time_limit") is not False and \
                not any(high[n].verdict == "TLE" for n in names if n in high):
            check.problems.append("does not time out at the time limit times time_limit_to_tle "
                                  "(the spec's margin for time_limit_exceeded submissions)")


def check_package(pkg: Package, directory: str | os.PathLike, judge: Callable[[Task], Result], *,
                  cap_ms: int = DEFAULT_CAP_MS, report: Callable[[SubmissionCheck], None] = lambda c: None,
                  announce: Callable[[TimeLimitReport], None] = lambda t: None,
                  ) -> tuple[TimeLimitReport, list[SubmissionCheck]]:
    """Judge every example submission Gavel can run and hold each to its expectation; `report` is
    called as each one is done, `announce` once the time limit is known."""
    directory = Path(directory)
    all_tests = pkg.version == DRAFT
    checks = [SubmissionCheck(s, expected=expectation_text(s, pkg)) for s in pkg.submissions]
    results: dict[int, tuple[Result, int]] = {}  # index -> (result, the limit it was judged at)

    def run(i: int, limit_ms: int) -> None:
        sub = pkg.submissions[i]
        try:
            results[i] = (judge(_task(pkg, directory, sub, limit_ms, all_tests)), limit_ms)
        except UnknownLanguage as err:
            sub.unsupported = str(err)

    judgeable = [i for i, s in enumerate(pkg.submissions) if s.language and not s.unsupported]
    lower = [i for i in judgeable if pkg.submissions[i].expectation.lower_bound]
    time = pkg.time
    if time.fixed_ms is not None:
        limit = time.fixed_ms
        timing = TimeLimitReport(limit, time.high_ms(limit), time.source,
                                 f"{_seconds(limit)} from {time.source}")
    else:
        for i in lower:
            run(i, cap_ms)
        slowest = [_verdict_of(results[i][0], pkg, cap_ms)[2] for i in lower if i in results
                   and results[i][0].verdict not in RESULT_VERDICTS]
        if slowest:
            limit = time.computed_ms(max(slowest))
            multiplier = "time_multiplier" if pkg.version == LEGACY else "ac_to_time_limit"
            timing = TimeLimitReport(limit, time.high_ms(limit), "computed",
                                     f"{_seconds(limit)}, computed: the slowest test of a submission bounding it "
                                     f"from below took {_seconds(max(slowest))}, times {time.ac_to_time_limit:g} "
                                     f"({multiplier}), rounded up to a multiple of {time.resolution_s:g} s",
                                     slowest_ms=max(slowest))
        else:
            limit = cap_ms
            timing = TimeLimitReport(limit, limit, "cap", f"cannot be computed: no submission bounding it from below "
                                                          f"was judged; {_seconds(cap_ms)} (the cap) used")
    margin = "time_safety_margin" if pkg.version == LEGACY else "time_limit_to_tle"
    timing.explanation += f"; time-limit-exceeded submissions must still fail at {_seconds(timing.high_ms)} " \
                          f"(x {time.time_limit_to_tle:g}, {margin})"
    announce(timing)
    for i, check in enumerate(checks):
        sub = check.submission
        if not sub.language or sub.unsupported:
            report(check)
            continue
        if i not in results or results[i][1] < timing.high_ms:
            run(i, timing.high_ms)
        if i not in results:
            report(check)
            continue
        _assess(pkg, check, results[i][0], timing)
        report(check)
    return timing, checks


def _assess(pkg: Package, check: SubmissionCheck, result: Result, timing: TimeLimitReport) -> None:
    sub, e = check.submission, check.submission.expectation
    check.judged, check.result = True, result
    verdict, score, slowest, low = _verdict_of(result, pkg, timing.limit_ms)
    verdict_high, score_high, _, high = _verdict_of(result, pkg, timing.high_ms)
    check.verdict, check.score, check.time_ms = verdict, score, slowest
    if verdict in ("CE", "JE"):
        check.problems.append(f"{result.verdict.value}: " + " ".join(result.message.split())[:160])
    elif e.verdict:  # legacy (and problemtools' reading of partially_accepted)
        partial_ok = not e.partial or not _full(pkg, score)
        if verdict == e.verdict and partial_ok:
            pass
        elif verdict_high == e.verdict and (not e.partial or not _full(pkg, score_high)):
            check.notes.append(f"as expected only with the extra time ({_seconds(timing.high_ms)})")
        elif verdict == e.verdict:
            check.problems.append("got the full score, expected part of it (partially_accepted)")
        else:
            check.problems.append(f"expected {e.verdict}, got {verdict}")
        if verdict != verdict_high:
            check.notes.append(f"sensitive to the time limit: {verdict} at {_seconds(timing.limit_ms)}, "
                               f"{verdict_high} at {_seconds(timing.high_ms)}")
        if e.verdict == "AC" and not e.partial and verdict == "AC" and not _full(pkg, score):
            check.notes.append("did not get the full score (partially_accepted?)")
        if e.rules and verdict in ("AC", "WA", "TLE", "RTE"):
            _judge_rules(pkg, check, low, high, score)
    else:
        _judge_rules(pkg, check, low, high, score)
    if e.lower_bound and timing.source in ("limits.time_limit", TIMELIMIT_FILE) and verdict == "AC" and \
            slowest * pkg.time.ac_to_time_limit > timing.limit_ms:
        check.problems.append(f"its slowest test took {_seconds(slowest)}: times {pkg.time.ac_to_time_limit:g} that "
                              f"is above the stated time limit {_seconds(timing.limit_ms)}")
    check.ok = not check.problems


def write_timelimit(directory: str | os.PathLike, timing: TimeLimitReport) -> Path:
    """The computed time limit as the package's .timelimit (seconds), which judging then uses."""
    path = Path(directory) / TIMELIMIT_FILE
    seconds = timing.limit_ms / 1000
    path.write_text((f"{seconds:g}" if seconds == int(seconds) else f"{seconds:.3f}".rstrip("0")) + "\n")
    return path


__all__ = ["check_package", "write_timelimit", "SubmissionCheck", "TimeLimitReport"]
