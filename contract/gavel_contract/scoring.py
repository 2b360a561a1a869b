"""Scores: points per test, groups (subtasks, batches) scored all-or-nothing, by their weakest
test, or by sum, with dependencies between groups and short-circuiting inside a group, as DMOJ
and CMS do. Pure logic, shared by the runner (which skips what need not run) and the tests.

Every task is scored: without groups each test is worth its `points` (default 1), so a plain
task's score is the number of tests passed (plus the parts a checker gave)."""

from __future__ import annotations

from collections.abc import Sequence

from .models import Group, GroupResult, GroupScoring, TestCase, TestResult, TestVerdict


def group_errors(groups: Sequence[Group], tests: Sequence[TestCase]) -> str | None:
    """Why these groups cannot score these tests, or None."""
    names = [g.name for g in groups]
    if dup := sorted({n for n in names if names.count(n) > 1}):
        return f"group names must be unique, repeated: {', '.join(dup)}"
    known = set(names)
    for t in tests:
        if t.group is not None and t.group not in known:
            return f"test {t.name} names group {t.group}, which is not in groups"
    position = {t.name: i for i, t in enumerate(tests)}
    members = {g.name: [position[t.name] for t in tests if t.group == g.name] for g in groups}
    for i, g in enumerate(groups):
        if not members[g.name]:
            return f"group {g.name} has no tests"
        for dep in g.depends_on:
            if dep not in names[:i]:
                return f"group {g.name} depends on {dep}, which is not a group listed before it"
            if max(members[dep]) > min(members[g.name]):
                return f"group {g.name} depends on {dep}: every test of {dep} must come before those of {g.name}"
    return None


def fraction(result: TestResult) -> float:
    """What share of its points a test earned."""
    if result.verdict == TestVerdict.PASSED:
        return 1.0 if result.score is None else result.score
    if result.verdict == TestVerdict.PARTIAL:
        return result.score or 0.0
    return 0.0


class Scorer:
    """Follows a judgement test by test: says which tests need not run, then adds up the score."""

    def __init__(self, groups: Sequence[Group], tests: Sequence[TestCase]):
        self.groups = {g.name: g for g in groups}
        self.order = [g.name for g in groups]
        self.tests = {t.name: t for t in tests}
        self.members = {name: [t.name for t in tests if t.group == name] for name in self.order}
        self.fractions: dict[str, float] = {}

    def skip_reason(self, test: TestCase) -> str | None:
        """Why this test is not worth running now (it is Skipped with this message), or None."""
        if test.group is None:
            return None
        group = self.groups[test.group]
        for dep in group.depends_on:
            if not self._full(dep):
                return f"group {group.name} depends on group {dep}, which did not score in full"
        if group.short_circuit and group.scoring != GroupScoring.SUM and any(
                self.fractions.get(name) == 0 for name in self.members[group.name]):
            return f"an earlier test of group {group.name} failed"
        return None

    def record(self, result: TestResult) -> None:
        self.fractions[result.name] = fraction(result)

    def _score(self, name: str) -> tuple[float, float]:
        group = self.groups[name]
        tests = self.members[name]
        got = [self.fractions.get(t, 0.0) for t in tests]
        if group.scoring == GroupScoring.SUM:
            return sum(self.tests[t].points * f for t, f in zip(tests, got)), sum(self.tests[t].points for t in tests)
        if group.scoring == GroupScoring.MIN:
            return group.points * min(got), group.points
        return (group.points if all(f >= 1 for f in got) else 0.0), group.points

    def _full(self, name: str) -> bool:
        """Every test of the group judged and passed in full."""
        return all(self.fractions.get(t, 0.0) >= 1 for t in self.members[name])

    def finish(self, results: list[TestResult]) -> tuple[float, float, list[GroupResult]]:
        """Total score, maximum, and per-group results; sets each result's `points` where a test
        is scored on its own (alone, or in a `sum` group)."""
        for r in results:
            self.fractions.setdefault(r.name, fraction(r))
        total = most = 0.0
        for r in results:
            test = self.tests[r.name]
            if test.group is None or self.groups[test.group].scoring == GroupScoring.SUM:
                r.points = round(test.points * self.fractions[r.name], 6)
            if test.group is None:
                total += r.points
                most += test.points
        groups = []
        for name in self.order:
            score, best = self._score(name)
            skipped = any(not self._full(dep) for dep in self.groups[name].depends_on)
            groups.append(GroupResult(name=name, score=round(score, 6), maxScore=best, skipped=skipped))
            total += score
            most += best
        return round(total, 6), most, groups


def max_score(groups: Sequence[Group], tests: Sequence[TestCase]) -> float:
    """The most a task can score: its ungrouped tests' points, each all or min group's points, each
    sum group's tests' points (what Scorer.finish reports as the maximum)."""
    most = sum(t.points for t in tests if t.group is None)
    for g in groups:
        most += sum(t.points for t in tests if t.group == g.name) if g.scoring == GroupScoring.SUM else g.points
    return most


def score_so_far(groups: Sequence[Group], tests: Sequence[TestCase], results: Sequence[TestResult]) -> float:
    """Points earned by the tests decided so far (`results`, in the task's order): a test scored
    alone or in a sum group counts as soon as it is decided; an all or min group once all its tests
    are. Never more than the final score (Scorer.finish) of the same judgement."""
    by_name = {g.name: g for g in groups}
    got = {r.name: fraction(r) for r in results}
    total = 0.0
    for t in tests:
        if t.name in got and (t.group is None or by_name[t.group].scoring == GroupScoring.SUM):
            total += t.points * got[t.name]
    for g in groups:
        if g.scoring == GroupScoring.SUM:
            continue
        members = [t.name for t in tests if t.group == g.name]
        if members and all(m in got for m in members):
            fractions = [got[m] for m in members]
            total += g.points * (min(fractions) if g.scoring == GroupScoring.MIN else float(all(f >= 1 for f in fractions)))
    return round(total, 6)
