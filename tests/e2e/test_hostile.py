"""Hostile submissions and checkers in real runner pods, through the installed chart.

Containment is proven where it runs: the pod's emptyDirs (0777, no sticky bit), its
/dev/termination-log (0666), its uids, capabilities, limits and network policy; the host differs
(`make test-hostile` runs this file alone). Each attack prints SAFE when everything it tried was
refused, and otherwise what it got: an Accepted verdict is containment, a WrongAnswer's message
names the breach.

The red-team list (README, "Security model"), each tried below:
  forge: rename or replace the judgement's tree, write the termination log, write the build;
  read: the task (presigned URLs), other tests' answers, the runner's environment, /proc of root;
  escalate: capabilities, root, signals to the runner; leave: files in /dev/shm and the scratch,
  SysV shared memory for the next test; exhaust: fill the writable space (ENOSPC, no eviction),
  64 MiB outputs against every checker (the runner stays within its memory), CPU in a helper
  process; network: the API server, the node's API server and kubelet ports, the operator's pod,
  in the submission's first moments; the checker: the same reads from inside a custom checker,
  a checker fork bomb and memory bomb; a thread bomb and a fork bomb at limits.processes 64 (and
  two threads, Accepted with both threads' CPU); file I/O: output.txt a link to the input or the task, a
  FIFO, a directory; interactive: the program hunting the interactor's secret (its argv, files,
  memory) and signalling it; the node cache: another Evaluation's objects (cached) asked for with its
  URL expired, forged, re-pointed or unsigned, the cache as a proxy to the API server or the operator,
  its metrics port; Pod Security: baseline judged, restricted refused at once; several-file
  submissions: archives that climb out (`..`, absolute names), links out (and a file written through
  one), zip and tar bombs, each a CompilationError, through the operator and, with the writable
  space watched, by the runner in a pod of a runner Job's own shape (nothing outside the build).
"""

from __future__ import annotations

import base64
import io
import json
import tarfile
import time
import zipfile
from datetime import timedelta

import pytest

from chart import NAMESPACE, RELEASE, ROOT, apply, wait_all
from gavel_contract import SubmissionFile, Task, TestCase
from gavel_contract.languages import resolve

# both attackers (a submission, a checker) start with this: each step must fail
ATTEMPT = r'''
import ctypes, os, socket, sys

found = []

def attempt(what, fn):
    """`what` must fail; if it works, that is a breach, reported with what it gave."""
    try:
        got = fn()
    except Exception:
        return
    found.append(f"{what}: {str(got)[:60]!r}")
'''

ATTACK = ATTEMPT + r'''
lines = sys.stdin.read().splitlines()
phase = lines[0]
me = os.getpid()
if os.getuid() == 0 or os.geteuid() == 0:
    found.append("runs as root")
status = open("/proc/self/status").read()
for line in status.splitlines():
    if line.startswith(("CapEff:", "CapPrm:", "CapAmb:")) and int(line.split()[1], 16):
        found.append(line.replace("\t", " "))

# the task (every presigned URL), the runner's environment and open files
attempt("read the task", lambda: open("/etc/gavel/task/task.json").read(80))
for pid in filter(str.isdigit, os.listdir("/proc")):
    if int(pid) == me:
        continue
    attempt(f"environ of {pid}", lambda: open(f"/proc/{pid}/environ", "rb").read(80) or 1 / 0)
    attempt(f"cwd of {pid}", lambda: os.listdir(f"/proc/{pid}/cwd"))
    attempt(f"fds of {pid}", lambda: os.listdir(f"/proc/{pid}/fd"))
    attempt(f"signal {pid}", lambda: os.kill(int(pid), 0))

# the private tree: its name leaks through our own stdin, its contents must not
private = os.path.dirname(os.readlink("/proc/self/fd/0"))
work = os.path.dirname(private)
attempt("reopen stdout for reading", lambda: open("/proc/self/fd/1").read(10))
for name in ("1.ans", "2.ans", "3.ans", "2.in", "stdout", "diff", "compile.txt"):
    attempt(f"read {name}", lambda: open(os.path.join(private, name), "rb").read(10))
attempt("list the private tree", lambda: os.listdir(private))
build = os.path.dirname(os.path.realpath(sys.argv[0]))
box = os.path.dirname(build)
for base in (work, box, "/tmp", "/sandbox", os.path.dirname(work), os.path.dirname(box)):
    attempt(f"list {base}", lambda: os.listdir(base))
    attempt(f"create in {base}", lambda: open(os.path.join(base, "planted"), "w"))
    attempt(f"symlink in {base}", lambda: os.symlink("/etc/gavel/task/task.json", os.path.join(base, "l")))
for target in (work, box, private, build):
    attempt(f"rename {target}", lambda: os.rename(target, target + ".moved"))
attempt("write the build", lambda: open(os.path.join(build, "main.py"), "a"))
attempt("add to the build", lambda: open(os.path.join(build, "x"), "w"))
attempt("write the termination log", lambda: open("/dev/termination-log", "w").write('{"verdict":"Accepted"}'))

# what one test leaves for the next
libc = ctypes.CDLL(None, use_errno=True)
if phase == "first":
    open("/dev/shm/left-behind", "w").write("x")
    open("left-in-scratch", "w").write("x")
    libc.shmget(0, 1 << 20, 0o1600)  # IPC_PRIVATE | IPC_CREAT | 0600
elif phase == "second":
    mine = [e for e in os.listdir("/dev/shm") if os.stat(os.path.join("/dev/shm", e)).st_uid == os.getuid()]
    if mine:
        found.append(f"/dev/shm kept {mine}")
    if os.listdir("."):
        found.append(f"scratch kept {os.listdir('.')}")
    # counted by the kernel's own IPC_INFO-style calls: gVisor has no /proc/sysvipc (reading it
    # failed the test there: RuntimeError); SHM_INFO, SEM_INFO, MSG_INFO answer on both kernels
    info = ctypes.create_string_buffer(256)
    for kind, call, at in (("shm", lambda: libc.shmctl(0, 14, info), 0),  # shm_info.used_ids
                           ("sem", lambda: libc.semctl(0, 0, 19, info), 28),  # seminfo.semusz
                           ("msg", lambda: libc.msgctl(0, 12, info), 0)):  # msginfo.msgpool
        if call() < 0:
            found.append(f"SysV {kind}: cannot count ({os.strerror(ctypes.get_errno())})")
        elif int.from_bytes(info.raw[at:at + 4], "little"):
            found.append(f"SysV {kind} left: {int.from_bytes(info.raw[at:at + 4], 'little')}")
elif phase == "fill":
    # the writable space is a size-capped tmpfs: ENOSPC (or the file cap), never an eviction
    total, chunk = 0, b"x" * (1 << 20)
    try:
        for i in range(8):
            with open(f"fill{i}", "wb") as f:
                for _ in range(60):
                    f.write(chunk)
                    total += 1
    except OSError:
        pass
    if total >= 8 * 60:
        found.append(f"wrote {total} MiB without a refusal")

# the network, in the submission's first moments
for line in lines[1:]:
    host, port = line.split()
    attempt(f"connect {host}:{port}", lambda: socket.create_connection((host, int(port)), timeout=1).close() or "open")

print("\n".join(found) if found else "SAFE")
'''

