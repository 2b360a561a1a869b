"""Runs one program through gavel-sandbox (sandbox.c) and parses its measurement."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

SOURCE = Path(__file__).with_name("sandbox.c")


class SandboxError(RuntimeError):
    """The sandbox itself failed: not the submission's fault."""


@dataclass(frozen=True)
class Measurement:
    exit_code: int | None  # None when killed by a signal
    signal: int | None
    cpu_ms: int
    wall_ms: int
    rss_kb: int
    killed: str  # none | cpu | wall | memory: why the watchdog killed it
    leftovers: int  # rounds of escaped processes the uid sweep had to kill
    dropped: bool  # ran as the unprivileged sandbox uid
    cleaned: int = 0  # files, directories and IPC objects of the uid removed after the run
    end_ms: int = 0  # CLOCK_MONOTONIC at its end (or kill): orders two runs at once


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


def run(argv: list[str], **options) -> Measurement:
    """Run one program in a sandbox process of its own (see Server for many)."""
    proc = subprocess.run([sandbox_binary(), *_words(argv, **options)], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise SandboxError(proc.stderr.strip() or f"gavel-sandbox exited {proc.returncode}")
    return parse(proc.stdout)


class Server:
    """One gavel-sandbox process in serve mode that runs every program of a judgement:
    a test then costs a fork of a tiny process and an exec, not a fork of Python."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sandbox_binary(), "-S"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def run(self, argv: list[str], **options) -> Measurement:
        words = _words(argv, **options)
        body = "\0".join(words)
        if body.count("\0") != len(words) - 1:
            raise SandboxError("a NUL byte in a command or path")
        request = f"{len(words)}\n{body}\0".encode()
        try:
            self.proc.stdin.write(request)
            self.proc.stdin.flush()
            line = self.proc.stdout.readline().decode()
        except OSError as err:
            raise SandboxError(f"gavel-sandbox is gone: {err}") from None
        if not line:
            raise SandboxError(f"gavel-sandbox exited {self.proc.wait()}")
        return parse(line)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(10)

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
    )
