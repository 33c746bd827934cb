"""A synthetic session log written by the hub's own :class:`EventLog`, on a fake clock.

Used by the DataFrame tests (exact times are known, so latencies can be checked to the
millisecond) and by ``benchmarks/bench_frames.py`` (a log of 1,000,000 events).

Each spoken turn is what the hub logs for a server-VAD turn with the local engine:
``input_audio_buffer.append`` x N (client), ``speech_started`` / ``speech_stopped`` /
``committed`` / ``conversation.item.created``, then a response: ``response.created``,
``output_item.added``, ``conversation.item.created``, ``content_part.added``, D x
(``response.audio_transcript.delta`` + ``response.audio.delta``), the ``*.done`` events,
``response.done`` with usage, ``rate_limits.updated``.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from realtime_widget.hub import eventlog as _eventlog
from realtime_widget.hub.eventlog import EventLog


class FakeClock:
    def __init__(self, wall: float = 1_800_000_000.0, mono: float = 1000.0):
        self.wall0, self.mono0 = wall, mono
        self.now = 0.0  # seconds since the start

    def time(self) -> float:
        return self.wall0 + self.now

    def monotonic(self) -> float:
        return self.mono0 + self.now

    def __getattr__(self, name: str) -> Any:  # anything else of the time module
        import time

        return getattr(time, name)


@contextlib.contextmanager
def fake_time(clock: FakeClock) -> Iterator[FakeClock]:
    real = _eventlog.time
    _eventlog.time = clock  # type: ignore[assignment]
    try:
        yield clock
    finally:
        _eventlog.time = real


@dataclass
class TurnPlan:
    """What one synthetic spoken turn did (for the tests' expectations)."""

    user_item: str
    assistant_item: str
    response_id: str
    speech_stopped_s: float
    created_s: float
    first_audio_s: float
    done_s: float
    deltas: list[str] = field(default_factory=list)
    status: str = "completed"


@dataclass
class SyntheticLog:
    path: Path
    turns: list[TurnPlan]
    n_events: int


def write_synthetic_log(
    directory: Path,
    *,
    n_events: int | None = None,
    turns: int = 3,
    appends_per_turn: int = 10,
    deltas_per_turn: int = 8,
    audio_bytes: int = 4800,
    cancel_every: int = 0,
) -> SyntheticLog:
    """Write a log of spoken turns into ``directory`` (a session directory). With
    ``n_events`` turns are added until the log has at least that many records."""
    log = EventLog.create(directory)
    clock = FakeClock()
    plans: list[TurnPlan] = []
    chunk = base64.b64encode(b"\x01\x00" * (audio_bytes // 2)).decode()
    ids = iter(range(1, 10**9))

    def nid(prefix: str) -> str:
        return f"{prefix}_{next(ids):08d}"

    count = 0

    def server(event: dict[str, Any]) -> None:
        nonlocal count
        event.setdefault("event_id", nid("event"))
        log.append(event, direction="server", source="upstream")
        count += 1

    def client(event: dict[str, Any]) -> None:
        nonlocal count
        event.setdefault("event_id", nid("event_k"))
        log.append(event, direction="client", source="kernel", client="c1")
        count += 1

    def full() -> bool:
        return n_events is not None and count >= n_events

    with fake_time(clock):
        server(
            {
                "type": "session.created",
                "session": {
                    "id": "sess_1",
                    "model": "local-realtime",
                    "modalities": ["text", "audio"],
                    "voice": "alloy",
                    "input_audio_format": "pcm16",
                    "output_audio_format": "pcm16",
                    "turn_detection": {
                        "type": "server_vad",
                        "threshold": 0.5,
                        "silence_duration_ms": 500,
                    },
                },
            }
        )
        server(
            {
                "type": "conversation.created",
                "conversation": {"id": "conv_1", "object": "realtime.conversation"},
            }
        )
        previous = None
        turn = 0
        while (n_events is None and turn < turns) or (n_events is not None and not full()):
            turn += 1
            user, assistant, resp = nid("item_u"), nid("item_a"), nid("resp")
            for _ in range(appends_per_turn):
                if full():
                    break
                clock.now += 0.1
                client({"type": "input_audio_buffer.append", "audio": chunk})
            if full():
                break
            server(
                {
                    "type": "input_audio_buffer.speech_started",
                    "audio_start_ms": 100,
                    "item_id": user,
                }
            )
            clock.now += 0.5
            stopped = clock.now
            server(
                {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 900, "item_id": user}
            )
            server(
                {
                    "type": "input_audio_buffer.committed",
                    "previous_item_id": previous,
                    "item_id": user,
                }
            )
            server(
                {
                    "type": "conversation.item.created",
                    "previous_item_id": previous,
                    "item": {
                        "id": user,
                        "object": "realtime.item",
                        "type": "message",
                        "role": "user",
                        "status": "completed",
                        "content": [{"type": "input_audio", "transcript": None}],
                    },
                }
            )
            clock.now += 0.05
            created = clock.now
            server(
                {
                    "type": "response.created",
                    "response": {
                        "object": "realtime.response",
                        "id": resp,
                        "status": "in_progress",
                        "status_details": None,
                        "output": [],
                        "usage": None,
                    },
                }
            )
            server(
                {
                    "type": "response.output_item.added",
                    "response_id": resp,
                    "output_index": 0,
                    "item": {
                        "id": assistant,
                        "object": "realtime.item",
                        "type": "message",
                        "role": "assistant",
                        "status": "in_progress",
                        "content": [],
                    },
                }
            )
            server(
                {
                    "type": "conversation.item.created",
                    "previous_item_id": user,
                    "item": {
                        "id": assistant,
                        "object": "realtime.item",
                        "type": "message",
                        "role": "assistant",
                        "status": "in_progress",
                        "content": [],
                    },
                }
            )
            server(
                {
                    "type": "response.content_part.added",
                    "response_id": resp,
                    "item_id": assistant,
                    "output_index": 0,
                    "content_index": 0,
                    "part": {"type": "audio", "transcript": ""},
                }
            )
            plan = TurnPlan(user, assistant, resp, stopped, created, 0.0, 0.0)
            cancelled = cancel_every and turn % cancel_every == 0
            for d in range(deltas_per_turn):
                clock.now += 0.25 if d == 0 else 0.02
                word = f"w{turn}_{d} "
                plan.deltas.append(word)
                server(
                    {
                        "type": "response.audio_transcript.delta",
                        "response_id": resp,
                        "item_id": assistant,
                        "output_index": 0,
                        "content_index": 0,
                        "delta": word,
                    }
                )
                if d == 0:
                    plan.first_audio_s = clock.now
                server(
                    {
                        "type": "response.audio.delta",
                        "response_id": resp,
                        "item_id": assistant,
                        "output_index": 0,
                        "content_index": 0,
                        "delta": chunk,
                    }
                )
                if full():
                    break
            if full():
                break
            text = "".join(plan.deltas)
            clock.now += 0.01
            status = "cancelled" if cancelled else "completed"
            plan.status = status
            server(
                {
                    "type": "response.audio.done",
                    "response_id": resp,
                    "item_id": assistant,
                    "output_index": 0,
                    "content_index": 0,
                }
            )
            server(
                {
                    "type": "response.audio_transcript.done",
                    "response_id": resp,
                    "item_id": assistant,
                    "output_index": 0,
                    "content_index": 0,
                    "transcript": text,
                }
            )
            server(
                {
                    "type": "response.content_part.done",
                    "response_id": resp,
                    "item_id": assistant,
                    "output_index": 0,
                    "content_index": 0,
                    "part": {"type": "audio", "transcript": text},
                }
            )
            item_done = {
                "id": assistant,
                "object": "realtime.item",
                "type": "message",
                "role": "assistant",
                "status": "incomplete" if cancelled else "completed",
                "content": [{"type": "audio", "transcript": text}],
            }
            server(
                {
                    "type": "response.output_item.done",
                    "response_id": resp,
                    "output_index": 0,
                    "item": item_done,
                }
            )
            plan.done_s = clock.now
            server(
                {
                    "type": "response.done",
                    "response": {
                        "object": "realtime.response",
                        "id": resp,
                        "status": status,
                        "status_details": {"type": "cancelled", "reason": "turn_detected"}
                        if cancelled
                        else None,
                        "output": [item_done],
                        "usage": {
                            "total_tokens": 100 + turn,
                            "input_tokens": 60 + turn,
                            "output_tokens": 40,
                            "input_token_details": {
                                "cached_tokens": 20,
                                "text_tokens": 30 + turn,
                                "audio_tokens": 30,
                                "cached_tokens_details": {"text_tokens": 15, "audio_tokens": 5},
                            },
                            "output_token_details": {"text_tokens": 10, "audio_tokens": 30},
                        },
                    },
                }
            )
            server(
                {
                    "type": "rate_limits.updated",
                    "rate_limits": [
                        {"name": "requests", "limit": 1000, "remaining": 999, "reset_seconds": 60}
                    ],
                }
            )
            plans.append(plan)
            previous = assistant
    log.write_meta(
        {
            "id": directory.name,
            "name": "synthetic",
            "provider": "local",
            "model": "local-realtime",
            "owner": "test",
            "created_at": clock.wall0,
            "closed_at": clock.time(),
            "format": 1,
        }
    )
    log.close()
    return SyntheticLog(directory, plans, count)
