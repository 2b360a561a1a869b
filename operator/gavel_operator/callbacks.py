"""Callbacks: when an Evaluation with spec.callbackUrl is final, its result is POSTed as JSON,
retried with back-off. One scheduler for the whole operator (per-resource timers do not scale);
a failed callback becomes a condition, never a lost verdict. An Evaluation stays in the
operator's watch until its callback's outcome is a condition, so after a restart the watch's
initial listing brings every undelivered callback back.

The URL is the (untrusted) tenant's: the operator calls only addresses its policy allows
(public ones by default; never loopback, link-local or the cluster's private ranges unless
callbacks.allowed says so), connects only to an address it checked (the check is in the
connector's resolver: no DNS-rebinding window), follows no redirects, and records what went
wrong in its own words, never the receiver's. Deliveries run concurrently, a few at a time per
destination, so a slow or dead receiver delays only its own callbacks."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import heapq
import ipaddress
import logging
import os
import socket
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from .resources import API_VERSION
from .state import patch_status
from .status import condition, with_condition

log = logging.getLogger("gavel.callbacks")
FINAL = {"Succeeded", "Failed", "Canceled"}
MAX_IN_FLIGHT = 32  # deliveries at once, all destinations together

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_heap: list[tuple[float, str]] = []
_bodies: dict[str, dict] = {}  # uid -> latest body; a uid is in the heap or in flight, never both
_attempts: dict[str, int] = {}
_done: OrderedDict[str, None] = OrderedDict()  # delivered or given up; the newest DONE_KEPT are enough
DONE_KEPT = 10_000  # (an Evaluation with its CallbackDelivered condition leaves the watch soon after)
_wake: asyncio.Event | None = None
_task: asyncio.Task | None = None
_state = None
_policy: Policy | None = None
_in_flight: asyncio.Semaphore | None = None
_deliveries: set[asyncio.Task] = set()
_session: aiohttp.ClientSession | None = None  # the worker's, shared with `send`


# --- where callbacks may go ----------------------------------------------------------------

# Refused unless callbacks.allowed covers them: the operator's own host, the node's metadata
# service, and the ranges cluster Services and Pods live in.
REFUSED: list[tuple[IPNetwork, str]] = [(ipaddress.ip_network(net), what) for net, what in [
    ("0.0.0.0/8", "an unspecified"), ("::/128", "an unspecified"),
    ("127.0.0.0/8", "a loopback"), ("::1/128", "a loopback"),
    ("169.254.0.0/16", "a link-local"), ("fe80::/10", "a link-local"),
    ("224.0.0.0/4", "a multicast"), ("ff00::/8", "a multicast"),
    ("240.0.0.0/4", "a reserved"),  # and 255.255.255.255, the broadcast address
    ("10.0.0.0/8", "a private"), ("172.16.0.0/12", "a private"), ("192.168.0.0/16", "a private"),
    ("100.64.0.0/10", "a shared (CGNAT)"), ("fc00::/7", "a unique-local (private)"),
]]
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class CallbackError(Exception):
    """A failed delivery, in the operator's words (the condition's message). `final`: retrying
    cannot help (the policy refused the destination, a redirect)."""

    def __init__(self, message: str, *, final: bool = False, reason: str = "CallbackFailed"):
        super().__init__(message)
        self.message, self.final, self.reason = message, final, reason


def refused(message: str) -> CallbackError:
    return CallbackError(message, final=True, reason="DestinationRefused")


def _forms(ip: IPAddress) -> list[IPAddress]:
    """The address and any IPv4 address it carries (mapped, NAT64, 6to4): each is checked,
    since a packet to one may reach the other."""
    forms: list[IPAddress] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour or (
            ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in NAT64 else None)
        if inner is not None:
            forms.append(inner)
    return forms


@dataclass(frozen=True)
class Policy:
    allowed: tuple[IPNetwork, ...] = ()
    denied: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_settings(cls, settings) -> Policy:
        """A malformed CIDR stops the operator at start, not at the first callback."""
        def parse(cidrs: list[str]) -> tuple[IPNetwork, ...]:
            return tuple(ipaddress.ip_network(c.strip(), strict=False) for c in cidrs)
        return cls(parse(settings.callback_allowed), parse(settings.callback_denied))

    def refusal(self, ip: IPAddress) -> str | None:
        """Why the policy refuses `ip`, as the end of a sentence; None: allowed.
        callbacks.denied wins over callbacks.allowed."""
        forms = _forms(ip)
        for addr in forms:
            for net in self.denied:
                if addr in net:
                    return f"in {net}, which the operator's callback policy (callbacks.denied) refuses"
        for addr in forms:
            for net, what in REFUSED:
                if addr in net and not any(addr in ok for ok in self.allowed):
                    return (f"{what} address; the operator's callback policy (callbacks.allowed) "
                            "does not allow it")
        return None

    def check(self, ip: str, resolved: bool) -> None:
        """Raise CallbackError (DestinationRefused) unless `ip` may be called."""
        address = ipaddress.ip_address(ip)
        why = self.refusal(address)
        if why:
            raise refused(f"callbackUrl host {'resolves to' if resolved else 'is'} {address}, {why}")


class PolicyResolver(AbstractResolver):
    """The connector's resolver: it hands aiohttp only addresses the policy allows, and refuses a
    name if any of its addresses is refused, so what was checked is what is connected to.
    (aiohttp does not resolve IP literals: `deliver` checks those itself.)"""

    def __init__(self, policy: Policy, inner: AbstractResolver | None = None):
        self.policy = policy
        self.inner = inner or aiohttp.ThreadedResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
                      ) -> list[ResolveResult]:
        found = await self.inner.resolve(host, port, family)
        for result in found:
            self.policy.check(result["host"], resolved=True)
        return found

    async def close(self) -> None:
        await self.inner.close()


def new_session(policy: Policy) -> aiohttp.ClientSession:
    """A session that connects only where `policy` allows. No proxies from the environment
    (trust_env=False): a proxy would connect on the operator's behalf, unchecked. No connection
    pool limit: the per-destination and global slots bound the connections."""
    connector = aiohttp.TCPConnector(resolver=PolicyResolver(policy), limit=0)
    return aiohttp.ClientSession(connector=connector, trust_env=False)


# --- one delivery --------------------------------------------------------------------------

def destination(url: str) -> str:
    """scheme://host:port, what the per-destination limit counts."""
    try:
        u = URL(url)
        return f"{u.scheme}://{u.host}:{u.port}"
    except (ValueError, TypeError):
        return "invalid"


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def _failure(err: Exception, timeout: float) -> CallbackError:
    """What went wrong, in the operator's words: never the receiver's body, headers or status
    line (a tenant could otherwise read what an address it may not reach answers)."""
    if isinstance(err, asyncio.TimeoutError):
        return CallbackError(f"timed out after {timeout:g} s")
    if isinstance(err, aiohttp.ClientSSLError):
        return CallbackError("TLS handshake failed")
    if isinstance(err, aiohttp.ClientConnectorError):
        os_error = err.os_error
        if isinstance(os_error, socket.gaierror):
            return CallbackError("host name does not resolve")
        if os_error.errno == errno.ECONNREFUSED:
            return CallbackError("connection refused")
        return CallbackError(f"cannot connect: {os.strerror(os_error.errno).lower()}" if os_error.errno
                             else "cannot connect")
    if isinstance(err, aiohttp.ServerDisconnectedError):
        return CallbackError("connection closed by the receiver")
    if isinstance(err, (aiohttp.ClientResponseError, aiohttp.ClientPayloadError)):
        return CallbackError("invalid HTTP response")
    if isinstance(err, aiohttp.InvalidURL):
        return CallbackError("invalid URL", final=True)
    return CallbackError(f"request failed ({type(err).__name__})")


