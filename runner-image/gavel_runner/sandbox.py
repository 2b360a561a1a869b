"""Runs one program through gavel-sandbox (sandbox.c) and parses its measurement."""

from __future__ import annotations

import hashlib
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from gavel_contract import STARVED_FACTOR

SOURCE = Path(__file__).with_name("sandbox.c")


def under_gvisor() -> bool:
    """Whether this runs on gVisor's kernel (a RuntimeClass such as `gvisor`), where gavel-sandbox
    keeps its guarantees another way (docs/gvisor.md): its release is "4.19.0-gvisor"."""
    return "gvisor" in os.uname().release


class SandboxError(RuntimeError):
    """The sandbox itself failed: not the submission's fault."""


class SandboxTimeout(SandboxError):
    """The sandbox did not answer within its run's wall limit and a margin: stopped or hung."""


# How long past a run's wall limit the sandbox may take to answer: it kills the program at the
# wall limit itself, then sweeps the uid and removes what it left (seconds, even for many files);
# a sandbox silent past this is stopped or hung, and is killed rather than left to hold the pod
# until the Job's deadline.
ANSWER_MARGIN_SECONDS = 30.0


@dataclass(frozen=True)
class Measurement:
    exit_code: int | None  # None when killed by a signal
    signal: int | None
    cpu_ms: int
    wall_ms: int
    rss_kb: int
    # none | cpu | wall | starved | memory | processes (gVisor): why the watchdog killed it
    # (starved: waiting for a CPU, not the program, stretched it to STARVED_FACTOR x its wall limit)
    killed: str
    leftovers: int  # rounds of escaped processes the uid sweep had to kill
    dropped: bool  # ran as the unprivileged sandbox uid
    cleaned: int = 0  # files, directories and IPC objects of the uid removed after the run
    end_ms: int = 0  # CLOCK_MONOTONIC at its end (or kill): orders two runs at once
    waited_ms: int = 0  # of wall_ms, what its longest-waiting task spent runnable without a CPU (0: not known)


@dataclass(frozen=True)
class Identity:
    """Who untrusted code runs as: a uid no other process on the node uses."""

    uid: int
    gid: int


@cache
def sandbox_binary() -> str:
    """The gavel-sandbox executable: $GAVEL_SANDBOX, the one the image installs, or compiled
    once from the packaged source into a cache keyed by the source's hash."""
    if os.environ.get("GAVEL_SANDBOX"):
        return os.environ["GAVEL_SANDBOX"]
    installed = shutil.which("gavel-sandbox")
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:16]
    if installed and Path(installed + ".sha").exists() and Path(installed + ".sha").read_text().strip() == digest:
        return installed
    cache_dir = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gavel"
    target = cache_dir / f"gavel-sandbox-{digest}"
    if not target.exists():
        build(target)
    return str(target)


