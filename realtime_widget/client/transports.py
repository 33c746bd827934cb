"""How a kernel :class:`~realtime_widget.client.session.Session` reaches its hub session:
the Jupyter server's hub over REST + WebSocket (:class:`HubTransport`), or the same hub
core inside the kernel (:class:`DirectTransport`). Both run on the client's loop thread."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from ..protocol.parsing import loads_json
from .discovery import ServerInfo
from .rest import HubRest

log = logging.getLogger(__name__)

__all__ = [
    "DirectTransport",
    "HubTransport",
    "SessionClosed",
    "Transport",
    "direct_hub",
    "direct_hub_config",
    "frame_event",
]


def frame_event(frame: str) -> dict[str, Any] | None:
    """A frame the hub sent, as its event; None when it is not a JSON object."""
    try:
        event = loads_json(frame)
    except ValueError:
        return None
    return event if isinstance(event, dict) else None


class SessionClosed(RuntimeError):
    """The session ended (closed, failed, or its connection could not be restored)."""


class Transport(Protocol):
    """What a :class:`~realtime_widget.client.session.Session` needs of its way to the hub.
    A transport is made with ``on_frame(text)`` (each server frame, ``x_seq`` included)
    and ``on_gone(reason)`` (the session ended for good) callbacks."""

    mode: str  # "hub" or "direct"
    server: ServerInfo | None  # the Jupyter server, in hub mode
    summary: dict[str, Any]  # the hub's SessionSummary, once created or looked up
    last_seq: int  # the last x_seq received (a reattach catches up from it)

    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a hub session (``POST sessions`` body); its summary."""
        ...

    async def lookup(self, session_id: str) -> dict[str, Any]:
        """An existing hub session's summary."""
        ...

    async def connect(self, after: int) -> None:
        """Attach; server events after ``after`` are replayed, then live ones follow."""
        ...

    async def send(self, text: str) -> None:
        """One client event (JSON text); :class:`SessionClosed` once the session is gone."""
        ...

    async def follow(
        self, after: int, on_event: Callable[[dict[str, Any]], None]
    ) -> Callable[[], Awaitable[None]]:
        """Attach one more reader of the session, as a browser's WebSocket attaches
        (``source=widget``, ``x_events=all``): the hub catches it up with the server events
        after ``after``, ends the catch-up with ``x_hub.ready``, then sends live events.
        ``on_event(event)`` gets each one parsed. Returns the coroutine function that
        detaches it. The widget's comm relay is such a reader."""
        ...

    async def events(self, **params: Any) -> dict[str, Any]:
        """A page of the session's event log (the hub's ``events`` query parameters)."""
        ...

    async def close(self, end: bool) -> None:
        """Detach; with ``end`` the hub session is closed too."""
        ...


