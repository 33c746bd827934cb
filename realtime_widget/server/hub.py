"""The session hub: realtime sessions that outlive the clients attached to them.

A :class:`HubSession` is one upstream realtime connection (see :mod:`.providers`) + its
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
preview, everything, or GA) is its view: :mod:`.client_views`.

Reconnection restores: the session configuration (the last ``session.updated``, every
updatable field) and the conversation items (``Conversation.to_items_payload``: text,
transcripts of audio, function calls and outputs, with their ids; input audio too with
``restore_audio``). Not restored: assistant audio (a service cannot take it; the
transcript stands in), the uncommitted input audio buffer, a response in progress
(reported failed) and pending input transcriptions. Client events sent while the
upstream is away are kept (up to ``reconnect_buffer_bytes``) and sent after the restore.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import secrets
import shutil
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import tornado.iostream
import tornado.websocket

from ..audio import to_pcm16
from ..conversation import Conversation, Item
from ..conversation.rebuild import rebuild_conversation
from ..logfile import read_log
from ..protocol.errors import ProtocolError
from ..protocol.parsing import check_json_value, load_json_event, sniff_event_id
from ..protocol.types import SessionUpdateParams
from .client_views import HUB_VIEW, View, live_frames, replay_frames
from .eventlog import EventLog, StoredSessionInfo, apply_retention, scan_sessions, valid_session_id
from .providers import HubError, ProviderSettings, Upstream, UpstreamError, make_upstream, redact

log = logging.getLogger(__name__)

__all__ = ["AttachedClient", "ClientSink", "Hub", "HubConfig", "HubError", "HubSession"]

SOURCES = ("widget", "kernel", "other")
# What a session.update may set: the protocol's own model of it (``model`` is chosen at connect).
SESSION_FIELDS = tuple(name for name in SessionUpdateParams.model_fields if name != "model")
_NULLABLE_SESSION_FIELDS = ("input_audio_transcription", "turn_detection")
_dumps = json.JSONEncoder(separators=(",", ":")).encode
IDLE_CHECK_S = 1.0  # how often sessions with an idle_timeout are looked at


@dataclass
class HubConfig:
    """Limits and policies of a hub (the extension fills it from its traitlets)."""

    log_dir: Path
    providers: ProviderSettings = field(default_factory=ProviderSettings)
    max_sessions_per_user: int = 8
    max_clients_per_session: int = 16
    max_message_bytes: int = 24 * 1024 * 1024
    max_session_log_bytes: int | None = 1024 * 1024 * 1024
    max_total_log_bytes: int | None = 8 * 1024 * 1024 * 1024
    retention_days: float | None = 30.0
    reconnect_initial_delay: float = 0.5
    reconnect_max_delay: float = 20.0
    reconnect_max_attempts: int = 10
    restore_timeout: float = 30.0
    restore_audio: bool = False
    log_flush_interval: float = 0.2  # s; 0: flush at the end of every loop iteration
    client_buffer_bytes: int = 64 * 1024 * 1024
    reconnect_buffer_bytes: int = 16 * 1024 * 1024
    brain_factory: Any = None  # () -> Brain for the local engine (None: the rule brain)
    # Hold the assistant's audio in memory too (direct mode: the kernel's DataFrames read
    # it there); the server's hub only counts it, its log has it.
    keep_output_audio: bool = False
    # Memory caps of each session's conversation (None: none): audio held (the oldest
    # items' audio is released past it; the log keeps everything) and the input buffer mirror.
    max_kept_audio_ms: float | None = 30 * 60_000
    max_input_buffer_ms: float | None = 15 * 60_000
    # Closed sessions kept loaded (the newest); older ones are dropped from memory and
    # reloaded from their log when asked for, as sessions from before a restart are.
    max_closed_sessions_loaded: int = 16


class ClientSink(Protocol):
    """Where an attached client's frames go (a WebSocket, or the kernel in direct mode)."""

    def send_text(self, frame: str) -> Awaitable[Any] | None: ...

    def close(self, code: int, reason: str) -> None: ...