CHECKER_ATTACK = ATTEMPT + r'''
inp, out, ans = sys.argv[1:4]
if os.getuid() == 0:
    found.append("checker runs as root")
for line in open("/proc/self/status").read().splitlines():
    if line.startswith("CapEff:") and int(line.split()[1], 16):
        found.append(line)
attempt("read the task", lambda: open("/etc/gavel/task/task.json").read(80))
here = os.path.dirname(inp)
attempt("other files beside", lambda: sorted(set(os.listdir(here)) - {"input", "output", "answer"}) or 1 / 0)
private = os.path.join(os.path.dirname(here), "private")
attempt("list private", lambda: os.listdir(private))
attempt("read another answer", lambda: open(os.path.join(private, "2.ans")).read())
attempt("write the termination log", lambda: open("/dev/termination-log", "w").write("x"))
attempt("write the answer", lambda: open(ans, "a"))
if found:
    print("; ".join(found))
    sys.exit(1)
sys.exit(0 if open(out).read().split() == open(ans).read().split() else 1)
'''

FORK_BOMB_CHECKER = "#include <unistd.h>\nint main(){for(;;)fork();}\n"
MEMORY_BOMB_CHECKER = ("#include <stdlib.h>\n#include <string.h>\n"
                       "int main(){for(;;){char*p=malloc(1<<20);if(p)memset(p,1,1<<20);}}\n")
# limits.processes: threads up to it, each one's CPU counted; a bomb of either kind at it ends in a
# verdict (the tasks spin on refused creations: their CPU, summed, passes the limit), and a second
# test after it is judged too (the runner survived and nothing of the first was left running)
TWO_THREADS_C = ("#define _GNU_SOURCE\n#include <pthread.h>\n#include <stdio.h>\n#include <time.h>\n"
                 "static void *spin(void *ms){struct timespec t;volatile unsigned long x=0;do{for(int i=0;i<100000;i++)x++;"
                 "clock_gettime(CLOCK_THREAD_CPUTIME_ID,&t);}while(t.tv_sec*1000+t.tv_nsec/1000000<(long)ms);return 0;}\n"
                 "int main(){pthread_t t[2];for(int i=0;i<2;i++)if(pthread_create(&t[i],0,spin,(void*)400L))return 3;"
                 "for(int i=0;i<2;i++)pthread_join(t[i],0);puts(\"3\");return 0;}\n")
THREAD_BOMB_C = ("#include <pthread.h>\n"
                 "static void *bomb(void *a){pthread_t t;for(;;)pthread_create(&t,0,bomb,0);return a;}\n"
                 "int main(){bomb(0);}\n")
