"""Where one judgement's files live, and who may touch them.

The runner is root; the submission and the checker run as throwaway uids. Nothing those uids
could have written is ever followed by root by path, so every directory root resolves a path
through is one they cannot rename, replace or add entries to:

    WORK/gavel-XXXX/        0711 root  (work base: a root-only emptyDir in the pod, 0711)
        private/            0700 root  inputs, answers, captured stdout/stderr, diff, reports
        check/              0750 root:checker  the current test's input/output/answer, for the checker
    BOX/gavel-XXXX/         0711 root  (sandbox base: a size-capped memory emptyDir in the pod, 0711;
                                        on a laptop BOX and WORK are the same directory)
        build/              the submission's: the sandbox uid's while compiling, then root's, read-only
        run/                the scratch directory of one test, the sandbox uid's, made anew per test
        checker/            the checker's build: its uid's while compiling, then root:checker 0750
        checker-run/        the checker's scratch, its uid's

In a pod, an emptyDir is made mode 0777 *without* the sticky bit: any uid could rename what sits
directly in it. `secure_base` closes that before anything is made there.
"""

from __future__ import annotations

import os
import shutil
import stat
import time
from pathlib import Path

CLOCK_REALTIME_COARSE = 5  # <linux/time.h>; the clock that file timestamps are taken from


class UnsafeDirectory(RuntimeError):
    """A judgement cannot be isolated here: another user could replace what root reads."""


def secure_base(path: Path, owned_mount: bool = False) -> Path:
    """`path`, resolved, once no other user can rename or add entries in it or any ancestor.
    `owned_mount`: the pod's own emptyDir (GAVEL_WORK_DIR, GAVEL_SANDBOX_DIR), made 0711 here."""
    path = Path(os.path.realpath(path))
    if owned_mount and os.geteuid() == 0:
        os.chown(path, 0, 0)
        os.chmod(path, 0o711)
    if os.geteuid() != 0:
        return path  # nothing runs as another user: nothing to defend against (judge.py warns)
    for d in (path, *path.parents):
        st = os.lstat(d)
        open_to_others = st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX
        if st.st_uid != 0 or open_to_others or stat.S_ISLNK(st.st_mode):
            raise UnsafeDirectory(
                f"{d} is {'writable by others without the sticky bit' if open_to_others else 'not root-owned'}: "
                "a submission could replace the judgement's files there")
    return path


def chown_tree(path: Path, uid: int, gid: int) -> None:
    """Hand a tree root made to a sandbox uid (before it runs: nothing of that uid is alive)."""
    os.chown(path, uid, gid)
    for dirpath, dirnames, filenames, dirfd in os.fwalk(path, follow_symlinks=False):
        for name in dirnames + filenames:
            os.chown(name, uid, gid, dir_fd=dirfd, follow_symlinks=False)


def seal(path: Path, gid: int = 0, others: bool = True) -> None:
    """After compiling, with every process of the compiling uid gone: root owns the tree,
    readable (by `gid` only when not `others`), writable by none. Through directory descriptors,
    never following a link the compiler's uid left; anything but files, directories and links
    (a FIFO, a socket, a hard link to someone else's file) is removed."""
    read = 0o555 if others else 0o550
    os.chown(path, 0, gid, follow_symlinks=False)
    os.chmod(path, 0o755 if others else 0o750)
    for _, dirnames, filenames, dirfd in os.fwalk(path, follow_symlinks=False):
        for name in dirnames + filenames:
            st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                os.chown(name, 0, gid, dir_fd=dirfd, follow_symlinks=False)
                continue
            if not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)) or \
                    (stat.S_ISREG(st.st_mode) and st.st_nlink > 1):
                os.unlink(name, dir_fd=dirfd)
                continue
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dirfd)
            try:
                os.fchown(fd, 0, gid)
                executable = stat.S_ISDIR(st.st_mode) or st.st_mode & 0o100
                os.fchmod(fd, (read if executable else read & 0o444))
            finally:
                os.close(fd)


# Directories fresh_dir found empty: path -> (device, inode, ctime) then. An entry made, removed or
# renamed in a directory, or a chmod or chown of it, sets its ctime to the clock's current tick, so
# while the ctime is the same nothing was done there. A ctime is kept only when older than the
# clock's tick read before the directory was listed: a change later in that tick could leave it
# the same. (sandbox.c skips its sweeps of /tmp and the like by the same rule.)
_EMPTY: dict[Path, tuple[int, int, int]] = {}


def fresh_dir(path: Path, uid: int, gid: int) -> Path:
    """An empty directory `uid` owns, mode 0700. The last one is kept when it was left exactly
    as made (empty, same owner and mode): a mkdir and rmdir saved per test, and, while its ctime
    says nothing was done there since it was found empty, the listing too. Its parent is root's
    and closed to others, so `path` itself cannot have been swapped."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    if st is not None:
        if st.st_uid == uid and st.st_mode == stat.S_IFDIR | 0o700:
            seen = (st.st_dev, st.st_ino, st.st_ctime_ns)
            if _EMPTY.get(path) == seen:
                return path
            tick = time.clock_gettime_ns(CLOCK_REALTIME_COARSE)
            if not os.listdir(path):
                if st.st_ctime_ns < tick:
                    if len(_EMPTY) >= 64:
                        _EMPTY.clear()
                    _EMPTY[path] = seen
                return path
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(path)  # fd-based on Linux: never follows a link inside
        else:
            os.unlink(path)
    os.mkdir(path, 0o700)
    os.chown(path, uid, gid)
    return path


def expose(files: dict[str, Path], where: Path, gid: int) -> dict[str, Path]:
    """Copies of `files` under `where` (root:gid 0750) readable by group `gid` only: the checker
    sees this test's input, output and answer, and nothing else of the judgement."""
    shutil.rmtree(where, ignore_errors=True)
    os.mkdir(where, 0o750)
    os.chown(where, -1, gid)
    out = {}
    for name, src in files.items():
        dst = where / name
        fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            with os.fdopen(os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o640), "wb") as w:
                os.fchown(w.fileno(), -1, gid)
                while chunk := os.read(fd, 1 << 20):
                    w.write(chunk)
        finally:
            os.close(fd)
        out[name] = dst
    return out
