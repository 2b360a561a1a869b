"""The family images on the cluster (issue 19), opt-in: `make test-families` builds and loads the five
images (cold: many minutes, so not part of `make test`) and sets GAVEL_TEST_FAMILIES=1. The chart is
installed with every family (languages.families); then, in each family's image, every language judges
A+B (Accepted) and a wrong answer (TestFailed), and a fork bomb, a memory bomb and a thread bomb are
each contained: a verdict for both of their tests, the pod gone, the next Evaluation judged."""

from __future__ import annotations

import os
import time

import pytest
from chart import apply, install_fresh, wait_all
from family_programs import PROGRAMS

pytestmark = pytest.mark.skipif(os.environ.get("GAVEL_TEST_FAMILIES") != "1",
                                reason="opt-in: make test-families (builds the family images)")

FAMILIES = ("native", "jvm", "dotnet", "functional", "scripting")
TESTS = {"1": ("1 2\n", "3\n"), "2": ("40 2\n", "42\n")}

# family: (language, program) for each bomb, in a language of that family's image
FORK = "fork"
MEMORY = "memory"
THREAD = "thread"
BOMBS: dict[str, dict[str, tuple[str, str]]] = {
    "native": {
        FORK: ("d", "import core.sys.posix.unistd : fork;\nvoid main() { for (;;) fork(); }\n"),
        MEMORY: ("d", "import core.stdc.stdlib : malloc;\nimport core.stdc.string : memset;\n"
                      "void main() { for (;;) { auto p = malloc(1 << 20); if (p) memset(p, 1, 1 << 20); } }\n"),
        THREAD: ("d", "import core.thread;\nvoid bomb() { for (;;) { try { new Thread(&bomb).start(); } "
                      "catch (Throwable) {} } }\nvoid main() { bomb(); }\n"),
    },
    "jvm": {
        FORK: ("kotlin", "fun main() {\n    while (true) {\n        try { ProcessBuilder(\"/bin/sh\", \"-c\", "
                         "\":(){ :|:& };:\").start() } catch (e: Throwable) {}\n    }\n}\n"),
        MEMORY: ("kotlin", "fun main() {\n    val l = ArrayList<LongArray>()\n    while (true) l.add(LongArray(1 shl 17))\n}\n"),
        THREAD: ("scala", "object Main {\n  def bomb(): Unit = while (true) {\n    try { new Thread(new Runnable { def run(): Unit = bomb() }).start() }"
                          " catch { case _: Throwable => }\n  }\n  def main(args: Array[String]): Unit = bomb()\n}\n"),
    },
    "dotnet": {
        FORK: ("csharp", "class P {\n  static void Main() {\n    for (;;) { try { System.Diagnostics.Process.Start("
                         "\"/bin/sh\", \"-c \\\":(){ :|:& };:\\\"\"); } catch {} }\n  }\n}\n"),
        MEMORY: ("csharp", "class P {\n  static void Main() {\n    var l = new System.Collections.Generic.List<byte[]>();\n"
                           "    for (;;) { var b = new byte[1 << 20]; for (int i = 0; i < b.Length; i += 4096) b[i] = 1;"
                           " l.Add(b); }\n  }\n}\n"),
        THREAD: ("csharp", "using System.Threading;\nclass P {\n  static void Bomb() { for (;;) { try { new Thread(Bomb).Start(); }"
                           " catch {} } }\n  static void Main() { Bomb(); }\n}\n"),
    },
    "functional": {
        FORK: ("haskell", "import Control.Exception\nimport Control.Monad\nimport System.Posix.Process\n"
                          "import System.Posix.Types (ProcessID)\nmain :: IO ()\n"
                          "main = forever (try (forkProcess (forever (return ()))) :: IO (Either SomeException ProcessID))\n"),
        MEMORY: ("ocaml", "let () = let l = ref [] in while true do l := Bytes.make (1 lsl 20) 'x' :: !l done\n"),
        THREAD: ("prolog", "bomb :- catch(thread_create(bomb, _, [detached(true)]), _, true), bomb.\nmain :- bomb.\n"),
    },
    "scripting": {
        FORK: ("bash", "f() { f & f; }\nf\n"),  # (the classic :(){ :|:& };: returns at once)
        MEMORY: ("perl", 'my @a;\npush @a, "x" x (1 << 20) while 1;\n'),
        THREAD: ("ruby", "loop { begin; Thread.new { sleep }; rescue StandardError, ThreadError; end }\n"),
    },
}
CONTAINED = {"TimeLimitExceeded", "MemoryLimitExceeded", "RuntimeError", "WrongAnswer"}