FORK_BOMB_C = "#include <unistd.h>\nint main(){for(;;)fork();}\n"
BIG_LINES = 32 * 1024 * 1024  # "1\n" × 32 Mi = 64 MiB: the default output cap exactly
BIG_OUTPUT_C = ('#include <stdio.h>\n#include <string.h>\nint main(){static char b[1<<20];'
                'for(int i=0;i<(1<<20);i+=2)memcpy(b+i,"1\\n",2);'
                'for(int i=0;i<64;i++)fwrite(b,1,sizeof b,stdout);}\n')
# the main process stays quiet until its helper has burnt 1.5 s of CPU (its own /proc stat), then
# answers: only the helper's CPU passes the 1 s limit (deterministic however loaded the node is)
HELPER_BURNS_CPU_JS = r"""
const fs = require('fs');
const child = require('child_process').spawn('/bin/sh', ['-c', 'while :; do :; done'],
                                             {detached: true, stdio: 'ignore'});
child.unref();
const burnt = () => { const f = fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
                      return (Number(f[11]) + Number(f[12])) * 10; };
const wait = () => { if (burnt() >= 1500) { console.log(3); process.exit(0); } setTimeout(wait, 50); };
wait();
"""


# File I/O (spec.fileIO): output.txt is whatever the program leaves; the runner reads it as root.
# Each must be refused without following it: a link to the program's own input (equal to the
# answer: a runner that followed it would accept), to the task, a FIFO (a runner that opened it
# would wait forever), a directory.
FILE_IO_ATTACKS = {
    "fio-symlink-input": ('#include <unistd.h>\nint main(void){return symlink("input.txt","output.txt")?9:0;}\n',
                          "symbolic link"),
    "fio-symlink-task": ('#include <unistd.h>\nint main(void){return symlink("/etc/gavel/task/task.json",'
                         '"output.txt")?9:0;}\n', "symbolic link"),
    "fio-fifo": ('#include <sys/stat.h>\nint main(void){return mkfifo("output.txt",0666)?9:0;}\n',
                 "output.txt is not a regular file"),
    "fio-directory": ('#include <sys/stat.h>\nint main(void){return mkdir("output.txt",0777)?9:0;}\n',
                      "output.txt is not a regular file"),
}
# An interactive problem (examples/problems/guess): the program runs beside the interactor, which
# holds the secret (its input file, named in its argv). The program hunts for it in the files other
# processes name in their cmdline and environ, their open files and memory, and signals every
# process it sees; then it guesses once: what it found, else 50. Every test must fail (the secrets
# are 1, 37, 100) and none may end in the interactor's failure (a program that could kill or stop
# it would turn its loss into an InternalError).
INTERACTIVE_SNOOP = r"""
import os, re, signal, sys
found = []  # numbers read where only the interactor should read
me = os.getpid()
for pid in filter(str.isdigit, os.listdir("/proc")):
    if int(pid) == me:
        continue
    for what in ("cmdline", "environ"):
        try:
            text = open(f"/proc/{pid}/{what}", "rb").read().replace(b"\0", b" ").decode(errors="replace")
        except Exception:
            continue
        for path in re.findall(r"/\S+", text):
            try:
                found += re.findall(r"\b\d{1,3}\b", open(path).read(100))
            except Exception:  # unreadable, or not text
                pass
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            found += re.findall(r"\b\d{1,3}\b", open(f"/proc/{pid}/fd/{fd}").read(100))
    except Exception:
        pass
    try:
        open(f"/proc/{pid}/mem", "rb").read(1)
        print(f"read the memory of {pid}", file=sys.stderr)
    except Exception:
        pass
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        try:
            os.kill(int(pid), sig)
            print(f"signalled {pid}", file=sys.stderr)
        except Exception:
            pass
print(f"found {found[:10]}", file=sys.stderr)
print(next((g for g in found if 1 <= int(g) <= 100), 50), flush=True)  # one guess: 50 is no secret here
"""


# The node cache (cache.enabled) is reachable from the runner pod, so from the submission: with no
# valid presigned URL it must give nothing, whatever it holds. stdin: the cache's URL, the victim's
# secret, the cache pod's metrics address, then `label URL` lines to ask for.
CACHE_ATTACK = ATTEMPT + r"""
import http.client, urllib.parse
lines = sys.stdin.read().splitlines()
cache = urllib.parse.urlsplit(lines[0]).netloc
secret = lines[1].encode()

def ask(url, method="POST", path="/object"):
    conn = http.client.HTTPConnection(cache, timeout=30)
    conn.request(method, path, body=url.encode() if method == "POST" else None)
    resp = conn.getresponse()
    return resp.status, resp.read()

status, _ = ask("not a url")
if status != 403:  # the cache must be reached for the rest to mean anything
    found.append(f"the cache did not answer as expected: {status}")
for line in lines[3:]:
    label, url = line.split(" ", 1)
    def get(url=url):
        status, body = ask(url)
        if status == 200 or secret in body:
            return f"{status} {body[:40]!r}"
        raise PermissionError(status)
    attempt(f"cache gave {label}", get)
def metrics():
    status, body = ask("", "GET", "/metrics")
    if status == 200 or b"gavel_cache" in body:
        return body[:40]
    raise PermissionError(status)
attempt("the cache's metrics through its object port", metrics)
host, port = lines[2].split()
attempt(f"connect the cache's metrics port {host}:{port}",
        lambda: socket.create_connection((host, int(port)), timeout=2).close() or "open")
print("\n".join(found) if found else "SAFE")
"""


