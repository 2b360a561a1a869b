"""Several-file submissions and a problem package (issue 16) through the real operator and Jobs.

A C++ program of a main, a header and two more sources (the header and one source in a
subdirectory), submitted as a storage prefix (a key ending in /: the operator lists and presigns
each file, hidden ones left out) and as a .tar.gz archive (its key's suffix: the runner unpacks
it), each judged Accepted in a runner pod; an empty prefix refused at admission. Then a `Problem` whose prefix holds a package in the problem
package format (legacy: problem.yaml, .timelimit, data/sample and data/secret with .in/.ans, judged
by the format's default output validator), read as one and judging Evaluations of it: one
Accepted, one whose int32 overflow is a WrongAnswer on the test that needs 64 bits, and the
archive above against the Problem (a several-file submission of a package-format problem).

The same files and package give the same verdicts through `gavel judge` on the host
(tests/integration/test_multi_file.py for the files)."""

from __future__ import annotations

import io
import tarfile
import uuid

from conftest import BUCKET, apply, wait_phase

# main.cpp uses both definitions: a build that leaves out a source fails to link (CompilationError)
CPP = {
    "main.cpp": '#include <iostream>\n#include "geometry/add.h"\n'
                "int main(){long long a,b;std::cin>>a>>b;std::cout<<add(a,b)*scale()<<'\\n';}\n",
    "geometry/add.h": "#pragma once\nlong long add(long long a, long long b);\nlong long scale();\n",
    "geometry/add.cpp": '#include "add.h"\nlong long add(long long a, long long b){ return a + b; }\n',
    "scale.cc": '#include "geometry/add.h"\nlong long scale(){ return 1; }\n',
}
# hidden: never listed, presigned or unpacked (taken, its second main would fail the link)
HIDDEN = {".editor/backup.cpp": "int main(){return 1;}\n", ".extra.cpp": "int main(){return 1;}\n"}

# a problem package (legacy), the default output validator
PACKAGE = {
    "problem.yaml": "name: Add Two\nsource: Gavel operator tier\nlicense: cc0\nlimits:\n  memory: 256\n",
    ".timelimit": "2\n",
    "data/sample/1.in": "1 2\n", "data/sample/1.ans": "3\n",
    "data/secret/01-big.in": "4000000000 2\n", "data/secret/01-big.ans": "4000000002\n",
    "data/secret/02-negative.in": "-5 3\n", "data/secret/02-negative.ans": "-2\n",
}
ACCEPTED_CPP = '#include <iostream>\nint main(){long long a,b;std::cin>>a>>b;std::cout<<a+b<<"\\n";}\n'
INT32_C = '#include <stdio.h>\nint main(){int a,b;scanf("%d %d",&a,&b);printf("%d\\n",a+b);}\n'


def put(s3, key: str, data: bytes | str) -> dict:
    data = data.encode() if isinstance(data, str) else data
    s3.client().put_object(BUCKET, key, io.BytesIO(data), len(data))
    return {"key": key}


