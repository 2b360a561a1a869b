"""Reading a submitted archive (zip, tar, tar.gz/.bz2/.xz) into memory, as the hostile file it may be.

The runner reads it as root, before anything of the submission runs, and writes nothing from it
but plain files with names it checked (multifile.py). So here: every member's name is checked
(no absolute path, no `..`: gavel_contract.submission.checked_path), and only regular files and
directories are taken: a symbolic or hard link, a device, a FIFO is refused by name. Sizes are
counted as bytes come out of the decompressor, never taken from headers, and reading stops the
moment the total passes the limit: a zip bomb (or the "better zip bomb" of overlapping entries,
or a gzip stream of zeros) costs at most the limit. A tar's decompressed stream is capped as a
whole too, so that its own headers (a pax header of a gigabyte) cannot grow the runner.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import stat
import tarfile
import zipfile
from collections.abc import Iterator

from gavel_contract.submission import MAX_BYTES, MAX_ENTRIES, ArchiveFormat, SubmissionRefused

PIECE = 64 << 10
TAR_OVERHEAD = 4 << 20  # a tar stream's headers and padding, beyond its files' bytes


class _Budget:
    """What is left of MAX_BYTES for the files still to come."""

    def __init__(self, limit: int = MAX_BYTES):
        self.limit, self.used = limit, 0

    def take(self, n: int) -> None:
        self.used += n
        if self.used > self.limit:
            raise SubmissionRefused(f"the files unpack to more than {self.limit >> 20} MiB (the limit)")


def _drain(stream, budget: _Budget) -> bytes:
    parts = []
    while piece := stream.read(PIECE):
        budget.take(len(piece))
        parts.append(piece)
    return b"".join(parts)


def read_archive(data: bytes, fmt: ArchiveFormat, limit: int = MAX_BYTES) -> list[tuple[str, bytes]]:
    """The archive's regular files as (name as stored, content), directories left out; names are
    checked by the caller. SubmissionRefused when it is damaged, holds what is not a plain file, has
    more than MAX_ENTRIES entries or unpacks to more than `limit` bytes."""
    budget = _Budget(limit)
    try:
        members = _zip_members(data, budget) if fmt == ArchiveFormat.ZIP else _tar_members(data, budget)
        return list(members)
    except SubmissionRefused:
        raise
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, lzma.LZMAError, ValueError, NotImplementedError,
            RuntimeError) as err:  # RuntimeError: zipfile on an encrypted member; ValueError: bz2/gzip damage
        raise SubmissionRefused(f"cannot read the {fmt.value} archive: {err}") from None


# --- zip ----------------------------------------------------------------------------------------------

_ZIP_UNIX = 3  # ZipInfo.create_system of an archive made on Unix: external_attr's top half is st_mode


def _zip_members(data: bytes, budget: _Budget) -> Iterator[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = zf.infolist()
        if len(infos) > MAX_ENTRIES:
            raise SubmissionRefused(f"the archive has {len(infos)} entries, more than {MAX_ENTRIES}")
        for info in infos:
            mode = info.external_attr >> 16
            kind = stat.S_IFMT(mode) if info.create_system == _ZIP_UNIX else 0
            if kind == stat.S_IFLNK:
                raise SubmissionRefused(f"{info.filename!r} is a symbolic link: links are not taken")
            if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
                raise SubmissionRefused(f"{info.filename!r} is not a regular file (mode {oct(mode)})")
            if info.flag_bits & 0x1:
                raise SubmissionRefused(f"{info.filename!r} is encrypted")
            if info.is_dir() or kind == stat.S_IFDIR:
                continue
            with zf.open(info) as member:  # checks the CRC at the end: a damaged member is refused
                yield info.filename, _drain(member, budget)


# --- tar ----------------------------------------------------------------------------------------------

class _Capped(io.RawIOBase):
    """A decompressed stream that refuses to give more than `cap` bytes in all."""

    def __init__(self, inner, cap: int):
        self.inner, self.left, self.cap = inner, cap, cap

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.inner.read(min(len(buffer), self.left + 1))
        if len(data) > self.left:
            raise SubmissionRefused(f"the archive unpacks to more than {self.cap >> 20} MiB")
        self.left -= len(data)
        buffer[:len(data)] = data
        return len(data)


def _decompressed(data: bytes):
    raw = io.BytesIO(data)
    if data[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw)
    if data[:3] == b"BZh":
        return bz2.BZ2File(raw)
    if data[:6] == b"\xfd7zXZ\x00":
        return lzma.LZMAFile(raw)
    return raw


_TAR_KINDS = {tarfile.SYMTYPE: "a symbolic link", tarfile.LNKTYPE: "a hard link", tarfile.CHRTYPE: "a character device",
              tarfile.BLKTYPE: "a block device", tarfile.FIFOTYPE: "a FIFO", tarfile.CONTTYPE: "a contiguous file",
              tarfile.GNUTYPE_SPARSE: "a sparse file"}


def _tar_members(data: bytes, budget: _Budget) -> Iterator[tuple[str, bytes]]:
    stream = io.BufferedReader(_Capped(_decompressed(data), budget.limit + TAR_OVERHEAD), PIECE)
    with tarfile.open(fileobj=stream, mode="r|") as tf:  # a stream: members read in order, once
        for count, member in enumerate(tf, 1):
            if count > MAX_ENTRIES:
                raise SubmissionRefused(f"the archive has more than {MAX_ENTRIES} entries")
            if member.isdir():
                continue
            if not member.isreg():
                what = _TAR_KINDS.get(member.type, f"of type {member.type!r}")
                raise SubmissionRefused(f"{member.name!r} is {what}: only regular files are taken")
            if member.size > budget.limit - budget.used:
                budget.take(member.size)  # refused before reading: its header says it is too large
            reader = tf.extractfile(member)
            yield member.name, _drain(reader, budget)
