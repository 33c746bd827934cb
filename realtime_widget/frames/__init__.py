"""DataFrames of realtime sessions (pandas), live or reopened from their event log.

* :func:`frames` - the frames of a live ``Session`` (``frames(s).events()``, ...)
* :func:`open_session` - a stored session by id or directory
* :class:`SessionFrames` - ``events()``, ``transcript()``, ``latency()``, ``usage()``,
  ``audio(item_id)``, ``timeline()``, ``conversation``, and a session card in notebooks
* :func:`stored_sessions` - the session logs on this machine
* :mod:`.reader` - the fast JSONL reader (pyarrow, with a per-record fallback)
"""

from .core import (
    EVENT_COLUMNS,
    PRICE_KEYS,
    SessionFrames,
    frames,
    log_dirs,
    open_session,
    stored_sessions,
)
from .display import AudioArray

__all__ = [
    "EVENT_COLUMNS",
    "PRICE_KEYS",
    "AudioArray",
    "EventsFrame",
    "SessionFrames",
    "TranscriptFrame",
    "frames",
    "log_dirs",
    "open_session",
    "stored_sessions",
]


def __getattr__(name: str):
    if name in ("EventsFrame", "TranscriptFrame"):
        from . import core

        return getattr(core, name)
    raise AttributeError(f"module 'realtime_widget.frames' has no attribute {name!r}")
