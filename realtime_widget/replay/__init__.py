"""Record, replay, compare: the prototyping loop for voice agents (issue 13).

* :func:`compare` - sessions side by side, one row per user turn (:mod:`.compare`)
* :func:`expect` - per-turn assertions for scripted tests (:mod:`.expect`)
* :func:`recording` - a session as one stereo track, user left, assistant right
  (:mod:`.recording`; also ``Session.recording()``)

``import realtime_widget`` stays light: the package imports this one (and pandas) on
first use of one of these names.
"""

from __future__ import annotations

from .compare import Comparison, compare
from .expect import Expectations, expect
from .recording import Recording, recording

__all__ = ["Comparison", "Expectations", "Recording", "compare", "expect", "recording"]
