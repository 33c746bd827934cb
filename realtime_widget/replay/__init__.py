"""Record, replay, compare: the prototyping loop for voice agents (issue 13).

* :func:`replay` - one source, one new session (:mod:`.run`)
* :func:`replay_many` - a grid of sources x configurations, run concurrently (:mod:`.grid`)
* :mod:`.source` - the user turns of a source, read from its event log
* :func:`compare` - sessions side by side, one row per user turn (:mod:`.comparison`)
* :func:`expect` - per-turn assertions for scripted tests (:mod:`.expectations`)
* :func:`recording` - a session as one stereo track, user left, assistant right
  (:mod:`.recordings`; also ``Session.recording()``)
* :mod:`.turns` - a session's user turns, the unit compare() and expect() work on
* :mod:`.wer` - word error rate

``realtime_widget.replay`` is the function (this package is imported by
``realtime_widget`` and the name rebound); import submodules with
``from realtime_widget.replay import run``. The modules are named apart from the
functions (``comparison`` / ``compare``) so that ``realtime_widget.replay.compare`` is
always the function, whichever was imported first. Importing this package stays light
(no pandas): compare, expect and recording are resolved on first use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import ReplayError, ReplayInterrupted

__all__ = [
    "Comparison",
    "Expectations",
    "Recording",
    "ReplayError",
    "ReplayInterrupted",
    "compare",
    "expect",
    "recording",
    "replay",
    "replay_many",
]

_LAZY = {
    "compare": ".comparison",
    "Comparison": ".comparison",
    "expect": ".expectations",
    "Expectations": ".expectations",
    "recording": ".recordings",
    "Recording": ".recordings",
}


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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'realtime_widget.replay' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
