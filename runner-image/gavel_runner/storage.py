"""Fetch and store objects named by a Location: a presigned http(s) URL or a local path."""

from __future__ import annotations

import io
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

TIMEOUT_S = 60
CHUNK = 1 << 20


class StorageError(RuntimeError):
    """An object could not be fetched or stored; the message names it, never its signature."""


def is_url(location: str) -> bool:
    return location.startswith(("http://", "https://"))


def redact(location: str) -> str:
    """A presigned URL's query string is a credential: name the object without it."""
    if not is_url(location):
        return location
    parts = urlsplit(location)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _explain(err: Exception) -> str:
    if isinstance(err, urllib.error.HTTPError):
        hint = {403: " (expired or wrongly signed URL?)", 404: " (no such object or bucket)"}.get(err.code, "")
        return f"HTTP {err.code} {err.reason}{hint}"
    if isinstance(err, urllib.error.URLError):
        return f"cannot connect: {err.reason}"
    if isinstance(err, FileNotFoundError):
        return "no such file"
    if isinstance(err, PermissionError):
        return "permission denied"
    return f"{type(err).__name__}: {err}"


def fetch(location: str, dest: Path) -> None:
    """Download or copy `location` to `dest`."""
    try:
        if is_url(location):
            with urllib.request.urlopen(location, timeout=TIMEOUT_S) as resp, open(dest, "wb") as out:
                shutil.copyfileobj(resp, out, CHUNK)
        else:
            shutil.copyfile(location, dest)
    except (OSError, urllib.error.URLError) as err:
        raise StorageError(f"cannot fetch {redact(location)}: {_explain(err)}") from None


def fetch_bytes(location: str, limit: int = 64 << 20) -> bytes:
    """A small object (the task), in memory."""
    try:
        if is_url(location):
            with urllib.request.urlopen(location, timeout=TIMEOUT_S) as resp:
                return resp.read(limit)
        with open(location, "rb") as f:
            return f.read(limit)
    except (OSError, urllib.error.URLError) as err:
        raise StorageError(f"cannot fetch {redact(location)}: {_explain(err)}") from None


def obtain(location: str, dest: Path, dirs: dict[str, str] | None = None) -> Path:
    """A readable local file with the object's content: a URL is downloaded to `dest`, a local
    path is used where it is (copying it would hide nothing: the original stays where it was).
    dirs: directories already resolved, kept by the caller across its calls."""
    if is_url(location):
        fetch(location, dest)
        return dest
    try:
        with open(location, "rb"):
            pass
    except OSError as err:
        raise StorageError(f"cannot fetch {location}: {_explain(err)}") from None
    return Path(_realpath(location, dirs))  # the sandbox opens inputs without following links


def _realpath(path: str, dirs: dict[str, str] | None) -> str:
    """os.path.realpath(path), resolving its directory once for all the files in it (a task's
    tests share a few): one lstat per file, not one per component."""
    if dirs is None:
        return os.path.realpath(path)
    head, name = os.path.split(os.path.abspath(path))
    if (real := dirs.get(head)) is None:
        real = dirs[head] = os.path.realpath(head)
    full = os.path.join(real, name)
    return os.path.realpath(full) if not name or os.path.islink(full) else full


def store(location: str, src: Path | bytes) -> None:
    """Upload or copy `src` (a file, never followed through a link, or bytes) to `location`;
    a local file appears whole or not at all."""
    try:
        if isinstance(src, bytes):
            body, size = io.BytesIO(src), len(src)
        else:
            body = os.fdopen(os.open(src, os.O_RDONLY | os.O_NOFOLLOW), "rb")
            size = os.fstat(body.fileno()).st_size
        with body:
            if is_url(location):
                req = urllib.request.Request(location, data=body, method="PUT",
                                             headers={"Content-Length": str(size)})
                with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
                    resp.read()
            else:
                target = Path(location)
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_name(f".{target.name}.part")
                with open(tmp, "wb") as out:
                    shutil.copyfileobj(body, out, CHUNK)
                os.replace(tmp, target)
    except (OSError, urllib.error.URLError) as err:
        raise StorageError(f"cannot store {redact(location)}: {_explain(err)}") from None
