"""Command lines: `gavel-runner run TASK.json` (what the pod runs) and `gavel judge` (a
problem setter's local judge). Both exit 0 whenever they produced a result, whatever its
verdict; 1 when no result could be delivered; 2 on a usage error."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from pathlib import Path

from pydantic import ValidationError

from gavel_contract import TASKREF_API, Checker, Limits, Result, Task, TaskRef, TestCase, Verdict, sealed
from gavel_contract.languages import UnknownLanguage, resolve

from . import egress, storage
from .judge import judge
from .multifile import local_fields

DEFAULT_TERMINATION_LOG = "/dev/termination-log"


def _errors(err: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'task'}: {e['msg']}" for e in err.errors()[:10])


def _write_termination(path: str | None, result: Result | str) -> None:
    if not path:
        return
    text = result if isinstance(result, str) else result.summary()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
    except OSError as err:
        logging.warning("cannot write termination message to %s: %s", path, err)


def _claim_termination_log(path: str | None) -> None:
    """The kubelet makes /dev/termination-log mode 0666: a submission could write a forged summary
    there for the operator to find if the runner then died. Emptied and made root's before anything
    of the submission runs."""
    if not path or os.geteuid() != 0:
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW)
        try:
            os.fchmod(fd, 0o600)
        finally:
            os.close(fd)
    except OSError as err:
        logging.warning("cannot claim the termination log %s: %s", path, err)


def _is_task_ref(raw: str) -> bool:
    try:
        doc = json.loads(raw)
    except ValueError:
        return False
    return isinstance(doc, dict) and doc.get("apiVersion") == TASKREF_API


class TaskUnusable(Exception):
    """The task file cannot be read, or is malformed, or names a task that cannot be fetched."""


def _load_task(task_file: str) -> Task:
    """The task the file holds, or the one in storage that it names."""
    try:
        raw = Path(task_file).read_text()
    except OSError as err:
        raise TaskUnusable(f"cannot read task file {task_file}: {err.strerror}") from None
    try:
        if _is_task_ref(raw):  # the task is in storage (too large for a Secret), sealed with the key here
            ref = TaskRef.model_validate_json(raw)
            raw = storage.fetch_bytes(ref.url)
            if ref.key is not None:
                raw = sealed.unseal(raw, ref.key)  # in memory only: never written anywhere
        return Task.model_validate_json(raw)
    except ValidationError as err:
        raise TaskUnusable(f"malformed task: {_errors(err)}") from None
    except (storage.StorageError, sealed.SealError) as err:
        raise TaskUnusable(f"cannot load the task: {err}") from None


def run_task(task_file: str, termination_log: str | None) -> int:
    _claim_termination_log(termination_log)
    try:
        task = _load_task(task_file)
    except TaskUnusable as err:
        result = Result(verdict=Verdict.INITIALIZATION_ERROR, message=str(err))
        _write_termination(termination_log, result)
        print(result.summary())
        return 1
    if task.egress_check:
        try:
            egress.wait_closed(task.egress_check)
        except egress.EgressOpen as err:
            logging.error("not judged: %s", err)
            _write_termination(termination_log, f"not judged: {err}")
            return 1
    result = judge(task)
    _write_termination(termination_log, result)
    if task.result is None:
        print(json.dumps(result.dump(), indent=2))
        return 0
    try:
        storage.store(task.result, json.dumps(result.dump()).encode())
    except storage.StorageError as err:
        logging.error("%s", err)
        print(result.summary())
        return 1
    print(result.summary())
    return 0


def runner_main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["cache"]:  # the node cache's server (the chart's cache DaemonSet)
        from . import nodecache

        return nodecache.main(argv[1:])
    parser = argparse.ArgumentParser(prog="gavel-runner", description="Judge one task (what a Gavel Job runs).")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="judge TASK.json and deliver its result")
    run.add_argument("task", help="task file (gavel.dev/task/v1 JSON)")
    sub.add_parser("cache", help="serve the node cache of test data (gavel-runner cache --help)", add_help=False)
    run.add_argument("--termination-log", default=os.environ.get("GAVEL_TERMINATION_LOG"),
                     help=f"where the compact summary goes (default: {DEFAULT_TERMINATION_LOG} when it exists)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    log_path = args.termination_log
    if log_path is None and Path(DEFAULT_TERMINATION_LOG).exists():
        log_path = DEFAULT_TERMINATION_LOG
    return run_task(args.task, log_path)


def _natural(name: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def discover_tests(directory: Path) -> list[tuple[str, Path, Path]]:
    """NAME.in with NAME.out (or NAME.ans), in natural name order (2 before 10)."""
    found = []
    for inp in directory.glob("*.in"):
        name = inp.stem
        answer = next((p for p in (inp.with_suffix(".out"), inp.with_suffix(".ans")) if p.exists()), None)
        if answer is None:
            raise SystemExit(f"gavel judge: {inp} has no {name}.out or {name}.ans beside it")
        found.append((name, inp, answer))
    if not found:
        raise SystemExit(f"gavel judge: no NAME.in files in {directory}")
    return sorted(found, key=lambda t: _natural(t[0]))


def _table(result: Result) -> str:
    rows = [("test", "verdict", "cpu ms", "wall ms", "memory kB", "message")]
    rows += [(t.name, t.verdict.value, str(t.cpu_time_ms), str(t.wall_time_ms), str(t.memory_kb), t.message[:70])
             for t in result.tests]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:5], widths)) + "  " + r[5] for r in rows]
    lines.append(f"\n{result.verdict.value}: {result.message}")
    lines += [f"warning: {w}" for w in result.warnings]
    return "\n".join(lines)


def judge_main(args: argparse.Namespace) -> int:
    try:
        lang, ver = resolve(args.language)
    except UnknownLanguage as err:
        print(f"gavel judge: {err}", file=sys.stderr)
        return 2
    tests_dir = Path(args.tests)
    out_dir = Path(args.output_dir).resolve() if args.output_dir else None
    limits = ver.default_limits.model_copy(update={
        k: v for k, v in (("time_ms", args.time_limit), ("memory_kb", args.memory_limit),
                          ("output_kb", args.output_limit), ("wall_ms", args.wall_limit),
                          ("processes", args.processes)) if v is not None})
    try:
        limits = Limits.model_validate(limits.model_dump())
        checker = Checker.parse(args.checker or "lines")
        if checker.program and not checker.language:
            checker.program = str(Path(checker.program).resolve())
            checker.language = _language_of(checker.program)
        tests = [
            TestCase(name=name, input=str(inp.resolve()), expected=str(ans.resolve()), limits=limits,
                     **({"stdout": str(out_dir / f"{name}.stdout"), "stderr": str(out_dir / f"{name}.stderr"),
                         "diff": str(out_dir / f"{name}.diff")} if out_dir else {}))
            for name, inp, ans in discover_tests(tests_dir)
        ]
        task = Task(language=ver, languageName=lang.name, **local_fields(args.source), tests=tests,
                    checker=checker, compileOutput=str(out_dir / "compile.txt") if out_dir else None,
                    failFast=args.fail_fast)
    except (ValidationError, ValueError) as err:
        print(f"gavel judge: {_errors(err) if isinstance(err, ValidationError) else err}", file=sys.stderr)
        return 2
    result = judge(task)
    if args.json:
        print(json.dumps(result.dump(), indent=2))
    else:
        print(_table(result))
    return 0


CHECKER_SUFFIXES = {".cpp": "cpp", ".cc": "cpp", ".c": "c", ".py": "python", ".rs": "rust", ".go": "go",
                    ".java": "java", ".js": "javascript"}


def _language_of(path: str) -> str | None:
    """A custom checker given as a source file is compiled with the language its suffix names; a
    directory's, when the suffixes of its files name one language."""
    if Path(path).is_dir():
        found = {CHECKER_SUFFIXES.get(p.suffix) for p in Path(path).rglob("*") if p.is_file()} - {None}
        return found.pop() if len(found) == 1 else None
    return CHECKER_SUFFIXES.get(Path(path).suffix)


