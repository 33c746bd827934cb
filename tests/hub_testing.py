"""Fixtures and a WebSocket test client for the hub tests (``tests/test_server_*.py``,
``tests/test_client_*.py``).

pytest-jupyter's fixtures are imported into the test modules (``from hub_testing import
*``) instead of being registered as a plugin, so that its hooks and its autouse event
loop stay out of the other test modules (which use pytest-asyncio). ``jp_asyncio_loop``
is pytest-asyncio's loop, so the Jupyter server and the test coroutine share one loop.

Timeouts here only stop a hung test; nothing asserts on wall-clock time.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
import tornado.httpclient
import tornado.websocket
from pytest_jupyter.jupyter_server import *
from traitlets.config import Config

WAIT_S = 60.0


@pytest.fixture
def jp_asyncio_loop(request):
    """pytest-asyncio's loop for this test (>= 1.0: its runner; older: ``event_loop``)."""
    try:
        return request.getfixturevalue("_function_scoped_runner").get_loop()
    except pytest.FixtureLookupError:
        return request.getfixturevalue("event_loop")


@pytest.fixture
def hub_options() -> dict[str, Any]:
    """Extra ``RealtimeWidgetApp`` traits for one test (override in a module or test)."""
    return {}


@pytest.fixture
def hub_log_dir(tmp_path):
    return tmp_path / "realtime-logs"


@pytest.fixture
def jp_server_config(hub_log_dir, hub_options):
    return Config(
        {
            "ServerApp": {"jpserver_extensions": {"realtime_widget": True}},
            "RealtimeWidgetApp": {
                "log_dir": str(hub_log_dir),
                "local_speech": False,
                # the speech_stack fixture loads it once per test session
                "preload_local_engine": False,
                "reconnect_initial_delay": 0.05,
                "reconnect_max_delay": 0.5,
                **hub_options,
            },
        }
    )


@pytest.fixture
def hub(jp_serverapp):
    """The running ``Hub`` of the test server."""
    return jp_serverapp.web_app.settings["realtime_widget_hub"]


@pytest.fixture
def with_speech(speech_stack):
    """The local provider uses the (once per test session) loaded speech stack."""
    from realtime_widget.hub.upstreams import set_shared_speech_stack

    set_shared_speech_stack(speech_stack)
    return speech_stack


async def create_session(jp_fetch, **body: Any) -> dict[str, Any]:
    body.setdefault("provider", "local")
    r = await jp_fetch("realtime", "sessions", method="POST", body=json.dumps(body))
    assert r.code == 201, r.body
    return json.loads(r.body)


async def get_json(jp_fetch, *parts: str, **params: Any) -> Any:
    r = await jp_fetch(*parts, params=params or None)
    return json.loads(r.body)


class HubWS:
    """A client attached to a hub session over a real WebSocket. Frames are kept in
    arrival order; ``wait_for`` reads them with a cursor (each match moves it on)."""

    def __init__(self, ws: tornado.websocket.WebSocketClientConnection):
        self.ws = ws
        self.events: list[dict[str, Any]] = []  # every frame except x_hub.ready
        self.ready: dict[str, Any] | None = None
        self.cursor = 0
        self.closed = False
        self._changed = asyncio.Event()
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def connect(
        cls,
        jp_ws_fetch,
        session_id: str,
        *,
        source: str = "widget",
        after: int | None = None,
        headers: dict[str, str] | None = None,
        wait_ready: bool = True,
        hub_events: bool = True,
    ) -> HubWS:
        params = {"source": source}
        if hub_events:  # as our widget and kernel client do
            params["x_events"] = "all"
        if after is not None:
            params["after"] = str(after)
        ws = await jp_ws_fetch(
            "realtime", "sessions", session_id, "ws", params=params, headers=headers
        )
        client = cls(ws)
        if wait_ready:
            await client.until(lambda: client.ready is not None, "x_hub.ready")
        return client

    async def _read(self) -> None:
        while True:
            msg = await self.ws.read_message()
            if msg is None:
                self.closed = True
                self._changed.set()
                return
            event = json.loads(msg)
            if event.get("type") == "x_hub.ready":
                self.ready = event
            else:
                self.events.append(event)
            self._changed.set()

    async def send(self, event: dict[str, Any] | str) -> None:
        await self.ws.write_message(event if isinstance(event, str) else json.dumps(event))

    async def until(self, condition: Callable[[], Any], what: str, timeout: float = WAIT_S) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = condition()
            if value:
                return value
            if self.closed:
                raise AssertionError(
                    f"socket closed (code {self.ws.close_code}) while waiting for {what}"
                )
            remaining = deadline - loop.time()
            if remaining <= 0:
                types = [e.get("type") for e in self.events[-30:]]
                raise AssertionError(f"timed out waiting for {what}; last events: {types}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    async def wait_for(
        self,
        etype: str,
        where: Callable[[dict[str, Any]], bool] | None = None,
        timeout: float = WAIT_S,
    ) -> dict[str, Any]:
        def find() -> dict[str, Any] | None:
            for i in range(self.cursor, len(self.events)):
                ev = self.events[i]
                if ev.get("type") == etype and (where is None or where(ev)):
                    self.cursor = i + 1
                    return ev
            return None

        return await self.until(find, etype, timeout)

    async def wait_closed(self, timeout: float = WAIT_S) -> int | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.closed and loop.time() < deadline:
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), deadline - loop.time())
            except asyncio.TimeoutError:
                break
        return self.ws.close_code

    def of_type(self, etype: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("type") == etype]

    async def close(self) -> None:
        self.ws.close()
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)


async def text_turn(ws: HubWS, text: str, **response: Any) -> dict[str, Any]:
    """Send a user text message and a response.create; return the response.done."""
    await ws.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": text}],
            },
        }
    )
    await ws.send({"type": "response.create", "response": response})
    return await ws.wait_for("response.done")


# ---------------------------------------------------------------------- a fake hosted service
# The project's own standalone engine server speaks the OpenAI and Azure handshakes and the
# GA dialect: it stands in for the hosted services (which the tests cannot reach).


@pytest.fixture
def upstream_key() -> str:
    import secrets

    return "sk-test-" + secrets.token_hex(16)


class EngineServer:
    def __init__(self, http_server: Any, port: int, state: Any):
        self.http_server, self.port, self.state = http_server, port, state

    def url(self, path: str = "/v1/realtime") -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def sockets(self) -> list[Any]:
        """The server-side handlers of the open connections."""
        return [s._send.__self__ for s in self.state.sessions]

    async def drop_connections(self) -> None:
        """Cut every open connection at the TCP level (no close handshake)."""
        for handler in self.sockets():
            conn = handler.ws_connection
            if conn is not None and conn.stream is not None:
                conn.stream.close()

    async def stop(self) -> None:
        self.http_server.stop()
        await self.drop_connections()
        await self.http_server.close_all_connections()


async def start_engine(port: int = 0, **kwargs: Any) -> EngineServer:
    from realtime_widget.engine.server import start_server

    http_server, bound, state = await start_server("127.0.0.1", port, **kwargs)
    return EngineServer(http_server, bound, state)


@pytest.fixture
async def engine_server(upstream_key):
    """A text-only standalone engine server that requires ``upstream_key``."""
    server = await start_engine(api_key=upstream_key)
    yield server
    await server.stop()
