"""The records a :class:`~realtime_widget.conversation.Conversation` keeps.

``ContentPart``, ``Item`` and ``Response`` are plain dataclasses: the conversation
mutates them as events arrive, callers read them. Audio is stored as PCM16
little-endian mono bytes at the rate of the format it arrived in (24 kHz for
``pcm16``, 8 kHz for G.711, which is decoded to PCM16 without resampling).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from .. import audio

__all__ = [
    "ContentPart",
    "Item",
    "Response",
    "cut_transcript",
    "pcm16_bytes_for_ms",
    "pcm16_ms",
]


def pcm16_ms(nbytes: int, rate: int | None) -> float:
    """Duration in ms of ``nbytes`` of PCM16 mono at ``rate`` Hz (0.0 without a rate)."""
    if not rate:
        return 0.0
    return (nbytes // 2) * 1000.0 / rate


def pcm16_bytes_for_ms(ms: float, rate: int) -> int:
    """Bytes of PCM16 mono at ``rate`` Hz covering ``ms`` milliseconds, in whole samples
    (rounded down, but a float within 1e-6 of a whole sample counts as that sample;
    exact for whole milliseconds at 8, 16, 24 and 48 kHz)."""
    if ms <= 0:
        return 0
    if isinstance(ms, int):
        return ms * rate // 1000 * 2
    exact = ms * rate / 1000
    nearest = round(exact)
    return (nearest if abs(exact - nearest) < 1e-6 else math.floor(exact)) * 2


_PARTIAL_WORD = re.compile(r"\S*$")


def cut_transcript(text: str, fraction: float) -> str:
    """Keep the part of ``text`` that was heard when ``fraction`` of its audio was played.

    The cut is proportional in characters (speech is assumed to run at a steady
    rate), rounded *down* to a word boundary: a word cut in the middle was not
    heard completely and is dropped. Trailing whitespace is removed.
    """
    if fraction >= 1.0:
        return text
    if fraction <= 0.0 or not text:
        return ""
    keep = math.floor(len(text) * fraction)
    head = text[:keep]
    if keep < len(text) and not text[keep].isspace():
        head = head[: _PARTIAL_WORD.search(head).start()]  # drop the partial word
    return head.rstrip()


@dataclass
class ContentPart:
    """One content part of a message item.

    ``type`` is ``input_text``, ``input_audio``, ``text`` or ``audio``. ``text`` is set
    for text parts, ``transcript`` for audio parts (``None`` while unknown). ``audio``
    holds PCM16 bytes at ``sample_rate`` (the rate of ``format``, the wire format the
    audio came in). ``unkept_nbytes``: PCM16 bytes counted but not held, after ``audio``
    (a conversation made with ``keep_output_audio=False``, whose owner stores the audio
    elsewhere); they count in :attr:`audio_ms`.
    """

    type: str
    text: str | None = None
    transcript: str | None = None
    audio: bytearray = field(default_factory=bytearray, repr=False)
    format: str | None = None
    sample_rate: int | None = None
    transcription_error: dict[str, Any] | None = None
    unkept_nbytes: int = 0

    @property
    def audio_nbytes(self) -> int:
        """PCM16 bytes of the part's audio, held or only counted."""
        return len(self.audio) + self.unkept_nbytes

    @property
    def audio_ms(self) -> float:
        return pcm16_ms(self.audio_nbytes, self.sample_rate)

    def cut_audio(self, nbytes: int) -> None:
        """Keep the first ``nbytes`` of the audio (held or counted)."""
        del self.audio[nbytes:]
        self.unkept_nbytes = max(0, min(self.unkept_nbytes, nbytes - len(self.audio)))

    @property
    def is_audio(self) -> bool:
        return self.type in ("audio", "input_audio")

    @property
    def value(self) -> str | None:
        """The text of a text part, the transcript of an audio part."""
        return self.text if self.text is not None else self.transcript

    def set_audio_format(self, fmt: str) -> bool:
        """Fix the part's format on first audio; False if ``fmt`` differs from it."""
        if self.format is None or not self.audio_nbytes:
            self.format, self.sample_rate = fmt, audio.sample_rate(fmt)
            return True
        return self.format == fmt

    def to_request(self, role: str | None, *, include_audio: bool) -> dict[str, Any] | None:
        """Request-shaped content part for ``conversation.item.create`` (None if empty)."""
        if role == "assistant":
            # The service takes assistant content as "text" parts (the spec says
            # "input_text"); an audio reply is replayed as its transcript.
            value = self.value
            return {"type": "text", "text": value} if value else None
        if self.type == "input_audio":
            part: dict[str, Any] = {"type": "input_audio"}
            if include_audio and self.audio and self.format:
                part["audio"] = audio.b64encode_audio(
                    audio.from_pcm16(bytes(self.audio), self.format)
                )
            if self.transcript is not None:
                part["transcript"] = self.transcript
            return part if len(part) > 1 else None
        value = self.value
        return {"type": "input_text", "text": value} if value is not None else None


