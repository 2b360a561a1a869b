"""The judging engine: fetch, compile once, run every test under limits, check, upload.

Where the files live and who may touch them: workspace.py. The submission runs as one fresh
unprivileged uid, a custom checker as another; the runner (root) never follows by path anything
either could have written.

Scores (gavel_contract.scoring): a test the scorer says need not run is Skipped; a custom checker
may give part of a test's points (Partial). File I/O (task.fileIO): the input is placed in the
program's scratch directory, and the output file it leaves there is what is checked and uploaded.
Interactive problems (task.interactor): the program and the interactor run at once, each in a
sandbox of its own (two uids), talking through two FIFOs in the runner's private directory; the
interactor's exit code and report decide, as a testlib checker's do.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import re
import secrets
import signal
import stat
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

from gavel_contract import (
    CHECKER_LIMITS, CheckerKind, CheckerProtocol, GroupScoring, LanguageVersion, MemoryModel, Result, Stage, SupportFile,
    Task, TestCase, TestResult, TestVerdict, Verdict,
)
from gavel_contract.languages import UnknownLanguage, resolve
from gavel_contract.scoring import Scorer
from gavel_contract.submission import SubmissionRefused

from . import checkers, multifile, sandbox, storage
from .progress import Reporter
from .verdicts import classify
from .workspace import UnsafeDirectory, chown_tree, expose, fresh_dir, seal, secure_base

log = logging.getLogger("gavel.runner")

COMPILE_OUTPUT_SHOWN = 2000  # characters of compiler output in the message
COMPILE_OUTPUT_KEPT = 64 * 1024  # characters kept in the result
SANDBOX_UID_RANGE = (1_000_000, 2_000_000_000)
# world-writable places a uid could leave files in for its next test: emptied of the uid's after each run
SHARED_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm", "/dev/mqueue")


def sandbox_identities(warnings: list[str]) -> tuple[sandbox.Identity | None, sandbox.Identity | None]:
    """Two fresh uids for this judgement, the submission's and the checker's, unused by anything
    else on the node (RLIMIT_NPROC and the leftover sweep count per uid); None, with a warning,
    when we cannot switch users."""
    if os.geteuid() != 0:
        warnings.append(
            f"not running as root: tests run as uid {os.getuid()}, the runner's own user, so they could "
            "read the expected answers and signal the runner; the runner image runs as root and isolates fully"
        )
        return None, None
    fixed = os.environ.get("GAVEL_SANDBOX_UID")
    low, high = SANDBOX_UID_RANGE
    uid = int(fixed) if fixed else secrets.randbelow(high - low - 1) + low
    checker = uid + 1 if fixed else secrets.randbelow(high - low) + low
    while checker == uid:
        checker = secrets.randbelow(high - low) + low
    return sandbox.Identity(uid=uid, gid=uid), sandbox.Identity(uid=checker, gid=checker)


def cleanup_dirs() -> list[str]:
    """The shared places the sandbox uids can write to on this machine (world-writable)."""
    found = []
    for d in dict.fromkeys((*SHARED_WRITABLE, tempfile.gettempdir())):
        try:
            if os.stat(d).st_mode & 0o002:
                found.append(d)
        except OSError:
            pass
    return found


def _read_text(path: Path, limit: int) -> str:
    with open(path, "rb") as f:
        data = f.read(limit + 1)
    text = data[:limit].decode("utf-8", "replace")
    return text + ("\n… (truncated)" if len(data) > limit else "")


def _subst(words: list[str], **values: str) -> list[str]:
    return [w.format(**values) if "{" in w else w for w in words]


def _head(path: Path, limit: int) -> bytes:
    with open(path, "rb") as f:
        return f.read(limit)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "\n… (truncated)"


# a plain decimal number: what `points X` and a score line hold (no inf, nan, hex or underscores)
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_POINTS = re.compile(rb"^[ \t]*points\b[ \t]*(\S*)", re.MULTILINE)
CHECKER_REPORT_READ = 64 * 1024  # bytes of a checker's stdout and stderr searched and shown from
CHECKER_MESSAGE_SHOWN = 500  # characters of its message in the result


def _fraction(word: bytes) -> float | None:
    """A number from a checker's report, or None when it is not one."""
    text = word.decode("ascii", "replace").strip()
    if not _NUMBER.fullmatch(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def _place_input(src: Path, scratch: Path, name: str, owner: tuple[int, int] | None) -> None:
    """A copy of a test's input as `name` in the program's scratch directory, the program's uid's
    own (read and write, as a file it made). Made before it runs: nothing of that uid is alive."""
    dfd = os.open(scratch, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=dfd)
    finally:
        os.close(dfd)
    try:
        if owner:
            os.fchown(fd, *owner)
        with open(src, "rb") as r:
            _copy(r.fileno(), fd, None)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _copy(src: int, dst: int, limit: int | None) -> int:
    """Copy from descriptor to descriptor, at most `limit` bytes; how many were copied."""
    done = 0
    while limit is None or done < limit:
        chunk = os.read(src, 1 << 20 if limit is None else min(1 << 20, limit - done))
        if not chunk:
            break
        view = memoryview(chunk)
        while view:
            view = view[os.write(dst, view):]
        done += len(chunk)
    return done


def _collect_output(scratch: Path, name: str, dest: Path, cap: int,
                    uid: int | None) -> tuple[TestVerdict, str] | None:
    """Copy the file the program left as `name` in its scratch directory to `dest` (root's), or
    say why it is not its output. Run after the program ended and every process of its uid is
    gone, through a descriptor of the directory: a link is never followed, anything but a
    regular file of the program's uid (a FIFO, a device, a socket, a directory, a hard link to
    someone else's file) is refused unopened, and no more than `cap` bytes are read (a larger
    file is OutputLimitExceeded)."""
    dest.unlink(missing_ok=True)
    dfd = os.open(scratch, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        try:
            st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
        except FileNotFoundError:
            return TestVerdict.WRONG_ANSWER, f"no {name} written"
        if stat.S_ISLNK(st.st_mode):
            return TestVerdict.WRONG_ANSWER, f"{name} is a symbolic link (not followed), not an output file"
        if not stat.S_ISREG(st.st_mode):
            return TestVerdict.WRONG_ANSWER, f"{name} is not a regular file"
        if uid is not None and st.st_uid != uid:
            return TestVerdict.WRONG_ANSWER, f"{name} is not a file the program made (a hard link?)"
        if st.st_size > cap:
            return TestVerdict.OUTPUT_LIMIT_EXCEEDED, f"{name} exceeds the limit of {cap // 1024} kB"
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC, dir_fd=dfd)
        except OSError as err:  # cannot happen to a file just seen regular, with nothing of the uid alive
            return TestVerdict.WRONG_ANSWER, f"cannot read {name}: {errno.errorcode.get(err.errno, err.errno)}"
    finally:
        os.close(dfd)
    try:
        now = os.fstat(fd)
        if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino) or not stat.S_ISREG(now.st_mode):
            return TestVerdict.WRONG_ANSWER, f"{name} changed while it was read"
        out = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            copied = _copy(fd, out, cap + 1)
        finally:
            os.close(out)
    finally:
        os.close(fd)
    if copied > cap:
        return TestVerdict.OUTPUT_LIMIT_EXCEEDED, f"{name} exceeds the limit of {cap // 1024} kB"
    return None


