"""A crowded node is not the program's fault: time a run spent waiting for a CPU does not count
toward its wall limit (sandbox.c, waited_ms), while sleeping, blocking and its own tasks queued
behind each other still do. The crowd is made as on a node: the run in a cpu cgroup of its own
with a pod's shares (250m: 256), two spinners in another cgroup with a whole core's (1024), all on
one CPU, so the run gets about a fifth of it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from gavel_contract import Limits
from gavel_runner import sandbox
from gavel_runner.verdicts import Starved, classify

CPU_CGROUPS = Path("/sys/fs/cgroup/cpu")  # cgroups v1, as on this machine's nodes

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not (CPU_CGROUPS / "cpu.shares").exists() or sandbox.under_gvisor(),
    reason="needs root and the cgroup v1 cpu controller to make a crowd (and a kernel with schedstat)")

BURN = ("#include <time.h>\nstatic double cpu(void){struct timespec t;clock_gettime(CLOCK_PROCESS_CPUTIME_ID,&t);"
        "return t.tv_sec*1e3+t.tv_nsec/1e6;}\n")
PROGRAMS = {
    "burn": BURN + "int main(){while(cpu()<600);return 0;}\n",  # 600 ms of CPU, then done
    # three processes spinning: on one CPU each waits for the others, its own doing
    "three": "#include <unistd.h>\nint main(){fork();if(fork()==0)for(;;);for(;;);}\n",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, str]:
    where = tmp_path_factory.mktemp("crowd")
    where.chmod(0o755)
    out = {}
    for name, src in PROGRAMS.items():
        (where / f"{name}.c").write_text(src)
        subprocess.run(["cc", "-O2", "-o", str(where / name), str(where / f"{name}.c")], check=True)
        out[name] = str(where / name)
    return out


@pytest.fixture
def one_cpu() -> int:
    return max(os.sched_getaffinity(0))


@pytest.fixture
def crowd(one_cpu):
    """Two spinners in a cgroup of a core's shares, on one_cpu; yields the judged run's cgroup
    (a pod's shares, 256) to run in."""
    made = []
    for name, shares in (("gavel-test-crowd", 1024), ("gavel-test-judge", 256)):
        group = CPU_CGROUPS / f"{name}-{os.getpid()}"
        group.mkdir()
        (group / "cpu.shares").write_text(str(shares))
        made.append(group)
    spinners = [subprocess.Popen(["sh", "-c", "while :; do :; done"], preexec_fn=enter(made[0], one_cpu))
                for _ in range(2)]
    try:
        yield made[1]
    finally:
        for p in spinners:
            p.kill()
            p.wait()
        for group in made:
            for _ in range(50):
                try:
                    group.rmdir()
                    break
                except OSError:  # its last tasks still leaving
                    subprocess.run(["sleep", "0.1"])


def enter(group: Path | None, cpu: int):
    def now():
        if group is not None:
            (group / "tasks").write_text(str(os.getpid()))
        os.sched_setaffinity(0, {cpu})
    return now


def run(argv: list[str], cpu: int, group: Path | None, *, time_ms: int, wall_ms: int) -> sandbox.Measurement:
    proc = subprocess.run([sandbox.sandbox_binary(), "-t", str(time_ms), "-w", str(wall_ms), "-d", "/", "--", *argv],
                          capture_output=True, text=True, preexec_fn=enter(group, cpu), timeout=60)
    assert proc.returncode == 0, proc.stderr
    return sandbox.parse(proc.stdout)


def test_a_program_crowded_off_its_cpu_is_judged_on_what_it_did(built, crowd, one_cpu):
    """600 ms of CPU under a 1.5 s wall limit, given a fifth of a core: ~3 s of wall, most of it
    waiting. It used to be TimeLimitExceeded ("sleeping or blocked"), which it never did."""
    m = run([built["burn"]], one_cpu, crowd, time_ms=1000, wall_ms=1500)
    assert m.killed == "none" and m.exit_code == 0, m
    assert m.wall_ms > 1500 and m.waited_ms > 1000, m  # the crowd was real, and seen
    assert classify(m, Limits(timeMs=1000, wallMs=1500), 0) == (None, ""), m


def test_sleeping_in_a_crowd_is_still_over_the_wall_limit(built, crowd, one_cpu):
    m = run(["/bin/sleep", "5"], one_cpu, crowd, time_ms=1000, wall_ms=1500)
    assert m.killed == "wall" and m.wall_ms < 2500, m
    verdict, why = classify(m, Limits(timeMs=1000, wallMs=1500), 0)
    assert verdict.value == "TimeLimitExceeded" and "sleeping or blocked" in why, why


def test_its_own_tasks_queued_behind_each_other_are_not_a_crowd(built, one_cpu):
    """Three spinning processes on one CPU, no one else: each waits two thirds of the time, for
    the others. The CPU limit is set far off: the wall limit ends it, on time."""
    m = run([built["three"]], one_cpu, None, time_ms=20_000, wall_ms=1500)
    assert m.killed == "wall", m
    assert m.wall_ms < 2 * 1500, m  # not stretched toward 3 x: its waiting was its own
    assert m.waited_ms <= m.wall_ms - m.cpu_ms + 50, m


def test_a_run_starved_past_three_times_its_wall_limit_is_the_nodes_fault(built, crowd, one_cpu):
    """A twentieth of a core: 600 ms of CPU would take 12 s. At 3 x the wall limit the sandbox
    gives up: no verdict, an error (the judgement ends as an InternalError, its Evaluation Failed)."""
    (crowd / "cpu.shares").write_text("64")
    m = run([built["burn"]], one_cpu, crowd, time_ms=1000, wall_ms=1500)
    assert m.killed == "starved", m
    assert 4500 <= m.wall_ms < 6500, m
    with pytest.raises(Starved, match="waited .* for a CPU: the node is too crowded"):
        classify(m, Limits(timeMs=1000, wallMs=1500), 0)
