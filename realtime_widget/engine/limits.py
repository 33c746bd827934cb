"""Per-session caps of the local engine, and the errors sent when one is hit.

One client must not be able to grow the engine's memory or CPU without bound. Each cap
is per session, configurable (``EngineSession(limits=SessionLimits(...))``,
``realtime-widget serve --max-...``, the hub's ``c.RealtimeWidgetApp.local_*``
traitlets) and ``None`` switches it off. docs/limits-and-guarantees.md lists them.

What happens when a cap is hit (the session always carries on):

=========================  ===========================================================
cap                        when hit
=========================  ===========================================================
``max_item_bytes``         the item is refused: ``error`` ``item_too_large``
``max_conversation_items`` a client's new item is refused: ``error``
                           ``conversation_too_large`` (delete items to make room)
``max_conversation_bytes`` same, counted as the text of every item plus the new one
``max_input_buffer_ms``    the append is refused: ``error`` ``input_audio_buffer_full``;
                           under server VAD the turn in progress is committed there
``max_reply_tokens``       the reply stops: ``response.done`` ``incomplete`` /
                           ``max_output_tokens`` and ``error`` ``reply_too_long``
``max_kept_audio_ms``      nothing is refused: the audio bytes of the oldest items are
                           released (durations and transcripts stay)
=========================  ===========================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from ..protocol import ProtocolError

__all__ = ["SessionLimits", "item_bytes", "text_bytes"]

MINUTE_MS = 60_000


@dataclass(frozen=True)
class SessionLimits:
    """Caps of one engine session (``None``: no cap)."""

    max_item_bytes: int | None = 16 * 1024 * 1024  # text (UTF-8) + audio of one item
    max_conversation_items: int | None = 4096
    max_conversation_bytes: int | None = 64 * 1024 * 1024  # text of all items
    max_input_buffer_ms: int | None = 15 * MINUTE_MS  # uncommitted input audio (~43 MB at 24 kHz)
    max_reply_tokens: int | None = (
        4096  # per response, when it asks for "inf" (the service's maximum)
    )
    max_kept_audio_ms: int | None = 10 * MINUTE_MS  # audio held by the conversation (~29 MB)

    # -- checks (each raises a spec-shaped ProtocolError) -------------------------------
    def check_item(self, nbytes: int, param: str) -> None:
        if self.max_item_bytes is not None and nbytes > self.max_item_bytes:
            raise ProtocolError(
                f"{param}: the item holds {nbytes} bytes of text and audio, above this "
                f"session's cap of {self.max_item_bytes} bytes; send less in one item",
                code="item_too_large",
                param=param,
            )

    def check_conversation(
        self, n_items: int, text_nbytes: int, new_nbytes: int, param: str
    ) -> None:
        if self.max_conversation_items is not None and n_items + 1 > self.max_conversation_items:
            raise ProtocolError(
                f"{param}: the conversation already holds {n_items} items, this session's cap; "
                "delete items (conversation.item.delete) to make room",
                code="conversation_too_large",
                param=param,
            )
        if (
            self.max_conversation_bytes is not None
            and text_nbytes + new_nbytes > self.max_conversation_bytes
        ):
            raise ProtocolError(
                f"{param}: the conversation's text would reach {text_nbytes + new_nbytes} bytes, "
                f"above this session's cap of {self.max_conversation_bytes}; "
                "delete items to make room",
                code="conversation_too_large",
                param=param,
            )

    def input_buffer_full(self, buffered_ms: float, adding_ms: float) -> ProtocolError | None:
        if self.max_input_buffer_ms is None or buffered_ms + adding_ms <= self.max_input_buffer_ms:
            return None
        return ProtocolError(
            f"audio: the input audio buffer holds {buffered_ms / 1000:.1f} s; this append would "
            f"take it above this session's cap of {self.max_input_buffer_ms / 1000:.0f} s. "
            "Commit or clear the buffer first",
            code="input_audio_buffer_full",
            param="audio",
        )

    def reply_tokens(self, requested: int | None) -> int | None:
        """The output tokens one response may produce: what it asked for, at most the cap."""
        if self.max_reply_tokens is None:
            return requested
        return self.max_reply_tokens if requested is None else min(requested, self.max_reply_tokens)

    def reply_too_long(self, response_id: str) -> ProtocolError:
        return ProtocolError(
            f"response {response_id} stopped at this session's cap of {self.max_reply_tokens} "
            "output tokens (it ends 'incomplete'); ask for shorter replies or raise the cap",
            code="reply_too_long",
            param=None,
        )


def text_bytes(text: str | None) -> int:
    # utf-8 with surrogatepass: a length, not a validation (lone surrogates are refused elsewhere)
    return len(text.encode("utf-8", "surrogatepass")) if text else 0


def item_bytes(item: Any) -> int:
    """Bytes of text and held audio of one conversation item (``conversation.Item``)."""
    n = text_bytes(item.arguments) + text_bytes(item.output) + text_bytes(item.name)
    for part in item.content:
        n += text_bytes(part.text) + text_bytes(part.transcript) + len(part.audio)
    return n


def conversation_text_bytes(items: Iterable[Any]) -> int:
    """Text of every item (audio is bounded separately, by ``max_kept_audio_ms``)."""
    return sum(item_bytes(item) - sum(len(p.audio) for p in item.content) for item in items)


def wire_item_bytes(item: dict[str, Any], audio: dict[int, bytes]) -> int:
    """Bytes of text and (decoded) audio of an item a client sent (``AcceptedItem``)."""
    n = sum(len(v) for v in audio.values())
    for key in ("name", "arguments", "output"):
        value = item.get(key)
        n += text_bytes(value) if isinstance(value, str) else 0
    for part in item.get("content") or ():
        for key in ("text", "transcript"):
            value = part.get(key)
            n += text_bytes(value) if isinstance(value, str) else 0
    return n
