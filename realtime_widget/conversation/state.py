"""The conversation state machine fed by preview-dialect server events.

``Conversation.apply(event)`` takes server events in arrival order (wire dicts, JSON
text, or protocol models with ``to_dict()``); ``Conversation.apply_client(event)``
takes the client events that carry state the server does not echo (input audio).

Nothing an event refers to is trusted: an unknown or deleted item, an unknown
response, undecodable audio or a malformed payload adds a line to ``warnings``
and the event is skipped; ``apply`` never raises unless ``strict=True``.

Input audio: appended client audio accumulates in an :class:`InputAudioMirror`
(PCM16 at the rate of the session's input format). When the server reports
``input_audio_buffer.committed``, the committed audio (see
:meth:`InputAudioMirror.take_committed`) becomes the audio of the user item's
``input_audio`` part, attached when ``conversation.item.created`` for it arrives (or
at once if the item already exists). Speech marks (``audio_start_ms`` /
``audio_end_ms``, on the session's audio clock as the service counts it: all audio
appended during the session) and an early transcript are kept the same way.
"""

from __future__ import annotations

import functools
import json
import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .. import audio
from .input_audio_mirror import InputAudioMirror
from .records import ContentPart, Item, Response, cut_transcript, pcm16_bytes_for_ms, pcm16_ms

__all__ = ["Conversation"]

log = logging.getLogger(__name__)

# event type -> name of the Conversation method handling it
_SERVER_HANDLERS: dict[str, str] = {
    "session.created": "_on_session",
    "session.updated": "_on_session",
    "conversation.created": "_on_conversation_created",
    "input_audio_buffer.committed": "_on_buffer_committed",
    "input_audio_buffer.cleared": "_on_buffer_cleared",
    "input_audio_buffer.speech_started": "_on_speech_started",
    "input_audio_buffer.speech_stopped": "_on_speech_stopped",
    "conversation.item.created": "_on_item_created",
    "conversation.item.input_audio_transcription.delta": "_on_transcription_delta",
    "conversation.item.input_audio_transcription.completed": "_on_transcription_completed",
    "conversation.item.input_audio_transcription.failed": "_on_transcription_failed",
    "conversation.item.truncated": "_on_item_truncated",
    "conversation.item.deleted": "_on_item_deleted",
    "response.created": "_on_response_created",
    "response.done": "_on_response_done",
    "response.output_item.added": "_on_output_item",
    "response.output_item.done": "_on_output_item",
    "response.content_part.added": "_on_content_part",
    "response.content_part.done": "_on_content_part",
    "response.text.delta": "_on_text_delta",
    "response.text.done": "_on_text_done",
    "response.audio_transcript.delta": "_on_transcript_delta",
    "response.audio_transcript.done": "_on_transcript_done",
    "response.audio.delta": "_on_audio_delta",
    "response.audio.done": "_on_audio_done",
    "response.function_call_arguments.delta": "_on_arguments_delta",
    "response.function_call_arguments.done": "_on_arguments_done",
    "error": "_on_error",
    "rate_limits.updated": "_on_rate_limits",
}

_CLIENT_HANDLERS: dict[str, str] = {
    "input_audio_buffer.append": "_on_client_append",
    "input_audio_buffer.clear": "_on_client_clear",
    "input_audio_buffer.commit": "_on_client_commit",
}

# How far behind the live audio the server's VAD may report a speech start.
IDLE_DETECTION_LAG_MS = 2000

# Payload errors a malformed event can raise inside a handler.
_MALFORMED = (KeyError, TypeError, ValueError, AttributeError, IndexError)


@dataclass
class _PendingInput:
    """What is known about a user audio item before ``conversation.item.created``."""

    audio: bytes = b""
    format: str | None = None
    audio_start_ms: int | None = None
    audio_end_ms: int | None = None
    transcript: str | None = None


@functools.cache
def _audio_errors() -> tuple[type[Exception], ...]:
    """What decoding wire audio raises: ``ProtocolError`` (bad base64, from
    ``audio.b64decode_audio``) and ``ValueError`` (odd PCM16 length). The protocol
    package is imported only when first needed."""
    try:
        from ..protocol import ProtocolError
    except ImportError:  # without it, b64decode_audio fails to build its error
        return (ValueError, ImportError)
    return (ValueError, ProtocolError)


