"""Callbacks against real HTTP servers on loopback, with the operator's real delivery code and
scheduler (callbacks.py); no Kubernetes: the condition is captured instead of written."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from types import SimpleNamespace

import aiohttp
import pytest
from aiohttp import web

from fakedns import Names
from gavel_operator import callbacks
from gavel_operator.callbacks import CallbackError, Policy, deliver, new_session
from gavel_operator.settings import Settings

LOOPBACK = ["127.0.0.0/8", "::1/128"]
SECRET = "SECRET-7f3a9c-do-not-echo"


class Server:
    """An aiohttp server on 127.0.0.1: `handler` answers, `received` keeps the JSON bodies."""

    def __init__(self, handler: Callable[[web.Request], Awaitable[web.StreamResponse]] | None = None):
        self.handler = handler or (lambda request: asyncio.sleep(0, web.Response(status=204)))
        self.received: list[dict] = []
        self.in_flight = self.most_in_flight = 0

    async def __aenter__(self) -> Server:
        async def handle(request: web.Request) -> web.StreamResponse:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            try:
                self.received.append(await request.json())
                return await self.handler(request)
            finally:
                self.in_flight -= 1

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        self.runner = web.AppRunner(app, handler_cancellation=True)
        await self.runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self.runner, sock).start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.runner.cleanup()

    def url(self, path: str = "/done", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


async def post(url: str, allowed: list[str] = (), timeout: float = 5) -> None:
    policy = Policy.from_settings(Settings(callback_allowed=list(allowed)))
    async with new_session(policy) as session:
        await deliver(session, policy, url, {"hello": "world"}, timeout)


def test_loopback_is_refused_by_default_and_delivered_when_allowed():
    async def run():
        async with Server() as server:
            for url in (server.url(), server.url(host="localhost")):
                with pytest.raises(CallbackError) as caught:
                    await post(url)
                assert caught.value.reason == "DestinationRefused" and caught.value.final
                assert "a loopback address" in caught.value.message and "callbacks.allowed" in caught.value.message
            assert server.received == []  # refused before connecting
            await post(server.url(), allowed=LOOPBACK)
            await post(server.url(host="localhost"), allowed=LOOPBACK)  # a name: checked by the resolver
            assert server.received == [{"hello": "world"}] * 2
    asyncio.run(run())


def test_a_name_is_refused_if_any_of_its_addresses_is():
    """Through aiohttp's real connector: what the policy refused is never connected to."""
    async def post_via(addresses: list[str], url: str) -> None:
        policy = Policy.from_settings(Settings(callback_allowed=["127.0.0.0/8"]))
        connector = aiohttp.TCPConnector(resolver=callbacks.PolicyResolver(policy, Names(addresses)))
        async with aiohttp.ClientSession(connector=connector) as session:
            await deliver(session, policy, url, {"hello": "world"}, 5)

    async def run():
        async with Server() as server:
            url = server.url(host="callback.tenant.example")
            with pytest.raises(CallbackError, match="resolves to 10.0.0.1, a private address") as caught:
                await post_via(["127.0.0.1", "10.0.0.1"], url)
            assert caught.value.reason == "DestinationRefused"
            with pytest.raises(CallbackError, match="resolves to ::1, a loopback"):
                await post_via(["127.0.0.1", "::1"], url)
            assert server.received == []
            await post_via(["127.0.0.1"], url)
            assert server.received == [{"hello": "world"}]
    asyncio.run(run())


def test_a_redirect_is_not_followed():
    async def run():
        async with Server() as target:
            async def redirect(request):
                raise web.HTTPTemporaryRedirect(target.url("/stolen"))
            async with Server(redirect) as server:
                with pytest.raises(CallbackError) as caught:
                    await post(server.url(), allowed=LOOPBACK)
                assert caught.value.message == "HTTP 307; redirects are not followed" and caught.value.final
                assert len(server.received) == 1 and target.received == []
    asyncio.run(run())


def test_errors_never_echo_the_receivers_response():
    async def fail(request):
        return web.Response(status=500, text=f"internal error, token={SECRET}", headers={"X-Debug": SECRET},
                            reason=f"Oops {SECRET}")

    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(f"NOT-HTTP {SECRET}\r\n\r\n".encode())
        await writer.drain()
        writer.close()

    async def run():
        async with Server(fail) as server:
            with pytest.raises(CallbackError) as caught:
                await post(server.url(), allowed=LOOPBACK)
            assert caught.value.message == "HTTP 500" and not caught.value.final
        raw = await asyncio.start_server(garbage, "127.0.0.1", 0)
        async with raw:
            port = raw.sockets[0].getsockname()[1]
            with pytest.raises(CallbackError) as caught:
                await post(f"http://127.0.0.1:{port}/", allowed=LOOPBACK)
            assert caught.value.message == "invalid HTTP response"
            assert SECRET not in str(caught.value) and SECRET in repr(caught.value.__cause__)  # only in the cause
        # nothing listens on a port just closed
        with pytest.raises(CallbackError, match="^connection refused$"):
            await post(f"http://127.0.0.1:{port}/", allowed=LOOPBACK)
    asyncio.run(run())


