"""Install Gavel with Helm, judge every verdict in every default language through the
installed operator, cancel one, delete one, upgrade mid-flight, check RBAC, uninstall.
Tests run in file order: the last one uninstalls."""

from __future__ import annotations

import json

import yaml
from chart import NAMESPACE, RELEASE, ROOT, VALUES, apply, wait_all

TESTS = {"1": ("1 2\n", "3\n"), "2": ("40 2\n", "42\n")}
LANGS = {  # per language: accepted, wrong answer, compilation error, runtime error, time limit, memory limit
    "c": ('#include <stdio.h>\nint main(){long a,b;scanf("%ld %ld",&a,&b);printf("%ld\\n",a+b);}\n',
          '#include <stdio.h>\nint main(){puts("3");}\n', "int main( {}\n", "int main(){return 3;}\n",
          "int main(){for(;;);}\n",
          "#include <stdlib.h>\nint main(){volatile char*p=malloc(200<<20);for(int i=0;i<(200<<20);i+=4096)p[i]=1;"
          "return p[4096]-1;}\n"),
    "cpp": ("#include <iostream>\nint main(){long a,b;std::cin>>a>>b;std::cout<<a+b<<'\\n';}\n",
            "#include <iostream>\nint main(){std::cout<<3<<'\\n';}\n", "int main(){ nope; }\n",
            "#include <stdexcept>\nint main(){throw std::runtime_error(\"x\");}\n",
            "int main(){volatile long x=0;for(;;)x++;}\n",
            "#include <vector>\n#include <cstdio>\nint main(){std::vector<char> v(200<<20,1);printf(\"%d\",v[7]);}\n"),
    "python": ("a, b = map(int, input().split())\nprint(a + b)\n", "print(3)\n", "def f(:\n", "raise SystemExit(3)\n",
               "while True:\n    pass\n", "x = bytearray(200 << 20)\nprint(len(x))\n"),
    "java": ("import java.util.*;\npublic class Main{public static void main(String[] x){Scanner s=new Scanner(System.in);"
             "System.out.println(s.nextLong()+s.nextLong());}}\n",
             "public class Main{public static void main(String[] x){System.out.println(3);}}\n",
             "public class Main{ void }\n",
             "public class Main{public static void main(String[] x){System.exit(3);}}\n",
             "public class Main{public static void main(String[] x){long i=0;while(i>=0){i++;}}}\n",
             "public class Main{public static void main(String[] x){byte[][] b=new byte[200][];"
             "for(int i=0;i<200;i++){b[i]=new byte[1<<20];java.util.Arrays.fill(b[i],(byte)1);}}}\n"),
    "go": ('package main\nimport "fmt"\nfunc main(){var a, b int64; fmt.Scan(&a, &b); fmt.Println(a+b)}\n',
           'package main\nimport "fmt"\nfunc main(){fmt.Println(3)}\n', "package main\nfunc main(){ x := }\n",
           'package main\nimport "os"\nfunc main(){os.Exit(3)}\n', "package main\nvar x int\nfunc main(){for{x++}}\n",
           'package main\nimport "fmt"\nfunc main(){b:=make([]byte,200<<20);for i:=range b{b[i]=1};fmt.Println(len(b))}\n'),
    "rust": ("use std::io::*;\nfn main(){let mut s=String::new();stdin().read_to_string(&mut s).unwrap();"
             "let v:Vec<i64>=s.split_whitespace().map(|x|x.parse().unwrap()).collect();println!(\"{}\",v[0]+v[1]);}\n",
             'fn main(){println!("3");}\n', 'fn main(){ let x: i32 = "s"; }\n', "fn main(){std::process::exit(3);}\n",
             "fn main(){let mut x:u64=0;loop{x=unsafe{std::ptr::read_volatile(&x)}+1;}}\n",
             'fn main(){let v=vec![1u8;200<<20];println!("{}",v.len());}\n'),
    "javascript": ("const s=require('fs').readFileSync(0,'utf8').trim().split(/\\s+/).map(Number);console.log(s[0]+s[1]);\n",
                   "console.log(3);\n", "function (\n", "process.exit(3);\n", "for(;;){}\n",
                   "const b=[];for(let i=0;i<200;i++){b.push(Buffer.alloc(1<<20,1));}console.log(b.length);\n"),
}
KINDS = ["accepted", "wrong", "compile", "crash", "tle", "mle"]


