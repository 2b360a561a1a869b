"""Problems in storage through the real operator and Jobs: a Problem is checked and reported,
Evaluations name it instead of listing tests and get the same scores as `gavel problem check`
locally, a broken problem says why, and changing a problem never changes what an admitted
Evaluation is judged against."""

from __future__ import annotations

import io
import json
from pathlib import Path

import yaml

from conftest import BUCKET, ROOT, apply, wait_phase

EXAMPLES = ROOT / "examples" / "problems"


def upload(s3, directory: Path, prefix: str) -> None:
    client = s3.client()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        data = path.read_bytes()
        client.put_object(BUCKET, f"{prefix}/{path.relative_to(directory).as_posix()}", io.BytesIO(data), len(data))


def problem(name: str, prefix: str) -> dict:
    return {"apiVersion": "gavel.dev/v1alpha1", "kind": "Problem", "metadata": {"name": name},
            "spec": {"prefix": prefix}}


def wait_ready(kube, namespace, name, ready="True", timeout=60) -> dict:
    def seen():
        obj = kube.json("-n", namespace, "get", "problem", name)
        conds = {c["type"]: c["status"] for c in (obj.get("status") or {}).get("conditions") or []}
        return obj if conds.get("Ready") == ready else None
    return kube.wait_for(f"problem {name} Ready={ready}", seen, timeout, 0.5)


def test_problems_judge_like_the_local_judge(kube, namespace, operator, problems, s3):
    prefix = f"{namespace}/problems/subtasks"
    upload(s3, EXAMPLES / "subtasks", prefix)
    apply(kube, namespace, problem("subtasks", prefix))
    status = wait_ready(kube, namespace, "subtasks")["status"]
    assert (status["tests"], status["maxScore"]) == (11, 100) and len(status["digest"]) == 64, status
    assert "medium 30 (after small)" in status["groups"]
    table = kube("-n", namespace, "get", "problems")
    assert "READY" in table and "MAXSCORE" in table and "Sum of N integers" in table
    # every reference solution through the cluster: the scores problem.yaml expects (and gavel problem check gets)
    solutions = yaml.safe_load((EXAMPLES / "subtasks" / "problem.yaml").read_text())["solutions"]
    evs = []
    for i, sol in enumerate(solutions):
        lang, _, version = sol["language"].partition(":")
        spec = {"language": lang, "problem": "subtasks", "submission": {"key": f"{prefix}/{sol['path']}"}}
        if version:
            spec["version"] = version
        evs.append({"apiVersion": "gavel.dev/v1alpha1", "kind": "Evaluation", "metadata": {"name": f"sol-{i}"},
                    "spec": spec})
    apply(kube, namespace, *evs)
    for i, sol in enumerate(solutions):
        st = wait_phase(kube, namespace, f"sol-{i}", operator=operator, timeout=300)["status"]
        assert (st["verdict"], st["score"], st["maxScore"]) == (sol["expect"]["verdict"], sol["expect"]["score"], 100), \
            (sol, st.get("message"), st.get("groups"))
        assert st["problemDigest"] == status["digest"]
    # the Evaluation records what it was judged against; the etcd object holds no test list
    obj = kube.json("-n", namespace, "get", "evaluation", "sol-0")
    assert "tests" not in obj["spec"] and len(json.dumps(obj["spec"])) < 400


def test_an_interactive_problem_in_runner_pods(kube, namespace, operator, problems, s3):
    """Guess the number through real Jobs: the program and the interactor as two uids in the pod."""
    prefix = f"{namespace}/problems/guess"
    upload(s3, EXAMPLES / "guess", prefix)
    apply(kube, namespace, problem("guess", prefix))
    wait_ready(kube, namespace, "guess")
    cases = {"binary": ("binary.c", "c", "Accepted", 5), "tens": ("tens.py", "python", "TestFailed", 3.5),
             "ones": ("ones.py", "python", "TestFailed", 1)}
    apply(kube, namespace, *[{"apiVersion": "gavel.dev/v1alpha1", "kind": "Evaluation", "metadata": {"name": name},
                              "spec": {"language": lang, "problem": "guess",
                                       "submission": {"key": f"{prefix}/solutions/{src}"}}}
                             for name, (src, lang, _, _) in cases.items()])
    for name, (_, _, verdict, score) in cases.items():
        st = wait_phase(kube, namespace, name, operator=operator)["status"]
        assert (st["verdict"], st["score"]) == (verdict, score), (name, st.get("message"), st.get("tests"))
    tests = wait_phase(kube, namespace, "tens", operator=operator)["status"]["tests"]
    assert [t["verdict"] for t in tests] == ["Passed", "Partial", "Passed", "Partial", "Partial"], tests