class HubTransport:
    """A session of the Jupyter server's hub, over REST + WebSocket (loop thread only)."""

    mode = "hub"

    def __init__(
        self,
        server: ServerInfo,
        on_frame: Callable[[str], None],
        on_gone: Callable[[str], None],
        *,
        source: str = "kernel",
    ):
        self.server = server
        self.source = source
        self.on_frame = on_frame
        self.on_gone = on_gone
        self.rest = HubRest(server)
        self.ws: Any = None
        self.summary: dict[str, Any] = {}
        self.closing = False
        self._reader: asyncio.Task | None = None
        self.last_seq = 0
        # Set while a socket is attached (or for good, once the session is gone): a send
        # during a reattach waits for it instead of failing.
        self._attached = asyncio.Event()
        self.gone = False

    async def probe(self) -> bool:
        return await self.rest.probe()

    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        self.summary = await self.rest.request("POST", "realtime", "sessions", body=body)
        return self.summary

    async def lookup(self, session_id: str) -> dict[str, Any]:
        self.summary = await self.rest.request("GET", "realtime", "sessions", session_id)
        return self.summary

    async def connect(self, after: int) -> None:
        from urllib.parse import urlencode

        import tornado.httpclient
        import tornado.websocket

        url = (
            self.server.ws(self.summary["ws_path"])
            + "?"
            + urlencode({"source": self.source, "after": after, "x_events": "all"})
        )
        request = tornado.httpclient.HTTPRequest(
            url, headers=self.server.headers(), connect_timeout=30, request_timeout=30
        )
        self.ws = await tornado.websocket.websocket_connect(
            request, max_message_size=512 * 1024 * 1024, ping_interval=20, ping_timeout=60
        )
        from ..hub.upstreams import nodelay

        nodelay(self.ws)
        self._attached.set()
        self._reader = asyncio.ensure_future(self._read(self.ws))

    async def _read(self, ws: Any) -> None:
        while True:
            message = await ws.read_message()
            if message is None:
                break
            if isinstance(message, bytes):
                message = message.decode("utf-8", "replace")
            self.on_frame(message)
        if not self.closing and ws is self.ws:
            reason = ws.close_reason or ""
            if ws.close_code == 1000 and reason.startswith("session "):
                self._gone(reason)
                return
            self._attached.clear()
            await self._reattach()

    def _gone(self, reason: str) -> None:
        self.gone = True
        self._attached.set()  # nothing to wait for any more: senders fail at once
        self.on_gone(reason)

    async def _reattach(self) -> None:
        """The socket to the hub dropped: reattach and catch up from the last x_seq."""
        delay = 0.25
        for _ in range(12):
            await asyncio.sleep(delay)
            if self.closing:
                return
            try:
                summary = await self.lookup(self.summary["id"])
                if summary.get("status") in ("closed", "failed"):
                    if not summary.get("interrupted"):
                        self._gone(f"session {summary.get('status')}")
                        return
                    # The Jupyter server died with the session live and has come back:
                    # reopen it. Its new events carry x_seq numbers above every one sent
                    # before the crash (the hub never reuses them), so none is taken for
                    # a duplicate below.
                    await self.rest.request(
                        "POST", "realtime", "sessions", self.summary["id"], "resume", body={}
                    )
                await self.connect(self.last_seq)
                return
            except Exception as exc:
                log.info("realtime-widget: reattaching failed (%s); retrying", exc)
                delay = min(delay * 2, 10.0)
        self._gone("the connection to the Jupyter server was lost")

    async def send(self, text: str) -> None:
        import tornado.websocket

        if self.ws is None:
            raise SessionClosed("not connected")
        for _ in range(2):  # once more if the socket dropped under this send
            await self._attached.wait()  # a reattach in progress (e.g. the server restarts)
            try:
                await self.ws.write_message(text)
                return
            except tornado.websocket.WebSocketClosedError:
                if self.closing or self.gone:
                    raise SessionClosed("closed") from None
                self._attached.clear()  # the reader sees the drop too and reattaches
        raise SessionClosed("the connection to the Jupyter server was lost")

    async def follow(
        self, after: int, on_event: Callable[[dict[str, Any]], None]
    ) -> Callable[[], Awaitable[None]]:
        reader = _Follower(on_event)
        socket = HubTransport(self.server, reader.on_frame, lambda _reason: None, source="widget")
        reader.transport = socket  # its reattach catches up from the last x_seq it saw
        socket.summary = self.summary
        await socket.connect(after)
        return lambda: socket.close(False)

    async def events(self, **params: Any) -> dict[str, Any]:
        return await self.rest.request(
            "GET", "realtime", "sessions", self.summary["id"], "events", params=params
        )

    async def close(self, end: bool) -> None:
        self.closing = True
        if end:
            try:
                await self.rest.request("DELETE", "realtime", "sessions", self.summary["id"])
            except Exception as exc:
                log.info("realtime-widget: closing the hub session failed: %s", exc)
        if self.ws is not None:
            self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
        self.rest.close()


class _Follower:
    """A reader attached by :meth:`Transport.follow`: parses each frame once and keeps the
    last ``x_seq`` on its transport (a hub socket reattaches from it)."""

    def __init__(self, on_event: Callable[[dict[str, Any]], None]):
        self.on_event = on_event
        self.transport: Any = None

    def on_frame(self, frame: str) -> None:
        event = frame_event(frame)
        if event is None:
            return
        seq = event.get("x_seq")
        if isinstance(seq, int) and self.transport is not None:
            self.transport.last_seq = max(self.transport.last_seq, seq)
        self.on_event(event)

    # ClientSink, for a follower of the in-process hub
    def send_text(self, frame: str) -> None:
        self.on_frame(frame)

    def close(self, code: int, reason: str) -> None:
        pass  # the Session itself hears that the session ended


