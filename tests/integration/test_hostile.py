"""Hostile submissions: each must end in a verdict, leave nothing behind, and learn nothing.

The runner runs as root here (as in the runner image), so tests run as a fresh unprivileged
uid; these tests assert the isolation that gives."""

import os
import random
import signal
import subprocess
from pathlib import Path

import pytest

from gavel_contract import Checker, Limits, Task, TestCase, TestVerdict, Verdict
from gavel_contract.languages import resolve
from gavel_runner.judge import judge
from gavel_runner.sandbox import under_gvisor

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="isolation needs root (the runner image runs as root)")
GVISOR = under_gvisor()

OK = {"1": ("", "SAFE\n"), "2": ("", "SAFE\n")}


JUDGED_UIDS: set[int] = set()


@pytest.fixture(autouse=True)
def own_uids(monkeypatch):
    """Each test's judgements run as a uid fixed for it (GAVEL_SANDBOX_UID; the checker's is the
    next): what is left is looked for under these, not under every sandbox uid (other judges may
    run on this machine meanwhile, and their processes are not ours)."""
    uid = random.randrange(1_000_000, 1_400_000_000)
    monkeypatch.setenv("GAVEL_SANDBOX_UID", str(uid))
    JUDGED_UIDS.clear()
    JUDGED_UIDS.update({uid, uid + 1})


def sandbox_processes() -> list[str]:
    """Processes of this test's sandbox uids still alive."""
    out = subprocess.run(["ps", "-eo", "uid=,pid=,stat=,args="], capture_output=True, text=True).stdout
    return [line for line in out.splitlines()
            if int(line.split()[0]) in JUDGED_UIDS and not line.split()[2].startswith("Z")]


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


# --- every process of a test is measured and limited ------------------------------------------

@pytest.fixture
def judge_forking(tmp_path: Path):
    """judge_source for C with fork allowed (the C language runs one process; these need several)."""

    def run(source: str, tests: dict[str, tuple[str, str]] | None = None, **limits):
        lang, ver = resolve("c")
        ver = ver.model_copy(update={"processes": 8})
        (tmp_path / ver.source_file).write_text(source)
        cases = []
        for name, (inp, ans) in (tests or {"1": ("", "3\n")}).items():
            (tmp_path / f"{name}.in").write_text(inp)
            (tmp_path / f"{name}.ans").write_text(ans)
            cases.append(TestCase(name=name, input=str(tmp_path / f"{name}.in"), expected=str(tmp_path / f"{name}.ans"),
                                  limits=Limits(**{"timeMs": 1000, "memoryKb": 65536, **limits})))
        return judge(Task(language=ver, languageName=lang.name, submission=str(tmp_path / ver.source_file),
                          tests=cases, checker=Checker.parse("lines")))

    return run


# burn(ms): spin until this process has used ms of CPU
BURN = ("#define _GNU_SOURCE\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <unistd.h>\n"
        "#include <sys/resource.h>\n"
        "static void burn(long ms){struct rusage r;volatile unsigned long x=0;do{for(int i=0;i<100000;i++)x++;"
        "getrusage(RUSAGE_SELF,&r);}while(r.ru_utime.tv_sec*1000+r.ru_utime.tv_usec/1000<ms);}\n")


def test_child_burning_cpu_beside_a_sleeping_main_is_cpu_tle(judge_forking):
    # main never waits for it, sleeps, then prints the right answer
    src = BURN + 'int main(){if(fork()==0){burn(100000);return 0;}sleep(3);puts("3");return 0;}\n'
    t = only(judge_forking(src, timeMs=300, wallMs=10000))
    assert t.verdict == TestVerdict.TIME_LIMIT_EXCEEDED and "CPU time" in t.message, t
    assert t.cpu_time_ms >= 300 and t.wall_time_ms < 3000
    assert sandbox_processes() == []


def test_cpu_of_a_child_that_ended_unwaited_counts(judge_forking):
    # neither process alone passes the limit; the child is never waited for
    src = BURN + 'int main(){if(fork()==0){burn(250);return 0;}burn(250);sleep(1);puts("3");return 0;}\n'
    t = only(judge_forking(src, timeMs=400, wallMs=10000))
    assert t.verdict == TestVerdict.TIME_LIMIT_EXCEEDED and "CPU time" in t.message, t