# Several-file submissions (issue 16): archives that attack the runner, which reads them as root
# before anything of the submission runs. Each must be the submission's CompilationError naming why,
# with nothing of it written anywhere but the build directory: names climbing out (`..` from the
# build directory to the pod's root, to /tmp and /dev/shm, at every depth) or absolute; links out
# (and a file written through the link), a hard link to a file of the image; zip and tar bombs
# (zeros that deflate a thousandfold: through the operator, a GiB of them, more than the pod's
# memory). Every name an attack tries to leave outside the build holds ESCAPE.
ESCAPE = "gavel-escaped"
MAIN_C = b"int main(){return 0;}\n"
ARCHIVE_ATTACKS = {  # name: (suffix, what the refusal says)
    "climb-zip": ("zip", "leading out"), "climb-tar": ("tar.gz", "leading out"),
    "absolute-zip": ("zip", "absolute path"), "absolute-tar": ("tar.gz", "absolute path"),
    "link-out-zip": ("zip", "symbolic link"), "link-out-tar": ("tar.gz", "symbolic link"),
    "hard-link-tar": ("tar.gz", "hard link"),
    "zip-bomb": ("zip", "more than 4 MiB"), "tar-bomb": ("tar.gz", "more than 4 MiB"),
}


class Zeros(io.RawIOBase):
    """`size` zero bytes, read in pieces (a bomb is never held whole on this host)."""

    def __init__(self, size: int):
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


def zip_of(*members: tuple) -> bytes:
    """(name, bytes | Zeros) or (name, target, "symlink")."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data, *kind in members:
            if kind:  # a symbolic link as Info-ZIP stores one: the mode's type, the target as content
                info = zipfile.ZipInfo(name)
                info.create_system, info.external_attr = 3, 0o120777 << 16
                zf.writestr(info, data)
            elif isinstance(data, Zeros):
                info = zipfile.ZipInfo(name)
                info.compress_type = zipfile.ZIP_DEFLATED
                with zf.open(info, "w", force_zip64=True) as f:
                    while piece := data.read(1 << 20):
                        f.write(piece)
            else:
                zf.writestr(name, data)
    return buf.getvalue()


def tar_of(*members: tuple) -> bytes:
    """(name, bytes | Zeros[, size]) or (name, target, tarfile.SYMTYPE | tarfile.LNKTYPE)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data, *kind in members:
            info = tarfile.TarInfo(name)
            if kind:
                info.type, info.linkname = kind[0], data
                tf.addfile(info)
            else:
                info.size = data.left if isinstance(data, Zeros) else len(data)
                tf.addfile(info, data if isinstance(data, Zeros) else io.BytesIO(data))
    return buf.getvalue()


def archive_attacks(bomb_bytes: int) -> dict[str, bytes]:
    climb = [("../" * depth + where + f"{ESCAPE}-{depth}.c", b"x")
             for where in ("", "tmp/", "dev/shm/", "sandbox/") for depth in range(1, 9)]
    absolute = [(f"{where}/{ESCAPE}-absolute.c", b"x") for where in ("/tmp", "/sandbox", "/dev/shm")]
    through = (f"out/{ESCAPE}-through-link.c", b"x")
    made = {
        "climb-zip": zip_of(("main.c", MAIN_C), *climb), "climb-tar": tar_of(("main.c", MAIN_C), *climb),
        "absolute-zip": zip_of(("main.c", MAIN_C), *absolute), "absolute-tar": tar_of(("main.c", MAIN_C), *absolute),
        "link-out-zip": zip_of(("main.c", MAIN_C), ("out", "/tmp", "symlink"), through),
        "link-out-tar": tar_of(("main.c", MAIN_C), ("out", "/sandbox", tarfile.SYMTYPE), through),
        "hard-link-tar": tar_of(("main.c", MAIN_C), ("passwd", "/etc/passwd", tarfile.LNKTYPE)),
        "zip-bomb": zip_of(("main.c", MAIN_C), ("bomb.h", Zeros(bomb_bytes))),
        "tar-bomb": tar_of(("main.c", MAIN_C), ("bomb.h", Zeros(bomb_bytes))),
    }
    assert set(made) == set(ARCHIVE_ATTACKS)
    return made


