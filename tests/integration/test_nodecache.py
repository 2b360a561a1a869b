"""The node cache (runner-image/gavel_runner/nodecache.py) against a real S3 server (MinIO on
loopback): it serves an object only to a presigned URL storage accepts, keeps one copy per object
version (ETag), fetches it once however many ask at once, evicts by size, never connects anywhere
but the storage endpoint; and the runner falls back to storage whenever the cache fails."""

from __future__ import annotations

import http.client
import http.server
import io
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from gavel_contract import Task
from gavel_contract.languages import resolve
from gavel_runner import nodecache, storage
from s3server import minio_server

BUCKET = "cache-data"
HOUR = timedelta(hours=1)


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    with minio_server(tmp_path_factory.mktemp("minio") / "data") as server:
        server.client().make_bucket(BUCKET)
        yield server


class Running:
    def __init__(self, s3, directory: Path, max_bytes: int, origins=None):
        self.cache = nodecache.NodeCache(nodecache.Config(
            origins=frozenset(origins or [nodecache.normal_origin(s3.endpoint)]), directory=directory,
            max_bytes=max_bytes, storage_timeout=10))
        self.serve, self.metrics_server = nodecache.servers(self.cache, 0, 0, "127.0.0.1")
        self.url = f"http://127.0.0.1:{self.serve.server_address[1]}"
        self.metrics_url = f"http://127.0.0.1:{self.metrics_server.server_address[1]}/metrics"
        for server in (self.serve, self.metrics_server):
            threading.Thread(target=server.serve_forever, daemon=True).start()

    def ask(self, url: str) -> tuple[int, bytes, str | None]:
        conn = http.client.HTTPConnection(self.url.removeprefix("http://"), timeout=30)
        try:
            conn.request("POST", "/object", body=url.encode())
            resp = conn.getresponse()
            return resp.status, resp.read(), resp.getheader("X-Gavel-Cache")
        finally:
            conn.close()

    def metric(self, name: str, outcome: str | None = None) -> float:
        """A value from /metrics (as Prometheus reads it); 0 when absent."""
        text = urllib.request.urlopen(self.metrics_url, timeout=5).read().decode()
        series = f'{name}{{outcome="{outcome}"}}' if outcome else name
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.split(" ")[0] == series)

    def stop(self):
        for server in (self.serve, self.metrics_server):
            server.shutdown()
            server.server_close()


@pytest.fixture
def cache(s3, tmp_path):
    running = Running(s3, tmp_path / "cache", 64 << 20)
    yield running
    running.stop()


def upload(s3, data: bytes, key: str | None = None) -> str:
    key = key or f"obj/{uuid.uuid4().hex}"
    s3.client().put_object(BUCKET, key, io.BytesIO(data), len(data))
    return key


def presign(s3, key: str, expires=HOUR) -> str:
    return s3.client().presigned_get_object(BUCKET, key, expires=expires)


def test_a_valid_url_is_fetched_once_then_served_from_the_copy(s3, cache):
    data = os.urandom(3 << 20)
    key = upload(s3, data)
    assert cache.ask(presign(s3, key)) == (200, data, "miss")
    # another Evaluation's URL for the same object (signed afresh): served from the copy
    assert cache.ask(presign(s3, key)) == (200, data, "hit")
    assert cache.metric("gavel_cache_fetches_total") == 1
    assert cache.metric("gavel_cache_validations_total") == 2
    # what storage sent: the object once, and one byte per validation
    assert cache.metric("gavel_cache_storage_bytes_total") == len(data) + 2
    assert cache.metric("gavel_cache_served_bytes_total") == 2 * len(data)
    assert cache.metric("gavel_cache_objects") == 1


def test_urls_storage_refuses_get_nothing_whatever_is_cached(s3, cache):
    data = b"the answers\n" * 1000
    key = upload(s3, data)
    good = presign(s3, key)
    assert cache.ask(good)[0] == 200  # cached now: refusals must not depend on it
    forged = good[:-8] + "00000000"  # the signature altered
    other_key = good.replace(key, key + "x", 1)  # a signature for another object
    expired = presign(s3, key, expires=timedelta(seconds=1))
    unsigned = good.split("?")[0] + "?X-Amz-Signature=" + "0" * 64
    time.sleep(2)
    for url in (forged, other_key, expired, unsigned):
        status, body, _ = cache.ask(url)
        assert status == 403 and data[:10] not in body, (url, status, body)
    assert cache.metric("gavel_cache_requests_total", "refused") == 4
    missing = presign(s3, "obj/never-uploaded")
    assert cache.ask(missing)[0] == 403


