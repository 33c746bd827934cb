"""What a brain is: it reads the conversation and streams the assistant's reply.

The conversation is handed over as OpenAI chat-completions messages (the lingua franca
of local LLM servers), and the reply comes back as a stream of pieces: text deltas
and tool-call deltas. The engine turns the pieces into realtime protocol events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Protocol, Union


@dataclass
class BrainRequest:
    messages: list[dict[str, Any]]  # chat-completions messages, system prompt first
    tools: list[dict[str, Any]] = field(default_factory=list)  # realtime tool definitions
    tool_choice: str | dict[str, Any] = "auto"
    temperature: float = 0.8
    max_output_tokens: int | None = None  # None = unlimited ("inf")


@dataclass
class TextDelta:
    text: str


@dataclass
class ToolCallDelta:
    """Part of a tool call; ``index`` tells calls apart, name and call_id come first."""

    index: int
    arguments: str = ""
    name: str | None = None
    call_id: str | None = None


ReplyPiece = Union[TextDelta, ToolCallDelta]


class Brain(Protocol):
    def reply(self, request: BrainRequest) -> AsyncIterator[ReplyPiece]:
        """Stream the reply. Cancellation (``CancelledError``) must be honoured promptly."""
        ...


async def close_brain(brain: Any) -> None:
    """Release what a brain holds (a chat-completions brain's HTTP connections). A
    brain_factory makes one brain per session, and whoever called it closes it with the
    session: left to the garbage collector, an HTTP client's close runs on a loop that may
    be gone by then."""
    aclose = getattr(brain, "aclose", None)
    if aclose is not None:
        await aclose()


class BrainError(RuntimeError):
    """The brain could not produce a reply; becomes ``status: failed`` on the response."""
