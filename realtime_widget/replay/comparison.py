"""Sessions side by side, one row per user turn (matched by order).

>>> from realtime_widget import compare
>>> table = compare(original, replayed, names=["gpt", "local"], prices={...})
>>> table                      # in a notebook: the cells that differ are highlighted
>>> table["assistant"]         # one column per session
>>> table.summary()            # per session: latency, cost, tool agreement, WER

The columns are ``(field, session)`` pairs; fields: ``user`` (the user's words as that
backend heard them), ``assistant`` (what it answered, as heard when it was cut short),
``tools`` (``name(arguments)`` of each call), ``latency_ms`` (the turn's trigger, the end
of speech the VAD detected or ``response.create``, to its first audio, as ``latency()``
measures it), ``voice_to_voice_ms`` (from the user's last speech sample, so it includes
the VAD's silence wait; spoken turns only), ``duration_ms`` (the turn's first response
created to its last response done), ``audio_ms`` (how long the answer speaks),
``tokens``, ``cost`` (with ``prices``), and ``interrupted``. ``("differs", "")`` is True
where the sessions disagree on the words heard, the answer, the tool calls or the
interruption, or one of them has no such turn.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..frames import frames as _frames
from ..frames.display import esc
from .session_turns import Turn, session_turns
from .wer import normalize_words, word_error_rate

__all__ = ["Comparison", "compare"]

TEXT_FIELDS = ("user", "assistant")
# fields whose disagreement makes a turn "differ" (latency and cost always differ a little)
DISCRETE_FIELDS = ("user", "assistant", "tools", "interrupted")
NUMERIC_FIELDS = ("latency_ms", "voice_to_voice_ms", "duration_ms", "audio_ms", "tokens", "cost")
HIGHLIGHT = "background-color: rgba(255, 193, 7, .35)"
MISSING = "background-color: rgba(158, 158, 158, .25)"


def _field_value(turn: Turn | None, name: str) -> Any:
    if turn is None:
        return None
    if name == "tools":
        return turn.tools
    return getattr(turn, name)


def _same(a: Turn | None, b: Turn | None, name: str) -> bool:
    """Whether two sessions' turns agree on one field (text compared as normalized words)."""
    if a is None or b is None:
        return a is b
    if name in TEXT_FIELDS:
        return normalize_words(getattr(a, name)) == normalize_words(getattr(b, name))
    if name == "tools":
        return a.tool_keys() == b.tool_keys()
    return getattr(a, name) == getattr(b, name)


def _tools_cell(value: Any) -> str:
    if value is None or value != value:  # no such turn
        return "–"
    return value or "(no call)"


