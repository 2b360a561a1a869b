"""A submission of several files (a directory, a storage prefix, a zip or tar archive): the limits
and the naming rules that the operator, the client and the runner share.

The runner enforces every rule (what it refuses is a CompilationError naming the reason); the
operator and the client only use them to decide what to send: which key is a prefix, which is an
archive, and that a prefix listing stops one file past the limit."""

from __future__ import annotations

import re
from enum import Enum

MAX_FILES = 100  # source files (hidden ones not counted)
MAX_BYTES = 4 << 20  # all the files together, unpacked
MAX_ARCHIVE_BYTES = MAX_BYTES + (1 << 20)  # the archive itself (stored members are a little larger)
MAX_ENTRIES = 1000  # entries of an archive, directories and hidden files included
MAX_DEPTH = 8  # directories a path may go down
MAX_PATH = 200  # characters of a path

_COMPONENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,99}$")


class ArchiveFormat(str, Enum):
    ZIP = "zip"
    TAR = "tar"  # plain, gzip, bzip2 or xz: told apart by their first bytes


ARCHIVE_SUFFIXES = {".zip": ArchiveFormat.ZIP, ".tar": ArchiveFormat.TAR, ".tar.gz": ArchiveFormat.TAR,
                    ".tgz": ArchiveFormat.TAR, ".tar.bz2": ArchiveFormat.TAR, ".tar.xz": ArchiveFormat.TAR}


def archive_format(name: str) -> ArchiveFormat | None:
    """The archive a file or object name says it is (by its suffix), or None: a single source."""
    lower = name.lower()
    return next((fmt for suffix, fmt in ARCHIVE_SUFFIXES.items() if lower.endswith(suffix)), None)


def is_prefix(key: str) -> bool:
    """A storage key naming every object under it (S3's convention: it ends with a slash)."""
    return key.endswith("/")


class SubmissionRefused(ValueError):
    """The submission's files break a rule: judged CompilationError with this message."""


def is_hidden(path: str) -> bool:
    """A file nobody meant to submit, skipped: a name starting with a dot (.git/, .DS_Store), or in
    macOS's __MACOSX/ metadata."""
    return any((part.startswith(".") and part not in (".", "..")) or part == "__MACOSX" for part in path.split("/"))


def checked_path(path: str) -> str | None:
    """`path` as a relative POSIX path of plain names; None for a file nobody meant to submit, skipped
    (a component starting with a dot: .git/, .DS_Store; macOS's __MACOSX/); or SubmissionRefused saying
    why: absolute, `..`, backslashes, names of other characters than letters, digits and `_ . + -` (a
    leading `-` could pass for a compiler's option), too deep or too long."""
    shown = path[:80] + ("…" if len(path) > 80 else "")
    if "\\" in path or "\x00" in path:
        raise SubmissionRefused(f"{shown!r}: backslashes and NUL are not allowed in a path")
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        raise SubmissionRefused(f"{shown!r}: an absolute path")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise SubmissionRefused(f"{shown!r}: a path leading out (..)")
    if not parts:
        raise SubmissionRefused(f"{shown!r}: an empty path")
    if is_hidden(path):
        return None
    if len(path) > MAX_PATH or len(parts) > MAX_DEPTH + 1:
        raise SubmissionRefused(f"{shown!r}: longer than {MAX_PATH} characters or deeper than {MAX_DEPTH} directories")
    for part in parts:
        if not _COMPONENT.match(part):
            raise SubmissionRefused(f"{shown!r}: a name may hold letters, digits and _ . + - only, and not start "
                                    "with . or -")
    return "/".join(parts)
