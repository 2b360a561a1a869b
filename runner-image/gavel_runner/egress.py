"""Fail closed on the network: no submission code runs until the pod's egress policy is seen.

Network plugins enforce a NetworkPolicy on a new pod only some seconds after it starts (kube-router
here took several), and a runner pod lives seconds: without this wait a submission's first
connection can reach the API server, the kubelet or other pods. The operator names addresses the
policy must refuse; the runner connects to each until every one fails, or gives up."""

from __future__ import annotations

import logging
import os
import socket
import time

from gavel_contract import EgressCheck

log = logging.getLogger("gavel.runner")
CONNECT_TIMEOUT_S = 1.0
RETRY_S = 0.25


class EgressOpen(RuntimeError):
    """The pod can still reach what its policy must refuse: judging would expose the cluster."""


def _address(text: str) -> tuple[str, int]:
    if text == "kubernetes":
        host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        if not host:
            raise EgressOpen("egress check names `kubernetes`, but the pod has no KUBERNETES_SERVICE_HOST")
        return host, int(port)
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def reachable(host: str, port: int) -> bool:
    """A TCP connection completes. Refused, reset, unreachable or silent (dropped) all count as closed."""
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S):
            return True
    except OSError:
        return False


def wait_closed(check: EgressCheck) -> float:
    """Seconds waited until every address was unreachable; EgressOpen after `timeout_seconds`."""
    addresses = [_address(a) for a in check.addresses]
    start = time.monotonic()
    while True:
        still = [f"{h}:{p}" for h, p in addresses if reachable(h, p)]
        if not still:
            waited = time.monotonic() - start
            log.info("egress closed to %s after %.1f s", ", ".join(check.addresses), waited)
            return waited
        if time.monotonic() - start > check.timeout_seconds:
            raise EgressOpen(f"{', '.join(still)} still reachable after {check.timeout_seconds} s: the runner "
                             "NetworkPolicy is not enforced on this pod, so no submission code was run")
        time.sleep(RETRY_S)