def test_lint_and_server_side_dry_run(helm, kube, crds):
    chart = str(ROOT / "charts" / "gavel")
    sets = [x for v in VALUES for x in ("--set", v)]
    assert "0 chart(s) failed" in helm.run("lint", chart, *sets).stdout
    typo = helm.run("template", "t", chart, "--set", "storage.bundled.enabld=true", check=False)
    assert typo.returncode != 0 and "additional properties 'enabld' not allowed" in typo.stderr
    # a tenant's storage Secret, named by the tenancy values, is the only Secret the operator may read
    rbac = helm.run("template", "t", chart, *sets, "--set", "tenancy.namespaces.team-a.storage.credentialsSecret=s3",
                    "--show-only", "templates/rbac.yaml").stdout
    assert 'verbs: [get]  # only the tenants\' storage credentials' in rbac and 'resourceNames: ["s3"]' in rbac
    rendered = helm.run("template", "dry", chart, "-n", NAMESPACE, *sets).stdout
    kube("apply", "-f", "-", input=kube("create", "namespace", NAMESPACE, "--dry-run=client", "-o", "yaml"))
    kube("apply", "--dry-run=server", "-n", NAMESPACE, "-f", "-", input=rendered)


def test_family_languages_installed_only_when_named(helm):
    """languages.families adds a family's Languages with its image; a version's own image is kept
    (runner.image is not merged over it), and runner.familyImages names one."""
    chart = str(ROOT / "charts" / "gavel")
    sets = [x for v in VALUES for x in ("--set", v)]
    app = next(line.split('"')[1] for line in (ROOT / "charts" / "gavel" / "Chart.yaml").read_text().splitlines()
               if line.startswith("appVersion:"))

    def images(*extra: str) -> dict[str, set[str]]:
        out = helm.run("template", "t", chart, *sets, *extra, "--show-only", "templates/languages.yaml").stdout
        return {d["metadata"]["name"]: {v["image"] for v in d["spec"]["versions"]}
                for d in yaml.safe_load_all(out) if d}

    assert images() == {n: {f"gavel.local/runner:{app}"} for n in ("c", "cpp", "go", "java", "javascript",
                                                                    "python", "rust")}
    got = images("--set", "languages.families={jvm,scripting}", "--set", "runner.familyImages.jvm=reg.example/jvm:1")
    assert got["kotlin"] == got["scala"] == {"reg.example/jvm:1"} and got["java"] == {f"gavel.local/runner:{app}"}
    assert got["ruby"] == got["pypy"] == {f"gavel.local/runner-scripting:{app}"} and "haskell" not in got
    assert len(got) == 7 + 2 + 8
    refused = helm.run("template", "t", chart, *sets, "--set", "languages.families={cobol}", check=False)
    assert refused.returncode != 0 and "languages/families/0" in refused.stderr