def gavel_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gavel", description="Gavel: judge code submissions.")
    sub = parser.add_subparsers(dest="command", required=True)
    j = sub.add_parser("judge", help="judge a source file against a directory of tests or a problem, locally")
    j.add_argument("source", help="a source file, or several: a directory, a .zip or a .tar(.gz) archive")
    j.add_argument("--language", "-l", help="NAME[:VERSION], e.g. cpp:20 or python "
                                            "(with --problem, default: from the source's suffix)")
    what = j.add_mutually_exclusive_group(required=True)
    what.add_argument("--tests", "-t", help="directory of NAME.in with NAME.out or NAME.ans")
    what.add_argument("--problem", "-p", help="problem directory (problem.yaml): its tests, groups, limits, checker")
    j.add_argument("--time-limit", type=int, help="CPU time limit per test, ms")
    j.add_argument("--wall-limit", type=int, help="wall-clock limit per test, ms (default 2×time+1000)")
    j.add_argument("--memory-limit", type=int, help="peak memory limit per test, kB")
    j.add_argument("--output-limit", type=int, help="output cap per test, kB")
    j.add_argument("--processes", type=int, help="processes and threads per test (default: the language's)")
    j.add_argument("--checker",
                   help="exact | lines (default) | tokens | float:EPS | PATH of a checker (source or executable)")
    j.add_argument("--output-dir", "-o", help="keep each test's stdout, stderr and diff here")
    j.add_argument("--fail-fast", action="store_true", help="stop at the first failed test")
    j.add_argument("--json", action="store_true", help="print the result model as JSON")
    _problem_commands(sub)
    _client_commands(sub)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.command == "judge" and args.tests and not args.language:
        j.error("--language is required with --tests")
    if args.command == "judge" and args.problem and args.checker:
        j.error("--checker cannot be used with --problem: the problem names its checker")
    if args.command == "judge" and args.problem:
        return judge_problem_main(args)
    if args.command == "problem":
        return problem_main(args)
    if args.command != "judge":
        try:
            from gavel_client.cli import main as client_main
        except ImportError:  # the runner image carries the runner alone
            print(f"gavel {args.command}: the client is not installed here (pip install 'gavel[client]')",
                  file=sys.stderr)
            return 2

        return client_main(args)
    return judge_main(args)