async def deliver(session: aiohttp.ClientSession, policy: Policy, url: str, data: dict, timeout: float) -> None:
    """POST `data` to `url` once; CallbackError if it was not accepted (2xx)."""
    try:
        u = URL(url)
        if u.scheme not in ("http", "https") or not u.host:
            raise refused("callbackUrl is not an http(s) URL with a host")
        if (ip := _literal(u.host)) is not None:
            policy.check(ip, resolved=False)
        async with session.post(u, json=data, allow_redirects=False,
                                timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            status = resp.status  # the body is never read
        if 300 <= status < 400:
            raise CallbackError(f"HTTP {status}; redirects are not followed", final=True)
        if status >= 400:
            raise CallbackError(f"HTTP {status}")
    except CallbackError:
        raise
    except Exception as err:  # noqa: BLE001 - every failure is reported in the operator's words
        raise _failure(err, timeout) from err


# --- scheduling ----------------------------------------------------------------------------

def start(state) -> None:
    global _wake, _task, _state, _policy, _in_flight
    _policy = Policy.from_settings(state.settings)
    _state, _wake, _in_flight = state, asyncio.Event(), asyncio.Semaphore(MAX_IN_FLIGHT)
    _task = asyncio.get_running_loop().create_task(_worker())


async def stop() -> None:
    if _task:
        _task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await _task


def consider(body) -> None:
    """Called on every Evaluation event: schedule its callback when it is due."""
    status = body.get("status") or {}
    url = (body.get("spec") or {}).get("callbackUrl")
    uid = body["metadata"]["uid"]
    if not url or status.get("phase") not in FINAL or uid in _done:
        return
    if recorded(body):
        _remember(uid)
        return
    first = uid not in _bodies
    _bodies[uid] = body
    if first:
        _schedule(uid, time.monotonic())


def recorded(body) -> bool:
    """The callback's outcome is a condition already (CallbackDelivered, true or false)."""
    return any(c.get("type") == "CallbackDelivered" for c in (body.get("status") or {}).get("conditions") or [])


def settled(body) -> bool:
    """No callback, or its outcome recorded: the Evaluation may leave the operator's watch.
    Until then a restart must list it to deliver the callback."""
    return not (body.get("spec") or {}).get("callbackUrl") or recorded(body)


def _remember(uid: str) -> None:
    _done[uid] = None
    while len(_done) > DONE_KEPT:
        _done.popitem(last=False)


def _schedule(uid: str, due: float) -> None:
    heapq.heappush(_heap, (due, uid))
    if _wake:
        _wake.set()  # the scheduler may be asleep until a later due time


def payload(body) -> dict:
    meta = body["metadata"]
    return {"apiVersion": API_VERSION, "kind": "EvaluationResult",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"],
                         "labels": meta.get("labels") or {}},
            "spec": {k: body["spec"].get(k) for k in ("language", "version", "submission", "problem", "queue")},
            "status": body.get("status") or {}}


