"""gavel-sandbox measures every process of a run and, with a uid of its own, leaves nothing of it
behind: the programs here run straight through sandbox.Server, as judge.py runs them."""

from __future__ import annotations

import errno
import os
import random
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from gavel_runner import sandbox

GVISOR = sandbox.under_gvisor()

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="a uid of its own needs root (the runner image runs as root)")

HEADER = ("#define _GNU_SOURCE\n#include <fcntl.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n"
          "#include <unistd.h>\n#include <sys/ipc.h>\n#include <sys/resource.h>\n#include <sys/sem.h>\n"
          "#include <sys/shm.h>\n#include <sys/stat.h>\n#include <sys/wait.h>\n"
          # burn(ms): spin until this process used ms of CPU; cpu(): its CPU so far, in ms
          "static double cpu(void){struct rusage r;getrusage(RUSAGE_SELF,&r);"
          "return (r.ru_utime.tv_sec+r.ru_stime.tv_sec)*1e3+(r.ru_utime.tv_usec+r.ru_stime.tv_usec)/1e3;}\n"
          "static void burn(double ms){volatile unsigned long x=0;while(cpu()<ms)for(int i=0;i<100000;i++)x++;}\n"
          # touch(mb): a fresh mb MiB, every page written
          "static volatile char*touch(size_t mb){volatile char*p=malloc(mb<<20);for(size_t i=0;i<mb<<20;i+=4096)p[i]=1;"
          "return p;}\n")


@pytest.fixture
def place():
    """A directory every uid can reach (tmp_path is root's alone): programs, and `shared`, a
    1777 directory like /tmp for the runs to litter."""
    root = Path(tempfile.mkdtemp(prefix="gavel-accounting-", dir="/tmp"))
    root.chmod(0o755)
    (root / "shared").mkdir(mode=0o1777)
    (root / "shared").chmod(0o1777)
    yield root
    subprocess.run(["chmod", "-R", "u+rwx", str(root)], check=False)
    subprocess.run(["rm", "-rf", str(root)], check=True)  # shutil.rmtree recurses: not 3000 levels deep


@pytest.fixture
def box():
    with sandbox.Server() as server:
        yield server


def identity() -> sandbox.Identity:
    uid = random.randrange(1_500_000_000, 1_900_000_000)
    return sandbox.Identity(uid=uid, gid=uid)


def program(place: Path, name: str, body: str) -> str:
    src = place / f"{name}.c"
    src.write_text(HEADER + body)
    subprocess.run(["gcc", "-O2", "-static", "-o", str(place / name), str(src)], check=True)
    return str(place / name)


def run(box: sandbox.Server, place: Path, argv: list[str], **options) -> tuple[sandbox.Measurement, str]:
    out = place / "out"
    options = {"cwd": place, "stdout": out, "cpu_ms": 20_000, "wall_ms": 60_000, "processes": 16, **options}
    m = box.run(argv, **options)
    return m, out.read_text()


# --- CPU and memory of every process -----------------------------------------------------------

def test_a_lone_process_is_measured_as_wait4_measures_it(box, place):
    # its own getrusage as it ends is the truth, to the ms and to the kB (no other process: as
    # before); CPU and memory apart: unmapping what it touched takes CPU after its report
    exe = program(place, "lone", 'int main(int c,char**v){if(c>1)touch(atoi(v[1]));else burn(150);struct rusage r;'
                                 'getrusage(RUSAGE_SELF,&r);printf("%.3f %ld\\n",cpu(),r.ru_maxrss);return 0;}\n')
    m, out = run(box, place, [exe], identity=identity())
    assert abs(m.cpu_ms - float(out.split()[0])) <= 1.5, (m, out)
    m, out = run(box, place, [exe, "24"], identity=identity())
    # gVisor's ru_maxrss and its /proc RSS are its own accounting: within a few pages of each other
    assert abs(m.rss_kb - int(out.split()[1])) <= (128 if GVISOR else 16), (m, out)
    assert m.exit_code == 0 and m.killed == "none" and m.cleaned == 0