@dataclass
class Item:
    """One conversation item: a message, a function call or a function call output.

    ``previous_item_id`` always names the item before this one in the conversation's
    current order (``None`` for the first); the conversation keeps it up to date on
    insertions and deletions.
    """

    id: str
    type: str = "message"
    role: str | None = None
    status: str | None = None
    previous_item_id: str | None = None
    content: list[ContentPart] = field(default_factory=list)
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = None
    output: str | None = None
    truncated: bool = False
    audio_start_ms: int | None = None
    audio_end_ms: int | None = None
    response_id: str | None = None

    def part(self, index: int, type_hint: str) -> ContentPart:
        """The content part at ``index``, created (with ``type_hint``) if missing."""
        while len(self.content) <= index:
            self.content.append(ContentPart(type=type_hint))
        return self.content[index]

    def first_part(self, type_: str) -> ContentPart | None:
        return next((p for p in self.content if p.type == type_), None)

    @property
    def audio(self) -> bytes:
        """PCM16 audio of all parts, concatenated."""
        return b"".join(bytes(p.audio) for p in self.content if p.audio)

    @property
    def audio_ms(self) -> float:
        return sum(p.audio_ms for p in self.content)

    @property
    def sample_rate(self) -> int | None:
        """Rate of the item's audio (of its first audio part), None without audio."""
        rates = [p.sample_rate for p in self.content if p.sample_rate]
        return rates[0] if rates else None

    @property
    def text(self) -> str:
        """Text of the item: message parts' text or transcript joined with spaces,
        a function call's arguments, a function call output's output."""
        if self.type == "function_call":
            return self.arguments or ""
        if self.type == "function_call_output":
            return self.output or ""
        return " ".join(v for v in (p.value for p in self.content) if v)

    def to_request(
        self, *, include_audio: bool = False, include_id: bool = True
    ) -> dict[str, Any] | None:
        """Request-shaped item for ``conversation.item.create``; None if nothing is left
        to replay (a message whose parts are all empty)."""
        req: dict[str, Any] = {"type": self.type}
        if include_id:
            req["id"] = self.id
        if self.type == "function_call":
            req.update(
                call_id=self.call_id or "", name=self.name or "", arguments=self.arguments or ""
            )
        elif self.type == "function_call_output":
            req.update(call_id=self.call_id or "", output=self.output or "")
        elif self.type == "message":
            parts = [p.to_request(self.role, include_audio=include_audio) for p in self.content]
            parts = [p for p in parts if p is not None]
            if not parts:
                return None
            req.update(role=self.role or "user", content=parts)
        else:
            return None
        return req


@dataclass
class Response:
    """One response: ``status`` is ``in_progress``, ``completed``, ``cancelled``,
    ``incomplete`` or ``failed``; ``usage`` is the service's usage dict as sent."""

    id: str
    status: str = "in_progress"
    status_details: dict[str, Any] | None = None
    usage: dict[str, Any] | None = None
    output_item_ids: list[str] = field(default_factory=list)

    def add_output(self, item_id: str, output_index: int | None = None) -> None:
        """Record ``item_id`` as output number ``output_index`` (appended if None)."""
        if item_id in self.output_item_ids:
            return
        if output_index is None or output_index >= len(self.output_item_ids):
            self.output_item_ids.append(item_id)
        else:
            self.output_item_ids.insert(output_index, item_id)
