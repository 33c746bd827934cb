"""Turn taking of the local engine: server VAD against semantic_vad, in one run.

Runs ``realtime-widget serve`` in its own process and, for every utterance and every
turn-detection setting (interleaved, so machine noise hits all settings alike), opens a
fresh session over a real WebSocket, streams the audio paced in real time in 20 ms
frames (frame i leaves at t0 + (i+1) x 20 ms, as a microphone delivers it) and records
when events arrive.

Utterances, per voice: 4 complete questions and 4 sentences with a mid-sentence pause
(0.4 / 0.7 / 1.0 / 1.5 s, rotated over the sentences from voice to voice: "I'd like to fly
to ... Boston on Friday."). Voices: espeak-ng en-us, Piper "echo", espeak-ng + white noise
at -40 dBFS, Piper "shimmer" + noise at -45 dBFS, and a recorded human voice: the
``beckett.wav`` test file of the ``moonshine-cpp`` wheel (already a dependency; the
rtclient test WAV is not in ../shared/thirdparty), cut into its 4 phrases ("Ever tried,
ever failed." ...) and, for the paused half, "Ever tried, ... ever failed." with each pause.

Per setting:
  * voice-to-voice: last speech sample (stream time) -> first ``response.audio.delta``,
    and where that time goes: VAD lag (last speech sample -> ``speech_end_ms``, the start of
    the silence Silero heard), decision (last speech sample -> ``speech_stopped`` arrives:
    the lag, the silence wait and the end-of-turn model), then ``speech_stopped`` ->
    transcript (recognition not yet done when the turn ended) and -> first audio (reply
    start and first synthesized chunk);
  * premature end-of-turn: paused utterances whose pause ended the turn;
  * missed end-of-turn: the turn never ended, or ended > 2 s after the last speech sample;
  * WER of the transcripts (``input_audio_transcription``), and the same audio with turn
    detection off and a manual ``input_audio_buffer.commit`` (streamed at full speed: its
    timing is not measured) as the reference path.

    python benchmarks/bench_turns.py                  # 40 utterances x 6 settings, ~25 min
    python benchmarks/bench_turns.py --voices 2 --per-kind 2   # quick look
    python benchmarks/bench_turns.py --settings server_vad "semantic high" "semantic auto"
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

from realtime_widget.engine.speech.end_of_turn import EAGERNESS  # noqa: E402

RATE = 24000
FRAME = RATE * 20 // 1000  # samples per 20 ms frame
LEAD_S, TAIL_S = 0.5, 2.3  # the tail covers the 2 s 'missed' limit
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
    ("human (beckett.wav)", "recording", "", None),
]
# beckett.wav (16 kHz): its phrases, and where "Ever tried, | ever failed." is split
RECORDED = [
    ("Ever tried, ever failed.", 0, 2950),
    ("No matter.", 2950, 4200),
    ("Try again.", 4200, 5900),
    ("Fail again. Fail better.", 6500, 10000),
]
RECORDED_PAUSED = ("Ever tried, ever failed.", 0, 1300, 2950)
SETTINGS = {
    "server_vad": {"type": "server_vad"},
    "semantic high": {"type": "semantic_vad", "eagerness": "high"},
    # medium has exactly auto's parameters (GA: auto = medium): the pair shows the noise
    "semantic medium": {"type": "semantic_vad", "eagerness": "medium"},
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
    end_delay_ms: float | None = None  # last speech sample -> speech_stopped arrives
    vad_lag_ms: float | None = None  # last speech sample -> speech_end_ms (stream time)
    asr_wait_ms: float | None = None  # speech_stopped -> transcript, when later
    reply_ms: float | None = None  # max(speech_stopped, transcript) -> first audio
    premature: bool = False
    transcript: str = ""
    events: list = field(default_factory=list)


def _trim(x: np.ndarray) -> np.ndarray:
    a, b = speech_bounds(x, RATE)
    return x[a:b]


def _recording() -> np.ndarray:
    """beckett.wav of the moonshine-cpp wheel (a real voice), int16 at 24 kHz."""
    import wave
    from importlib import resources

    import soxr

    with wave.open(str(resources.files("moonshine_cpp") / "test-data" / "beckett.wav")) as w:
        rate = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    y = soxr.resample(x.astype(np.float32), rate, RATE, quality="HQ")
    return np.clip(np.round(y), -32768, 32767).astype(np.int16)


def build_utterances(voices: int, per_kind: int) -> list[Utterance]:
    from realtime_widget.engine.speech import get_synthesizer

    tts = get_synthesizer()

    def say(engine: str, voice: str, text: str) -> np.ndarray:
        if engine == "espeak":
            return _trim(np.asarray(speak(text, voice=voice)))
        return _trim(np.frombuffer(tts.synthesize(text, voice), dtype=np.int16))

    out = []
    rng = np.random.default_rng(7)
    for v, (vname, engine, voice, noise) in enumerate(VOICES[:voices]):
        items: list[tuple[str, list[np.ndarray], float | None]] = []
        pauses = PAUSES_S[v % 4 :] + PAUSES_S[: v % 4]  # each sentence meets every pause
        if engine == "recording":
            rec = _recording()

            def cut(a_ms: int, b_ms: int) -> np.ndarray:
                return _trim(rec[a_ms * RATE // 1000 : b_ms * RATE // 1000])  # noqa: B023

            for text, a, b in RECORDED[:per_kind]:
                items.append((text, [cut(a, b)], None))
            text, a, mid, b = RECORDED_PAUSED
            for pause in PAUSES_S[:per_kind]:
                items.append((text, [cut(a, mid), cut(mid, b)], pause))
        else:
            for text in COMPLETE[:per_kind]:
                items.append((text, [say(engine, voice, text)], None))
            for (a, b), pause in list(zip(PAUSED, pauses, strict=True))[:per_kind]:
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
            kind = f"paused {pause} s" if pause else "complete"
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
        if td is None:  # the reference path: only its transcript is measured
            delay = 0 if i % 50 else 0.001
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
    # the turn's end: the last speech_stopped, past the pause, with no speech after it
    # (not "within x ms of the last loud sample": a real voice fades out for a while)
    starts = of("input_audio_buffer.speech_started")
    last_speech_part = utt.pause_ms[1] if utt.pause_ms else LEAD_S * 1000
    final = [
        (t, e)
        for t, e in stops[-1:]
        if e["audio_end_ms"] > last_speech_part
        and not any(s["audio_start_ms"] > e["audio_end_ms"] for _, s in starts)
    ]
    if final:
        t_stop, stop = final[0]
        trial.end_delay_ms = (t_stop - t_last) * 1000
        silence = EAGERNESS[td["eagerness"]].max_wait_ms if td.get("eagerness") else 500
        speech_end = stop["audio_end_ms"] - (0 if td.get("eagerness") else silence)
        trial.vad_lag_ms = speech_end - utt.last_speech_ms
        heard = [
            t
            for t, e in of("conversation.item.input_audio_transcription.completed")
            if e["item_id"] == stop["item_id"]
        ]
        t_heard = max(heard[0], t_stop) if heard else t_stop
        trial.asr_wait_ms = (t_heard - t_stop) * 1000
        deltas = [t for t, e in of("response.audio.delta") if t >= t_stop]
        if deltas:
            trial.v2v_ms = (deltas[0] - t_last) * 1000
            trial.reply_ms = (deltas[0] - t_heard) * 1000
    trial.transcript = " ".join(
        e["transcript"] for _, e in of("conversation.item.input_audio_transcription.completed")
    )
    trial.events = [e["type"] for _, e in events]
    reader.cancel()
    ws.close()
    return trial


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def _wer(ts: list[Trial]) -> float:
    errs = [word_errors(t.utterance.text, t.transcript) for t in ts]
    return sum(e for e, _ in errs) / max(1, sum(n for _, n in errs))


def _missed(t: Trial) -> bool:
    return t.end_delay_ms is None or t.end_delay_ms > MISSED_AFTER_S * 1000


def report(trials: list[Trial]) -> dict[str, dict]:
    """Prints the table; returns its figures per setting."""
    print(
        f"\n{'setting':16s} {'v2v p50':>8s} {'p95':>6s} {'n':>3s} {'premature':>10s} "
        f"{'missed':>7s} {'WER':>6s} | p50: {'VAD lag':>7s} {'decided':>7s} {'ASR wait':>8s} "
        f"{'reply':>6s}"
    )
    figures: dict[str, dict] = {}
    for setting in [s for s in SETTINGS if any(t.setting == s for t in trials)]:
        ts = [t for t in trials if t.setting == setting]
        paused = [t for t in ts if t.utterance.pause_ms]
        missed = [t for t in ts if _missed(t)]
        ok = [t for t in ts if not _missed(t)]
        v2v = [t.v2v_ms for t in ok if t.v2v_ms is not None]
        wer = _wer(ok if SETTINGS[setting] is not None else ts)  # a missed turn has no text
        row = {"n": len(ts), "wer": wer}
        if SETTINGS[setting] is None:
            print(f"{setting:16s} {'-':>8s} {'-':>6s} {len(ts):3d} {'-':>10s} {'-':>7s} {wer:6.1%}")
            figures[setting] = row
            continue

        def p50(attr: str, ok: list[Trial] = ok) -> float:
            return pct([getattr(t, attr) for t in ok if getattr(t, attr) is not None], 50)

        row.update(
            v2v_p50=pct(v2v, 50),
            v2v_p95=pct(v2v, 95),
            premature=sum(t.premature for t in paused),
            paused=len(paused),
            missed=len(missed),
            premature_by_pause={
                p: sum(t.premature for t in paused if _pause(t) == p) for p in PAUSES_S
            },
            vad_lag=p50("vad_lag_ms"),
            decided=p50("end_delay_ms"),
            asr_wait=p50("asr_wait_ms"),
            reply=p50("reply_ms"),
        )
        figures[setting] = row
        print(
            f"{setting:16s} {row['v2v_p50']:8.0f} {row['v2v_p95']:6.0f} {len(v2v):3d} "
            f"{row['premature']:4d}/{len(paused):<5d} {len(missed):3d}/{len(ts):<3d} {wer:6.1%} | "
            f"     {row['vad_lag']:7.0f} {row['decided']:7.0f} {row['asr_wait']:8.0f} "
            f"{row['reply']:6.0f}"
        )
    print("\npremature by pause length (s):")
    for setting, row in figures.items():
        if "premature_by_pause" in row:
            by = row["premature_by_pause"]
            print(f"  {setting:16s} " + "  ".join(f"{p}: {by[p]}" for p in PAUSES_S))
    # the distribution is bimodal (the model's first answer, or the fallback wait), and
    # voices differ: the robotic espeak voice is the one the model most often misjudges
    voices = list(dict.fromkeys(t.utterance.name.split("/")[0] for t in trials))
    print("\nv2v p50 by voice (ms); turns that waited for the fallback (decided > 1 s):")
    for setting, row in figures.items():
        if "v2v_p50" not in row:
            continue
        ts = [t for t in trials if t.setting == setting and not _missed(t)]
        cells = []
        for voice in voices:
            mine = [t for t in ts if t.utterance.name.startswith(voice + "/")]
            waited = sum(1 for t in mine if (t.end_delay_ms or 0) > 1000)
            v2v = [t.v2v_ms for t in mine if t.v2v_ms is not None]
            cells.append(f"{voice} {pct(v2v, 50):.0f} ({waited}/{len(mine)})")
        print(f"  {setting:16s} " + " | ".join(cells))
    server, auto = figures.get("server_vad"), figures.get("semantic auto")
    if server and auto:
        print(
            f"\nsemantic auto / server_vad: v2v p50 {auto['v2v_p50'] / server['v2v_p50']:.2f}x, "
            f"premature {auto['premature']}/{server['premature']}"
        )
    if server and "manual commit" in figures:
        print(
            f"WER server_vad {server['wer']:.3f} "
            f"vs manual commit {figures['manual commit']['wer']:.3f}"
        )
    return figures


def _pause(t: Trial) -> float | None:
    p = t.utterance.pause_ms
    return None if p is None else round((p[1] - p[0]) / 1000, 1)


def model_call_ms(rounds: int = 15) -> float:
    """Median time of one end-of-turn model call (4 s of audio) in this process."""
    from realtime_widget.engine.speech.models import get_turn_model

    model = get_turn_model()
    x = np.random.default_rng(0).standard_normal(64000).astype(np.float32) * 0.1
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        model.probability(x)
        times.append((time.perf_counter() - t) * 1000)
    return float(np.median(times))


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
        settings = args.settings or list(SETTINGS)
        for utt in utterances:
            for setting in settings:
                trial = await run_trial(port, setting, utt)
                trials.append(trial)
                if args.verbose:
                    print(
                        f"{setting:16s} {utt.name[:60]:60s} v2v={trial.v2v_ms} "
                        f"end={trial.end_delay_ms} "
                        f"premature={trial.premature} heard={trial.transcript!r}",
                        flush=True,
                    )
        print(
            f"{len(utterances)} utterances ({args.voices} voices x {args.per_kind} complete"
            f" + {args.per_kind} paused),"
            f" {len(settings)} settings, interleaved, one server"
        )
        report(trials)
        print(f"end-of-turn model call (this process, same machine): {model_call_ms():.0f} ms p50")
        if args.json:
            Path(args.json).write_text(
                json.dumps(
                    [
                        {
                            "setting": t.setting,
                            "utterance": t.utterance.name,
                            "v2v_ms": t.v2v_ms,
                            "end_delay_ms": t.end_delay_ms,
                            "vad_lag_ms": t.vad_lag_ms,
                            "asr_wait_ms": t.asr_wait_ms,
                            "reply_ms": t.reply_ms,
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
    parser.add_argument(
        "--settings", nargs="+", choices=list(SETTINGS), help="run only these (default: all)"
    )
    parser.add_argument("--json", default="")
    parser.add_argument("-v", "--verbose", action="store_true")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
