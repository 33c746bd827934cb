"""Notebook display helpers: an audio array that plays itself, and small HTML pieces."""

from __future__ import annotations

import base64
import html
import io
import os
import wave
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["AudioArray", "esc", "wav_bytes"]


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    """16-bit WAV of int16 samples: mono ``(n,)`` or interleaved ``(n, channels)``."""
    samples = np.asarray(samples)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(samples.shape[1] if samples.ndim == 2 else 1)
        w.setsampwidth(2)
        w.setframerate(int(rate))
        w.writeframes(np.asarray(samples, dtype="<i2").tobytes())
    return buf.getvalue()


class AudioArray(np.ndarray):
    """int16 samples that know their sample rate, mono ``(n,)`` or with channels
    ``(n, channels)``: a numpy array everywhere, an audio player in a notebook
    (``_repr_html_``), ``.player()`` for an ``IPython.display.Audio``, ``.save(path)``
    for a WAV file, ``.seconds`` for the duration, ``.float32()`` for samples in [-1, 1)."""

    rate: int
    label: str

    def __new__(cls, samples: Any, rate: int = 24000, label: str = "") -> AudioArray:
        obj = np.asarray(samples, dtype=np.int16).view(cls)
        obj.rate = int(rate)
        obj.label = label
        return obj

    def __array_finalize__(self, obj: Any) -> None:
        self.rate = getattr(obj, "rate", 24000)
        self.label = getattr(obj, "label", "")

    @property
    def _playable(self) -> bool:
        return self.ndim == 1 or (self.ndim == 2 and 1 <= self.shape[1] <= 8)

    @property
    def seconds(self) -> float:
        return float(self.shape[0]) / self.rate if self._playable and self.rate else 0.0

    def float32(self) -> np.ndarray:
        return np.asarray(self, dtype=np.float32) / 32768.0

    def wav(self) -> bytes:
        return wav_bytes(np.asarray(self), self.rate)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the samples to a 16-bit WAV file; returns its path."""
        if not self._playable:
            raise ValueError(f"not audio samples: shape {self.shape}")
        out = Path(path)
        out.write_bytes(self.wav())
        return out

    def player(self) -> Any:
        """An ``IPython.display.Audio`` player of these samples."""
        from IPython.display import Audio

        return Audio(data=self.wav(), rate=self.rate)

    def _repr_html_(self) -> str | None:
        if not self._playable:
            return None
        b64 = base64.b64encode(self.wav()).decode("ascii")
        label = f"<b>{esc(self.label)}</b> " if self.label else ""
        return (
            f'<div class="rtw-audio">{label}<span style="opacity:.7">'
            f"{self.seconds:.2f} s, {self.rate} Hz, "
            f"{self.shape[0]} samples{self._channels_note()}</span><br><audio controls "
            f'preload="none" '
            f'src="data:audio/wav;base64,{b64}"></audio></div>'
        )

    def _channels_note(self) -> str:
        return f", {self.shape[1]} channels" if self.ndim == 2 else ""

    def __repr__(self) -> str:
        if self._playable:
            label = f", {self.label}" if self.label else ""
            return (
                f"{type(self).__name__}({self.shape[0]} samples{self._channels_note()}, "
                f"{self.seconds:.2f} s at {self.rate} Hz{label})"
            )
        return super().__repr__()

    def __reduce__(self) -> Any:
        return (AudioArray, (np.asarray(self), self.rate, self.label))


STYLE = """<style>
.rtw-card{font-family:var(--jp-ui-font-family,sans-serif);font-size:13px;
 border:1px solid var(--jp-border-color2,#ddd);border-radius:6px;padding:8px 10px;margin:4px 0;
 max-width:60em}
.rtw-card h4{margin:0 0 6px 0;font-size:14px}
.rtw-card table{border-collapse:collapse}.rtw-card td{padding:1px 8px 1px 0;vertical-align:top}
.rtw-muted{opacity:.65}
.rtw-turn{margin:3px 0;padding:4px 8px;border-radius:8px;max-width:48em;white-space:pre-wrap}
.rtw-user{background:rgba(33,150,243,.12);margin-right:6em}
.rtw-assistant{background:rgba(76,175,80,.12);margin-left:6em}
.rtw-tool{background:rgba(255,152,0,.12);margin-left:3em;margin-right:3em;
 font-family:var(--jp-code-font-family,monospace)}
.rtw-int{color:#c62828;font-weight:bold}
</style>"""
