"""The kernel-side realtime session.

>>> s = Session()                       # finds the Jupyter server, or runs in the kernel
>>> reply = s.say("What is the weather in Paris?")
>>> print(reply.text)

``Session`` attaches to a session of the Jupyter server's hub (``mode="hub"``) over
loopback, or, where no hub is reachable (VS Code, Colab, plain IPython), runs the same
hub core inside the kernel (``mode="direct"``). The API is the same either way.

Its socket lives on one background thread (one asyncio loop per process, shared by all
sessions), so blocking calls in a cell never stall it, and tools run while a cell waits.
Every method has a blocking form and an ``a``-prefixed awaitable form (``say`` /
``asay``, ...). Callbacks registered with :meth:`Session.on` run on that background
thread: use the ``a*`` forms (or :meth:`send`, which never blocks) inside them.

Waiting: ``wait_for(...)`` returns the first matching event that arrived after the
last event this ``Session`` sent (``since=`` overrides), so an answer that arrives
before the call to ``wait_for`` is not missed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import json
import logging
import os
import queue
import threading
import wave
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import audio as _audio
from ..conversation import Conversation
from ..protocol import loads_json
from .discovery import ServerInfo, find_server
from .tools import Tool, tool_from_callable

log = logging.getLogger(__name__)

__all__ = ["Reply", "Session", "SessionClosed", "list_sessions"]

HISTORY = 5000
_dumps = json.JSONEncoder(separators=(",", ":")).encode
_event_ids = itertools.count(1)


class SessionClosed(RuntimeError):
    """The session ended (closed, failed, or its connection could not be restored)."""


# ---------------------------------------------------------------------- the loop thread


class _LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=4, thread_name_prefix="realtime-widget-tool"
        )
        self.thread = threading.Thread(target=self._run, name="realtime-widget-client", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def in_loop(self) -> bool:
        return threading.current_thread() is self.thread

    def submit(self, coro: Any) -> concurrent.futures.Future:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Any, timeout: float | None = None) -> Any:
        if self.in_loop():
            coro.close()
            raise RuntimeError(
                "blocking Session methods cannot be called from a Session callback: use the a* forms"
            )
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError("timed out waiting for the realtime session") from None

    async def arun(self, coro: Any) -> Any:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            return await coro
        return await asyncio.wrap_future(self.submit(coro))


_loop_lock = threading.Lock()
_loop_thread: _LoopThread | None = None


def _lt() -> _LoopThread:
    global _loop_thread
    with _loop_lock:
        if _loop_thread is None or not _loop_thread.thread.is_alive():
            _loop_thread = _LoopThread()
        return _loop_thread


# ---------------------------------------------------------------------- replies


@dataclass
class Reply:
    """The outcome of one turn: the final response and what it said."""

    response: dict[str, Any]
    text: str
    audio: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, np.int16))
    sample_rate: int = 24000
    item_ids: list[str] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list, repr=False)

    @property
    def status(self) -> str:
        return str(self.response.get("status"))

    @property
    def usage(self) -> dict[str, Any] | None:
        return self.response.get("usage")

    def __str__(self) -> str:
        return self.text


# ---------------------------------------------------------------------- transports


class _HubTransport:
    """A session of the Jupyter server's hub, over REST + WebSocket (loop thread only)."""

    mode = "hub"

    def __init__(
        self, server: ServerInfo, on_frame: Callable[[str], None], on_gone: Callable[[str], None]
    ):
        import tornado.httpclient

        self.server = server
        self.on_frame = on_frame
        self.on_gone = on_gone
        self.http = tornado.httpclient.AsyncHTTPClient(force_instance=True)
        self.ws: Any = None
        self.summary: dict[str, Any] = {}
        self.closing = False
        self._reader: asyncio.Task | None = None
        self.last_seq = 0
        # Set while a socket is attached (or for good, once the session is gone): a send
        # during a reattach waits for it instead of failing.
        self._attached = asyncio.Event()
        self.gone = False

    async def request(
        self,
        method: str,
        *parts: str,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        timeout: float = 120,
    ) -> Any:
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
            else _dumps(body if body is not None else {}),
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
        return json.loads(response.body) if response.body else None

    async def probe(self) -> bool:
        try:
            await self.request("GET", "realtime", "status", timeout=15)
            return True
        except Exception:
            return False

    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        self.summary = await self.request("POST", "realtime", "sessions", body=body)
        return self.summary

    async def lookup(self, session_id: str) -> dict[str, Any]:
        self.summary = await self.request("GET", "realtime", "sessions", session_id)
        return self.summary

    async def connect(self, after: int) -> None:
        from urllib.parse import urlencode

        import tornado.httpclient
        import tornado.websocket

        url = (
            self.server.ws(self.summary["ws_path"])
            + "?"
            + urlencode({"source": "kernel", "after": after, "x_events": "all"})
        )
        request = tornado.httpclient.HTTPRequest(
            url, headers=self.server.headers(), connect_timeout=30, request_timeout=30
        )
        self.ws = await tornado.websocket.websocket_connect(
            request, max_message_size=512 * 1024 * 1024, ping_interval=20, ping_timeout=60
        )
        from ..server.providers import _nodelay

        _nodelay(self.ws)
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
                    await self.request(
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

    async def events(self, **params: Any) -> dict[str, Any]:
        return await self.request(
            "GET", "realtime", "sessions", self.summary["id"], "events", params=params
        )

    async def close(self, end: bool) -> None:
        self.closing = True
        if end:
            try:
                await self.request("DELETE", "realtime", "sessions", self.summary["id"])
            except Exception as exc:
                log.info("realtime-widget: closing the hub session failed: %s", exc)
        if self.ws is not None:
            self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
        self.http.close()


class _DirectSink:
    def __init__(self, transport: _DirectTransport):
        self.transport = transport

    def send_text(self, frame: str) -> None:
        self.transport.on_frame(frame)

    def close(self, code: int, reason: str) -> None:
        if not self.transport.closing:
            self.transport.on_gone(reason)


_direct_hubs: dict[int, Any] = {}


def _direct_hub() -> Any:
    """The hub that runs sessions inside this process (one per loop)."""
    loop = asyncio.get_running_loop()
    hub = _direct_hubs.get(id(loop))
    if hub is None:
        from ..server.hub import Hub

        hub = _direct_hubs[id(loop)] = Hub(direct_hub_config())
    return hub


def direct_hub_config() -> Any:
    """Direct mode's hub configuration, from the environment (the same variables the
    server extension reads)."""
    from ..server.hub import HubConfig
    from ..server.providers import ProviderSettings

    env = os.environ
    log_dir = env.get("REALTIME_WIDGET_LOG_DIR")
    if not log_dir:
        try:
            from jupyter_core.paths import jupyter_data_dir

            log_dir = str(Path(jupyter_data_dir()) / "realtime_widget" / "sessions")
        except ImportError:
            log_dir = str(Path.home() / ".local" / "share" / "realtime_widget" / "sessions")
    providers = ProviderSettings(
        local_speech=env.get("REALTIME_WIDGET_LOCAL_SPEECH", "1").lower()
        not in ("0", "false", "no"),
        openai_api_key=env.get("OPENAI_API_KEY") or None,
        azure_endpoint=env.get("AZURE_OPENAI_ENDPOINT") or None,
        azure_api_key=env.get("AZURE_OPENAI_API_KEY") or None,
        azure_deployment=env.get("AZURE_OPENAI_DEPLOYMENT") or None,
        azure_api_version=env.get("REALTIME_WIDGET_AZURE_API_VERSION") or None,
        url_api_key=env.get("REALTIME_WIDGET_URL_API_KEY") or None,
        url_api_key_url=env.get("REALTIME_WIDGET_URL_API_KEY_URL") or None,
    )
    if env.get("OPENAI_REALTIME_URL"):
        providers.openai_url = env["OPENAI_REALTIME_URL"]
    return HubConfig(log_dir=Path(log_dir), providers=providers, keep_output_audio=True)


class _DirectTransport:
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
        self.hub = _direct_hub()
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
        from ..server.providers import HubError

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
        self.client = self.session.attach(_DirectSink(self), source="kernel", after=after)

    async def send(self, text: str) -> None:
        if self.client is None or self.client.closed:
            raise SessionClosed("not attached")
        await self.session.client_event(self.client, text)

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


# ---------------------------------------------------------------------- the session


class Session:
    """A realtime session, attached from the kernel (see the module docstring).

    Parameters: ``provider`` (``"local"``, ``"openai"``, ``"azure"``, ``"url"``),
    ``model``, ``session`` (preview session fields to set at once, e.g.
    ``{"instructions": ..., "modalities": ["text"]}``), ``name``, ``url`` (for
    ``provider="url"``), ``id`` (attach to an existing hub session instead of creating
    one), ``mode`` (``"auto"``, ``"hub"``, ``"direct"``; env ``REALTIME_WIDGET_MODE``),
    ``server`` (a :class:`ServerInfo` or base URL, to skip discovery), ``token``,
    ``speech`` (direct mode: load the offline speech models), ``tools`` (callables),
    ``timeout`` (seconds for connecting), ``idle_timeout`` (the hub closes the session after
    this many seconds with no widget attached and no event either way; default: never).
    """

    def __init__(
        self,
        provider: str = "local",
        *,
        model: str | None = None,
        session: dict[str, Any] | None = None,
        name: str | None = None,
        url: str | None = None,
        id: str | None = None,
        mode: str | None = None,
        server: ServerInfo | str | None = None,
        token: str | None = None,
        speech: bool | None = None,
        tools: list[Callable[..., Any]] | None = None,
        timeout: float = 120.0,
        idle_timeout: float | None = None,
    ):
        self._lt = _lt()
        self.conversation = Conversation()
        self._history: deque[dict[str, Any]] = deque(maxlen=HISTORY)
        self._count = 0  # events received so far
        self._mark = 0  # count when this Session last sent an event
        self._new = asyncio.Event()  # replaced on every event (created on the loop below)
        self._subscribers: list[Any] = []
        self._callbacks: dict[str, list[Callable[[dict[str, Any]], Any]]] = {}
        self._tools: dict[str, Tool] = {}
        self._tool_tasks: dict[str, list[asyncio.Task]] = {}
        self._follow_ups: set[asyncio.Task] = set()
        self._live_after = 0  # x_seq before which events are history (tools never re-run)
        self._ready: asyncio.Event | None = None
        self._ready_frame: dict[str, Any] | None = None
        self._gone: str | None = None
        self.transport: Any = None
        mode = (mode or os.environ.get("REALTIME_WIDGET_MODE") or "auto").lower()
        if mode not in ("auto", "hub", "direct"):
            raise ValueError("mode: 'auto', 'hub' or 'direct'")
        body: dict[str, Any] = {"provider": provider}
        for key, value in (
            ("model", model),
            ("session", session),
            ("name", name),
            ("url", url),
            ("idle_timeout", idle_timeout),
        ):
            if value is not None:
                body[key] = value
        for fn in tools or ():
            self._add_tool(tool_from_callable(fn))
        if self._tools:
            body["session"] = {
                **(body.get("session") or {}),
                "tools": self._merged_tools((body.get("session") or {}).get("tools")),
            }
        self._lt.run(self._start(body, id, mode, server, token, speech), timeout)

    # ------------------------------------------------------------------ start / stop

    async def _start(
        self,
        body: dict[str, Any],
        session_id: str | None,
        mode: str,
        server: Any,
        token: str | None,
        speech: bool | None,
    ) -> None:
        self._new = asyncio.Event()
        self._ready = asyncio.Event()
        transport: Any = None
        if mode in ("auto", "hub"):
            info = server if isinstance(server, ServerInfo) else None
            if isinstance(server, str):
                from .discovery import _normalise

                info = ServerInfo(_normalise(server), token or "", "argument")
            if info is None:
                info = find_server()
            if info is not None and token is not None:
                info = ServerInfo(info.url, token, info.how)
            if info is not None:
                candidate = _HubTransport(info, self._on_frame, self._on_gone)
                if mode == "hub" or await candidate.probe():
                    transport = candidate
                else:
                    candidate.http.close()
            if transport is None and mode == "hub":
                raise RuntimeError(
                    "no Jupyter server with the realtime-widget extension was found (mode='hub')"
                )
        if transport is None:
            transport = _DirectTransport(self._on_frame, self._on_gone, speech=speech)
        self.transport = transport
        if session_id is not None:
            summary = await transport.lookup(session_id)
            self._live_after = int(summary.get("n_events") or 0)
        else:
            await transport.create(body)
        await transport.connect(0)
        await self._ready.wait()
        if session_id is not None:
            self._mark = self._count
            if self._tools:
                await self._advertise_tools()

    def _on_gone(self, reason: str) -> None:
        self._gone = reason or "the session ended"
        if self._ready is not None:
            self._ready.set()
        self._wake()

    @property
    def id(self) -> str:
        return self.transport.summary["id"]

    @property
    def mode(self) -> str:
        """``"hub"`` (the Jupyter server holds the session) or ``"direct"`` (this kernel does)."""
        return self.transport.mode

    @property
    def server(self) -> ServerInfo | None:
        return self.transport.server

    def client_settings(self) -> dict[str, str]:
        """How a third-party realtime client reaches this hub session (the key is the
        Jupyter token; the provider's key stays on the server)::

            s = Session()
            cfg = s.client_settings()
            AsyncOpenAI(api_key=cfg["api_key"], websocket_base_url=cfg["openai_websocket_base_url"])
            RealtimeRunner(agent).run(model_config={"url": cfg["agents_url"], "api_key": cfg["api_key"]})
            RTClient(url=cfg["azure_endpoint"], key_credential=AzureKeyCredential(cfg["api_key"]),
                     azure_deployment=cfg["azure_deployment"])   # rtclient; rt-client alike

        ``azure_endpoint`` works when the server's ``base_url`` is ``/`` (Jupyter's
        default): rt-client and rtclient replace the endpoint's path. Only in hub mode
        (direct mode has no server to connect to)."""
        from urllib.parse import urlsplit

        server = self.server
        if self.mode != "hub" or server is None:
            raise RuntimeError(
                "client_settings: the session runs in this kernel (direct mode); start Jupyter with realtime-widget for hub mode"
            )
        base = server.ws(f"realtime/sessions/{self.id}")
        root = urlsplit(server.url)
        return {
            "api_key": server.token,
            "openai_websocket_base_url": base + "/v1",
            "agents_url": base + "/v1/realtime",
            "azure_endpoint": f"{root.scheme}://{root.netloc}",  # rt-client and rtclient append /openai/realtime to the origin
            "azure_deployment": self.id,
        }

    @property
    def closed(self) -> bool:
        return self._gone is not None

    @property
    def last_seq(self) -> int:
        """Sequence number (``x_seq``) of the last event received."""
        return self.transport.last_seq

    def __repr__(self) -> str:
        state = f"closed: {self._gone}" if self._gone else f"{len(self.conversation.items)} items"
        return f"<realtime_widget.Session {self.id} ({self.mode}, {state})>"

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self, *, end: bool = True) -> None:
        """Detach; with ``end`` (default) also close the session on the hub (its log stays)."""
        self._lt.run(self.aclose(end=end), 60)

    async def aclose(self, *, end: bool = True) -> None:
        await self._lt.arun(self._close(end))

    async def _close(self, end: bool) -> None:
        for task in [*self._follow_ups, *(t for ts in self._tool_tasks.values() for t in ts)]:
            task.cancel()
        await self.transport.close(end)
        if self._gone is None:
            self._gone = "closed"
        self._wake()

    # ------------------------------------------------------------------ incoming events

    def _on_frame(self, frame: str) -> None:
        try:
            event = loads_json(frame)
        except ValueError:
            return
        if not isinstance(event, dict):
            return
        etype = event.get("type")
        if etype == "x_hub.ready":
            self._ready_frame = event
            if self._ready is not None:
                self._ready.set()
            return
        seq = event.get("x_seq")
        if isinstance(seq, int):
            if seq <= self.transport.last_seq:
                return  # already seen (a reattach overlapped)
            self.transport.last_seq = seq
        self.conversation.apply(event)
        self._history.append(event)
        self._count += 1
        self._wake()
        for sub in list(self._subscribers):
            sub(event)
        for key in (etype, "*"):
            for callback in list(self._callbacks.get(key, ())):
                try:
                    result = callback(event)
                    if asyncio.iscoroutine(result):
                        asyncio.ensure_future(result)
                except Exception:
                    log.exception("realtime-widget: a Session callback failed")
        if self._tools and isinstance(seq, int) and seq > self._live_after:
            self._tool_events(event)

    def _wake(self) -> None:
        new, self._new = self._new, asyncio.Event()
        new.set()

    def _event(self, index: int) -> dict[str, Any] | None:
        """Event number ``index`` (1-based count), if still in the history."""
        first = self._count - len(self._history) + 1
        if index < first or index > self._count:
            return None
        return self._history[index - first]

    async def _next_events(
        self, cursor: int, deadline: float | None
    ) -> tuple[list[dict[str, Any]], int]:
        """Events after ``cursor`` (waiting for at least one); raises on timeout / end."""
        loop = asyncio.get_running_loop()
        while self._count <= cursor:
            if self._gone is not None:
                raise SessionClosed(self._gone)
            waiter = self._new
            timeout = None if deadline is None else deadline - loop.time()
            if timeout is not None and timeout <= 0:
                raise TimeoutError("timed out waiting for a realtime event")
            try:
                await asyncio.wait_for(waiter.wait(), timeout)
            except asyncio.TimeoutError:
                raise TimeoutError("timed out waiting for a realtime event") from None
        first = max(cursor + 1, self._count - len(self._history) + 1)
        return [self._event(i) for i in range(first, self._count + 1)], self._count  # type: ignore[misc]

    # ------------------------------------------------------------------ sending

    def _prepare(self, event: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise TypeError("an event is a dict with a string 'type'")
        event = dict(event)
        event.setdefault("event_id", f"event_kernel_{os.getpid()}_{next(_event_ids)}")
        return event

    async def _send(self, event: dict[str, Any]) -> str:
        if self._gone is not None:
            raise SessionClosed(self._gone)
        self._mark = self._count
        if event.get("type") == "input_audio_buffer.append" or event.get("type") in (
            "input_audio_buffer.commit",
            "input_audio_buffer.clear",
        ):
            self.conversation.apply_client(event)
        await self.transport.send(_dumps(event))
        return event["event_id"]

    def send(self, event: dict[str, Any]) -> str:
        """Send any client event (preview dialect); returns its ``event_id``. Never blocks."""
        event = self._prepare(event)
        if self._lt.in_loop():
            asyncio.ensure_future(self._send(event))
        else:
            self._lt.submit(self._send(event))
        return event["event_id"]

    async def asend(self, event: dict[str, Any]) -> str:
        return await self._lt.arun(self._send(self._prepare(event)))

    # ------------------------------------------------------------------ waiting

    async def _wait_for(
        self, match: Callable[[dict[str, Any]], bool], timeout: float | None, since: int | None
    ) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        cursor = self._mark if since is None else since
        while True:
            events, cursor = await self._next_events(cursor, deadline)
            for event in events:
                if event is not None and match(event):
                    return event

    @staticmethod
    def _matcher(
        what: str | Callable[[dict[str, Any]], bool] | list[str],
        where: Mapping[str, Any] | None = None,
    ) -> Callable[[dict[str, Any]], bool]:
        if callable(what):
            base = what
        else:
            kinds = {what} if isinstance(what, str) else set(what)
            base = lambda ev: ev.get("type") in kinds
        if not where:
            return base
        return lambda ev: base(ev) and all(ev.get(k) == v for k, v in where.items())

    def wait_for(
        self,
        what: str | list[str] | Callable[[dict[str, Any]], bool],
        *,
        timeout: float | None = 60.0,
        since: int | None = None,
        **where: Any,
    ) -> dict[str, Any]:
        """The first event of type ``what`` (a type, a list of types, or a predicate),
        with fields equal to ``where``, that arrived after the last event sent (or
        after event number ``since``, see :meth:`mark`)."""
        return self._lt.run(
            self._wait_for(self._matcher(what, where), timeout, since),
            None if timeout is None else timeout + 5,
        )

    async def await_event(
        self,
        what: str | list[str] | Callable[[dict[str, Any]], bool],
        *,
        timeout: float | None = 60.0,
        since: int | None = None,
        **where: Any,
    ) -> dict[str, Any]:
        """Awaitable :meth:`wait_for`."""
        return await self._lt.arun(self._wait_for(self._matcher(what, where), timeout, since))

    def mark(self) -> int:
        """The number of events received so far (for ``since=``)."""
        return self._count

    def stream(
        self, *, timeout: float | None = None, types: str | list[str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Iterate over server events as they arrive (from now on). Stops after
        ``timeout`` seconds without an event, or when the session ends."""
        wanted = None if types is None else ({types} if isinstance(types, str) else set(types))
        q: queue.Queue = queue.Queue(maxsize=100_000)

        def push(event: dict[str, Any]) -> None:
            if wanted is None or event.get("type") in wanted:
                try:
                    q.put_nowait(event)
                except queue.Full:
                    pass

        self._lt.loop.call_soon_threadsafe(self._subscribers.append, push)
        try:
            while True:
                try:
                    event = q.get(timeout=timeout if timeout is not None else 0.5)
                except queue.Empty:
                    if self._gone is not None or timeout is not None:
                        return
                    continue
                yield event
        finally:
            self._lt.loop.call_soon_threadsafe(
                lambda: push in self._subscribers and self._subscribers.remove(push)
            )

    async def astream(
        self, *, timeout: float | None = None, types: str | list[str] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Async iterator over server events as they arrive (from now on)."""
        wanted = None if types is None else ({types} if isinstance(types, str) else set(types))
        cursor = await self._lt.arun(self._current())
        while True:
            try:
                events, cursor = await self._lt.arun(self._next_after(cursor, timeout))
            except (TimeoutError, SessionClosed):
                return
            for event in events:
                if event is not None and (wanted is None or event.get("type") in wanted):
                    yield event

    async def _current(self) -> int:
        return self._count

    async def _next_after(
        self, cursor: int, timeout: float | None
    ) -> tuple[list[dict[str, Any]], int]:
        loop = asyncio.get_running_loop()
        return await self._next_events(cursor, None if timeout is None else loop.time() + timeout)

    def on(self, etype: str, callback: Callable[[dict[str, Any]], Any]) -> Callable[[], None]:
        """Call ``callback(event)`` (on the session's thread) for each event of ``etype``
        (``"*"``: every event). Returns a function that removes it."""

        def add() -> None:
            self._callbacks.setdefault(etype, []).append(callback)

        def remove() -> None:
            def rm() -> None:
                if callback in self._callbacks.get(etype, []):
                    self._callbacks[etype].remove(callback)

            self._lt.loop.call_soon_threadsafe(rm)

        self._lt.loop.call_soon_threadsafe(add)
        return remove

    # ------------------------------------------------------------------ turns

    async def _wait_turn(self, since: int, timeout: float | None) -> Reply:
        """The reply that ends the turn begun after event ``since``: the first
        ``response.done`` that is not followed up by a tool call of this Session."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        cursor = since
        responses: list[dict[str, Any]] = []
        while True:
            events, cursor = await self._next_events(cursor, deadline)
            for event in events:
                if event is None or event.get("type") != "response.done":
                    continue
                response = event.get("response") or {}
                responses.append(response)
                calls = [
                    o
                    for o in response.get("output") or ()
                    if o.get("type") == "function_call" and o.get("name") in self._tools
                ]
                if calls and response.get("status") == "completed":
                    continue  # this Session answers the calls and asks for the next response
                return self._reply(response, responses)

    def _reply(self, response: dict[str, Any], responses: list[dict[str, Any]]) -> Reply:
        texts, pcm, ids = [], [], []
        rate = 24000
        for out in response.get("output") or ():
            item = self.conversation.item(out.get("id")) if isinstance(out, dict) else None
            if item is None or item.type != "message":
                continue
            ids.append(item.id)
            if item.text:
                texts.append(item.text)
            if item.audio:
                pcm.append(item.audio)
                rate = item.sample_rate or rate
        calls = []
        for r in responses:
            for out in r.get("output") or ():
                if isinstance(out, dict) and out.get("type") == "function_call":
                    output = next(
                        (
                            i.output
                            for i in self.conversation.items
                            if i.type == "function_call_output" and i.call_id == out.get("call_id")
                        ),
                        None,
                    )
                    calls.append(
                        {
                            "name": out.get("name"),
                            "arguments": out.get("arguments"),
                            "call_id": out.get("call_id"),
                            "output": output,
                        }
                    )
        samples = (
            np.frombuffer(b"".join(pcm), dtype="<i2").astype(np.int16)
            if pcm
            else np.zeros(0, np.int16)
        )
        return Reply(
            response=response,
            text=" ".join(texts),
            audio=samples,
            sample_rate=rate,
            item_ids=ids,
            tool_calls=calls,
            responses=responses,
        )

    async def _say(
        self, text: str, respond: bool, wait: bool, timeout: float | None, response: dict[str, Any]
    ) -> Reply | str:
        item_event = self._prepare(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": text}],
                },
            }
        )
        await self._send(item_event)
        since = self._mark
        if not respond:
            return item_event["event_id"]
        await self._send(self._prepare({"type": "response.create", "response": response}))
        if not wait:
            return item_event["event_id"]
        return await self._wait_turn(since, timeout)

    def say(
        self,
        text: str,
        *,
        respond: bool = True,
        wait: bool = True,
        timeout: float | None = 120.0,
        **response: Any,
    ) -> Reply | str:
        """Add a user text message and (``respond``) ask for a response. With ``wait``
        (default) returns the :class:`Reply` once the turn is over (tool calls of this
        Session included); else the ``event_id`` of the message at once. Extra keyword
        arguments are ``response.create`` options (``modalities=["text"]``, ...)."""
        return self._lt.run(
            self._say(text, respond, wait, timeout, response),
            None if timeout is None else timeout + 10,
        )

    async def asay(
        self,
        text: str,
        *,
        respond: bool = True,
        wait: bool = True,
        timeout: float | None = 120.0,
        **response: Any,
    ) -> Reply | str:
        return await self._lt.arun(self._say(text, respond, wait, timeout, response))

    async def _respond(
        self, wait: bool, timeout: float | None, response: dict[str, Any]
    ) -> Reply | str:
        event = self._prepare({"type": "response.create", "response": response})
        await self._send(event)
        if not wait:
            return event["event_id"]
        return await self._wait_turn(self._mark, timeout)

    def respond(
        self, *, wait: bool = False, timeout: float | None = 120.0, **response: Any
    ) -> Reply | str:
        """``response.create`` with these options; with ``wait`` returns the :class:`Reply`."""
        return self._lt.run(
            self._respond(wait, timeout, response), None if timeout is None else timeout + 10
        )

    async def arespond(
        self, *, wait: bool = False, timeout: float | None = 120.0, **response: Any
    ) -> Reply | str:
        return await self._lt.arun(self._respond(wait, timeout, response))

    async def _cancel(self) -> str | None:
        active = self.conversation.active_response
        if active is None:
            return None
        return await self._send(
            self._prepare({"type": "response.cancel", "response_id": active.id})
        )

    def cancel(self) -> str | None:
        """Cancel the response in progress, if any; returns the cancel's ``event_id``."""
        return self._lt.run(self._cancel(), 30)

    async def acancel(self) -> str | None:
        return await self._lt.arun(self._cancel())

    async def _update(self, fields: dict[str, Any], timeout: float | None) -> dict[str, Any]:
        event = self._prepare({"type": "session.update", "session": fields})
        await self._send(event)
        eid = event["event_id"]
        answer = await self._wait_for(
            lambda ev: (
                ev.get("type") == "session.updated"
                or (ev.get("type") == "error" and (ev.get("error") or {}).get("event_id") == eid)
            ),
            timeout,
            self._mark,
        )
        if answer.get("type") == "error":
            raise ValueError(
                (answer.get("error") or {}).get("message") or "session.update was refused"
            )
        return answer.get("session") or {}

    def update(self, *, timeout: float | None = 60.0, **fields: Any) -> dict[str, Any]:
        """``session.update`` with these fields; returns the updated session (raises
        ``ValueError`` with the server's message when refused)."""
        return self._lt.run(self._update(fields, timeout), None if timeout is None else timeout + 5)

    async def aupdate(self, *, timeout: float | None = 60.0, **fields: Any) -> dict[str, Any]:
        return await self._lt.arun(self._update(fields, timeout))

    # ------------------------------------------------------------------ audio

    def _input_pcm(self, data: Any, sample_rate: int | None) -> tuple[bytes, int]:
        """(encoded bytes in the session's input format, its rate)."""
        fmt = self.conversation.input_audio_format
        target = _audio.sample_rate(fmt)
        if isinstance(data, (str, Path)):
            with wave.open(str(data), "rb") as w:
                if w.getsampwidth() != 2:
                    raise ValueError("send_audio: only 16-bit PCM WAV files are supported")
                rate, channels = w.getframerate(), w.getnchannels()
                x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
                if channels > 1:
                    x = x.reshape(-1, channels).mean(axis=1)
                samples = x.astype(np.float32) / 32768.0
            sample_rate = rate
        elif isinstance(data, (bytes, bytearray, memoryview)):
            samples = np.frombuffer(bytes(data), dtype="<i2").astype(np.float32) / 32768.0
            sample_rate = sample_rate or 24000
        else:
            x = np.asarray(data)
            if x.ndim == 2:
                x = x.mean(axis=1) if x.shape[1] <= 8 else x.mean(axis=0)
            if x.dtype.kind in "iu":
                samples = x.astype(np.float32) / float(np.iinfo(x.dtype).max + 1)
            else:
                samples = x.astype(np.float32)
            sample_rate = sample_rate or 24000
        if sample_rate != target:
            samples = _audio.resample(samples, sample_rate, target)
        pcm = _audio.float32_to_pcm16(samples)
        return _audio.from_pcm16(pcm, fmt), target

    async def _send_audio(
        self,
        data: Any,
        sample_rate: int | None,
        end_turn: bool,
        respond: bool | None,
        wait: bool,
        chunk_ms: int,
        realtime: bool,
        timeout: float | None,
    ) -> Reply | str | None:
        encoded, _rate = self._input_pcm(data, sample_rate)
        fmt = self.conversation.input_audio_format
        step = _audio.bytes_for_ms(chunk_ms, fmt)
        since = self._count
        last_id = None
        for start in range(0, len(encoded), step):
            chunk = encoded[start : start + step]
            last_id = await self._send(
                self._prepare(
                    {"type": "input_audio_buffer.append", "audio": _audio.b64encode_audio(chunk)}
                )
            )
            if realtime:
                await asyncio.sleep(_audio.duration_ms(len(chunk), fmt) / 1000)
        td = self.conversation.session.get("turn_detection")
        vad = isinstance(td, dict) and td.get("type") not in (None, "none")
        if end_turn:
            if vad:
                silence_ms = int(td.get("silence_duration_ms") or 500) + 300
                silence = _audio.from_pcm16(bytes(2 * _audio.samples_for_ms(silence_ms, fmt)), fmt)
                for start in range(0, len(silence), step):
                    last_id = await self._send(
                        self._prepare(
                            {
                                "type": "input_audio_buffer.append",
                                "audio": _audio.b64encode_audio(silence[start : start + step]),
                            }
                        )
                    )
            else:
                last_id = await self._send(self._prepare({"type": "input_audio_buffer.commit"}))
                if respond is None or respond:
                    last_id = await self._send(
                        self._prepare({"type": "response.create", "response": {}})
                    )
        if wait and end_turn and (vad or respond is None or respond):
            return await self._wait_turn(since, timeout)
        return last_id

    def send_audio(
        self,
        audio: Any,
        *,
        sample_rate: int | None = None,
        end_turn: bool = True,
        respond: bool | None = None,
        wait: bool = False,
        chunk_ms: int = 100,
        realtime: bool = False,
        timeout: float | None = 120.0,
    ) -> Reply | str | None:
        """Send speech: a numpy array (int or float samples, mono or (n, channels)), PCM16
        bytes, or a 16-bit WAV file path; resampled to the session's input format.
        With ``end_turn`` the turn is ended: with server VAD by trailing silence (the
        server then answers by itself), without it by ``commit`` and (``respond``,
        default True) ``response.create``. With ``wait`` returns the :class:`Reply`."""
        return self._lt.run(
            self._send_audio(
                audio, sample_rate, end_turn, respond, wait, chunk_ms, realtime, timeout
            ),
            None if timeout is None else timeout + 60,
        )

    async def asend_audio(
        self,
        audio: Any,
        *,
        sample_rate: int | None = None,
        end_turn: bool = True,
        respond: bool | None = None,
        wait: bool = False,
        chunk_ms: int = 100,
        realtime: bool = False,
        timeout: float | None = 120.0,
    ) -> Reply | str | None:
        return await self._lt.arun(
            self._send_audio(
                audio, sample_rate, end_turn, respond, wait, chunk_ms, realtime, timeout
            )
        )

    # ------------------------------------------------------------------ tools

    def _add_tool(self, tool: Tool) -> None:
        self._tools[tool.name] = tool

    def _merged_tools(self, current: Any) -> list[dict[str, Any]]:
        others = [
            t for t in (current or []) if isinstance(t, dict) and t.get("name") not in self._tools
        ]
        return others + [t.definition() for t in self._tools.values()]

    async def _advertise_tools(self) -> dict[str, Any]:
        return await self._update(
            {"tools": self._merged_tools(self.conversation.session.get("tools"))}, 60
        )

    def tool(
        self,
        fn: Callable[..., Any] | None = None,
        *,
        name: str | None = None,
        description: str | None = None,
    ) -> Any:
        """Register a Python callable as a function tool (usable as a decorator, with or
        without arguments). The model's calls run in this kernel."""

        def register(f: Callable[..., Any]) -> Callable[..., Any]:
            self.add_tool(f, name=name, description=description)
            return f

        return register(fn) if fn is not None else register

    def add_tool(
        self, fn: Callable[..., Any], *, name: str | None = None, description: str | None = None
    ) -> Tool:
        tool = tool_from_callable(fn, name=name, description=description)

        async def add() -> None:
            self._add_tool(tool)
            await self._advertise_tools()

        self._lt.run(add(), 70)
        return tool

    def remove_tool(self, name: str) -> None:
        async def remove() -> None:
            self._tools.pop(name, None)
            current = [
                t for t in (self.conversation.session.get("tools") or []) if t.get("name") != name
            ]
            await self._update({"tools": current}, 60)

        self._lt.run(remove(), 70)

    @property
    def tools(self) -> dict[str, Tool]:
        return dict(self._tools)

    def _tool_events(self, event: dict[str, Any]) -> None:
        etype = event.get("type")
        if etype == "response.output_item.done":
            item = event.get("item") or {}
            if (
                item.get("type") == "function_call"
                and item.get("name") in self._tools
                and item.get("status") == "completed"
            ):
                task = asyncio.ensure_future(self._run_tool(item))
                self._tool_tasks.setdefault(str(event.get("response_id")), []).append(task)
        elif etype == "response.done":
            response = event.get("response") or {}
            tasks = self._tool_tasks.pop(str(response.get("id")), None)
            if tasks:
                task = asyncio.ensure_future(
                    self._follow_up(tasks, response.get("status") == "completed")
                )
                self._follow_ups.add(task)
                task.add_done_callback(self._follow_ups.discard)

    async def _run_tool(self, item: dict[str, Any]) -> None:
        tool = self._tools[item["name"]]
        output = await tool.call(item.get("arguments"), executor=self._lt.executor)
        await self._send(
            self._prepare(
                {
                    "type": "conversation.item.create",
                    "item": {
                        "type": "function_call_output",
                        "call_id": item.get("call_id"),
                        "output": output,
                    },
                }
            )
        )

    async def _follow_up(self, tasks: list[asyncio.Task], respond: bool) -> None:
        """After the response that called the tools is done and every output is sent:
        one response.create, when no other response is active (retried if the server
        still reports one)."""
        await asyncio.gather(*tasks, return_exceptions=True)
        if not respond or self._gone is not None:
            return
        for _ in range(5):
            while self.conversation.active_response is not None:
                await self._wait_for(
                    lambda ev: ev.get("type") == "response.done", None, self._count
                )
            event = self._prepare({"type": "response.create", "response": {}})
            eid = event["event_id"]
            await self._send(event)
            answer = await self._wait_for(
                lambda ev: (
                    ev.get("type") == "response.created"
                    or (
                        ev.get("type") == "error" and (ev.get("error") or {}).get("event_id") == eid
                    )
                ),
                None,
                self._mark,
            )
            if answer.get("type") == "response.created":
                return
            if (answer.get("error") or {}).get(
                "code"
            ) != "conversation_already_has_active_response":
                return

    # ------------------------------------------------------------------ the log

    def log(
        self,
        *,
        after: int = 0,
        limit: int = 100,
        type: str | list[str] | None = None,
        audio: str = "omit",
    ) -> list[dict[str, Any]]:
        """Records of the session's event log (both directions): see
        :mod:`realtime_widget.server.eventlog` for their fields. ``type`` takes
        globs (``"response.*"``); ``audio``: ``omit``, ``ref`` or ``inline``."""
        return self._lt.run(self._log(after, limit, type, audio), 120)["events"]

    async def alog(
        self,
        *,
        after: int = 0,
        limit: int = 100,
        type: str | list[str] | None = None,
        audio: str = "omit",
    ) -> list[dict[str, Any]]:
        return (await self._lt.arun(self._log(after, limit, type, audio)))["events"]

    async def _log(self, after: int, limit: int, types: Any, audio: str) -> dict[str, Any]:
        if isinstance(types, (list, tuple)):
            types = ",".join(types)
        return await self.transport.events(after=after, limit=limit, type=types, audio=audio)

    @property
    def items(self) -> list[Any]:
        """The conversation's items (a live view, see :class:`Conversation`)."""
        return self.conversation.items

    def transcript_text(self) -> str:
        """The conversation as ``role: text`` lines."""
        lines = []
        for item in self.conversation.items:
            if item.type == "message":
                lines.append(f"{item.role}: {item.text}")
            elif item.type == "function_call":
                lines.append(f"call {item.name}({item.arguments})")
            elif item.type == "function_call_output":
                lines.append(f"output: {item.output}")
        return "\n".join(lines)

    # ------------------------------------------------------------------ DataFrames
    # The session's tables (pandas), from its event log: see realtime_widget.frames.

    @property
    def frames(self) -> Any:
        """:class:`realtime_widget.frames.SessionFrames` of this session."""
        from ..frames import frames

        return frames(self)

    def events(
        self,
        types: str | list[str] | None = None,
        *,
        last: int | None = None,
        direction: str | None = None,
    ) -> Any:
        """One row per logged event (both directions); ``types`` takes globs."""
        return self.frames.events(types, last=last, direction=direction)

    def transcript(self) -> Any:
        """One row per turn: role, text, start/end ms, interrupted, item ids."""
        return self.frames.transcript()

    def latency(self) -> Any:
        """Per response: speech_stopped / response.create -> created -> first audio -> done."""
        return self.frames.latency()

    def usage(self, prices: Mapping[str, float] | None = None, **kwargs: Any) -> Any:
        """Tokens by kind per response and in total; cost from a price table."""
        return self.frames.usage(prices, **kwargs)

    def audio(self, item_id: str) -> Any:
        """An item's audio as a numpy array that plays in a notebook."""
        return self.frames.audio(item_id)

    def timeline(self, **kwargs: Any) -> Any:
        """A plot of who spoke when, response spans and interruptions (matplotlib)."""
        return self.frames.timeline(**kwargs)

    def recording(self, *, as_heard: bool = True) -> Any:
        """The conversation as one stereo track (user left, assistant right) that plays
        in a notebook; ``as_heard`` cuts the assistant where the user barged in."""
        return self.frames.recording(as_heard=as_heard)

    def _repr_html_(self) -> str:
        return self.frames._repr_html_()


def list_sessions(
    *, server: ServerInfo | str | None = None, token: str | None = None
) -> list[dict[str, Any]]:
    """The sessions of the Jupyter server's hub (or of this kernel's direct hub)."""

    async def run() -> list[dict[str, Any]]:
        info = server if isinstance(server, ServerInfo) else None
        if isinstance(server, str):
            from .discovery import _normalise

            info = ServerInfo(_normalise(server), token or "", "argument")
        info = info or find_server()
        if info is not None:
            transport = _HubTransport(info, lambda f: None, lambda r: None)
            try:
                if await transport.probe():
                    return (await transport.request("GET", "realtime", "sessions"))["sessions"]
            finally:
                transport.http.close()
        return await _direct_hub().list()

    return _lt().run(run(), 60)