def test_every_verdict_in_every_default_language(kube, namespace, storage):
    evs, want = [], {}
    for lang, sources in LANGS.items():
        for kind, src in zip(KINDS, sources):
            name = f"{lang}-{kind}"
            limits = {"timeMs": 1000, "memoryKb": 65536} if kind != "tle" else {"timeMs": 500}
            evs.append(storage.at(namespace).evaluation(name, src, lang, TESTS, limits=limits))
            want[name] = kind
    apply(kube, namespace, evs)
    done = wait_all(kube, namespace, list(want), timeout=900)
    wrong = {}
    for name, kind in want.items():
        st = done[name]["status"]
        first = (st.get("tests") or [{}])[0].get("verdict")
        ok = {"accepted": st.get("verdict") == "Accepted",
              "wrong": st.get("verdict") == "TestFailed" and st["tests"][0]["verdict"] == "Passed"
                       and st["tests"][1]["verdict"] == "WrongAnswer",
              "compile": st.get("verdict") == "CompilationError",
              "crash": first == "RuntimeError",
              "tle": first == "TimeLimitExceeded",
              "mle": first == "MemoryLimitExceeded"}[kind]
        if not ok:
            wrong[name] = (st.get("phase"), st.get("verdict"), first, st.get("message", "")[:200])
        # progress with the verdict, from the result; links from the chart's templates (chart.VALUES):
        # the log's names the runner pod (the Job's, NAME-xxxxx), the outputs' the results prefix
        judged = 0 if kind == "compile" else 2
        if st.get("progress", {}).get("summary") != f"{judged}/2" or st["progress"].get("stage") != "done":
            wrong[name] = ("progress", st.get("progress"))
        prefix = (st.get("locations") or {}).get("outputs", "").removeprefix("s3://gavel/")
        if not (st.get("logUrl", "").startswith(f"https://logs.example.com/{namespace}/{st.get('jobName')}-")
                and st.get("outputsUrl") == f"https://console.example.com/browser/gavel/{prefix}"):
            wrong[name] = ("links", st.get("logUrl"), st.get("outputsUrl"), prefix)
    assert not wrong, json.dumps(wrong, indent=1)


def test_a_namespace_reaches_only_its_own_storage(kube, namespace, storage):
    """The chart's default tenancy: an Evaluation may read and write under its namespace's prefix
    only; naming another's objects is refused before anything is presigned."""
    storage.put("gavel-e2e-other/hidden/1.out", "3\n")
    steal = storage.at(namespace).evaluation("steal", "print(3)\n", "python", {"1": ("", "3\n")})
    steal["spec"]["tests"][0]["expected"] = {"key": "gavel-e2e-other/hidden/1.out"}
    write = storage.at(namespace).evaluation("write", "print(3)\n", "python", {"1": ("", "3\n")},
                                             results={"prefix": "gavel-e2e-other/results"})
    apply(kube, namespace, [steal, write])
    done = wait_all(kube, namespace, ["steal", "write"], timeout=120)
    assert done["steal"]["status"]["message"] == (
        f"test 1 expected s3://gavel/gavel-e2e-other/hidden/1.out is outside what namespace {namespace} may read "
        f"(tenancy.storage.read: gavel/{namespace}/)")
    assert "tenancy.storage.write" in done["write"]["status"]["message"]
    assert all(d["status"]["verdict"] == "InitializationError" for d in done.values())


def test_the_charts_default_ceilings_refuse_the_maximal_request(kube, namespace, storage):
    """Issue 21: on a default install with no ceiling, 100 tests with every limit at the CRD's maximum
    got a Job of 16,832 MiB for 33 hours; the chart's default ceilings refuse it, naming the ceiling."""
    big = {"timeMs": 600_000, "wallMs": 1_200_000, "memoryKb": 16 * 1024 * 1024, "outputKb": 1024 * 1024}
    ev = storage.at(namespace).evaluation("maximal", "print(3)\n", "python", {"1": ("", "3\n")}, limits=big,
                                          deadlineSeconds=86_400)
    ev["spec"]["tests"] = [{**ev["spec"]["tests"][0], "name": str(i)} for i in range(1, 101)]
    apply(kube, namespace, [ev])
    st = wait_all(kube, namespace, ["maximal"], timeout=120)["maximal"]["status"]
    assert (st["verdict"], st["message"]) == ("InitializationError", f"test 1: timeMs 600000 exceeds namespace "
                                              f"{namespace}'s ceiling of 20000 (ceilings.maxTimeMs)"), st
    assert kube.json("-n", namespace, "get", "jobs")["items"] == []


