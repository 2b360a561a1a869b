"""A small async Kubernetes REST client for the few calls kopf does not make for us
(create Secret and Job, delete Job, patch another object's status, read pod logs).

Why not the official client: it costs ~40 MB of RSS and seconds of import for six calls.
It reuses the credentials kopf logged in with (handlers.login)."""

from __future__ import annotations

import contextlib
import json
import ssl
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import kopf


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


def auth_headers(info: kopf.ConnectionInfo) -> dict[str, str]:
    return {"Authorization": f"{info.scheme or 'Bearer'} {info.token}"} if info.token else {}


def ssl_context(info: kopf.ConnectionInfo) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=info.ca_path, cadata=_text(info.ca_data))
    if info.insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if info.certificate_path or info.certificate_data:
        with _cert_files(info) as (cert, key):
            ctx.load_cert_chain(cert, key)
    return ctx


class Kube:
    def __init__(self, info: kopf.ConnectionInfo):
        self.server = info.server.rstrip("/")
        self._session = aiohttp.ClientSession(
            headers=auth_headers(info), connector=aiohttp.TCPConnector(ssl=ssl_context(info), limit=20),
            timeout=aiohttp.ClientTimeout(total=60))

    async def close(self) -> None:
        await self._session.close()

    async def request(self, method: str, path: str, body: Any = None, *, content_type: str = "application/json",
                      params: dict | None = None, text: bool = False) -> Any:
        data = None if body is None else json.dumps(body)
        async with self._session.request(method, self.server + path, data=data, params=params,
                                         headers={"Content-Type": content_type}) as resp:
            payload = await resp.text()
            if resp.status >= 400:
                try:
                    message = json.loads(payload).get("message", payload)
                except ValueError:
                    message = payload
                raise ApiError(resp.status, message)
            return payload if text else (json.loads(payload) if payload else None)

    async def create(self, path: str, body: dict) -> dict | None:
        """POST; an object that already exists (a restart, a retry) is not an error: None."""
        try:
            return await self.request("POST", path, body)
        except ApiError as err:
            if err.status == 409:
                return None
            raise

    async def delete(self, path: str, propagation: str = "Background") -> None:
        try:
            await self.request("DELETE", path, {"propagationPolicy": propagation})
        except ApiError as err:
            if err.status != 404:
                raise

    async def merge_patch(self, path: str, patch: dict) -> dict:
        return await self.request("PATCH", path, patch, content_type="application/merge-patch+json")

    async def get(self, path: str, **params) -> dict:
        return await self.request("GET", path, params=params or None)

    async def watch(self, path: str, **params) -> AsyncIterator[dict]:
        """The events of a watch (params: labelSelector, resourceVersion, timeoutSeconds...), one JSON
        object a line. Read in chunks, not by readline: an Evaluation's line can pass aiohttp's 64 KiB."""
        seconds = float(params.get("timeoutSeconds", 300))
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=seconds + 30)
        async with self._session.get(self.server + path, params={**params, "watch": "true"}, timeout=timeout) as resp:
            if resp.status >= 400:
                raise ApiError(resp.status, await resp.text())
            buffer = b""
            async for chunk in resp.content.iter_any():
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if line.strip():
                        yield json.loads(line)

    async def log(self, namespace: str, pod: str, limit_bytes: int = 4 << 20) -> str:
        return await self.request("GET", f"/api/v1/namespaces/{namespace}/pods/{pod}/log",
                                  params={"limitBytes": str(limit_bytes)}, text=True)


def _text(data: str | bytes | None) -> str | None:
    if data is None:
        return None
    raw = data.decode() if isinstance(data, bytes) else data
    if "BEGIN CERTIFICATE" in raw:
        return raw
    import base64
    return base64.b64decode(raw).decode()


@contextlib.contextmanager
def _cert_files(info: kopf.ConnectionInfo) -> Iterator[tuple[str, str | None]]:
    """ssl reads the client certificate and key from files: inline data goes to private temporary
    files for as long as it reads them, then they are removed."""
    with tempfile.TemporaryDirectory(prefix="gavel-kube-") as tmp:
        def path_of(path, data, name) -> str | None:
            if path or data is None:
                return str(path) if path else None
            out = Path(tmp) / name
            out.write_text(_text(data))
            return str(out)

        yield (path_of(info.certificate_path, info.certificate_data, "cert.pem"),
               path_of(info.private_key_path, info.private_key_data, "key.pem"))
