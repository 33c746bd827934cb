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
import itertools
import logging
import os
import queue
import wave
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import audio as _audio
from ..conversation import Conversation
from ..protocol.parsing import dumps_json
from .discovery import ServerInfo, find_server, server_from_argument
from .loop import blocking, loop_thread, on_client_loop
from .rest import HubRest
from .tools import Tool, tool_from_callable
from .transports import (
    DirectTransport,
    HubTransport,
    SessionClosed,
    Transport,
    direct_hub,
    frame_event,
)

log = logging.getLogger(__name__)

__all__ = ["Reply", "Session", "SessionClosed", "list_sessions"]

HISTORY = 5000
# The longest a semantic_vad turn may wait for its end, by eagerness: the hosted services
# document 8 / 4 / 2 s (auto is medium); the local engine waits at most 3 / 1.6 / 1 s.
SEMANTIC_VAD_MAX_WAIT_MS = {"low": 8000, "medium": 4000, "auto": 4000, "high": 2000}
_event_ids = itertools.count(1)


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
        self._lt = loop_thread()
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
        self.transport: Transport | None = None
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
            info = server_from_argument(server, token)
            if info is None:
                info = find_server()
            if info is not None and token is not None:
                info = ServerInfo(info.url, token, info.how)
            if info is not None:
                candidate = HubTransport(info, self._on_frame, self._on_gone)
                if mode == "hub" or await candidate.probe():
                    transport = candidate
                else:
                    candidate.http.close()
            if transport is None and mode == "hub":
                raise RuntimeError(
                    "no Jupyter server with the realtime-widget extension was found (mode='hub')"
                )
        if transport is None:
            transport = DirectTransport(self._on_frame, self._on_gone, speech=speech)
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
            AsyncOpenAI(api_key=cfg["api_key"],
                        websocket_base_url=cfg["openai_websocket_base_url"])
            RealtimeRunner(agent).run(
                model_config={"url": cfg["agents_url"], "api_key": cfg["api_key"]})
            RTClient(url=cfg["azure_endpoint"],
                     key_credential=AzureKeyCredential(cfg["api_key"]),
                     azure_deployment=cfg["azure_deployment"])   # rtclient; rt-client alike

        ``azure_endpoint`` works when the server's ``base_url`` is ``/`` (Jupyter's
        default): rt-client and rtclient replace the endpoint's path. Only in hub mode
        (direct mode has no server to connect to)."""
        from urllib.parse import urlsplit

        server = self.server
        if self.mode != "hub" or server is None:
            raise RuntimeError(
                "client_settings: the session runs in this kernel (direct mode); "
                "start Jupyter with realtime-widget for hub mode"
            )
        base = server.ws(f"realtime/sessions/{self.id}")
        root = urlsplit(server.url)
        return {
            "api_key": server.token,
            "openai_websocket_base_url": base + "/v1",
            "agents_url": base + "/v1/realtime",
            # rt-client and rtclient append /openai/realtime to the origin
            "azure_endpoint": f"{root.scheme}://{root.netloc}",
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

    @on_client_loop
    async def aclose(self, *, end: bool = True) -> None:
        """Detach; with ``end`` (default) also close the session on the hub (its log stays)."""
        for task in [*self._follow_ups, *(t for ts in self._tool_tasks.values() for t in ts)]:
            task.cancel()
        await self.transport.close(end)
        if self._gone is None:
            self._gone = "closed"
        self._wake()

    close = blocking(aclose, limit=60)

    # ------------------------------------------------------------------ incoming events

    def _on_frame(self, frame: str) -> None:
        event = frame_event(frame)
        if event is None:
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

    def _heard_since(self, since: int, etype: str) -> bool:
        """Whether an event of type ``etype`` arrived after event number ``since``."""
        return any(
            (event := self._event(i)) is not None and event.get("type") == etype
            for i in range(since + 1, self._count + 1)
        )

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
        await self.transport.send(dumps_json(event))
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

            def base(ev: dict[str, Any]) -> bool:
                return ev.get("type") in kinds

        if not where:
            return base
        return lambda ev: base(ev) and all(ev.get(k) == v for k, v in where.items())

    @on_client_loop
    async def await_event(
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
        return await self._wait_for(self._matcher(what, where), timeout, since)

    wait_for = blocking(await_event, slack=5, name="wait_for")

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

    def follow(self, after: int, on_event: Callable[[dict[str, Any]], Any]) -> Callable[[], None]:
        """Attach one more reader of this session, as a browser's WebSocket attaches: the
        hub sends it the server events after ``x_seq`` ``after``, then ``x_hub.ready``
        (the hub's own end-of-catch-up event), then live events, each to ``on_event``
        (on the session's thread). Returns a function that detaches it. The widget's comm
        relay is such a reader, so the hub's catch-up is the only one."""
        if self.transport is None or self._gone is not None:
            raise SessionClosed(self._gone or "not connected")
        detach = self._lt.run(self.transport.follow(after, on_event), 60)
        return lambda: self._lt.submit(detach())

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

    @on_client_loop
    async def asay(
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

    say = blocking(asay, slack=10)

    @on_client_loop
    async def arespond(
        self, *, wait: bool = False, timeout: float | None = 120.0, **response: Any
    ) -> Reply | str:
        """``response.create`` with these options; with ``wait`` returns the :class:`Reply`."""
        event = self._prepare({"type": "response.create", "response": response})
        await self._send(event)
        if not wait:
            return event["event_id"]
        return await self._wait_turn(self._mark, timeout)

    respond = blocking(arespond, slack=10)

    @on_client_loop
    async def acancel(self) -> str | None:
        """Cancel the response in progress, if any; returns the cancel's ``event_id``."""
        active = self.conversation.active_response
        if active is None:
            return None
        return await self._send(
            self._prepare({"type": "response.cancel", "response_id": active.id})
        )

    cancel = blocking(acancel, limit=30)

    @on_client_loop
    async def aupdate(self, *, timeout: float | None = 60.0, **fields: Any) -> dict[str, Any]:
        """``session.update`` with these fields; returns the updated session (raises
        ``ValueError`` with the server's message when refused)."""
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

    update = blocking(aupdate, slack=5)

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

    @on_client_loop
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
        """Send speech: a numpy array (int or float samples, mono or (n, channels)), PCM16
        bytes, or a 16-bit WAV file path; resampled to the session's input format.
        With ``end_turn`` the turn is ended: with server VAD by trailing silence (the
        server then answers by itself; under ``semantic_vad`` the silence goes on until
        the server ends the turn, at most its eagerness's longest wait), without it by
        ``commit`` and (``respond``, default True) ``response.create``. With ``wait``
        returns the :class:`Reply`."""
        encoded, _rate = self._input_pcm(audio, sample_rate)
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
                semantic = td.get("type") == "semantic_vad"
                if semantic:
                    # the end-of-turn model may hold a turn it judges unfinished until its
                    # longest wait: silence goes on until the server ends the turn
                    silence_ms = SEMANTIC_VAD_MAX_WAIT_MS.get(str(td.get("eagerness")), 4000)
                else:
                    silence_ms = int(td.get("silence_duration_ms") or 500)
                silence_ms += 300
                silence = _audio.from_pcm16(bytes(2 * _audio.samples_for_ms(silence_ms, fmt)), fmt)
                for start in range(0, len(silence), step):
                    if semantic and self._heard_since(since, "input_audio_buffer.speech_stopped"):
                        break
                    if realtime and semantic and start:  # paced: the answer can come in time
                        await asyncio.sleep(_audio.duration_ms(step, fmt) / 1000)
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

    send_audio = blocking(asend_audio, slack=60)

    # ------------------------------------------------------------------ tools

    def _add_tool(self, tool: Tool) -> None:
        self._tools[tool.name] = tool

    def _merged_tools(self, current: Any) -> list[dict[str, Any]]:
        others = [
            t for t in (current or []) if isinstance(t, dict) and t.get("name") not in self._tools
        ]
        return others + [t.definition() for t in self._tools.values()]

    async def _advertise_tools(self) -> dict[str, Any]:
        return await self.aupdate(
            timeout=60, tools=self._merged_tools(self.conversation.session.get("tools"))
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
            await self.aupdate(timeout=60, tools=current)

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
                lambda ev, eid=eid: (
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

    @on_client_loop
    async def alog(
        self,
        *,
        after: int = 0,
        limit: int = 100,
        type: str | list[str] | None = None,
        audio: str = "omit",
    ) -> list[dict[str, Any]]:
        """Records of the session's event log (both directions): see
        :mod:`realtime_widget.hub.eventlog` for their fields. ``type`` takes
        globs (``"response.*"``); ``audio``: ``omit``, ``ref`` or ``inline``."""
        types = ",".join(type) if isinstance(type, (list, tuple)) else type
        page = await self.transport.events(after=after, limit=limit, type=types, audio=audio)
        return page["events"]

    log = blocking(alog, limit=120)

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
        info = server_from_argument(server, token) or find_server()
        if info is not None:
            rest = HubRest(info)
            try:
                if await rest.probe():
                    return (await rest.request("GET", "realtime", "sessions"))["sessions"]
            finally:
                rest.close()
        return await direct_hub().list()

    return loop_thread().run(run(), 60)
