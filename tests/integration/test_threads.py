"""Threads and processes per test (limits.processes): C, C++ and Rust may start threads up to it,
every thread's CPU counts toward the time limit, and a thread or fork bomb at any value ends in a
verdict with nothing of it left running (RLIMIT_NPROC of the test's own uid is the wall).

The runner runs as root here (as in the runner image), so tests run as a fresh unprivileged uid,
whose RLIMIT_NPROC counts only its own tasks."""

import os
import secrets
from pathlib import Path

import pytest


from gavel_contract import TestVerdict, Verdict
from gavel_runner import sandbox
from gavel_runner.sandbox import under_gvisor

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="a uid of its own needs root (the runner image runs as root)")

# spin(ms): until the calling thread has used ms of CPU (its own clock: deterministic however
# loaded the machine is)
SPIN = ("#define _GNU_SOURCE\n#include <pthread.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <time.h>\n"
        "#include <unistd.h>\n"
        "static void *spin(void *ms){struct timespec t;volatile unsigned long x=0;do{for(int i=0;i<100000;i++)x++;"
        "clock_gettime(CLOCK_THREAD_CPUTIME_ID,&t);}while(t.tv_sec*1000+t.tv_nsec/1000000<(long)ms);return 0;}\n")

# two threads, each burning 400 ms of its own CPU, then the sum of the input
TWO_THREADS_C = SPIN + (
    "int main(){int a,b;if(scanf(\"%d %d\",&a,&b)!=2)return 2;pthread_t t[2];"
    "for(int i=0;i<2;i++)if(pthread_create(&t[i],0,spin,(void*)400L))return 3;"
    "for(int i=0;i<2;i++)pthread_join(t[i],0);printf(\"%d\\n\",a+b);return 0;}\n")

TWO_THREADS_CPP = SPIN.replace("#define _GNU_SOURCE\n", "") + (
    "#include <iostream>\n#include <thread>\n"
    "int main(){int a,b;std::cin>>a>>b;std::thread x(spin,(void*)400L),y(spin,(void*)400L);x.join();y.join();"
    "std::cout<<a+b<<std::endl;}\n")

TWO_THREADS_RUST = """use std::io::Read;
fn main() {
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s).unwrap();
    let v: Vec<u64> = s.split_whitespace().map(|x| x.parse().unwrap()).collect();
    let hs: Vec<_> = (0..2).map(|i| std::thread::spawn(move || {
        let mut x: u64 = i;
        for k in 0..50_000_000u64 { x = x.wrapping_mul(31).wrapping_add(k) ^ (x >> 7); }
        x
    })).collect();
    let spun: u64 = hs.into_iter().map(|h| h.join().unwrap()).fold(0, |a, b| a ^ b);
    println!("{}", v[0] + v[1] + (spun == 42) as u64);
}
"""

# threads that wait, made until one is refused: how many it got goes to stderr
COUNTED_THREADS_C = ("#include <pthread.h>\n#include <stdio.h>\n#include <unistd.h>\n"
                     "static void *idle(void *a){pause();return a;}\n"
                     "int main(){pthread_attr_t at;pthread_attr_init(&at);pthread_attr_setstacksize(&at,65536);"
                     "pthread_t t;int n=0;while(n<100000&&pthread_create(&t,&at,idle,0)==0)n++;"
                     "fprintf(stderr,\"threads %d\\n\",n);return 1;}\n")
# processes that wait, forked until one is refused
COUNTED_FORKS_C = ("#include <stdio.h>\n#include <unistd.h>\n"
                   "int main(){int n=0,p;while(n<100000&&(p=fork())>0)n++;if(p==0){pause();return 0;}"
                   "fprintf(stderr,\"forked %d\\n\",n);return 1;}\n")
# a thread bomb that ignores refusals: every thread makes threads, forever
THREAD_BOMB_C = ("#include <pthread.h>\n"
                 "static void *bomb(void *a){pthread_t t;for(;;)pthread_create(&t,0,bomb,0);return a;}\n"
                 "int main(){bomb(0);}\n")
FORK_BOMB_C = "#include <unistd.h>\nint main(){for(;;)fork();}\n"

@pytest.fixture(autouse=True)
def uid(monkeypatch) -> int:
    """The judgement's uid, fixed (its checker's is the next): what is left of it is looked for by
    uid, not among every sandbox uid (other judges may run on this machine)."""
    uid = secrets.randbelow(1_000_000_000) + 1_000_000
    monkeypatch.setenv("GAVEL_SANDBOX_UID", str(uid))
    return uid


def left(uid: int) -> list[int]:
    """Processes of the judgement's uids still alive."""
    return sandbox.alive(uid) + sandbox.alive(uid + 1)


SUM = {"1": ("1 2\n", "3\n"), "2": ("40 2\n", "42\n")}


def stderr_of(result_dir: Path, name: str = "1") -> str:
    return (result_dir / "out" / f"{name}.stderr").read_text()


@pytest.mark.parametrize("language,source", [("c", TWO_THREADS_C), ("cpp", TWO_THREADS_CPP)])
def test_two_threads_are_accepted_and_both_threads_cpu_counts(judge_source, language, source):
    result = judge_source(source, language, SUM, timeMs=5000, wallMs=30000)
    assert result.verdict == Verdict.ACCEPTED, result
    for t in result.tests:
        # each thread spun 400 ms of its own CPU: the test's time is both threads' (and main's)
        assert 800 <= t.cpu_time_ms < 1500, t


