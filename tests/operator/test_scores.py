"""Scores through real Jobs: groups (all-or-nothing with a dependency, sum), a partial checker,
and what the status and `kubectl get` show a platform rebuilding its leaderboard."""

from __future__ import annotations

from conftest import apply, wait_phase

# right for small sums only: "overflows" past 1000, as a naive solution would on large tests
SMALL_ONLY = "a, b = map(int, input().split())\nprint(a + b if a + b < 1000 else -1)\n"
HALF = "import sys\nprint('0.5')\n"  # a score-line checker that gives half of every test


def test_groups_dependencies_and_partial_points(kube, namespace, operator, problems):
    tests = {"s1": ("1 2\n", "3\n"), "s2": ("4 5\n", "9\n"), "l1": ("900 900\n", "1800\n"),
             "l2": ("999 999\n", "1998\n"), "e1": ("1 1\n", "2\n"), "e2": ("700 700\n", "1400\n")}
    ev = problems.evaluation("scored", SMALL_ONLY, "python", tests, groups=[
        {"name": "small", "points": 20}, {"name": "large", "points": 50, "dependsOn": ["small"]},
        {"name": "extra", "scoring": "sum"}])
    for t in ev["spec"]["tests"]:
        t["group"] = {"s": "small", "l": "large", "e": "extra"}[t["name"][0]]
        if t["name"][0] == "e":
            t["points"] = 5
    partial = problems.evaluation("partial", SMALL_ONLY, "python", {"1": ("1 2\n", "3\n")},
                                  checker={"kind": "custom", "language": "python", "protocol": "score-line",
                                           "program": problems.put(f"{problems.root}half.py", HALF)})
    apply(kube, namespace, ev, partial)
    st = wait_phase(kube, namespace, "scored", operator=operator)["status"]
    assert st["verdict"] == "TestFailed" and (st["score"], st["maxScore"]) == (25, 80), st
    assert {g["name"]: (g["score"], g["maxScore"]) for g in st["groups"]} == \
        {"small": (20, 20), "large": (0, 50), "extra": (5, 10)}
    verdicts = {t["name"]: t["verdict"] for t in st["tests"]}
    assert verdicts == {"s1": "Passed", "s2": "Passed", "l1": "WrongAnswer", "l2": "Skipped",
                        "e1": "Passed", "e2": "WrongAnswer"}, verdicts
    assert "score 25/80" in st["message"]
    st = wait_phase(kube, namespace, "partial", operator=operator)["status"]
    assert st["tests"][0]["verdict"] == "Partial" and st["tests"][0]["score"] == 0.5 and st["score"] == 0.5, st
    table = kube("-n", namespace, "get", "evaluations")
    assert "SCORE" in table and "25" in table
    # a malformed group is refused at admission, naming the problem
    bad = problems.evaluation("bad-groups", SMALL_ONLY, "python", {"1": ("1 2\n", "3\n")},
                              groups=[{"name": "g", "dependsOn": ["h"]}])
    bad["spec"]["tests"][0]["group"] = "g"
    apply(kube, namespace, bad)
    st = wait_phase(kube, namespace, "bad-groups", operator=operator)["status"]
    assert st["verdict"] == "InitializationError" and "depends on h, which is not a group listed before it" \
        in st["message"], st
