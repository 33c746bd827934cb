"""Audio format names, sample rates and duration arithmetic.

The realtime API's three audio formats are all mono:

==========  ===========  ================
format      sample rate  bytes per sample
==========  ===========  ================
pcm16       24000 Hz     2 (int16 LE)
g711_ulaw    8000 Hz     1
g711_alaw    8000 Hz     1
==========  ===========  ================
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from .g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode

__all__ = [
    "AUDIO_FORMATS",
    "AudioFormat",
    "bytes_for_ms",
    "bytes_per_sample",
    "duration_ms",
    "from_pcm16",
    "normalize_format",
    "sample_rate",
    "samples_for_ms",
    "to_pcm16",
]

AudioFormat = Literal["pcm16", "g711_ulaw", "g711_alaw"]

#: The canonical format names.
AUDIO_FORMATS: tuple[str, ...] = ("pcm16", "g711_ulaw", "g711_alaw")

_ALIASES = {
    "pcm16": "pcm16",
    "g711_ulaw": "g711_ulaw",
    "g711-ulaw": "g711_ulaw",
    "g711_alaw": "g711_alaw",
    "g711-alaw": "g711_alaw",
}
_RATES = {"pcm16": 24000, "g711_ulaw": 8000, "g711_alaw": 8000}
_WIDTHS = {"pcm16": 2, "g711_ulaw": 1, "g711_alaw": 1}

BytesLike = bytes | bytearray | memoryview


def normalize_format(name: str) -> AudioFormat:
    """Canonical format name; accepts ``pcm16``, ``g711_ulaw``/``g711-ulaw``,
    ``g711_alaw``/``g711-alaw`` (exact spelling). Raises ``ValueError`` otherwise."""
    try:
        return _ALIASES[name]  # type: ignore[return-value]
    except (KeyError, TypeError):
        allowed = ", ".join(repr(k) for k in _ALIASES)
        raise ValueError(f"unknown audio format {name!r}; expected one of {allowed}") from None


def sample_rate(fmt: str) -> int:
    """Samples per second of ``fmt`` (pcm16: 24000, G.711: 8000)."""
    return _RATES[normalize_format(fmt)]


def bytes_per_sample(fmt: str) -> int:
    """Bytes per (mono) sample of ``fmt`` (pcm16: 2, G.711: 1)."""
    return _WIDTHS[normalize_format(fmt)]


def duration_ms(nbytes: int, fmt: str) -> float:
    """Duration in milliseconds of ``nbytes`` of ``fmt`` audio, counting whole samples
    only (a trailing odd byte of PCM16 is ignored)."""
    f = normalize_format(fmt)
    if nbytes < 0:
        raise ValueError(f"nbytes must be >= 0, got {nbytes}")
    return (int(nbytes) // _WIDTHS[f]) * 1000.0 / _RATES[f]


def samples_for_ms(ms: float, fmt_or_rate: str | int) -> int:
    """Whole samples in ``ms`` milliseconds (floor), at ``fmt``'s rate or at a given
    rate in Hz. Values within 1e-6 samples of an integer count as that integer, so
    float round-off such as ``1000 / 24`` ms does not lose a sample."""
    rate = fmt_or_rate if isinstance(fmt_or_rate, (int, np.integer)) else sample_rate(fmt_or_rate)
    if isinstance(ms, (int, np.integer)):
        if ms < 0:
            raise ValueError(f"ms must be >= 0, got {ms}")
        return int(ms) * int(rate) // 1000
    if not math.isfinite(ms) or ms < 0:
        raise ValueError(f"ms must be a finite number >= 0, got {ms}")
    n = ms * rate / 1000.0
    r = round(n)
    return int(r) if abs(n - r) < 1e-6 else math.floor(n)


def bytes_for_ms(ms: float, fmt: str) -> int:
    """Bytes of ``fmt`` audio in ``ms`` milliseconds, as whole samples (floor)."""
    f = normalize_format(fmt)
    return samples_for_ms(ms, _RATES[f]) * _WIDTHS[f]


def to_pcm16(data: BytesLike, fmt: str) -> bytes:
    """Decode ``fmt`` audio to PCM16 little-endian bytes at the format's own rate
    (G.711 stays at 8000 Hz). PCM16 input is returned as ``bytes`` unchanged (it must
    have an even byte count)."""
    f = normalize_format(fmt)
    if f == "g711_ulaw":
        return ulaw_decode(data)
    if f == "g711_alaw":
        return alaw_decode(data)
    b = bytes(data)
    if len(b) % 2:
        raise ValueError(f"PCM16 data must have an even number of bytes, got {len(b)}")
    return b


def from_pcm16(pcm16: BytesLike, fmt: str) -> bytes:
    """Encode PCM16 little-endian bytes (already at ``fmt``'s rate) to ``fmt``."""
    f = normalize_format(fmt)
    if f == "g711_ulaw":
        return ulaw_encode(pcm16)
    if f == "g711_alaw":
        return alaw_encode(pcm16)
    b = bytes(pcm16)
    if len(b) % 2:
        raise ValueError(f"PCM16 data must have an even number of bytes, got {len(b)}")
    return b