KATTIS_PROTOCOLS = (CheckerProtocol.KATTIS, CheckerProtocol.KATTIS_SCORE)
FEEDBACK_FILES = ("judgemessage.txt", "score.txt", "score_multiplier.txt")


class _HeldEnds:
    """The runner's own ends of an interaction's FIFOs, much as problemtools' interactive runner
    (support/interactive) holds them. Both ends of the program's input: the validator writing to a
    program that has ended gets no SIGPIPE, and the program reads the end of its input only once
    the runner has seen the validator's run end (so a program that dies of that end is known to
    have ended second). The read end of the program's output once the validator has accepted: a
    program writing on is not killed by SIGPIPE. (The program's output is not held from the start:
    the program's sandbox opening it must wait for the validator's sandbox, so that both start
    only once every end is open, see sandbox.c.)"""

    def __init__(self, to_program: Path | None = None, from_program: Path | None = None):
        self.fds: dict[str, int] = {}
        self.lock = threading.Lock()
        self.from_program = from_program
        if to_program is None:
            return
        self.fds["to-program-r"] = os.open(to_program, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        self.fds["to-program-w"] = os.open(to_program, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)

    def hold_program_output(self) -> None:
        if self.from_program is not None:
            fd = os.open(self.from_program, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            with self.lock:
                self.fds["from-program-r"] = fd

    def close(self, name: str) -> None:
        with self.lock:
            fd = self.fds.pop(name, None)
        if fd is not None:
            os.close(fd)

    def close_all(self) -> None:
        for name in list(self.fds):
            self.close(name)


def _feedback_dir(scratch: Path, uid: int, gid: int) -> Path:
    """A kattis validator's feedback directory, `feedback` in its fresh scratch directory, its uid's.
    Made before it runs (nothing of that uid is alive), through a descriptor of the scratch directory."""
    dfd = os.open(scratch, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        os.mkdir("feedback", 0o700, dir_fd=dfd)
        if os.geteuid() == 0:
            os.chown("feedback", uid, gid, dir_fd=dfd, follow_symlinks=False)
    finally:
        os.close(dfd)
    return scratch / "feedback"


def _feedback_files(feedback: Path, uid: int | None) -> dict[str, bytes]:
    """The feedback files a validator left (FEEDBACK_FILES, the first CHECKER_REPORT_READ bytes of
    each), read after it ended and every process of its uid is gone, through descriptors: a link is
    never followed, anything but a regular file of the validator's uid is ignored."""
    found: dict[str, bytes] = {}
    try:
        dfd = os.open(feedback, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return found  # replaced by the validator: it reported nothing there
    try:
        for name in FEEDBACK_FILES:
            try:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC,
                             dir_fd=dfd)
            except OSError:
                continue
            try:
                st = os.fstat(fd)
                if stat.S_ISREG(st.st_mode) and (uid is None or st.st_uid == uid):
                    found[name] = os.read(fd, CHECKER_REPORT_READ)
            finally:
                os.close(fd)
    finally:
        os.close(dfd)
    return found


class Judgement:
    """One task judged in two private directory trees (see workspace.py)."""

    def __init__(self, task: Task, work: Path, box_root: Path, box: sandbox.Server,
                 interactor_box: sandbox.Server | None = None, progress: Reporter | None = None):
        self.task = task
        self.progress = progress or Reporter(task.model_copy(update={"progress": None}))
        self.box = box
        self.interactor_box = interactor_box  # a second sandbox server: the interactor runs beside the program
        self.lang: LanguageVersion = task.language
        self.work = work
        self.private = work / "private"
        self.check_dir = work / "check"
        self.build = box_root / "build"
        self.scratch = box_root / "run"
        self.checker_build = box_root / "checker"
        self.checker_scratch = box_root / "checker-run"
        self.warnings: list[str] = []
        self.identity, self.checker_identity = sandbox_identities(self.warnings)
        self.cleanup = cleanup_dirs()
        self.checker_argv: list[str] | None = None
        self.checker_env: dict[str, str] = {"PATH": "/usr/bin:/bin"}
        self.checker_processes = 1
        self.interactor_build = box_root / "interactor"
        self.interactor_argv: list[str] | None = None
        self.interactor_env: dict[str, str] = {"PATH": "/usr/bin:/bin"}
        self.interactor_processes = 1
        self.diff = self.private / "diff"
        file_io = task.file_io
        self.input_file = file_io.input if file_io else None  # the program reads this file, not stdin
        self.output_file = file_io.output if file_io else None  # the program writes this file, not stdout
        # what is checked and uploaded as the test's stdout: the program's stdout, or its output file
        self.output = self.private / ("output" if self.output_file else "stdout")
        self.stdout, self.stderr = self.private / "stdout", self.private / "stderr"
        self.programs: dict[tuple[int, Path], tuple[list[str], dict[str, str], int]] = {}  # _program's answers
        self.inputs: dict[str, Path] = {}  # test name -> its input, fetched or local
        self.answers: dict[str, Path] = {}
        self.upload_error: storage.StorageError | None = None
        self.plan: multifile.Plan | None = None  # a submission of several files

    def _ids(self, identity: sandbox.Identity | None) -> tuple[int, int]:
        return (identity.uid, identity.gid) if identity else (os.getuid(), os.getgid())

    # --- steps -----------------------------------------------------------------------------

    def prepare(self) -> None:
        self.work.chmod(0o711)
        self.build.parent.chmod(0o711)
        self.private.mkdir(mode=0o700)
        self.build.mkdir(mode=0o700)
        if self.task.several_files:  # SubmissionRefused: the submission's CompilationError
            self.plan = multifile.plan(self.task, multifile.gather(self.task))
            self.lang = self.plan.language
            multifile.write(self.plan.files, self.build)
        else:
            storage.fetch(self.task.submission, self.build / self.lang.source_file)
        cache = storage.NodeCache(self.task.node_cache)  # inputs and answers: the problem's, shared
        dirs: dict[str, str] = {}
        for test in self.task.tests:
            self.inputs[test.name] = cache.obtain(test.input, self.private / f"{test.name}.in", dirs)
            self.answers[test.name] = cache.obtain(test.expected, self.private / f"{test.name}.ans", dirs)
        if cache.outcomes:
            log.info("tests through the node cache: %s", ", ".join(f"{n} {k}" for k, n in sorted(cache.outcomes.items())))
        if self.identity:
            chown_tree(self.build, self.identity.uid, self.identity.gid)

    def _compile(self, version: LanguageVersion, build: Path, log_file: Path,
                 identity: sandbox.Identity | None) -> sandbox.Measurement:
        limits = version.compile_limits
        env = {k: v.format(build=str(build)) for k, v in version.env.items()}
        env.setdefault("HOME", str(build))
        env.setdefault("TMPDIR", str(build))  # not /tmp: nothing of a compile may outlive it elsewhere
        return self.box.run(
            _subst(version.compile, build=str(build)), cwd=build, stdout=log_file, stderr=log_file,
            identity=identity, env=env, cpu_ms=limits.time_ms, wall_ms=limits.wall_limit_ms,
            memory_kb=limits.memory_kb, file_size=256 << 20, processes=version.compile_processes,
            stack_kb=65536, cleanup_dirs=self.cleanup,
        )

    def compile(self) -> tuple[bool, str]:
        """Compile once; (ok, compiler output)."""
        out = self.private / "compile.txt"
        if not self.lang.compile:
            out.write_bytes(b"")
            return True, ""
        m = self._compile(self.lang, self.build, out, self.identity)
        if self.identity:
            seal(self.build)
        text = _read_text(out, COMPILE_OUTPUT_KEPT)
        verdict, why = classify(m, self.lang.compile_limits, 0)
        if verdict is None and any("{entry}" in w for w in self.lang.run):
            try:  # JVM: the program is the one class with main, read from what the compiler wrote
                main = multifile.find_main_class(self.build)
            except SubmissionRefused as err:
                return False, f"{err}\n{text}".strip()
            self.lang = self.lang.model_copy(update={"run": [w.replace("{entry}", main) for w in self.lang.run]})
        if verdict is None:
            return True, text
        if verdict == TestVerdict.RUNTIME_ERROR:
            why = f"compiler failed ({why})"
        else:
            why = f"compilation stopped: {why}"
        return False, f"{why}\n{text}".strip()

    def prepare_checker(self) -> None:
        """A custom checker: fetched, compiled when it is a source, run as `checker input output
        answer` under a uid of its own that can read that test's three files and nothing else."""
        checker = self.task.checker
        if checker.kind != CheckerKind.CUSTOM or self.task.interactor:  # an interactor decides alone
            return
        self.checker_argv, self.checker_env, self.checker_processes = self._prepare_program(
            "custom checker", checker.program, checker.language, self.checker_build, checker.files)

    def prepare_interactor(self) -> None:
        """An interactive problem's interactor: like a custom checker, under the checker's uid."""
        interactor = self.task.interactor
        if interactor is None:
            return
        self.interactor_argv, self.interactor_env, self.interactor_processes = self._prepare_program(
            "interactor", interactor.program, interactor.language, self.interactor_build, interactor.files)

    def _prepare_program(self, what: str, location: str, language: str | None, cdir: Path,
                         files: list[SupportFile] = ()) -> tuple[list[str], dict[str, str], int]:
        """The problem's own program (checker, interactor): fetched with its support files (a
        testlib.h beside the source), compiled when a source, sealed to the checker uid; its argv,
        environment and process limit."""
        cdir.mkdir(mode=0o700)
        ident = self.checker_identity
        argv, env, processes = [], {"PATH": "/usr/bin:/bin"}, 1
        for extra in files:
            storage.fetch(extra.location, cdir / extra.name)
        if not language:
            storage.fetch(location, cdir / "program")
            (cdir / "program").chmod(0o700)
            argv = [str(cdir / "program")]
        else:
            _, ver = resolve(language)
            storage.fetch(location, cdir / ver.source_file)
            if ident:
                chown_tree(cdir, ident.uid, ident.gid)
            if ver.compile:
                log_file = self.private / f"{cdir.name}-compile.txt"
                m = self._compile(ver, cdir, log_file, ident)
                verdict, why = classify(m, ver.compile_limits, 0)
                if verdict is not None:
                    raise CheckerFailure(f"{what} does not compile ({why}):\n{_read_text(log_file, 2000)}")
            argv = _subst(ver.run, build=str(cdir))
            env = {k: v.format(build=str(cdir)) for k, v in ver.env.items()}
            processes = ver.processes
        if ident:
            seal(cdir, gid=ident.gid, others=False)  # the submission's uid may not even read it
        return argv, env, processes

    def run_test(self, test: TestCase) -> TestResult:
        if self.task.interactor is not None:
            return self.run_interactive(test)
        limits = test.limits
        uid, gid = self._ids(self.identity)
        scratch = fresh_dir(self.scratch, uid, gid)
        stdin: Path | None = self.inputs[test.name]
        if self.input_file:
            _place_input(stdin, scratch, self.input_file, (uid, gid) if self.identity else None)
            stdin = None  # /dev/null
        lang = self.lang
        argv, env, as_kb = self._program(limits, scratch)
        out, err = self.stdout, self.stderr
        _remove(self.diff)
        if self.output_file:
            self.output.unlink(missing_ok=True)
        m = self.box.run(
            argv, cwd=scratch, stdin=stdin, stdout=out, stderr=err,
            identity=self.identity, env=env, cpu_ms=limits.time_ms, wall_ms=limits.wall_limit_ms,
            memory_kb=limits.memory_kb, address_space_kb=as_kb, file_size=limits.output_kb * 1024 + 1,
            processes=limits.processes or lang.processes, stack_kb=limits.memory_kb, cleanup_dirs=self.cleanup,
        )
        if m.leftovers:
            self.warnings.append(f"test {test.name}: killed processes the submission left running")
        verdict, message = classify(m, limits, out.stat().st_size)
        if verdict == TestVerdict.RUNTIME_ERROR and self.runtime_refused_memory(m, (out, err)):
            verdict, message = TestVerdict.MEMORY_LIMIT_EXCEEDED, (
                f"the runtime refused an allocation at its heap limit ({limits.memory_kb // 1024} MB)")
        if self.output_file:  # collected whatever the verdict: uploaded as the test's stdout
            refused = _collect_output(scratch, self.output_file, self.output, limits.output_kb * 1024,
                                      uid if self.identity else None)
            if verdict is None and refused:
                verdict, message = refused
        score = None
        if verdict is None:
            verdict, message, score = self.check(test)
        result = TestResult(
            name=test.name, verdict=verdict, cpuTimeMs=m.cpu_ms, wallTimeMs=m.wall_ms, memoryKb=m.rss_kb,
            exitCode=m.exit_code, signal=m.signal, message=message, score=score,
        )
        self.deliver(test, result)
        return result

    def _program(self, limits, scratch: Path) -> tuple[list[str], dict[str, str], int]:
        """The submission's argv, environment and address-space limit for one run (the same for
        every test of one memory limit: made once; nothing changes them)."""
        if made := self.programs.get((limits.memory_kb, scratch)):
            return made
        lang = self.lang
        argv = _subst(lang.run, build=str(self.build))
        if lang.memory_args:
            argv[1:1] = _subst(lang.memory_args, memoryMb=str(max(limits.memory_kb // 1024, 1)))
        env = {k: v.format(build=str(self.build)) for k, v in lang.env.items()}
        env.setdefault("HOME", str(scratch))
        env.setdefault("TMPDIR", str(scratch))
        as_kb = 4 * limits.memory_kb + lang.address_space_grace_kb if lang.memory_model == MemoryModel.ADDRESS_SPACE else 0
        self.programs[(limits.memory_kb, scratch)] = argv, env, as_kb
        return argv, env, as_kb

    def run_interactive(self, test: TestCase) -> TestResult:
        """The program and the interactor at once, each one's stdout the other's stdin (two FIFOs
        only root can open: each sandbox opens its ends before dropping to its uid, in opposite
        orders, so both programs start only once every end is open: see sandbox.c)."""
        limits, lang = test.limits, self.lang
        uid, gid = self._ids(self.identity)
        scratch = fresh_dir(self.scratch, uid, gid)
        argv, env, as_kb = self._program(limits, scratch)
        iuid, igid = self._ids(self.checker_identity)
        files = expose({"input": self.inputs[test.name], "answer": self.answers[test.name]}, self.check_dir, igid)
        iscratch = fresh_dir(self.checker_scratch, iuid, igid)
        pipes = self.private / "pipes"
        pipes.mkdir(mode=0o700, exist_ok=True)
        to_program, from_program = pipes / "to-program", pipes / "from-program"
        for fifo in (to_program, from_program):
            fifo.unlink(missing_ok=True)
            os.mkfifo(fifo, 0o600)
        err, report = self.private / "stderr", self.private / "interactor-stderr"
        self.diff.unlink(missing_ok=True)
        ilim = CHECKER_LIMITS
        iwall = max(ilim.wall_limit_ms, limits.wall_limit_ms + 1000)  # outlives the program: sees its end

        def unblock(_=None) -> None:
            """One side's sandbox failed before opening its ends: open them here so that the other's
            blocking opens return (it then reads EOF or writes into a closed pipe, and ends)."""
            for fifo in (to_program, from_program):
                try:
                    os.close(os.open(fifo, os.O_RDWR | os.O_NONBLOCK))
                except OSError:
                    pass

        kattis = self.task.interactor.protocol in KATTIS_PROTOCOLS
        iargv = [*self.interactor_argv, str(files["input"]), str(files["answer"])]
        if kattis:  # the problem package format: a feedback directory, then the test's arguments
            feedback = _feedback_dir(iscratch, iuid, igid)
            iargv += [f"{feedback}/", *test.checker_args]
        # held for every protocol: a testlib interactor replying to a program that has just exited
        # would otherwise write into a pipe without readers (EPIPE: Python's BrokenPipeError, exit
        # 120), an InternalError where the program's early end is its own wrong answer
        held = _HeldEnds(to_program, from_program)
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(
                self.interactor_box.run, iargv,
                cwd=iscratch, stdin=from_program, stdout=to_program, stderr=report,
                identity=self.checker_identity, env={"HOME": str(iscratch), "TMPDIR": str(iscratch),
                                                     **self.interactor_env},
                cpu_ms=ilim.time_ms, wall_ms=iwall, memory_kb=ilim.memory_kb, file_size=ilim.output_kb * 1024,
                processes=self.interactor_processes, stack_kb=65536, cleanup_dirs=self.cleanup, stdout_first=True)
            pending.add_done_callback(lambda f: f.exception() and unblock())
            ended = threading.Event()
            stopper = None
            stopped: list[bool] = []  # the validator rejected while the program ran on, which was stopped
            stopper = threading.Thread(target=self._after_validator, args=(pending, ended, held, stopped, kattis),
                                       daemon=True)
            stopper.start()
            try:
                m = self.box.run(argv, cwd=scratch, stdin=to_program, stdout=from_program, stderr=err,
                                 identity=self.identity, env=env, cpu_ms=limits.time_ms,
                                 wall_ms=limits.wall_limit_ms, memory_kb=limits.memory_kb, address_space_kb=as_kb,
                                 file_size=limits.output_kb * 1024 + 1, processes=limits.processes or lang.processes,
                                 stack_kb=limits.memory_kb, cleanup_dirs=self.cleanup)
            except sandbox.SandboxError:
                unblock()
                raise
            finally:
                ended.set()
                if stopper is not None:
                    stopper.join()  # done before anything of the next test runs as the uid
            im = pending.result()
        held.close_all()
        if m.leftovers:
            self.warnings.append(f"test {test.name}: killed processes the submission left running")
        verdict, message = classify(m, limits, 0)
        if verdict == TestVerdict.RUNTIME_ERROR and self.runtime_refused_memory(m, (err,)):
            verdict, message = TestVerdict.MEMORY_LIMIT_EXCEEDED, (
                f"the runtime refused an allocation at its heap limit ({limits.memory_kb // 1024} MB)")
        said = _head(report, CHECKER_REPORT_READ)
        imessage = _clip(said.decode("utf-8", "replace").strip(), CHECKER_MESSAGE_SHOWN)
        failed = f"interactor failed on test {test.name}"
        limit_verdict, why = classify(im, ilim.model_copy(update={"wall_ms": iwall}), 0)
        if limit_verdict not in (None, TestVerdict.RUNTIME_ERROR):
            raise CheckerFailure(f"{failed}: {why}")
        if kattis:
            outcome = self._kattis(test, im.exit_code, im.signal, feedback, imessage, failed)
            score = None
            # it rejected first: that is the verdict. Known by cause, not by the two sandboxes' clocks
            # (under load either may stamp late): the program still ran when the validator's run came
            # back (then it was stopped; it could not have read the end of its input, which the runner
            # holds until then), or it was killed by SIGPIPE (it wrote to a validator that had stopped
            # reading). Without a uid of its own to stop, the clocks, as for testlib interactors below.
            if self.identity is not None:  # stopped: killed by that SIGKILL, not by its own limits or end
                first = (bool(stopped) and m.killed == "none" and m.signal == signal.SIGKILL) or \
                    m.signal == signal.SIGPIPE
            else:
                first = m.signal == signal.SIGPIPE or (
                    im.end_ms < m.end_ms and (m.killed == "none" or im.end_ms + 100 < m.end_ms))
            if outcome[0] == TestVerdict.WRONG_ANSWER and first:
                verdict, message = outcome[0], outcome[1]
            elif verdict is None:
                verdict, message, score = outcome
            result = TestResult(
                name=test.name, verdict=verdict, cpuTimeMs=m.cpu_ms, wallTimeMs=m.wall_ms, memoryKb=m.rss_kb,
                exitCode=m.exit_code, signal=m.signal, message=message, score=score)
            self.deliver(test, result)
            return result
        outcome = self._testlib(im.exit_code, im.signal, said, b"", imessage, failed)
        # out of wall time, not CPU, after the interactor had ended: it waited on an interactor that
        # had given its verdict (one that ended after the program was killed was waiting on it). Their
        # ends, not their wall times, say which came first: the two clocks start at different moments
        # (under load the program's sandbox may start well before the interactor's); 100 ms for each
        # sandbox to see its child end: within it, the program's own time limit decides.
        waited = (verdict == TestVerdict.TIME_LIMIT_EXCEEDED and m.cpu_ms <= limits.time_ms
                  and im.end_ms + 100 < m.end_ms)
        score = None
        if verdict is not None and verdict != TestVerdict.RUNTIME_ERROR and not waited:
            pass  # its own CPU, memory or output past the limit: the program's verdict first
        elif outcome[0] == TestVerdict.WRONG_ANSWER:
            verdict, message = outcome[0], outcome[1]  # a program killed waiting on a rejecting interactor
        elif verdict is None:
            verdict, message, score = outcome
        result = TestResult(
            name=test.name, verdict=verdict, cpuTimeMs=m.cpu_ms, wallTimeMs=m.wall_ms, memoryKb=m.rss_kb,
            exitCode=m.exit_code, signal=m.signal, message=message, score=score,
        )
        self.deliver(test, result)
        return result

    def _after_validator(self, pending, ended: threading.Event, held: "_HeldEnds", stopped: list[bool],
                         kattis: bool = True) -> None:
        """When an interactor ends: the program may now read the end of its input; and if a kattis
        validator rejected (exit 43) while the program runs, that is the verdict, and what runs as the program's
        uid is killed (as that uid: kill(-1) reaches its own processes only) rather than left to spin
        or wait until its limit."""
        try:
            im = pending.result()
        except Exception:  # noqa: BLE001 - the main thread sees it
            held.close("to-program-w")
            return
        if not kattis:
            pass
        elif im.exit_code == 43 and not ended.is_set() and self.identity is not None and \
                sandbox.alive(self.identity.uid):
            stopped.append(True)
            sandbox.sweep(self.identity)
        elif im.exit_code == 42:
            held.hold_program_output()
        held.close("to-program-w")

    def _testlib(self, exit_code: int | None, signal: int | None, said_err: bytes, said_out: bytes,
                 message: str, failed: str) -> tuple[TestVerdict, str, float | None]:
        """A testlib program's verdict: exit 0 accepts, 1 or 2 rejects, 7 with `points X` gives X."""
        if exit_code == 0:
            return TestVerdict.PASSED, message, None
        if exit_code in (1, 2):  # testlib: _wa, _pe
            self.diff.write_text(message + "\n")
            return TestVerdict.WRONG_ANSWER, message, None
        if exit_code == 7:  # testlib: quitp, `points X` on stderr (or stdout)
            found = _POINTS.search(said_err) or _POINTS.search(said_out)
            value = _fraction(found.group(1)) if found else None
            if value is None:
                raise CheckerFailure(f"{failed}: exit 7 (partial points) without `points X`, X a number "
                                     f"from 0 to 1, on its stderr or stdout: {message}")
            return self._scored(value, message)
        raise CheckerFailure(f"{failed} (exit {exit_code}, signal {signal}): {message}")

    def deliver(self, test: TestCase, result: TestResult) -> None:
        """Upload this test's outputs now, so that the next test can reuse the files. After
        one failed upload, none is tried: the judgement ends as an InternalError naming it."""
        if self.upload_error or not (test.stdout or test.stderr or test.diff):
            return
        for field, path in (("stdout", self.output), ("stderr", self.stderr), ("diff", self.diff)):
            location = getattr(test, field)
            if location and path.exists():
                try:
                    storage.store(location, path)
                except storage.StorageError as err:
                    self.upload_error = err
                    return
                setattr(result, field, storage.redact(location))

    def runtime_refused_memory(self, m: sandbox.Measurement, outputs: tuple[Path, Path]) -> bool:
        """The runtime's own heap limit refused an allocation: its exit code and its words, at
        the end of stdout or stderr (HotSpot prints them on stdout)."""
        lang = self.lang
        if lang.out_of_memory_exit_code is None or m.exit_code != lang.out_of_memory_exit_code:
            return False
        if not lang.out_of_memory_message:
            return True
        for path in outputs:
            with open(path, "rb") as f:
                f.seek(max(0, path.stat().st_size - 4096))
                if lang.out_of_memory_message.encode() in f.read():
                    return True
        return False

    def check(self, test: TestCase) -> tuple[TestVerdict, str, float | None]:
        """The checker's verdict, message and, for a Partial, the fraction of the points given."""
        out, ans = self.output, self.answers[test.name]
        if self.checker_argv is None:
            outcome = checkers.check_files(self.task.checker, out, ans, test.checker_args)
            if not outcome.accepted:
                self.diff.write_text(outcome.diff)
            return (TestVerdict.PASSED if outcome.accepted else TestVerdict.WRONG_ANSWER), outcome.message, None
        if self.task.checker.protocol in KATTIS_PROTOCOLS:
            return self.check_kattis(test)
        uid, gid = self._ids(self.checker_identity)
        files = expose({"input": self.inputs[test.name], "output": out, "answer": ans}, self.check_dir, gid)
        report_out, report_err = self.private / "checker-stdout", self.private / "checker-stderr"
        argv = [*self.checker_argv, str(files["input"]), str(files["output"]), str(files["answer"])]
        scratch = fresh_dir(self.checker_scratch, uid, gid)
        lim = CHECKER_LIMITS
        m = self.box.run(argv, cwd=scratch, stdout=report_out, stderr=report_err, identity=self.checker_identity,
                         env={"HOME": str(scratch), "TMPDIR": str(scratch), **self.checker_env},
                         cpu_ms=lim.time_ms, wall_ms=lim.wall_limit_ms, memory_kb=lim.memory_kb,
                         file_size=lim.output_kb * 1024, processes=self.checker_processes,
                         stack_kb=65536, cleanup_dirs=self.cleanup)
        said_out, said_err = _head(report_out, CHECKER_REPORT_READ), _head(report_err, CHECKER_REPORT_READ)
        score_line = self.task.checker.protocol == CheckerProtocol.SCORE_LINE
        first, _, rest = said_out.partition(b"\n")
        shown = [said_err, rest if score_line else said_out]
        message = _clip("\n".join(t.decode("utf-8", "replace").strip() for t in shown if t.strip()),
                        CHECKER_MESSAGE_SHOWN)
        failed = f"custom checker failed on test {test.name}"
        limit_verdict, why = classify(m, lim, 0)
        if limit_verdict not in (None, TestVerdict.RUNTIME_ERROR):
            raise CheckerFailure(f"{failed}: {why}")
        if score_line:
            if m.exit_code != 0:
                raise CheckerFailure(f"{failed} (exit {m.exit_code}, signal {m.signal}; the score-line "
                                     f"protocol wants exit 0): {message}")
            value = _fraction(first)
            if value is None or not 0 <= value <= 1:
                raise CheckerFailure(f"{failed}: the first line of its stdout must be a score from 0 to 1, "
                                     f"not {_clip(first.decode('utf-8', 'replace'), 60)!r}")
            return self._scored(value, message)
        return self._testlib(m.exit_code, m.signal, said_err, said_out, message, failed)

    def check_kattis(self, test: TestCase) -> tuple[TestVerdict, str, float | None]:
        """An output validator of the problem package format: run as `validator input answer
        feedback_dir/ [args] < output` under the checker's uid, which may read that test's input and
        answer and write its own feedback directory; exit 42 accepts, 43 rejects."""
        uid, gid = self._ids(self.checker_identity)
        files = expose({"input": self.inputs[test.name], "answer": self.answers[test.name]}, self.check_dir, gid)
        report_out, report_err = self.private / "checker-stdout", self.private / "checker-stderr"
        scratch = fresh_dir(self.checker_scratch, uid, gid)
        feedback = _feedback_dir(scratch, uid, gid)
        argv = [*self.checker_argv, str(files["input"]), str(files["answer"]), f"{feedback}/", *test.checker_args]
        lim = CHECKER_LIMITS
        m = self.box.run(argv, cwd=scratch, stdin=self.output, stdout=report_out, stderr=report_err,
                         identity=self.checker_identity,
                         env={"HOME": str(scratch), "TMPDIR": str(scratch), **self.checker_env},
                         cpu_ms=lim.time_ms, wall_ms=lim.wall_limit_ms, memory_kb=lim.memory_kb,
                         file_size=lim.output_kb * 1024, processes=self.checker_processes,
                         stack_kb=65536, cleanup_dirs=self.cleanup)
        said = [_head(report_err, CHECKER_REPORT_READ), _head(report_out, CHECKER_REPORT_READ)]
        message = _clip("\n".join(t.decode("utf-8", "replace").strip() for t in said if t.strip()),
                        CHECKER_MESSAGE_SHOWN)
        failed = f"output validator failed on test {test.name}"
        limit_verdict, why = classify(m, lim, 0)
        if limit_verdict not in (None, TestVerdict.RUNTIME_ERROR):
            raise CheckerFailure(f"{failed}: {why}")
        return self._kattis(test, m.exit_code, m.signal, feedback, message, failed)

    def _kattis(self, test: TestCase, exit_code: int | None, signal: int | None, feedback: Path, said: str,
                failed: str) -> tuple[TestVerdict, str, float | None]:
        """A kattis validator's verdict: exit 42 accepts, 43 rejects, anything else is its failure; its
        judgemessage.txt (else what it printed) is the message; with kattis-score, score.txt (points,
        at most the test's) or score_multiplier.txt (a fraction) scores an accepted test."""
        feedback_files = _feedback_files(feedback, self.checker_identity.uid if self.checker_identity else None)
        judged = feedback_files.get("judgemessage.txt")
        message = _clip(judged.decode("utf-8", "replace").strip(), CHECKER_MESSAGE_SHOWN) if judged else said
        if exit_code == 43:
            self.diff.write_text(message + "\n")
            return TestVerdict.WRONG_ANSWER, message, None
        if exit_code != 42:
            raise CheckerFailure(f"{failed} (exit {exit_code}, signal {signal}; a validator exits 42 to accept, "
                                 f"43 to reject): {message or said}")
        protocol = (self.task.interactor.protocol if self.task.interactor else self.task.checker.protocol)
        most = self._score_max(test)
        if protocol != CheckerProtocol.KATTIS_SCORE or not most:
            return TestVerdict.PASSED, message, None
        score, multiplier = feedback_files.get("score.txt"), feedback_files.get("score_multiplier.txt")
        if score is not None and multiplier is not None:
            raise CheckerFailure(f"{failed}: it wrote both score.txt and score_multiplier.txt")
        if score is None and multiplier is None:
            return TestVerdict.PASSED, message, None
        value = _fraction(score if score is not None else multiplier)
        if value is None or value < 0:
            which = "score.txt" if score is not None else "score_multiplier.txt"
            raise CheckerFailure(f"{failed}: {which} must hold one number >= 0, not "
                                 f"{_clip((score or multiplier).decode('utf-8', 'replace'), 60)!r}")
        fraction = value / most if score is not None else value
        if fraction > 1 + 1e-9:
            raise CheckerFailure(f"{failed}: " + (f"score.txt gives {value:g}, above the test's {most:g} points"
                                                  if score is not None else
                                                  f"score_multiplier.txt gives {value:g}, above 1"))
        if fraction >= 1 - 1e-9:
            return TestVerdict.PASSED, message, None
        return TestVerdict.PARTIAL, message, fraction  # accepted, for part of its points

    def _score_max(self, test: TestCase) -> float:
        """What a test is worth, for a validator's score.txt: in a min group the group's points (its
        weakest test's share decides), in an all group none (all or nothing), else its own points."""
        group = next((g for g in self.task.groups if g.name == test.group), None) if test.group else None
        if group is None or group.scoring == GroupScoring.SUM:
            return test.points
        return group.points if group.scoring == GroupScoring.MIN else 0.0

    def _scored(self, value: float, message: str) -> tuple[TestVerdict, str, float | None]:
        if value >= 1:
            return TestVerdict.PASSED, message, None
        self.diff.write_text(message + "\n")
        if value <= 0:
            return TestVerdict.WRONG_ANSWER, message, None
        return TestVerdict.PARTIAL, message, value

    def deliver_compile_output(self, result: Result) -> None:
        path = self.private / "compile.txt"
        if self.task.compile_output and not self.upload_error:
            if not path.exists():
                path.write_bytes(b"")
            try:
                storage.store(self.task.compile_output, path)
                result.compile_output_location = storage.redact(self.task.compile_output)
            except storage.StorageError as err:
                self.upload_error = err


class CheckerFailure(RuntimeError):
    """The problem's own checker failed: an InternalError, not the submission's fault."""


def _number(value: float) -> str:
    return f"{round(value, 6):.6f}".rstrip("0").rstrip(".")


def _failure_summary(results: list[TestResult], task: Task | None = None,
                     score: tuple[float, float] | None = None) -> str:
    failed = next((t for t in results if t.verdict != TestVerdict.PASSED), None)
    passed = sum(t.verdict == TestVerdict.PASSED for t in results)
    text = f"{passed}/{len(results)} tests passed"
    if task is not None and score is not None and (
            task.groups or any(t.points != 1 for t in task.tests)
            or any(t.verdict == TestVerdict.PARTIAL for t in results)):
        text += f", score {_number(score[0])}/{_number(score[1])}"
    if failed:
        text += f"; first failure: test {failed.name}: {failed.verdict.value}"
        if failed.message:
            text += f" ({failed.message})"
    return text


def _base(given: str | None, variable: str) -> tuple[Path, bool]:
    """A base directory and whether it is the pod's own mount (named by the Job's environment)."""
    if given:
        return Path(given), False
    if os.environ.get(variable):
        return Path(os.environ[variable]), True
    return Path(tempfile.gettempdir()), False


def judge(task: Task, workdir: str | None = None, boxdir: str | None = None) -> Result:
    """Judge a task and deliver its outputs; a Result for every outcome, never an exception.
    workdir: where the private tree goes ($GAVEL_WORK_DIR, else the temp dir); boxdir: where the
    sandbox uids' directories go ($GAVEL_SANDBOX_DIR, else workdir)."""
    try:
        work_base = secure_base(*_base(workdir, "GAVEL_WORK_DIR"))
        box_base = secure_base(*_base(boxdir, "GAVEL_SANDBOX_DIR")) if (boxdir or os.environ.get(
            "GAVEL_SANDBOX_DIR")) else work_base
    except (UnsafeDirectory, OSError) as err:
        return Result(id=task.id, verdict=Verdict.INTERNAL_ERROR, message=f"cannot isolate the judgement: {err}")
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gavel-", dir=work_base)))
        box_root = work if box_base == work_base else Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="gavel-", dir=box_base)))
        box = stack.enter_context(sandbox.Server())
        ibox = stack.enter_context(sandbox.Server()) if task.interactor else None
        progress = stack.enter_context(_reporting(task))
        j = Judgement(task, work, box_root, box, ibox, progress)
        result = _judge(j)
        progress.close(result.tests)
        result.warnings = j.warnings + result.warnings
        if j.private.exists():
            j.deliver_compile_output(result)
        if j.upload_error:
            result.verdict = Verdict.INTERNAL_ERROR
            result.message = f"judged ({result.message}), but could not upload its outputs: {j.upload_error}"
        return result


class _reporting:
    """The task's progress reporter, stopped however the judgement ends."""

    def __init__(self, task: Task):
        self.reporter = Reporter(task)

    def __enter__(self) -> Reporter:
        self.reporter.update(Stage.PREPARING, [])
        return self.reporter

    def __exit__(self, *exc) -> None:
        self.reporter.close()


def _judge(j: Judgement) -> Result:
    task = j.task
    progress = j.progress
    try:
        checkers.validate(task.checker)
        if task.checker.kind == CheckerKind.KATTIS and not task.interactor:
            for test in task.tests:
                checkers.kattis_flags(test.checker_args)
        j.prepare()
        j.prepare_checker()
        j.prepare_interactor()
    except SubmissionRefused as err:  # several files, and a rule they break: the submission's fault
        return Result(id=task.id, verdict=Verdict.COMPILATION_ERROR, message=str(err), compileOutput=str(err))
    except (storage.StorageError, UnknownLanguage, CheckerFailure, ValueError) as err:
        return Result(id=task.id, verdict=Verdict.INITIALIZATION_ERROR, message=str(err))
    except sandbox.SandboxError as err:  # compiling the checker or interactor
        return Result(id=task.id, verdict=Verdict.INTERNAL_ERROR, message=f"sandbox failed: {err}")
    try:
        progress.update(Stage.COMPILING, [])
        ok, output = j.compile()
        if not ok:
            first = output[:COMPILE_OUTPUT_SHOWN] + ("…" if len(output) > COMPILE_OUTPUT_SHOWN else "")
            return Result(id=task.id, verdict=Verdict.COMPILATION_ERROR, message=first, compileOutput=output)
        scorer = Scorer(task.groups, task.tests)
        results: list[TestResult] = []
        for test in task.tests:
            if task.fail_fast and any(t.verdict != TestVerdict.PASSED for t in results):
                results.append(TestResult(name=test.name, verdict=TestVerdict.SKIPPED))
                continue
            if (why := scorer.skip_reason(test)) is not None:
                results.append(TestResult(name=test.name, verdict=TestVerdict.SKIPPED, message=why))
                continue
            progress.update(Stage.JUDGING, results, test.name)
            try:
                results.append(j.run_test(test))
            except sandbox.SandboxError as err:  # the judgement cannot go on without its sandbox
                raise sandbox.SandboxError(f"on test {test.name}: {err}") from None
            scorer.record(results[-1])
            progress.update(Stage.JUDGING, results)
    except CheckerFailure as err:
        return Result(id=task.id, verdict=Verdict.INTERNAL_ERROR, message=str(err))
    except sandbox.SandboxError as err:
        return Result(id=task.id, verdict=Verdict.INTERNAL_ERROR, message=f"sandbox failed: {err}")
    score, max_score, groups = scorer.finish(results)
    verdict = Verdict.ACCEPTED if all(t.verdict == TestVerdict.PASSED for t in results) else Verdict.TEST_FAILED
    return Result(id=task.id, verdict=verdict, message=_failure_summary(results, task, (score, max_score)),
                  compileOutput=output, tests=results, score=score, maxScore=max_score, groups=groups)
