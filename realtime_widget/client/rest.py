"""The hub's REST API from the kernel: one small client for the transports, the
DataFrames of live sessions and the magics (see the table in docs/architecture.md)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..protocol.parsing import dumps_json
from .discovery import ServerInfo
from .loop import loop_thread

__all__ = ["HubRest", "fetch_blocking"]


class HubRest:
    """``request(method, *path_parts, body=, params=)`` against one Jupyter server's hub,
    with its token; JSON in, JSON out, and a ``RuntimeError`` carrying the hub's own error
    message when it refuses. Async, on the caller's loop (the client's loop thread)."""

    def __init__(self, server: ServerInfo):
        import tornado.httpclient

        self.server = server
        self.http = tornado.httpclient.AsyncHTTPClient(force_instance=True)

    async def request(
        self,
        method: str,
        *parts: str,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        timeout: float = 120,
    ) -> Any:
        """The hub's JSON answer (None for an empty one)."""
        raw = await self.fetch(method, *parts, body=body, params=params, timeout=timeout)
        return json.loads(raw) if raw else None

    async def fetch(
        self,
        method: str,
        *parts: str,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        timeout: float = 120,
    ) -> bytes:
        """The hub's answer as it came (an export's JSON lines, an item's WAV)."""
        from urllib.parse import urlencode

        import tornado.httpclient

        url = self.server.api(*parts)
        if params:
            url += "?" + urlencode([(k, v) for k, v in params.items() if v is not None], doseq=True)
        request = tornado.httpclient.HTTPRequest(
            url,
            method=method,
            headers={**self.server.headers(), "Content-Type": "application/json"},
            body=None
            if body is None and method in ("GET", "DELETE")
            else dumps_json(body if body is not None else {}),
            connect_timeout=min(timeout, 20),
            request_timeout=timeout,
        )
        try:
            response = await self.http.fetch(request)
        except tornado.httpclient.HTTPClientError as exc:
            detail = ""
            if exc.response is not None and exc.response.body:
                try:
                    detail = json.loads(exc.response.body).get("error", {}).get("message", "")
                except (ValueError, AttributeError):
                    detail = ""
            raise RuntimeError(
                f"the hub refused {method} {'/'.join(parts)}: HTTP {exc.code} {detail}".strip()
            ) from None
        return response.body or b""

    async def probe(self) -> bool:
        """Whether the hub answers (its ``status``)."""
        try:
            await self.request("GET", "realtime", "status", timeout=15)
            return True
        except Exception:
            return False

    def close(self) -> None:
        self.http.close()


def fetch_blocking(
    server: ServerInfo,
    method: str,
    *parts: str,
    params: Mapping[str, Any] | None = None,
    timeout: float = 120,
) -> bytes:
    """:meth:`HubRest.fetch` from synchronous code (DataFrames, magics): it runs on the
    client's loop thread and blocks this one."""

    async def fetch() -> bytes:
        rest = HubRest(server)
        try:
            return await rest.fetch(method, *parts, params=params, timeout=timeout)
        finally:
            rest.close()

    return loop_thread().run(fetch(), timeout + 10)