def test_a_timeout_is_reported_in_the_operators_words():
    async def slow(request):
        await asyncio.sleep(5)
        return web.Response(status=204)

    async def run():
        async with Server(slow) as server:
            with pytest.raises(CallbackError, match=r"^timed out after 0\.5 s$"):
                await post(server.url(), allowed=LOOPBACK, timeout=0.5)
    asyncio.run(run())


# --- the scheduler ----------------------------------------------------------------------------

@pytest.fixture
def scheduler(monkeypatch):
    """callbacks' module state, fresh; conditions land in `recorded` (uid -> (condition, when))."""
    recorded: dict[str, tuple[dict, float]] = {}

    async def record(body, cond):
        recorded[body["metadata"]["uid"]] = (cond, time.monotonic())

    for name, fresh in [("_heap", []), ("_bodies", {}), ("_attempts", {}), ("_done", callbacks.OrderedDict()),
                        ("_destinations", {}), ("_deliveries", set()), ("_record", record)]:
        monkeypatch.setattr(callbacks, name, fresh)
    return recorded


def evaluation(uid: str, url: str) -> dict:
    return {"metadata": {"uid": uid, "name": uid, "namespace": "tenant"},
            "spec": {"callbackUrl": url, "language": "python"},
            "status": {"phase": "Succeeded", "verdict": "Accepted"}}


async def until(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def start(**settings) -> None:
    callbacks.start(SimpleNamespace(settings=Settings(**{"callback_allowed": LOOPBACK, **settings})))


def test_a_hanging_receiver_does_not_delay_another(scheduler):
    async def hang(request):
        await asyncio.sleep(10)
        return web.Response(status=204)

    async def run():
        async with Server(hang) as stuck, Server() as fine:
            start(callback_timeout_seconds=30, callback_per_destination=2)
            try:
                begun = time.monotonic()
                for i in range(5):  # more than its destination's slots: the rest wait for them
                    callbacks.consider(evaluation(f"stuck-{i}", stuck.url()))
                assert await until(lambda: stuck.in_flight == 2, 5)
                callbacks.consider(evaluation("fine", fine.url()))
                assert await until(lambda: "fine" in scheduler, 5), "the other receiver's callback was held up"
                cond, when = scheduler["fine"]
                assert cond["status"] == "True" and cond["reason"] == "Delivered" and when - begun < 5
                assert fine.received[0]["metadata"]["uid"] == "fine"
                await asyncio.sleep(0.3)
                # the stuck ones: still in flight, never more than callback_per_destination at once
                assert stuck.most_in_flight == 2 and len(stuck.received) == 2
                assert not any(uid.startswith("stuck") for uid in scheduler)
            finally:
                await callbacks.stop()
            assert not any(uid.startswith("stuck") for uid in scheduler)  # a stop records nothing
    asyncio.run(run())


def test_a_refused_destination_is_final_at_once(scheduler):
    async def run():
        async with Server() as server:
            start(callback_allowed=[], callback_retries=6)
            try:
                callbacks.consider(evaluation("meta", "http://169.254.169.254/latest/meta-data/"))
                callbacks.consider(evaluation("local", server.url()))
                assert await until(lambda: len(scheduler) == 2, 5), "a refusal was retried"
            finally:
                await callbacks.stop()
            for uid, address in (("meta", "169.254.169.254, a link-local"), ("local", "127.0.0.1, a loopback")):
                cond, _ = scheduler[uid]
                assert cond["status"] == "False" and cond["reason"] == "DestinationRefused"
                assert cond["message"].startswith(f"callbackUrl host is {address} address")
            assert server.received == []
            assert "meta" in callbacks._done and not callbacks._bodies  # remembered, not pending
    asyncio.run(run())


def test_a_failure_is_retried_then_recorded_without_the_body(scheduler):
    calls = 0

    async def fail_once_then_500(request):
        nonlocal calls
        calls += 1
        return web.Response(status=503 if calls == 1 else 500, text=SECRET)

    async def run():
        async with Server(fail_once_then_500) as server:
            start(callback_retries=1)  # one retry, 2 s later
            try:
                callbacks.consider(evaluation("e", server.url()))
                assert await until(lambda: "e" in scheduler, 10)
            finally:
                await callbacks.stop()
            cond, _ = scheduler["e"]
            assert cond["reason"] == "CallbackFailed"
            assert cond["message"] == f"POST {server.url()}: 2 attempts, last: HTTP 500"
            assert len(server.received) == 2
    asyncio.run(run())
