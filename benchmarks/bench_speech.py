"""Benchmark the offline speech stack: VAD CPU, ASR real-time factor, TTS latency, memory.

    python benchmarks/bench_speech.py [--repeat 5] [--json] [--no-fold]

Needs the ``local`` extra (``pip install '.[local]'``). Uses Piper's own speech as ASR
input, so espeak-ng is not needed. Timings are medians over ``--repeat`` warm runs on one
onnxruntime thread per session (``REALTIME_WIDGET_SPEECH_THREADS`` changes that).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

try:
    import realtime_widget  # noqa: F401
except ImportError:  # running from a checkout without installing it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from realtime_widget.engine.speech import models as speech_models

UTTERANCE = "Could you please book a table for two at the Italian place tonight?"
TWO_SENTENCES = (
    "Sure, I can help with that. The restaurant has a table free at eight o'clock this evening."
)


def rss_mb() -> float:
    """Current resident set size (VmRSS) in MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def timed(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", action="store_true", help="print the results as JSON too")
    ap.add_argument(
        "--no-fold",
        action="store_true",
        help="run Moonshine's .ort files as shipped (no weight folding)",
    )
    args = ap.parse_args(argv)
    if args.no_fold:
        os.environ["REALTIME_WIDGET_MOONSHINE_FOLD"] = "0"
    rows: list[tuple[str, str, str]] = []
    res: dict[str, float] = {}

    def row(name: str, value: float, unit: str, note: str = "") -> None:
        res[name] = value
        rows.append((name, f"{value:,.3f} {unit}".rstrip(), note))

    base = rss_mb()
    row("rss_before_load", base, "MB", "python + numpy")
    for name, getter in (
        ("load_vad", speech_models.get_vad_model),
        ("load_asr", speech_models.get_transcriber),
        ("load_tts", speech_models.get_synthesizer),
    ):
        t0 = time.perf_counter()
        getter()
        row(name, time.perf_counter() - t0, "s", "cold, once per process")
    m = speech_models.get_speech_models()
    row("rss_after_load", rss_mb(), "MB", "all three models loaded")
    warm = m.warm_up()
    row("warm_up", sum(warm.values()), "s", ", ".join(f"{k} {v:.2f}s" for k, v in warm.items()))
    row("rss_after_warm_up", rss_mb(), "MB", "")

    syn, asr = m.synthesizer, m.transcriber

    # ---- TTS: time to first chunk and real-time factor
    def tts_run() -> tuple[float, float, int, int]:
        t0 = time.perf_counter()
        first = None
        n = chunks = 0
        for chunk in syn.stream(TWO_SENTENCES, "alloy"):
            if first is None:
                first = time.perf_counter() - t0
            n += len(chunk)
            chunks += 1
        return first or 0.0, time.perf_counter() - t0, n, chunks

    runs = [tts_run() for _ in range(args.repeat)]
    first = statistics.median(r[0] for r in runs)
    total = statistics.median(r[1] for r in runs)
    audio_s = runs[-1][2] / 2 / syn.sample_rate
    row("tts_first_chunk", first * 1000, "ms", f"{runs[-1][3]} chunks for a 2-sentence reply")
    row("tts_rtf", total / audio_s, "x", f"{total * 1000:.0f} ms for {audio_s:.2f} s of audio")

    # ---- ASR: real-time factor on a ~3 s utterance
    utt = syn.synthesize(UTTERANCE, "alloy")
    utt_s = len(utt) / 2 / syn.sample_rate
    asr.transcribe(utt)
    t_asr, text = timed(lambda: asr.transcribe(utt), args.repeat)
    row("asr_latency", t_asr * 1000, "ms", f"{utt_s:.2f} s utterance -> {text!r}")
    row("asr_rtf", t_asr / utt_s, "x", "warm, greedy decoding")
    x16 = asr._to_16k(utt, 24000)
    t_enc, _ = timed(lambda: asr.encoder.run(None, {"input_values": x16[None, :]}), args.repeat)
    ntok = len(asr.transcribe_tokens(x16))
    row(
        "asr_encoder",
        t_enc * 1000,
        "ms",
        f"decoder ~{(t_asr - t_enc) / max(ntok, 1) * 1000:.1f} ms/token x {ntok}",
    )
    audios = [utt, syn.synthesize(TWO_SENTENCES, "echo")]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(asr.transcribe, audios * 2))
    par = time.perf_counter() - t0
    t_ser, _ = timed(lambda: [asr.transcribe(a) for a in audios * 2], 1)
    row("asr_2_threads_speedup", t_ser / par, "x", "4 transcriptions, 2 threads vs serial")

    # ---- VAD: CPU per 20 ms chunk of 24 kHz PCM16 through the server-VAD segmenter
    pcm = np.frombuffer(utt, dtype="<i2")
    sig = np.concatenate([np.zeros(24000, np.int16), pcm, np.zeros(24000, np.int16)] * 3).tobytes()
    chunk = 960  # bytes = 20 ms
    nchunks = len(sig) // chunk

    def vad_run() -> None:
        seg = m.new_segmenter()
        for i in range(nchunks):
            seg.feed(sig[i * chunk : (i + 1) * chunk])

    vad_run()
    c0 = time.process_time()
    t_vad, _ = timed(vad_run, args.repeat)
    cpu = (time.process_time() - c0) / args.repeat
    row(
        "vad_per_20ms_chunk",
        t_vad / nchunks * 1e6,
        "us",
        f"wall; CPU {cpu / nchunks * 1e6:.0f} us (incl. soxr 24k->16k)",
    )
    frame = np.zeros(512, np.float32)
    vad = m.new_vad()
    t_frame, _ = timed(lambda: [vad.process_frame(frame) for _ in range(200)], args.repeat)
    row("silero_per_32ms_frame", t_frame / 200 * 1e6, "us", "onnxruntime, 1 thread")

    # ---- end of speech -> first reply audio (ASR + first TTS chunk), sequential
    t0 = time.perf_counter()
    asr.transcribe(utt)
    next(iter(syn.stream(TWO_SENTENCES, "alloy")))
    row(
        "asr_plus_first_tts_chunk",
        (time.perf_counter() - t0) * 1000,
        "ms",
        "excludes VAD hangover and the brain",
    )

    row(
        "rss_end",
        rss_mb(),
        "MB",
        f"peak {peak_rss_mb():.0f} MB; threads {threading.active_count()}",
    )

    w = max(len(r[0]) for r in rows)
    v = max(len(r[1]) for r in rows)
    print(f"{'metric':<{w}}  {'value':>{v}}  note")
    print(f"{'-' * w}  {'-' * v}  {'-' * 30}")
    for name, value, note in rows:
        print(f"{name:<{w}}  {value:>{v}}  {note}")
    if args.json:
        print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
