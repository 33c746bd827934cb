"""One response of the local engine, streamed in the hosted service's event order.

``response.created`` -> per output item: ``response.output_item.added`` ->
``conversation.item.created`` -> ``response.content_part.added`` -> text / audio /
transcript deltas -> their ``.done`` events -> ``response.content_part.done`` ->
``response.output_item.done``; then ``response.done`` (with ``usage``) ->
``rate_limits.updated``.

A cancelled response (client ``response.cancel`` or barge-in) still closes every open
item (status ``incomplete``) before ``response.done``, so every client sees a complete
lifecycle for every item it was told about.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from ..audio import b64encode_audio, bytes_for_ms, duration_ms, from_pcm16, sample_rate
from .brain import Brain, BrainError, BrainRequest, TextDelta, ToolCallDelta
from .ids import new_id
from .usage import TokenCount, audio_tokens, text_tokens, usage_payload

log = logging.getLogger(__name__)

Emit = Callable[[dict[str, Any]], Awaitable[None]]

AUDIO_DELTA_MS = 100  # size of each response.audio.delta: small enough for smooth playback
# Clause boundaries where speech synthesis may start: the first clause goes out early.
_CLAUSE_END = re.compile(r"([.!?;:]+[\"')\]]*\s+|,\s+)")
# The first audio waits for the first clause's synthesis, which grows with its length
# (Piper on 2 cores: "You said:" 70 ms, the whole echoed sentence 250 ms), so the first
# clause ends at the first clause mark after a word or two.
_FIRST_CLAUSE_MIN_CHARS = 8
_CLAUSE_MIN_CHARS = 40
# Longest text synthesised at once: text without punctuation is cut at a space (or here),
# so audio starts after one chunk and synthesis memory stays bounded (120 KB of
# unpunctuated text was one clause: no audio for minutes, +640 MB).
MAX_CLAUSE_CHARS = 240


@dataclass
class ResponseParams:
    """The effective settings of one response (session settings + response.create overrides)."""

    modalities: list[str]
    instructions: str
    voice: str
    output_audio_format: str
    temperature: float
    max_output_tokens: int | None
    tools: list[dict[str, Any]]
    tool_choice: str | dict[str, Any]
    speed: float = 1.0  # GA audio.output.speed: the speaking rate
    in_conversation: bool = (
        True  # False: out-of-band (``commit: false``), nothing joins the conversation
    )
    capped: bool = False  # max_output_tokens is the session's cap, not the client's request
    metadata: dict[str, Any] = field(default_factory=dict)


class _OutputLimit(Exception):
    """The reply reached ``max_output_tokens``."""


class _OpenItem:
    """Bookkeeping of the assistant item currently being streamed."""

    def __init__(self, item: dict[str, Any], output_index: int):
        self.item = item
        self.output_index = output_index
        self.text = ""
        self.audio_bytes = 0  # encoded bytes sent, in the output format
        self.part_open = False


class ResponseRun:
    """Runs one response as an asyncio task; ``cancel(reason)`` stops it cleanly."""

    def __init__(
        self,
        *,
        params: ResponseParams,
        messages: list[dict[str, Any]],
        input_tokens: TokenCount,
        cached_tokens: int,
        brain: Brain,
        synthesize: Callable[[str, str, int, float], Any] | None,
        run_blocking: Callable[..., Awaitable[Any]],
        emit: Emit,
        last_item_id: Callable[[], str | None],
    ):
        self.id = new_id("resp")
        self.params = params
        self.messages = messages
        self.input_tokens = input_tokens
        self.cached_tokens = cached_tokens
        self._brain = brain
        self._synthesize = synthesize  # (text, voice, rate, speed) -> iterator of PCM16 chunks
        self._run_blocking = run_blocking  # runs a blocking call off the event loop
        self._emit = emit
        self._last_item_id = last_item_id
        self.output: list[dict[str, Any]] = []
        self.output_tokens = TokenCount()
        self._open: _OpenItem | None = None
        self._calls: dict[int, _OpenItem] = {}
        self._status_details: dict[str, Any] | None = None
        self._generation: asyncio.Task | None = None
        self.status = "in_progress"
        self.first_audio_sent = asyncio.Event()

    # -- public -------------------------------------------------------------------
    def _response(self, *, usage: dict[str, Any] | None = None) -> dict[str, Any]:
        return {
            "object": "realtime.response",
            "id": self.id,
            "status": self.status,
            "status_details": self._status_details,
            "output": self.output,
            "usage": usage or _zero_usage(),
            "metadata": self.params.metadata or None,
        }

    async def run(
        self, finished: Callable[["ResponseRun", dict[str, Any]], Awaitable[list[dict[str, Any]]]]
    ) -> None:
        """Stream the whole response. ``finished(run, usage)`` is awaited just before
        ``response.done`` and returns the events to send right after it (rate limits).

        Invariant: once ``response.created`` is sent, ``response.done`` follows, whatever
        fails in between (status ``failed`` with the error in ``status_details``). Only
        the session closing (a cancellation nobody asked for) ends it without one: no
        client is left to tell."""
        await self._emit({"type": "response.created", "response": self._response()})
        usage = _zero_usage()
        after: list[dict[str, Any]] = []
        try:
            await self._stream()
            usage = usage_payload(self.input_tokens, self.output_tokens, self.cached_tokens)
            after = await finished(self, usage)
        except Exception as exc:  # a bug of ours: the response fails, the session goes on
            log.exception("response %s failed", self.id)
            self._fail(
                "the local engine failed while generating this response: "
                f"{type(exc).__name__}: {exc}"
            )
            try:
                await self._close_all("incomplete")
                after = await finished(self, usage)
            except Exception:
                log.exception("closing response %s failed", self.id)
        await self._emit({"type": "response.done", "response": self._response(usage=usage)})
        for event in after:
            await self._emit(event)

    def _fail(self, message: str) -> None:
        self.status = "failed"
        self._status_details = {
            "type": "failed",
            "error": {"type": "server_error", "code": "internal_error", "message": message},
        }

    async def _stream(self) -> None:
        """Generate, then close every open item with the response's final status."""
        self._generation = asyncio.ensure_future(self._generate())
        try:
            await self._generation
            self.status = "completed"
        except asyncio.CancelledError:
            if self._status_details is None:  # the whole session is closing, not a cancel
                raise
            self.status = "cancelled"
        except _OutputLimit:
            self.status = "incomplete"
            self._status_details = {"type": "incomplete", "reason": "max_output_tokens"}
        except BrainError as exc:
            self.status = "failed"
            self._status_details = {
                "type": "failed",
                "error": {"type": "server_error", "code": "brain_failed", "message": str(exc)},
            }
        await self._close_all("completed" if self.status == "completed" else "incomplete")

    def cancel(self, reason: str) -> None:
        """Stop generating; ``reason`` is ``client_cancelled`` or ``turn_detected``."""
        if self._status_details is None:
            self._status_details = {"type": "cancelled", "reason": reason}
        if self._generation is not None:
            self._generation.cancel()

    # -- generation -----------------------------------------------------------------
    async def _generate(self) -> None:
        request = BrainRequest(
            messages=self.messages,
            tools=self.params.tools,
            tool_choice=self.params.tool_choice,
            temperature=self.params.temperature,
            max_output_tokens=self.params.max_output_tokens,
        )
        pending = ""  # text not yet spoken
        async for piece in self._brain.reply(request):
            if isinstance(piece, TextDelta):
                if not piece.text:
                    continue
                if self._open is None:
                    await self._open_message()
                if not self._audio_out:  # text streams token by token
                    await self._say(piece.text)
                    continue
                # Speech is synthesised a clause at a time: buffer up to a clause end.
                pending += piece.text
                pending = await self._flush_clauses(pending, final=False)
            elif isinstance(piece, ToolCallDelta):
                if pending or self._open is not None:
                    await self._flush_clauses(pending, final=True)
                    pending = ""
                    await self._close_message("completed")
                await self._tool_call_delta(piece)
        if pending:
            await self._flush_clauses(pending, final=True)

    @property
    def _audio_out(self) -> bool:
        return "audio" in self.params.modalities and self._synthesize is not None

    async def _open_message(self) -> None:
        item = {
            "id": new_id("item"),
            "object": "realtime.item",
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        self._open = await self._add_item(item)
        part = (
            {"type": "audio", "transcript": ""} if self._audio_out else {"type": "text", "text": ""}
        )
        await self._emit(self._part_event("response.content_part.added", self._open, part))
        self._open.part_open = True

    async def _add_item(self, item: dict[str, Any]) -> _OpenItem:
        opened = _OpenItem(item, len(self.output))
        self.output.append(item)
        previous = self._last_item_id()  # before output_item.added puts the item itself last
        await self._emit(
            {
                "type": "response.output_item.added",
                "response_id": self.id,
                "output_index": opened.output_index,
                "item": dict(item),
            }
        )
        if self.params.in_conversation:
            await self._emit(
                {
                    "type": "conversation.item.created",
                    "previous_item_id": previous,
                    "item": dict(item),
                }
            )
        return opened

    def _part_event(self, kind: str, opened: _OpenItem, part: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": kind,
            "response_id": self.id,
            "item_id": opened.item["id"],
            "output_index": opened.output_index,
            "content_index": 0,
            "part": part,
        }

    def _ids(self, kind: str, opened: _OpenItem, **fields: Any) -> dict[str, Any]:
        return {
            "type": kind,
            "response_id": self.id,
            "item_id": opened.item["id"],
            "output_index": opened.output_index,
            "content_index": 0,
            **fields,
        }

    def _delta(self, kind: str, opened: _OpenItem, delta: str) -> dict[str, Any]:
        return self._ids(kind, opened, delta=delta)

    def _count_output(self, *, text: str = "", audio_ms: float = 0.0) -> None:
        self.output_tokens = self.output_tokens + TokenCount(
            text_tokens(text), audio_tokens(audio_ms, assistant=True)
        )
        limit = self.params.max_output_tokens
        if limit is not None and self.output_tokens.total >= limit:
            raise _OutputLimit()

    async def _flush_clauses(self, pending: str, *, final: bool) -> str:
        """Say every complete clause in ``pending``; return what is left unsaid."""
        assert self._open is not None
        while pending:
            cut = _clause_cut(pending, first=not self._open.text)
            if cut is None:
                if not final:
                    return pending
                cut = len(pending)
            clause, pending = pending[:cut], pending[cut:]
            await self._say(clause)
        return pending

    async def _say(self, clause: str) -> None:
        opened = self._open
        assert opened is not None
        limit = self.params.max_output_tokens
        if (
            limit is not None
        ):  # never send far beyond the limit: cut to the tokens left (4 bytes each)
            clause = clause[: max(1, (limit - self.output_tokens.total) * 4)]
        opened.text += clause
        if not self._audio_out:
            await self._emit(self._delta("response.text.delta", opened, clause))
            self._count_output(text=clause)
            return
        await self._emit(self._delta("response.audio_transcript.delta", opened, clause))
        self._count_output(text=clause)
        if clause.strip():
            await self._speak(opened, clause)

    async def _speak(self, opened: _OpenItem, clause: str) -> None:
        fmt = self.params.output_audio_format
        # The synthesiser resamples to the output format's rate itself (24 or 8 kHz).
        chunks = self._synthesize(
            clause.strip(), self.params.voice, sample_rate(fmt), self.params.speed
        )
        step = bytes_for_ms(AUDIO_DELTA_MS, fmt)
        carry = b""
        while True:
            pcm = await self._run_blocking(next, chunks, None)
            if pcm is None:
                break
            carry += from_pcm16(pcm, fmt)
            while len(carry) >= step:
                await self._send_audio(opened, carry[:step], fmt)
                carry = carry[step:]
        if carry:
            await self._send_audio(opened, carry, fmt)

    async def _send_audio(self, opened: _OpenItem, data: bytes, fmt: str) -> None:
        await self._emit(self._delta("response.audio.delta", opened, b64encode_audio(data)))
        opened.audio_bytes += len(data)
        self.first_audio_sent.set()
        self._count_output(audio_ms=duration_ms(len(data), fmt))

    async def _tool_call_delta(self, piece: ToolCallDelta) -> None:
        opened = self._calls.get(piece.index)
        if opened is None:
            for other in list(self._calls.values()):
                if other.item["status"] == "in_progress":
                    await self._close_call(other, "completed")
            item = {
                "id": new_id("item"),
                "object": "realtime.item",
                "type": "function_call",
                "status": "in_progress",
                "name": piece.name or "",
                "call_id": piece.call_id or new_id("call", 16),
                "arguments": "",
            }
            opened = self._calls[piece.index] = await self._add_item(item)
        if piece.arguments:
            opened.text += piece.arguments
            await self._emit(
                self._call_event(
                    "response.function_call_arguments.delta", opened, delta=piece.arguments
                )
            )
            self._count_output(text=piece.arguments)

    # -- closing --------------------------------------------------------------------
    async def _close_all(self, status: str) -> None:
        if self._open is not None:
            await self._close_message(status)
        for opened in self._calls.values():
            if opened.item["status"] == "in_progress":
                await self._close_call(opened, status)

    async def _close_message(self, status: str) -> None:
        opened, self._open = self._open, None
        if opened is None:
            return
        if opened.part_open:
            if self._audio_out:
                await self._emit(self._ids("response.audio.done", opened))
                await self._emit(
                    self._ids("response.audio_transcript.done", opened, transcript=opened.text)
                )
                part = {"type": "audio", "transcript": opened.text}
            else:
                # The spec names the field ``value``, the service ``text``: send both.
                await self._emit(
                    self._ids("response.text.done", opened, text=opened.text, value=opened.text)
                )
                part = {"type": "text", "text": opened.text}
            await self._emit(self._part_event("response.content_part.done", opened, part))
            opened.item["content"] = [part]
        await self._item_done(opened, status)

    def _call_event(self, kind: str, opened: _OpenItem, **fields: Any) -> dict[str, Any]:
        return {
            "type": kind,
            "response_id": self.id,
            "item_id": opened.item["id"],
            "output_index": opened.output_index,
            "call_id": opened.item["call_id"],
            **fields,
        }

    async def _item_done(self, opened: _OpenItem, status: str) -> None:
        opened.item["status"] = status
        await self._emit(
            {
                "type": "response.output_item.done",
                "response_id": self.id,
                "output_index": opened.output_index,
                "item": dict(opened.item),
            }
        )

    async def _close_call(self, opened: _OpenItem, status: str) -> None:
        opened.item["arguments"] = opened.text
        await self._emit(
            self._call_event(
                "response.function_call_arguments.done",
                opened,
                name=opened.item["name"],
                arguments=opened.text,
            )
        )
        await self._item_done(opened, status)


def _clause_cut(text: str, *, first: bool) -> int | None:
    """Index just past the first clause of ``text`` long enough to synthesise, if any;
    at most ``MAX_CLAUSE_CHARS`` in (at the last space before it when there is one)."""
    minimum = _FIRST_CLAUSE_MIN_CHARS if first else _CLAUSE_MIN_CHARS
    for match in _CLAUSE_END.finditer(text, 0, MAX_CLAUSE_CHARS + 8):
        if match.end() > MAX_CLAUSE_CHARS:
            break
        if match.end() >= minimum or match.group(1).strip()[0] in ".!?":
            return match.end()
    if len(text) <= MAX_CLAUSE_CHARS:
        return None
    space = text.rfind(" ", MAX_CLAUSE_CHARS // 2, MAX_CLAUSE_CHARS)
    return space + 1 if space >= 0 else MAX_CLAUSE_CHARS


def _zero_usage() -> dict[str, Any]:
    return usage_payload(TokenCount(), TokenCount(), 0)
