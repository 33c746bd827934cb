"""Throughput of realtime_widget.audio on one CPU core.

Run:  python benchmarks/bench_audio.py [--quick]

CPU time is ``time.process_time`` (all threads of this process), the process is pinned
to one core where the OS allows it, and BLAS/OpenMP pools are limited to one thread.
Each case runs in batches of at least ``MIN_BATCH_S`` CPU seconds, ``REPEATS`` times;
the table shows the median and the best batch.

* G.711 and resampling: audio-seconds processed per CPU-second ("x realtime").
  G.711 is measured on PCM16 at 24 kHz (the codec is rate-agnostic; for 8 kHz
  telephony audio multiply by 3).
* base64: MB/s (10^6 bytes) of *decoded* audio bytes, for decode and encode.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import itertools
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soxr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from realtime_widget.audio import (
    StreamResampler,
    alaw_decode,
    alaw_encode,
    b64decode_audio,
    b64encode_audio,
    float32_to_pcm16,
    pcm16_to_float32,
    ulaw_decode,
    ulaw_encode,
)

MIN_BATCH_S = 0.25
REPEATS = 5


def pin_one_core() -> str:
    try:
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[-1]})
        return f"pinned to CPU {cpus[-1]}"
    except (AttributeError, OSError):
        return "not pinned"


def measure(fn: Callable[[], object], work_per_call: float) -> tuple[float, float]:
    """Return (median, best) of work units per CPU second."""
    fn()  # warm up
    # calibrate the number of calls per batch
    n = 1
    while True:
        t0 = time.process_time()
        for _ in range(n):
            fn()
        dt = time.process_time() - t0
        if dt >= MIN_BATCH_S / 4:
            break
        n *= 4
    n = max(1, int(n * MIN_BATCH_S / max(dt, 1e-9)))
    rates = []
    for _ in range(REPEATS):
        t0 = time.process_time()
        for _ in range(n):
            fn()
        dt = time.process_time() - t0
        rates.append(n * work_per_call / dt)
    return statistics.median(rates), max(rates)


def speech_like(rate: int, seconds: float, seed: int = 0) -> np.ndarray:
    """Noise + tones at roughly speech level, float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(rate * seconds)) / rate
    x = 0.2 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 1900 * t)
    x += 0.05 * rng.standard_normal(len(t))
    return x.astype(np.float32)


def main() -> None:
    global MIN_BATCH_S, REPEATS
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="shorter batches (noisier numbers)")
    args = ap.parse_args()
    if args.quick:
        MIN_BATCH_S, REPEATS = 0.05, 3

    pin = pin_one_core()
    rows: list[tuple[str, str, float, float]] = []

    def add(name: str, unit: str, fn: Callable[[], object], work: float) -> None:
        med, best = measure(fn, work)
        rows.append((name, unit, med, best))
        print(f"  {name:<52} {med:>14,.0f} {best:>14,.0f}  {unit}", flush=True)

    print(
        f"realtime_widget.audio benchmark  (python {platform.python_version()}, "
        f"numpy {np.__version__}, soxr {soxr.__version__}, {platform.machine()}, {pin})"
    )
    print(f"  {'case':<52} {'median':>14} {'best':>14}  unit")

    # ---- G.711 -----------------------------------------------------------------------
    rate = 24000
    for label, seconds in (("20 ms", 0.02), ("1 s", 1.0)):
        pcm = float32_to_pcm16(speech_like(rate, seconds))
        ul, al = ulaw_encode(pcm), alaw_encode(pcm)
        add(
            f"mu-law encode, PCM16 24 kHz, {label} chunks",
            "audio-s/CPU-s",
            lambda pcm=pcm: ulaw_encode(pcm),
            seconds,
        )
        add(
            f"mu-law decode, 24 kHz, {label} chunks",
            "audio-s/CPU-s",
            lambda ul=ul: ulaw_decode(ul),
            seconds,
        )
        add(
            f"A-law encode, PCM16 24 kHz, {label} chunks",
            "audio-s/CPU-s",
            lambda pcm=pcm: alaw_encode(pcm),
            seconds,
        )
        add(
            f"A-law decode, 24 kHz, {label} chunks",
            "audio-s/CPU-s",
            lambda al=al: alaw_decode(al),
            seconds,
        )

    # ---- PCM16 <-> float32 (for reference) ------------------------------------------
    pcm20 = float32_to_pcm16(speech_like(rate, 0.02))
    f20 = pcm16_to_float32(pcm20)
    add(
        "pcm16_to_float32, 24 kHz, 20 ms chunks",
        "audio-s/CPU-s",
        lambda: pcm16_to_float32(pcm20),
        0.02,
    )
    add(
        "float32_to_pcm16, 24 kHz, 20 ms chunks",
        "audio-s/CPU-s",
        lambda: float32_to_pcm16(f20),
        0.02,
    )

    # ---- streaming resampling, 20 ms chunks -----------------------------------------
    for in_rate, out_rate in ((48000, 24000), (24000, 16000), (22050, 24000)):
        for kind in ("float32", "pcm16 bytes"):
            sig_s = 2.0
            x = speech_like(in_rate, sig_s)
            data = x if kind == "float32" else float32_to_pcm16(x)
            # whole-sample 20 ms chunk boundaries (22050 Hz -> 441 samples, exact)
            edges = [(k * 20 * in_rate) // 1000 for k in range(int(sig_s * 50) + 1)]
            w = 2 if kind != "float32" else 1
            chunks = [data[a * w : b * w] for a, b in itertools.pairwise(edges)]
            rs = StreamResampler(in_rate, out_rate)

            def run(rs=rs, chunks=chunks) -> None:
                for c in chunks:
                    rs.process(c)

            add(
                f"StreamResampler {in_rate}->{out_rate}, 20 ms chunks, {kind}",
                "audio-s/CPU-s",
                run,
                sig_s,
            )

    # ---- base64 -----------------------------------------------------------------------
    for label, seconds in (("20 ms", 0.02), ("1 s", 1.0)):
        raw = float32_to_pcm16(speech_like(rate, seconds))
        s = b64encode_audio(raw)
        mb = len(raw) / 1e6
        add(
            f"b64decode_audio, {label} PCM16 24 kHz ({len(raw)} B)",
            "MB/s decoded",
            lambda s=s: b64decode_audio(s),
            mb,
        )
        add(
            f"b64encode_audio, {label} PCM16 24 kHz ({len(raw)} B)",
            "MB/s raw",
            lambda raw=raw: b64encode_audio(raw),
            mb,
        )

    print()
    print("Markdown:")
    print("| case | median | best | unit |")
    print("|---|---:|---:|---|")
    for name, unit, med, best in rows:
        print(f"| {name} | {med:,.0f} | {best:,.0f} | {unit} |")


if __name__ == "__main__":
    main()
