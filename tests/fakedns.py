"""A DNS for tests: every name resolves to the given addresses (what the operator's callback
resolver checks, without a real DNS server)."""

from __future__ import annotations

import socket

import aiohttp.abc


class Names(aiohttp.abc.AbstractResolver):
    def __init__(self, addresses: list[str]):
        self.addresses = addresses

    async def resolve(self, host, port=0, family=socket.AF_INET):
        return [{"hostname": host, "host": a, "port": port, "family": socket.AF_INET6 if ":" in a else socket.AF_INET,
                 "proto": 0, "flags": 0} for a in self.addresses]

    async def close(self):
        pass
