"""The node cache: one copy of each test file per node, shared by that node's runner pods.

Run as a DaemonSet (`gavel-runner cache`, the chart's `cache.enabled`), reached by runner pods
through a Service with `internalTrafficPolicy: Local`, so a pod always talks to the cache of its
own node. A runner asks for an object by handing over the presigned GET URL its task holds
(`POST /object`, the URL as the body); the cache holds no storage credential and trusts nothing
the caller says:

- only a presigned URL of the configured storage endpoint is taken (scheme, host and port equal
  to one of `origins`, nothing in the query but the signature's own parameters): the cache never
  connects anywhere else (no SSRF);
- every request is checked with storage itself: a ranged GET (`Range: bytes=0-0`) through the
  caller's URL, which storage answers only for a valid, unexpired signature of that object, and
  which gives its ETag and size. A URL storage refuses gets nothing, whatever the cache holds;
  the answer never depends on what is cached;
- the copy is keyed by (endpoint, path, ETag): another version of the object is another entry,
  and a copy is only ever what the cache fetched itself through a URL storage accepted, with
  `If-Match` on that ETag and the length checked (it cannot be poisoned by a caller);
- concurrent requests for the same object fetch it once; the others wait for that copy;
- the copies live in a size-capped directory (an emptyDir), evicted least recently used first.

Any error is an HTTP error status (the runner then fetches directly: the cache can never fail a
judgement). Counters for Prometheus are served on a second port (`/metrics`), which the runner
pods' egress policy does not open.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import logging
import os
import re
import shutil
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

log = logging.getLogger("gavel.cache")

# what a presigned S3 GET URL carries in its query (SigV4, and V2's for older servers); anything
# else (versionId, partNumber, response-* overrides) would change what is served under the same key
SIGNATURE_PARAMS = {"x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-expires", "x-amz-signedheaders",
                    "x-amz-signature", "x-amz-security-token", "awsaccesskeyid", "expires", "signature"}
MAX_URL = 8192
CHUNK = 1 << 20
CONTENT_RANGE = re.compile(r"^bytes 0-0/(\d+)$")


class Refused(Exception):
    """The request is not one the cache serves (status 403): not a presigned URL of the storage
    endpoint, or storage does not accept it."""


class Unavailable(Exception):
    """The cache cannot serve it now (status 502, 503 or 413): storage failed, too large, busy."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass
class Config:
    origins: frozenset[str]  # "http://host:port" of the storage endpoint(s) presigned URLs name
    directory: Path
    max_bytes: int
    storage_timeout: float = 30.0
    max_clients: int = 64  # requests served at once; more get 503 (the runner fetches directly)


@dataclass
class Counters:
    requests: dict[str, int] = field(default_factory=dict)  # outcome -> count
    validations: int = 0  # ranged GETs to storage (one per request that passed the URL checks)
    fetches: int = 0  # whole-object GETs to storage
    storage_bytes: int = 0  # body bytes read from storage: fetched objects and validation bytes
    served_bytes: int = 0
    evictions: int = 0


