"""The conversation a session's log records: its events applied in order.

The records are the hub's ``LogRecord`` dicts with their audio inline, as
:func:`realtime_widget.logfile.read_log` yields them (this module does not read files).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .state import Conversation

__all__ = ["rebuild_conversation"]


def rebuild_conversation(
    records: Iterable[dict[str, Any]], *, keep_output_audio: bool = True, **caps: Any
) -> Conversation:
    """The conversation the records (from :func:`realtime_widget.logfile.read_log`) describe.

    Quiet records (hub-internal traffic) are skipped; server events go to
    :meth:`Conversation.apply`, client events to :meth:`Conversation.apply_client`.
    ``caps``: ``max_kept_audio_ms`` / ``max_input_buffer_ms`` of :class:`Conversation`."""
    conv = Conversation(keep_output_audio=keep_output_audio, **caps)
    for rec in records:
        if rec.get("quiet"):
            continue
        event = rec.get("event")
        if not isinstance(event, dict):
            continue
        if rec.get("dir") == "server":
            conv.apply(event)
        else:
            conv.apply_client(event)
    return conv
