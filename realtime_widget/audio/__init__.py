"""Audio utilities: PCM16 / float32 / base64 / G.711 / durations / streaming resampling.

Everything is vectorised numpy (no per-sample Python loops); resampling uses soxr.
PCM16 means signed 16-bit little-endian mono throughout.
"""

from .formats import (
    AUDIO_FORMATS,
    AudioFormat,
    bytes_for_ms,
    bytes_per_sample,
    duration_ms,
    from_pcm16,
    normalize_format,
    sample_rate,
    samples_for_ms,
    to_pcm16,
)
from .g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from .pcm import (
    PCM16_DTYPE,
    as_pcm16_array,
    b64decode_audio,
    b64encode_audio,
    float32_to_pcm16,
    float_to_int16_array,
    pcm16_to_float32,
)
from .resample import StreamResampler, resample

__all__ = [
    "AUDIO_FORMATS",
    "PCM16_DTYPE",
    "AudioFormat",
    "StreamResampler",
    "alaw_decode",
    "alaw_encode",
    "as_pcm16_array",
    "b64decode_audio",
    "b64encode_audio",
    "bytes_for_ms",
    "bytes_per_sample",
    "duration_ms",
    "float32_to_pcm16",
    "float_to_int16_array",
    "from_pcm16",
    "normalize_format",
    "pcm16_to_float32",
    "resample",
    "sample_rate",
    "samples_for_ms",
    "to_pcm16",
    "ulaw_decode",
    "ulaw_encode",
]
