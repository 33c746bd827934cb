"""The replay's exceptions (light: ``import realtime_widget`` imports this module)."""

from __future__ import annotations

from typing import Any

__all__ = ["ReplayError", "ReplayInterrupted"]


class ReplayError(RuntimeError):
    """A source cannot be replayed, or the replay failed. ``session`` is the new session
    when there is one (its log has what happened), ``event`` the backend's error event."""

    def __init__(self, message: str, *, session: Any = None, event: dict | None = None):
        super().__init__(message)
        self.session = session
        self.event = event


class ReplayInterrupted(KeyboardInterrupt):
    """Ctrl-C / interrupt kernel during a replay: ``session`` is the new session, still
    open, with the turns replayed so far (``sessions``: every cell of a grid)."""

    def __init__(self, message: str, session: Any = None, sessions: Any = None):
        super().__init__(message)
        self.session = session
        self.sessions = sessions