def _problem_commands(sub) -> None:
    p = sub.add_parser("problem", help="problem directories (problem.yaml)")
    psub = p.add_subparsers(dest="problem_command", required=True)
    c = psub.add_parser("check", help="load a problem, check its tests, and judge each listed solution "
                                      "against what it must get (a problem package: its example submissions)")
    c.add_argument("directory")
    c.add_argument("--json", action="store_true", help="print the report as JSON (per submission: path, expected "
                                                       "and actual verdict, score, time)")
    c.add_argument("--write-timelimit", action="store_true",
                   help="a problem package without a stated time limit: write the computed one to its .timelimit")
    c.add_argument("--time-cap", type=int, default=60_000,
                   help="a problem package without a stated time limit: CPU ms per test the submissions that "
                        "bound it from below may take (default 60000)")


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _problem_table(result: Result, task: Task) -> str:
    """The test table with groups and points, the group scores and the total."""
    tests = {t.name: t for t in task.tests}
    rows = [("test", "group", "verdict", "points", "cpu ms", "wall ms", "memory kB", "message")]
    for t in result.tests:
        case = tests.get(t.name)
        points = f"{_score(t.points)}/{case.points:g}" if case is not None and t.points is not None else ""
        rows.append((t.name, (case.group or "") if case else "", t.verdict.value, points, str(t.cpu_time_ms),
                     str(t.wall_time_ms), str(t.memory_kb), t.message[:70]))
    lines = _columns(rows)
    if result.groups:
        groups = {g.name: g for g in task.groups}
        grows = [("group", "score", "max", "scoring", "")]
        for g in result.groups:
            spec = groups.get(g.name)
            note = ", ".join(filter(None, [
                f"after {', '.join(spec.depends_on)}" if spec and spec.depends_on else "",
                "skipped: a group it depends on did not score in full" if g.skipped else ""]))
            grows.append((g.name, _score(g.score), _score(g.max_score), spec.scoring.value if spec else "", note))
        lines += [""] + _columns(grows)
    lines.append(f"\nscore {_score(result.score)}/{_score(result.max_score)}")
    lines.append(f"{result.verdict.value}: {result.message}")
    lines += [f"warning: {w}" for w in result.warnings]
    return "\n".join(lines)


