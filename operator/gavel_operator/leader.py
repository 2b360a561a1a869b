"""Two replicas, one active: a coordination.k8s.io Lease, as Kubernetes' own controllers elect.

The standby waits (answering its liveness probe) until the Lease is free: released by an active
replica that stops (SIGTERM: a rollout, a drain, a deleted pod), or not renewed for
LEASE_SECONDS (a killed process, a lost node). Only then does it start kopf. The active one
renews every RENEW_SECONDS from a thread of its own, so a busy event loop never loses the Lease;
when it cannot renew in time, or finds another holder, it exits at once rather than act beside
another operator (its pod restarts as the standby).

Plain HTTP over the standard library: the standby holds no kopf, no client library."""

from __future__ import annotations

import http.client
import http.server
import json
import logging
import os
import socket
import threading
import time
import uuid
from datetime import datetime, timezone
from urllib.parse import urlsplit

log = logging.getLogger("gavel.leader")

LEASE_SECONDS = 10  # a holder silent this long has lost it (measured by the standby's own clock)
RENEW_SECONDS = 2
POLL_SECONDS = 1  # the standby's look at the Lease
EXIT_DEPOSED = 70


def now_micro() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Lease:
    def __init__(self, info, namespace: str, name: str, identity: str | None = None,
                 seconds: int = LEASE_SECONDS):
        from .kube import auth_headers, ssl_context  # imported here: kube imports aiohttp and kopf

        url = urlsplit(info.server)
        self.host, self.port, self.https = url.hostname, url.port or (443 if url.scheme == "https" else 80), \
            url.scheme == "https"
        self.ctx = ssl_context(info) if self.https else None
        self.headers = {**auth_headers(info), "Content-Type": "application/json"}
        self.path = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}"
        self.collection = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
        self.name, self.namespace = name, namespace
        # the pod's name (its hostname), then a suffix of this process's own
        self.identity = identity or f"{socket.gethostname()}_{uuid.uuid4().hex[:6]}"
        self.seconds = seconds
        self.held: dict | None = None  # the Lease as we last wrote it
        self._seen: tuple | None = None  # (holder, renewTime, resourceVersion) last observed
        self._seen_at = 0.0  # when it last changed, by our monotonic clock

    def _request(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        conn = (http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=5) if self.https
                else http.client.HTTPConnection(self.host, self.port, timeout=5))
        try:
            conn.request(method, path, body=None if body is None else json.dumps(body), headers=self.headers)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, (json.loads(data) if data else {})
        finally:
            conn.close()

    def _spec(self, transitions: int, acquired: str | None = None) -> dict:
        stamp = now_micro()
        return {"holderIdentity": self.identity, "leaseDurationSeconds": self.seconds,
                "acquireTime": acquired or stamp, "renewTime": stamp, "leaseTransitions": transitions}

    def try_acquire(self) -> bool:
        status, lease = self._request("GET", self.path)
        if status == 404:
            body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": self.namespace}, "spec": self._spec(0)}
            status, lease = self._request("POST", self.collection, body)
            if status == 201:
                self.held = lease
                return True
            return False
        if status != 200:
            raise OSError(f"Lease {self.namespace}/{self.name}: HTTP {status}: {lease.get('message', '')}")
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        seen = (holder, spec.get("renewTime"), lease["metadata"].get("resourceVersion"))
        if seen != self._seen:
            self._seen, self._seen_at = seen, time.monotonic()
        free = not holder or holder == self.identity or \
            time.monotonic() - self._seen_at > (spec.get("leaseDurationSeconds") or self.seconds)
        if not free:
            return False
        lease["spec"] = self._spec((spec.get("leaseTransitions") or 0) + (holder != self.identity))
        status, lease = self._request("PUT", self.path, lease)  # resourceVersion: a race has one winner
        if status == 200:
            self.held = lease
            return True
        return False

    def renew(self) -> bool:
        lease = dict(self.held)
        lease["spec"] = {**lease["spec"], "renewTime": now_micro()}
        status, body = self._request("PUT", self.path, lease)
        if status == 200:
            self.held = body
            return True
        if status == 409:  # changed by someone else: we may no longer hold it
            _, current = self._request("GET", self.path)
            if (current.get("spec") or {}).get("holderIdentity") == self.identity:
                self.held = current
                return self.renew()
            raise Deposed(f"Lease {self.namespace}/{self.name} is held by "
                          f"{(current.get('spec') or {}).get('holderIdentity')!r} now")
        raise OSError(f"HTTP {status}: {body.get('message', '')}")

    def release(self) -> None:
        """Give it up at once (an orderly stop): the standby takes over within POLL_SECONDS."""
        if self.held is None:
            return
        lease = dict(self.held)
        lease["spec"] = {**lease["spec"], "holderIdentity": "", "renewTime": now_micro()}
        try:
            self._request("PUT", self.path, lease)
        except OSError as err:
            log.warning("could not release the Lease: %s", err)
        self.held = None


class Deposed(Exception):
    pass


class Standby(http.server.ThreadingHTTPServer):
    """Answers probes while waiting (a standby is alive, not stuck), and on the metrics port says
    it is not the active one (gavel_operator_active 0), so a scrape of every pod finds no error."""

    def __init__(self, port: int, body: bytes = b'{"standby": true}\n'):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the http.server API
                self.send_response(200)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_):
                pass

        super().__init__(("0.0.0.0", port), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


def keep(lease: Lease, stop: threading.Event) -> None:
    """Renew until stopped; exit the process at once when the Lease cannot be kept."""
    last = time.monotonic()
    while not stop.wait(RENEW_SECONDS):
        try:
            lease.renew()
            last = time.monotonic()
        except Deposed as err:
            log.error("deposed: %s; exiting", err)
            os._exit(EXIT_DEPOSED)
        except Exception as err:  # noqa: BLE001 - the API server may be briefly away: try until it is too late
            if time.monotonic() - last > lease.seconds - RENEW_SECONDS:
                log.error("could not renew the Lease for %.0f s (%s): exiting before another replica takes over",
                          time.monotonic() - last, err)
                os._exit(EXIT_DEPOSED)
            log.warning("renewing the Lease: %s", err)


STANDBY_METRICS = (b"# HELP gavel_operator_active 1 in the replica that holds the Lease and works, 0 in a standby\n"
                   b"# TYPE gavel_operator_active gauge\ngavel_operator_active 0\n")


def lead(info, where: str, health_port: int | None, metrics_port: int | None, run) -> None:
    """Wait for the Lease named `where` (namespace/name), then run(); released when run() ends."""
    namespace, name = where.split("/", 1)
    lease = Lease(info, namespace, name, identity=os.environ.get("GAVEL_LEADER_IDENTITY"))
    standby = [Standby(health_port)] if health_port else []
    if metrics_port:
        standby.append(Standby(metrics_port, STANDBY_METRICS))
    log.info("waiting for Lease %s as %s", where, lease.identity)
    waited = time.monotonic()
    while True:
        try:
            if lease.try_acquire():
                break
        except OSError as err:
            log.warning("looking at the Lease: %s", err)
        time.sleep(POLL_SECONDS)
    log.info("holding Lease %s after %.1f s: starting", where, time.monotonic() - waited)
    for server in standby:
        server.shutdown()
        server.server_close()
    stop = threading.Event()
    threading.Thread(target=keep, args=(lease, stop), daemon=True, name="lease").start()
    try:
        run()
    finally:
        stop.set()
        lease.release()