@dataclass
class _Destination:
    slots: asyncio.Semaphore
    users: int = 0


_destinations: dict[str, _Destination] = {}


@contextlib.asynccontextmanager
async def _slot(key: str, limit: int) -> AsyncIterator[None]:
    """One of `limit` slots of a destination, then one of the global ones (in that order: a
    delivery waiting for its busy destination holds no global slot)."""
    dest = _destinations.setdefault(key, _Destination(asyncio.Semaphore(limit)))
    dest.users += 1
    try:
        async with dest.slots, _in_flight:
            yield
    finally:
        dest.users -= 1
        if not dest.users:  # forget idle destinations: tenants' URLs are unbounded
            del _destinations[key]


async def _worker() -> None:
    """Start each callback when due, without waiting for it; in-flight ones end with the worker."""
    global _session
    async with new_session(_policy) as session:
        _session = session
        try:
            while True:
                if not _heap:
                    _wake.clear()
                    await _wake.wait()
                    continue
                due, uid = _heap[0]
                delay = due - time.monotonic()
                if delay > 0:
                    _wake.clear()
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(_wake.wait(), timeout=delay)
                    continue
                heapq.heappop(_heap)
                task = asyncio.get_running_loop().create_task(_run(session, uid))
                _deliveries.add(task)
                task.add_done_callback(_deliveries.discard)
        finally:
            for task in list(_deliveries):
                task.cancel()
            await asyncio.gather(*_deliveries, return_exceptions=True)


async def send(url: str, data: dict) -> CallbackError | None:
    """One POST of `data` to a tenant's URL (a Contest's scoreboard callback) under the same policy,
    the same per-destination slots and the same words as the Evaluations' callbacks; None when it was
    accepted. No retry here: the caller decides (a later scoreboard supersedes this one)."""
    if _session is None or _session.closed:
        return CallbackError("the operator's callback sender is not running")
    async with _slot(destination(url), _state.settings.callback_per_destination):
        try:
            await deliver(_session, _policy, url, data, _state.settings.callback_timeout_seconds)
        except CallbackError as err:
            return err
    return None


async def _run(session: aiohttp.ClientSession, uid: str) -> None:
    try:
        url = _bodies[uid]["spec"]["callbackUrl"]
        async with _slot(destination(url), _state.settings.callback_per_destination):
            await _attempt(session, uid)
    except Exception:  # noqa: BLE001 - one callback's bug must not end the others
        log.exception("callback of %s failed unexpectedly", uid)


async def _attempt(session: aiohttp.ClientSession, uid: str) -> None:
    """One attempt: done (a condition), or scheduled again after a back-off."""

    body = _bodies[uid]
    meta, url = body["metadata"], body["spec"]["callbackUrl"]
    settings = _state.settings
    attempt = _attempts.get(uid, 0) + 1
    try:
        await deliver(session, _policy, url, payload(body), settings.callback_timeout_seconds)
        cond = condition("CallbackDelivered", True, "Delivered", f"POST {url}: attempt {attempt}")
    except CallbackError as err:
        if not err.final and attempt <= settings.callback_retries:
            _attempts[uid] = attempt
            backoff = min(300.0, 2.0 ** attempt)
            log.info("callback of %s/%s failed (%s); retry in %.0fs", meta["namespace"], meta["name"],
                     err.message, backoff)
            _schedule(uid, time.monotonic() + backoff)
            return
        log.info("callback of %s/%s failed: %s", meta["namespace"], meta["name"], err.message)
        message = err.message if err.reason == "DestinationRefused" else \
            f"POST {url}: {attempt} attempt{'s' if attempt > 1 else ''}, last: {err.message}"
        cond = condition("CallbackDelivered", False, err.reason, message)
    _remember(uid)
    body = _bodies.pop(uid, body)  # the latest, for its conditions
    _attempts.pop(uid, None)
    await _record(body, cond)


async def _record(body: dict, cond: dict) -> None:
    """Write the outcome as the CallbackDelivered condition (once: the uid is in _done now)."""

    meta = body["metadata"]
    conditions = with_condition((body.get("status") or {}).get("conditions"), cond)
    await patch_status(meta["namespace"], meta["name"], {"conditions": conditions})