def test_two_threads_past_the_time_limit_are_tle_though_each_is_under_it(judge_source, uid):
    # 2 × 400 ms of CPU under a 600 ms limit: each thread alone would pass, both together do not
    result = judge_source(TWO_THREADS_C, "c", {"1": ("1 2\n", "3\n")}, timeMs=600, wallMs=30000)
    assert result.tests[0].verdict == TestVerdict.TIME_LIMIT_EXCEEDED, result
    assert left(uid) == []


@pytest.mark.xfail(under_gvisor(), reason="compile memory under gVisor (docs/gvisor.md)", strict=False)
def test_rust_threads_are_accepted(judge_source, uid):
    result = judge_source(TWO_THREADS_RUST, "rust", SUM, timeMs=5000, wallMs=30000)
    assert result.verdict == Verdict.ACCEPTED, result


@pytest.mark.xfail(under_gvisor(), reason="compile memory under gVisor (docs/gvisor.md)", strict=False)
def test_rust_thread_past_processes_1_is_a_runtime_error(judge_source, uid):
    # one task only (the main thread): spawning panics, exit 101
    result = judge_source(TWO_THREADS_RUST, "rust", {"1": ("1 2\n", "3\n")}, timeMs=5000, processes=1)
    t = result.tests[0]
    assert t.verdict == TestVerdict.RUNTIME_ERROR and t.exit_code == 101, result


@pytest.mark.xfail(under_gvisor(), reason="gVisor does not enforce RLIMIT_NPROC: a run past its processes is killed (RuntimeError), not refused (docs/gvisor.md)", strict=False)
def test_c_threads_past_processes_are_refused(judge_source, uid):
    result = judge_source(TWO_THREADS_C, "c", {"1": ("1 2\n", "3\n")}, timeMs=5000, processes=2)
    t = result.tests[0]
    assert t.verdict == TestVerdict.RUNTIME_ERROR and t.exit_code == 3, result  # the second pthread_create: EAGAIN


@pytest.mark.xfail(under_gvisor(), reason="gVisor does not enforce RLIMIT_NPROC: a run past its processes is killed (RuntimeError), not refused (docs/gvisor.md)", strict=False)
@pytest.mark.parametrize("processes", [1, 8, 64, 300])
def test_threads_stop_at_processes(judge_source, tmp_path, uid, processes):
    result = judge_source(COUNTED_THREADS_C, "c", {"1": ("", "")}, timeMs=5000, wallMs=30000, processes=processes)
    t = result.tests[0]
    assert t.verdict == TestVerdict.RUNTIME_ERROR and t.exit_code == 1, result
    # the main thread is one of them
    assert stderr_of(tmp_path) == f"threads {processes - 1}\n"
    assert left(uid) == []


@pytest.mark.xfail(under_gvisor(), reason="gVisor does not enforce RLIMIT_NPROC: a run past its processes is killed (RuntimeError), not refused (docs/gvisor.md)", strict=False)
@pytest.mark.parametrize("processes", [1, 64])
def test_forks_stop_at_processes(judge_source, tmp_path, uid, processes):
    result = judge_source(COUNTED_FORKS_C, "c", {"1": ("", "")}, timeMs=5000, wallMs=30000, processes=processes)
    t = result.tests[0]
    assert t.verdict == TestVerdict.RUNTIME_ERROR and t.exit_code == 1, result
    assert stderr_of(tmp_path) == f"forked {processes - 1}\n"
    assert left(uid) == []  # the waiting children were killed with the test


@pytest.mark.xfail(under_gvisor(), reason="gVisor does not enforce RLIMIT_NPROC: a run past its processes is killed (RuntimeError), not refused (docs/gvisor.md)", strict=False)
@pytest.mark.parametrize("source", [THREAD_BOMB_C, FORK_BOMB_C], ids=["threads", "forks"])
@pytest.mark.parametrize("processes", [64, 1024])
def test_a_bomb_ends_in_a_verdict_and_the_next_test_runs(judge_source, uid, source, processes):
    # the bomb's tasks spin on refused creations: the CPU of all of them reaches the limit fast (past
    # 256 processes their memory is their RSS summed: a bomb may end MemoryLimitExceeded instead)
    tests = {"1": ("", ""), "2": ("", "")}
    result = judge_source(source, "c", tests, timeMs=1000, wallMs=10000, processes=processes)
    assert result.verdict == Verdict.TEST_FAILED, result
    for t in result.tests:
        assert t.verdict in (TestVerdict.TIME_LIMIT_EXCEEDED, TestVerdict.RUNTIME_ERROR,
                             TestVerdict.MEMORY_LIMIT_EXCEEDED), t
        assert t.wall_time_ms < 12_000, t  # ended by its limits, not by the runner's watchdog (40 s)
    assert left(uid) == []
    # the runner is unharmed: the same judge runs an honest threaded program next
    assert judge_source(TWO_THREADS_C, "c", SUM, timeMs=5000, wallMs=30000).verdict == Verdict.ACCEPTED