def _as_dict(event: Any) -> dict[str, Any]:
    if type(event) is dict:  # the usual case (handlers never change the event: no copy)
        return event
    if hasattr(event, "to_dict"):
        event = event.to_dict()
    elif isinstance(event, (str, bytes, bytearray)):
        event = json.loads(event)
    if not isinstance(event, Mapping):
        raise TypeError(f"an event must be a mapping, got {type(event).__name__}")
    return dict(event)


class Conversation:
    """State of one realtime conversation, rebuilt from the events of a session.

    Attributes: ``session`` (the last session the server reported), ``conversation_id``,
    ``responses`` (id -> :class:`Response`, in creation order), ``errors`` (the
    ``error`` payloads received), ``rate_limits`` (latest list), ``warnings``
    (problems met while applying events), ``event_counts`` / ``unknown_event_counts``
    (per event type).
    """

    def __init__(
        self,
        *,
        strict: bool = False,
        keep_output_audio: bool = True,
        max_kept_audio_ms: float | None = None,
        max_input_buffer_ms: float | None = None,
    ) -> None:
        self.strict = strict
        # False: the assistant's audio is counted (audio_ms, truncation) but not held; for
        # an owner that stores it anyway (the hub's event log), so memory does not grow
        # by 2.9 MB per minute of reply.
        self.keep_output_audio = keep_output_audio
        # Caps on held audio (None: none). Past max_kept_audio_ms the oldest items' audio
        # bytes are released (durations stay); the input buffer mirror keeps its newest
        # max_input_buffer_ms. Without them a spoken session grows ~48 kB/s for ever.
        self.max_kept_audio_ms = max_kept_audio_ms
        self.max_input_buffer_ms = max_input_buffer_ms
        self.session: dict[str, Any] = {}
        self.conversation_id: str | None = None
        self.responses: dict[str, Response] = {}
        self.errors: list[dict[str, Any]] = []
        self.rate_limits: list[dict[str, Any]] = []
        self.warnings: list[str] = []
        self.event_counts: Counter[str] = Counter()
        self.unknown_event_counts: Counter[str] = Counter()
        self._items: list[Item] = []
        self._by_id: dict[str, Item] = {}
        self._deleted: set[str] = set()
        self._pending: dict[str, _PendingInput] = {}
        self._buffer = InputAudioMirror()
        self._bad_formats: set[str] = set()

    # ------------------------------------------------------------------ public API

    def apply(self, event: Any, *, audio: bytes | None = None) -> None:
        """Apply one server event (wire dict, JSON text or protocol model).

        ``audio``: the bytes of a ``response.audio.delta``'s ``delta`` when the caller
        already decoded the base64 (the hub's log does), so it is not decoded twice."""
        ev = self._load(event)
        if ev is None:
            return
        etype = str(ev.get("type"))
        self.event_counts[etype] += 1
        if audio is not None and etype == "response.audio.delta":
            self._run(self._on_audio_delta, ev, etype, audio)
            return
        handler = _SERVER_FUNCS.get(etype)
        if handler is None:
            self.unknown_event_counts[etype] += 1
            return
        # bound per call: bound methods kept on self would make every conversation a
        # reference cycle, freed (with all its audio) only by the cyclic GC, much later
        self._run(handler.__get__(self), ev, etype)

    def apply_client(self, event: Any, *, audio: bytes | None = None) -> None:
        """Apply one client event. Only input audio buffer events change state; the
        others (``session.update``, ``conversation.item.create``, ...) take effect
        when the server's answer is applied. ``audio``: the decoded ``audio`` of an
        ``input_audio_buffer.append`` (see :meth:`apply`)."""
        ev = self._load(event)
        if ev is None:
            return
        etype = ev.get("type")
        if audio is not None and etype == "input_audio_buffer.append":
            self._run(self._on_client_append, ev, etype, audio)
            return
        handler = _CLIENT_FUNCS.get(str(etype))
        if handler is not None:
            self._run(handler.__get__(self), ev, f"client {etype}")

    @property
    def items(self) -> list[Item]:
        """The items in conversation order (a new list; the items are live)."""
        return list(self._items)

    def item(self, item_id: str) -> Item | None:
        """The item with this id, or None."""
        return self._by_id.get(item_id)

    def text_of(self, item_id: str) -> str:
        """Text of an item (see :attr:`Item.text`); "" for an unknown id."""
        item = self._by_id.get(item_id)
        return item.text if item else ""

    @property
    def active_response(self) -> Response | None:
        """The most recently created response still in progress, or None."""
        for response in reversed(self.responses.values()):
            if response.status == "in_progress":
                return response
        return None

    @property
    def input_buffer(self) -> bytes:
        """Uncommitted input audio (PCM16 at ``input_sample_rate``)."""
        return bytes(self._buffer.data)

    @property
    def input_sample_rate(self) -> int:
        return self._buffer.sample_rate

    @property
    def input_buffer_ms(self) -> float:
        return self._buffer.ms

    @property
    def input_audio_format(self) -> str:
        """The session's input audio format, normalized (``pcm16`` until known)."""
        return self._format("input_audio_format")

    @property
    def output_audio_format(self) -> str:
        return self._format("output_audio_format")

    def bound_audio(self) -> int:
        """Release the audio bytes of the oldest items beyond ``max_kept_audio_ms`` of
        held audio (their ``audio_ms`` and transcripts stay); returns the bytes released."""
        if self.max_kept_audio_ms is None:
            return 0
        kept_ms, released = 0.0, 0
        for item in reversed(self._items):
            for part in item.content:
                if not part.audio:
                    continue
                held_ms = pcm16_ms(len(part.audio), part.sample_rate)
                if kept_ms + held_ms <= self.max_kept_audio_ms:
                    kept_ms += held_ms
                    continue
                released += len(part.audio)
                part.unkept_nbytes += len(part.audio)
                part.audio = bytearray()
                kept_ms = self.max_kept_audio_ms  # everything older goes too
        return released

    def to_items_payload(
        self, *, include_audio: bool = False, include_ids: bool = True
    ) -> list[dict[str, Any]]:
        """The items as request-shaped dicts, in order, to replay into a fresh session
        with one ``conversation.item.create`` each (``{"type":
        "conversation.item.create", "item": payload}``, no ``previous_item_id``: each
        is appended after the one before).

        - user / system messages: ``input_text`` parts as they are; ``input_audio``
          parts carry their ``transcript`` and, with ``include_audio=True``, their
          audio as base64 in the format it was recorded in (the new session must
          use the same ``input_audio_format``).
        - assistant messages: ``text`` parts with the text, or the transcript of an
          audio part (truncated replies keep only the heard transcript); the
          service cannot take assistant audio.
        - function calls and outputs: ``call_id``, ``name``, ``arguments`` / ``output``.
        - item ids are kept (``include_ids``) so later references still resolve;
          messages with nothing left to replay are skipped.
        """
        payload = (
            i.to_request(include_audio=include_audio, include_id=include_ids) for i in self._items
        )
        return [p for p in payload if p is not None]

    # ------------------------------------------------------------------ plumbing

    def _load(self, event: Any) -> dict[str, Any] | None:
        try:
            return _as_dict(event)
        except (TypeError, ValueError) as exc:
            if self.strict:
                raise
            self._warn(f"unreadable event: {exc}")
            return None

    def _run(self, handler: Callable[..., None], ev: dict[str, Any], what: str, *args: Any) -> None:
        try:
            handler(ev, *args)
        except _MALFORMED as exc:
            if self.strict:
                raise
            self._warn(f"{what}: malformed event skipped ({type(exc).__name__}: {exc})")

    def _warn(self, message: str) -> None:
        log.debug("conversation: %s", message)
        self.warnings.append(message)

    def _format(self, key: str) -> str:
        name = self.session.get(key) or "pcm16"
        try:
            return audio.normalize_format(name)
        except ValueError:
            if str(name) not in self._bad_formats:
                self._bad_formats.add(str(name))
                self._warn(f"session {key} {name!r} unknown, audio read as pcm16")
            return "pcm16"

    def _decode(self, b64: Any, fmt: str, what: str, raw: bytes | None = None) -> bytes | None:
        """Base64 audio (or its already decoded ``raw`` bytes) in ``fmt`` -> PCM16 at the
        format's rate (None, warned, on error)."""
        try:
            if raw is None:
                raw = audio.b64decode_audio(b64, param=what)
            return audio.to_pcm16(raw, fmt)
        except _audio_errors() as exc:
            self._warn(f"{what}: undecodable audio skipped ({exc})")
            return None

    def _find(self, item_id: Any, etype: str) -> Item | None:
        item = self._by_id.get(item_id) if isinstance(item_id, str) else None
        if item is None:
            state = "deleted" if item_id in self._deleted else "unknown"
            self._warn(f"{etype}: {state} item {item_id!r}, event skipped")
        return item

    def _response(self, response_id: Any, etype: str) -> Response:
        response = self.responses.get(str(response_id))
        if response is None:
            self._warn(f"{etype}: unknown response {response_id!r}, recorded")
            response = self.responses[str(response_id)] = Response(id=str(response_id))
        return response

    # ------------------------------------------------------------------ ordering

    def _place(self, item: Item, ev: Mapping[str, Any]) -> None:
        """Put ``item`` after the event's ``previous_item_id``; at the start for
        ``"root"``; at the end when it is absent or null, or names an item we do not
        know (warned). An item already placed moves only for a known previous id.

        Null is not taken as "first": the service sends null only for the first
        item (where appending is the same), and our protocol models serialize a
        missing ``previous_item_id`` as null, so null cannot be trusted to mean more.
        """
        prev = ev.get("previous_item_id")
        known = prev in self._by_id and prev != item.id
        if item.id in self._by_id:
            if prev == item.previous_item_id or not (known or prev == "root"):
                return
            self._items.remove(item)
        if prev == "root":
            index = 0
        elif known:
            index = self._items.index(self._by_id[prev]) + 1
        else:
            if prev is not None:
                self._warn(
                    f"{ev.get('type')}: previous item {prev!r} unknown, item {item.id!r} appended"
                )
            index = len(self._items)
        self._items.insert(index, item)
        self._by_id[item.id] = item
        self._relink()

    def _relink(self) -> None:
        previous = None
        for item in self._items:
            item.previous_item_id = previous
            previous = item.id

    def _merge(self, item: Item, wire: Mapping[str, Any]) -> None:
        """Update ``item`` from a wire item. Never erases what deltas built up: text
        and transcripts are taken only when non-empty, and not at all once the item
        was truncated."""
        for key in ("type", "role", "status", "call_id", "name", "output"):
            if wire.get(key) is not None:
                setattr(item, key, wire[key])
        if wire.get("arguments"):
            item.arguments = wire["arguments"]
        elif item.type == "function_call" and item.arguments is None:
            item.arguments = ""
        for index, wpart in enumerate(wire.get("content") or ()):
            self._merge_part(item, index, wpart)

    def _merge_part(self, item: Item, index: int, wpart: Mapping[str, Any]) -> ContentPart:
        part = item.part(index, wpart.get("type") or "text")
        if wpart.get("type"):
            part.type = wpart["type"]
        if not item.truncated:
            for key in ("text", "transcript"):
                value = wpart.get(key)
                if value or (value is not None and getattr(part, key) is None):
                    setattr(part, key, value)
        if part.type == "input_audio" and wpart.get("audio") and not part.audio:
            fmt = self.input_audio_format
            pcm = self._decode(wpart["audio"], fmt, "item.content.audio")
            if pcm and part.set_audio_format(fmt):
                part.audio.extend(pcm)
        return part

    def _new_item(self, wire: Mapping[str, Any], ev: Mapping[str, Any]) -> Item:
        if not wire.get("id"):
            raise ValueError("item without an id")
        item = Item(id=str(wire["id"]))
        self._merge(item, wire)
        self._place(item, ev)
        return item

    # ------------------------------------------------------------------ session

    def _on_session(self, ev: dict[str, Any]) -> None:
        self.session = dict(ev.get("session") or {})

    def _on_conversation_created(self, ev: dict[str, Any]) -> None:
        self.conversation_id = (ev.get("conversation") or {}).get("id")

    def _on_rate_limits(self, ev: dict[str, Any]) -> None:
        self.rate_limits = list(ev.get("rate_limits") or [])

    def _on_error(self, ev: dict[str, Any]) -> None:
        error = dict(ev.get("error") or {})
        self.errors.append(error)
        if error.get("event_id"):  # a rejected client commit did not take the buffer
            self._buffer.forget_commit(error["event_id"])

    # ------------------------------------------------------------------ input audio

    def _pending_for(self, item_id: str) -> _PendingInput:
        return self._pending.setdefault(item_id, _PendingInput())

    def _on_client_append(self, ev: dict[str, Any], raw: bytes | None = None) -> None:
        fmt = self.input_audio_format
        pcm = self._decode(ev["audio"], fmt, "input_audio_buffer.append", raw)
        if pcm is not None and not self._buffer.append(pcm, fmt):
            self._warn(f"input format changed to {fmt} with audio buffered: buffer dropped")
        self._bound_idle_buffer()
        if self.max_input_buffer_ms is not None and self._buffer.ms > self.max_input_buffer_ms:
            excess = len(self._buffer.data) - pcm16_bytes_for_ms(
                self.max_input_buffer_ms, self._buffer.sample_rate
            )
            self._buffer.drop(excess - excess % 2)

    def _bound_idle_buffer(self) -> None:
        """With server VAD, audio before the next speech start is never committed: while
        nobody speaks keep only what ``prefix_padding_ms`` (plus detection lag) can reach,
        so hours of silence do not pile up in memory."""
        td = self.session.get("turn_detection") or {}
        if td.get("type") not in ("server_vad", "semantic_vad"):
            return
        if any(
            p.audio_start_ms is not None and p.audio_end_ms is None for p in self._pending.values()
        ):
            return  # a turn is in progress: its audio is still to be committed
        prefix = td.get("prefix_padding_ms")
        self._buffer.keep_last((prefix if isinstance(prefix, int) else 300) + IDLE_DETECTION_LAG_MS)

    def _on_client_clear(self, ev: dict[str, Any]) -> None:
        self._buffer.client_clear()

    def _on_client_commit(self, ev: dict[str, Any]) -> None:
        self._buffer.client_commit(ev.get("event_id"))

    def _on_buffer_cleared(self, ev: dict[str, Any]) -> None:
        self._buffer.server_cleared()

    def _on_buffer_committed(self, ev: dict[str, Any]) -> None:
        item_id = str(ev["item_id"])
        pending = self._pending_for(item_id)
        pending.audio = self._buffer.take_committed(pending.audio_start_ms, pending.audio_end_ms)
        pending.format = self._buffer.format
        if item_id in self._by_id:
            self._attach_pending(self._by_id[item_id])

    def _on_speech_started(self, ev: dict[str, Any]) -> None:
        self._speech_mark(ev, "audio_start_ms")

    def _on_speech_stopped(self, ev: dict[str, Any]) -> None:
        self._speech_mark(ev, "audio_end_ms")

    def _speech_mark(self, ev: dict[str, Any], key: str) -> None:
        item_id = str(ev["item_id"])
        setattr(self._pending_for(item_id), key, ev.get(key))
        if item_id in self._by_id:
            setattr(self._by_id[item_id], key, ev.get(key))

    def _attach_pending(self, item: Item) -> None:
        """Give ``item`` the committed audio, speech marks and early transcript."""
        pending = self._pending.pop(item.id, None)
        if pending is None:
            return
        item.audio_start_ms = (
            pending.audio_start_ms if pending.audio_start_ms is not None else item.audio_start_ms
        )
        item.audio_end_ms = (
            pending.audio_end_ms if pending.audio_end_ms is not None else item.audio_end_ms
        )
        if not pending.audio and pending.transcript is None:
            return
        part = item.first_part("input_audio")
        if part is None:
            part = ContentPart(type="input_audio")
            item.content.append(part)
        if pending.audio and pending.format and part.set_audio_format(pending.format):
            part.audio.extend(pending.audio)
        if pending.transcript is not None:
            part.transcript = pending.transcript
        if pending.audio:
            self.bound_audio()

    # ------------------------------------------------------------------ items

    def _on_item_created(self, ev: dict[str, Any]) -> None:
        wire = ev["item"]
        item = self._by_id.get(wire.get("id"))
        if item is None:
            item = self._new_item(wire, ev)
        else:  # already announced by response.output_item.added
            self._merge(item, wire)
            self._place(item, ev)
        self._deleted.discard(item.id)
        self._attach_pending(item)

    def _on_item_deleted(self, ev: dict[str, Any]) -> None:
        item = self._find(ev.get("item_id"), ev["type"])
        if item is None:
            return
        self._items.remove(item)
        del self._by_id[item.id]
        self._deleted.add(item.id)
        self._relink()

    def _on_item_truncated(self, ev: dict[str, Any]) -> None:
        item = self._find(ev.get("item_id"), ev["type"])
        if item is None:
            return
        index = ev.get("content_index", ev.get("index", 0)) or 0
        end_ms = ev["audio_end_ms"]
        if index >= len(item.content) or not item.content[index].is_audio:
            self._warn(f"{ev['type']}: item {item.id!r} has no audio part {index}")
        else:
            self._truncate_part(item, item.content[index], end_ms)
        item.truncated, item.audio_end_ms = True, end_ms

    def _truncate_part(self, item: Item, part: ContentPart, end_ms: int) -> None:
        """Cut the part's audio at ``end_ms`` and its transcript in proportion."""
        if not part.audio_nbytes:
            return  # audio never seen here: the proportion is unknown, transcript kept
        total_ms = part.audio_ms
        if end_ms > total_ms:
            self._warn(
                f"conversation.item.truncated: audio_end_ms {end_ms} beyond the "
                f"{total_ms:.0f} ms of item {item.id!r}"
            )
        part.cut_audio(pcm16_bytes_for_ms(end_ms, part.sample_rate or 24000))
        if part.transcript:
            part.transcript = cut_transcript(part.transcript, end_ms / total_ms)

    # ------------------------------------------------------------------ transcription

    def _transcription_part(self, ev: dict[str, Any]) -> ContentPart | _PendingInput | None:
        """The input_audio part an input transcription event is about; the pending
        record when the item is committed but not created yet."""
        item_id = ev.get("item_id")
        if item_id not in self._by_id and item_id in self._pending:
            return self._pending[item_id]
        item = self._find(item_id, ev["type"])
        if item is None:
            return None
        return item.part(ev.get("content_index") or 0, "input_audio")

    def _on_transcription_delta(self, ev: dict[str, Any]) -> None:
        target = self._transcription_part(ev)
        if target is not None:
            target.transcript = (target.transcript or "") + (ev.get("delta") or "")

    def _on_transcription_completed(self, ev: dict[str, Any]) -> None:
        target = self._transcription_part(ev)
        if target is not None:
            target.transcript = ev.get("transcript") or ""

    def _on_transcription_failed(self, ev: dict[str, Any]) -> None:
        target = self._transcription_part(ev)
        if isinstance(target, ContentPart):
            target.transcription_error = dict(ev.get("error") or {})
        elif target is not None:
            self._warn(f"{ev['type']}: item {ev.get('item_id')!r} not created yet")

    # ------------------------------------------------------------------ responses

    def _on_response_created(self, ev: dict[str, Any]) -> None:
        wire = ev["response"]
        response = self.responses.setdefault(wire["id"], Response(id=wire["id"]))
        self._update_response(response, wire)

    def _on_response_done(self, ev: dict[str, Any]) -> None:
        wire = ev["response"]
        response = self._response(wire.get("id"), ev["type"])
        self._update_response(response, wire)
        for index, out in enumerate(wire.get("output") or ()):
            self._upsert_output(response, out, index, ev["type"], announced=True)
        self.bound_audio()

    def _update_response(self, response: Response, wire: Mapping[str, Any]) -> None:
        response.status = wire.get("status") or response.status
        response.status_details = wire.get("status_details", response.status_details)
        response.usage = wire.get("usage") or response.usage

    def _on_output_item(self, ev: dict[str, Any]) -> None:
        """response.output_item.added / done: the item joins the conversation at the
        end (conversation.item.created then places it); done carries the final item."""
        response = self._response(ev.get("response_id"), ev["type"])
        self._upsert_output(
            response, ev["item"], ev.get("output_index"), ev["type"], announced=False
        )

    def _upsert_output(
        self,
        response: Response,
        wire: Mapping[str, Any],
        index: int | None,
        etype: str,
        *,
        announced: bool,
    ) -> None:
        """Create or update an output item of ``response`` from a wire item. With
        ``announced`` (response.done) a missing item is unexpected and warned."""
        item_id = wire.get("id")
        if item_id in self._deleted:
            return
        item = self._by_id.get(item_id)
        if item is None:
            if announced:
                self._warn(f"{etype}: output item {item_id!r} was never announced, appended")
            item = self._new_item(wire, {"type": etype})
        else:
            self._merge(item, wire)
        item.response_id = response.id
        response.add_output(item.id, index)

    # ------------------------------------------------------------------ response content

    def _content_target(self, ev: dict[str, Any], type_hint: str) -> ContentPart | None:
        """The part a response content event writes to; None (skipped) for unknown
        items and for items already truncated (trailing events of an interrupted
        response must not grow what the user did not hear)."""
        item = self._find(ev.get("item_id"), ev["type"])
        if item is None or item.truncated:
            return None
        return item.part(ev.get("content_index") or 0, type_hint)

    def _on_content_part(self, ev: dict[str, Any]) -> None:
        item = self._find(ev.get("item_id"), ev["type"])
        if item is not None:
            self._merge_part(item, ev.get("content_index") or 0, ev.get("part") or {})

    def _on_text_delta(self, ev: dict[str, Any]) -> None:
        part = self._content_target(ev, "text")
        if part is not None:
            part.text = (part.text or "") + (ev.get("delta") or "")

    def _on_text_done(self, ev: dict[str, Any]) -> None:
        part = self._content_target(ev, "text")
        final = ev.get("text", ev.get("value"))  # the service says text, the spec value
        if part is not None and final is not None:
            part.text = final

    def _on_transcript_delta(self, ev: dict[str, Any]) -> None:
        part = self._content_target(ev, "audio")
        if part is not None:
            part.transcript = (part.transcript or "") + (ev.get("delta") or "")

    def _on_transcript_done(self, ev: dict[str, Any]) -> None:
        part = self._content_target(ev, "audio")
        if part is not None and ev.get("transcript") is not None:
            part.transcript = ev["transcript"]

    def _on_audio_delta(self, ev: dict[str, Any], raw: bytes | None = None) -> None:
        part = self._content_target(ev, "audio")
        if part is None:
            return
        fmt = self.output_audio_format
        pcm = self._decode(ev.get("delta"), fmt, "response.audio.delta", raw)
        if pcm is None:
            return
        if not part.set_audio_format(fmt):
            self._warn(f"response.audio.delta: {fmt} audio for a {part.format} part skipped")
            return
        if self.keep_output_audio:
            part.audio.extend(pcm)
        else:
            part.unkept_nbytes += len(pcm)

    def _on_audio_done(self, ev: dict[str, Any]) -> None:
        self._content_target(ev, "audio")  # only checks the item exists

    def _call_item(self, ev: dict[str, Any]) -> Item | None:
        """Function call item by item_id, or by call_id when the id is unknown."""
        item = self._by_id.get(ev.get("item_id"))
        if item is None and ev.get("call_id"):
            item = next(
                (
                    i
                    for i in self._items
                    if i.type == "function_call" and i.call_id == ev["call_id"]
                ),
                None,
            )
        return item if item is not None else self._find(ev.get("item_id"), ev["type"])

    def _on_arguments_delta(self, ev: dict[str, Any]) -> None:
        item = self._call_item(ev)
        if item is not None:
            item.arguments = (item.arguments or "") + (ev.get("delta") or "")
            item.call_id = item.call_id or ev.get("call_id")

    def _on_arguments_done(self, ev: dict[str, Any]) -> None:
        item = self._call_item(ev)
        if item is None:
            return
        if ev.get("arguments") is not None:
            item.arguments = ev["arguments"]
        item.call_id = ev.get("call_id") or item.call_id
        item.name = ev.get("name") or item.name


# event type -> the Conversation function handling it (see Conversation.apply)
_SERVER_FUNCS: dict[str, Callable[..., None]] = {
    t: getattr(Conversation, m) for t, m in _SERVER_HANDLERS.items()
}
_CLIENT_FUNCS: dict[str, Callable[..., None]] = {
    t: getattr(Conversation, m) for t, m in _CLIENT_HANDLERS.items()
}