def origin(url: str) -> tuple[str, str, str]:
    """(origin, path, query) of a URL the cache may take, or Refused."""
    if len(url) > MAX_URL:
        raise Refused("URL too long")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Refused("not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password \
            or parts.fragment:
        raise Refused("not a presigned URL")
    port = port or (443 if parts.scheme == "https" else 80)
    names = {k.lower() for k, _ in parse_qsl(parts.query, keep_blank_values=True)}
    if not names or not names <= SIGNATURE_PARAMS or not names & {"x-amz-signature", "signature"}:
        raise Refused("not a presigned URL")
    if not parts.path.startswith("/") or "/../" in parts.path + "/" or "/./" in parts.path + "/":
        raise Refused("not a presigned URL")
    return f"{parts.scheme}://{parts.hostname.lower()}:{port}", parts.path, parts.query


def normal_origin(text: str) -> str:
    """`host:port` or `http(s)://host[:port]` as the origin() form."""
    if "://" not in text:
        text = f"http://{text}"
    parts = urlsplit(text)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


class NodeCache:
    def __init__(self, config: Config):
        self.config = config
        self.dir = config.directory
        self.entries: OrderedDict[str, int] = OrderedDict()  # key -> size, least recently used first
        self.used = 0  # bytes of entries and of fetches in progress (reserved)
        self.inflight: dict[str, threading.Event] = {}
        self.lock = threading.Lock()
        self.counters = Counters()
        self.clients = threading.BoundedSemaphore(config.max_clients)
        # start empty: a restarted container's leftovers (partial files) are not trusted
        if self.dir.exists():
            for child in self.dir.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
        self.dir.mkdir(parents=True, exist_ok=True)

    # --- storage ---------------------------------------------------------------------------

    def _connect(self, scheme: str, netloc: str) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
        return cls(netloc, timeout=self.config.storage_timeout)

    def validate(self, url: str) -> tuple[str, int, str]:
        """Ask storage whether `url` is a valid GET of an object now: (key, size, etag), or Refused.
        The key names the object's version: (endpoint, path, ETag)."""
        org, path, query = origin(url)
        if org not in self.config.origins:
            raise Refused("not a URL of the storage endpoint")
        parts = urlsplit(url)
        conn = self._connect(parts.scheme, parts.netloc)
        try:
            conn.request("GET", f"{path}?{query}", headers={"Range": "bytes=0-0"})
            resp = conn.getresponse()
            with self.lock:
                self.counters.validations += 1
            etag = resp.getheader("ETag") or ""
            if resp.status == 206:
                body = resp.read(2)
                match = CONTENT_RANGE.match(resp.getheader("Content-Range") or "")
                with self.lock:
                    self.counters.storage_bytes += len(body)
                if not match or not etag or len(body) != 1:
                    raise Unavailable(502, "storage answered the range request oddly")
                size = int(match.group(1))
            elif resp.status == 416:  # an empty object: valid signature, nothing to fetch
                size, etag = 0, etag or "empty"
            elif resp.status in (500, 502, 503, 504):
                raise Unavailable(502, f"storage answered {resp.status}")
            else:  # 403 (bad or expired signature), 404, 200 (a range ignored: not what we asked)
                raise Refused("storage does not accept the URL")
        except OSError as err:
            raise Unavailable(502, f"storage unreachable: {type(err).__name__}") from None
        finally:
            conn.close()
        key = hashlib.sha256(f"{org}{path}\0{etag}".encode()).hexdigest()
        return key, size, etag

    def _download(self, url: str, key: str, size: int, etag: str) -> None:
        parts = urlsplit(url)
        part = self.dir / f".{key}.part"
        conn = self._connect(parts.scheme, parts.netloc)
        got = 0
        try:
            conn.request("GET", f"{parts.path}?{parts.query}", headers={"If-Match": etag})
            resp = conn.getresponse()
            with self.lock:
                self.counters.fetches += 1
            if resp.status != 200:
                raise Unavailable(502, f"storage answered {resp.status} to the fetch")
            fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as out:
                while chunk := resp.read(CHUNK):
                    got += len(chunk)
                    if got > size:
                        break
                    out.write(chunk)
            if got != size:
                raise Unavailable(502, f"storage sent {got} bytes of {size}")
            os.replace(part, self.dir / key)
        except OSError as err:
            raise Unavailable(502, f"fetch failed: {type(err).__name__}") from None
        finally:
            conn.close()
            with self.lock:
                self.counters.storage_bytes += got
            part.unlink(missing_ok=True)

    # --- the cache -------------------------------------------------------------------------

    def _make_room(self, size: int) -> None:
        """Evict least recently used copies until `size` more bytes fit (under the lock). A copy
        being sent stays readable through its open file until that ends."""
        if size > self.config.max_bytes:
            raise Unavailable(413, "larger than the cache")
        while self.used + size > self.config.max_bytes and self.entries:
            old, old_size = self.entries.popitem(last=False)
            (self.dir / old).unlink(missing_ok=True)
            self.used -= old_size
            self.counters.evictions += 1
        if self.used + size > self.config.max_bytes:
            raise Unavailable(503, "the cache is full of fetches in progress")

    def _open(self, key: str):
        """The copy, opened (under the lock), and marked recently used; None if absent."""
        if key not in self.entries:
            return None
        try:
            f = open(self.dir / key, "rb")
        except OSError:
            self.used -= self.entries.pop(key)
            return None
        self.entries.move_to_end(key)
        return f

    def get(self, url: str):
        """(open file, size, etag, outcome) for a valid presigned URL; Refused or Unavailable."""
        key, size, etag = self.validate(url)
        if size == 0:
            return None, 0, etag, "empty"
        outcome = "hit"
        while True:
            with self.lock:
                if (f := self._open(key)) is not None:
                    return f, size, etag, outcome
                if (event := self.inflight.get(key)) is None:
                    self._make_room(size)
                    self.used += size
                    event = self.inflight[key] = threading.Event()
                    break
            # another request fetches it: wait for its copy (once), then serve that
            if not event.wait(self.config.storage_timeout * 10) or outcome == "shared":
                raise Unavailable(502, "a concurrent fetch of the object failed")
            outcome = "shared"
        try:
            self._download(url, key, size, etag)
        except BaseException:
            with self.lock:
                self.used -= size
                del self.inflight[key]
            event.set()
            raise
        with self.lock:
            self.entries[key] = size
            del self.inflight[key]
            f = self._open(key)
        event.set()
        if f is None:
            raise Unavailable(502, "the copy vanished")
        return f, size, etag, "miss"

    def count(self, outcome: str, served: int = 0) -> None:
        with self.lock:
            self.counters.requests[outcome] = self.counters.requests.get(outcome, 0) + 1
            self.counters.served_bytes += served

    def metrics(self) -> str:
        with self.lock:
            c = self.counters
            lines = ["# HELP gavel_cache_requests_total Requests for an object, by outcome "
                     "(hit, shared: waited for a concurrent fetch, miss: fetched, empty, refused, error).",
                     "# TYPE gavel_cache_requests_total counter"]
            lines += [f'gavel_cache_requests_total{{outcome="{k}"}} {v}' for k, v in sorted(c.requests.items())]
            for name, kind, value, what in [
                    ("gavel_cache_validations_total", "counter", c.validations, "ranged GETs that checked a URL with storage"),
                    ("gavel_cache_fetches_total", "counter", c.fetches, "whole objects fetched from storage"),
                    ("gavel_cache_storage_bytes_total", "counter", c.storage_bytes, "body bytes read from storage"),
                    ("gavel_cache_served_bytes_total", "counter", c.served_bytes, "bytes sent to runners"),
                    ("gavel_cache_evictions_total", "counter", c.evictions, "copies evicted to make room"),
                    ("gavel_cache_bytes", "gauge", self.used, "bytes held and reserved for fetches in progress"),
                    ("gavel_cache_objects", "gauge", len(self.entries), "copies held"),
                    ("gavel_cache_capacity_bytes", "gauge", self.config.max_bytes, "the size cap")]:
                lines += [f"# HELP {name} {what}.", f"# TYPE {name} {kind}", f"{name} {value}"]
        return "\n".join(lines) + "\n"


class _Handler(BaseHTTPRequestHandler):
    cache: NodeCache
    timeout = 20  # a client that sends nothing for this long is dropped (a slow request costs a slot)
    protocol_version = "HTTP/1.1"
    server_version = "gavel-cache"
    sys_version = ""

    def log_message(self, fmt, *args):  # the URL is a credential: never logged; access log at debug
        log.debug("%s %s", self.address_string(), fmt % args)

    def _reply(self, status: int, text: str) -> None:
        body = (text + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802
        self._reply(404, "POST /object with a presigned URL")

    def do_POST(self):  # noqa: N802
        if self.path != "/object":
            self._reply(404, "POST /object with a presigned URL")
            return
        try:
            length = int(self.headers.get("Content-Length") or -1)
        except ValueError:
            length = -1
        if not 0 < length <= MAX_URL:
            self.close_connection = True
            self._reply(400, "the body must be a URL")
            return
        url = self.rfile.read(length).decode(errors="replace").strip()
        if not self.cache.clients.acquire(blocking=False):
            self.cache.count("busy")
            self._reply(503, "busy")
            return
        try:
            self._serve(url)
        finally:
            self.cache.clients.release()

    def _serve(self, url: str) -> None:
        cache = self.cache
        try:
            f, size, etag, outcome = cache.get(url)
        except Refused as err:
            cache.count("refused")
            self._reply(403, f"refused: {err}")
            return
        except Unavailable as err:
            cache.count("error")
            log.warning("cannot serve an object: %s", err)
            self._reply(err.status, str(err))
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.send_header("ETag", etag)
        self.send_header("X-Gavel-Cache", outcome)
        self.end_headers()
        sent = 0
        if f is not None:
            with f:
                self.wfile.flush()
                try:
                    sent = self.connection.sendfile(f)
                except OSError:
                    self.close_connection = True
        cache.count(outcome, sent)


class _MetricsHandler(BaseHTTPRequestHandler):
    cache: NodeCache
    timeout = 10

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):  # noqa: N802
        if self.path == "/metrics":
            body, kind = self.cache.metrics().encode(), "text/plain; version=0.0.4"
        elif self.path == "/healthz":
            body, kind = b"ok\n", "text/plain"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def servers(cache: NodeCache, port: int, metrics_port: int,
            host: str = "0.0.0.0") -> tuple[ThreadingHTTPServer, ThreadingHTTPServer]:
    handler = type("Handler", (_Handler,), {"cache": cache})
    metrics = type("MetricsHandler", (_MetricsHandler,), {"cache": cache})
    return _Server((host, port), handler), _Server((host, metrics_port), metrics)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gavel-runner cache", description=__doc__.split("\n\n")[0])
    parser.add_argument("--storage", action="append", default=[],
                        help="storage endpoint presigned URLs name (host:port or http(s)://host:port); repeatable "
                             "(default: GAVEL_CACHE_STORAGE, comma-separated)")
    parser.add_argument("--dir", default=os.environ.get("GAVEL_CACHE_DIR", "/cache"))
    parser.add_argument("--max-mi", type=int, default=int(os.environ.get("GAVEL_CACHE_MAX_MI", "2048")))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GAVEL_CACHE_PORT", "8090")))
    parser.add_argument("--metrics-port", type=int, default=int(os.environ.get("GAVEL_CACHE_METRICS_PORT", "8091")))
    parser.add_argument("--max-clients", type=int, default=int(os.environ.get("GAVEL_CACHE_MAX_CLIENTS", "64")))
    parser.add_argument("--host", default="0.0.0.0")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    storage = args.storage or [s for s in os.environ.get("GAVEL_CACHE_STORAGE", "").split(",") if s.strip()]
    if not storage:
        parser.error("no storage endpoint (--storage or GAVEL_CACHE_STORAGE)")
    cache = NodeCache(Config(origins=frozenset(normal_origin(s.strip()) for s in storage),
                             directory=Path(args.dir), max_bytes=args.max_mi << 20,
                             max_clients=args.max_clients))
    serve, metrics = servers(cache, args.port, args.metrics_port, args.host)
    threading.Thread(target=metrics.serve_forever, daemon=True).start()
    log.info("node cache on :%d (metrics :%d) for %s, %d MiB in %s", args.port, args.metrics_port,
             ", ".join(sorted(cache.config.origins)), args.max_mi, args.dir)
    import signal

    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=serve.shutdown).start())
    started = time.monotonic()
    serve.serve_forever()
    log.info("stopped after %.0f s", time.monotonic() - started)
    return 0
