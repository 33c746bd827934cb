"""DataFrames of realtime sessions (pandas), live or reopened from their event log.

* :func:`frames` - the frames of a live ``Session`` (``frames(s).events()``, ...)
* :func:`open_session` - a stored session by id or directory
* :class:`SessionFrames` - ``events()``, ``transcript()``, ``latency()``, ``usage()``,
  ``audio(item_id)``, ``timeline()``, ``conversation``, and a session card in notebooks
* :func:`stored_sessions` - the session logs on this machine

Modules: :mod:`.entry_points` (``frames``, ``open_session``), :mod:`.session_frames`
(the tables of one session), :mod:`.tables` (the DataFrame classes), :mod:`.columns`
(what each column is and how it is computed), :mod:`.locations` (where logs are),
:mod:`.live` (a live session's log), :mod:`.cache` (parsed tables of large sessions),
:mod:`.reader` (the fast JSONL reader: pyarrow, with a per-record fallback),
:mod:`.plot` (the timeline), :mod:`.display` (HTML and audio players).
"""

from .columns import EVENT_COLUMNS, PRICE_KEYS
from .display import AudioArray
from .entry_points import frames, open_session
from .locations import log_dirs, stored_sessions
from .session_frames import SessionFrames

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
        from . import tables

        return getattr(tables, name)
    raise AttributeError(f"module 'realtime_widget.frames' has no attribute {name!r}")