def test_child_left_burning_after_main_exits(judge_forking):
    # main burns just under the limit and leaves a child burning in its own session
    src = BURN + 'int main(){if(fork()==0){setsid();burn(100000);return 0;}burn(250);puts("3");return 0;}\n'
    t = only(judge_forking(src, timeMs=400, wallMs=10000))
    assert t.verdict == TestVerdict.TIME_LIMIT_EXCEEDED, t
    assert sandbox_processes() == []


def test_child_left_running_is_killed_and_its_cpu_counted(judge_forking):
    src = BURN + 'int main(){if(fork()==0){setsid();burn(100000);return 0;}usleep(200000);puts("3");return 0;}\n'
    result = judge_forking(src, timeMs=1000, wallMs=10000)
    t = only(result)
    assert t.verdict == TestVerdict.PASSED, t  # up to 200 ms of the child's CPU: within the limit
    assert 50 <= t.cpu_time_ms < 1000, t  # counted (a busy machine may give it less than 200 ms)
    assert any("left running" in w for w in result.warnings)
    assert sandbox_processes() == []


def test_leftover_killing_everything_of_its_uid_is_swept(judge_forking):
    # it would kill the sweep's helper (the same uid) before the helper kills it
    src = ('#define _GNU_SOURCE\n#include <signal.h>\n#include <unistd.h>\n'
           'int main(){if(fork()==0){setsid();for(;;)kill(-1,SIGKILL);}sleep(1);return 0;}\n')
    for _ in range(3):
        result = judge_forking(src, {"1": ("", ""), "2": ("", "")}, timeMs=1000, wallMs=5000)
        assert result.verdict == Verdict.TEST_FAILED, result.message  # not an InternalError
        assert sandbox_processes() == []


def test_memory_of_two_processes_is_summed(judge_forking):
    src = ('#define _GNU_SOURCE\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <unistd.h>\n'
           'int main(){fork();size_t n=40<<20;volatile char*p=malloc(n);for(size_t i=0;i<n;i+=4096)p[i]=1;'
           'sleep(1);if(p[n-4096]==1)puts("3");return 0;}\n')
    t = only(judge_forking(src, timeMs=5000, memoryKb=65536))
    assert t.verdict == TestVerdict.MEMORY_LIMIT_EXCEEDED and "peak memory" in t.message, t
    assert t.memory_kb > 65536


# --- nothing survives from one test to the next -----------------------------------------------

LITTER = r"""#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#define KEY 0x6a7e1
static void touch(const char *p) { close(open(p, O_CREAT | O_WRONLY, 0600)); }
/* test 1 leaves all it can; test 2 (same uid) prints SAFE only when it finds none of it */
static int owned_ipc(const char *path) { /* lines whose uid or cuid column is ours */
    FILE *f = fopen(path, "r"); char line[512]; int uid = -1, cuid = -1, n = 0, found = 0;
    if (!f) return 0;
    if (fgets(line, sizeof line, f))
        for (char *w = strtok(line, " \n"); w; w = strtok(NULL, " \n"), n++) {
            if (!strcmp(w, "uid")) uid = n;
            if (!strcmp(w, "cuid")) cuid = n;
        }
    while (fgets(line, sizeof line, f)) {
        long v[32]; int k = 0;
        for (char *p = line, *e; k < 32; p = e) { v[k] = strtol(p, &e, 10); if (e == p) break; k++; }
        if (k > cuid && (v[uid] == (long)getuid() || v[cuid] == (long)getuid())) found++;
    }
    fclose(f);
    return found;
}
static int owned_files(const char *dir) {
    DIR *d = opendir(dir); struct dirent *e; int found = 0;
    if (!d) return 0;
    while ((e = readdir(d))) {
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_uid == getuid()) found++;
    }
    closedir(d);
    return found;
}
int main(void) {
    int t;
    if (scanf("%d", &t) != 1) return 1;
    if (t == 1) {
        touch("/tmp/gavel-litter"); touch("/dev/shm/gavel-litter"); touch("/var/tmp/gavel-litter");
        symlink("/etc/passwd", "/tmp/gavel-litter-link");
        mkdir("/tmp/gavel-litter-deep", 0700);
        if (chdir("/tmp/gavel-litter-deep")) return 2;
        for (int i = 0; i < 300; i++) if (mkdir("d", 0700) || chdir("d")) return 3;
        touch("bottom");
        mkdir("/tmp/gavel-litter-locked", 0700); touch("/tmp/gavel-litter-locked/f");
        chmod("/tmp/gavel-litter-locked", 0);
        if (shmget(KEY, 4096, IPC_CREAT | 0600) < 0 || semget(KEY, 1, IPC_CREAT | 0600) < 0 ||
            msgget(KEY, IPC_CREAT | 0600) < 0 || shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600) < 0) return 4;
        int given = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600); /* handed to root: its creator stays */
        struct shmid_ds ds;
        if (shmctl(given, IPC_STAT, &ds) == 0) { ds.shm_perm.uid = 0; shmctl(given, IPC_SET, &ds); }
        puts("SAFE");
        return 0;
    }
    int found = owned_ipc("/proc/sysvipc/shm") + owned_ipc("/proc/sysvipc/sem") + owned_ipc("/proc/sysvipc/msg") +
                owned_files("/tmp") + owned_files("/dev/shm") + owned_files("/var/tmp") +
                (shmget(KEY, 0, 0) >= 0) + (semget(KEY, 0, 0) >= 0) + (msgget(KEY, 0) >= 0);
    if (found) printf("LEAK %d\n", found); else puts("SAFE");
    return 0;
}
"""


