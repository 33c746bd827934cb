"""Record, replay, compare: the prototyping loop for voice agents (issue 13).

* :func:`compare` - sessions side by side, one row per user turn (:mod:`.comparison`)
* :func:`expect` - per-turn assertions for scripted tests (:mod:`.expectations`)
* :func:`recording` - a session as one stereo track, user left, assistant right
  (:mod:`.recordings`; also ``Session.recording()``)
* :mod:`.turns` - a session's user turns, the unit compare() and expect() work on
* :mod:`.wer` - word error rate

The modules are named apart from the functions (``comparison`` / ``compare``) so that
``realtime_widget.replay.compare`` is always the function, whichever was imported first.
The names are resolved on first use: importing this package stays light (no pandas).
"""

from __future__ import annotations

from typing import Any

__all__ = ["Comparison", "Expectations", "Recording", "compare", "expect", "recording"]

_LAZY = {
    "compare": ".comparison",
    "Comparison": ".comparison",
    "expect": ".expectations",
    "Expectations": ".expectations",
    "recording": ".recordings",
    "Recording": ".recordings",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'realtime_widget.replay' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
