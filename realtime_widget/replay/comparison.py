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

__all__ = ["Comparison", "compare", "compare_groups"]

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

    # per session, its Turn by row label (None where it has no such turn), and the names;
    # by label, so a row selection (head, a filter, a sort) still lines up
    _metadata = ["_rtw_turn_at", "_rtw_names"]

    @property
    def _constructor(self) -> Any:
        return Comparison

    @property
    def names(self) -> list[str]:
        return list(getattr(self, "_rtw_names", []) or [])

    @property
    def turns(self) -> dict[str, list[Turn]]:
        """The :class:`~realtime_widget.replay.session_turns.Turn` lists of the rows shown."""
        return {
            name: [t for t in rows if t is not None]
            for name, rows in zip(self.names, self._rows(), strict=True)
        }

    def _rows(self) -> list[list[Turn | None]]:
        """Per session, its turn on each row of the table."""
        turn_at = list(getattr(self, "_rtw_turn_at", []) or [])
        if not turn_at or any(label not in turn_at[0] for label in self.index):
            # pandas keeps _metadata through most operations but not concat, and a new
            # index (reset_index) no longer names the turns
            raise ValueError("this table is not the result of compare() any more")
        return [[mine[label] for label in self.index] for mine in turn_at]

    # ------------------------------------------------------------------ aggregate

    def summary(self) -> pd.DataFrame:
        """One row per session: ``turns``, ``median_latency_ms``, ``p95_latency_ms``,
        ``median_voice_to_voice_ms``, ``tokens``, ``cost`` (NaN without prices),
        ``tool_agreement`` (share of the first session's turns whose tool calls, names and
        arguments, this session made too: 1.0 for the first), ``user_wer`` (word error
        rate of this session's user transcripts against the first session's: 0.0 for the
        first), ``interrupted`` (turns cut short) and ``differing_turns`` (turns where
        it differs from the first session: 0 for the first)."""
        aligned = self._rows()
        base = aligned[0]
        asked = [i for i, t in enumerate(base) if t is not None]  # rows the first one has
        mask = _difference_mask(aligned, self.names, self.index, self.columns)
        rows = []
        for name, mine_rows in zip(self.names, aligned, strict=True):
            mine = [t for t in mine_rows if t is not None]
            latency = np.array([t.latency_ms for t in mine], dtype=float)
            latency = latency[np.isfinite(latency)]
            v2v = np.array([t.voice_to_voice_ms for t in mine], dtype=float)
            v2v = v2v[np.isfinite(v2v)]
            n = len(asked)
            agree = sum(
                1
                for i in asked
                if mine_rows[i] is not None and mine_rows[i].tool_keys() == base[i].tool_keys()
            )
            refs = [base[i].user for i in asked]
            hyps = [mine_rows[i].user if mine_rows[i] is not None else "" for i in asked]
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
        return _difference_mask(self._rows(), self.names, self.index, self.columns)

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
            of = f"{len(self)} user turns"
            if self.index.nlevels > 1:  # a grid: one block of turns per source
                of += f" from {self.index.get_level_values(0).nunique()} sources"
            head = (
                f'<div style="font-size:12px;opacity:.75">compare: {of} of '
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
        values.index = [
            f"{i[0]} turn {i[-1]}" if isinstance(i, tuple) else f"turn {i}" for i in self.index
        ]
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
    rows = [_padded(mine, n) for mine in turns]
    return _table(rows, labels, pd.RangeIndex(n, name="turn"), with_cost=prices is not None)


def compare_groups(
    groups: Mapping[str, Sequence[Any]],
    names: Sequence[str],
    *,
    prices: Mapping[str, float] | None = None,
    level: str = "source",
) -> Comparison:
    """One table for many comparisons, e.g. a replay grid: ``groups`` maps a key (a
    source) to its sessions, one per name (None where that session is missing). Rows are
    ``(key, turn)``; ``.summary()`` aggregates each name over every group, against the
    first name."""
    labels = [str(n) for n in names]
    rows: list[list[Turn | None]] = [[] for _ in labels]
    index: list[tuple[str, int]] = []
    for key, sessions in groups.items():
        if len(sessions) != len(labels):
            raise ValueError(f"{key}: {len(sessions)} sessions for {len(labels)} names")
        turns = [session_turns(_frames(s), prices) if s is not None else [] for s in sessions]
        n = max(len(t) for t in turns)
        for mine, out in zip(turns, rows, strict=True):
            out.extend(_padded(mine, n))
        index.extend((key, i) for i in range(n))
    return _table(
        rows,
        labels,
        pd.MultiIndex.from_tuples(index, names=[level, "turn"]),
        with_cost=prices is not None,
    )


def _padded(turns: list[Turn], n: int) -> list[Turn | None]:
    return [*turns, *([None] * (n - len(turns)))]


def _difference_mask(
    rows: list[list[Turn | None]], names: list[str], index: pd.Index, columns: pd.Index
) -> pd.DataFrame:
    """True where a session's turn differs from the first session's on that row."""
    mask = pd.DataFrame(False, index=index, columns=columns)
    for name, mine in zip(names[1:], rows[1:], strict=True):
        for field in DISCRETE_FIELDS:
            if (field, name) in columns:
                mask[(field, name)] = [
                    not _same(a, b, field) for a, b in zip(rows[0], mine, strict=True)
                ]
    return mask


def _table(
    rows: list[list[Turn | None]], labels: list[str], index: pd.Index, *, with_cost: bool
) -> Comparison:
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
    if with_cost:
        fields.append("cost")
    fields.append("interrupted")
    data = {
        (field, label): [_field_value(turn, field) for turn in mine]
        for field in fields
        for label, mine in zip(labels, rows, strict=True)
    }
    data[("differs", "")] = [False] * len(index)
    table = Comparison(data, index=index)
    table.columns = pd.MultiIndex.from_tuples(table.columns, names=["field", "session"])
    for field in NUMERIC_FIELDS:
        for label in labels:
            if (field, label) in table.columns:
                table[(field, label)] = pd.to_numeric(table[(field, label)]).astype(float)
    mask = _difference_mask(rows, labels, table.index, table.columns)
    table[("differs", "")] = mask.any(axis=1).to_numpy()
    table._rtw_turn_at = [dict(zip(table.index, mine, strict=True)) for mine in rows]
    table._rtw_names = labels
    return table
