"""Fair inference scheduling (issue 11, defect 7): a victim's spoken-turn latency alone
and while another session sends four 14 MiB append + commit turns, in one run.

``realtime-widget serve`` (speech on) in its own process; two clients over real
WebSockets:

* the victim streams espeak-ng speech paced in real time in 20 ms frames (server VAD) and
  times ``input_audio_buffer.speech_stopped`` -> first ``response.audio.delta``;
* the hog (turn detection off, transcription on) sends four appends of 14 MiB of speech
  (~306 s each) and four commits at once: four long recognitions queued together.

Victim turns are measured alone, then while the hog's work runs (only turns that ended
before the hog's last transcription count as "under load"). Configurations
(``--configs``): ``fair`` (the default scheduler: one heavy model call per session at once)
and ``uncapped`` (``--inference-per-session 4``: one session may fill the heavy threads,
as the plain shared pool let it).

    python benchmarks/bench_fairness.py                 # both configurations, 5 + 5 turns each
    python benchmarks/bench_fairness.py --configs fair --turns 8
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))
from bench_engine import SENTENCES, Client, free_port, spoken_turn  # noqa: E402
from speech_fixtures import ESPEAK_SENTENCES, speak  # noqa: E402

HOG_BYTES = 14 * 1024 * 1024


def spawn_engine(port: int, extra: list[str]) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "realtime_widget", "serve", "--port", str(port), *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    for line in proc.stderr:
        if "listening" in line:
            threading.Thread(target=proc.stderr.read, daemon=True).start()
            return proc
    raise RuntimeError("engine did not start")


async def hog_load(port: int, audio: bytes, done: asyncio.Event, timings: dict) -> None:
    hog = await Client.connect(port)
    hog.send(
        {
            "type": "session.update",
            "session": {
                "turn_detection": None,
                "input_audio_transcription": {"model": "whisper-1"},
            },
        }
    )
    await hog.wait_for("session.updated")
    encoded = base64.b64encode(audio).decode()
    t0 = time.perf_counter()
    for _ in range(4):
        hog.send({"type": "input_audio_buffer.append", "audio": encoded})
        hog.send({"type": "input_audio_buffer.commit"})
    for _ in range(4):
        await hog.wait_for("input_audio_buffer.committed", timeout=600)
    timings["committed"] = time.perf_counter()
    for _ in range(4):
        await hog.wait_for("conversation.item.input_audio_transcription.completed", timeout=1200)
    timings["hog_seconds"] = time.perf_counter() - t0
    done.set()
    hog.close()


async def run_config(name: str, args, clips: list[bytes], hog_audio: bytes) -> dict:
    port = free_port()
    proc = spawn_engine(port, ["--inference-per-session", "4"] if name == "uncapped" else [])
    try:
        victim = await Client.connect(port)
        alone = [
            (await spoken_turn(victim, clips[i % len(clips)]))["stopped_to_audio_ms"]
            for i in range(args.turns)
        ]
        done, timings = asyncio.Event(), {}
        hog = asyncio.ensure_future(hog_load(port, hog_audio, done, timings))
        while "committed" not in timings:  # the hog's four turns are queued
            await asyncio.sleep(0.05)
        loaded = []
        i = 0
        while not done.is_set() and len(loaded) < args.turns:
            try:
                ms = (await spoken_turn(victim, clips[i % len(clips)]))["stopped_to_audio_ms"]
            except asyncio.TimeoutError:  # starved: no reply within bench_engine's 60 s wait
                victim.close()
                loaded.append(float("inf"))
                victim = await Client.connect(port)
                continue
            i += 1
            if not done.is_set():
                loaded.append(ms)
        await hog
        victim.close()
        return {"alone": alone, "loaded": loaded, "hog_seconds": timings["hog_seconds"]}
    finally:
        proc.terminate()
        proc.wait(20)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--configs", default="fair,uncapped")
    args = parser.parse_args()
    clips = [speak(s).astype("<i2").tobytes() for s in SENTENCES]
    speech = np.concatenate([speak(s) for s in ESPEAK_SENTENCES]).astype("<i2").tobytes()
    hog_audio = (speech * (HOG_BYTES // len(speech) + 1))[:HOG_BYTES]
    print(
        "victim: speech_stopped -> first response.audio.delta (ms); hog: 4 x 14 MiB append + commit"
    )
    for name in args.configs.split(","):
        r = await run_config(name, args, clips, hog_audio)
        alone, loaded = (
            statistics.median(r["alone"]),
            statistics.median(r["loaded"]) if r["loaded"] else float("nan"),
        )
        loaded_txt = [round(x) if x != float("inf") else ">60000" for x in r["loaded"]]
        print(
            f"{name:9s} alone: median {alone:.0f} ms {[round(x) for x in r['alone']]}; "
            f"under load: median {loaded:.0f} ms {loaded_txt}; "
            f"ratio {loaded / alone:.2f}; the hog's four turns took {r['hog_seconds']:.0f} s",
            flush=True,
        )


if __name__ == "__main__":
    asyncio.run(main())