def sandbox_uid_leftovers(uid: int) -> list[str]:
    """IPC objects and files in the shared places that the uid owns or created, seen from the host."""
    found = []
    for kind in ("shm", "sem", "msg") if not GVISOR else ():  # gVisor: none can be made
        lines = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()
        cols = lines[0].split()
        for line in lines[1:]:
            row = dict(zip(cols, line.split()))
            if int(row["uid"]) == uid or int(row["cuid"]) == uid:
                found.append(f"{kind} {line.split()[1]}")
    out = subprocess.run(["find", "/tmp", "/dev/shm", "/var/tmp", "-xdev", "-maxdepth", "2", "-uid", str(uid)],
                         capture_output=True, text=True).stdout
    return found + out.split()


def test_nothing_survives_from_one_test_to_the_next(judge_source, monkeypatch):
    uid = random.randrange(1_500_000_000, 1_900_000_000)
    monkeypatch.setenv("GAVEL_SANDBOX_UID", str(uid))
    try:
        result = judge_source(LITTER, "c", {"1": ("1\n", "SAFE\n"), "2": ("2\n", "SAFE\n")})
        if GVISOR:  # no SysV IPC object can be made there (docs/gvisor.md): test 1 stops at the first
            assert [(t.verdict, t.message) for t in result.tests] == [
                (TestVerdict.RUNTIME_ERROR, "exit code 4"), (TestVerdict.PASSED, "")], result.tests
        else:
            assert result.verdict == Verdict.ACCEPTED, [(t.verdict, t.message) for t in result.tests]
        assert sandbox_uid_leftovers(uid) == [] and sandbox_uid_leftovers(uid + 1) == []
    finally:  # what a failed run left, not to pile up on the host
        for item in sandbox_uid_leftovers(uid):
            kind, _, ident = item.partition(" ")
            if kind in ("shm", "sem", "msg"):
                subprocess.run(["ipcrm", {"shm": "-m", "sem": "-s", "msg": "-q"}[kind], ident], check=False)
        subprocess.run("chmod -R u+rwx /tmp/gavel-litter-locked 2>/dev/null; rm -rf /tmp/gavel-litter "
                       "/tmp/gavel-litter-* /dev/shm/gavel-litter /var/tmp/gavel-litter", shell=True, check=False)


def test_posix_message_queues_cannot_be_made(judge_source):
    src = ('#define _GNU_SOURCE\n#include <fcntl.h>\n#include <mqueue.h>\n#include <stdio.h>\n'
           'int main(){mqd_t q=mq_open("/gavel-mq",O_CREAT|O_RDWR,0600,NULL);puts(q==(mqd_t)-1?"SAFE":"MADE");}\n')
    result = judge_source(src, "c", OK)
    assert result.verdict == Verdict.ACCEPTED, result.message
