"""Expectations for scripted tests of a voice agent, per user turn.

>>> from realtime_widget import expect
>>> check = expect(session)
>>> check.turn(0).called("get_weather", city="Paris").says("sunny")
>>> check.turn(1).matches(r"^You said").first_audio_within(1500)
>>> check.first_audio_within(2000)          # every turn

Each check raises ``AssertionError`` when it fails (so pytest reports it), saying which
turn and what was seen; in a notebook the object shows the checks that passed. Turns
are numbered from 0, as in :func:`~realtime_widget.compare` (the same turns: the user's
messages in order, each with everything the model did until the next one).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from ..frames import frames as _frames
from ..frames.display import STYLE, esc
from .session_turns import ToolCall, Turn, session_turns

__all__ = ["Expectations", "TurnExpectations", "expect"]


def _short(text: str, limit: int = 160) -> str:
    text = " ".join((text or "").split())
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _value_matches(expected: Any, actual: Any) -> bool:
    """An argument matches: a compiled regex searches its text, a callable is asked,
    anything else must be equal."""
    if isinstance(expected, re.Pattern):
        return actual is not None and expected.search(str(actual)) is not None
    if callable(expected):
        return bool(expected(actual))
    return bool(expected == actual)


def _shown(expected: Mapping[str, Any]) -> str:
    parts = []
    for key, value in expected.items():
        if isinstance(value, re.Pattern):
            parts.append(f"{key}=~/{value.pattern}/")
        elif callable(value):
            parts.append(f"{key}=<{getattr(value, '__name__', 'check')}>")
        else:
            parts.append(f"{key}={value!r}")
    return ", ".join(parts)


class TurnExpectations:
    """The checks of one user turn (``expect(s).turn(i)``); each returns ``self``."""

    def __init__(self, parent: Expectations, turn: Turn):
        self._parent = parent
        self.turn = turn

    # ------------------------------------------------------------------ reporting

    def _where(self) -> str:
        t = self.turn
        return f"turn {t.index} (user: {_short(t.user, 80)})"

    def _fail(self, expected: str, seen: str) -> None:
        raise AssertionError(f"{self._where()}: expected {expected}; {seen}")

    def _pass(self, what: str) -> TurnExpectations:
        self._parent.passed.append(f"turn {self.turn.index}: {what}")
        return self

    # ------------------------------------------------------------------ checks

    def called(
        self, name: str, arguments: Mapping[str, Any] | None = None, **expected: Any
    ) -> TurnExpectations:
        """The model called tool ``name`` in this turn with arguments matching
        ``arguments`` / the keyword arguments (only the keys given are checked; a value
        is a literal, a compiled ``re`` pattern searched in the argument's text, or a
        predicate)."""
        wanted = {**(arguments or {}), **expected}
        calls = self.turn.tool_calls
        same_name = [c for c in calls if c.name == name]
        what = f"a call of {name}({_shown(wanted)})"
        if not same_name:
            seen = (
                "the turn called " + ", ".join(str(c) for c in calls)
                if calls
                else "the turn called no tool"
            )
            self._fail(what, f"{seen}; the answer was {_short(self.turn.assistant)}")
        for call in same_name:
            if self._arguments_match(call, wanted):
                return self._pass(f"called {call}")
        self._fail(what, "the turn called " + ", ".join(str(c) for c in same_name))
        return self

    @staticmethod
    def _arguments_match(call: ToolCall, wanted: Mapping[str, Any]) -> bool:
        args = call.arguments
        if not wanted:
            return True
        if not isinstance(args, Mapping):
            return False
        return all(key in args and _value_matches(v, args[key]) for key, v in wanted.items())

    def called_no_tool(self) -> TurnExpectations:
        """The model called no tool in this turn."""
        if self.turn.tool_calls:
            self._fail("no tool call", "the turn called " + self.turn.tools)
        return self._pass("called no tool")

    def says(self, *words: str, case: bool = False) -> TurnExpectations:
        """The assistant's answer (as heard) contains each of ``words`` (ignoring case
        unless ``case``)."""
        answer = self.turn.assistant or ""
        hay = answer if case else answer.lower()
        missing = [w for w in words if (w if case else w.lower()) not in hay]
        if missing:
            self._fail(
                "the answer to contain " + ", ".join(repr(w) for w in missing),
                f"the answer was {_short(answer)}",
            )
        return self._pass("the answer contains " + ", ".join(repr(w) for w in words))

    def matches(self, pattern: str | re.Pattern[str], flags: int = 0) -> TurnExpectations:
        """The assistant's answer matches the regular expression (``re.search``)."""
        regex = re.compile(pattern, flags) if isinstance(pattern, str) else pattern
        answer = self.turn.assistant or ""
        if regex.search(answer) is None:
            self._fail(f"the answer to match /{regex.pattern}/", f"the answer was {_short(answer)}")
        return self._pass(f"the answer matches /{regex.pattern}/")

    def heard(self, *words: str) -> TurnExpectations:
        """The backend heard the user say each of ``words`` (its transcript, any case)."""
        said = (self.turn.user or "").lower()
        missing = [w for w in words if w.lower() not in said]
        if missing:
            self._fail(
                "the user's words to contain " + ", ".join(repr(w) for w in missing),
                f"the backend heard {_short(self.turn.user)}",
            )
        return self._pass("heard " + ", ".join(repr(w) for w in words))

    def first_audio_within(self, ms: float) -> TurnExpectations:
        """The first audio of the answer came at most ``ms`` after the turn's trigger
        (the end of speech the server VAD detected, or ``response.create``)."""
        latency = self.turn.latency_ms
        if latency != latency:  # NaN
            self._fail(f"first audio within {ms:g} ms", "the turn had no audio answer")
        if latency > ms:
            self._fail(f"first audio within {ms:g} ms", f"it came after {latency:.0f} ms")
        return self._pass(f"first audio after {latency:.0f} ms (<= {ms:g})")

    def not_interrupted(self) -> TurnExpectations:
        """The answer was not cut short (barge-in, cancel)."""
        if self.turn.interrupted:
            self._fail(
                "an answer that was not interrupted",
                f"it was cut short after {_short(self.turn.assistant)}",
            )
        return self._pass("not interrupted")

    def check(self, predicate: Callable[[Turn], bool], what: str = "") -> TurnExpectations:
        """Any condition on the :class:`~realtime_widget.replay.session_turns.Turn`."""
        if not predicate(self.turn):
            self._fail(
                what or getattr(predicate, "__name__", "the condition"),
                f"the turn was {self.turn!r}",
            )
        return self._pass(what or getattr(predicate, "__name__", "condition"))

    def _repr_html_(self) -> str:
        return self._parent._repr_html_()