def build(target: Path) -> None:
    """Compile sandbox.c; static when the C library allows, so that its own footprint is tiny."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise SandboxError("gavel-sandbox is not installed and no C compiler is there to build it")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        out = Path(tmp) / "gavel-sandbox"
        for extra in (["-static"], []):
            proc = subprocess.run([cc, "-O2", *extra, "-o", str(out), str(SOURCE)], capture_output=True, text=True)
            if proc.returncode == 0:
                out.chmod(0o755)
                os.replace(out, target)
                return
        raise SandboxError(f"could not compile gavel-sandbox: {proc.stderr.strip()[:500]}")


def _words(
    argv: list[str],
    *,
    cwd: Path,
    stdin: Path | None = None,
    stdout: Path | None = None,
    stderr: Path | None = None,
    identity: Identity | None = None,
    env: dict[str, str] | None = None,
    cpu_ms: int = 0,
    wall_ms: int = 0,
    memory_kb: int = 0,
    address_space_kb: int = 0,
    file_size: int = 0,
    processes: int = 0,
    open_files: int = 256,
    stack_kb: int = 0,
    cleanup_dirs: Iterable[str | Path] = (),
    stdout_first: bool = False,
) -> list[str]:
    """cleanup_dirs: with an identity, the uid's files there are removed after the run (its
    SysV IPC objects always are)."""
    words = ["-d", str(cwd)]
    for flag, path in (("-i", stdin), ("-o", stdout), ("-e", stderr)):
        if path is not None:
            words += [flag, str(path)]
    if identity is not None:
        words += ["-u", str(identity.uid), "-g", str(identity.gid)]
    for key, value in (env or {}).items():
        words += ["-E", f"{key}={value}"]
    for flag, value in (("-t", cpu_ms), ("-w", wall_ms), ("-m", memory_kb), ("-a", address_space_kb),
                        ("-f", file_size), ("-p", processes), ("-n", open_files), ("-s", stack_kb)):
        if value:
            words += [flag, str(value)]
    for d in cleanup_dirs:
        words += ["-c", str(d)]
    if stdout_first:  # the interactor's side of two FIFOs (see sandbox.c)
        words.append("-r")
    return [*words, "--", *argv]


def answer_wall_ms(wall_ms: int = 0, cpu_ms: int = 0) -> int:
    """The wall limit a run's answer is bounded by (STARVED_FACTOR times it: waiting for a CPU
    stretches a run that far): its own, or without one the default wall limit of its CPU limit
    (twice it and a second); 0 when it has neither (then no bound)."""
    return wall_ms or (2 * cpu_ms + 1000 if cpu_ms else 0)


def run(argv: list[str], timeout: float | None = None, **options) -> Measurement:
    """Run one program in a sandbox process of its own (see Server for many); `timeout`: seconds
    before the sandbox is killed (SandboxTimeout)."""
    try:
        proc = subprocess.run([sandbox_binary(), *_words(argv, **options)], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise SandboxTimeout(f"gavel-sandbox did not answer within {timeout:g} s: killed") from None
    if proc.returncode != 0:
        raise SandboxError(proc.stderr.strip() or f"gavel-sandbox exited {proc.returncode}")
    return parse(proc.stdout)


def alive(uid: int) -> list[int]:
    """Processes of `uid` that still run (zombies are dead: nothing reaps them when the runner is
    the pod's first process, and they hold nothing)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry}").st_uid != uid:
                continue
            state = Path(f"/proc/{entry}/stat").read_text().rpartition(")")[2].split()[0]
        except (OSError, IndexError):
            continue
        if state not in ("Z", "X"):
            found.append(int(entry))
    return found


def sweep(identity: Identity, rounds: int = 50) -> None:
    """Kill whatever still runs as `identity`, as that uid (kill(-1) reaches only its own): after
    its sandbox was killed mid-run, a program and what it started live on (gavel-sandbox sweeps
    only the uid of a run it still watches)."""
    for _ in range(rounds):
        if not alive(identity.uid):
            return
        try:
            # kill(-1) signals every process the caller may, itself aside: the uid's own
            subprocess.run(["/bin/sh", "-c", "kill -9 -1"], user=identity.uid, group=identity.gid, extra_groups=[],
                           env={}, cwd="/", stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10, check=False)
        except (OSError, subprocess.SubprocessError):
            return  # the pod ends soon after (the runner is its first process): nothing better to do here
        time.sleep(0.02)


class Server:
    """One gavel-sandbox process in serve mode that runs every program of a judgement:
    a test then costs a fork of a tiny process and an exec, not a fork of Python.

    A watchdog: a run whose answer does not come within STARVED_FACTOR x its wall limit and ANSWER_MARGIN_SECONDS
    (`margin`) ends with SandboxTimeout; the sandbox is killed, and so is everything of the uid
    it ran, and the server refuses every later run (the judgement ends as an InternalError)."""

    margin: float | None = None  # default: ANSWER_MARGIN_SECONDS, read at each run
    _buffer = b""
    _abandoned: str | None = None

    def __init__(self, margin: float | None = None) -> None:
        self.margin = margin
        self.proc = subprocess.Popen([sandbox_binary(), "-S"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def run(self, argv: list[str], **options) -> Measurement:
        if self._abandoned:
            raise SandboxError(f"gavel-sandbox was killed earlier: {self._abandoned}")
        words = _words(argv, **options)
        body = "\0".join(words)
        if body.count("\0") != len(words) - 1:
            raise SandboxError("a NUL byte in a command or path")
        request = f"{len(words)}\n{body}\0".encode()
        wall = answer_wall_ms(options.get("wall_ms", 0), options.get("cpu_ms", 0))
        margin = ANSWER_MARGIN_SECONDS if self.margin is None else self.margin
        try:
            self.proc.stdin.write(request)
            self.proc.stdin.flush()
            bound = STARVED_FACTOR * wall / 1000 + margin
            line = self._readline(time.monotonic() + bound if wall else None)
        except OSError as err:
            raise SandboxError(f"gavel-sandbox is gone: {err}") from None
        if line is None:
            why = (f"gavel-sandbox did not answer within {bound:.0f} s (the run's wall limit of {wall} ms, "
                   f"{STARVED_FACTOR} x for waiting for a CPU, and a margin of {margin:g} s): stopped or hung; killed")
            self.abandon(why, options.get("identity"))
            raise SandboxTimeout(why)
        if not line:
            raise SandboxError(f"gavel-sandbox exited {self.proc.wait()}")
        return parse(line)

    def _readline(self, deadline: float | None) -> str | None:
        """The sandbox's next line ('' at its end), or None when `deadline` passes first. Read
        from the descriptor itself: a buffered reader could hold a line select() never sees."""
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buffer:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([fd], [], [], left)[0]:
                    return None
            chunk = os.read(fd, 4096)
            if not chunk:
                line, self._buffer = self._buffer, b""
                return line.decode()
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode() + "\n"

    def abandon(self, why: str, identity: Identity | None = None) -> None:
        """Kill the sandbox (SIGKILL ends a stopped process too) and what its run left of the uid."""
        self._abandoned = why
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        if identity is not None:
            sweep(identity)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.abandon("did not end when closed")

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def parse(line: str) -> Measurement:
    if line.startswith("error="):
        raise SandboxError(line[len("error="):].strip())
    fields = dict(item.split("=", 1) for item in line.split())
    exit_code = int(fields["exit"])
    signal = int(fields["signal"])
    return Measurement(
        exit_code=None if signal else exit_code,
        signal=signal or None,
        cpu_ms=int(fields["cpu_ms"]),
        wall_ms=int(fields["wall_ms"]),
        rss_kb=int(fields["rss_kb"]),
        killed=fields["killed"],
        leftovers=int(fields["leftovers"]),
        dropped=fields["dropped"] == "1",
        cleaned=int(fields.get("cleaned", 0)),
        end_ms=int(fields.get("end_ms", 0)),
        waited_ms=int(fields.get("waited_ms", 0)),
    )