# The runner itself in a pod of a runner Job's shape (its securityContext, capabilities, emptyDirs
# and environment, copied from a Job the operator made), judging each attack from local files with
# the writable space watched: /tmp and /sandbox (the pod's emptyDirs, 0777 without the sticky bit
# until the runner takes them) and /dev/shm. What outlives the judgements there (the runner removes
# its own trees), and any ESCAPE name in them or at the root, is a breach. stdout's last line: the report.
ARCHIVE_WALK = r"""
import json, os, shutil, subprocess, sys
config = json.load(open(sys.argv[1]))
here, out, watch, escape = config["here"], config["out"], config["watch"], config["escape"]
os.makedirs(os.path.join(out, "in"), mode=0o700)
for name in os.listdir(here):
    if not name.startswith(".."):  # a ConfigMap volume's own ..data links
        shutil.copyfile(os.path.join(here, name), os.path.join(out, "in", name))

def listing():
    seen = set()
    for top in watch:
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = [d for d in dirnames if os.path.join(dirpath, d) != out]
            seen.update(os.path.join(dirpath, n) for n in dirnames + filenames)
    return seen

before = listing()
runs = {}
for name in config["tasks"]:
    proc = subprocess.run(["gavel-runner", "run", os.path.join(out, "in", f"{name}.task.json"),
                           "--termination-log", os.path.join(out, f"{name}.term")],
                          capture_output=True, text=True, timeout=300)
    try:
        result = json.load(open(os.path.join(out, f"{name}.result.json")))
    except (OSError, ValueError) as err:
        result = {"message": f"no result: {err}"}
    runs[name] = {"exit": proc.returncode, "verdict": result.get("verdict"), "message": result.get("message", "")[:300],
                  "stderr": proc.stderr[-1500:] if proc.returncode else ""}
after = listing()
escaped = sorted(p for p in after if escape in p)
escaped += sorted(os.path.join("/", n) for n in os.listdir("/") if escape in n)
print(json.dumps({"runs": runs, "new": sorted(after - before), "escaped": escaped}))
"""
WALK_REASONS = {**{name: why for name, (_, why) in ARCHIVE_ATTACKS.items()}, "climb-files": "leading out"}


def archive_walk_files(out: str = "/tmp/archive-walk", watch: tuple[str, ...] = ("/tmp", "/sandbox", "/dev/shm"),
                       here: str = "/etc/gavel/task", bomb_bytes: int = 64 << 20) -> dict[str, bytes]:
    """The walk's files (a ConfigMap's, mounted at `here`): the driver, its config, each attack and
    its task (local paths under `out`, where the driver copies them); also the files of a prefix
    (submissionFiles) whose path climbs out. Bombs of 64 MiB: a ConfigMap holds 1 MiB."""
    lang, ver = resolve("c")
    local = f"{out}/in"

    def task(name: str, **submission) -> bytes:
        return Task(id=f"archive-walk/{name}", language=ver, languageName=lang.name, **submission,
                    tests=[TestCase(name="1", input=f"{local}/empty", expected=f"{local}/empty")],
                    result=f"{out}/{name}.result.json").document().encode()

    files = {"driver.py": ARCHIVE_WALK.encode(), "empty": b"", "main.c": MAIN_C}
    for name, data in archive_attacks(bomb_bytes).items():
        suffix = ARCHIVE_ATTACKS[name][0]
        files[f"{name}.{suffix}"] = data
        files[f"{name}.task.json"] = task(name, submission=f"{local}/{name}.{suffix}",
                                          submissionArchive="zip" if suffix == "zip" else "tar")
    files["climb-files.task.json"] = task("climb-files", submissionFiles=[
        SubmissionFile(path="main.c", location=f"{local}/main.c"),
        *[SubmissionFile(path="../" * depth + f"tmp/{ESCAPE}-files-{depth}.c", location=f"{local}/main.c")
          for depth in range(1, 9)]])
    files["config.json"] = json.dumps({"here": here, "out": out, "watch": list(watch), "escape": ESCAPE,
                                       "tasks": list(WALK_REASONS)}).encode()
    return files


def pod_signer(kube):
    """Presigns URLs as the operator does for pods (the MinIO Service's name), with the same keys."""
    import base64
    from minio import Minio

    secret = kube.json("-n", NAMESPACE, "get", "secret", f"{RELEASE}-minio")["data"]
    return Minio(f"{RELEASE}-minio.{NAMESPACE}.svc.cluster.local:9000", secure=False, region="us-east-1",
                 access_key=base64.b64decode(secret["accessKey"]).decode(),
                 secret_key=base64.b64decode(secret["secretKey"]).decode())


