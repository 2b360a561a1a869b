"""Scores as pure logic: points per test, groups (all, min, sum), dependencies, short-circuit."""

import pytest
from pydantic import ValidationError

from gavel_contract import Task, TestResult, TestVerdict
from gavel_contract.scoring import Scorer

P, W, H = TestVerdict.PASSED, TestVerdict.WRONG_ANSWER, TestVerdict.PARTIAL


def task(tests, groups=()):
    return Task.model_validate({
        "language": {"version": "3", "sourceFile": "main.py", "run": ["/usr/bin/python3", "main.py"]},
        "languageName": "python", "submission": "s.py", "groups": list(groups),
        "tests": [{"name": n, "input": "i", "expected": "e", **extra} for n, extra in tests]})


def judge(t: Task, verdicts: dict):
    """Runs the scorer as the runner does; verdicts: name -> verdict or (verdict, score)."""
    scorer, results = Scorer(t.groups, t.tests), []
    for test in t.tests:
        if why := scorer.skip_reason(test):
            results.append(TestResult(name=test.name, verdict=TestVerdict.SKIPPED, message=why))
            continue
        v = verdicts[test.name]
        v, score = v if isinstance(v, tuple) else (v, None)
        results.append(TestResult(name=test.name, verdict=v, score=score))
        scorer.record(results[-1])
    total, most, groups = scorer.finish(results)
    return total, most, {g.name: (g.score, g.max_score, g.skipped) for g in groups}, results


def test_without_groups_each_test_is_worth_its_points():
    t = task([("1", {}), ("2", {"points": 3}), ("3", {"points": 2})])
    total, most, groups, results = judge(t, {"1": P, "2": (H, 0.5), "3": W})
    assert (total, most, groups) == (2.5, 6, {})
    assert [r.points for r in results] == [1, 1.5, 0]


def test_three_subtasks_with_a_dependency_and_short_circuit():
    t = task([("a1", {"group": "small"}), ("a2", {"group": "small"}),
              ("b1", {"group": "large"}), ("b2", {"group": "large"}),
              ("c1", {"group": "extra", "points": 5}), ("c2", {"group": "extra", "points": 5})],
             [{"name": "small", "points": 20}, {"name": "large", "points": 50, "dependsOn": ["small"]},
              {"name": "extra", "scoring": "sum"}])
    total, most, groups, results = judge(t, {"a1": P, "a2": P, "b1": W, "b2": P, "c1": P, "c2": W})
    assert groups == {"small": (20, 20, False), "large": (0, 50, False), "extra": (5, 10, False)}
    assert (total, most) == (25, 80)
    b2 = next(r for r in results if r.name == "b2")
    assert b2.verdict == TestVerdict.SKIPPED and "earlier test of group large failed" in b2.message
    # small fails: large is skipped whole, extra still runs
    total, _, groups, results = judge(t, {"a1": W, "a2": P, "b1": P, "b2": P, "c1": P, "c2": P})
    assert groups["large"] == (0, 50, True) and total == 10
    assert [r.verdict for r in results if r.name.startswith("b")] == [TestVerdict.SKIPPED] * 2
    assert "depends on group small" in results[2].message


def test_min_scoring_takes_the_weakest_test():
    t = task([("1", {"group": "g"}), ("2", {"group": "g"})], [{"name": "g", "points": 40, "scoring": "min"}])
    assert judge(t, {"1": (H, 0.5), "2": (P, None)})[:2] == (20, 40)


@pytest.mark.parametrize("groups, tests, words", [
    ([{"name": "g"}, {"name": "g"}], [("1", {"group": "g"})], "unique"),
    ([{"name": "g"}], [("1", {"group": "h"})], "names group h"),
    ([{"name": "g"}, {"name": "e"}], [("1", {"group": "g"})], "group e has no tests"),
    ([{"name": "g", "dependsOn": ["h"]}, {"name": "h"}], [("1", {"group": "g"}), ("2", {"group": "h"})],
     "not a group listed before it"),
    ([{"name": "g"}, {"name": "h", "dependsOn": ["g"]}], [("1", {"group": "h"}), ("2", {"group": "g"})],
     "every test of g must come before"),
])
def test_groups_that_cannot_score_are_refused(groups, tests, words):
    with pytest.raises(ValidationError, match=words):
        task(tests, groups)