def targz(files: dict[str, str], top: str = "solution") -> bytes:
    """A .tar.gz of a folder (read from inside it, as a zipped folder is)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for path, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/{path}")
            info.size, info.mode = len(data), 0o644
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def evaluation(name: str, submission: dict, language: str, **spec) -> dict:
    return {"apiVersion": "gavel.dev/v1alpha1", "kind": "Evaluation", "metadata": {"name": name},
            "spec": {"language": language, "submission": submission, **spec}}


def test_a_cpp_program_of_several_files_as_a_prefix_and_as_an_archive(kube, namespace, operator, s3):
    run = f"{namespace}/{uuid.uuid4().hex[:8]}"
    for path, text in {**CPP, **HIDDEN}.items():
        put(s3, f"{run}/files/{path}", text)
    archive = put(s3, f"{run}/solution.tar.gz", targz({**CPP, **HIDDEN}))
    put(s3, f"{run}/elsewhere/unrelated.cpp", "this is not C++\n")  # beside the prefix, never under it
    tests = [{"name": n, "input": put(s3, f"{run}/{n}.in", i), "expected": put(s3, f"{run}/{n}.ans", o)}
             for n, (i, o) in {"1": ("1 2\n", "3\n"), "2": ("4000000000 2\n", "4000000002\n")}.items()]
    apply(kube, namespace,
          evaluation("prefix", {"key": f"{run}/files/"}, "cpp", version="17", tests=tests),
          evaluation("archive", archive, "cpp", tests=tests),
          evaluation("empty-prefix", {"key": f"{run}/nothing-here/"}, "cpp", tests=tests))
    # Accepted: the compile linked exactly the three sources of the prefix or the archive (a hidden
    # file's main would have been a duplicate symbol, a missing source an undefined one)
    for name in ("prefix", "archive"):
        st = wait_phase(kube, namespace, name, operator=operator, timeout=300)["status"]
        assert (st["phase"], st["verdict"]) == ("Succeeded", "Accepted"), (name, st.get("message"), st.get("tests"))
        assert [t["verdict"] for t in st["tests"]] == ["Passed", "Passed"], (name, st["tests"])
    st = wait_phase(kube, namespace, "empty-prefix", operator=operator, timeout=60)["status"]
    assert st["verdict"] == "InitializationError" and f"no objects under s3://{BUCKET}/{run}/nothing-here/" in \
        st["message"], st


def test_a_problem_package_through_the_problem_resource(kube, namespace, operator, s3):
    prefix = f"{namespace}/packages/addtwo"
    for path, text in PACKAGE.items():
        put(s3, f"{prefix}/{path}", text)
    apply(kube, namespace, {"apiVersion": "gavel.dev/v1alpha1", "kind": "Problem", "metadata": {"name": "addtwo"},
                            "spec": {"prefix": prefix}})

    def ready():
        obj = kube.json("-n", namespace, "get", "problem", "addtwo")
        conds = {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}
        assert conds.get("Ready", {}).get("status") != "False", obj.get("status")  # broken: say why at once
        return obj["status"] if conds.get("Ready", {}).get("status") == "True" else None
    problem = kube.wait_for("problem addtwo Ready", ready, 60, 0.5)
    assert problem["tests"] == 3 and len(problem["digest"]) == 64, problem

    subs = f"{namespace}/submissions/{uuid.uuid4().hex[:8]}"
    apply(kube, namespace,
          evaluation("pkg-accepted", put(s3, f"{subs}/add.cpp", ACCEPTED_CPP), "cpp", problem="addtwo"),
          evaluation("pkg-int32", put(s3, f"{subs}/int32.c", INT32_C), "c", problem="addtwo"),
          evaluation("pkg-archive", put(s3, f"{subs}/solution.tar.gz", targz(CPP)), "cpp", problem="addtwo"))
    names = ["sample.1", "secret.01-big", "secret.02-negative"]
    for name in ("pkg-accepted", "pkg-archive"):
        st = wait_phase(kube, namespace, name, operator=operator, timeout=300)["status"]
        assert (st["phase"], st["verdict"]) == ("Succeeded", "Accepted"), (name, st.get("message"), st.get("tests"))
        assert [(t["name"], t["verdict"]) for t in st["tests"]] == [(n, "Passed") for n in names], (name, st["tests"])
        assert st["problemDigest"] == problem["digest"], st
    st = wait_phase(kube, namespace, "pkg-int32", operator=operator, timeout=300)["status"]
    assert (st["phase"], st["verdict"]) == ("Succeeded", "TestFailed"), (st.get("message"), st.get("tests"))
    verdicts = {t["name"]: t["verdict"] for t in st["tests"]}
    # the secret group stops at its first rejection (legacy on_reject: break), as `gavel judge --problem` does
    assert verdicts == {"sample.1": "Passed", "secret.01-big": "WrongAnswer", "secret.02-negative": "Skipped"}, \
        st["tests"]
    assert "secret.01-big: WrongAnswer" in st["message"], st["message"]