def test_a_small_program_is_not_charged_the_sandboxs_own_memory(box, place):
    # exec hands the peak RSS of the memory it replaces to ru_maxrss: the spawner's, small and the
    # same however much the serving sandbox has grown (never the sandbox's own, as a vfork child
    # of it would hand over), so a serving sandbox measures a small program as a fresh one does
    exe = program(place, "small", 'int main(){return 0;}\n')
    first = program(place, "first", 'int main(){touch(64);usleep(50000);return 0;}\n')
    for argv in ([exe], [first], [exe]):  # the last in a sandbox that has served and watched one
        m, _ = run(box, place, argv, identity=identity())
    # (gVisor: measured up to 1.2 MB apart, either way: its ru_maxrss is its own accounting)
    assert abs(m.rss_kb - sandbox.run([exe], cwd=place).rss_kb) <= (4096 if GVISOR else 16), m


def spawner_of(server: sandbox.Server) -> int:
    """The serving sandbox's one child between runs: its spawner (sandbox.c, start_spawner)."""
    pid = server.proc.pid
    deadline = time.monotonic() + 10  # a sandbox just started may not have forked it yet
    while not (children := Path(f"/proc/{pid}/task/{pid}/children").read_text().split()):
        assert time.monotonic() < deadline, "no spawner"
        time.sleep(0.01)
    assert len(children) == 1, children
    return int(children[0])


def gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def test_a_lost_spawner_fails_the_next_run_and_dies_with_its_sandbox(place):
    exe = program(place, "small", 'int main(){return 0;}\n')
    with sandbox.Server() as server:
        assert run(server, place, [exe])[0].exit_code == 0
        os.kill(spawner_of(server), signal.SIGKILL)
        with pytest.raises(sandbox.SandboxError, match="spawner is gone"):
            run(server, place, [exe])
    server = sandbox.Server()
    spawner = spawner_of(server)
    server.proc.kill()
    server.proc.wait()
    deadline = time.monotonic() + 10
    while not gone(spawner) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(spawner)


@pytest.mark.parametrize("name,source", [
    # the child reports its own CPU as it ends; main waits for its pipe to close, never for it
    ("unwaited", 'int main(){int p[2];pipe(p);if(fork()==0){close(p[0]);burn(300);'
                 'printf("%.3f\\n",cpu());fflush(stdout);return 0;}close(p[1]);char c;'
                 'while(read(p[0],&c,1)>0){}usleep(50000);return 0;}\n'),
    # main's child forks a grandchild and exits: the grandchild, reparented to the sandbox (the
    # subreaper), burns and ends while main still runs
    ("orphan", 'int main(){int p[2];pipe(p);if(fork()==0){if(fork()==0){close(p[0]);burn(300);'
               'printf("%.3f\\n",cpu());fflush(stdout);return 0;}return 0;}close(p[1]);char c;'
               'while(read(p[0],&c,1)>0){}usleep(50000);return 0;}\n'),
], ids=["child-never-waited-for", "orphan"])
def test_cpu_of_a_process_main_never_waited_for(box, place, name, source):
    exe = program(place, name, source)
    m, out = run(box, place, [exe], identity=identity())
    assert m.exit_code == 0 and m.killed == "none"
    # (gVisor counts CPU in 10 ms ticks, per process: three processes here)
    assert float(out) - 2 <= m.cpu_ms <= float(out) + (40 if GVISOR else 20), (m, out)


def test_cpu_limit_watches_the_whole_tree(box, place):
    exe = program(place, "spread", 'int main(){for(int i=0;i<3;i++)if(fork()==0){setsid();burn(1e6);}pause();}\n')
    m, _ = run(box, place, [exe], identity=identity(), cpu_ms=300, wall_ms=10_000)
    assert m.killed == "cpu" and m.cpu_ms >= 300 and m.wall_ms < 5000, m


def test_memory_of_several_processes_is_summed(box, place):
    exe = program(place, "two", 'int main(){pid_t c=fork();touch(40);usleep(300000);if(c>0)wait(NULL);return 0;}\n')
    m, _ = run(box, place, [exe], identity=identity(), memory_kb=1 << 20)
    assert m.killed == "none" and 80 * 1024 <= m.rss_kb < 90 * 1024, m
    m, _ = run(box, place, [exe], identity=identity(), memory_kb=64 * 1024)
    assert m.killed == "memory", m


