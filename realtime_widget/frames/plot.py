"""The timeline plot of a session (matplotlib: ``pip install realtime-widget[plot]``).

Lanes, top to bottom:

* **user**: speech as the server's VAD heard it (``speech_started`` -> ``speech_stopped``),
  typed messages as ticks;
* **assistant**: each response from ``response.created`` to ``response.done`` (light: the
  server generating), and its audio as a listener hears it, played in real time from the
  first audio delta (dark; text-only answers: from the first text delta to the end);
  red when it was cut short (a barge-in or a cancel), with an x where it stopped;
* **tools**: function calls (the model asks) and their outputs (the kernel answers);
* **errors**: ``error`` events.

The x axis is seconds since the session's first event (the events table's ``t_ms``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .columns import cat_mask

__all__ = ["timeline"]


def _plt() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(
            "the timeline plot needs matplotlib: pip install 'realtime-widget[plot]'"
        ) from None
    return plt


def timeline(
    frames: Any,
    ax: Any = None,
    *,
    start_s: float | None = None,
    end_s: float | None = None,
    title: str | None = None,
) -> Any:
    """Draw the session's timeline on ``ax`` (a new figure when None); returns the Axes."""
    plt = _plt()
    df = frames.events()
    if ax is None:
        _, ax = plt.subplots(figsize=(11, 2.8))
    t = df["t_ms"].to_numpy() / 1000.0
    server = cat_mask(df, "direction", ("server",))
    lanes = {"errors": 0, "tools": 1, "assistant": 2, "user": 3}
    colors = {
        "user": "#1e88e5",
        "assistant": "#43a047",
        "cut": "#e53935",
        "tool": "#fb8c00",
        "error": "#b71c1c",
    }

    # user speech
    started = np.flatnonzero(cat_mask(df, "type", ("input_audio_buffer.speech_started",)) & server)
    stopped = np.flatnonzero(cat_mask(df, "type", ("input_audio_buffer.speech_stopped",)) & server)
    items = df["item_id"].astype(object).to_numpy()
    stop_at = {items[i]: t[i] for i in stopped}
    for i in started:
        end = stop_at.get(items[i], t[-1] if len(t) else t[i])
        ax.broken_barh(
            [(t[i], max(end - t[i], 0.02))],
            (lanes["user"] - 0.3, 0.6),
            color=colors["user"],
            alpha=0.8,
        )
    # typed user messages and tool outputs: client conversation.item.create, told apart
    # by their payload
    creates = np.flatnonzero(cat_mask(df, "type", ("conversation.item.create",)) & ~server)
    kinds = (
        [
            ((r.get("event") or {}).get("item") or {}).get("type")
            for r in frames.records(df["seq"].to_numpy()[creates].tolist())
        ]
        if len(creates)
        else []
    )
    typed = np.array([i for i, k in zip(creates, kinds, strict=True) if k == "message"], dtype=int)
    outs = np.array(
        [i for i, k in zip(creates, kinds, strict=True) if k == "function_call_output"], dtype=int
    )
    if len(typed):
        ax.plot(
            t[typed],
            np.full(len(typed), lanes["user"]),
            "|",
            color=colors["user"],
            markersize=16,
            mew=2,
        )

    # responses
    lat = frames.latency()
    ends = [t[-1]] if len(t) else [0.0]
    for row in lat.itertuples(index=False):
        if row.first_audio_ms == row.first_audio_ms and row.audio_ms > 0:
            ends.append((row.first_audio_ms + row.audio_ms) / 1000)
        if row.created_ms != row.created_ms:  # NaN
            continue
        done = (
            row.done_ms
            if row.done_ms == row.done_ms
            else (t[-1] * 1000 if len(t) else row.created_ms)
        )
        cut = bool(row.interrupted) or row.status in ("cancelled", "incomplete", "failed")
        color = colors["cut"] if cut else colors["assistant"]
        ax.broken_barh(
            [(row.created_ms / 1000, max((done - row.created_ms) / 1000, 0.02))],
            (lanes["assistant"] - 0.3, 0.6),
            color=color,
            alpha=0.25,
        )
        if row.first_audio_ms == row.first_audio_ms and row.audio_ms > 0:
            ax.broken_barh(
                [(row.first_audio_ms / 1000, row.audio_ms / 1000)],
                (lanes["assistant"] - 0.2, 0.4),
                color=color,
                alpha=0.9,
            )
        elif row.first_text_ms == row.first_text_ms:
            ax.broken_barh(
                [(row.first_text_ms / 1000, max((done - row.first_text_ms) / 1000, 0.02))],
                (lanes["assistant"] - 0.2, 0.4),
                color=color,
                alpha=0.9,
            )
        if cut:
            ax.plot(
                [done / 1000], [lanes["assistant"]], "x", color=colors["cut"], markersize=10, mew=2
            )

    # tools
    calls = np.flatnonzero(
        cat_mask(df, "type", ("response.function_call_arguments.done",)) & server
    )
    if len(calls):
        ax.plot(
            t[calls],
            np.full(len(calls), lanes["tools"]),
            ">",
            color=colors["tool"],
            markersize=8,
            label="tool call",
        )
    if len(outs):
        ax.plot(
            t[outs],
            np.full(len(outs), lanes["tools"]),
            "<",
            color=colors["tool"],
            markersize=8,
            label="tool output",
        )
    # errors
    errors = np.flatnonzero(cat_mask(df, "type", ("error",)))
    if len(errors):
        ax.plot(
            t[errors],
            np.full(len(errors), lanes["errors"]),
            "X",
            color=colors["error"],
            markersize=9,
        )

    ax.set_yticks(list(lanes.values()))
    ax.set_yticklabels(list(lanes.keys()))
    ax.set_ylim(-0.7, 3.7)
    ax.set_xlabel("seconds since the session started")
    lo = start_s if start_s is not None else (t[0] if len(t) else 0)
    hi = end_s if end_s is not None else max(ends)
    ax.set_xlim(lo - 0.05 * max(hi - lo, 1e-3), hi + 0.05 * max(hi - lo, 1e-3))
    ax.grid(axis="x", alpha=0.3)
    from matplotlib.patches import Patch

    ax.legend(
        handles=[
            Patch(color=colors["user"], label="user speech (VAD)"),
            Patch(color=colors["assistant"], alpha=0.25, label="response generated"),
            Patch(color=colors["assistant"], label="assistant audio, played in real time"),
            Patch(color=colors["cut"], label="cut short"),
        ],
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
        fontsize=8,
        frameon=False,
    )
    ax.set_title(title if title is not None else f"session {frames.name}")
    return ax
