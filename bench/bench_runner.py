"""make bench-runner: what judging costs over running the bare program, and how true the
measurements are. Prints numbers; asserts nothing (these machines are noisy).

1. Judge 1,000 tests of a trivial C program; in the same run, execute the same binary 1,000
   times with the same redirections in a bare loop, alternately, BENCH_ROUNDS times (3). Ratio
   goal: at most 1.10. Wall-clock time moves with whatever else the machine runs (the judged
   program runs SCHED_IDLE, so other work delays it first); the CPU time of each side (this
   process and its children: the runner, the sandbox and the programs; Python and the programs)
   moves much less, and is printed beside it.
2. CPU time of a calibrated busy loop as the sandbox measures it, against getrusage of the
   same binary run directly (ground truth).
3. Peak memory measured for a program that touches a known number of MiB.
4. Hello world (A+B) in every language whose toolchain is installed here, side by side in one run:
   one compile, then BENCH_HELLO_TESTS tests (5); the median wall and CPU time per test, the
   largest peak memory, and each language's wall time against C's. BENCH_HELLO names the
   languages (comma-separated; "none" skips it).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gavel_contract import Limits, Task, TestCase, Verdict
from gavel_contract.languages import builtin_languages, resolve
from gavel_runner import sandbox
from gavel_runner.judge import judge

N = int(os.environ.get("BENCH_TESTS", "1000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
ECHO = '#include <stdio.h>\nint main(){long a;if(scanf("%ld",&a)!=1)return 1;printf("%ld\\n",a);return 0;}\n'
# a busy loop that reports its own getrusage(RUSAGE_SELF) as it ends: the ground truth of that very run
BUSY = ('#include <stdio.h>\n#include <stdlib.h>\n#include <sys/resource.h>\n'
        'int main(int c,char**v){volatile unsigned long x=0;long n=atol(v[1]);for(long i=0;i<n;i++)x+=i;'
        'struct rusage r;getrusage(RUSAGE_SELF,&r);printf("%.3f\\n",(r.ru_utime.tv_sec+r.ru_stime.tv_sec)*1e3+'
        '(r.ru_utime.tv_usec+r.ru_stime.tv_usec)/1e3);return 0;}\n')
TOUCH = ('#include <stdlib.h>\n#include <string.h>\nint main(int c,char**v){size_t n=(size_t)atol(v[1])<<20;'
         'char*p=malloc(n);memset(p,1,n);return p[n-1]!=1;}\n')


def cc(src: str, out: Path) -> Path:
    out.with_suffix(".c").write_text(src)
    subprocess.run(["gcc", "-O2", "-static", "-o", str(out), str(out.with_suffix(".c"))], check=True)
    return out


def judge_vs_bare(tmp: Path) -> None:
    tests = tmp / "tests"
    tests.mkdir()
    for i in range(N):
        (tests / f"{i}.in").write_text(f"{i}\n")
        (tests / f"{i}.ans").write_text(f"{i}\n")
    src = tmp / "main.c"
    src.write_text(ECHO)
    lang, ver = resolve("c")
    limits = Limits(timeMs=1000, memoryKb=65536)
    task = Task(language=ver, languageName=lang.name, submission=str(src), tests=[
        TestCase(name=str(i), input=str(tests / f"{i}.in"), expected=str(tests / f"{i}.ans"), limits=limits)
        for i in range(N)])
    exe = cc(ECHO, tmp / "bare")
    outdir = tmp / "bare-out"
    outdir.mkdir()

    def bare() -> tuple[float, float]:
        start, cpu = time.perf_counter(), _cpu()
        for i in range(N):
            # the judge's redirections too: stdin from the test's input, stdout and stderr to files
            # made anew when they hold data, as the sandbox does (open_output in sandbox.c: truncating
            # costs a disk write per test on ext4 and XFS)
            for name in ("stdout", "stderr"):
                try:
                    if os.stat(outdir / name).st_size:
                        os.unlink(outdir / name)
                except FileNotFoundError:
                    pass
            with open(tests / f"{i}.in", "rb") as fin, open(outdir / "stdout", "wb") as fout, \
                    open(outdir / "stderr", "wb") as ferr:
                subprocess.run([str(exe)], stdin=fin, stdout=fout, stderr=ferr, check=True)
        return time.perf_counter() - start, _cpu() - cpu

    def judged() -> tuple[float, float]:
        start, cpu = time.perf_counter(), _cpu()
        result = judge(task)
        took = time.perf_counter() - start, _cpu() - cpu
        assert result.verdict == Verdict.ACCEPTED, result.message
        return took

    compile_s, compile_cpu = _compile_time(task)
    bare(), judged()  # warm both once, then measure alternately
    timed = [(bare(), judged()) for _ in range(ROUNDS)]
    rounds = [(b[0], j[0]) for b, j in timed]
    cpus = [(b[1], j[1] - compile_cpu) for b, j in timed]
    bare_s, judge_s = min(b for b, _ in rounds), min(j for _, j in rounds)
    per_test = (judge_s - compile_s) / N
    print(f"judge vs bare loop, {N} tests of a trivial C program (best of {ROUNDS} each):")
    print(f"  bare loop (subprocess, same redirections): {bare_s:7.3f} s  {bare_s / N * 1000:6.3f} ms/test")
    print(f"  gavel judge, incl. one compile of {compile_s:.3f} s: {judge_s:7.3f} s  {per_test * 1000:6.3f} ms/test")
    print(f"  ratio (judge - compile) / bare: {(judge_s - compile_s) / bare_s:.2f}   (goal: <= 1.10)")
    print(f"  ratio judge / bare:             {judge_s / bare_s:.2f}")
    print("  each round, (judge - compile) / bare: " + ", ".join(f"{(j - compile_s) / b:.2f}" for b, j in rounds))
    print("  CPU time per test, each round (bare: Python and the program; judge: runner, sandbox and program,")
    print("  one compile's excluded): " + ", ".join(f"{b / N * 1000:.3f} vs {j / N * 1000:.3f} ms ({j / b:.2f})"
                                                   for b, j in cpus))


def _cpu() -> float:
    """CPU seconds of this process and of its children waited for (the sandbox server is, when a
    judgement ends; the programs are the sandbox's)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _compile_time(task: Task) -> tuple[float, float]:
    """Wall and CPU seconds of judging the first test alone: the compile and one test."""
    one = task.model_copy(update={"tests": task.tests[:1]})
    start, cpu = time.perf_counter(), _cpu()
    judge(one)
    return time.perf_counter() - start, _cpu() - cpu


def cpu_accuracy(tmp: Path, rounds: int = 3) -> None:
    exe = cc(BUSY, tmp / "busy")
    out = tmp / "busy.out"
    print("CPU time: what the sandbox measures vs the program's own getrusage at its end (same run):")
    for n in (50_000_000, 200_000_000, 600_000_000, 2_000_000_000):
        for _ in range(rounds):
            m = sandbox.run([str(exe), str(n)], cwd=tmp, stdout=out, cpu_ms=60_000, wall_ms=120_000)
            truth = float(out.read_text())
            print(f"  {n:>13,} iterations: getrusage {truth:8.1f} ms, sandbox {m.cpu_ms:6d} ms "
                  f"({m.cpu_ms - truth:+.1f} ms)")


def memory_accuracy(tmp: Path) -> None:
    exe = cc(TOUCH, tmp / "touch")
    base = sandbox.run([str(exe), "0"], cwd=tmp).rss_kb
    print(f"Peak memory: a program that touches N MiB (its own footprint at 0 MiB: {base} kB):")
    for mib in (16, 64, 256):
        m = sandbox.run([str(exe), str(mib)], cwd=tmp, memory_kb=1 << 21)
        print(f"  {mib:4d} MiB touched: measured {m.rss_kb:7d} kB, expected {mib * 1024 + base:7d} kB "
              f"({(m.rss_kb - mib * 1024 - base) / (mib * 1024) * 100:+.2f}%)")


def hello_programs() -> dict[str, str]:
    """A+B in every language, from the integration tests (tests/ is not a package: its path is added)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "integration"))
    from family_programs import PROGRAMS
    from test_languages import SUM
    return {**{n: src for n, src in SUM.items() if ":" not in n}, **{n: p[0] for n, p in PROGRAMS.items()}}


def installed(version) -> bool:
    """The absolute programs a version names exist here (the sandbox searches no PATH)."""
    return all(Path(argv[0]).exists() for argv in (version.compile, version.run) if argv and argv[0].startswith("/"))


def hello_world(tmp: Path) -> None:
    wanted = os.environ.get("BENCH_HELLO", "")
    if wanted == "none":
        return
    runs = int(os.environ.get("BENCH_HELLO_TESTS", "5"))
    programs = hello_programs()
    names = [n.strip() for n in wanted.split(",") if n.strip()] or sorted(builtin_languages())
    rows, missing = [], []
    for name in names:
        lang, ver = resolve(name)
        if name not in programs or not installed(ver):
            missing.append(name)
            continue
        work = tmp / f"hello-{name}"
        work.mkdir()
        src = work / ver.source_file
        src.write_text(programs[name])
        (work / "1.in").write_text("1 2\n")
        (work / "1.ans").write_text("3\n")
        limits = Limits(timeMs=5000, memoryKb=262144)
        task = Task(language=ver, languageName=lang.name, submission=str(src), tests=[
            TestCase(name=str(i), input=str(work / "1.in"), expected=str(work / "1.ans"), limits=limits)
            for i in range(runs)])
        start = time.perf_counter()
        result = judge(task)
        took = time.perf_counter() - start
        if result.verdict != Verdict.ACCEPTED:
            print(f"  {name}: {result.verdict.value} {result.message[:200]}")
            continue
        walls = sorted(t.wall_time_ms for t in result.tests)
        cpus = sorted(t.cpu_time_ms for t in result.tests)
        build_s = max(0.0, took - sum(walls) / 1000)
        rows.append((name, ver.version, ver.image, build_s, walls[len(walls) // 2], cpus[len(cpus) // 2],
                     max(t.memory_kb for t in result.tests)))
    print(f"Hello world (A+B), each language judged here: one compile, {runs} tests; median wall and CPU "
          f"per test, the largest peak memory:")
    base = next((r[4] for r in rows if r[0] == "c"), 0) or 1
    print(f"  {'language':<11} {'version':<8} {'image':<24} {'build s':>7} {'wall ms':>7} {'CPU ms':>6} "
          f"{'MB':>6} {'wall / C':>8}")
    for name, version, image, build_s, wall, cpu, kb in rows:
        print(f"  {name:<11} {version:<8} {image:<24} {build_s:7.2f} {wall:7d} {cpu:6d} {kb / 1024:6.1f} "
              f"{wall / base:8.1f}")
    if missing:
        print("  not installed here (scripts/install-toolchains.sh): " + ", ".join(missing))


def main() -> int:
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, running as uid {os.geteuid()}")
    with tempfile.TemporaryDirectory(prefix="gavel-bench-") as tmp:
        judge_vs_bare(Path(tmp))
        cpu_accuracy(Path(tmp))
        memory_accuracy(Path(tmp))
        hello_world(Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