def _columns(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return [("  ".join(c.ljust(w) for c, w in zip(r[:-1], widths)) + "  " + r[-1]).rstrip() for r in rows]


def judge_problem_main(args: argparse.Namespace) -> int:
    """gavel judge SRC --problem DIR: the problem's tests, groups, limits, checker and file I/O."""
    from gavel_contract.problem import ProblemError

    from . import problems

    try:
        pkg = problems.load_package(args.problem)
        problem = pkg.problem if pkg else problems.load(args.problem)
    except ProblemError as err:
        print(f"gavel judge: {err}", file=sys.stderr)
        return 2
    for note in (pkg.notes if pkg else []):
        if not note.startswith("submissions/") and (args.time_limit is None or "time limit" not in note):
            print(f"note: {note}", file=sys.stderr)
    spec = args.language or _language_of(args.source)
    if not spec:
        print(f"gavel judge: cannot tell the language of {args.source} from its suffix: give --language",
              file=sys.stderr)
        return 2
    try:
        lang, ver = resolve(spec)
        limits = None
        overrides = {k: v for k, v in (("time_ms", args.time_limit), ("memory_kb", args.memory_limit),
                                       ("output_kb", args.output_limit), ("wall_ms", args.wall_limit),
                                       ("processes", args.processes)) if v is not None}
        if overrides:
            limits = Limits.model_validate(problem.limits_for(lang.name).model_copy(update=overrides).model_dump())
        task = problems.task_for(problem, args.problem, args.source, lang.name, ver.version, limits=limits,
                                 output_dir=args.output_dir, fail_fast=args.fail_fast)
    except UnknownLanguage as err:
        print(f"gavel judge: {err}", file=sys.stderr)
        return 2
    except (ValidationError, ValueError) as err:
        print(f"gavel judge: {_errors(err) if isinstance(err, ValidationError) else err}", file=sys.stderr)
        return 2
    result = judge(task)
    print(json.dumps(result.dump(), indent=2) if args.json else _problem_table(result, task))
    return 0


def problem_main(args: argparse.Namespace) -> int:
    """gavel problem check DIR: 0 when every listed solution gets what it must, 1 when one does not,
    2 when the problem cannot be loaded."""
    from gavel_contract.problem import ProblemError

    from . import problems

    try:
        pkg = problems.load_package(args.directory)
        problem = pkg.problem if pkg else problems.load(args.directory)
    except ProblemError as err:
        print(f"gavel problem check: {err}", file=sys.stderr)
        return 2
    if pkg is not None:
        return package_check_main(args, pkg)
    groups = f"; groups: {problem.describe_groups()}" if problem.groups else ""
    print(f"{problem.name}: {len(problem.tests)} tests, each with its answer; "
          f"max score {problem.max_score():g}{groups}")
    if not problem.solutions:
        print("no solutions listed")
        return 0
    width = max(len(s.path) for s in problem.solutions)
    failed = 0
    for solution in problem.solutions:
        check = problems.check_solution(problem, args.directory, solution, judge)
        r = check.result
        got = f"{r.verdict.value} {_score(r.score)}/{_score(r.max_score)}" if r else "not judged"
        line = f"{'ok' if check.ok else 'FAIL':4}  {solution.path.ljust(width)}  {solution.language:10}  {got}"
        if not check.ok:
            failed += 1
            line += "  (" + "; ".join(check.problems) + (f"; {r.message[:200]}" if r and r.message else "") + ")"
        print(line, flush=True)
    print(f"{len(problem.solutions) - failed}/{len(problem.solutions)} solutions as expected")
    return 1 if failed else 0


def _describe_package(pkg) -> str:
    problem = pkg.problem
    kind = ("scoring" if pkg.scoring else "pass-fail") + (", interactive" if pkg.interactive else "")
    if problem.interactor:
        judged_by = f"validator {problem.interactor.source} ({problem.interactor.protocol.value}, interactive)"
    elif problem.checker.custom:
        judged_by = f"validator {problem.checker.custom.source} ({problem.checker.custom.protocol.value})"
    else:
        judged_by = "the default output validator"
    groups = f"; groups: {problem.describe_groups()}" if pkg.scoring and problem.groups else ""
    score = f"; max score {pkg.range_max if pkg.range_max is not None else problem.max_score():g}" if pkg.scoring \
        else ""
    return (f"{problem.name}: problem package ({pkg.version}, {kind}), {len(problem.tests)} tests, "
            f"{judged_by}; memory {problem.limits.memory_kb // 1024} MiB, output {problem.limits.output_kb // 1024} MiB"
            f"{score}{groups}")


def package_check_main(args: argparse.Namespace, pkg) -> int:
    """gavel problem check on a problem package: its example submissions (package_check)."""
    from . import package_check

    as_json = getattr(args, "json", False)
    out = (lambda *a, **k: None) if as_json else print
    out(_describe_package(pkg))
    for note in pkg.notes:
        if not note.startswith("no time limit stated"):
            out(f"note: {note}")
    width = max((len(s.path) for s in pkg.submissions), default=10)

    def announce(timing) -> None:
        out(f"time limit: {timing.explanation}", flush=True)

    def report(check) -> None:
        sub = check.submission
        if not check.judged:
            out(f"skip  {sub.path.ljust(width)}  {(sub.language or '-'):10}  {sub.unsupported or 'not judged'}",
                flush=True)
            return
        score = f" {_score(check.score)}" if check.score is not None else ""
        got = f"{check.verdict}{score} {check.time_ms / 1000:.2f} s"
        line = f"{'ok' if check.ok else 'FAIL':4}  {sub.path.ljust(width)}  {sub.language:10}  {got}"
        if not check.ok:
            line += f"  (expected {check.expected}: " + "; ".join(check.problems) + ")"
        elif check.notes:
            line += "  (" + "; ".join(check.notes) + ")"
        out(line, flush=True)

    timing, checks = package_check.check_package(pkg, args.directory, judge, cap_ms=args.time_cap, report=report,
                                                 announce=announce)
    judged = [c for c in checks if c.judged]
    failed = [c for c in judged if not c.ok]
    skipped = len(checks) - len(judged)
    if args.write_timelimit and timing.source == "computed":
        path = package_check.write_timelimit(args.directory, timing)
        out(f"wrote {path}")
    if not any(c.submission.expectation.lower_bound for c in checks):
        out("note: no accepted submission")
    if as_json:
        print(json.dumps({"problem": pkg.problem.name, "version": pkg.version,
                          "type": "scoring" if pkg.scoring else "pass-fail", "interactive": pkg.interactive,
                          "timeLimit": timing.dump(), "notes": pkg.notes,
                          "submissions": [c.dump() for c in checks]}, indent=2))
    else:
        print(f"{len(judged) - len(failed)}/{len(judged)} judged submissions as expected"
              + (f"; {skipped} not judged (see skip)" if skipped else ""))
    return 1 if failed or timing.source == "cap" else 0


def _client_commands(sub) -> None:
    """gavel submit / status / fetch: the cluster side (gavel_client; needs the `client` extra)."""
    s = sub.add_parser("submit", help="upload a submission and tests, create the Evaluation (and wait)")
    s.add_argument("source", help="a source file, or several: a directory (uploaded under a prefix) or an archive")
    s.add_argument("--language", "-l", required=True, help="NAME[:VERSION]")
    s.add_argument("--tests", "-t", required=True, help="directory of NAME.in with NAME.out or NAME.ans")
    s.add_argument("--name", help="Evaluation name (default: from the file name)")
    s.add_argument("--prefix", help="storage prefix to upload under (default: NAMESPACE/, which the default "
                                    "tenancy policy lets the namespace read)")
    s.add_argument("--time-limit", type=int, help="ms")
    s.add_argument("--memory-limit", type=int, help="kB")
    s.add_argument("--processes", type=int, help="processes and threads per test (default: the language's)")
    s.add_argument("--checker", help="exact | lines | tokens | float:EPS")
    s.add_argument("--queue")
    s.add_argument("--priority", type=int)
    s.add_argument("--callback-url")
    s.add_argument("--wait", "-w", action="store_true", help="watch until the verdict and print it")
    s.add_argument("--output-dir", "-o", help="with --wait: download the outputs here")
    for name, helptext in (("status", "show an Evaluation's verdict (and wait for it)"),
                           ("fetch", "download an Evaluation's outputs")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("name")
        if name == "status":
            p.add_argument("--wait", "-w", action="store_true")
            p.add_argument("--json", action="store_true")
        else:
            p.add_argument("--output-dir", "-o", help="download the outputs here")
            p.add_argument("--url", action="store_true",
                           help="print a short-lived presigned link to each output instead (NAME<TAB>URL), signed "
                                "with your storage credentials for this Evaluation's own objects only; never "
                                "stored in its status")
            p.add_argument("--expires", type=int, default=900, help="with --url: seconds the links live (900)")
    for p in (s, sub.choices["status"], sub.choices["fetch"]):
        p.add_argument("--namespace", "-n", default="default")
        p.add_argument("--s3-endpoint", help="host:port (default $GAVEL_S3_ENDPOINT)")
        p.add_argument("--bucket", help="default $GAVEL_S3_BUCKET or gavel")
