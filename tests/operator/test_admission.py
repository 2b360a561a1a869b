"""Malformed Evaluations are rejected by the API server itself, with a message a person reads."""

import json

import pytest


def evaluation(**spec):
    base = {"language": "cpp", "submission": {"key": "s.cpp"},
            "tests": [{"name": "1", "input": {"key": "1.in"}, "expected": {"key": "1.out"}}]}
    return {"apiVersion": "gavel.dev/v1alpha1", "kind": "Evaluation", "metadata": {"name": "bad"},
            "spec": {**base, **spec}}


CASES = [
    (evaluation(tests=[]), "an Evaluation names either spec.problem or spec.tests, one of the two"),
    (evaluation(problem="sum"), "an Evaluation names either spec.problem or spec.tests, one of the two"),
    (evaluation(language="C++"), "spec.language in body should match"),
    (evaluation(checker={"kind": "custom"}), "a custom checker needs checker.program"),
    (evaluation(checker={"kind": "lines", "epsilon": 0.1}), "checker.epsilon is only for kind: float"),
    (evaluation(tests=[{"name": "1", "input": {"key": "a"}, "expected": {"key": "b"}}] * 2), "Duplicate value"),
    (evaluation(limits={"timeMs": 0}), "spec.limits.timeMs in body should be greater than or equal to 1"),
    (evaluation(limits={"timeMs": 2000, "wallMs": 1000}), "limits.wallMs must be at least limits.timeMs"),
    (evaluation(retries=99), "spec.retries in body should be less than or equal to 10"),
    (evaluation(callbackUrl="ftp://x"), "spec.callbackUrl in body should match '^https?://'"),
    (evaluation(bogus=1), 'unknown field "spec.bogus"'),
]


def refusal(kube, namespace: str, manifest: dict) -> str:
    """What the API server says as it refuses to create `manifest`."""
    proc = kube.run("-n", namespace, "create", "--validate=strict", "-f", "-", input=json.dumps(manifest), check=False)
    assert proc.returncode != 0, f"accepted a malformed {manifest['kind']}"
    return proc.stderr


@pytest.mark.parametrize("manifest,message", CASES, ids=[m for _, m in CASES])
def test_rejected_with_a_clear_message(kube, crds, namespace, manifest, message):
    stderr = refusal(kube, namespace, manifest)
    assert message in stderr, stderr


def test_spec_cannot_change(kube, crds, namespace):
    kube("-n", namespace, "create", "-f", "-", input=json.dumps(evaluation()))
    proc = kube.run("-n", namespace, "patch", "evaluation", "bad", "--type=merge", "-p",
                    '{"spec":{"language":"c"}}', check=False)
    assert proc.returncode != 0 and "cannot change" in proc.stderr


def test_explain_teaches(kube, crds):
    text = kube("explain", "evaluation.spec")
    assert "A submission to judge against ordered test cases" in text
    assert "retries" in text and "infrastructure failure" in text
    assert "Higher runs first" in kube("explain", "evaluation.spec.priority")


WINDOW = {"start": "2026-01-01T10:00:00Z", "end": "2026-01-01T15:00:00Z"}


def contest(**spec):
    base = {"problems": [{"label": "A", "problem": "pa"}], "window": WINDOW}
    return {"apiVersion": "gavel.dev/v1alpha1", "kind": "Contest", "metadata": {"name": "bad"},
            "spec": {**base, **spec}}


CONTEST_CASES = [
    (contest(window={**WINDOW, "end": "2026-01-01T09:00:00Z"}), "window.end must be after window.start"),
    (contest(window={**WINDOW, "freeze": "2026-01-01T16:00:00Z"}),
     "window.freeze must lie between window.start and window.end"),
    (contest(window={**WINDOW, "thaw": "2026-01-01T16:00:00Z"}), "window.thaw needs window.freeze"),
    (contest(problems=[{"label": "A", "problem": "pa"}, {"label": "A", "problem": "pb"}]),
     "each problem label may appear once"),
    (contest(problems=[{"label": "A", "problem": "pa"}, {"label": "B", "problem": "pa"}]),
     "each Problem may appear once"),
    (contest(scoring={"rule": "ioi", "penaltyMinutes": 20}), "scoring.penaltyMinutes is for rule icpc"),
    (contest(scoring={"rule": "icpc", "best": "submission"}), "scoring.best is for rule ioi"),
    (contest(participants=[{"id": "p1"}, {"id": "p1"}]), "Duplicate value"),
]


@pytest.mark.parametrize("manifest,message", CONTEST_CASES, ids=[m for _, m in CONTEST_CASES])
def test_a_malformed_contest_is_rejected_with_a_clear_message(kube, crds, namespace, manifest, message):
    stderr = refusal(kube, namespace, manifest)
    assert message in stderr, stderr


def test_a_contest_without_scoring_says_its_rule(kube, crds, namespace):
    """The CRD's defaults fill scoring (rule icpc): the Rule column and -o yaml say which rule ranks."""
    kube("-n", namespace, "create", "-f", "-", input=json.dumps(contest()))
    assert kube.json("-n", namespace, "get", "contest", "bad")["spec"]["scoring"]["rule"] == "icpc"
    assert "icpc" in kube("-n", namespace, "get", "contests")
    assert "scoring rule" in kube("explain", "contest.spec")
