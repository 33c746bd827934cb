"""A session as a list of user turns: what the user said and everything the model did
until the next user turn. ``compare()`` lines sessions up by these turns and
``expect()`` checks them.

Built only from the session's own tables (``transcript()``, ``latency()``,
``usage()``), so latency and cost mean exactly what they mean there.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["ToolCall", "Turn", "session_turns"]


@dataclass(frozen=True)
class ToolCall:
    """A function call the model made: its name and arguments (parsed JSON when they
    parse, else the raw text)."""

    name: str
    arguments: Any
    arguments_text: str = ""

    def key(self) -> str:
        """A canonical form: two calls agree when their keys are equal."""
        args = self.arguments
        text = (
            json.dumps(args, sort_keys=True, separators=(",", ":"))
            if not isinstance(args, str)
            else args
        )
        return f"{self.name}({text})"

    def __str__(self) -> str:
        args = self.arguments
        shown = json.dumps(args, ensure_ascii=False) if not isinstance(args, str) else args
        return f"{self.name}({shown})"


@dataclass
class Turn:
    """One user turn and the model's answer to it."""

    index: int
    user: str
    user_input: str | None  # "audio" or "text"
    user_item_id: str
    assistant: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    response_ids: list[str] = field(default_factory=list)
    latency_ms: float = math.nan  # the turn's trigger -> its first audio
    voice_to_voice_ms: float = math.nan  # the user's last speech sample -> the first audio
    duration_ms: float = math.nan  # the turn's first response created -> last response done
    audio_ms: float = 0.0  # assistant audio received
    tokens: float = math.nan
    cost: float = math.nan
    interrupted: bool = False
    start_ms: float = math.nan  # when the user item appeared on the events' clock

    @property
    def tools(self) -> str:
        return "; ".join(str(c) for c in self.tool_calls)

    def tool_keys(self) -> tuple[str, ...]:
        return tuple(c.key() for c in self.tool_calls)


def _parse_arguments(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _finite(values: list[float]) -> list[float]:
    return [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]


def _place_empty_responses(turns: list[Turn], latency: Any) -> None:
    """Responses that made no item (cancelled at once, failed) go to the turn during
    which they were created."""
    placed = {r for t in turns for r in t.response_ids}
    starts = np.array([t.start_ms for t in turns], dtype=float)
    for rid, created in latency["created_ms"].items():
        if rid in placed or not isinstance(rid, str) or not np.isfinite(created):
            continue
        k = int(np.searchsorted(starts, created, side="right")) - 1
        if k >= 0:
            turns[k].response_ids.append(rid)
    for t in turns:
        order = latency["created_ms"].reindex(t.response_ids).to_numpy(dtype=float)
        t.response_ids = [t.response_ids[i] for i in np.argsort(order, kind="stable")]


def session_turns(frames: Any, prices: Mapping[str, float] | None = None) -> list[Turn]:
    """The user turns of a session (a :class:`~realtime_widget.frames.SessionFrames`), in
    order. Items before the first user message (a greeting) belong to no turn."""
    transcript = frames.transcript()
    latency = frames.latency().set_index("response_id")
    usage = frames.usage(prices).set_index("response_id")
    turns: list[Turn] = []
    for row in transcript.itertuples(index=False):
        if row.kind == "message" and row.role == "user":
            turns.append(
                Turn(
                    index=len(turns),
                    user=row.text or "",
                    user_input=row.input,
                    user_item_id=row.item_id,
                    start_ms=float(row.start_ms),
                )
            )
            continue
        if not turns:
            continue
        turn = turns[-1]
        rid = row.response_id if isinstance(row.response_id, str) else None
        if rid and rid not in turn.response_ids:
            turn.response_ids.append(rid)
        if row.kind == "message" and row.role == "assistant":
            turn.assistant = " ".join(x for x in (turn.assistant, row.text or "") if x)
            turn.interrupted = turn.interrupted or bool(row.interrupted)
        elif row.kind == "function_call":
            turn.tool_calls.append(
                ToolCall(str(row.name), _parse_arguments(row.text), row.text or "")
            )
    _place_empty_responses(turns, latency)
    for turn in turns:
        rows = latency.loc[[r for r in turn.response_ids if r in latency.index]]
        if len(rows):
            trigger = float(rows["trigger_ms"].iloc[0])
            first_audio = _finite(rows["first_audio_ms"].tolist())
            speech_end = float(rows["speech_end_ms"].iloc[0])
            if first_audio and not math.isnan(trigger):
                turn.latency_ms = round(min(first_audio) - trigger, 3)
            if first_audio and not math.isnan(speech_end):
                turn.voice_to_voice_ms = round(min(first_audio) - speech_end, 3)
            done = _finite(rows["done_ms"].tolist())
            if done:
                turn.duration_ms = round(max(done) - float(rows["created_ms"].iloc[0]), 3)
            turn.audio_ms = float(np.nansum(rows["audio_ms"].to_numpy(dtype=float)))
            turn.interrupted = turn.interrupted or bool(rows["interrupted"].any())
        used = usage.loc[[r for r in turn.response_ids if r in usage.index]]
        if len(used):
            turn.tokens = float(used["total_tokens"].sum())
            if "cost" in used.columns:
                turn.cost = float(used["cost"].sum())
    return turns