class Expectations:
    """Checks over a session's user turns: :meth:`turn` for one, or the methods below
    for every turn. Made by :func:`expect`."""

    def __init__(self, session: Any):
        self.frames = _frames(session)
        self.turns = session_turns(self.frames)
        self.passed: list[str] = []

    def __len__(self) -> int:
        return len(self.turns)

    def turn(self, index: int) -> TurnExpectations:
        """The checks of user turn ``index`` (from 0; negative counts from the end)."""
        n = len(self.turns)
        if not -n <= index < n:
            raise AssertionError(
                f"turn {index}: the session {self.frames.name} has {n} user turn"
                f"{'' if n == 1 else 's'}"
                + (f" (the last: {_short(self.turns[-1].user, 80)})" if n else "")
            )
        return TurnExpectations(self, self.turns[index])

    def has_turns(self, count: int) -> Expectations:
        """The session has exactly ``count`` user turns."""
        if len(self.turns) != count:
            users = ", ".join(_short(t.user, 40) for t in self.turns)
            raise AssertionError(
                f"expected {count} user turns; the session has {len(self.turns)}: {users}"
            )
        self.passed.append(f"{count} user turns")
        return self

    def first_audio_within(self, ms: float) -> Expectations:
        """Every turn's first audio came within ``ms``."""
        for i in range(len(self.turns)):
            self.turn(i).first_audio_within(ms)
        return self

    def not_interrupted(self) -> Expectations:
        """No answer was cut short."""
        for i in range(len(self.turns)):
            self.turn(i).not_interrupted()
        return self

    def _repr_html_(self) -> str:
        rows = "".join(
            f'<div><span style="color:#2e7d32">&#10003;</span> {esc(p)}</div>' for p in self.passed
        )
        return (
            f"{STYLE}<div class='rtw-card'><h4>expectations on session {esc(self.frames.name)}"
            f"</h4><div class='rtw-muted'>{len(self.turns)} user turns; "
            f"{len(self.passed)} checks passed</div>{rows}</div>"
        )

    def __repr__(self) -> str:
        return (
            f"<Expectations on {self.frames.name}: {len(self.turns)} turns, "
            f"{len(self.passed)} checks passed>"
        )


def expect(session: Any) -> Expectations:
    """Expectations over the user turns of ``session`` (a ``Session``, a widget,
    ``SessionFrames`` or a stored session's id or path): see the module docstring."""
    return Expectations(session)
