"""The input audio buffer, kept on the session's input timeline.

Audio is held as PCM16 at the input format's own rate (24 kHz for ``pcm16``, 8 kHz for
G.711 after decoding), so millisecond positions are exact and no resampling happens
until a model needs it. ``start_ms`` is the timeline position of the buffer's first
sample: the timeline counts every sample appended since the session started, which is
what ``audio_start_ms`` / ``audio_end_ms`` in the VAD events refer to.
"""

from __future__ import annotations

from ..audio import normalize_format, sample_rate, to_pcm16
from ..protocol import ProtocolError

MIN_COMMIT_MS = 100  # the service refuses to commit less audio than this


class InputAudioBuffer:
    def __init__(self, fmt: str = "pcm16"):
        self.format = normalize_format(fmt)
        self.rate = sample_rate(self.format)
        self._pcm = bytearray()
        self.start_ms = 0.0

    # -- positions ------------------------------------------------------------------
    @property
    def duration_ms(self) -> float:
        return len(self._pcm) / 2 * 1000.0 / self.rate

    @property
    def end_ms(self) -> float:
        return self.start_ms + self.duration_ms

    def _offset(self, ms: float) -> int:
        """Byte offset in the buffer of timeline position ``ms`` (clamped, whole samples)."""
        samples = round((ms - self.start_ms) * self.rate / 1000.0)
        return 2 * min(max(samples, 0), len(self._pcm) // 2)

    # -- changes --------------------------------------------------------------------
    def set_format(self, fmt: str) -> None:
        """A new input format: audio buffered in the old one is dropped (rates differ)."""
        fmt = normalize_format(fmt)
        if fmt != self.format:
            self.start_ms = self.end_ms
            self._pcm.clear()
            self.format, self.rate = fmt, sample_rate(fmt)

    def append(self, encoded: bytes) -> bytes:
        """Add audio in the input format; returns it as PCM16 at ``rate``."""
        if self.format == "pcm16" and len(encoded) % 2:
            raise ProtocolError(
                "audio: pcm16 audio must be a whole number of 16-bit samples "
                "(got an odd byte count)",
                code="invalid_value",
                param="audio",
            )
        pcm = to_pcm16(encoded, self.format)
        self._pcm.extend(pcm)
        return pcm

    def slice(self, start_ms: float, end_ms: float) -> bytes:
        return bytes(self._pcm[self._offset(start_ms) : self._offset(end_ms)])

    def take(self, start_ms: float | None = None, end_ms: float | None = None) -> bytes:
        """Remove and return the audio up to ``end_ms`` (default: all), from ``start_ms``."""
        end = self._offset(self.end_ms if end_ms is None else end_ms)
        start = self._offset(self.start_ms if start_ms is None else start_ms)
        data = bytes(self._pcm[min(start, end) : end])
        self.start_ms += end / 2 * 1000.0 / self.rate
        del self._pcm[:end]
        return data

    def clear(self) -> None:
        self.take()

    def forget_before(self, ms: float) -> None:
        """Drop audio before ``ms`` (keeps memory bounded while nobody speaks)."""
        cut = self._offset(ms)
        if cut:
            self.start_ms += cut / 2 * 1000.0 / self.rate
            del self._pcm[:cut]

    def check_committable(self) -> None:
        if self.duration_ms < MIN_COMMIT_MS:
            raise ProtocolError(
                "Error committing input audio buffer: buffer too small. Expected at least "
                f"{MIN_COMMIT_MS}ms of audio, but buffer only has "
                f"{self.duration_ms:.2f}ms of audio.",
                code="input_audio_buffer_commit_empty",
                param=None,
            )