def test_a_problem_scored_through_the_chart(kube, namespace, storage):
    """examples/problems/subtasks as a Problem through the installed operator: the scores its
    problem.yaml expects (which `gavel problem check` gets locally)."""
    source = ROOT / "examples" / "problems" / "subtasks"
    prefix = f"{namespace}/problems/subtasks"
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        storage.put(f"{prefix}/{path.relative_to(source).as_posix()}", path.read_text())
    problem = {"apiVersion": "gavel.dev/v1alpha1", "kind": "Problem", "metadata": {"name": "subtasks"},
               "spec": {"prefix": prefix}}
    cases = {"int64": ("int64.cpp", "cpp", 70), "zero": ("zero.py", "python", 0), "full": ("accepted.py", "python", 100)}
    apply(kube, namespace, [problem])
    kube("-n", namespace, "wait", "--for=condition=Ready", "problem/subtasks", "--timeout=60s")
    apply(kube, namespace, [{"apiVersion": "gavel.dev/v1alpha1", "kind": "Evaluation", "metadata": {"name": name},
                             "spec": {"language": lang, "problem": "subtasks",
                                      "submission": {"key": f"{prefix}/solutions/{src}"}}}
                            for name, (src, lang, _) in cases.items()])
    done = wait_all(kube, namespace, list(cases), timeout=600)
    for name, (_, _, score) in cases.items():
        st = done[name]["status"]
        assert (st["score"], st["maxScore"]) == (score, 100), (name, st.get("message"), st.get("groups"))
    assert "SCORE" in kube("-n", namespace, "get", "evaluations")


def test_cancel_and_delete(kube, namespace, storage):
    slow = storage.at(namespace).evaluation("slow", "import time\ntime.sleep(300)\n", "python", {"1": ("", "")},
                              limits={"timeMs": 1000, "wallMs": 400000})
    doomed = storage.at(namespace).evaluation("doomed", "import time\ntime.sleep(300)\n", "python", {"1": ("", "")},
                                limits={"timeMs": 1000, "wallMs": 400000})
    apply(kube, namespace, [slow, doomed])
    wait_all(kube, namespace, ["slow", "doomed"], phases=("Running",), timeout=180)
    kube("-n", namespace, "patch", "evaluation", "slow", "--type=merge", "-p", '{"spec":{"cancel":true}}')
    assert wait_all(kube, namespace, ["slow"])["slow"]["status"]["phase"] == "Canceled"
    kube("-n", namespace, "delete", "evaluation", "doomed", "--wait=true")
    kube.wait_for("doomed's Job, pods and Secret collected", lambda: kube(
        "-n", namespace, "get", "jobs,pods,secrets", "-l", "gavel.dev/evaluation=doomed", "-o", "name").strip() == ""
        and "gavel-doomed" not in kube("-n", namespace, "get", "secrets", "-o", "name"), 120)


def test_upgrade_mid_flight_loses_nothing(kube, namespace, storage, helm):
    evs = [storage.at(namespace).evaluation(f"u{i}", "import time\ntime.sleep(3)\na, b = map(int, input().split())\nprint(a + b)\n",
                              "python", TESTS, limits={"wallMs": 20000}) for i in range(6)]
    apply(kube, namespace, evs)
    wait_all(kube, namespace, ["u0"], phases=("Pending", "Running", "Succeeded"), timeout=120)
    helm.install("concurrency.maxRunning=3", action="upgrade")  # restarts the operator (checksum annotation)
    done = wait_all(kube, namespace, [f"u{i}" for i in range(6)], timeout=600)
    assert {d["status"]["verdict"] for d in done.values()} == {"Accepted"}
    per_eval = {}
    for j in kube.json("-n", namespace, "get", "jobs")["items"]:
        per_eval.setdefault(j["metadata"]["labels"]["gavel.dev/evaluation"], []).append(j["metadata"]["name"])
    assert all(len(v) == 1 for v in per_eval.values()), per_eval


