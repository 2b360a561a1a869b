"""Prometheus metrics of the operator (the seed's "status": busy/total workers, and more)."""

from __future__ import annotations

import json
import threading
from typing import Callable
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.core import GaugeMetricFamily

from .status import age_seconds

VERDICTS = Counter("gavel_verdicts_total", "Evaluations judged, by verdict", ["verdict"])
FAILURES = Counter("gavel_failures_total", "Evaluations that could not be judged or were canceled, by reason",
                   ["reason"])
RETRIED = Counter("gavel_attempts_retried_total", "Attempts whose runner pod failed (crash, eviction, node lost) "
                  "and that were run again as a Job of their own")
ACTIVE = Gauge("gavel_operator_active", "1 in the replica that holds the Lease and works, 0 in a standby")
CONTEST_REBUILDS = Counter("gavel_contest_rebuilds_total", "Contest scoreboards rebuilt (all contests; each "
                           "Contest counts its own in status.rebuilds)")
CONTEST_REBUILD_SECONDS = Histogram("gavel_contest_rebuild_seconds", "One scoreboard rebuild: standings, files, status",
                                    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
TIME_TO_START = Histogram("gavel_time_to_start_seconds", "From creation to its first Job: admission and the wait "
                          "in the queue (to the second: creationTimestamp's resolution)",
                          buckets=(1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600))
TIME_TO_VERDICT = Histogram("gavel_time_to_verdict_seconds", "From creation to verdict",
                            buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600))


class LedgerCollector:
    """Gauges read from the ledger's counters at scrape time: nothing to keep in step, nothing scanned."""

    def __init__(self, get_ledger: Callable):
        self.get_ledger = get_ledger

    def collect(self):
        phases = GaugeMetricFamily("gavel_evaluations", "Evaluations in flight by phase (finished ones leave "
                                   "the watch: gavel_verdicts_total and gavel_failures_total count them)",
                                   labels=["phase"])
        queued = GaugeMetricFamily("gavel_queue_depth", "Queued Evaluations by queue", labels=["queue"])
        running = GaugeMetricFamily("gavel_running", "Evaluations with a Job (Pending or Running) by queue",
                                    labels=["queue"])
        ledger = self.get_ledger()
        if ledger is not None:
            for phase in ("New", "Pending", "Queued", "Running"):
                phases.add_metric([phase], ledger.by_phase[phase])
            for q, n in ledger.depths().items():
                queued.add_metric([q], n)
            for q, n in ledger.running_by_queue.items():
                if n:
                    running.add_metric([q], n)
        yield from (phases, queued, running)


class _Quiet(WSGIRequestHandler):
    def log_message(self, *_):  # a probe every few seconds is not news
        pass


def app(readiness: Callable[[], tuple[bool, dict]]):
    """/metrics (and any other path: Prometheus' text), and /readyz: 200 when `readiness` says
    ready, 503 while it says the operator is catching up; its words as JSON either way."""
    metrics_app = make_wsgi_app()

    def serve(environ, start_response):
        if environ.get("PATH_INFO") != "/readyz":
            return metrics_app(environ, start_response)
        ready, words = readiness()
        start_response("200 OK" if ready else "503 Service Unavailable", [("Content-Type", "application/json")])
        return [json.dumps(words).encode() + b"\n"]

    return serve


def start(port: int, get_ledger: Callable, readiness: Callable[[], tuple[bool, dict]]) -> None:
    """Serves the metrics and the readiness probe (/readyz) on `port`, from a thread of its own
    (the liveness probe is kopf's, on the event loop: it says the loop answers)."""
    REGISTRY.register(LedgerCollector(get_ledger))
    ACTIVE.set(1)
    server = make_server("0.0.0.0", port, app(readiness), ThreadingWSGIServer, handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, daemon=True, name="metrics").start()


def judged(verdict: str, created: str | None) -> None:
    """created: the Evaluation's creationTimestamp."""
    VERDICTS.labels(verdict).inc()
    if created:
        TIME_TO_VERDICT.observe(age_seconds(created))


def started(created: str | None) -> None:
    """An Evaluation's first Job was created; created: its creationTimestamp."""
    if created:
        TIME_TO_START.observe(age_seconds(created))


def failed(reason: str) -> None:
    FAILURES.labels(reason).inc()


def retried() -> None:
    RETRIED.inc()


def contest_rebuilt(seconds: float) -> None:
    CONTEST_REBUILDS.inc()
    CONTEST_REBUILD_SECONDS.observe(seconds)
