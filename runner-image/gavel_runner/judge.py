"""The judging engine: fetch, compile once, run every test under limits, check, upload.

Layout of one judgement (the runner's user owns everything but the sandbox's own dirs):
    ROOT/            0711  traversable, not listable, by the sandbox uid
    ROOT/private/    0700  task inputs, expected answers, captured outputs (uploaded as each test
                           ends, then reused by the next): never the submission's
    ROOT/build/      the submission and its compiled form: the sandbox uid's while compiling,
                     then the runner's and read-only, so no test can change what the next one runs
    ROOT/run/        the scratch directory of one test, made anew for each
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import tempfile
from pathlib import Path

from gavel_contract import (
    CheckerKind, LanguageVersion, Limits, MemoryModel, Result, Task, TestCase,
    TestResult, TestVerdict, Verdict,
)
from gavel_contract.languages import UnknownLanguage, resolve

from . import checkers, sandbox, storage
from .verdicts import classify

log = logging.getLogger("gavel.runner")

COMPILE_OUTPUT_SHOWN = 2000  # characters of compiler output in the message
COMPILE_OUTPUT_KEPT = 64 * 1024  # characters kept in the result
CHECKER_LIMITS = Limits(timeMs=10_000, wallMs=20_000, memoryKb=1_048_576, outputKb=1024)
SANDBOX_UID_RANGE = (1_000_000, 2_000_000_000)


def sandbox_identity(warnings: list[str]) -> sandbox.Identity | None:
    """A fresh uid for this judgement, unused by anything else on the node (RLIMIT_NPROC and
    the leftover sweep count per uid), or None, with a warning, when we cannot switch users."""
    if os.geteuid() != 0:
        warnings.append(
            f"not running as root: tests run as uid {os.getuid()}, the runner's own user, so they could "
            "read the expected answers and signal the runner; the runner image runs as root and isolates fully"
        )
        return None
    fixed = os.environ.get("GAVEL_SANDBOX_UID")
    uid = int(fixed) if fixed else secrets.randbelow(SANDBOX_UID_RANGE[1] - SANDBOX_UID_RANGE[0]) + SANDBOX_UID_RANGE[0]
    return sandbox.Identity(uid=uid, gid=uid)


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    os.chown(path, uid, gid)
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            os.lchown(os.path.join(dirpath, name), uid, gid)


def _seal(build: Path) -> None:
    """After compiling: the runner owns the build, readable and executable by all, writable by none."""
    os.chown(build, os.getuid(), os.getgid())
    for dirpath, dirnames, filenames in os.walk(build):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            os.lchown(p, os.getuid(), os.getgid())
            if not os.path.islink(p):
                mode = os.stat(p).st_mode & 0o777
                os.chmod(p, (mode | 0o444 | (0o111 if mode & 0o100 else 0)) & ~0o022)
    build.chmod(0o755)


def _read_text(path: Path, limit: int) -> str:
    with open(path, "rb") as f:
        data = f.read(limit + 1)
    text = data[:limit].decode("utf-8", "replace")
    return text + ("\n… (truncated)" if len(data) > limit else "")


def _subst(words: list[str], **values: str) -> list[str]:
    return [w.format(**values) if "{" in w else w for w in words]


class Judgement:
    """One task judged in one private directory tree."""

    def __init__(self, task: Task, root: Path, box: sandbox.Server):
        self.task = task
        self.box = box
        self.lang: LanguageVersion = task.language
        self.root = root
        self.private = root / "private"
        self.build = root / "build"
        self.warnings: list[str] = []
        self.identity = sandbox_identity(self.warnings)
        self.checker_argv: list[str] | None = None
        self.checker_env: dict[str, str] = {"PATH": "/usr/bin:/bin"}
        self.diff = self.private / "diff"
        self.inputs: dict[str, Path] = {}  # test name -> its input, fetched or local
        self.answers: dict[str, Path] = {}
        self.upload_error: storage.StorageError | None = None

    # --- steps -----------------------------------------------------------------------------

    def prepare(self) -> None:
        self.root.chmod(0o711)
        self.private.mkdir(mode=0o700)
        self.build.mkdir(mode=0o700)
        storage.fetch(self.task.submission, self.build / self.lang.source_file)
        for test in self.task.tests:
            self.inputs[test.name] = storage.obtain(test.input, self.private / f"{test.name}.in")
            self.answers[test.name] = storage.obtain(test.expected, self.private / f"{test.name}.ans")
        if self.identity:
            _chown_tree(self.build, self.identity.uid, self.identity.gid)

    def compile(self) -> tuple[bool, str]:
        """Compile once; (ok, compiler output)."""
        out = self.private / "compile.txt"
        if not self.lang.compile:
            out.write_bytes(b"")
            return True, ""
        limits = self.lang.compile_limits
        m = self.box.run(
            _subst(self.lang.compile, build=str(self.build)),
            cwd=self.build, stdout=out, stderr=out, identity=self.identity,
            env={k: v.format(build=str(self.build)) for k, v in self.lang.env.items()},
            cpu_ms=limits.time_ms, wall_ms=limits.wall_limit_ms, memory_kb=limits.memory_kb,
            file_size=256 << 20, processes=self.lang.compile_processes, stack_kb=65536,
        )
        if self.identity:
            _seal(self.build)
        text = _read_text(out, COMPILE_OUTPUT_KEPT)
        verdict, why = classify(m, limits, 0)
        if verdict is None:
            return True, text
        if verdict == TestVerdict.RUNTIME_ERROR:
            why = f"compiler failed ({why})"
        else:
            why = f"compilation stopped: {why}"
        return False, f"{why}\n{text}".strip()

    def prepare_checker(self) -> None:
        """A custom checker: fetched, compiled when it is a source, run as `checker input output answer`."""
        checker = self.task.checker
        if checker.kind != CheckerKind.CUSTOM:
            return
        cdir = self.private / "checker"
        cdir.mkdir(mode=0o700)
        if not checker.language:
            exe = cdir / "checker"
            storage.fetch(checker.program, exe)
            exe.chmod(0o700)
            self.checker_argv = [str(exe)]
            return
        _, ver = resolve(checker.language)
        storage.fetch(checker.program, cdir / ver.source_file)
        if ver.compile:
            log_file = cdir / "compile.txt"
            m = self.box.run(_subst(ver.compile, build=str(cdir)), cwd=cdir, stdout=log_file, stderr=log_file,
                            env={k: v.format(build=str(cdir)) for k, v in ver.env.items()},
                            cpu_ms=60_000, wall_ms=120_000, processes=256)
            if m.exit_code != 0:
                raise CheckerFailure(f"custom checker does not compile:\n{_read_text(log_file, 2000)}")
        self.checker_argv = _subst(ver.run, build=str(cdir))
        self.checker_env = {k: v.format(build=str(cdir)) for k, v in ver.env.items()}

    def run_test(self, test: TestCase) -> TestResult:
        limits = test.limits
        scratch = self.fresh_scratch()
        lang = self.lang
        argv = _subst(lang.run, build=str(self.build))
        if lang.memory_args:
            argv[1:1] = _subst(lang.memory_args, memoryMb=str(max(limits.memory_kb // 1024, 1)))
        env = {k: v.format(build=str(self.build)) for k, v in lang.env.items()}
        env.setdefault("HOME", str(scratch))
        env.setdefault("TMPDIR", str(scratch))
        out, err = self.private / "stdout", self.private / "stderr"
        self.diff.unlink(missing_ok=True)
        as_kb = 4 * limits.memory_kb + lang.address_space_grace_kb if lang.memory_model == MemoryModel.ADDRESS_SPACE else 0
        m = self.box.run(
            argv, cwd=scratch, stdin=self.inputs[test.name], stdout=out, stderr=err,
            identity=self.identity, env=env, cpu_ms=limits.time_ms, wall_ms=limits.wall_limit_ms,
            memory_kb=limits.memory_kb, address_space_kb=as_kb, file_size=limits.output_kb * 1024 + 1,
            processes=lang.processes, stack_kb=limits.memory_kb,
        )
        if m.leftovers:
            self.warnings.append(f"test {test.name}: killed processes the submission left running")
        verdict, message = classify(m, limits, out.stat().st_size)
        if verdict == TestVerdict.RUNTIME_ERROR and self.runtime_refused_memory(m, (out, err)):
            verdict, message = TestVerdict.MEMORY_LIMIT_EXCEEDED, (
                f"the runtime refused an allocation at its heap limit ({limits.memory_kb // 1024} MB)")
        if verdict is None:
            verdict, message = self.check(test)
        result = TestResult(
            name=test.name, verdict=verdict, cpuTimeMs=m.cpu_ms, wallTimeMs=m.wall_ms, memoryKb=m.rss_kb,
            exitCode=m.exit_code, signal=m.signal, message=message,
        )
        self.deliver(test, result)
        return result

    def deliver(self, test: TestCase, result: TestResult) -> None:
        """Upload this test's outputs now, so that the next test can reuse the files. After
        one failed upload, none is tried: the judgement ends as an InternalError naming it."""
        if self.upload_error:
            return
        for field, path in (("stdout", self.private / "stdout"), ("stderr", self.private / "stderr"),
                            ("diff", self.diff)):
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

    def fresh_scratch(self) -> Path:
        """An empty directory the sandbox uid owns. The last test's is kept when it left it
        exactly as it found it (empty, same owner and mode): a mkdir and rmdir saved per test."""
        scratch = self.root / "run"
        try:
            st = os.lstat(scratch)
        except FileNotFoundError:
            st = None
        uid = self.identity.uid if self.identity else os.getuid()
        if st is not None:
            if st.st_uid == uid and st.st_mode == 0o40700 and not os.listdir(scratch):
                return scratch
            shutil.rmtree(scratch) if not os.path.islink(scratch) else os.unlink(scratch)
        scratch.mkdir(mode=0o700)
        if self.identity:
            os.chown(scratch, self.identity.uid, self.identity.gid)
        return scratch

    def check(self, test: TestCase) -> tuple[TestVerdict, str]:
        out, ans, diff = self.private / "stdout", self.answers[test.name], self.diff
        if self.checker_argv is None:
            output, answer = out.read_bytes(), ans.read_bytes()
            ok, message = checkers.compare(self.task.checker, output, answer)
            if not ok:
                diff.write_text(checkers.diff_text(message, output, answer))
            return (TestVerdict.PASSED if ok else TestVerdict.WRONG_ANSWER), message
        report = self.private / "checker-report"
        argv = [*self.checker_argv, str(self.inputs[test.name]), str(out), str(ans)]
        m = self.box.run(argv, cwd=self.private, stdout=report, stderr=report, env=self.checker_env,
                        cpu_ms=CHECKER_LIMITS.time_ms, wall_ms=CHECKER_LIMITS.wall_limit_ms,
                        file_size=CHECKER_LIMITS.output_kb * 1024)
        message = _read_text(report, 500).strip()
        if m.exit_code == 0:
            return TestVerdict.PASSED, message
        if m.exit_code in (1, 2):  # testlib: _wa, _pe
            diff.write_text(message + "\n")
            return TestVerdict.WRONG_ANSWER, message
        raise CheckerFailure(f"custom checker failed on test {test.name} "
                             f"(exit {m.exit_code}, signal {m.signal}): {message}")

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


def _failure_summary(results: list[TestResult]) -> str:
    failed = next((t for t in results if t.verdict != TestVerdict.PASSED), None)
    passed = sum(t.verdict == TestVerdict.PASSED for t in results)
    text = f"{passed}/{len(results)} tests passed"
    if failed:
        text += f"; first failure: test {failed.name}: {failed.verdict.value}"
        if failed.message:
            text += f" ({failed.message})"
    return text


def judge(task: Task, workdir: str | None = None) -> Result:
    """Judge a task and deliver its outputs; a Result for every outcome, never an exception."""
    with tempfile.TemporaryDirectory(prefix="gavel-", dir=workdir) as tmp, sandbox.Server() as box:
        j = Judgement(task, Path(tmp), box)
        result = _judge(j)
        result.warnings = j.warnings + result.warnings
        if j.private.exists():
            j.deliver_compile_output(result)
        if j.upload_error:
            result.verdict = Verdict.INTERNAL_ERROR
            result.message = f"judged ({result.message}), but could not upload its outputs: {j.upload_error}"
        return result


def _judge(j: Judgement) -> Result:
    task = j.task
    try:
        j.prepare()
        j.prepare_checker()
    except (storage.StorageError, UnknownLanguage, CheckerFailure) as err:
        return Result(id=task.id, verdict=Verdict.INITIALIZATION_ERROR, message=str(err))
    try:
        ok, output = j.compile()
        if not ok:
            first = output[:COMPILE_OUTPUT_SHOWN] + ("…" if len(output) > COMPILE_OUTPUT_SHOWN else "")
            return Result(id=task.id, verdict=Verdict.COMPILATION_ERROR, message=first, compileOutput=output)
        results: list[TestResult] = []
        for test in task.tests:
            if task.fail_fast and any(t.verdict != TestVerdict.PASSED for t in results):
                results.append(TestResult(name=test.name, verdict=TestVerdict.SKIPPED))
                continue
            results.append(j.run_test(test))
    except CheckerFailure as err:
        return Result(id=task.id, verdict=Verdict.INTERNAL_ERROR, message=str(err))
    except sandbox.SandboxError as err:
        return Result(id=task.id, verdict=Verdict.INTERNAL_ERROR, message=f"sandbox failed: {err}")
    verdict = Verdict.ACCEPTED if all(t.verdict == TestVerdict.PASSED for t in results) else Verdict.TEST_FAILED
    return Result(id=task.id, verdict=verdict, message=_failure_summary(results),
                  compileOutput=output, tests=results)
