"""Protocol parsing / serialisation throughput on one core.

    python benchmarks/bench_protocol.py [--number 200000] [--repeat 5]

Events: ``input_audio_buffer.append`` and ``response.audio.delta`` carrying 20 ms of
24 kHz PCM16 (960 bytes, a 1280-character base64 string that is not decoded).
Goal: >= 50,000 parse+validate events/s each.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from realtime_widget.protocol import (
    InputAudioBufferAppend,
    ResponseAudioDelta,
    parse_client_event,
    parse_server_event,
)

GOAL = 50_000
AUDIO_20MS = base64.b64encode(os.urandom(24_000 * 2 * 20 // 1000)).decode("ascii")


def events_per_second(fn: Callable[[], Any], number: int, repeat: int) -> float:
    """Best of ``repeat`` runs of ``number`` calls (the least disturbed run)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, time.perf_counter() - start)
    return number / best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--number", type=int, default=100_000, help="calls per run")
    parser.add_argument("--repeat", type=int, default=5, help="runs; the best is reported")
    args = parser.parse_args()

    if hasattr(os, "sched_setaffinity"):  # one core, as the goal says
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    append = InputAudioBufferAppend(event_id="event_client_1", audio=AUDIO_20MS)
    delta = ResponseAudioDelta(
        response_id="resp_1", item_id="item_1", output_index=0, content_index=0, delta=AUDIO_20MS
    )
    append_json, delta_json = append.to_json(), delta.to_json()
    append_bytes, delta_bytes = append_json.encode(), delta_json.encode()
    append_dict, delta_dict = json.loads(append_json), json.loads(delta_json)
    assert parse_client_event(append_json) == append and parse_server_event(delta_json) == delta

    cases: list[tuple[str, Callable[[], Any], bool]] = [
        ("parse input_audio_buffer.append (str)", lambda: parse_client_event(append_json), True),
        ("parse input_audio_buffer.append (bytes)", lambda: parse_client_event(append_bytes), True),
        ("parse input_audio_buffer.append (dict)", lambda: parse_client_event(append_dict), False),
        ("parse response.audio.delta (str)", lambda: parse_server_event(delta_json), True),
        ("parse response.audio.delta (bytes)", lambda: parse_server_event(delta_bytes), True),
        ("parse response.audio.delta (dict)", lambda: parse_server_event(delta_dict), False),
        ("to_json input_audio_buffer.append", append.to_json, False),
        ("to_json response.audio.delta", delta.to_json, False),
        ("to_dict response.audio.delta", delta.to_dict, False),
        (
            "construct ResponseAudioDelta (new event_id)",
            lambda: ResponseAudioDelta(
                response_id="resp_1",
                item_id="item_1",
                output_index=0,
                content_index=0,
                delta=AUDIO_20MS,
            ),
            False,
        ),
        ("reference: json.loads of the delta", lambda: json.loads(delta_json), False),
    ]

    print(
        f"Python {sys.version.split()[0]}, base64 payload {len(AUDIO_20MS)} chars (20 ms, 24 kHz "
        "PCM16), "
        f"best of {args.repeat} x {args.number:,}"
    )
    print(f"{'benchmark':<46} {'events/s':>12} {'us/event':>9}  goal")
    failed = False
    for name, fn, has_goal in cases:
        rate = events_per_second(fn, args.number, args.repeat)
        verdict = ""
        if has_goal:
            ok = rate >= GOAL
            failed |= not ok
            verdict = f">= {GOAL:,}: {'ok' if ok else 'MISSED'}"
        print(f"{name:<46} {rate:>12,.0f} {1e6 / rate:>9.2f}  {verdict}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