def test_a_changed_problem_never_changes_an_admitted_evaluation(kube, namespace, operator, problems, s3):
    prefix = f"{namespace}/problems/sum"
    upload(s3, EXAMPLES / "sum", prefix)
    apply(kube, namespace, problem("sum", prefix))
    before = wait_ready(kube, namespace, "sum")["status"]["digest"]
    source = f"{prefix}/solutions/accepted.py"
    apply(kube, namespace, {"apiVersion": "gavel.dev/v1alpha1", "kind": "Evaluation", "metadata": {"name": "early"},
                            "spec": {"language": "python", "problem": "sum", "submission": {"key": source}}})
    st = wait_phase(kube, namespace, "early", operator=operator)["status"]
    assert st["verdict"] == "Accepted" and st["problemDigest"] == before, st
    # the setter breaks an answer and asks for a new check: the digest moves, the verdict stays
    answer = next(p for p in sorted((EXAMPLES / "sum").rglob("*")) if p.suffix in (".out", ".ans"))
    key = f"{prefix}/{answer.relative_to(EXAMPLES / 'sum').as_posix()}"
    s3.client().put_object(BUCKET, key, io.BytesIO(b"-1\n"), 3)
    kube("-n", namespace, "annotate", "problem", "sum", "problems.gavel.dev/refresh=1", "--overwrite")
    kube.wait_for("a new digest", lambda: kube.json("-n", namespace, "get", "problem", "sum")["status"]["digest"]
                  != before, 60, 0.5)
    assert kube.json("-n", namespace, "get", "evaluation", "early")["status"]["verdict"] == "Accepted"


def test_a_broken_problem_says_why(kube, namespace, operator, problems, s3):
    prefix = f"{namespace}/problems/broken"
    client = s3.client()
    doc = b"name: broken\ntests: {pattern: 'tests/*.in'}\n"
    client.put_object(BUCKET, f"{prefix}/problem.yaml", io.BytesIO(doc), len(doc))
    client.put_object(BUCKET, f"{prefix}/tests/1.in", io.BytesIO(b"1 2\n"), 4)  # no answer beside it
    apply(kube, namespace, problem("broken", prefix), problem("elsewhere", "someone-else/problems/x"),
          problem("nothing", f"{namespace}/problems/none"))
    st = wait_ready(kube, namespace, "broken", ready="False")["status"]
    assert "tests/1.in has no answer" in st["message"], st
    st = wait_ready(kube, namespace, "elsewhere", ready="False")["status"]
    assert f"outside what namespace {namespace} may read" in st["message"], st
    st = wait_ready(kube, namespace, "nothing", ready="False")["status"]
    assert "no problem.yaml at" in st["message"], st
    apply(kube, namespace, {"apiVersion": "gavel.dev/v1alpha1", "kind": "Evaluation", "metadata": {"name": "on-broken"},
                            "spec": {"language": "python", "problem": "broken",
                                     "submission": problems.put(f"{namespace}/x.py", "print(3)\n")}})
    st = wait_phase(kube, namespace, "on-broken", operator=operator, timeout=60)["status"]
    assert st["verdict"] == "InitializationError" and "problem broken is not Ready" in st["message"], st


PACKAGES = ROOT / "examples" / "packages"


def test_problem_packages_judge_like_the_local_check(kube, namespace, operator, problems, s3):
    """A Problem whose prefix holds a problem package (legacy and 2023-07-draft): read as one, and
    its example submissions get through the cluster the verdicts and scores `gavel problem check`
    and `gavel judge --problem` give locally (the custom validator, the default validator's float
    flags per test, an interactive validator's scores)."""
    cases = {  # name: (package, submission, language, verdict, score, max score)
        "pair-ok": ("pairsum", "accepted/pairs.py", "python", "Accepted", 9, 9),
        "pair-wa": ("pairsum", "wrong_answer/int32.c", "c", "TestFailed", None, 9),
        "avg-ok": ("average", "accepted/mean.c", "c", "Accepted", 100, 100),
        "avg-int32": ("average", "rejected/int32.c", "c", "TestFailed", 47.5, 100),
        "avg-floor": ("average", "wrong_answer/floor.py", "python", "TestFailed", 0, 100),
        "hl-ok": ("higherlower", "accepted/binary.cpp", "cpp", "Accepted", 100, 100),
        "hl-part": ("higherlower", "partially_accepted/hundreds.py", "python", "TestFailed", 82, 100),
        "hl-zero": ("higherlower", "wrong_answer/zero.py", "python", "TestFailed", 0, 100),
    }
    for name in ("pairsum", "average", "higherlower"):
        upload(s3, PACKAGES / name, f"{namespace}/packages/{name}")
        apply(kube, namespace, problem(name, f"{namespace}/packages/{name}"))
    statuses = {name: wait_ready(kube, namespace, name)["status"] for name in ("pairsum", "average", "higherlower")}
    assert (statuses["average"]["tests"], statuses["average"]["maxScore"]) == (10, 100), statuses["average"]
    assert "secret.group2 70 (sum; after secret.group1)" in statuses["average"]["groups"]
    apply(kube, namespace, *[{"apiVersion": "gavel.dev/v1alpha1", "kind": "Evaluation", "metadata": {"name": name},
                              "spec": {"language": lang, "problem": pkg,
                                       "submission": {"key": f"{namespace}/packages/{pkg}/submissions/{path}"}}}
                             for name, (pkg, path, lang, _, _, _) in cases.items()])
    for name, (pkg, _, _, verdict, score, most) in cases.items():
        st = wait_phase(kube, namespace, name, operator=operator, timeout=300)["status"]
        assert st["verdict"] == verdict and st["maxScore"] == most, (name, st.get("message"), st.get("tests"))
        if score is not None:
            assert st["score"] == score, (name, st.get("message"), st.get("tests"))
        assert st["problemDigest"] == statuses[pkg]["digest"]
    tests = {t["name"]: t for t in wait_phase(kube, namespace, "hl-part", operator=operator)["status"]["tests"]}
    assert tests["secret.04"]["verdict"] == "Partial", tests