def cache_attack(kube, storage, ns: str, victim_ns: str, victim_key: str, secret: str) -> dict:
    """The cache-attack Evaluation: every way to ask the node cache for the victim's (cached) answer
    without a valid URL for it, and to use the cache to reach something else."""
    signer = pod_signer(kube)
    good = signer.presigned_get_object("gavel", victim_key)
    own = storage.put(f"{ns}/hostile/own.txt", "mine\n")["key"]
    expired = signer.presigned_get_object("gavel", victim_key, expires=timedelta(seconds=1))
    base, query = good.split("?", 1)
    svc = kube.json("-n", "default", "get", "service", "kubernetes")["spec"]["clusterIP"]
    operator = next(p for p in kube.json("-n", NAMESPACE, "get", "pods")["items"] if "operator" in p["metadata"]["name"])
    cache_pod = kube.json("-n", NAMESPACE, "get", "pods", "-l", "app.kubernetes.io/name=gavel-cache")["items"][0]
    asks = {
        "expired": expired,  # another Evaluation's URL, past its expiry by the time this runs
        "forged": base + "?" + query[:-64] + "0" * 64,
        "repointed": signer.presigned_get_object("gavel", own).replace(f"/gavel/{own}", f"/gavel/{victim_key}", 1),
        "unsigned": f"{base}?X-Amz-Signature={'0' * 64}",
        "api-server": f"https://{svc}:443/api/v1/secrets?X-Amz-Signature=1",
        "operator": f"http://{operator['status']['podIP']}:8080/metrics?X-Amz-Signature=1",
    }
    stdin = "\n".join([f"http://{RELEASE}-cache.{NAMESPACE}.svc.cluster.local:8090", secret,
                        f"{cache_pod['status']['podIP']} 8091", *(f"{k} {v}" for k, v in asks.items())]) + "\n"
    return storage.evaluation("cache-attack", CACHE_ATTACK, "python", {"1": (stdin, "SAFE\n")},
                              limits={"timeMs": 5000, "wallMs": 60000})


def targets(kube) -> list[str]:
    """What a runner pod must not reach: the API server's Service, the node's API server and
    kubelet, the operator's pod (metrics) in another namespace."""
    svc = kube.json("-n", "default", "get", "service", "kubernetes")["spec"]["clusterIP"]
    node = next(a["address"] for a in kube.json("get", "nodes")["items"][0]["status"]["addresses"]
                if a["type"] == "InternalIP")
    pod = next(p for p in kube.json("-n", NAMESPACE, "get", "pods")["items"] if "operator" in p["metadata"]["name"])
    return [f"{svc} 443", f"{node} 6443", f"{node} 10250", f"{pod['status']['podIP']} 8080"]


def put_bytes(storage, key: str, data: bytes) -> dict:
    storage.client.put_object("gavel", key, io.BytesIO(data), len(data))
    return {"key": key}


def verdicts(obj: dict) -> str:
    st = obj["status"]
    return f"{st.get('phase')} {st.get('verdict')}: {st.get('message')}\n{json.dumps(st.get('tests', []))[:2000]}"


@pytest.fixture(scope="module")
def attacks(kube, storage):
    """Every attack at once (the operator runs up to 8 at a time): name -> finished Evaluation."""
    with kube.scratch_namespace("gavel-e2e-hostile") as ns:
        storage = storage.at(ns)
        net = "\n".join(targets(kube))
        tests = {"1": (f"first\n{net}\n", "SAFE\n"), "2": (f"second\n{net}\n", "SAFE\n"),
                 "3": ("fill\n", "SAFE\n")}
        objs = [storage.evaluation("attack", ATTACK, "python", tests, limits={"timeMs": 5000, "memoryKb": 131072}),
                storage.evaluation("checker-attack", "a, b = map(int, input().split())\nprint(a + b)\n", "python",
                                   {"1": ("1 2\n", "3\n"), "2": ("40 2\n", "42\n")},
                                   checker={"kind": "custom", "language": "python",
                                            "program": storage.put(f"{ns}/hostile/checker.py", CHECKER_ATTACK)}),
                storage.evaluation("helper-burns-cpu", HELPER_BURNS_CPU_JS, "javascript", {"1": ("", "3\n")},
                                   limits={"timeMs": 1000, "wallMs": 60000})]
        for kind, src in (("fork", FORK_BOMB_CHECKER), ("memory", MEMORY_BOMB_CHECKER)):
            objs.append(storage.evaluation(f"checker-{kind}-bomb", "print(3)\n", "python", {"1": ("", "3\n")},
                                           checker={"kind": "custom", "language": "c",
                                                    "program": storage.put(f"{ns}/hostile/{kind}.c", src)}))
        objs.append(storage.evaluation("two-threads", TWO_THREADS_C, "c", {"1": ("", "3\n")},
                                       limits={"timeMs": 5000, "wallMs": 60000}))
        for kind, src in (("thread", THREAD_BOMB_C), ("fork", FORK_BOMB_C)):
            objs.append(storage.evaluation(f"{kind}-bomb", src, "c", {"1": ("", ""), "2": ("", "")},
                                           limits={"timeMs": 1000, "wallMs": 10000, "processes": 64}))
        answer = put_bytes(storage, f"{ns}/hostile/big.ans", b"1\n" * (BIG_LINES - 1) + b"2\n")
        for kind in ("exact", "lines", "tokens", "float"):
            obj = storage.evaluation(f"cap-{kind}", BIG_OUTPUT_C, "c", {"1": ("", "")},
                                     checker={"kind": kind}, limits={"timeMs": 5000})
            obj["spec"]["tests"][0]["expected"] = answer
            objs.append(obj)
        for name, (src, _) in FILE_IO_ATTACKS.items():
            objs.append(storage.evaluation(name, src, "c", {"1": ("3\n", "3\n")},
                                           fileIO={"input": "input.txt", "output": "output.txt"},
                                           limits={"timeMs": 1000, "wallMs": 20000}))
        for name, data in archive_attacks(1 << 30).items():  # through storage, a GiB bomb in about a MiB
            obj = storage.evaluation(f"archive-{name}", "unused\n", "c", {"1": ("", "")})
            obj["spec"]["submission"] = put_bytes(storage, f"{ns}/hostile/{name}.{ARCHIVE_ATTACKS[name][0]}", data)
            objs.append(obj)
        guess = ROOT / "examples" / "problems" / "guess"
        snoop = storage.evaluation("interactive-snoop", INTERACTIVE_SNOOP, "python",
                                   {str(n): (f"{n}\n", f"{n}\n") for n in (1, 37, 100)},
                                   interactor={"language": "python", "program": storage.put(
                                       f"{ns}/hostile/interactor.py", (guess / "interactor.py").read_text())},
                                   limits={"timeMs": 2000, "wallMs": 20000})
        objs.append(snoop)
        with kube.scratch_namespace("gavel-e2e-victim") as victim_ns:
            # another tenant's Evaluation, judged first: its answer is now in the node cache
            secret = f"victim-{time.time_ns()}"
            victim = storage.at(victim_ns).evaluation("victim", "print(0)\n", "python", {"1": ("", f"{secret}\n")})
            apply(kube, victim_ns, [victim])
            wait_all(kube, victim_ns, ["victim"], timeout=300)
            objs.append(cache_attack(kube, storage, ns, victim_ns, victim["spec"]["tests"][0]["expected"]["key"], secret))
            apply(kube, ns, objs)
            names = [o["metadata"]["name"] for o in objs]
            yield ns, wait_all(kube, ns, names, timeout=900)


