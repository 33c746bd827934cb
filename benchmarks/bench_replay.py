"""A replay grid on the local engine: ``replay_many`` against the same replays one by one.

Records 10 source sessions in direct mode (the real local engine in this process: Silero
VAD, Moonshine, Piper, the rules brain), each a typed turn and a spoken turn (espeak-ng
speech, server VAD), then replays the 10 sources x 3 configurations (new instructions,
another voice, a slower VAD) twice in one run:

* one by one: ``replay(source, **config)`` for each cell, timed; the sum of the 30;
* as a grid: ``replay_many(sources, configs, max_concurrency=N)``, wall time, for each N.

The ratio sum / grid is what running the cells side by side gains on this machine.

    python benchmarks/bench_replay.py                    # 10 x 3, max_concurrency 2, 4, 8
    python benchmarks/bench_replay.py --sources 4 --concurrency 4   # quick look
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from speech_fixtures import ESPEAK_SENTENCES, speak  # noqa: E402

TYPED = [
    "Good morning",
    "Hello there",
    "Please open the window",
    "What day is it",
    "Thank you very much",
]
CONFIGS = {
    "instructions": {"instructions": "Answer in one short sentence."},
    "voice": {"voice": "echo"},
    "slow_vad": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 900}},
}


def record_sources(n: int) -> list[str]:
    from realtime_widget import Session

    ids = []
    for i in range(n):
        s = Session(mode="direct")
        s.say(TYPED[i % len(TYPED)])
        s.send_audio(speak(ESPEAK_SENTENCES[i % len(ESPEAK_SENTENCES)]), wait=True)
        s.close()
        ids.append(s.id)
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=10)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[2, 4, 8])
    args = parser.parse_args()

    os.environ.setdefault("REALTIME_WIDGET_LOG_DIR", tempfile.mkdtemp(prefix="bench-replay-"))
    from realtime_widget.engine.speech_stack import SpeechStack

    from realtime_widget import replay, replay_many
    from realtime_widget.hub.upstreams import set_shared_speech_stack

    set_shared_speech_stack(SpeechStack.load(warm_up=True))
    sources = record_sources(args.sources)
    replay(sources[0], progress=False).close()  # warm-up: not measured

    singles = []
    for source in sources:
        for config in CONFIGS.values():
            t0 = time.perf_counter()
            session = replay(source, progress=False, **config)
            singles.append(time.perf_counter() - t0)
            session.close()
    total = sum(singles)

    walls = {}
    for concurrency in args.concurrency:
        t0 = time.perf_counter()
        grid = replay_many(sources, CONFIGS, max_concurrency=concurrency, progress=False)
        walls[concurrency] = time.perf_counter() - t0
        grid.close()

    cells = len(sources) * len(CONFIGS)
    print(f"cells: {len(sources)} sources x {len(CONFIGS)} configurations = {cells}")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end")
    print(
        f"one by one: sum {total:.1f} s (per replay mean {total / cells:.2f} s, "
        f"min {min(singles):.2f} s, max {max(singles):.2f} s)"
    )
    for concurrency, wall in walls.items():
        print(
            f"replay_many(max_concurrency={concurrency}): wall {wall:.1f} s, "
            f"ratio sum / grid {total / wall:.2f}x"
        )


if __name__ == "__main__":
    main()
