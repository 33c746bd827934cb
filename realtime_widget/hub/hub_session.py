"""The session hub: realtime sessions that outlive the clients attached to them.

A :class:`HubSession` is one upstream realtime connection (see :mod:`.upstreams`) + its
:class:`~.eventlog.EventLog` + its :class:`~realtime_widget.conversation.Conversation` +
the clients attached to it. Client events from any attached client go upstream in
arrival order (one queue per session); every server event is logged, applied to the
conversation, and sent to every attached client with its log sequence number added as
``"x_seq"``. A client that attaches late first gets the logged server events it missed.

This module has no Jupyter dependency: the jupyter-server extension
(:mod:`.handlers`) and the kernel's direct mode (:mod:`realtime_widget.client`) both
run it.

Hub events (besides the provider's own server events), both logged with ``x_seq``:

* ``error`` with ``error.code`` ``upstream_disconnected`` (the upstream dropped; sent
  at once), ``upstream_unavailable`` (reconnecting gave up), ``invalid_json`` /
  ``invalid_type`` / ``invalid_value`` (a client sent something unreadable),
  ``session_closed``, ``reconnect_buffer_full``.
* ``response.done`` with ``status: "failed"`` and ``status_details.error.code:
  "upstream_disconnected"`` for a response that was in progress when the upstream dropped.
* ``x_hub.status``: ``{"status": "reconnecting" | "open" | "failed" | "closed", ...}``
  with ``attempt``, ``reason``, ``restored_items``, ``failed_items`` as they apply.

And one frame that is not logged (no ``x_seq``), sent to one client when its catch-up
is over, if it opted in to hub events: ``{"type": "x_hub.ready", "event_id",
"client_id", "replayed", "last_seq", "session"}``. What each client sees (spec-strict
preview, everything, or GA) is its view: :mod:`.views`.
Reconnection and restore: :mod:`.restore`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

import tornado.iostream
import tornado.websocket

from ..audio import to_pcm16
from ..conversation import Conversation, Item
from ..protocol.errors import ProtocolError
from ..protocol.parsing import check_json_value, dumps_json, load_json_event, sniff_event_id
from .clients import AttachedClient, ClientSink
from .eventlog import EventLog
from .hub_config import SOURCES
from .hub_events import CONFIG_EVENT_ID, error_event, hub_event, hub_event_id, protocol_error_event
from .restore import Restorer
from .summary import conversation_state, session_summary, ws_path
from .upstreams import HubError, Upstream, UpstreamError, make_upstream, redact
from .views import HUB_VIEW, View, live_frames, replay_frames

if TYPE_CHECKING:
    from .hub import Hub

log = logging.getLogger(__name__)

__all__ = ["HubSession"]


def _queued_size(event: dict[str, Any]) -> int:
    audio = event.get("audio")
    return 256 + (len(audio) if isinstance(audio, str) else 0)


class HubSession:
    def __init__(
        self,
        hub: Hub,
        session_id: str,
        *,
        provider: str,
        model: str,
        name: str,
        owner: str,
        url: str | None,
        requested_session: dict[str, Any] | None,
        created_at: float,
        eventlog: EventLog,
        status: str = "connecting",
        idle_timeout: float | None = None,
    ):
        self.hub = hub
        self.id = session_id
        self.provider = provider
        self.model = model
        self.name = name
        self.owner = owner
        self.url = url
        self.requested_session = requested_session
        self.created_at = created_at
        self.closed_at: float | None = None
        # Loaded from a log whose server died while the session was live (no closed_at):
        # a client that was attached may resume it (and the kernel client does).
        self.interrupted = False
        self.log = eventlog
        self.conversation = Conversation(
            keep_output_audio=hub.config.keep_output_audio,
            max_kept_audio_ms=hub.config.max_kept_audio_ms,
            max_input_buffer_ms=hub.config.max_input_buffer_ms,
        )
        self.status = status
        self.clients: dict[str, AttachedClient] = {}
        self.upstream: Upstream | None = None
        self.reconnects = 0
        self._client_counter = 0
        self._queue: deque[tuple[dict[str, Any], str | None]] = deque()
        self._send_lock = asyncio.Lock()
        self._queue_bytes = 0
        self._queue_changed = asyncio.Event()
        self._ready = asyncio.Event()  # the upstream is connected (and restored)
        self._pump_task: asyncio.Task | None = None
        self._reconnect_task: asyncio.Task | None = None
        self.restorer = Restorer(self)
        self._buffer_full_reported = False
        self.lock = asyncio.Lock()  # connect / close / resume one at a time
        # closed when no browser (widget) client is attached and no event passes for this
        # long: a widget whose tab was closed (even while it connected) leaves nothing open
        self.idle_timeout = idle_timeout
        self._idle_seq = -1
        self._idle_since = time.monotonic()

    # ------------------------------------------------------------------ summary

    @property
    def ws_path(self) -> str:
        return ws_path(self.id)

    def meta(self) -> dict[str, Any]:
        meta = {
            "id": self.id,
            "name": self.name,
            "provider": self.provider,
            "model": self.model,
            "owner": self.owner,
            "created_at": self.created_at,
            "closed_at": self.closed_at,
            "format": 1,
        }
        if self.url:
            meta["url"] = self.url
        return meta

    def summary(self, *, state: bool = False) -> dict[str, Any]:
        out = session_summary(
            self.id,
            self.meta(),
            status=self.status,
            interrupted=self.interrupted,
            n_events=self.log.n_events,
            n_clients=len(self.clients),
            reconnects=self.reconnects,
        )
        if state:
            out["state"] = conversation_state(self.conversation)
        return out

    @property
    def live(self) -> bool:
        return self.status in ("connecting", "open", "reconnecting")

    def idle_for(self, now: float) -> float:
        """Seconds open with no widget client attached and no event logged (either way)."""
        seq = self.log.last_seq
        if (
            self.status != "open"
            or seq != self._idle_seq
            or any(c.source == "widget" for c in self.clients.values())
        ):
            self._idle_seq, self._idle_since = seq, now
        return now - self._idle_since

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Connect the upstream the first time; ``HubError`` (502) when it fails."""
        self._pump_task = asyncio.ensure_future(self._pump())
        if self.requested_session:
            self._enqueue(
                {
                    "type": "session.update",
                    "event_id": CONFIG_EVENT_ID,
                    "session": self.requested_session,
                },
                source="hub",
            )
        try:
            async with self.lock:
                await self.connect_upstream(restore=False)
        except UpstreamError as exc:
            self.status = "failed"
            message = redact(exc.message, self.hub.config.providers.secrets())
            self.publish(
                error_event("upstream_unavailable", message, type_="server_error"), source="hub"
            )
            await self.shutdown("failed")
            raise HubError(502, "upstream_unavailable", message) from None

    async def resume(self) -> None:
        """Reopen a closed session: a new upstream, restored from the conversation."""
        async with self.lock:
            if self.live:
                return
            self.status = "reconnecting"
            self.closed_at = None
            self.interrupted = False
            self.log.write_meta(self.meta())
            self._pump_task = asyncio.ensure_future(self._pump())
            try:
                await self.connect_upstream(restore=True)
            except UpstreamError as exc:
                message = redact(exc.message, self.hub.config.providers.secrets())
                self.publish(
                    error_event("upstream_unavailable", message, type_="server_error"),
                    source="hub",
                )
                await self.shutdown("failed")
                raise HubError(502, "upstream_unavailable", message) from None

    async def close(self, reason: str = "closed by a client") -> None:
        async with self.lock:
            if self.status == "closed":
                if self.interrupted:  # closed on purpose now: nobody should resume it by itself
                    self.interrupted = False
                    self.closed_at = time.time()
                    self.log.write_meta(self.meta())
                return
            await self.shutdown("closed", reason)

    async def shutdown(self, status: str, reason: str = "") -> None:
        self.status = status
        self._ready.clear()
        for task in (self._reconnect_task, self._pump_task):
            if task is not None and task is not asyncio.current_task() and not task.done():
                task.cancel()
        upstream, self.upstream = self.upstream, None
        if upstream is not None:
            try:
                await upstream.close()
            except Exception:
                log.debug("closing the upstream failed", exc_info=True)
        self.restorer.fail("the session closed")
        self.publish(hub_event("x_hub.status", status=status, reason=reason or None), source="hub")
        self.closed_at = time.time()
        for client in list(self.clients.values()):
            client.drop(1000, f"session {status}")
        self.log.write_meta(self.meta())
        self.log.close()
        self.hub._session_ended(self)

    # ------------------------------------------------------------------ the upstream

    async def connect_upstream(self, *, restore: bool) -> None:
        settings = self.hub.config.providers
        upstream_ref: list[Upstream] = []
        upstream = make_upstream(
            settings,
            self.provider,
            model=self.model or None,
            url=self.url,
            on_event=lambda ev, text: self._on_upstream_event(upstream_ref[0], ev, text),
            on_closed=lambda reason: self._on_upstream_closed(upstream_ref[0], reason),
            brain_factory=self.hub.config.brain_factory,
        )
        upstream_ref.append(upstream)
        self.restorer.active = restore
        self.upstream = upstream
        try:
            if restore:
                created = self.restorer.wait(lambda ev: ev.get("type") == "session.created")
            await upstream.connect()
            if restore:
                await self.restorer.restore(created)
        except Exception as exc:
            self.restorer.active = False
            self.upstream = None
            self.restorer.fail("connect failed")
            try:
                await upstream.close()
            except Exception:
                pass
            if isinstance(exc, UpstreamError):
                raise
            raise UpstreamError(f"{type(exc).__name__}: {exc}") from None
        self.restorer.active = False
        self.status = "open"
        self._buffer_full_reported = False
        self._ready.set()

    def _on_upstream_event(
        self, upstream: Upstream, event: dict[str, Any], text: str | None
    ) -> None:
        if upstream is not self.upstream:
            return  # a late event of a replaced connection
        if self.restorer.active:
            self.restorer.offer(event, text)
            return
        self.publish(event, source="upstream", text=text)

    def _on_upstream_closed(self, upstream: Upstream, reason: str) -> None:
        if upstream is not self.upstream or not self.live:
            return
        self._ready.clear()
        if self.restorer.active:  # lost again while restoring: the reconnect loop retries
            self.restorer.fail(reason)
            return
        if self.status == "connecting":
            return
        self.status = "reconnecting"
        message = redact(
            f"The connection to {upstream.describe()} was lost ({reason}); reconnecting.",
            self.hub.config.providers.secrets(),
        )
        self.publish(
            error_event("upstream_disconnected", message, type_="server_error"), source="hub"
        )
        active = self.conversation.active_response
        if active is not None:
            self.publish(
                {
                    "type": "response.done",
                    "event_id": hub_event_id(),
                    "response": {
                        "object": "realtime.response",
                        "id": active.id,
                        "status": "failed",
                        "status_details": {
                            "type": "failed",
                            "error": {
                                "type": "server_error",
                                "code": "upstream_disconnected",
                                "message": message,
                            },
                        },
                        "output": [],
                        "usage": active.usage,
                    },
                },
                source="hub",
            )
        self.publish(hub_event("x_hub.status", status="reconnecting", reason=message), source="hub")
        self._reconnect_task = asyncio.ensure_future(self.restorer.reconnect_loop())

    # ------------------------------------------------------------------ server events

    def publish(self, event: dict[str, Any], *, source: str, text: str | None = None) -> int:
        """Log one server event, apply it, and send it to every attached client."""
        seq, wire, audio = self.log.append(event, direction="server", source=source, text=text)
        self.conversation.apply(event, audio=audio)  # the log decoded the audio: not again
        if event.get("type") in (
            "session.created",
            "session.updated",
        ):  # the formats of the audio that follows
            self.log.input_format = self.conversation.input_audio_format
            self.log.output_format = self.conversation.output_audio_format
        if self.clients:
            if wire[-1] != "}":  # an upstream's trailing whitespace (JSON allows it)
                wire = wire.rstrip(" \t\r\n")
            if wire[-1] == "}" and len(wire) > 2:
                frame = '%s,"x_seq":%d}' % (
                    wire[:-1],
                    seq,
                )  # the fast path: splice x_seq into the text
            else:  # anything else: build the frame from the event, not from the text
                frame = dumps_json({**event, "x_seq": seq})
            shaped: dict[View, list[str]] | None = None  # frames per client view, made once
            for client in tuple(self.clients.values()):
                if client.sees_everything:
                    client.deliver(frame)
                    continue
                if shaped is None:
                    shaped = {}
                frames = shaped.get(client.view)
                if frames is None:
                    frames = shaped[client.view] = live_frames(client.view, event, seq, frame)
                for shaped_frame in frames:
                    client.deliver(shaped_frame)
        return seq

    # ------------------------------------------------------------------ client events

    async def client_event(
        self,
        client: AttachedClient | None,
        raw: str | bytes | dict[str, Any],
        *,
        source: str | None = None,
    ) -> None:
        """One client event from an attached client (never raises on bad input)."""
        waiting = self.client_message(client, raw, source=source)
        if waiting is not None:
            await waiting

    def client_message(
        self,
        client: AttachedClient | None,
        raw: str | bytes | dict[str, Any],
        *,
        source: str | None = None,
        native: str | None = None,
    ) -> Awaitable[None] | None:
        """:meth:`client_event` without a coroutine in the usual case: the event is
        checked, logged, applied and written upstream at once, and None comes back.
        When it has to wait (the upstream is busy or reconnecting) an awaitable comes
        back; the sender must await it before its next event (that is the flow control:
        a WebSocket is not read meanwhile)."""
        src = client.source if client is not None else (source or "other")
        event = self._accept_client_event(client, raw, src)
        if event is None:
            return None
        # ``native``: the client's own frame in the upstream's dialect (a GA client on a GA
        # upstream), sent as it is instead of being translated back (providers.NativeGA)
        text = raw if isinstance(raw, str) else native
        upstream = self.upstream
        if self._nothing_waits() and upstream is not None:
            # the usual case: send at once
            try:
                if upstream.send_nowait(event, text):
                    return None
            except Exception:  # any trouble: the careful path below reports or queues it
                pass
        return self._send_or_queue(event, src, text)

    def refuse_client_event(
        self, client: AttachedClient | None, event: dict[str, Any], error: dict[str, Any]
    ) -> None:
        """Log a client event the hub will not pass on, and answer with ``error`` (an
        ``error`` server event)."""
        self.log.append(
            event,
            direction="client",
            source=client.source if client is not None else "other",
            client=client.id if client is not None else None,
        )
        self.publish(error, source="hub")

    def _nothing_waits(self) -> bool:
        """An event may go upstream now, in order: the upstream is ready, no send holds
        the lock and nothing is queued before it."""
        return not self._queue and self._ready.is_set() and not self._send_lock.locked()

    def _accept_client_event(
        self, client: AttachedClient | None, raw: str | bytes | dict[str, Any], src: str
    ) -> dict[str, Any] | None:
        """Parse, check, log and apply one client event; None when it goes no further
        (an error event has then been published)."""
        cid = client.id if client is not None else None
        try:
            if isinstance(raw, dict):
                event = raw
                event_id = event.get("event_id")
                check_json_value(event, event_id if isinstance(event_id, str) else None)
            elif isinstance(raw, (bytes, bytearray, memoryview)):
                raise ProtocolError(
                    "binary frames are not supported: send client events as JSON text",
                    "invalid_type",
                    event_id=sniff_event_id(bytes(raw)),
                )
            else:  # refused exactly as the protocol's parser refuses it (same codes and messages)
                event = load_json_event(raw, max_bytes=self.hub.config.max_message_bytes)
        except ProtocolError as err:
            self.publish(protocol_error_event(err), source="hub")
            return None
        if not isinstance(event.get("type"), str):
            self.publish(
                error_event(
                    "missing_required_parameter",
                    "type: every client event needs a string 'type'",
                    param="type",
                    event_id=event.get("event_id"),
                ),
                source="hub",
            )
            return None
        if not self.live:
            self.log.append(event, direction="client", source=src, client=cid)
            self.publish(
                error_event(
                    "session_closed",
                    f"the session is {self.status}: resume it first "
                    f"(POST {self.ws_path[:-3]}/resume)",
                    event_id=event.get("event_id"),
                ),
                source="hub",
            )
            return None
        text = raw if isinstance(raw, str) else None
        audio = self.log.append(event, direction="client", source=src, client=cid, text=text).audio
        self.conversation.apply_client(event, audio=audio)
        return event

    async def _send_or_queue(self, event: dict[str, Any], source: str, text: str | None) -> None:
        if self._nothing_waits():
            if await self._send_one(event, text):
                return
        self._enqueue(event, source=source, logged=True, text=text)
        # flow control: a client that outruns the upstream waits here (its socket is not read
        # meanwhile)
        while (
            self._queue_bytes > self.hub.config.reconnect_buffer_bytes
            and self._ready.is_set()
            and self.live
        ):
            self._queue_changed.clear()
            await self._queue_changed.wait()

    def _enqueue(
        self, event: dict[str, Any], *, source: str, logged: bool = False, text: str | None = None
    ) -> None:
        if not logged:
            self.log.append(event, direction="client", source=source)
        size = _queued_size(event)
        if (
            not self._ready.is_set()
            and self._queue_bytes + size > self.hub.config.reconnect_buffer_bytes
        ):
            if not self._buffer_full_reported:
                self._buffer_full_reported = True
                self.publish(
                    error_event(
                        "reconnect_buffer_full",
                        "the upstream is reconnecting and the buffer of client events is full: "
                        "events are dropped until it is back",
                        type_="server_error",
                        event_id=event.get("event_id"),
                    ),
                    source="hub",
                )
            return
        self._queue.append((event, text))
        self._queue_bytes += size
        self._queue_changed.set()

    async def _send_one(self, event: dict[str, Any], text: str | None) -> bool:
        """Send one event upstream; False when the connection is broken (the caller keeps
        the event for the next upstream). An event that cannot be sent at all is dropped
        with an error event (True)."""
        async with self._send_lock:
            upstream = self.upstream
            try:
                if upstream is None:
                    raise ConnectionError("no upstream")
                await upstream.send(event, text)
            except asyncio.CancelledError:
                raise
            except (
                ConnectionError,
                OSError,
                tornado.websocket.WebSocketClosedError,
                tornado.iostream.StreamClosedError,
            ):
                return False  # the reader reports the drop; the reconnect clears _ready
            except Exception as exc:  # this one event cannot be sent (a translation bug): drop it
                log.exception("realtime-widget: sending a client event upstream failed")
                self.publish(
                    error_event(
                        "internal_error",
                        f"the hub could not send this event upstream ({type(exc).__name__})",
                        type_="server_error",
                        event_id=event.get("event_id"),
                    ),
                    source="hub",
                )
            return True

    async def _pump(self) -> None:
        """Send queued client events upstream, in order, whenever the upstream is ready."""
        while True:
            while not self._queue:
                self._queue_changed.clear()
                await self._queue_changed.wait()
            await self._ready.wait()
            event, text = self._queue[0]
            if not await self._send_one(event, text):
                await asyncio.sleep(0.05)  # broken: wait for the reconnect (which clears _ready)
                continue
            self._queue.popleft()
            self._queue_bytes -= _queued_size(event)
            self._queue_changed.set()

    # ------------------------------------------------------------------ clients

    def attach(
        self,
        sink: ClientSink,
        *,
        source: str = "other",
        after: int | None = 0,
        view: View = HUB_VIEW,
    ) -> AttachedClient:
        """Attach a client. It first gets the logged server events after ``after``, or
        with ``after=None`` only a ``session.created`` with the session as it is now (a
        third-party client expects a fresh connection, not the session's history)."""
        if len(self.clients) >= self.hub.config.max_clients_per_session:
            raise HubError(
                429,
                "too_many_clients",
                f"at most {self.hub.config.max_clients_per_session} clients per session",
            )
        self._client_counter += 1
        client = AttachedClient(
            self, f"c{self._client_counter}", source if source in SOURCES else "other", sink, view
        )
        self.clients[client.id] = client
        self.log.flush()
        upto = self.log.last_seq
        client.catch_up_task = asyncio.ensure_future(
            self._catch_up(client, None if after is None else max(0, int(after)), upto)
        )
        return client

    def _fresh_frames(self, view: View) -> list[str]:
        """A ``session.created`` with the current session (not logged: no ``x_seq``)."""
        if not self.conversation.session:
            return []  # not connected yet: the upstream's own session.created comes live
        event = hub_event("session.created", session=dict(self.conversation.session))
        return live_frames(view, event, None, dumps_json(event))

    async def _catch_up(self, client: AttachedClient, after: int | None, upto: int) -> None:
        seqs = (
            []
            if after is None
            else self.log.select(after=after, direction="server", include_quiet=False, upto=upto)
        )
        loop = asyncio.get_running_loop()
        replayed = 0
        view = client.view

        def read(chunk: list[int]) -> list[str]:
            frames = self.log.wire_frames(chunk, False)
            return (
                frames
                if view.sees_everything
                else [out for frame in frames for out in replay_frames(view, frame)]
            )

        try:
            if after is None:
                for frame in self._fresh_frames(view):
                    await client.write(frame)
            for start in range(0, len(seqs), 256):
                chunk = seqs[start : start + 256]
                self.log.flush()
                frames = await loop.run_in_executor(None, read, chunk)
                for frame in frames:
                    if client.closed:
                        return
                    await client.write(frame)
                    replayed += 1
            while client.backlog and not client.closed:
                frame = client.backlog.popleft()
                client.backlog_bytes -= len(frame)
                await client.write(frame)
            if client.closed:
                return
            client.live = True
            if view.hub_events:  # only clients that asked for hub events get this one
                ready = hub_event(
                    "x_hub.ready",
                    client_id=client.id,
                    replayed=replayed,
                    last_seq=self.log.last_seq,
                    session=self.summary(),
                )
                client._write(dumps_json(ready))
        except Exception:
            log.exception(
                "realtime-widget: catching up client %s of session %s failed", client.id, self.id
            )
            client.drop(1011, "catching up failed")

    async def item_audio(self, item: Item) -> tuple[bytes, int | None]:
        """An item's audio as PCM16 and its rate: held by the conversation (the user's),
        or read back from the log (the assistant's, which the hub's conversation only
        counts), cut where the item was truncated."""
        part = next((p for p in item.content if p.unkept_nbytes), None)
        if part is None:
            return item.audio, item.sample_rate
        fmt = part.format or "pcm16"
        raw_nbytes = (
            part.audio_nbytes if fmt == "pcm16" else part.audio_nbytes // 2
        )  # G.711: 1 byte a sample
        self.log.flush()
        raw = await asyncio.get_running_loop().run_in_executor(
            None, self.log.item_audio, item.id, raw_nbytes
        )
        if fmt == "pcm16":
            raw = raw[: len(raw) // 2 * 2]
        return to_pcm16(raw, fmt), part.sample_rate

    def detach(self, client: AttachedClient) -> None:
        client.closed = True
        self.clients.pop(client.id, None)
        if client.catch_up_task is not None and client.catch_up_task is not asyncio.current_task():
            client.catch_up_task.cancel()
