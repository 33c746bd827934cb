"""Brains write the assistant's reply: a deterministic offline default, or any
OpenAI-compatible chat-completions endpoint."""

from .base import (
    Brain,
    BrainError,
    BrainRequest,
    ReplyPiece,
    TextDelta,
    ToolCallDelta,
    close_brain,
)
from .chat_completions import ChatCompletionsBrain
from .rules import RuleBrain

__all__ = [
    "Brain",
    "BrainError",
    "BrainRequest",
    "ChatCompletionsBrain",
    "ReplyPiece",
    "RuleBrain",
    "TextDelta",
    "ToolCallDelta",
    "close_brain",
]