def test_submission_is_contained_in_its_pod(attacks):
    _, done = attacks
    obj = done["attack"]
    assert obj["status"]["verdict"] == "Accepted", verdicts(obj)


def test_the_node_cache_gives_a_submission_nothing(attacks):
    _, done = attacks
    obj = done["cache-attack"]
    assert obj["status"]["verdict"] == "Accepted", verdicts(obj)


def test_checker_is_sandboxed(attacks):
    _, done = attacks
    obj = done["checker-attack"]
    assert obj["status"]["verdict"] == "Accepted", verdicts(obj)


@pytest.mark.parametrize("kind", ["fork", "memory"])
def test_checker_bomb_is_an_internal_error_naming_the_checker(attacks, kind):
    _, done = attacks
    obj = done[f"checker-{kind}-bomb"]
    st = obj["status"]
    # InternalError: the problem's program failed, not the submission (phase Failed, as any InternalError)
    assert st["verdict"] == "InternalError" and "custom checker failed" in st["message"], verdicts(obj)
    # ended by its limits (the watchdog's words), or once, under load, by a SIGKILL the watchdog did
    # not send (seen once in three runs; cause not found): either way the checker, not the node
    assert "exceeds the limit" in st["message"] or "signal 9" in st["message"], verdicts(obj)


@pytest.mark.parametrize("kind", ["exact", "lines", "tokens", "float"])
def test_output_at_the_cap_is_checked_in_bounded_memory(attacks, kind):
    _, done = attacks
    obj = done[f"cap-{kind}"]
    st = obj["status"]
    # judged (the runner was not OOM-killed), and the difference on the last line found
    assert st["phase"] == "Succeeded" and st["verdict"] == "TestFailed", verdicts(obj)
    assert st["tests"][0]["verdict"] == "WrongAnswer", verdicts(obj)


def test_cpu_of_a_helper_process_counts(attacks):
    _, done = attacks
    obj = done["helper-burns-cpu"]
    test = obj["status"]["tests"][0]
    assert test["verdict"] == "TimeLimitExceeded", verdicts(obj)


def test_two_threads_are_accepted_with_both_threads_cpu(attacks):
    _, done = attacks
    obj = done["two-threads"]
    st = obj["status"]
    assert st["verdict"] == "Accepted", verdicts(obj)
    assert 800 <= st["tests"][0]["cpuTimeMs"] < 2000, verdicts(obj)  # 2 × 400 ms, each thread's own clock


@pytest.mark.parametrize("kind", ["thread", "fork"])
def test_a_bomb_at_processes_64_ends_in_a_verdict(attacks, kind):
    _, done = attacks
    obj = done[f"{kind}-bomb"]
    st = obj["status"]
    # judged (not Failed: the runner was neither starved nor killed), both tests ended by their limits
    assert st["phase"] == "Succeeded" and st["verdict"] == "TestFailed", verdicts(obj)
    for test in st["tests"]:
        assert test["verdict"] in ("TimeLimitExceeded", "RuntimeError", "MemoryLimitExceeded"), verdicts(obj)
        assert test["wallTimeMs"] < 12_000, verdicts(obj)


