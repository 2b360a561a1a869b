"""A real S3 server (MinIO) on loopback for the tests: started once, data in a temp dir."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class S3:
    endpoint: str  # host:port
    access_key: str
    secret_key: str
    process: subprocess.Popen

    def client(self):
        from minio import Minio

        # a fixed region: presigning makes no request, even for a bucket that does not exist
        return Minio(self.endpoint, access_key=self.access_key, secret_key=self.secret_key, secure=False,
                     region="us-east-1")


def read_all(client, bucket: str, prefix: str = "") -> dict[str, bytes]:
    """Every object under `prefix` of `bucket`, by key, with its bytes."""
    out = {}
    for obj in client.list_objects(bucket, prefix=prefix, recursive=True):
        resp = client.get_object(bucket, obj.object_name)
        try:
            out[obj.object_name] = resp.read()
        finally:
            resp.close()
            resp.release_conn()
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def minio_server(data_dir: Path, host: str = "127.0.0.1"):
    """MinIO on host:free-port (host "" listens on every address: loopback for the tests and
    the operator, the cluster bridge for pods)."""
    binary = os.environ.get("GAVEL_MINIO") or subprocess.run(
        [str(ROOT / "scripts" / "minio.sh")], check=True, capture_output=True, text=True).stdout.strip()
    port, console = _free_port(), _free_port()
    env = {**os.environ, "MINIO_ROOT_USER": "gavel-test", "MINIO_ROOT_PASSWORD": "gavel-test-secret",
           "MINIO_BROWSER": "off", "MINIO_UPDATE": "off"}
    log = open(data_dir.parent / "minio.log", "wb")
    proc = subprocess.Popen([binary, "server", "--quiet", "--address", f"{host}:{port}",
                             "--console-address", f"127.0.0.1:{console}", str(data_dir)],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/minio/health/ready", timeout=1)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"MinIO did not start: see {log.name}")
                time.sleep(0.2)
        yield S3(f"127.0.0.1:{port}", env["MINIO_ROOT_USER"], env["MINIO_ROOT_PASSWORD"], proc)
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
