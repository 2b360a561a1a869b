"""Prometheus metrics of the operator (the seed's "status": busy/total workers, and more)."""

from __future__ import annotations

from collections import Counter as Tally
from typing import Callable

from prometheus_client import REGISTRY, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily

from .status import age_seconds

VERDICTS = Counter("gavel_verdicts_total", "Evaluations judged, by verdict", ["verdict"])
FAILURES = Counter("gavel_failures_total", "Evaluations that could not be judged or were canceled, by reason",
                   ["reason"])
TIME_TO_VERDICT = Histogram("gavel_time_to_verdict_seconds", "From creation to verdict",
                            buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600))


class IndexCollector:
    """Gauges read from kopf's live index at scrape time: nothing to keep in step."""

    def __init__(self, get_index: Callable):
        self.get_index = get_index

    def collect(self):
        phases = GaugeMetricFamily("gavel_evaluations", "Evaluations in flight by phase (finished ones leave "
                                   "the watch: gavel_verdicts_total and gavel_failures_total count them)",
                                   labels=["phase"])
        queued = GaugeMetricFamily("gavel_queue_depth", "Queued Evaluations by queue", labels=["queue"])
        running = GaugeMetricFamily("gavel_running", "Evaluations with a Job (Pending or Running) by queue",
                                    labels=["queue"])
        index = self.get_index()
        by_phase, by_queue, active = Tally(), Tally(), Tally()
        for values in (index.values() if index is not None else ()):
            for v in values:
                by_phase[v["phase"] or "New"] += 1
                if v["phase"] == "Queued":
                    by_queue[v["queue"]] += 1
                elif v["phase"] in ("Pending", "Running"):
                    active[v["queue"]] += 1
        for phase in ("New", "Pending", "Queued", "Running"):
            phases.add_metric([phase], by_phase[phase])
        for q, n in by_queue.items():
            queued.add_metric([q], n)
        for q, n in active.items():
            running.add_metric([q], n)
        yield from (phases, queued, running)


def start(port: int, get_index: Callable) -> None:
    REGISTRY.register(IndexCollector(get_index))
    start_http_server(port)


def _age(body) -> float | None:
    created = (body.get("metadata") or {}).get("creationTimestamp")
    if not created:
        return None
    return age_seconds(created)


def judged(verdict: str, body) -> None:
    VERDICTS.labels(verdict).inc()
    if (age := _age(body)) is not None:
        TIME_TO_VERDICT.observe(age)


def failed(reason: str, body) -> None:
    FAILURES.labels(reason).inc()