def test_only_the_storage_endpoint_is_ever_contacted(s3, cache):
    """No SSRF: a URL of any other host or port, or anything but a presigned GET URL, is refused
    before any connection (a listener on another port sees none)."""
    hits = []

    class Trap(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    trap = http.server.HTTPServer(("127.0.0.1", 0), Trap)
    threading.Thread(target=trap.serve_forever, daemon=True).start()
    try:
        key = upload(s3, b"x" * 100)
        good = presign(s3, key)
        host, port = s3.endpoint.split(":")
        trap_port = trap.server_address[1]
        validations = cache.metric("gavel_cache_validations_total")
        for url in (good.replace(f":{port}/", f":{trap_port}/", 1),  # another port, same host
                    good.replace(host, "localhost", 1),  # another name for it
                    good.replace("http://", "https://", 1),
                    f"http://127.0.0.1:{trap_port}/anything?X-Amz-Signature=1",
                    good + "&versionId=abc",  # not the signature's own parameters
                    good.split("?")[0],  # not presigned
                    good.replace(f"/{BUCKET}/", f"/{BUCKET}/../{BUCKET}/", 1),
                    "file:///etc/passwd", "gopher://127.0.0.1/x", "http://user:pw@" + good.split("://")[1],
                    "not a url"):
            status, body, _ = cache.ask(url)
            assert status == 403 and body.startswith(b"refused"), (url, status, body)
        assert hits == [], hits
        assert cache.metric("gavel_cache_validations_total") == validations  # storage not asked either
    finally:
        trap.shutdown()
        trap.server_close()


def test_copies_are_keyed_by_etag(s3, cache):
    """Content-addressed: an object rewritten is another copy; a URL signed before the rewrite gets
    what storage would give it now, never the old copy."""
    key = upload(s3, b"version one\n")
    old_url = presign(s3, key)
    assert cache.ask(old_url)[1:] == (b"version one\n", "miss")
    upload(s3, b"version two, longer\n", key)
    assert cache.ask(old_url)[1:] == (b"version two, longer\n", "miss")
    assert cache.ask(presign(s3, key))[1:] == (b"version two, longer\n", "hit")
    assert cache.metric("gavel_cache_objects") == 2  # the old version waits for eviction


def test_concurrent_requests_for_one_object_fetch_it_once(s3, cache):
    data = os.urandom(24 << 20)
    key = upload(s3, data)
    results = []

    def one():
        results.append(cache.ask(presign(s3, key)))

    threads = [threading.Thread(target=one) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r[:2] for r in results] == [(200, data)] * 12
    assert sorted(r[2] for r in results).count("miss") == 1, [r[2] for r in results]
    assert cache.metric("gavel_cache_fetches_total") == 1
    assert cache.metric("gavel_cache_storage_bytes_total") == len(data) + 12


def test_eviction_by_size_least_recently_used_first(s3, tmp_path):
    small = Running(s3, tmp_path / "small", 3 << 20)
    try:
        blobs = {name: os.urandom(1200 << 10) for name in "abc"}
        keys = {name: upload(s3, data) for name, data in blobs.items()}
        assert small.ask(presign(s3, keys["a"]))[2] == "miss"
        assert small.ask(presign(s3, keys["b"]))[2] == "miss"
        assert small.ask(presign(s3, keys["a"]))[2] == "hit"  # a is now the more recent
        assert small.ask(presign(s3, keys["c"]))[2] == "miss"  # 3.5 MiB > 3 MiB: b goes
        assert small.metric("gavel_cache_evictions_total") == 1
        assert small.ask(presign(s3, keys["a"]))[1:] == (blobs["a"], "hit")
        assert small.ask(presign(s3, keys["b"]))[1:] == (blobs["b"], "miss")
        assert small.metric("gavel_cache_bytes") <= 3 << 20
        held = sum(p.stat().st_size for p in (tmp_path / "small").iterdir())
        assert held <= 3 << 20
        # larger than the whole cache: not cached (the runner fetches it directly)
        big = upload(s3, os.urandom(4 << 20))
        assert small.ask(presign(s3, big))[0] == 413
    finally:
        small.stop()


def test_an_empty_object_is_served_empty(s3, cache):
    key = upload(s3, b"")
    assert cache.ask(presign(s3, key)) == (200, b"", "empty")


def test_the_runner_falls_back_to_storage_when_the_cache_fails(s3, cache, tmp_path):
    data = b"42\n" * 100
    key = upload(s3, data)
    # no cache there: the first failure gives it up for the rest of the judgement
    closed = storage.NodeCache("http://127.0.0.1:9")
    assert closed.obtain(presign(s3, key), tmp_path / "a").read_bytes() == data
    assert closed.url is None and closed.outcomes == {"direct": 1}
    # a cache that refuses (not its storage endpoint): this object directly, the cache kept
    elsewhere = Running(s3, tmp_path / "elsewhere", 1 << 20, origins=["http://storage.invalid:9000"])
    try:
        refusing = storage.NodeCache(elsewhere.url)
        assert refusing.obtain(presign(s3, key), tmp_path / "b").read_bytes() == data
        assert refusing.url == elsewhere.url and refusing.outcomes == {"direct": 1}
    finally:
        elsewhere.stop()
    working = storage.NodeCache(cache.url)
    for name in ("c", "d"):
        assert working.obtain(presign(s3, key), tmp_path / name).read_bytes() == data
    assert working.outcomes == {"miss": 1, "hit": 1}
    # a URL storage refuses fails as it always did, naming the object, never its signature
    with pytest.raises(storage.StorageError, match="403") as err:
        working.obtain(presign(s3, key)[:-4] + "0000", tmp_path / "e")
    assert "X-Amz-Signature" not in str(err.value)


def test_gavel_runner_judges_through_the_cache_process(s3, tmp_path):
    """`gavel-runner cache` as the DaemonSet runs it, and `gavel-runner run` with task.nodeCache:
    the second judgement of the same tests reads them from the cache."""
    port, metrics_port = _free_port(), _free_port()
    server = subprocess.Popen([str(Path(sys.executable).with_name("gavel-runner")), "cache", "--storage", s3.endpoint,
                               "--dir", str(tmp_path / "cache"), "--max-mi", "64", "--port", str(port),
                               "--metrics-port", str(metrics_port), "--host", "127.0.0.1"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for(f"http://127.0.0.1:{metrics_port}/healthz")
        client = s3.client()
        tests = {"1": upload(s3, b"1 2\n"), "1a": upload(s3, b"3\n"), "2": upload(s3, b"40 2\n"), "2a": upload(s3, b"42\n")}
        source = upload(s3, b"a, b = map(int, input().split())\nprint(a + b)\n")
        lang, ver = resolve("python")

        def run(n: int) -> dict:
            task = Task.model_validate({
                "apiVersion": "gavel.dev/task/v1", "language": ver.model_dump(by_alias=True, mode="json"),
                "languageName": lang.name, "submission": presign(s3, source), "nodeCache": f"http://127.0.0.1:{port}",
                "tests": [{"name": t, "input": presign(s3, tests[t]), "expected": presign(s3, tests[t + "a"]),
                           "limits": {"timeMs": 2000, "memoryKb": 65536}} for t in ("1", "2")]})
            task_file = tmp_path / f"task{n}.json"
            task_file.write_text(task.document())
            proc = subprocess.run([str(Path(sys.executable).with_name("gavel-runner")), "run", str(task_file),
                                   "--termination-log", ""], capture_output=True, text=True, timeout=120)
            assert proc.returncode == 0, proc.stderr
            return json.loads(proc.stdout), proc.stderr

        first, log1 = run(1)
        second, log2 = run(2)
        assert first["verdict"] == second["verdict"] == "Accepted"
        assert "tests through the node cache: 4 miss" in log1, log1
        assert "tests through the node cache: 4 hit" in log2, log2
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
        assert "gavel_cache_fetches_total 4" in metrics and 'outcome="hit"} 4' in metrics, metrics
        del client
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=10)
    assert "X-Amz" not in out, out  # a URL is a credential: never logged


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            assert time.monotonic() < deadline, f"{url} never answered"
            time.sleep(0.1)
