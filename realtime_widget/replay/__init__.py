"""Replaying a recorded session's user side against another configuration or backend.

* :func:`replay` - one source, one new session (:mod:`.run`)
* :func:`replay_many` - a grid of sources x configurations, run concurrently (:mod:`.grid`)
* :mod:`.source` - the user turns of a source, read from its event log

``realtime_widget.replay`` is the function (this package is imported by
``realtime_widget`` and the name rebound); import submodules with
``from realtime_widget.replay import run``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import ReplayError, ReplayInterrupted

__all__ = ["ReplayError", "ReplayInterrupted", "replay", "replay_many"]


def replay(
    source: Any,
    *,
    speed: str = "turns",
    provider: str | None = None,
    model: str | None = None,
    tools: list[Callable[..., Any]] | None = None,
    **session: Any,
) -> Any:
    """A new, live, logged ``Session`` with the user side of ``source`` sent again.

    ``source``: a ``Session``, a stored session (id or path, as ``frames.open_session``
    takes) or a ``SessionFrames``. The new session gets the source's configuration with
    the overrides, every user audio append byte for byte, text items, manual commits,
    ``response.create`` / ``response.cancel`` where the user sent them and truncations
    where the user barged in. Its model's answers, tool calls and timings are its own.

    ``speed``: ``"turns"`` (each user turn as fast as the backend takes it, then its answer
    is awaited) or ``"realtime"`` (the user's original pacing within each turn); under
    server VAD each turn's audio is followed by the silence the VAD needs.
    ``provider`` / ``model``: default the source's. ``tools``: Python callables that
    answer the model's function calls for real; a call no tool answers gets the source's
    recorded output of the same function, else an error output.
    Other keyword arguments override session fields (``instructions=``, ``voice=``,
    ``turn_detection=``, ...), except ``name``, ``mode``, ``server``, ``token``, ``url``,
    ``speech`` (for :class:`~realtime_widget.Session`), ``progress`` (a tqdm bar per user
    turn, default True) and ``timeout`` (seconds to wait for one turn's answer, 120).

    Raises :class:`ReplayError` (a source with no user turns or a damaged log; a
    configuration the backend refused: ``.event`` is its error, ``.session`` the new
    session) and, on Ctrl-C, :class:`ReplayInterrupted` whose ``.session`` stays open.
    """
    from .run import replay as run

    return run(source, speed=speed, provider=provider, model=model, tools=tools, **session)


def replay_many(sources: Any, configs: Any, **kwargs: Any) -> Any:
    """See :func:`realtime_widget.replay.grid.replay_many`."""
    from .grid import replay_many as run

    return run(sources, configs, **kwargs)
