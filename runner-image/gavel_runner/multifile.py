"""A submission of several files: gathered (an archive, or the files of a directory or a storage
prefix), checked against the limits, laid out in the build directory, and built with the language's
multiFile data (gavel_contract.MultiFile): its compile command with every source, its entry rule.

What the submission breaks (too many files, too large, a bad name, a link in an archive, no entry)
is SubmissionRefused, judged CompilationError with the reason. The files are gathered into memory
(MAX_BYTES at most) and written by root into the build directory before anything of the submission
runs, as plain files through directory descriptors, with names checked_path allowed.

An archive or a directory whose every file lies in one top directory (a zipped folder) is read
from inside it.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from gavel_contract import EntryRule, LanguageVersion, Task
from gavel_contract.submission import (
    MAX_ARCHIVE_BYTES, MAX_BYTES, MAX_FILES, SubmissionRefused, archive_format, checked_path,
)

from . import archives, entrypoints, storage

MAX_CLASS_FILES = 10_000  # class files looked at for main: a compile that makes more is refused
MAX_CLASS_BYTES = 16 << 20  # a class file larger than this is not looked at


@dataclass
class Plan:
    """How this submission is built and run: the language version with its multi-file compile and
    run filled in ({build} is left for the judge, and Java's {entry}: the class with main, found
    after compiling)."""

    language: LanguageVersion
    files: dict[str, bytes]


def gather(task: Task) -> dict[str, bytes]:
    """The submission's files by checked path, hidden ones skipped, within MAX_FILES and MAX_BYTES."""
    named: list[tuple[str, bytes]] = []
    if task.submission_archive is not None:
        data = storage.fetch_bytes(task.submission, MAX_ARCHIVE_BYTES + 1)
        if len(data) > MAX_ARCHIVE_BYTES:
            raise SubmissionRefused(f"the archive is larger than {MAX_ARCHIVE_BYTES >> 20} MiB")
        named = archives.read_archive(data, task.submission_archive)
    else:
        total = 0
        for f in task.submission_files:
            if checked_path(f.path) is None:
                continue  # hidden: not even fetched
            if len(named) == MAX_FILES:
                raise SubmissionRefused(f"more than {MAX_FILES} files (the limit)")
            data = storage.fetch_bytes(f.location, MAX_BYTES - total + 1)
            total += len(data)
            if total > MAX_BYTES:
                raise SubmissionRefused(f"the files are larger than {MAX_BYTES >> 20} MiB in all (the limit)")
            named.append((f.path, data))
    files: dict[str, bytes] = {}
    for name, data in named:
        path = checked_path(name)
        if path is None:
            continue
        if path in files:
            raise SubmissionRefused(f"{path} is given twice")
        files[path] = data
    if len(files) > MAX_FILES:
        raise SubmissionRefused(f"{len(files)} files, more than {MAX_FILES} (the limit)")
    if not files:
        raise SubmissionRefused("no files in the submission")
    return _inside_top_directory(files)


def _inside_top_directory(files: dict[str, bytes]) -> dict[str, bytes]:
    tops = {p.split("/", 1)[0] for p in files}
    if len(tops) == 1 and all("/" in p for p in files):
        return {p.split("/", 1)[1]: data for p, data in files.items()}
    return files


def plan(task: Task, files: dict[str, bytes]) -> Plan:
    """The build of these files by the task's language (its multiFile data), or SubmissionRefused."""
    lang = task.language
    spec = lang.multi_file
    if spec is None:
        raise SubmissionRefused(f"{task.language_name} {lang.version} takes a single source file, not several")
    _no_conflicts(files)
    if spec.entry == EntryRule.JAVA_MAIN_CLASS:
        files = entrypoints.java_layout(files)
    found = entrypoints.sources(spec, list(files))
    if not found:
        raise SubmissionRefused(f"no source file ({', '.join(spec.sources)}) among the {len(files)} files")
    entry = entrypoints.named_entry(spec, list(files), task.problem_name) if spec.entry == EntryRule.NAMED else None

    def fill(words: list[str]) -> list[str]:
        out: list[str] = []
        for word in words:
            if word == "{sources}":
                out += found
            elif entry is not None and "{entry}" in word:
                out.append(word.replace("{entry}", entry))
            else:
                out.append(word)
        return out
    built = lang.model_copy(update={"compile": fill(spec.compile) if spec.compile else None,
                                    "run": fill(spec.run or lang.run)})
    return Plan(built, files)


def _no_conflicts(files: dict[str, bytes]) -> None:
    """No file where another one needs a directory (a and a/b.c)."""
    dirs = {p.rsplit("/", 1)[0] for p in files if "/" in p}
    dirs |= {d.rsplit("/", i)[0] for d in list(dirs) for i in range(1, d.count("/") + 1)}
    if clash := sorted(dirs & set(files)):
        raise SubmissionRefused(f"{clash[0]} is both a file and a directory")


def write(files: dict[str, bytes], build: Path) -> None:
    """The files into the (empty, root's) build directory, through directory descriptors: new
    directories and new files only, nothing followed."""
    root = os.open(build, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        for path, data in sorted(files.items()):
            *dirs, name = path.split("/")
            fd = os.dup(root)
            try:
                for d in dirs:
                    try:
                        os.mkdir(d, 0o755, dir_fd=fd)
                    except FileExistsError:
                        pass
                    nxt = os.open(d, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                    os.close(fd)
                    fd = nxt
                out = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644,
                              dir_fd=fd)
                with os.fdopen(out, "wb") as f:
                    f.write(data)
            finally:
                os.close(fd)
    finally:
        os.close(root)


def find_main_class(build: Path) -> str:
    """After compiling (the build sealed to root): the one class with main among the class files
    under `build`, read through descriptors without following links; SubmissionRefused otherwise."""
    found: list[str] = []
    seen = 0
    for _, _, filenames, dirfd in os.fwalk(build, follow_symlinks=False):
        for name in filenames:
            if not name.endswith(".class"):
                continue
            seen += 1
            if seen > MAX_CLASS_FILES:
                raise SubmissionRefused(f"more than {MAX_CLASS_FILES} class files")
            try:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dirfd)
            except OSError:
                continue  # a link: not a class javac wrote
            try:
                st = os.fstat(fd)
                if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_CLASS_BYTES:
                    continue
                data = os.read(fd, MAX_CLASS_BYTES)
            finally:
                os.close(fd)
            try:
                if (cls := entrypoints.main_class(data)) is not None:
                    found.append(cls)
            except entrypoints.ClassFileError:
                continue  # not javac's: nothing to run
    return entrypoints.one_main_class(found)


def local_fields(source: str | os.PathLike) -> dict:
    """The Task's submission fields for a local path: a directory's files (hidden ones and those past
    the limit are the runner's to skip or refuse: the listing stops one past it), an archive by its
    suffix, else the one source file."""
    path = Path(source).resolve()
    if path.is_dir():
        listed: list[dict] = []
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "__MACOSX")
            for name in sorted(filenames):
                full = Path(dirpath) / name
                if full.is_file() and not name.startswith(".") and len(listed) <= MAX_FILES:
                    listed.append({"path": full.relative_to(path).as_posix(), "location": str(full)})
        if not listed:
            raise ValueError(f"no files in {source}")
        return {"submissionFiles": listed}
    fmt = archive_format(path.name)
    return {"submission": str(path), **({"submissionArchive": fmt} if fmt else {})}