class DirectSink:
    def __init__(self, transport: DirectTransport):
        self.transport = transport

    def send_text(self, frame: str) -> None:
        self.transport.on_frame(frame)

    def close(self, code: int, reason: str) -> None:
        if not self.transport.closing:
            self.transport.on_gone(reason)


_hubs_per_loop: dict[int, Any] = {}


def direct_hub() -> Any:
    """The hub that runs sessions inside this process (one per loop)."""
    loop = asyncio.get_running_loop()
    hub = _hubs_per_loop.get(id(loop))
    if hub is None:
        from ..hub import Hub

        hub = _hubs_per_loop[id(loop)] = Hub(direct_hub_config())
    return hub


def direct_hub_config() -> Any:
    """Direct mode's hub configuration, from the environment (the same variables the
    server extension reads)."""
    from .. import settings
    from ..hub import HubConfig
    from ..hub.upstreams import ProviderSettings

    local_speech = os.environ.get("REALTIME_WIDGET_LOCAL_SPEECH", "1").lower()
    providers = ProviderSettings(
        local_speech=local_speech not in ("0", "false", "no"), **settings.provider_env()
    )
    if settings.env("OPENAI_REALTIME_URL"):
        providers.openai_url = os.environ["OPENAI_REALTIME_URL"]
    return HubConfig(log_dir=settings.log_dir(), providers=providers, keep_output_audio=True)


class DirectTransport:
    """The same hub core, inside this process (loop thread only)."""

    mode = "direct"

    def __init__(
        self,
        on_frame: Callable[[str], None],
        on_gone: Callable[[str], None],
        *,
        speech: bool | None = None,
    ):
        self.on_frame = on_frame
        self.on_gone = on_gone
        self.hub = direct_hub()
        # The environment as it is now: a notebook may set a key after its first session.
        self.hub.config.providers = direct_hub_config().providers
        if speech is not None:
            self.hub.config.providers.local_speech = speech
        self.session: Any = None
        self.client: Any = None
        self.summary: dict[str, Any] = {}
        self.closing = False
        self.last_seq = 0
        self.server = None

    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        from ..hub.upstreams import HubError

        # the session lives in this kernel, with the widget's comm as its only window:
        # it ends with the kernel, an idle timeout would close it under an open widget
        body = {k: v for k, v in body.items() if k != "idle_timeout"}
        try:
            self.session = await self.hub.create("kernel", body)
        except HubError as exc:
            raise RuntimeError(f"cannot create the session: {exc.message}") from None
        self.summary = self.session.summary()
        return self.summary

    async def lookup(self, session_id: str) -> dict[str, Any]:
        self.session = await self.hub.get(session_id)
        self.summary = self.session.summary()
        return self.summary

    async def connect(self, after: int) -> None:
        self.client = self.session.attach(DirectSink(self), source="kernel", after=after)

    async def send(self, text: str) -> None:
        if self.client is None or self.client.closed:
            raise SessionClosed("not attached")
        await self.session.client_event(self.client, text)

    async def follow(
        self, after: int, on_event: Callable[[dict[str, Any]], None]
    ) -> Callable[[], Awaitable[None]]:
        client = self.session.attach(_Follower(on_event), source="widget", after=after)

        async def detach() -> None:
            self.session.detach(client)

        return detach

    async def events(self, **params: Any) -> dict[str, Any]:
        types = params.get("type")
        return await self.hub.events(
            self.summary["id"],
            after=int(params.get("after") or 0),
            limit=int(params.get("limit") or 100),
            types=types.split(",") if isinstance(types, str) else types,
            audio=params.get("audio") or "ref",
        )

    async def close(self, end: bool) -> None:
        self.closing = True
        if self.client is not None:
            self.session.detach(self.client)
        if end and self.session is not None:
            await self.session.close("closed by the kernel")
