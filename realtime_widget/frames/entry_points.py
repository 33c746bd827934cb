"""The entry points: the frames of a live session, or of a stored one."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .locations import find_log, log_dirs
from .session_frames import SessionFrames

__all__ = ["frames", "open_session"]


def open_session(
    session: str | os.PathLike[str], *, log_dir: str | os.PathLike[str] | None = None
) -> SessionFrames:
    """A stored session, reopened from its log: a session id (looked for in ``log_dir``,
    else :func:`log_dirs`), a session directory, or its ``events.jsonl``."""
    path = Path(session)
    if path.name == "events.jsonl":
        path = path.parent
    if not (path / "events.jsonl").exists():
        found = find_log(str(session), [Path(log_dir)] if log_dir is not None else [])
        if found is None:
            where = ", ".join(str(p) for p in ([Path(log_dir)] if log_dir else []) + log_dirs())
            raise FileNotFoundError(f"no stored session {str(session)!r} (looked in: {where})")
        path = found
    if not (path / "events.jsonl").exists():
        raise FileNotFoundError(f"session {path.name} has no event log ({path / 'events.jsonl'})")
    frames = SessionFrames(path=path)
    frames.refresh()
    return frames


def frames(session: Any, *, log_dir: str | os.PathLike[str] | None = None) -> SessionFrames:
    """The DataFrames of ``session``: a live ``Session`` (or anything with a
    ``.session`` that is one, e.g. the widget), a stored session's id or directory."""
    if isinstance(session, SessionFrames):
        return session
    inner = getattr(session, "session", None)
    if inner is not None and hasattr(inner, "conversation") and hasattr(inner, "transport"):
        session = inner
    if hasattr(session, "conversation") and hasattr(session, "transport"):
        return SessionFrames.of(session)
    if isinstance(session, (str, os.PathLike)):
        return open_session(session, log_dir=log_dir)
    raise TypeError(
        "frames(): expected a Session, a session id or a log directory, "
        f"got {type(session).__name__}"
    )