@pytest.mark.parametrize("name", list(FILE_IO_ATTACKS))
def test_a_file_io_output_is_never_followed_or_opened(attacks, name):
    _, done = attacks
    obj = done[name]
    st = obj["status"]
    assert st["phase"] == "Succeeded" and st["verdict"] == "TestFailed", verdicts(obj)
    test = st["tests"][0]
    assert test["verdict"] == "WrongAnswer" and FILE_IO_ATTACKS[name][1] in test["message"], verdicts(obj)


def test_an_interactive_program_cannot_reach_the_interactor(attacks):
    _, done = attacks
    obj = done["interactive-snoop"]
    st = obj["status"]
    assert st["phase"] == "Succeeded" and st["verdict"] == "TestFailed", verdicts(obj)
    assert [t["verdict"] for t in st["tests"]] == ["WrongAnswer"] * 3, verdicts(obj)


@pytest.mark.parametrize("name", list(ARCHIVE_ATTACKS))
def test_a_hostile_archive_is_a_compilation_error(attacks, name):
    """Through the operator: the archive's key names its format, the runner pod refuses it (a bomb
    within the pod's memory: judged, not OOM-killed and retried)."""
    _, done = attacks
    obj = done[f"archive-{name}"]
    st = obj["status"]
    assert (st["phase"], st["verdict"]) == ("Succeeded", "CompilationError"), verdicts(obj)
    assert ARCHIVE_ATTACKS[name][1] in st["message"], verdicts(obj)


def test_hostile_archives_write_nothing_outside_the_build_in_a_runner_pod(kube, attacks):
    """The runner in a pod shaped as its Job's (copied from the Job the operator made for
    archive-climb-zip), judging every archive attack and a prefix's files whose paths climb out:
    each a CompilationError, the runner exits 0 (judged), and nothing an attack named, nor anything
    else, is left in the pod's writable space."""
    ns, _ = attacks
    made = kube.json("-n", ns, "get", "jobs", "-l", "gavel.dev/evaluation=archive-climb-zip")["items"]
    assert made, "no runner Job of archive-climb-zip to copy the pod's shape from (deleted after its verdict?)"
    pod_spec = json.loads(json.dumps(made[0]["spec"]["template"]["spec"]))
    container = pod_spec["containers"][0]
    task_mount = next(m for m in container["volumeMounts"] if m["name"] == "task")["mountPath"]
    files = archive_walk_files(here=task_mount)
    assert sum(len(v) for v in files.values()) < 900_000, "a ConfigMap holds 1 MiB"
    # created, not applied: apply's last-applied annotation would repeat the files, past its 256 KiB
    kube("-n", ns, "create", "-f", "-", input=json.dumps(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "archive-walk"},
         "binaryData": {k: base64.b64encode(v).decode() for k, v in files.items()}}))
    # the runner's own shape, but not the operator's to follow: none of its labels, no task Secret
    pod_spec["volumes"] = [v if v["name"] != "task" else
                           {"name": "task", "configMap": {"name": "archive-walk", "defaultMode": 0o400}}
                           for v in pod_spec["volumes"]]
    container["command"] = ["python3", f"{task_mount}/driver.py", f"{task_mount}/config.json"]
    pod_spec["activeDeadlineSeconds"] = 600
    kube("-n", ns, "create", "-f", "-", input=json.dumps(
        {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": "archive-walk", "labels": {"app.kubernetes.io/name": "gavel-archive-walk"}},
         "spec": pod_spec}))

    def ended():
        phase = kube.json("-n", ns, "get", "pod", "archive-walk")["status"].get("phase")
        return phase if phase in ("Succeeded", "Failed") else None
    phase = kube.wait_for("the archive walk's pod to end", ended, 600, 2)
    logs = kube.run("-n", ns, "logs", "archive-walk", check=False).stdout
    assert phase == "Succeeded", logs[-3000:]
    report = json.loads(next(line for line in reversed(logs.splitlines()) if line.startswith("{")))
    for name, why in WALK_REASONS.items():
        run = report["runs"][name]
        assert (run["exit"], run["verdict"]) == (0, "CompilationError") and why in run["message"], (name, run)
    assert report["escaped"] == [], report
    assert report["new"] == [], report


@pytest.mark.parametrize("level,judged", [("baseline", True), ("restricted", False)])
def test_pod_security(kube, storage, level, judged):
    with kube.scratch_namespace(f"gavel-e2e-psa-{level}") as ns:
        kube("label", "namespace", ns, f"pod-security.kubernetes.io/enforce={level}", "--overwrite")
        apply(kube, ns, [storage.at(ns).evaluation("psa", "print(3)\n", "python", {"1": ("", "3\n")})])
        start = time.monotonic()
        obj = wait_all(kube, ns, ["psa"], timeout=300)["psa"]
        st = obj["status"]
        if judged:
            assert st["verdict"] == "Accepted", verdicts(obj)
        else:
            assert st["phase"] == "Failed" and "PodSecurity" in st["message"], verdicts(obj)
            assert time.monotonic() - start < 60, "a refused pod must fail the Evaluation at once"
