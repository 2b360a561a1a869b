"""The runner's watchdog over its sandbox (issue 21, item 4): a gavel-sandbox that stops answering
(here: SIGSTOPped, before a run or in the middle of one) ends that run within its wall limit and
a margin, is killed with everything its uid still runs, and the judgement ends as an
InternalError naming the test, instead of holding the pod until the Job's deadline."""

from __future__ import annotations

import os
import random
import signal
import tempfile
import threading
import time
from pathlib import Path

import pytest

from gavel_contract import Limits, Task, TestCase, Verdict
from gavel_contract.languages import resolve
from gavel_runner import judge as judge_module
from gavel_runner import sandbox

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="a uid of its own needs root (the runner image runs as root)")


@pytest.fixture
def place():
    root = Path(tempfile.mkdtemp(prefix="gavel-watchdog-", dir="/tmp"))
    root.chmod(0o755)
    yield root
    for path in root.iterdir():
        path.unlink()
    root.rmdir()


def test_a_stopped_sandbox_ends_the_run_within_its_wall_limit_and_the_margin(place):
    box = sandbox.Server(margin=1)
    try:
        assert box.run(["/bin/true"], cwd=place, wall_ms=1000).exit_code == 0  # answering: as before
        os.kill(box.proc.pid, signal.SIGSTOP)
        began = time.monotonic()
        with pytest.raises(sandbox.SandboxTimeout, match=r"did not answer within 4 s \(the run's wall limit of "
                                                         r"1000 ms, 3 x for waiting for a CPU, and a margin of 1 s\): "
                                                         r"stopped or hung"):
            box.run(["/bin/true"], cwd=place, wall_ms=1000)
        assert 4 <= time.monotonic() - began < 6
        assert box.proc.poll() == -signal.SIGKILL  # killed, stopped as it was
        with pytest.raises(sandbox.SandboxError, match="killed earlier"):  # never used again
            box.run(["/bin/true"], cwd=place, wall_ms=1000)
    finally:
        box.close()  # returns at once: nothing left to wait for


def test_a_sandbox_stopped_mid_run_is_killed_with_everything_its_uid_runs(place):
    uid = random.randrange(1_500_000_000, 1_900_000_000)
    who = sandbox.Identity(uid=uid, gid=uid)
    box = sandbox.Server(margin=1)
    try:
        # the program and a child it starts in a session of its own, both sleeping far past the bound
        script = "sleep 120 & setsid sleep 120 & sleep 120"
        stop = threading.Timer(0.5, os.kill, (box.proc.pid, signal.SIGSTOP))
        stop.start()
        began = time.monotonic()
        with pytest.raises(sandbox.SandboxTimeout):
            box.run(["/bin/sh", "-c", script], cwd=place, identity=who, wall_ms=2000, cpu_ms=1000, processes=8)
        assert 7 <= time.monotonic() - began < 10
        stop.join()
        deadline = time.monotonic() + 5
        while sandbox.alive(uid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert sandbox.alive(uid) == [], "the killed sandbox's program outlived it"
    finally:
        box.close()


def test_a_judgement_whose_sandbox_hangs_ends_as_an_internal_error_naming_the_test(tmp_path, monkeypatch):
    """The second test's run finds its sandbox stopped: InternalError at its wall limit and the
    margin, the first test's outputs delivered, the rest not run; the pod would end at once."""
    runs = {"n": 0}

    class StopsOnTheSecondTest(sandbox.Server):
        def run(self, argv, **options):
            if options.get("stdin") is not None and options["stdin"].name.startswith("2"):
                os.kill(self.proc.pid, signal.SIGSTOP)
            runs["n"] += 1
            return super().run(argv, **options)

    monkeypatch.setattr(sandbox, "ANSWER_MARGIN_SECONDS", 1.0)
    monkeypatch.setattr(judge_module.sandbox, "Server", StopsOnTheSecondTest)
    lang, ver = resolve("python")
    (tmp_path / ver.source_file).write_text("print(sum(map(int, input().split())))\n")
    tests = []
    for name, inp, ans in (("1", "1 2\n", "3\n"), ("2", "40 2\n", "42\n"), ("3", "2 2\n", "4\n")):
        (tmp_path / f"{name}.in").write_text(inp)
        (tmp_path / f"{name}.ans").write_text(ans)
        tests.append(TestCase(name=name, input=str(tmp_path / f"{name}.in"), expected=str(tmp_path / f"{name}.ans"),
                              stdout=str(tmp_path / "out" / f"{name}.stdout"),
                              limits=Limits(timeMs=1000, wallMs=2000, memoryKb=65536)))
    began = time.monotonic()
    result = judge_module.judge(Task(language=ver, languageName=lang.name, submission=str(tmp_path / ver.source_file),
                                     tests=tests))
    took = time.monotonic() - began
    assert result.verdict == Verdict.INTERNAL_ERROR, result
    assert result.message.startswith("sandbox failed: on test 2: gavel-sandbox did not answer within 7 s"), result
    assert took < 15, took  # 3 x the wall limit (2 s) and the margin (1 s), not the Job's deadline
    assert (tmp_path / "out" / "1.stdout").read_text() == "3\n"
    assert not (tmp_path / "out" / "3.stdout").exists()