def test_operator_rbac_is_least_privilege(kube, installed):
    sa = f"system:serviceaccount:{NAMESPACE}:{RELEASE}-operator"

    def can(verb: str, resource: str, ns: str = "default") -> bool:
        what, _, sub = resource.partition("/")
        args = [what, *(["--subresource", sub] if sub else [])]
        return kube.run("auth", "can-i", verb, *args, "-n", ns, "--as", sa, check=False).stdout.strip() == "yes"

    for verb, resource in [("watch", "evaluations.gavel.dev"), ("patch", "evaluations.gavel.dev/status"),
                           ("watch", "contests.gavel.dev"), ("patch", "contests.gavel.dev/status"),
                           ("create", "jobs.batch"), ("delete", "jobs.batch"), ("create", "secrets"),
                           ("get", "pods/log"), ("list", "pods"), ("create", "events"),
                           ("create", "networkpolicies.networking.k8s.io"),
                           # pods: dry-run only (admission's verdict on the runner pod before the Job); it
                           # adds no power, since creating a Job already makes any pod through the Job controller
                           ("create", "pods"),
                           # a runner pod stranded on a node that stopped answering is marked Failed
                           ("patch", "pods/status"),
                           ("list", "nodes"),  # and whether any node has the labels a runner pod selects
                           ("delete", "evaluations.gavel.dev")]:  # retention.finishedTtlSeconds, on by default
        assert can(verb, resource), f"operator cannot {verb} {resource}"
    for verb, resource in [("get", "secrets"), ("list", "secrets"), ("delete", "pods"),
                           ("create", "evaluations.gavel.dev"), ("create", "contests.gavel.dev"),
                           ("update", "customresourcedefinitions.apiextensions.k8s.io"), ("create", "deployments.apps"),
                           ("create", "clusterrolebindings.rbac.authorization.k8s.io"), ("delete", "namespaces"),
                           ("create", "pods/exec"), ("update", "nodes"), ("update", "pods"), ("delete", "networkpolicies.networking.k8s.io")]:
        assert not can(verb, resource), f"operator may {verb} {resource}: more than it needs"
    # the Lease that elects the active replica: in the release's namespace only
    assert can("create", "leases.coordination.k8s.io", NAMESPACE)
    assert kube.run("auth", "can-i", "update", f"leases.coordination.k8s.io/{RELEASE}-operator", "-n", NAMESPACE,
                    "--as", sa, check=False).stdout.strip() == "yes"
    assert kube.run("auth", "can-i", "update", "leases.coordination.k8s.io/other", "-n", NAMESPACE,
                    "--as", sa, check=False).stdout.strip() != "yes"
    assert not can("create", "leases.coordination.k8s.io", "default")


def test_runner_pods_reach_only_storage(kube, storage):
    policy = kube.json("-n", "default", "get", "networkpolicy", "gavel-runner-egress") \
        if "gavel-runner-egress" in kube("-n", "default", "get", "networkpolicy", "-o", "name", check=False) else None
    # the policy is made in each namespace the operator runs Jobs in: look at any e2e namespace
    nss = [n.split("/")[1] for n in kube("get", "namespaces", "-o", "name").split() if n.startswith("namespace/gavel-e2e-")]
    found = [kube.json("-n", ns, "get", "networkpolicy", "gavel-runner-egress") for ns in nss
             if "gavel-runner-egress" in kube("-n", ns, "get", "networkpolicy", "-o", "name", check=False)]
    policy = policy or (found[0] if found else None)
    assert policy, "no runner egress NetworkPolicy was made"
    assert policy["spec"]["podSelector"] == {"matchLabels": {"gavel.dev/role": "runner"}}
    ports = sorted(p["port"] for rule in policy["spec"]["egress"] for p in rule.get("ports", []))
    assert ports == [53, 53, 8090, 9000]  # DNS, the node cache (cache.enabled: its object port only), MinIO
    cache = next(r for r in policy["spec"]["egress"] if r["ports"][0]["port"] == 8090)
    assert cache["to"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": NAMESPACE}},
                            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "gavel-cache",
                                                            "app.kubernetes.io/instance": RELEASE}}}]