class PodLikeServer(sandbox.Server):
    """The sandbox as in a runner pod: without CAP_SYS_PTRACE (dropped from its bounding set),
    which /proc/PID/smaps_rollup of another user's process would otherwise need."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(["setpriv", "--bounding-set", "-sys_ptrace", "--inh-caps", "-sys_ptrace",
                                      sandbox.sandbox_binary(), "-S"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)


@pytest.mark.parametrize("server", [sandbox.Server, PodLikeServer], ids=["host", "without-sys-ptrace"])
def test_pages_shared_since_a_fork_count_once(server, place):
    if GVISOR:
        pytest.skip("gVisor has no Pss (smaps_rollup): pages shared since a fork count in each process")
    exe = program(place, "forked", 'int main(){touch(40);pid_t c=fork();usleep(300000);if(c>0)wait(NULL);return 0;}\n')
    with server() as box:
        m, _ = run(box, place, [exe], identity=identity(), memory_kb=64 * 1024)
    assert m.killed == "none" and 40 * 1024 <= m.rss_kb < 50 * 1024, m


# --- nothing of a uid survives its run -----------------------------------------------------------

LITTER = r"""
int main(int argc, char **argv) {
    const char *d = argv[1];
    char path[4096];
    snprintf(path, sizeof path, "%s/file", d); close(open(path, O_CREAT | O_WRONLY, 0600));
    snprintf(path, sizeof path, "%s/link", d); symlink(argv[2], path);          /* to root's file */
    snprintf(path, sizeof path, "%s/open/mine", d); close(open(path, O_CREAT | O_WRONLY, 0600));
    snprintf(path, sizeof path, "%s/locked", d); mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/locked/f", d); close(open(path, O_CREAT | O_WRONLY, 0600));
    snprintf(path, sizeof path, "%s/locked", d); chmod(path, 0);
    snprintf(path, sizeof path, "%s/deep", d); mkdir(path, 0700);
    if (chdir(path)) return 2;
    for (int i = 0; i < 3000; i++) if (mkdir("d", 0700) || chdir("d")) return 3;   /* past PATH_MAX */
    close(open("bottom", O_CREAT | O_WRONLY, 0600));
    if (shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600) < 0 || semget(IPC_PRIVATE, 1, IPC_CREAT | 0600) < 0) return 4;
    puts("littered");
    return 0;
}
"""


def test_what_the_uid_left_is_removed_as_the_uid(box, place):
    shared = place / "shared"
    (shared / "roots").write_text("root's")  # not the uid's: stays
    (shared / "open").mkdir(mode=0o1777)  # another owner's directory the uid may write in
    (shared / "open").chmod(0o1777)
    target = place / "target"
    target.write_text("root's, through a link")
    exe = program(place, "litter", LITTER)
    ident = identity()
    try:
        m, out = run(box, place, [exe, str(shared), str(target)], identity=ident, cleanup_dirs=[shared])
        if GVISOR:  # no SysV IPC object can be made there (docs/gvisor.md): the files are all made first
            assert (m.exit_code, out, m.cleaned) == (4, "", 3 + 2 + 3002), m
            return
        assert out == "littered\n", m
        # file, link, open/mine, locked/ and its f, deep/ with 3000 levels and bottom; a shm segment, a semaphore
        assert m.cleaned == 3 + 2 + 3002 + 2, m
        assert sorted(os.listdir(shared)) == ["open", "roots"] and os.listdir(shared / "open") == []
        assert target.read_text() == "root's, through a link"
        assert ipc_of(ident.uid) == []
    finally:
        for kind, ident_id in ipc_of(ident.uid):  # whatever a failed run left, not to pile up on the host
            subprocess.run(["ipcrm", {"shm": "-m", "sem": "-s", "msg": "-q"}[kind], ident_id], check=False)


def ipc_of(uid: int) -> list[tuple[str, str]]:
    """The SysV IPC objects uid owns or created (none under gVisor: none can be made)."""
    found = []
    for kind in ("shm", "sem", "msg") if not GVISOR else ():
        lines = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()
        for line in lines[1:]:
            row = dict(zip(lines[0].split(), line.split()))
            if uid in (int(row["uid"]), int(row["cuid"])):
                found.append((kind, line.split()[1]))
    return found


def test_a_directory_is_skipped_only_while_nothing_can_be_new_in_it(box, place):
    # a clean that found nothing of the uid skips the directory while its ctime stays the same
    shared, ident = place / "shared", identity()
    touch = program(place, "touch", 'int main(int c,char**v){return c>1&&close(open(v[1],O_CREAT|O_WRONLY,0600));}\n')

    def clean(*argv: str) -> int:
        return run(box, place, [touch, *argv], identity=ident, cleanup_dirs=[shared])[0].cleaned

    for _ in range(3):
        assert clean() == 0
    for i in range(20):  # shared changed in the clock tick of a clean that found nothing, then again
        (shared / "root's").touch()
        (shared / "root's").unlink()
        assert clean() == 0
        assert clean(str(shared / f"t{i}")) == 1 and not (shared / f"t{i}").exists()
    # a directory of another user, closed now: its owner may open it later, and shared's ctime
    # does not change
    other = shared / "other"
    other.mkdir(mode=0o755)
    os.chown(other, ident.uid + 7, ident.uid + 7)
    time.sleep(0.05)  # past the clock tick of that change
    assert clean() == 0
    other.chmod(0o777)
    assert clean(str(other / "c")) == 1 and os.listdir(other) == []


def test_nothing_is_cleaned_without_a_uid_of_its_own(box, place):
    # run as the runner's own user, "the uid's files" would be the runner's: none is touched
    exe = program(place, "mine", 'int main(int c,char**v){close(open(v[1],O_CREAT|O_WRONLY,0600));return 0;}\n')
    m, _ = run(box, place, [exe, str(place / "shared" / "runner-file")], cleanup_dirs=[place / "shared"])
    assert m.cleaned == 0 and not m.dropped
    assert (place / "shared" / "runner-file").exists()


def test_more_processes_than_allowed(box, place):
    # Linux refuses the fork past RLIMIT_NPROC; gVisor accepts the limit but does not enforce it,
    # so there the sandbox counts them as it samples and kills the run (killed=processes)
    exe = program(place, "many", 'int main(){int made=0;for(int i=0;i<8;i++){pid_t p=fork();if(p==0){pause();_exit(0);}'
                                 'if(p>0)made++;}printf("%d\\n",made);fflush(stdout);usleep(300000);return 0;}\n')
    m, out = run(box, place, [exe], identity=identity(), processes=4)
    if GVISOR:
        assert m.killed == "processes" and m.signal == 9, (m, out)
    else:
        assert m.killed == "none" and out == "3\n", (m, out)


def test_one_process_forks_nothing(box, place):
    # processes=1 (the C language's): no fork, no thread (gVisor: a seccomp filter, EAGAIN as Linux)
    exe = program(place, "one", '#include <errno.h>\nint main(){pid_t p=fork();if(p==0)_exit(0);'
                                'printf("%d %d\\n",p,p<0?errno:0);return 0;}\n')
    m, out = run(box, place, [exe], identity=identity(), processes=1)
    assert m.killed == "none" and out == f"-1 {errno.EAGAIN}\n", (m, out)


def test_no_posix_message_queue(box, place):
    exe = program(place, "mq", '#include <mqueue.h>\nint main(){'
                               'mqd_t q=mq_open("/gavel-accounting",O_CREAT|O_RDWR,0600,NULL);'
                               'if(q!=(mqd_t)-1)mq_unlink("/gavel-accounting");puts(q==(mqd_t)-1?"refused":"made");}\n')
    _, out = run(box, place, [exe], identity=identity())
    assert out == "refused\n"


def test_standard_files_are_never_opened_through_a_link(box, place):
    exe = program(place, "echo", 'int main(){puts("x");return 0;}\n')
    victim = place / "victim"
    victim.write_text("keep")
    (place / "in-link").symlink_to(victim)
    (place / "out-link").symlink_to(victim)
    with pytest.raises(sandbox.SandboxError):
        box.run([exe], cwd=place, stdin=place / "in-link")
    for key in ("stdout", "stderr"):
        with pytest.raises(sandbox.SandboxError):
            box.run([exe], cwd=place, **{key: place / "out-link"})
    assert victim.read_text() == "keep"
    assert box.run([exe], cwd=place).exit_code == 0  # and the server still serves


def test_an_older_sandbox_line_still_parses():
    m = sandbox.parse("exit=0 signal=0 cpu_ms=1 wall_ms=2 rss_kb=3 killed=none leftovers=0 dropped=1\n")
    assert m.cleaned == 0 and m.dropped
