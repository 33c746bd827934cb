"""The floor under the local engine's voice-to-voice time: its parts, each timed alone.

The engine answers a spoken turn in a cascade: Silero hears the silence, Smart Turn and
Moonshine start together at the first silent frame (the end-of-turn answer and the
speculative transcript), the brain reads the transcript, and Piper synthesises the reply's
first clause. Even an instant, always-right end-of-turn decision cannot make a turn
faster than

    floor = (last speech sample -> first silent frame heard)
          + (Smart Turn and Moonshine, started together, both done)
          + (Piper's first clause, "You said:")

This script times those parts in one process with nothing else running, on the complete
sentences of ``bench_turns.py`` (same voices, same audio), and prints the p50 of each
part and of the floor. Each call is timed 3 times; the median counts.

    python benchmarks/bench_turn_floor.py                 # 20 sentences, 5 voices, ~1 min
    REALTIME_WIDGET_SPEECH_THREADS=2 python benchmarks/bench_turn_floor.py   # 2-thread ASR/TTS
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_turns import LEAD_S, RATE, build_utterances  # noqa: E402

FIRST_CLAUSE = "You said:"  # the rules brain's first clause: the first audio waits for it


def _ms(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return float(np.median(times))


def _silence_heard_ms(segmenter, audio: np.ndarray, last_speech_ms: float) -> float:
    """Stream time from the last speech sample to the frame where Silero hears silence
    (the engine starts its speculative work there), fed in 20 ms frames."""
    frame = RATE // 50
    for i in range(0, audio.size, frame):
        segmenter.feed(audio[i : i + frame])
        end = (i + frame) * 1000 / RATE
        if end > last_speech_ms and segmenter.pending_speech_end_ms is not None:
            return end - last_speech_ms
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--voices", type=int, default=5)
    parser.add_argument("--per-kind", type=int, default=4)
    args = parser.parse_args()

    import soxr

    from realtime_widget.engine.speech import get_speech_models
    from realtime_widget.engine.speech.end_of_turn import prepare_turn
    from realtime_widget.engine.speech.models import get_turn_model

    models = get_speech_models(warm_up=True)
    turn_model = get_turn_model()
    rows = []
    for utt in build_utterances(args.voices, args.per_kind):
        if utt.pause_ms is not None:
            continue
        start = int((LEAD_S - 0.3) * RATE)  # the turn as the engine keeps it (300 ms prefix)
        turn = utt.audio[start : int(utt.last_speech_ms * RATE / 1000)]
        turn16k = prepare_turn(soxr.resample(turn.astype(np.float32) / 32768, RATE, 16000))
        heard = _silence_heard_ms(models.new_segmenter(), utt.audio, utt.last_speech_ms)
        asr = _ms(lambda: models.transcriber.transcribe(turn))  # noqa: B023
        judge = _ms(lambda: turn_model.judge(turn16k).result())  # noqa: B023

        def together() -> None:
            answer = turn_model.judge(turn16k)  # noqa: B023
            worker = threading.Thread(target=models.transcriber.transcribe, args=(turn,))  # noqa: B023
            worker.start()
            answer.result()
            worker.join()

        both = _ms(together)

        def first_clause() -> None:
            next(iter(models.synthesizer.stream(FIRST_CLAUSE, "alloy")))

        tts = _ms(first_clause)
        rows.append((utt.name, heard, asr, judge, both, tts, heard + both + tts))
        print(
            f"{utt.name[:60]:60s} heard {heard:4.0f}  asr {asr:4.0f}  judge {judge:4.0f}  "
            f"both {both:4.0f}  tts {tts:4.0f}  floor {heard + both + tts:4.0f}",
            flush=True,
        )
    a = np.array([r[1:] for r in rows])
    p50 = np.nanmedian(a, axis=0)  # nan: Silero never heard the silence (a breath, noise)
    threads = os.environ.get("REALTIME_WIDGET_SPEECH_THREADS", "1 (default)")
    print(f"\n{len(rows)} complete sentences, speech threads {threads}; p50 in ms:")
    names = ["silence heard", "ASR alone", "Smart Turn alone", "both at once", "first clause"]
    for name, v in zip(names + ["floor"], p50, strict=True):
        print(f"  {name:18s} {v:6.0f}")
    print(f"  floor p95          {np.nanpercentile(a[:, -1], 95):6.0f}")
    print(f"  ({int(np.isnan(a[:, 0]).sum())} sentences whose silence Silero never heard left out)")


if __name__ == "__main__":
    main()
