"""Real speech audio made at test time with the espeak-ng command line tool.

Needs the Debian package ``espeak-ng`` (``apt-get install espeak-ng``) and ``soxr``.
Everything is cached per process (``functools.lru_cache``), and the cached arrays are
read-only so that no test can change another test's input.
"""

from __future__ import annotations

import functools
import io
import shutil
import subprocess
import wave
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

__all__ = [
    "ESPEAK_SENTENCES",
    "SpeechSignal",
    "espeak_available",
    "speak",
    "speech_bounds",
    "speech_with_silence",
    "wer",
    "word_errors",
]

ESPEAK_SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "Please turn off the lights in the kitchen before you leave.",
    "I would like a cup of coffee with milk and no sugar.",
    "Can you tell me how to get to the train station?",
    "My sister plays the piano every morning after breakfast.",
)


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def _readonly(x: np.ndarray) -> np.ndarray:
    x.setflags(write=False)
    return x


@functools.lru_cache(maxsize=256)
def speak(text: str, *, voice: str = "en-us", rate: int = 24000, wpm: int = 160) -> np.ndarray:
    """``text`` spoken by espeak-ng as mono int16 samples at ``rate`` Hz (read-only array).

    espeak-ng writes 22.05 kHz WAV; it is resampled with soxr (HQ). The leading and
    trailing silence espeak adds is kept: use :func:`speech_bounds` to find the speech.
    """
    import soxr

    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    wav = subprocess.run(
        [exe, "-v", voice, "-s", str(wpm), "--stdout", text],
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout
    with wave.open(io.BytesIO(wav)) as f:
        sr = f.getframerate()
        x = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
    if sr != rate:
        x = soxr.resample(x, sr, rate, quality="HQ")
    return _readonly(np.clip(np.round(x * 32767.0), -32768, 32767).astype(np.int16))


def speech_bounds(
    x: np.ndarray, rate: int, *, frame_ms: float = 10.0, floor_db: float = -40.0
) -> tuple[int, int]:
    """``(first, last)`` sample of speech in ``x``, from its energy envelope.

    The envelope is the RMS of ``frame_ms`` frames; speech is every frame within
    ``floor_db`` of the loudest frame. Returns the start of the first such frame and the
    end of the last one.
    """
    x = np.asarray(x, dtype=np.float32)
    hop = max(1, int(rate * frame_ms / 1000))
    n = len(x) // hop
    if n == 0:
        return 0, 0
    rms = np.sqrt((x[: n * hop].reshape(n, hop) ** 2).mean(axis=1))
    peak = float(rms.max())
    if peak <= 0:
        return 0, 0
    active = np.nonzero(rms >= peak * 10 ** (floor_db / 20))[0]
    return int(active[0] * hop), int(min(len(x), (active[-1] + 1) * hop))


class SpeechSignal(NamedTuple):
    audio: np.ndarray
    """int16 mono samples (read-only)."""
    rate: int
    boundaries_ms: tuple[tuple[float, float], ...]
    """True ``(start_ms, end_ms)`` of each spoken segment."""

    @property
    def pcm16(self) -> bytes:
        return self.audio.astype("<i2").tobytes()

    @property
    def duration_ms(self) -> float:
        return len(self.audio) * 1000.0 / self.rate


Segment = float | int | str


@functools.lru_cache(maxsize=64)
def speech_with_silence(
    segments: Sequence[Segment] = (1.0, ESPEAK_SENTENCES[0], 1.5, ESPEAK_SENTENCES[1], 1.0),
    *,
    rate: int = 24000,
    voice: str = "en-us",
    noise_dbfs: float | None = None,
    seed: int = 0,
) -> SpeechSignal:
    """A test signal: numbers are seconds of silence, strings are sentences spoken by espeak.

    Each sentence is cut to its own speech (espeak's padding removed via the energy
    envelope), so the returned ``boundaries_ms`` are exact. With ``noise_dbfs`` white
    noise of that RMS level (dB re full scale) is added everywhere. ``segments`` must be
    a tuple (it is a cache key).
    """
    parts: list[np.ndarray] = []
    bounds: list[tuple[float, float]] = []
    pos = 0
    for seg in segments:
        if isinstance(seg, str):
            x = speak(seg, voice=voice, rate=rate)
            a, b = speech_bounds(x, rate)
            x = x[a:b]
            bounds.append((pos * 1000.0 / rate, (pos + len(x)) * 1000.0 / rate))
        else:
            x = np.zeros(round(float(seg) * rate), dtype=np.int16)
        parts.append(x)
        pos += len(x)
    audio = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)
    if noise_dbfs is not None:
        rng = np.random.default_rng(seed)
        noise = rng.standard_normal(len(audio)) * (10 ** (noise_dbfs / 20) * 32768.0)
        audio = np.clip(np.round(audio + noise), -32768, 32767).astype(np.int16)
    return SpeechSignal(_readonly(audio), rate, tuple(bounds))


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """``(edit distance in words, reference word count)`` after normalization.

    Lower-cased, punctuation dropped, hyphens split ("quick-brown" = "quick brown"): the
    package's own measure (``realtime_widget.replay.wer``), which ``compare()`` reports.
    """
    from realtime_widget.replay.wer import word_edits

    return word_edits(reference, hypothesis)


def wer(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Corpus word error rate: total word edits / total reference words."""
    if len(references) != len(hypotheses):
        raise ValueError("references and hypotheses differ in length")
    errors = words = 0
    for r, h in zip(references, hypotheses, strict=True):
        e, n = word_errors(r, h)
        errors += e
        words += n
    return errors / max(words, 1)