class Comparison(pd.DataFrame):
    """The table :func:`compare` returns: a DataFrame with ``.summary()`` and an HTML
    view that highlights where the sessions differ."""

    _metadata = ["_rtw_turns", "_rtw_names"]

    @property
    def _constructor(self) -> Any:
        return Comparison

    @property
    def names(self) -> list[str]:
        return list(getattr(self, "_rtw_names", []) or [])

    @property
    def turns(self) -> dict[str, list[Turn]]:
        """The :class:`~realtime_widget.replay.session_turns.Turn` lists the table was made from."""
        return dict(zip(self.names, getattr(self, "_rtw_turns", []) or [], strict=True))

    # ------------------------------------------------------------------ aggregate

    def summary(self) -> pd.DataFrame:
        """One row per session: ``turns``, ``median_latency_ms``, ``p95_latency_ms``,
        ``median_voice_to_voice_ms``, ``tokens``, ``cost`` (NaN without prices),
        ``tool_agreement`` (share of the first session's turns whose tool calls, names and
        arguments, this session made too: 1.0 for the first), ``user_wer`` (word error
        rate of this session's user transcripts against the first session's: 0.0 for the
        first), ``interrupted`` (turns cut short) and ``differing_turns`` (turns where
        it differs from the first session: 0 for the first)."""
        turns = list(getattr(self, "_rtw_turns", []) or [])
        if not turns:
            raise ValueError("this table is not the result of compare() any more")
        base = turns[0]
        mask = self.differences()
        rows = []
        for name, mine in zip(self.names, turns, strict=True):
            latency = np.array([t.latency_ms for t in mine], dtype=float)
            latency = latency[np.isfinite(latency)]
            v2v = np.array([t.voice_to_voice_ms for t in mine], dtype=float)
            v2v = v2v[np.isfinite(v2v)]
            n = len(base)
            agree = sum(
                1 for i in range(n) if i < len(mine) and mine[i].tool_keys() == base[i].tool_keys()
            )
            refs = [t.user for t in base]
            hyps = [mine[i].user if i < len(mine) else "" for i in range(n)]
            costs = [t.cost for t in mine if not math.isnan(t.cost)]
            rows.append(
                {
                    "session": name,
                    "turns": len(mine),
                    "median_latency_ms": float(np.median(latency)) if len(latency) else math.nan,
                    "p95_latency_ms": float(np.percentile(latency, 95))
                    if len(latency)
                    else math.nan,
                    "median_voice_to_voice_ms": float(np.median(v2v)) if len(v2v) else math.nan,
                    "tokens": float(np.nansum([t.tokens for t in mine])),
                    "cost": float(sum(costs)) if costs else math.nan,
                    "tool_agreement": agree / n if n else math.nan,
                    "user_wer": word_error_rate(refs, hyps),
                    "interrupted": sum(1 for t in mine if t.interrupted),
                    "differing_turns": int(
                        mask[[c for c in mask.columns if c[1] == name]].any(axis=1).sum()
                    ),
                }
            )
        return pd.DataFrame(rows).set_index("session")

    # ------------------------------------------------------------------ display

    def differences(self) -> pd.DataFrame:
        """A boolean frame shaped like the table: True where a cell differs from the
        first session's (on the fields that can agree exactly: words, tools,
        interruptions), or its session has no such turn."""
        mask = pd.DataFrame(False, index=self.index, columns=self.columns)
        turns = list(getattr(self, "_rtw_turns", []) or [])
        if not turns:
            return mask
        for i, label in enumerate(self.index):
            base = turns[0][i] if i < len(turns[0]) else None
            for name, mine in zip(self.names[1:], turns[1:], strict=True):
                turn = mine[i] if i < len(mine) else None
                for field in DISCRETE_FIELDS:
                    if (field, name) in mask.columns and not _same(base, turn, field):
                        mask.loc[label, (field, name)] = True
        return mask

    def style_differences(self) -> Any:
        """A pandas ``Styler``: differing cells highlighted, numbers rounded."""
        mask = self.differences()
        missing = self.isna()

        def paint(_: Any) -> pd.DataFrame:
            css = pd.DataFrame("", index=self.index, columns=self.columns)
            css = css.mask(missing, MISSING).mask(mask, HIGHLIGHT)
            if ("differs", "") in css.columns:
                css[("differs", "")] = np.where(self[("differs", "")], "font-weight: bold", "")
            return css

        fmt: dict[Any, Any] = {}
        for col in self.columns:
            if col[0] in NUMERIC_FIELDS and col[0] != "cost":
                fmt[col] = "{:.0f}"
            elif col[0] == "cost":
                fmt[col] = "{:.5f}"
            elif col[0] == "tools":
                fmt[col] = _tools_cell
        styler = (
            pd.DataFrame(self)
            .style.apply(paint, axis=None)
            .format(fmt, na_rep="–", escape="html")  # the words are the users' and the models'
        )
        return styler.set_table_styles(
            [
                {
                    "selector": "td",
                    "props": "white-space: pre-wrap; max-width: 22em; text-align: left",
                }
            ]
        )

    def _repr_html_(self) -> str | None:
        try:
            n_diff = int(self.differences().any(axis=1).sum())
            head = (
                f'<div style="font-size:12px;opacity:.75">compare: {len(self)} user turns of '
                f"{esc(', '.join(self.names))}; {n_diff} differ: highlighted where a session "
                f"differs from the first ({esc(self.names[0] if self.names else '')}). "
                "<code>.summary()</code> for latency, cost, tool agreement and WER</div>"
            )
            return head + self.style_differences().to_html()
        except Exception:  # a repr never raises: fall back to the plain table
            return super()._repr_html_()

    def plot(self, field: str = "latency_ms", ax: Any = None, **kwargs: Any) -> Any:
        """Bars per turn, one colour per session, of a numeric field (default the
        first-audio latency) on a matplotlib Axes (the ``[plot]`` extra)."""
        from ..frames.plot import _plt

        plt = _plt()
        if ax is None:
            _, ax = plt.subplots(figsize=(8, 3))
        values = pd.DataFrame(self[field]).astype(float)
        values.index = [f"turn {i}" for i in self.index]
        values.plot.bar(ax=ax, rot=0, **kwargs)
        ax.set_ylabel(field.replace("_", " "))
        ax.set_title(f"{field.replace('_', ' ')} per user turn")
        ax.legend(title="session", fontsize=8)
        return ax


def _names(sessions: Sequence[Any], names: Sequence[str] | None) -> list[str]:
    if names is not None:
        names = [str(n) for n in names]
        if len(names) != len(sessions):
            raise ValueError(f"names: {len(names)} names for {len(sessions)} sessions")
        if len(set(names)) != len(names):
            raise ValueError("names: each session needs its own name")
        return names
    out: list[str] = []
    for f in sessions:
        name = str(f.name)
        out.append(name if name not in out else f"{name} ({len(out)})")
    return out


def compare(
    *sessions: Any,
    names: Sequence[str] | None = None,
    prices: Mapping[str, float] | None = None,
) -> Comparison:
    """Sessions side by side, one row per user turn (matched by order): see the module
    docstring. ``sessions``: live ``Session`` objects, widgets, ``SessionFrames`` or
    stored sessions (ids or paths, as ``frames.open_session`` takes). ``prices``: USD
    per 1M tokens by kind, as for ``Session.usage(prices)``; adds the ``cost`` field."""
    if not sessions:
        raise ValueError("compare() needs at least one session")
    tables = [_frames(s) for s in sessions]
    labels = _names(tables, names)
    turns = [session_turns(f, prices) for f in tables]
    n = max(len(t) for t in turns)
    fields = [
        "user",
        "assistant",
        "tools",
        "latency_ms",
        "voice_to_voice_ms",
        "duration_ms",
        "audio_ms",
        "tokens",
    ]
    if prices is not None:
        fields.append("cost")
    fields.append("interrupted")
    data: dict[tuple[str, str], list[Any]] = {}
    for field in fields:
        for label, mine in zip(labels, turns, strict=True):
            data[(field, label)] = [
                _field_value(mine[i] if i < len(mine) else None, field) for i in range(n)
            ]
    differs = []
    for i in range(n):
        row = [mine[i] if i < len(mine) else None for mine in turns]
        differs.append(
            any(not _same(row[0], other, f) for other in row[1:] for f in DISCRETE_FIELDS)
        )
    data[("differs", "")] = differs
    table = Comparison(data, index=pd.RangeIndex(n, name="turn"))
    table.columns = pd.MultiIndex.from_tuples(table.columns, names=["field", "session"])
    for field in NUMERIC_FIELDS:
        for label in labels:
            if (field, label) in table.columns:
                table[(field, label)] = pd.to_numeric(table[(field, label)]).astype(float)
    table._rtw_turns = turns
    table._rtw_names = labels
    return table
