"""One realtime session of the embedded local engine (server side of the preview dialect).

``EngineSession`` takes client events (raw JSON or dicts) with :meth:`handle` and sends
server events through the ``send`` coroutine it was given. Every event it sends is
first applied to its own :class:`~realtime_widget.conversation.Conversation`, which is
the single source of truth for items, audio and responses.

Bad input never ends the session: it becomes a spec-shaped ``error`` event naming the
offending ``event_id`` and ``param``, and the session carries on.

Latency: with server VAD the recogniser starts on the user's audio as soon as the VAD
sees the silence that may end the turn, while ``silence_duration_ms`` is still running.
When the turn does end, the transcript is usually ready, so the reply starts at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Awaitable, Callable

from ..audio import b64decode_audio, duration_ms, normalize_format
from ..conversation import Conversation
from ..protocol import MAX_APPEND_AUDIO_BYTES, ProtocolError, parse_client_event, parse_server_event
from .brain import Brain, RuleBrain
from .config import (
    check_audio_format,
    check_max_tokens,
    check_modalities,
    check_temperature,
    check_tool_choice,
    check_tools,
    check_voice,
    default_session,
    merge_session,
    turn_detection_enabled,
    vad_parameters,
)
from .ids import new_id
from .input_audio import InputAudioBuffer
from .item_conversion import accept_request_item, chat_messages, retrieved_item
from .limits import SessionLimits, conversation_text_bytes, wire_item_bytes
from .memory import release_memory_soon
from .noise_reduction import reduce_noise
from .response import ResponseParams, ResponseRun
from .scheduler import InferenceScheduler, default_scheduler
from .speech.stack import SpeechStack
from .speech.trailing_text import trails_off
from .usage import RateLimiter, TokenCount, audio_tokens, text_tokens

log = logging.getLogger(__name__)

Send = Callable[[dict[str, Any]], Awaitable[None]]

IDLE_AUDIO_KEPT_MS = 2000  # audio kept before speech while nobody speaks (covers prefix padding)


class _Turn:
    """The user turn the VAD is tracking: its item id and the early transcription."""

    def __init__(self, item_id: str, start_ms: int):
        self.item_id = item_id
        self.start_ms = start_ms
        self.early: tuple[int, asyncio.Future] | None = None  # (speech_end_ms, transcript future)


class EngineSession:
    def __init__(
        self,
        send: Send,
        *,
        speech: SpeechStack | None = None,
        brain: Brain | None = None,
        model: str = "local-realtime",
        max_event_bytes: int | None = None,
        limits: SessionLimits | None = None,
        scheduler: InferenceScheduler | None = None,
    ):
        self._send = send
        self.speech = speech
        self.brain = brain or RuleBrain()
        self.session = default_session(new_id("sess"), model)
        self.limits = limits or SessionLimits()
        # Inference (VAD, ASR, TTS) runs in a thread pool shared by all sessions, never on
        # the event loop; the scheduler keeps one session from taking all of it.
        self._scheduler = scheduler
        self.conversation = Conversation(max_kept_audio_ms=self.limits.max_kept_audio_ms)
        self.input = InputAudioBuffer(self.session["input_audio_format"])
        self._max_event_bytes = max_event_bytes
        self._segmenter = None
        self._turn: _Turn | None = None
        self._heard: dict[str, str] = {}  # user item id -> what the recogniser heard
        self.response: ResponseRun | None = None
        self._response_lock = asyncio.Lock()  # one response.create at a time past the checks
        self._recognitions: dict[str, asyncio.Future] = {}  # user item id -> transcript
        self._response_task: asyncio.Task | None = None
        self._tasks: set[asyncio.Task] = set()
        self._rate_limits = RateLimiter()
        self._previous_input_tokens = 0
        self._context_epoch = 0  # bumped on delete/truncate: the cached prefix is gone
        self._previous_epoch = -1
        self._closed = False
        self._handlers = {
            "session.update": self._session_update,
            "input_audio_buffer.append": self._append,
            "input_audio_buffer.commit": self._commit,
            "input_audio_buffer.clear": self._clear,
            "conversation.item.create": self._item_create,
            "conversation.item.delete": self._item_delete,
            "conversation.item.truncate": self._item_truncate,
            "conversation.item.retrieve": self._item_retrieve,  # GA (protocol.ga marks it)
            "response.create": self._response_create,
            "response.cancel": self._response_cancel,
        }

    # -- lifecycle ------------------------------------------------------------------
    async def start(self) -> None:
        """Announce the session (``session.created``, then ``conversation.created``)."""
        self._configure_vad()
        await self.emit({"type": "session.created", "session": self.session})
        await self.emit(
            {
                "type": "conversation.created",
                "conversation": {"id": new_id("conv"), "object": "realtime.conversation"},
            }
        )

    async def close(self) -> None:
        self._closed = True
        tasks = [t for t in (self._response_task, *self._tasks) if t is not None and not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._scheduler is not None:
            self._scheduler.forget(self)
        # bound methods: the session's one reference cycle (freed now, not at the next GC)
        self._handlers = {}
        release_memory_soon()  # a closed session's memory goes back to the OS

    @staticmethod
    def _wire(event: dict[str, Any]) -> dict[str, Any]:
        """The event as the protocol models write it: they own the wire shape (e.g. every
        ``input_audio`` part carries ``transcript``, null until transcribed: decision D13)."""
        event.setdefault("event_id", new_id("event"))
        return parse_server_event(event).to_dict()

    async def emit(self, event: dict[str, Any]) -> None:
        event = self._wire(event)
        self.conversation.apply(event)
        if not self._closed:
            await self._send(event)

    async def _emit_out_of_band(self, event: dict[str, Any]) -> None:
        """Events of a ``commit: false`` response: sent, but kept out of the conversation."""
        event = self._wire(event)
        if not self._closed:
            await self._send(event)

    async def run_blocking(self, fn: Callable[..., Any], *args: Any, light: bool = False) -> Any:
        """``fn(*args)`` in the shared inference pool, scheduled fairly among sessions
        (``light``: a sub-millisecond call on the latency path, see engine/scheduler.py)."""
        if self._scheduler is None:
            self._scheduler = default_scheduler()
        return await self._scheduler.run(self, fn, *args, light=light)

    # -- dispatch -------------------------------------------------------------------
    async def handle(self, raw: str | bytes | dict[str, Any]) -> None:
        """Handle one client event; errors become ``error`` events, never exceptions."""
        event_id = None
        try:
            kwargs = {} if self._max_event_bytes is None else {"max_bytes": self._max_event_bytes}
            event = parse_client_event(raw, **kwargs)
            data = event.to_dict()
            event_id = data.get("event_id")
            handler = self._handlers.get(data["type"])
            if handler is None:
                raise ProtocolError(
                    f"type: unknown client event type {data['type']!r}; "
                    f"supported: {', '.join(self._handlers)}",
                    code="invalid_value",
                    param="type",
                )
            await handler(data, event)
        except ProtocolError as err:
            if err.event_id is None:
                err.event_id = event_id
            await self.emit(err.to_event())
        except Exception as exc:  # a bug of ours must not end the user's session
            log.exception("engine failed on a client event")
            await self.emit(self._internal_error(exc, event_id))

    @staticmethod
    def _internal_error(exc: Exception, event_id: str | None) -> dict[str, Any]:
        # (the spec's error has no nulls: absent fields are left out)
        return ProtocolError(
            f"The local engine failed to handle this event: {type(exc).__name__}: {exc}",
            code="internal_error",
            event_id=event_id,
            type="server_error",
        ).to_event()

    # -- session.update ---------------------------------------------------------------
    async def _session_update(self, data: dict[str, Any], _event: Any = None) -> None:
        before = self.session
        merged = merge_session(before, data.get("session") or {})
        await self._check_turn_model(merged)
        self.session = merged
        if self.session["input_audio_format"] != before["input_audio_format"]:
            self.input.set_format(self.session["input_audio_format"])
        if (
            self.session["turn_detection"] != before["turn_detection"]
            or self.session["input_audio_format"] != before["input_audio_format"]
        ):
            self._configure_vad()
        await self.emit({"type": "session.updated", "session": self.session})

    async def _check_turn_model(self, session: dict[str, Any]) -> None:
        """semantic_vad needs the end-of-turn model: load it now (in the executor) or refuse
        the update naming the package to install. Never a silent fall-back to a silence wait."""
        td = session.get("turn_detection") or {}
        if td.get("type") != "semantic_vad" or self.speech is None:
            return
        try:
            await self.run_blocking(self.speech.load_turn_model)
        except Exception as exc:  # SpeechModelsUnavailable, or a broken model file
            raise ProtocolError(
                f"session.turn_detection.type: semantic_vad is unavailable: {exc}",
                code="invalid_value",
                param="session.turn_detection.type",
            ) from None

    def _configure_vad(self) -> None:
        self._turn = None
        if not turn_detection_enabled(self.session) or self.speech is None:
            self._segmenter = None
            return
        self._segmenter = self.speech.new_segmenter(
            **vad_parameters(self.session["turn_detection"]),
            sample_rate_in=self.input.rate,
            timeline_start_ms=self.input.end_ms,
        )

    # -- input audio ------------------------------------------------------------------
    async def _append(self, data: dict[str, Any], _event: Any = None) -> None:
        encoded = b64decode_audio(data.get("audio", ""), param="audio")
        if len(encoded) > MAX_APPEND_AUDIO_BYTES:
            raise ProtocolError(
                f"audio: one append may carry at most {MAX_APPEND_AUDIO_BYTES // 2**20} MiB of "
                f"audio, got {len(encoded) / 2**20:.1f} MiB; send it in smaller appends",
                code="payload_too_large",
                param="audio",
            )
        await self._check_buffer_room(len(encoded), data.get("event_id"))
        pcm = self.input.append(encoded)
        self.conversation.apply_client(data)
        if self._segmenter is None:
            return
        # the VAD on a small append is light (barge-in path); a huge append is heavy work
        light = len(pcm) <= 2 * self.input.rate
        ms_per_byte = 1000.0 / (2 * self.input.rate)  # PCM16 at the input's rate
        heard_to = self.input.end_ms - len(pcm) * ms_per_byte
        for piece in self._vad_pieces(pcm):
            events = await self.run_blocking(self._segmenter.feed, piece, light=light)
            heard_to += len(piece) * ms_per_byte
            for i, vad_event in enumerate(events):
                if vad_event.kind == "started":
                    await self._speech_started(vad_event.audio_start_ms)
                elif (
                    vad_event.confirm_words
                    and not events[i + 1 :]  # the last event of its piece: take-back-able
                    and await self._words_trail_off(vad_event.speech_end_ms, heard_to)
                ):
                    self._segmenter.hold()  # "My favourite colour is": the turn goes on
                else:
                    await self._speech_stopped(vad_event.audio_end_ms, vad_event.speech_end_ms)
            await self._maybe_transcribe_early(heard_to)
        if self._turn is None:
            self.input.forget_before(self.input.end_ms - IDLE_AUDIO_KEPT_MS)

    async def _check_buffer_room(self, nbytes: int, event_id: str | None) -> None:
        """``max_input_buffer_ms``: without a turn in progress the append is refused; a
        server-VAD turn that reaches it is committed there (the append starts the next)."""
        full = self.limits.input_buffer_full(
            self.input.duration_ms, duration_ms(nbytes, self.input.format)
        )
        if full is None:
            return
        if self._turn is None or self._segmenter is None:
            raise full
        full.message = (
            "audio: the turn in progress reached this session's cap of input audio; "
            "it was committed there"
        )
        full.event_id = event_id
        await self.emit(full.to_event())
        self._segmenter.reset()
        end = int(self.input.end_ms)
        await self._speech_stopped(end, end)

    async def _speech_started(self, audio_start_ms: int) -> None:
        self._turn = _Turn(new_id("item"), audio_start_ms)
        await self.emit(
            {
                "type": "input_audio_buffer.speech_started",
                "audio_start_ms": audio_start_ms,
                "item_id": self._turn.item_id,
            }
        )
        if self.response is not None:  # barge-in
            self.response.cancel("turn_detected")

    def _vad_pieces(self, pcm: bytes) -> list[bytes]:
        """The append cut into the pieces the segmenter takes at once (semantic_vad: at
        most ``feed_ms``, so a turn end it judged can still be taken back)."""
        if self._segmenter.feed_ms is None:
            return [pcm]
        step = 2 * (self.input.rate * self._segmenter.feed_ms // 1000)
        return [pcm[i : i + step] for i in range(0, len(pcm), step)] or [pcm]

    async def _maybe_transcribe_early(self, heard_to_ms: float) -> None:
        """Start recognising the turn as soon as the silence that may end it begins."""
        turn, segmenter = self._turn, self._segmenter
        if turn is None or segmenter is None:
            return
        end = segmenter.pending_speech_end_ms
        if end is None or (turn.early is not None and turn.early[0] == end):
            return
        self._transcribe_early(turn, end, heard_to_ms)

    def _transcribe_early(self, turn: _Turn, speech_end_ms: int, heard_to_ms: float) -> None:
        # everything the VAD has heard, not just up to the first silent frame: that frame
        # starts where the VAD's probability fell, often inside the last word's tail
        pcm = self.input.slice(turn.start_ms, heard_to_ms)
        if turn.early is not None:
            turn.early[1].cancel()  # the user went on: the last guess is dropped unseen
        turn.early = (speech_end_ms, asyncio.ensure_future(self._recognise(pcm, self.input.rate)))

    async def _words_trail_off(self, speech_end_ms: int, heard_to_ms: float) -> bool:
        """semantic_vad judged the turn finished from its sound: do its words agree? Reads
        the speculative transcript of the pause (started at its first silent frame; the
        reply would wait for it anyway)."""
        turn = self._turn
        if turn is None:
            return False
        if turn.early is None or turn.early[0] != speech_end_ms:
            self._transcribe_early(turn, speech_end_ms, heard_to_ms)
        try:
            heard = await asyncio.shield(turn.early[1])
        except Exception:  # the turn's own recognition reports it; here: no evidence
            return False
        return trails_off(heard)

    async def _speech_stopped(self, audio_end_ms: int, speech_end_ms: int) -> None:
        turn = self._turn
        if turn is None:
            return
        self._turn = None
        await self.emit(
            {
                "type": "input_audio_buffer.speech_stopped",
                "audio_end_ms": audio_end_ms,
                "item_id": turn.item_id,
            }
        )
        pcm = self.input.take(turn.start_ms, audio_end_ms)
        early = None
        if turn.early is not None:
            if turn.early[0] == speech_end_ms:
                early = turn.early[1]
            else:
                turn.early[1].cancel()  # a guess at an earlier pause: dropped unseen
        await self._commit_audio(turn.item_id, pcm, early)
        self._track(self._respond_to_turn())

    async def _respond_to_turn(self) -> None:
        """Server VAD answers every turn by itself, as the service does. A response still
        closing (cancelled by this turn's speech_started) is let finish first."""
        try:
            await self._start_response({}, wait_for_active=True)
        except ProtocolError as err:  # e.g. the client started a response meanwhile
            await self.emit(err.to_event())
        except Exception as exc:  # never silent: the client is told, the session goes on
            log.exception("engine failed to answer a spoken turn")
            await self.emit(self._internal_error(exc, None))

    async def _commit(self, data: dict[str, Any], _event: Any = None) -> None:
        self.input.check_committable()
        item_id = self._turn.item_id if self._turn else new_id("item")
        self._turn = None
        if self._segmenter is not None:
            self._segmenter.reset()
        await self._commit_audio(item_id, self.input.take(), None)

    async def _commit_audio(self, item_id: str, pcm: bytes, early: asyncio.Future | None) -> None:
        """``committed`` + the user item; recognition goes on in the background."""
        previous = self._last_item_id()
        await self.emit(
            {
                "type": "input_audio_buffer.committed",
                "previous_item_id": previous,
                "item_id": item_id,
            }
        )
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "status": "completed",
            "role": "user",
            "content": [{"type": "input_audio"}],
        }
        await self.emit(
            {"type": "conversation.item.created", "previous_item_id": previous, "item": item}
        )
        self._start_recognition(
            item_id, 0, early or asyncio.ensure_future(self._recognise(pcm, self.input.rate))
        )

    def _start_recognition(
        self, item_id: str, content_index: int, recognised: asyncio.Future
    ) -> None:
        self._recognitions[item_id] = recognised
        self._track(self._finish_recognition(item_id, content_index, recognised))

    async def _await_recognitions(self, items: list[Any]) -> None:
        """A response reads what was heard: wait for the items still being recognised."""
        pending = [self._recognitions[i.id] for i in items if i.id in self._recognitions]
        await asyncio.gather(*pending, return_exceptions=True)

    async def _clear(self, data: dict[str, Any], _event: Any = None) -> None:
        self.input.clear()
        self._turn = None
        if self._segmenter is not None:
            self._segmenter.reset()
        await self.emit({"type": "input_audio_buffer.cleared"})

    # -- recognition ----------------------------------------------------------------
    async def _recognise(self, pcm: bytes, rate: int) -> str:
        if self.speech is None:
            raise RuntimeError(
                "speech recognition is not available (install realtime-widget[local])"
            )
        reduction = self.session.get(
            "input_audio_noise_reduction"
        )  # GA audio.input.noise_reduction
        return await self.run_blocking(
            self._hear, pcm, rate, reduction["type"] if reduction else None
        )

    def _hear(self, pcm: bytes, rate: int, noise_reduction: str | None) -> str:
        """What the recogniser hears (in the executor): the turn's audio, denoised when the
        session asks for it. The item keeps the audio as the client sent it."""
        if noise_reduction is not None:
            pcm = reduce_noise(pcm, rate, noise_reduction)
        return self.speech.transcribe(pcm, rate)

    async def _finish_recognition(
        self, item_id: str, content_index: int, recognised: asyncio.Future
    ) -> str | None:
        """Wait for the transcript; report it if transcription is on. None if it failed."""
        try:
            heard = (await recognised).strip()
        except Exception as exc:
            log.warning("transcription failed: %s", exc)
            if self.session.get("input_audio_transcription"):
                await self.emit(
                    {
                        "type": "conversation.item.input_audio_transcription.failed",
                        "item_id": item_id,
                        "content_index": content_index,
                        "error": {
                            "type": "transcription_error",
                            "code": "asr_failed",
                            "message": str(exc),
                        },
                    }
                )
            return None
        finally:
            self._recognitions.pop(item_id, None)
        self._heard[item_id] = heard
        item = self.conversation.item(item_id)
        if self.session.get("input_audio_transcription") and item is not None:
            part = item.content[content_index] if content_index < len(item.content) else None
            seconds = part.audio_ms / 1000.0 if part is not None and part.audio else 0.0
            await self.emit(
                {
                    "type": "conversation.item.input_audio_transcription.completed",
                    "item_id": item_id,
                    "content_index": content_index,
                    "transcript": heard,
                    # GA clients (the openai SDK's models) require usage;
                    # the service bills by duration
                    "usage": {"type": "duration", "seconds": round(seconds, 3)},
                }
            )
        return heard

    # -- items ------------------------------------------------------------------------
    def _last_item_id(self) -> str | None:
        items = self.conversation.items
        return items[-1].id if items else None

    async def _create_item(self, raw_item: Any, previous_item_id: Any, param: str) -> str:
        """Validate, announce and (for audio) recognise one client item; returns its id."""
        wanted = raw_item.get("id") if isinstance(raw_item, dict) else None
        if wanted is not None and self.conversation.item(wanted) is not None:
            raise ProtocolError(
                f"{param}.id: an item with id {wanted!r} already exists",
                code="invalid_value",
                param=f"{param}.id",
            )
        accepted = accept_request_item(raw_item, wanted or new_id("item"), param)
        self._check_room(accepted, param)
        if previous_item_id is not None and self.conversation.item(previous_item_id) is None:
            raise ProtocolError(
                f"previous_item_id: no item with id {previous_item_id!r} in the conversation",
                code="item_not_found",
                param="previous_item_id",
            )
        previous = previous_item_id if previous_item_id is not None else self._last_item_id()
        item_id = accepted.item["id"]
        await self.emit(
            {
                "type": "conversation.item.created",
                "previous_item_id": previous,
                "item": accepted.item,
            }
        )
        for index, encoded in accepted.audio.items():
            pcm = self._attach_audio(item_id, index, encoded)
            self._start_recognition(
                item_id, index, asyncio.ensure_future(self._recognise(pcm, self.input.rate))
            )
        return item_id

    def _check_room(self, accepted: Any, param: str, *, joins: bool = True) -> None:
        """``max_item_bytes``, and for an item joining the conversation its caps too."""
        size = wire_item_bytes(accepted.item, accepted.audio)
        self.limits.check_item(size, param)
        if joins:
            items = self.conversation.items
            text = size - sum(len(a) for a in accepted.audio.values())
            self.limits.check_conversation(len(items), conversation_text_bytes(items), text, param)

    def _decode_input_audio(self, encoded: bytes) -> bytes:
        """Audio a client put inside an item -> PCM16 at the input format's rate (checked
        like buffer appends, without touching the buffer)."""
        return InputAudioBuffer(self.session["input_audio_format"]).append(encoded)

    def _attach_audio(self, item_id: str, index: int, encoded: bytes) -> bytes:
        """Keep audio a client sent inside an item (the service does not echo it back)."""
        pcm = self._decode_input_audio(encoded)
        part = self.conversation.item(item_id).content[index]
        part.set_audio_format(normalize_format(self.session["input_audio_format"]))
        part.audio.extend(pcm)
        self.conversation.bound_audio()
        return pcm

    async def _item_create(self, data: dict[str, Any], _event: Any = None) -> None:
        await self._create_item(data.get("item"), data.get("previous_item_id"), "item")

    def _existing(self, item_id: Any) -> Any:
        item = self.conversation.item(item_id) if isinstance(item_id, str) else None
        if item is None:
            raise ProtocolError(
                f"item_id: no item with id {item_id!r} in the conversation",
                code="item_not_found",
                param="item_id",
            )
        return item

    async def _item_delete(self, data: dict[str, Any], _event: Any = None) -> None:
        item = self._existing(data.get("item_id"))
        self._heard.pop(item.id, None)
        self._context_epoch += 1
        await self.emit({"type": "conversation.item.deleted", "item_id": item.id})

    async def _item_retrieve(self, data: dict[str, Any], _event: Any = None) -> None:
        """GA ``conversation.item.retrieve``: the item as the conversation holds it, with
        its audio. Not a preview event: ``server_preview_to_ga`` passes it on to GA clients."""
        item = self._existing(data.get("item_id"))
        await self.emit({"type": "conversation.item.retrieved", "item": retrieved_item(item)})

    async def _item_truncate(self, data: dict[str, Any], _event: Any = None) -> None:
        item = self._existing(data.get("item_id"))
        index = data.get("content_index", data.get("index", 0))
        end_ms = data.get("audio_end_ms")
        if item.type != "message" or item.role != "assistant":
            raise ProtocolError(
                "item_id: only assistant messages can be truncated",
                code="invalid_value",
                param="item_id",
            )
        if (
            not isinstance(index, int)
            or not 0 <= index < len(item.content)
            or not item.content[index].is_audio
        ):
            raise ProtocolError(
                f"content_index: item has no audio part at index {index!r}",
                code="invalid_value",
                param="content_index",
            )
        part = item.content[index]
        if not isinstance(end_ms, int) or isinstance(end_ms, bool) or end_ms < 0:
            raise ProtocolError(
                "audio_end_ms: expected a non-negative integer",
                code="invalid_type",
                param="audio_end_ms",
            )
        if end_ms > part.audio_ms:
            raise ProtocolError(
                f"audio_end_ms: {end_ms} ms is beyond the item's audio ({part.audio_ms:.0f} ms)",
                code="invalid_value",
                param="audio_end_ms",
            )
        self._context_epoch += 1
        await self.emit(
            {
                "type": "conversation.item.truncated",
                "item_id": item.id,
                "content_index": index,
                "index": index,
                "audio_end_ms": end_ms,
            }
        )

    # -- responses --------------------------------------------------------------------
    async def _response_create(self, data: dict[str, Any], event: Any = None) -> None:
        options = dict(data.get("response") or {})
        # The spec defaults cancel_previous to true, the service errors instead: honour the
        # field only when the client really sent it (docs/protocol-decisions.md).
        sent = getattr(getattr(event, "response", None), "model_fields_set", set())
        if "cancel_previous" not in sent:
            options.pop("cancel_previous", None)
        await self._start_response(options)

    async def _response_cancel(self, data: dict[str, Any], _event: Any = None) -> None:
        if self.response is None:
            raise ProtocolError(
                "response.cancel: there is no active response to cancel",
                code="response_cancel_not_active",
                param=None,
            )
        wanted = data.get("response_id")
        if wanted is not None and wanted != self.response.id:
            raise ProtocolError(
                f"response_id: {wanted!r} is not the active response",
                code="invalid_value",
                param="response_id",
            )
        self.response.cancel("client_cancelled")
        await self._wait_response()

    async def _wait_response(self) -> None:
        task = self._response_task
        if task is not None:
            await asyncio.shield(task)

    def _params(self, options: dict[str, Any]) -> ResponseParams:
        s = self.session
        tools = (
            check_tools(options["tools"], "response.tools") if "tools" in options else s["tools"]
        )
        max_tokens = check_max_tokens(
            options.get("max_output_tokens", s["max_response_output_tokens"]),
            "response.max_output_tokens",
        )
        requested = None if max_tokens == "inf" else max_tokens
        allowed = self.limits.reply_tokens(requested)
        return ResponseParams(
            modalities=check_modalities(options["modalities"], "response.modalities")
            if "modalities" in options
            else s["modalities"],
            instructions=options.get("instructions", s["instructions"]),
            voice=check_voice(options["voice"], "response.voice")
            if "voice" in options
            else s["voice"],
            output_audio_format=check_audio_format(
                options["output_audio_format"], "response.output_audio_format"
            )
            if "output_audio_format" in options
            else s["output_audio_format"],
            temperature=check_temperature(options["temperature"], "response.temperature")
            if "temperature" in options
            else s["temperature"],
            max_output_tokens=allowed,
            capped=allowed
            != requested,  # the session's max_reply_tokens, not the client, set the limit
            tools=tools,
            tool_choice=check_tool_choice(options["tool_choice"], tools, "response.tool_choice")
            if "tool_choice" in options
            else s["tool_choice"],
            speed=s.get("speed", 1.0),
            in_conversation=options.get("commit", True) is not False,
            metadata=options.get("metadata") or {},
        )

    async def _start_response(
        self, options: dict[str, Any], *, wait_for_active: bool = False
    ) -> None:
        params = self._params(options)  # validate everything before touching state
        async with self._response_lock:
            while wait_for_active and self.response is not None:
                await self._wait_response()  # it finishes without the lock
            await self._start_response_locked(options, params)

    async def _start_response_locked(self, options: dict[str, Any], params: ResponseParams) -> None:
        if self.response is not None:
            if options.get("cancel_previous") is True:
                self.response.cancel("client_cancelled")
                await self._wait_response()
            else:
                raise ProtocolError(
                    f"Conversation already has an active response ({self.response.id}); "
                    "cancel it first or send cancel_previous: true",
                    code="conversation_already_has_active_response",
                    param=None,
                )
        context = await self._context_items(options, params)
        await self._await_recognitions(context)
        messages = chat_messages(params.instructions, context, self._heard)
        input_tokens = self._count_input(params.instructions, context)
        cached = self._previous_input_tokens if self._previous_epoch == self._context_epoch else 0
        run = ResponseRun(
            params=params,
            messages=messages,
            input_tokens=input_tokens,
            cached_tokens=min(cached, input_tokens.total),
            brain=self.brain,
            synthesize=self.speech.synthesize if self.speech is not None else None,
            run_blocking=self.run_blocking,
            emit=self.emit if params.in_conversation else self._emit_out_of_band,
            last_item_id=self._last_item_id,
        )
        self.response = run
        self._response_task = asyncio.ensure_future(self._run_response(run))

    async def _context_items(self, options: dict[str, Any], params: ResponseParams) -> list[Any]:
        """The items this response reads: the conversation, or ``input_items`` instead of it,
        plus ``append_input_items`` (added to the conversation unless out-of-band)."""
        if options.get("input_items") is not None:
            context = await self._scratch_items(options["input_items"], "response.input_items")
        else:
            context = list(self.conversation.items)
        appended = options.get("append_input_items") or []
        if params.in_conversation and options.get("input_items") is None:
            for i, raw in enumerate(appended):
                await self._create_item(raw, None, f"response.append_input_items[{i}]")
            return list(self.conversation.items)
        return context + await self._scratch_items(appended, "response.append_input_items")

    async def _scratch_items(self, raw_items: list[Any], param: str) -> list[Any]:
        """Items used as context only: validated, recognised, never added to the conversation.
        ``{"type": "message", "id": ...}`` refers to an item already in the conversation."""
        scratch = Conversation()
        items: list[Any] = []
        for i, raw in enumerate(raw_items):
            where = f"{param}[{i}]"
            if isinstance(raw, dict) and set(raw) <= {"type", "id"} and raw.get("id"):
                referenced = self.conversation.item(raw["id"])
                if referenced is None:
                    raise ProtocolError(
                        f"{where}.id: no item with id {raw['id']!r}",
                        code="item_not_found",
                        param=f"{where}.id",
                    )
                items.append(referenced)
                continue
            accepted = accept_request_item(
                raw, (raw.get("id") if isinstance(raw, dict) else None) or new_id("item"), where
            )
            self._check_room(accepted, where, joins=False)
            scratch.apply({"type": "conversation.item.created", "item": accepted.item})
            items.append(scratch.item(accepted.item["id"]))
            for _, encoded in accepted.audio.items():
                pcm = self._decode_input_audio(encoded)
                self._heard[accepted.item["id"]] = await self._recognise(pcm, self.input.rate)
        return items

    def _count_input(self, instructions: str, items: list[Any]) -> TokenCount:
        count = TokenCount(text=text_tokens(instructions))
        for item in items:
            if item.type == "message":
                for part in item.content:
                    if (
                        part.is_audio and part.audio_nbytes
                    ):  # audio released past max_kept_audio_ms still counts
                        count = count + TokenCount(
                            audio=audio_tokens(part.audio_ms, assistant=item.role == "assistant")
                        )
                    else:
                        count = count + TokenCount(
                            text=text_tokens(part.value or self._heard.get(item.id))
                        )
            else:
                count = count + TokenCount(
                    text=text_tokens(
                        (item.arguments or "") + (item.output or "") + (item.name or "")
                    )
                )
        return count

    async def _run_response(self, run: ResponseRun) -> None:
        try:
            await run.run(self._response_finished)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("response %s failed", run.id)
        finally:
            if self.response is run:
                self.response = None

    async def _response_finished(
        self, run: ResponseRun, usage: dict[str, Any]
    ) -> list[dict[str, Any]]:
        if self.response is run:
            self.response = None  # a client that reacts to response.done may create the next one
        if run.params.in_conversation:
            self._previous_input_tokens = usage["input_tokens"]
            self._previous_epoch = self._context_epoch
        limits = self._rate_limits.record(time.monotonic(), usage["total_tokens"])
        after = [{"type": "rate_limits.updated", "rate_limits": limits}]
        if run.params.capped and run.status == "incomplete":
            after.insert(0, self.limits.reply_too_long(run.id).to_event())
        return after

    def _track(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
