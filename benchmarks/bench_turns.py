"""Turn taking of the local engine: server VAD against semantic_vad, in one run.

Runs ``realtime-widget serve`` in its own process and, for every utterance and every
turn-detection setting (interleaved, so machine noise hits all settings alike), opens a
fresh session over a real WebSocket, streams the audio paced in real time in 20 ms
frames (frame i leaves at t0 + (i+1) x 20 ms, as a microphone delivers it) and records
when events arrive.

Utterances: 4 complete questions and 4 sentences with a mid-sentence pause of
0.4 / 0.7 / 1.0 / 1.5 s ("I'd like to fly to ... Boston on Friday."), each in 4 voices:
espeak-ng en-us, espeak-ng en-us with white noise at -40 dBFS, Piper "echo", Piper
"shimmer" with noise at -45 dBFS. (The real-voice WAV of the rtclient tests is not in
../shared/thirdparty on this machine, so no recorded human voice is included.)

Per setting:
  * voice-to-voice: last speech sample (stream time) -> first ``response.audio.delta``;
  * premature end-of-turn: paused utterances whose pause ended the turn;
  * missed end-of-turn: the turn never ended, or ended > 2 s after the last speech sample;
  * WER of the transcripts (``input_audio_transcription``), and the same audio with
    turn detection off and a manual ``input_audio_buffer.commit`` as the reference path.

    python benchmarks/bench_turns.py                 # 32 utterances x 5 settings, ~9 min with --per-kind 2
    python benchmarks/bench_turns.py --voices 2 --per-kind 2   # quick look
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from speech_fixtures import speak, speech_bounds, word_errors  # noqa: E402

RATE = 24000
FRAME = RATE * 20 // 1000  # samples per 20 ms frame
LEAD_S, TAIL_S = 0.5, 2.6
MISSED_AFTER_S = 2.0
COMPLETE = [
    "What is the weather like in Paris?",
    "Please book a table for two tonight.",
    "How far away is the moon from the earth?",
    "Turn off the lights in the kitchen please.",
]
PAUSED = [
    ("I'd like to fly to", "Boston on Friday."),
    ("Can you tell me about the", "history of Rome?"),
    ("My favourite colour is", "a very dark blue."),
    ("Remind me to call", "my mother tomorrow morning."),
]
PAUSES_S = [0.4, 0.7, 1.0, 1.5]
VOICES = [  # (name, engine, voice, noise dBFS)
    ("espeak", "espeak", "en-us", None),
    ("piper-echo", "piper", "echo", None),
    ("espeak+noise", "espeak", "en-us", -40.0),
    ("piper-shimmer+noise", "piper", "shimmer", -45.0),
]
SETTINGS = {
    "server_vad": {"type": "server_vad"},
    "semantic high": {"type": "semantic_vad", "eagerness": "high"},
    # medium has exactly auto's parameters (GA: auto = medium), so it is not run separately
    "semantic auto": {"type": "semantic_vad", "eagerness": "auto"},
    "semantic low": {"type": "semantic_vad", "eagerness": "low"},
    "manual commit": None,
}


@dataclass
class Utterance:
    name: str
    text: str
    audio: np.ndarray  # int16 at 24 kHz, with lead and tail silence (and noise)
    last_speech_ms: float
    pause_ms: tuple[float, float] | None = None  # (start, end) of the mid-sentence pause


@dataclass
class Trial:
    setting: str
    utterance: Utterance
    v2v_ms: float | None = None
    end_delay_ms: float | None = None
    premature: bool = False
    transcript: str = ""
    events: list = field(default_factory=list)


def _trim(x: np.ndarray) -> np.ndarray:
    a, b = speech_bounds(x, RATE)
    return x[a:b]


def build_utterances(voices: int, per_kind: int) -> list[Utterance]:
    from realtime_widget.engine.speech import get_synthesizer

    tts = get_synthesizer()

    def say(engine: str, voice: str, text: str) -> np.ndarray:
        if engine == "espeak":
            return _trim(np.asarray(speak(text, voice=voice)))
        return _trim(np.frombuffer(tts.synthesize(text, voice), dtype=np.int16))

    out = []
    rng = np.random.default_rng(7)
    for vname, engine, voice, noise in VOICES[:voices]:
        items: list[tuple[str, list[np.ndarray], float | None]] = []
        for text in COMPLETE[:per_kind]:
            items.append((text, [say(engine, voice, text)], None))
        for (a, b), pause in list(zip(PAUSED, PAUSES_S))[:per_kind]:
            items.append((f"{a} {b}", [say(engine, voice, a), say(engine, voice, b)], pause))
        for text, parts, pause in items:
            lead = np.zeros(int(LEAD_S * RATE), np.int16)
            segs = [lead, parts[0]]
            pause_ms = None
            if pause is not None:
                start = (lead.size + parts[0].size) * 1000 / RATE
                pause_ms = (start, start + pause * 1000)
                segs += [np.zeros(int(pause * RATE), np.int16), parts[1]]
            speech_end = sum(s.size for s in segs)
            audio = np.concatenate(segs + [np.zeros(int(TAIL_S * RATE), np.int16)]).astype(
                np.float64
            )
            if noise is not None:
                audio += rng.standard_normal(audio.size) * 10 ** (noise / 20) * 32768
            audio = np.clip(np.round(audio), -32768, 32767).astype(np.int16)
            kind = "paused" if pause else "complete"
            out.append(
                Utterance(
                    f"{vname}/{kind}: {text}", text, audio, speech_end * 1000 / RATE, pause_ms
                )
            )
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def run_trial(port: int, setting: str, utt: Utterance) -> Trial:
    req = HTTPRequest(
        f"ws://127.0.0.1:{port}/v1/realtime?model=bench", headers={"OpenAI-Beta": "realtime=v1"}
    )
    ws = await websocket_connect(req, max_message_size=64 << 20)
    events: list[tuple[float, dict]] = []
    changed = asyncio.Event()

    async def read() -> None:
        while (msg := await ws.read_message()) is not None:
            events.append((time.perf_counter(), json.loads(msg)))
            changed.set()

    reader = asyncio.ensure_future(read())

    async def until(pred, timeout: float) -> bool:
        deadline = time.perf_counter() + timeout
        while not pred():
            changed.clear()
            left = deadline - time.perf_counter()
            if left <= 0:
                return False
            try:
                await asyncio.wait_for(changed.wait(), left)
            except asyncio.TimeoutError:
                return False
        return True

    def of(kind: str) -> list[tuple[float, dict]]:
        return [(t, e) for t, e in events if e["type"] == kind]

    td = SETTINGS[setting]
    ws.write_message(
        json.dumps(
            {
                "type": "session.update",
                "session": {
                    "input_audio_transcription": {"model": "whisper-1"},
                    "turn_detection": td,
                },
            }
        )
    )
    await until(lambda: of("session.updated"), 30)
    pcm = utt.audio.astype("<i2").tobytes()
    t0 = time.perf_counter()
    for i, off in enumerate(range(0, len(pcm), FRAME * 2)):
        delay = t0 + (i + 1) * 0.02 - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        ws.write_message(
            json.dumps(
                {
                    "type": "input_audio_buffer.append",
                    "audio": base64.b64encode(pcm[off : off + FRAME * 2]).decode(),
                }
            )
        )
    trial = Trial(setting, utt)
    t_last = t0 + utt.last_speech_ms / 1000
    if td is None:
        ws.write_message(json.dumps({"type": "input_audio_buffer.commit"}))
        ws.write_message(json.dumps({"type": "response.create"}))
    await until(
        lambda: (
            any(e["type"] == "response.done" and t > t_last for t, e in events)
            and len(of("conversation.item.input_audio_transcription.completed"))
            >= len(of("input_audio_buffer.committed"))
        ),
        8 if td is None else 3.5,
    )  # a turn not over by then is missed anyway
    stops = of("input_audio_buffer.speech_stopped")
    if utt.pause_ms is not None:
        trial.premature = any(e["audio_end_ms"] < utt.pause_ms[1] + 100 for _, e in stops)
    final = [t for t, e in stops if e["audio_end_ms"] >= utt.last_speech_ms - 100]
    if final:
        trial.end_delay_ms = (final[0] - t_last) * 1000
        deltas = [t for t, e in of("response.audio.delta") if t >= final[0]]
        if deltas:
            trial.v2v_ms = (deltas[0] - t_last) * 1000
    trial.transcript = " ".join(
        e["transcript"] for _, e in of("conversation.item.input_audio_transcription.completed")
    )
    trial.events = [e["type"] for _, e in events]
    reader.cancel()
    ws.close()
    return trial


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def report(trials: list[Trial]) -> None:
    print(
        f"\n{'setting':16s} {'v2v p50':>8s} {'v2v p95':>8s} {'n':>3s} {'premature':>10s} {'missed':>8s} {'WER':>6s}"
    )
    for setting in SETTINGS:
        ts = [t for t in trials if t.setting == setting]
        paused = [t for t in ts if t.utterance.pause_ms]
        missed = [t for t in ts if t.end_delay_ms is None or t.end_delay_ms > MISSED_AFTER_S * 1000]
        v2v = [t.v2v_ms for t in ts if t.v2v_ms is not None and t not in missed]
        errs = [word_errors(t.utterance.text, t.transcript) for t in ts]
        wer = sum(e for e, _ in errs) / max(1, sum(n for _, n in errs))
        if SETTINGS[setting] is None:
            print(f"{setting:16s} {'-':>8s} {'-':>8s} {len(ts):3d} {'-':>10s} {'-':>8s} {wer:6.1%}")
            continue
        print(
            f"{setting:16s} {pct(v2v, 50):8.0f} {pct(v2v, 95):8.0f} {len(v2v):3d} "
            f"{sum(t.premature for t in paused):4d}/{len(paused):<5d} {len(missed):3d}/{len(ts):<4d} {wer:6.1%}"
        )


async def run(args) -> None:
    utterances = build_utterances(args.voices, args.per_kind)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "realtime_widget", "serve", "--port", str(port)],
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    try:
        for line in proc.stderr:
            if "listening" in line:
                break
        trials = []
        for utt in utterances:
            for setting in SETTINGS:
                trial = await run_trial(port, setting, utt)
                trials.append(trial)
                if args.verbose:
                    print(
                        f"{setting:16s} {utt.name[:60]:60s} v2v={trial.v2v_ms} end={trial.end_delay_ms} "
                        f"premature={trial.premature} heard={trial.transcript!r}",
                        flush=True,
                    )
        print(
            f"{len(utterances)} utterances ({args.voices} voices x {args.per_kind} complete + {args.per_kind} paused),"
            f" {len(SETTINGS)} settings, interleaved, one server"
        )
        report(trials)
        if args.json:
            Path(args.json).write_text(
                json.dumps(
                    [
                        {
                            "setting": t.setting,
                            "utterance": t.utterance.name,
                            "v2v_ms": t.v2v_ms,
                            "end_delay_ms": t.end_delay_ms,
                            "premature": t.premature,
                            "transcript": t.transcript,
                        }
                        for t in trials
                    ],
                    indent=1,
                )
            )
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--voices", type=int, default=len(VOICES))
    parser.add_argument("--per-kind", type=int, default=4)
    parser.add_argument("--json", default="")
    parser.add_argument("-v", "--verbose", action="store_true")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
