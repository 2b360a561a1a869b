"""Hostile submissions: each must end in a verdict, leave nothing behind, and learn nothing.

The runner runs as root here (as in the runner image), so tests run as a fresh unprivileged
uid; these tests assert the isolation that gives."""

import os
import signal
import subprocess

import pytest

from gavel_contract import TestVerdict, Verdict

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="isolation needs root (the runner image runs as root)")

OK = {"1": ("", "SAFE\n"), "2": ("", "SAFE\n")}


def sandbox_processes() -> list[str]:
    """Processes owned by a sandbox uid (Gavel picks uids from 1,000,000 up)."""
    out = subprocess.run(["ps", "-eo", "uid=,pid=,args="], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if int(line.split()[0]) >= 1_000_000]


def only(result):
    assert result.verdict in (Verdict.ACCEPTED, Verdict.TEST_FAILED), result.message
    return result.tests[0]


def test_fork_bomb(judge_source):
    src = "#include <unistd.h>\nint main(){for(;;)fork();}\n"
    t = only(judge_source(src, "c", {"1": ("", "")}, timeMs=500))
    assert t.verdict in (TestVerdict.TIME_LIMIT_EXCEEDED, TestVerdict.RUNTIME_ERROR)
    assert sandbox_processes() == []


def test_infinite_loop_is_cpu_tle(judge_source):
    t = only(judge_source("int main(){for(;;);}\n", "c", {"1": ("", "")}, timeMs=200))
    assert t.verdict == TestVerdict.TIME_LIMIT_EXCEEDED and "CPU time" in t.message


def test_sleeping_past_the_wall_limit(judge_source):
    src = "#include <unistd.h>\nint main(){sleep(30);}\n"
    t = only(judge_source(src, "c", {"1": ("", "")}, timeMs=200, wallMs=500))
    assert t.verdict == TestVerdict.TIME_LIMIT_EXCEEDED and "wall time" in t.message
    assert 500 <= t.wall_time_ms < 5000 and t.cpu_time_ms < 100


def test_memory_hog_in_one_allocation(judge_source):
    # one 1 GB allocation under a 64 MB limit: granted (no address-space limit), then touched
    src = ("#include <stdlib.h>\n"
           "int main(){size_t n=(size_t)1<<30;volatile char*p=malloc(n);if(!p)return 7;"
           "for(size_t i=0;i<n;i+=4096)p[i]=1;return p[5];}\n")
    t = only(judge_source(src, "c", {"1": ("", "")}, timeMs=5000))
    assert t.verdict == TestVerdict.MEMORY_LIMIT_EXCEEDED, t
    assert t.memory_kb > 65536 and "peak memory" in t.message


def test_huge_static_array(judge_source):
    src = "#include <stdio.h>\nstatic volatile char a[1<<30];\nint main(){for(int i=0;i<(1<<30);i+=4096)a[i]=1;puts(a[4096]?\"x\":\"y\");}\n"
    t = only(judge_source(src, "c", {"1": ("", "x\n")}, timeMs=5000))
    assert t.verdict == TestVerdict.MEMORY_LIMIT_EXCEEDED, t


def test_output_flood(judge_source):
    src = '#include <stdio.h>\nint main(){for(;;)puts("flood flood flood flood");}\n'
    t = only(judge_source(src, "c", {"1": ("", "")}, outputKb=1024, timeMs=5000))
    assert t.verdict == TestVerdict.OUTPUT_LIMIT_EXCEEDED


def test_huge_file(judge_source):
    src = ('#include <stdio.h>\n#include <string.h>\nint main(){FILE*f=fopen("big","w");char b[65536];memset(b,1,sizeof b);'
           "for(int i=0;i<16384;i++)fwrite(b,1,sizeof b,f);fclose(f);puts(\"done\");}\n")
    t = only(judge_source(src, "c", {"1": ("", "done\n")}, outputKb=1024, timeMs=5000))
    assert t.verdict == TestVerdict.OUTPUT_LIMIT_EXCEEDED


