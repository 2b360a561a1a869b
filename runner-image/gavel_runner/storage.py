"""Fetch and store objects named by a Location: a presigned http(s) URL or a local path."""

from __future__ import annotations

import http.client
import io
import logging
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

TIMEOUT_S = 60
CHUNK = 1 << 20
CACHE_CONNECT_S = 3  # the node cache answers at once or is not there (no cache pod on this node)
CACHE_TIMEOUT_S = 300  # while it fetches a large object from storage for every runner waiting on it

log = logging.getLogger("gavel.runner")


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


class CacheError(RuntimeError):
    """The node cache did not serve the object (absent, refused, failed): fetch it directly.
    `answered`: it was reached (and refused or failed this object); else it is not there."""

    def __init__(self, message: str, answered: bool):
        super().__init__(message)
        self.answered = answered


class NodeCache:
    """The node cache a runner's fetches go through (task.nodeCache), given up for the rest of the
    judgement once it cannot be reached (so a node without one costs one connect timeout)."""

    def __init__(self, url: str | None):
        self.url = url
        self.outcomes: dict[str, int] = {}

    def obtain(self, location: str, dest: Path, dirs: dict[str, str] | None = None) -> Path:
        if self.url and is_url(location):
            try:
                outcome = fetch_cached(self.url, location, dest)
                self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
                return dest
            except CacheError as err:
                self.outcomes["direct"] = self.outcomes.get("direct", 0) + 1
                log.warning("%s; fetching %s directly", err, redact(location))
                if not err.answered:
                    self.url = None
        return obtain(location, dest, dirs)


def fetch_cached(cache: str, location: str, dest: Path) -> str:
    """Download `location` (a presigned URL) through the node cache at `cache` (http://host:port;
    nodecache.py), which checks the URL with storage and serves its copy; the outcome it reports
    (hit, shared, miss, empty), or CacheError."""
    parts = urlsplit(cache)
    conn = http.client.HTTPConnection(parts.netloc, timeout=CACHE_CONNECT_S)
    got = 0
    try:
        conn.connect()
        conn.sock.settimeout(CACHE_TIMEOUT_S)
        body = location.encode()
        conn.request("POST", "/object", body=body, headers={"Content-Type": "text/plain"})
        resp = conn.getresponse()
        if resp.status != 200:
            raise CacheError(f"node cache answered {resp.status}: {resp.read(200).decode(errors='replace').strip()}",
                             answered=True)
        size = int(resp.getheader("Content-Length") or -1)
        with open(dest, "wb") as out:
            while chunk := resp.read(CHUNK):
                got += len(chunk)
                out.write(chunk)
        if got != size:
            raise CacheError(f"node cache sent {got} bytes of {size}", answered=True)
        return resp.getheader("X-Gavel-Cache") or "?"
    except (OSError, ValueError, http.client.HTTPException) as err:
        raise CacheError(f"node cache at {cache}: {type(err).__name__}: {err}", answered=got > 0) from None
    finally:
        conn.close()


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
