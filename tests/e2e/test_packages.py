"""Problem packages (issue 16) through the installed chart: each example package in the problem
package format (examples/packages: a 2023-07-draft scoring problem with test groups, a legacy
problem with a custom output validator, a legacy interactive scoring problem) uploaded as a
`Problem`, and every submission its submissions/ directory holds judged by the operator in real
runner pods. Each verdict and score is the one `gavel problem check --json` finds on this host for
the same file (the package's own expectation, which that check also confirms). Then a C++ program
of several files, as a storage prefix, judged against one of them: the operator lists and presigns
the prefix with the chart's credentials."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from chart import ROOT, apply, wait_all

PACKAGES = ROOT / "examples" / "packages"
sys.path.insert(0, str(ROOT / "contract"))
from gavel_contract.package import PACKAGE_VERDICTS, SUFFIX_LANGUAGES, WORST_FIRST  # noqa: E402
from gavel_contract.models import TestVerdict  # noqa: E402

# pairs.cpp in three files: main.cpp calls find() of pairs/find.cpp through pairs/find.h
SPLIT = {
    "main.cpp": '#include <cstdio>\n#include <vector>\n#include "pairs/find.h"\n'
                "int main(){int n;long long t;if(scanf(\"%d %lld\",&n,&t)!=2)return 1;std::vector<long long> a(n);"
                "for(auto&x:a)scanf(\"%lld\",&x);auto r=find(a,t);"
                "if(r.first)printf(\"%d %d\\n\",r.first,r.second);else printf(\"none\\n\");}\n",
    "pairs/find.h": "#pragma once\n#include <utility>\n#include <vector>\n"
                    "std::pair<int,int> find(const std::vector<long long>& a, long long t);\n",
    "pairs/find.cpp": '#include "find.h"\n#include <algorithm>\n'
                      "std::pair<int,int> find(const std::vector<long long>& v, long long t){"
                      "std::vector<std::pair<long long,int>> a;for(size_t i=0;i<v.size();++i)a.push_back({v[i],int(i)+1});"
                      "std::sort(a.begin(),a.end());size_t lo=0,hi=a.size()?a.size()-1:0;"
                      "while(lo<hi){long long s=a[lo].first+a[hi].first;"
                      "if(s==t)return {std::min(a[lo].second,a[hi].second),std::max(a[lo].second,a[hi].second)};"
                      "if(s<t)++lo;else --hi;}return {0,0};}\n",
}


def package_verdict(status: dict) -> str:
    """The package's word for an Evaluation's outcome: its worst test, as the format ranks them."""
    seen = {PACKAGE_VERDICTS[TestVerdict(t["verdict"])] for t in status.get("tests") or []
            if t["verdict"] != TestVerdict.SKIPPED.value}
    return next((v for v in WORST_FIRST if v in seen), "AC")


def upload(storage, source, prefix: str) -> None:
    """A package directory as a storage prefix, file by file."""
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        storage.put(f"{prefix}/{path.relative_to(source).as_posix()}", path.read_text())


def host_check(name: str) -> dict[str, dict]:
    out = subprocess.run([str(ROOT / ".venv" / "bin" / "gavel"), "problem", "check", str(PACKAGES / name), "--json"],
                         capture_output=True, text=True, timeout=900)
    report = json.loads(out.stdout)
    assert all(s["ok"] for s in report["submissions"]), out.stdout  # the package agrees with itself here
    return {s["path"]: s for s in report["submissions"]}


@pytest.mark.parametrize("name", sorted(p.name for p in PACKAGES.iterdir() if p.is_dir()))
def test_a_package_judged_through_the_chart_as_on_the_host(kube, namespace, storage, name):
    source = PACKAGES / name
    prefix = f"{namespace}/packages/{name}"
    upload(storage, source, prefix)
    apply(kube, namespace, [{"apiVersion": "gavel.dev/v1alpha1", "kind": "Problem", "metadata": {"name": name},
                             "spec": {"prefix": prefix}}])
    kube("-n", namespace, "wait", "--for=condition=Ready", f"problem/{name}", "--timeout=120s")

    host = host_check(name)  # first: judged here while the cluster is idle, no time stolen from either
    scoring = "scoring" in str(yaml.safe_load((source / "problem.yaml").read_text()).get("type", ""))
    subs = {f"s{i}": p for i, p in enumerate(sorted((source / "submissions").rglob("*")))
            if p.is_file() and p.suffix in SUFFIX_LANGUAGES}
    apply(kube, namespace, [
        {"apiVersion": "gavel.dev/v1alpha1", "kind": "Evaluation", "metadata": {"name": ev},
         "spec": {"language": SUFFIX_LANGUAGES[p.suffix], "problem": name,
                  "submission": {"key": f"{prefix}/{p.relative_to(source).as_posix()}"}}}
        for ev, p in subs.items()])
    done = wait_all(kube, namespace, list(subs), timeout=900)
    got, want = {}, {}
    for ev, p in subs.items():
        path = p.relative_to(source).as_posix()
        st = done[ev]["status"]
        got[path] = (st["phase"], package_verdict(st), st.get("score") if scoring else None)
        want[path] = ("Succeeded", host[path]["verdict"], host[path]["score"] if scoring else None)
    assert got == want


def test_a_several_file_program_against_a_package(kube, namespace, storage):
    source = PACKAGES / "pairsum"
    prefix = f"{namespace}/packages/pairsum-multi"
    upload(storage, source, prefix)
    for path, text in SPLIT.items():
        storage.put(f"{namespace}/multi/{path}", text)
    apply(kube, namespace, [
        {"apiVersion": "gavel.dev/v1alpha1", "kind": "Problem", "metadata": {"name": "pairsum-multi"},
         "spec": {"prefix": prefix}},
        {"apiVersion": "gavel.dev/v1alpha1", "kind": "Evaluation", "metadata": {"name": "multi"},
         "spec": {"language": "cpp", "problem": "pairsum-multi", "submission": {"key": f"{namespace}/multi/"}}}])
    st = wait_all(kube, namespace, ["multi"], timeout=600)["multi"]["status"]
    assert (st["phase"], st["verdict"]) == ("Succeeded", "Accepted"), (st.get("message"), st.get("tests"))
    assert len(st["tests"]) == 9 and all(t["verdict"] == "Passed" for t in st["tests"]), st["tests"]