def family_of(kube, language: str) -> str:
    spec = kube.json("get", "language", language)["spec"]
    return spec["versions"][0]["image"]


@pytest.fixture(scope="session")
def installed(kube, helm, crds):
    """The chart with every family's languages (this module runs alone: make test-families)."""
    yield from install_fresh(kube, helm, "languages.families={" + ",".join(FAMILIES) + "}")


def test_every_language_names_its_family_image(kube, installed):
    deadline = time.monotonic() + 120  # the operator writes status.images once it has seen them
    while not all(i.get("status", {}).get("images") for i in kube.json("get", "languages")["items"]):
        assert time.monotonic() < deadline, kube.run("get", "languages", "-o", "wide").stdout
        time.sleep(2)
    out = kube.run("get", "languages", "-o", "wide").stdout
    for name in PROGRAMS:
        image = family_of(kube, name)
        assert image.split(":")[0].rsplit("/", 1)[-1].startswith("runner-"), (name, image)
        assert image in out, out  # the wide listing shows each language's image
    for name in ("c", "cpp", "python", "java", "go", "rust", "javascript"):
        assert "runner-" not in family_of(kube, name)


@pytest.fixture(scope="module")
def judged(kube, storage, installed):
    with kube.scratch_namespace("gavel-e2e-families") as ns:
        at = storage.at(ns)
        objs = []
        for name, programs in PROGRAMS.items():
            objs.append(at.evaluation(f"{name}-ok", programs[0], name, TESTS, limits={"timeMs": 5000, "wallMs": 30000}))
            objs.append(at.evaluation(f"{name}-wrong", programs[1], name, TESTS, limits={"timeMs": 5000, "wallMs": 30000}))
        for family, bombs in BOMBS.items():
            for kind, (language, src) in bombs.items():
                objs.append(at.evaluation(f"{family}-{kind}-bomb", src, language, {"1": ("", ""), "2": ("", "")},
                                          limits={"timeMs": 2000, "wallMs": 15000, "memoryKb": 131072,
                                                  "processes": 64}))
        apply(kube, ns, objs)
        yield ns, wait_all(kube, ns, [o["metadata"]["name"] for o in objs], timeout=1800)


@pytest.mark.parametrize("language", sorted(PROGRAMS))
def test_each_language_judges_in_its_image(judged, language):
    _, done = judged
    ok, wrong = done[f"{language}-ok"]["status"], done[f"{language}-wrong"]["status"]
    assert ok.get("verdict") == "Accepted", ok
    assert wrong.get("verdict") == "TestFailed" and all(t["verdict"] == "WrongAnswer" for t in wrong["tests"]), wrong


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("kind", (FORK, MEMORY, THREAD))
def test_bombs_are_contained_in_each_image(kube, judged, family, kind):
    ns, done = judged
    st = done[f"{family}-{kind}-bomb"]["status"]
    assert st.get("phase") == "Succeeded" and st.get("verdict") == "TestFailed", st
    assert [t["name"] for t in st["tests"]] == ["1", "2"] and {t["verdict"] for t in st["tests"]} <= CONTAINED, st
    assert f"runner-{family}" in family_of(kube, BOMBS[family][kind][0])
    # nothing of it left running: its Job's pods are gone or finished
    pods = kube.json("-n", ns, "get", "pods")["items"]
    assert not [p for p in pods if p["status"].get("phase") == "Running"
                and f"{family}-{kind}-bomb" in p["metadata"]["name"]]