class AttachedClient:
    def __init__(
        self,
        session: HubSession,
        client_id: str,
        source: str,
        sink: ClientSink,
        view: View = HUB_VIEW,
    ):
        self.session = session
        self.id = client_id
        self.source = source
        self.sink = sink
        self.view = view  # what it sees of the session's events (client_views.py)
        self.sees_everything = view.sees_everything
        self.live = False
        self.backlog: deque[str] = deque()
        self.backlog_bytes = 0
        self.unsent_bytes = 0
        self.closed = False
        self.last_seq_sent = 0
        self.catch_up_task: asyncio.Task | None = None

    def deliver(self, frame: str) -> None:
        if self.closed:
            return
        if not self.live:
            self.backlog.append(frame)
            self.backlog_bytes += len(frame)
            if self.backlog_bytes > self.session.hub.config.client_buffer_bytes:
                self.drop(1013, "client too slow: reattach with after=<last x_seq>")
            return
        self._write(frame)

    def _write(self, frame: str) -> Awaitable[Any] | None:
        try:
            result = self.sink.send_text(frame)
        except Exception:  # the socket is gone
            self.session.detach(self)
            return None
        if result is not None and hasattr(result, "add_done_callback") and not result.done():
            # still in the socket's buffer (a slow client): count it until it is written
            size = len(frame)
            self.unsent_bytes += size

            def done(_: Any, size: int = size) -> None:
                self.unsent_bytes -= size

            result.add_done_callback(done)
            if self.unsent_bytes > self.session.hub.config.client_buffer_bytes:
                self.drop(1013, "client too slow: reattach with after=<last x_seq>")
        return result

    async def write(self, frame: str) -> None:
        result = self._write(frame)
        if result is not None:
            try:
                await result
            except Exception:
                self.session.detach(self)

    def drop(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.session.detach(self)
        try:
            self.sink.close(code, reason)
        except Exception:
            pass


def _error_event(
    code: str,
    message: str,
    *,
    type_: str = "invalid_request_error",
    param: str | None = None,
    event_id: Any = None,
) -> dict[str, Any]:
    # The spec's error object has no nulls: param and event_id are left out when unknown (D19/D28).
    error: dict[str, Any] = {"type": type_, "code": code, "message": message}
    if param is not None:
        error["param"] = param
    if isinstance(event_id, str):
        error["event_id"] = event_id
    return {"type": "error", "event_id": "event_hub_" + secrets.token_hex(8), "error": error}


def _protocol_error_event(err: ProtocolError) -> dict[str, Any]:
    return _error_event(
        err.code, err.message, type_=err.type, param=err.param, event_id=err.event_id
    )


def _queued_size(event: dict[str, Any]) -> int:
    audio = event.get("audio")
    return 256 + (len(audio) if isinstance(audio, str) else 0)


def _hub_event(etype: str, **fields: Any) -> dict[str, Any]:
    return {"type": etype, "event_id": "event_hub_" + secrets.token_hex(8), **fields}


def session_update_payload(session: dict[str, Any]) -> dict[str, Any]:
    """The updatable fields of a reported session (to replay it with ``session.update``)."""
    out = {}
    for key in SESSION_FIELDS:
        if key in session and (session[key] is not None or key in _NULLABLE_SESSION_FIELDS):
            out[key] = session[key]
    return out


def conversation_state(conv: Conversation) -> dict[str, Any]:
    """A JSON summary of a conversation (items without audio bytes, responses)."""
    items = []
    for item in conv.items:
        entry: dict[str, Any] = {
            "id": item.id,
            "type": item.type,
            "status": item.status,
            "previous_item_id": item.previous_item_id,
        }
        if item.type == "message":
            entry["role"] = item.role
            entry["text"] = item.text
            entry["content"] = [
                {
                    "type": p.type,
                    "text": p.text,
                    "transcript": p.transcript,
                    "audio_ms": round(p.audio_ms, 1),
                    "format": p.format,
                }
                for p in item.content
            ]
            entry["audio_ms"] = round(item.audio_ms, 1)
        else:
            entry.update(
                call_id=item.call_id, name=item.name, arguments=item.arguments, output=item.output
            )
        if item.truncated:
            entry["truncated"] = True
        if item.response_id:
            entry["response_id"] = item.response_id
        items.append(entry)
    responses = [
        {
            "id": r.id,
            "status": r.status,
            "status_details": r.status_details,
            "usage": r.usage,
            "output_item_ids": list(r.output_item_ids),
        }
        for r in conv.responses.values()
    ]
    return {
        "session": conv.session,
        "items": items,
        "responses": responses,
        "errors": len(conv.errors),
        "input_buffer_ms": round(conv.input_buffer_ms, 1),
    }


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
        self._restoring = False
        self._restore_waiters: list[tuple[Callable[[dict[str, Any]], bool], asyncio.Future]] = []
        self._buffer_full_reported = False
        self._lock = asyncio.Lock()  # connect / close / resume one at a time
        # closed when no browser (widget) client is attached and no event passes for this
        # long: a widget whose tab was closed (even while it connected) leaves nothing open
        self.idle_timeout = idle_timeout
        self._idle_seq = -1
        self._idle_since = time.monotonic()

    # ------------------------------------------------------------------ summary

    @property
    def ws_path(self) -> str:
        return f"realtime/sessions/{self.id}/ws"

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
        out = {
            "id": self.id,
            "name": self.name,
            "provider": self.provider,
            "model": self.model,
            "status": self.status,
            "created_at": self.created_at,
            "closed_at": self.closed_at,
            "owner": self.owner,
            "interrupted": self.interrupted,
            "n_events": self.log.n_events,
            "n_clients": len(self.clients),
            "reconnects": self.reconnects,
            "ws_path": self.ws_path,
        }
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
                    "event_id": "event_hub_config",
                    "session": self.requested_session,
                },
                source="hub",
            )
        try:
            async with self._lock:
                await self._connect(restore=False)
        except UpstreamError as exc:
            self.status = "failed"
            message = redact(exc.message, self.hub.config.providers.secrets())
            self._publish(
                _error_event("upstream_unavailable", message, type_="server_error"), source="hub"
            )
            await self._shutdown("failed")
            raise HubError(502, "upstream_unavailable", message) from None

    async def resume(self) -> None:
        """Reopen a closed session: a new upstream, restored from the conversation."""
        async with self._lock:
            if self.live:
                return
            self.status = "reconnecting"
            self.closed_at = None
            self.interrupted = False
            self.log.write_meta(self.meta())
            self._pump_task = asyncio.ensure_future(self._pump())
            try:
                await self._connect(restore=True)
            except UpstreamError as exc:
                message = redact(exc.message, self.hub.config.providers.secrets())
                self._publish(
                    _error_event("upstream_unavailable", message, type_="server_error"),
                    source="hub",
                )
                await self._shutdown("failed")
                raise HubError(502, "upstream_unavailable", message) from None

    async def close(self, reason: str = "closed by a client") -> None:
        async with self._lock:
            if self.status == "closed":
                if self.interrupted:  # closed on purpose now: nobody should resume it by itself
                    self.interrupted = False
                    self.closed_at = time.time()
                    self.log.write_meta(self.meta())
                return
            await self._shutdown("closed", reason)

    async def _shutdown(self, status: str, reason: str = "") -> None:
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
        self._fail_restore_waiters("the session closed")
        self._publish(
            _hub_event("x_hub.status", status=status, reason=reason or None), source="hub"
        )
        self.closed_at = time.time()
        for client in list(self.clients.values()):
            client.drop(1000, f"session {status}")
        self.log.write_meta(self.meta())
        self.log.close()
        self.hub._session_ended(self)

    # ------------------------------------------------------------------ the upstream

    async def _connect(self, *, restore: bool) -> None:
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
        self._restoring = restore
        self.upstream = upstream
        try:
            if restore:
                created = self._restore_wait(lambda ev: ev.get("type") == "session.created")
            await upstream.connect()
            if restore:
                await self._restore(created)
        except Exception as exc:
            self._restoring = False
            self.upstream = None
            self._fail_restore_waiters("connect failed")
            try:
                await upstream.close()
            except Exception:
                pass
            if isinstance(exc, UpstreamError):
                raise
            raise UpstreamError(f"{type(exc).__name__}: {exc}") from None
        self._restoring = False
        self.status = "open"
        self._buffer_full_reported = False
        self._ready.set()

    def _on_upstream_event(
        self, upstream: Upstream, event: dict[str, Any], text: str | None
    ) -> None:
        if upstream is not self.upstream:
            return  # a late event of a replaced connection
        if self._restoring:
            self.log.append(event, direction="server", source="upstream", quiet=True, text=text)
            for predicate, future in list(self._restore_waiters):
                if not future.done() and predicate(event):
                    future.set_result(event)
            return
        self._publish(event, source="upstream", text=text)

    def _on_upstream_closed(self, upstream: Upstream, reason: str) -> None:
        if upstream is not self.upstream or not self.live:
            return
        self._ready.clear()
        if self._restoring:  # lost again while restoring: the reconnect loop retries
            self._fail_restore_waiters(reason)
            return
        if self.status == "connecting":
            return
        self.status = "reconnecting"
        message = redact(
            f"The connection to {upstream.describe()} was lost ({reason}); reconnecting.",
            self.hub.config.providers.secrets(),
        )
        self._publish(
            _error_event("upstream_disconnected", message, type_="server_error"), source="hub"
        )
        active = self.conversation.active_response
        if active is not None:
            self._publish(
                {
                    "type": "response.done",
                    "event_id": "event_hub_" + secrets.token_hex(8),
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
        self._publish(
            _hub_event("x_hub.status", status="reconnecting", reason=message), source="hub"
        )
        self._reconnect_task = asyncio.ensure_future(self._reconnect_loop())

    async def _reconnect_loop(self) -> None:
        cfg = self.hub.config
        delay = cfg.reconnect_initial_delay
        last_error = "unknown error"
        for attempt in range(1, cfg.reconnect_max_attempts + 1):
            await asyncio.sleep(delay * (0.8 + 0.4 * random.random()))
            if not self.live:
                return
            try:
                async with self._lock:
                    if not self.live:
                        return
                    await self._connect(restore=True)
                self.reconnects += 1
                return
            except UpstreamError as exc:
                last_error = exc.message
                log.info(
                    "realtime-widget: reconnect %d of session %s failed: %s",
                    attempt,
                    self.id,
                    exc.message,
                )
                if exc.permanent:
                    break
            delay = min(delay * 2, cfg.reconnect_max_delay)
        message = redact(
            f"Reconnecting to the upstream failed: {last_error}", cfg.providers.secrets()
        )
        self._publish(
            _error_event("upstream_unavailable", message, type_="server_error"), source="hub"
        )
        async with self._lock:
            if self.live:
                await self._shutdown("failed", message)

    # ------------------------------------------------------------------ restoring

    def _restore_wait(self, predicate: Callable[[dict[str, Any]], bool]) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        self._restore_waiters.append((predicate, future))
        return future

    def _fail_restore_waiters(self, reason: str) -> None:
        waiters, self._restore_waiters = self._restore_waiters, []
        for _, future in waiters:
            if not future.done():
                future.set_exception(UpstreamError(reason))

    async def _restore_send(self, event: dict[str, Any]) -> None:
        self.log.append(event, direction="client", source="hub", quiet=True)
        assert self.upstream is not None
        try:
            await self.upstream.send(event)
        except Exception as exc:
            raise UpstreamError(
                f"the upstream closed while restoring: {type(exc).__name__}"
            ) from None

    async def _restore(self, created: asyncio.Future) -> None:
        timeout = self.hub.config.restore_timeout
        try:
            await asyncio.wait_for(created, timeout)
            waits: list[asyncio.Future] = []
            config = session_update_payload(self.conversation.session)
            if config:
                eid = "event_restore_session"
                waits.append(
                    self._restore_wait(
                        lambda ev: (
                            ev.get("type") == "session.updated"
                            or (
                                ev.get("type") == "error"
                                and (ev.get("error") or {}).get("event_id") == eid
                            )
                        )
                    )
                )
                await self._restore_send(
                    {"type": "session.update", "event_id": eid, "session": config}
                )
            items = self.conversation.to_items_payload(include_audio=self.hub.config.restore_audio)
            for n, item in enumerate(items):
                eid = f"event_restore_item_{n}"
                item_id = item.get("id")
                waits.append(
                    self._restore_wait(
                        lambda ev, eid=eid, item_id=item_id: (
                            (
                                ev.get("type") == "conversation.item.created"
                                and (ev.get("item") or {}).get("id") == item_id
                            )
                            or (
                                ev.get("type") == "error"
                                and (ev.get("error") or {}).get("event_id") == eid
                            )
                        )
                    )
                )
                await self._restore_send(
                    {"type": "conversation.item.create", "event_id": eid, "item": item}
                )
            results = await asyncio.wait_for(asyncio.gather(*waits), timeout) if waits else []
        except asyncio.TimeoutError:
            raise UpstreamError(
                "the upstream did not answer while the conversation was restored"
            ) from None
        finally:
            self._restore_waiters = []
        failed = sum(1 for ev in results if ev.get("type") == "error")
        restored_items = len(items) - sum(
            1 for ev in results[1 if config else 0 :] if ev.get("type") == "error"
        )
        self._publish(
            _hub_event(
                "x_hub.status",
                status="open",
                restored_items=restored_items,
                failed_items=failed,
                attempt=self.reconnects + 1,
            ),
            source="hub",
        )

    # ------------------------------------------------------------------ server events

    def _publish(self, event: dict[str, Any], *, source: str, text: str | None = None) -> int:
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
                frame = _dumps({**event, "x_seq": seq})
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
        self._publish(error, source="hub")

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
            self._publish(_protocol_error_event(err), source="hub")
            return None
        if not isinstance(event.get("type"), str):
            self._publish(
                _error_event(
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
            self._publish(
                _error_event(
                    "session_closed",
                    f"the session is {self.status}: resume it first (POST {self.ws_path[:-3]}/resume)",
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
        # flow control: a client that outruns the upstream waits here (its socket is not read meanwhile)
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
                self._publish(
                    _error_event(
                        "reconnect_buffer_full",
                        "the upstream is reconnecting and the buffer of client events is full: events are dropped until it is back",
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
                self._publish(
                    _error_event(
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
        event = _hub_event("session.created", session=dict(self.conversation.session))
        return live_frames(view, event, None, _dumps(event))

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
                ready = _hub_event(
                    "x_hub.ready",
                    client_id=client.id,
                    replayed=replayed,
                    last_seq=self.log.last_seq,
                    session=self.summary(),
                )
                client._write(_dumps(ready))
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


class Hub:
    """Every session of one server (or of one kernel, in direct mode)."""

    def __init__(self, config: HubConfig):
        self.config = config
        self.sessions: dict[str, HubSession] = {}  # live, and closed ones loaded in memory
        self._stored: dict[str, StoredSessionInfo] = {}
        self._loading: dict[str, asyncio.Future] = {}
        self._started = False
        # Sessions being created or resumed, per owner: counted with the live ones, so that
        # checking the per-user limit and taking a place happen in one step (no await between).
        self._reserved: dict[str, set[str]] = {}
        self._idle_watch: asyncio.Task | None = None

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._start_blocking)
        self._idle_watch = asyncio.ensure_future(self._watch_idle())

    async def _watch_idle(self) -> None:
        """Close the sessions idle beyond their ``idle_timeout`` (see ``HubSession.idle_for``)."""
        while True:
            await asyncio.sleep(IDLE_CHECK_S)
            now = time.monotonic()
            for session in list(self.sessions.values()):
                if (
                    session.live
                    and session.idle_timeout
                    and session.idle_for(now) > session.idle_timeout
                ):
                    log.info(
                        "realtime-widget: closing session %s: idle for %g s",
                        session.id,
                        session.idle_timeout,
                    )
                    asyncio.ensure_future(
                        session.close(
                            f"idle for {session.idle_timeout:g} s with no widget attached"
                        )
                    )

    def _start_blocking(self) -> None:
        self.config.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            apply_retention(
                self.config.log_dir,
                retention_days=self.config.retention_days,
                max_total_bytes=self.config.max_total_log_bytes,
                keep=set(self.sessions),
            )
        except OSError:
            log.warning("realtime-widget: applying the log retention failed", exc_info=True)
        self._stored = {s.id: s for s in scan_sessions(self.config.log_dir)}

    # ------------------------------------------------------------------ sessions

    def _reserve_place(self, owner: str, session_id: str, message: str) -> None:
        """Take one of ``owner``'s live-session places for ``session_id``, or refuse (429).
        Synchronous: the check and the reservation cannot interleave with another
        request's. A session counts once, whether reserved, live or both."""
        live = {sid for sid, s in self.sessions.items() if s.live and s.owner == owner}
        reserved = self._reserved.setdefault(owner, set())
        if len(live | reserved | {session_id}) > self.config.max_sessions_per_user:
            raise HubError(429, "too_many_sessions", message)
        reserved.add(session_id)

    def _release_place(self, owner: str, session_id: str) -> None:
        reserved = self._reserved.get(owner, set())
        reserved.discard(session_id)
        if not reserved:
            self._reserved.pop(owner, None)

    async def create(self, owner: str, body: dict[str, Any]) -> HubSession:
        await self.start()
        if not isinstance(body, dict):
            raise HubError(400, "invalid_type", "the request body must be a JSON object")
        unknown = set(body) - {"provider", "name", "model", "session", "url", "idle_timeout"}
        if unknown:
            raise HubError(
                400,
                "unknown_parameter",
                f"unknown field(s): {', '.join(sorted(map(str, unknown)))}",
            )
        provider = body.get("provider", "local")
        name = body.get("name") or ""
        if not isinstance(name, str) or len(name) > 200:
            raise HubError(
                400, "invalid_value", "name: expected a string of at most 200 characters"
            )
        requested = body.get("session")
        if requested is not None and not isinstance(requested, dict):
            raise HubError(400, "invalid_type", "session: expected an object of session fields")
        model = body.get("model")
        url = body.get("url")
        if url is not None and not isinstance(url, str):
            raise HubError(400, "invalid_type", "url: expected a string")
        idle_timeout = body.get("idle_timeout")
        if idle_timeout is not None and (
            isinstance(idle_timeout, bool)
            or not isinstance(idle_timeout, (int, float))
            or not 0 < idle_timeout <= 7 * 86400
        ):
            raise HubError(
                400,
                "invalid_value",
                "idle_timeout: seconds, a number above 0 and at most 604800 (or null)",
            )
        # validate the provider and its configuration before anything is written
        make_upstream(
            self.config.providers,
            provider if isinstance(provider, str) else repr(provider),
            model=model,
            url=url,
            on_event=lambda e, t: None,
            on_closed=lambda r: None,
        )
        session_id = "rts_" + secrets.token_hex(10)
        self._reserve_place(
            owner,
            session_id,
            f"at most {self.config.max_sessions_per_user} live sessions per user: close one first",
        )
        try:
            return await self._create(
                session_id, owner, provider, name, model, url, requested, idle_timeout
            )
        finally:
            self._release_place(owner, session_id)  # the session itself is live now (or failed)

    async def _create(
        self,
        session_id: str,
        owner: str,
        provider: str,
        name: str,
        model: Any,
        url: Any,
        requested: Any,
        idle_timeout: Any,
    ) -> HubSession:
        model = model or self.config.providers.default_model(provider)
        eventlog = await asyncio.get_running_loop().run_in_executor(
            None,
            lambda: EventLog.create(
                self.config.log_dir / session_id, max_bytes=self.config.max_session_log_bytes
            ),
        )
        eventlog.flush_interval = self.config.log_flush_interval
        session = HubSession(
            self,
            session_id,
            provider=provider,
            model=model,
            name=name or session_id,
            owner=owner,
            url=url if provider == "url" else None,
            requested_session=requested,
            created_at=time.time(),
            eventlog=eventlog,
            idle_timeout=float(idle_timeout) if idle_timeout is not None else None,
        )
        eventlog.write_meta(session.meta())
        self.sessions[session_id] = session
        await session.start()
        return session

    async def get(self, session_id: str) -> HubSession:
        """A session, live or loaded from its log; ``HubError`` 404."""
        if not valid_session_id(session_id):
            raise HubError(404, "session_not_found", "no such session")
        session = self.sessions.get(session_id)
        if session is not None:
            return session
        await self.start()
        if session_id not in self._stored:
            path = self.config.log_dir / session_id
            if not (path / "meta.json").exists():
                raise HubError(404, "session_not_found", "no such session")
        pending = self._loading.get(session_id)
        if pending is None:
            pending = self._loading[session_id] = asyncio.ensure_future(self._load(session_id))
        try:
            return await asyncio.shield(pending)
        finally:
            self._loading.pop(session_id, None)

    async def _load(self, session_id: str) -> HubSession:
        loop = asyncio.get_running_loop()
        path = self.config.log_dir / session_id

        def load() -> tuple[EventLog, dict[str, Any], Conversation]:
            eventlog = EventLog.open(path, max_bytes=self.config.max_session_log_bytes)
            meta = eventlog.read_meta()
            return (
                eventlog,
                meta,
                rebuild_conversation(
                    read_log(path, on_error="skip"),
                    keep_output_audio=self.config.keep_output_audio,
                    max_kept_audio_ms=self.config.max_kept_audio_ms,
                    max_input_buffer_ms=self.config.max_input_buffer_ms,
                ),
            )

        eventlog, meta, conv = await loop.run_in_executor(None, load)
        eventlog.flush_interval = self.config.log_flush_interval
        session = HubSession(
            self,
            session_id,
            provider=str(meta.get("provider") or "local"),
            model=str(meta.get("model") or ""),
            name=str(meta.get("name") or session_id),
            owner=str(meta.get("owner") or ""),
            url=meta.get("url"),
            requested_session=None,
            created_at=float(meta.get("created_at") or 0.0),
            eventlog=eventlog,
            status="closed",
        )
        session.closed_at = meta.get("closed_at")
        session.interrupted = session.closed_at is None
        session.conversation = conv
        session.log.input_format = conv.input_audio_format
        session.log.output_format = conv.output_audio_format
        loaded = self.sessions.setdefault(session_id, session)
        self._unload_closed()
        return loaded

    async def list(self) -> list[dict[str, Any]]:
        await self.start()
        out = {sid: s.summary() for sid, s in self.sessions.items()}
        for sid, info in self._stored.items():
            if sid in out or not info.path.exists():
                continue
            meta = info.meta
            out[sid] = {
                "id": sid,
                "name": meta.get("name") or sid,
                "provider": meta.get("provider"),
                "model": meta.get("model"),
                "status": "closed",
                "created_at": meta.get("created_at"),
                "closed_at": meta.get("closed_at"),
                "owner": meta.get("owner"),
                "interrupted": meta.get("closed_at") is None,
                "n_events": None,
                "n_clients": 0,
                "reconnects": 0,
                "ws_path": f"realtime/sessions/{sid}/ws",
            }
        return sorted(out.values(), key=lambda s: s.get("created_at") or 0)

    async def close(self, session_id: str, *, purge: bool = False) -> None:
        session = await self.get(session_id)
        await session.close()
        if purge:
            self.sessions.pop(session_id, None)
            self._stored.pop(session_id, None)
            await asyncio.get_running_loop().run_in_executor(
                None, lambda: shutil.rmtree(session.log.dir, ignore_errors=True)
            )

    async def resume(self, session_id: str, owner: str) -> HubSession:
        session = await self.get(session_id)
        if not session.live:
            self._reserve_place(
                owner,
                session_id,
                f"at most {self.config.max_sessions_per_user} live sessions per user",
            )
            try:
                await session.resume()
            finally:
                self._release_place(owner, session_id)
        return session

    def _session_ended(self, session: HubSession) -> None:
        self._stored[session.id] = StoredSessionInfo(
            session.id, session.log.dir, session.meta(), 0, time.time()
        )
        self._unload_closed()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        keep = {sid for sid, s in self.sessions.items() if s.live}
        loop.run_in_executor(
            None,
            lambda: apply_retention(
                self.config.log_dir,
                retention_days=self.config.retention_days,
                max_total_bytes=self.config.max_total_log_bytes,
                keep=keep | {session.id},
            ),
        )

    def _unload_closed(self) -> None:
        """Keep at most ``max_closed_sessions_loaded`` closed sessions in memory (their
        conversations hold text and audio); the oldest loaded go first."""
        closed = [sid for sid, s in self.sessions.items() if not s.live and not s.clients]
        for sid in closed[: max(0, len(closed) - self.config.max_closed_sessions_loaded)]:
            self.sessions.pop(sid, None)

    async def events(
        self,
        session_id: str,
        *,
        after: int = 0,
        limit: int = 100,
        types: list[str] | None = None,
        audio: str = "ref",
    ) -> dict[str, Any]:
        session = await self.get(session_id)
        seqs = session.log.select(after=after, limit=limit, types=types)
        session.log.flush()
        records = await asyncio.get_running_loop().run_in_executor(
            None, lambda: session.log.read(seqs, audio=audio, flush=False)
        )
        next_after = seqs[-1] if seqs else max(after, 0)
        more = bool(session.log.select(after=next_after, limit=1, types=types))
        return {
            "events": records,
            "next_after": next_after,
            "has_more": more,
            "last_seq": session.log.last_seq,
        }

    async def export(
        self, session_id: str, *, audio: str = "inline", chunk: int = 512
    ) -> AsyncIterator[bytes]:
        """The session's log as JSONL, in chunks (reads in a worker thread)."""
        session = await self.get(session_id)
        last = session.log.last_seq
        loop = asyncio.get_running_loop()
        for start in range(1, last + 1, chunk):
            seqs = list(range(start, min(start + chunk, last + 1)))
            session.log.flush()
            lines = await loop.run_in_executor(
                None,
                lambda seqs=seqs: "".join(
                    _dumps(r) + "\n" for r in session.log.read(seqs, audio=audio, flush=False)
                ).encode(),
            )
            yield lines

    async def shutdown(self) -> None:
        if self._idle_watch is not None:
            self._idle_watch.cancel()
        for session in list(self.sessions.values()):
            if session.live:
                try:
                    await session.close("the server is shutting down")
                except Exception:
                    log.exception("closing session %s failed", session.id)