SNOOP = r"""
import glob, os
leaks = []
for pattern in ["/tmp/gavel-*/private/*", "/tmp/gavel-*/private/*/*", "/tmp/*.json", "/proc/1/environ",
                f"/proc/{os.getppid()}/environ", "/root/*"]:
    for path in glob.glob(pattern):
        try:
            with open(path, "rb") as f:
                f.read(1)
            leaks.append(path)
        except OSError:
            pass
try:
    os.listdir(os.path.dirname(os.getcwd()))
    leaks.append("listed the judgement directory")
except OSError:
    pass
for key in os.environ:
    if key not in ("PATH", "HOME", "TMPDIR", "PYTHONDONTWRITEBYTECODE", "PYTHONHASHSEED", "LC_CTYPE"):
        leaks.append("env " + key)
print("LEAK " + " ".join(leaks) if leaks else "SAFE")
"""


def test_cannot_read_answers_task_or_runner_environment(judge_source):
    result = judge_source(SNOOP, "python", OK)
    assert result.verdict == Verdict.ACCEPTED, result.tests[0].message


def test_cannot_kill_parent_or_anything(judge_source):
    src = ("#include <signal.h>\n#include <unistd.h>\n#include <stdio.h>\n"
           "int main(){int a=kill(getppid(),SIGKILL);int b=kill(1,SIGKILL);kill(-1,SIGKILL);"
           "puts(a==-1&&b==-1?\"SAFE\":\"KILLED\");}\n")
    result = judge_source(src, "c", OK)
    assert result.verdict == Verdict.ACCEPTED, result.message


def test_cannot_ptrace_the_runner(judge_source):
    src = ("#include <sys/ptrace.h>\n#include <unistd.h>\n#include <stdio.h>\n"
           "int main(){puts(ptrace(PTRACE_ATTACH,getppid(),0,0)==-1?\"SAFE\":\"ATTACHED\");}\n")
    assert judge_source(src, "c", OK).verdict == Verdict.ACCEPTED


def test_background_child_does_not_outlive_its_test(judge_source):
    src = ("#include <unistd.h>\n#include <stdio.h>\n"
           "int main(){if(fork()==0){setsid();if(fork()==0){sleep(1000);}_exit(0);}puts(\"SAFE\");fflush(stdout);}\n")
    result = judge_source(src, "c", OK)
    assert result.verdict == Verdict.ACCEPTED, result.message
    assert sandbox_processes() == []


def test_stack_overflow(judge_source):
    src = "int f(int n){volatile char pad[4096];pad[0]=n;return f(n+1)+pad[0];}\nint main(){return f(0);}\n"
    t = only(judge_source(src, "c", {"1": ("", "")}, timeMs=5000))
    # the stack may grow to the memory limit: the watchdog or the kernel stops it first
    assert t.verdict in (TestVerdict.RUNTIME_ERROR, TestVerdict.MEMORY_LIMIT_EXCEEDED)
    if t.verdict == TestVerdict.RUNTIME_ERROR:
        assert t.signal == signal.SIGSEGV


def test_division_by_zero(judge_source):
    src = '#include <stdio.h>\nint main(){volatile int x=7,z=0;printf("%d\\n",x/z);}\n'
    t = only(judge_source(src, "c", {"1": ("", "")}))
    assert t.verdict == TestVerdict.RUNTIME_ERROR and t.signal == signal.SIGFPE
    assert "SIGFPE" in t.message


def test_nonzero_exit(judge_source):
    t = only(judge_source("int main(){return 3;}\n", "c", {"1": ("", "")}))
    assert t.verdict == TestVerdict.RUNTIME_ERROR and t.exit_code == 3


def test_cannot_change_the_binary_for_the_next_test(judge_source):
    src = ('#include <stdio.h>\nint main(int c,char**v){FILE*f=fopen(v[0],"w");'
           'puts(f?"TAMPERED":"SAFE");}\n')
    result = judge_source(src, "c", OK)
    assert result.verdict == Verdict.ACCEPTED, result.message
