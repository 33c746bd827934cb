"""Streaming and one-shot sample-rate conversion over ``soxr`` (libsoxr, "HQ" quality).

``StreamResampler`` keeps the filter state across chunks, so feeding a signal in
chunks of any size (including chunks whose ideal output length is fractional, e.g.
10 ms of 22050 Hz audio) gives the same samples as resampling it in one go: no
clicks at chunk edges and no dropped or duplicated samples. Output is aligned with
the input (libsoxr compensates its filter delay); samples held back by the filter
come out on later calls and on ``flush()``. libsoxr emits output in blocks, so a
single small chunk may produce nothing and the next one a larger block (with 20 ms
chunks at "HQ", output lags the input by up to ~40 ms, e.g. 48k->24k gives 0, 830, 0,
830, ... samples per chunk).

Kinds of input and output:

* ``bytes``-like input is PCM16 little-endian; it and int16 arrays give **int16**
  arrays out (rounded half to even and clipped, like ``float32_to_pcm16``).
* float arrays give arrays of the stream's float dtype (``float32`` by default;
  ``float32`` if the stream's dtype is ``int16``).
* Internally the samples are converted to the stream's ``dtype`` (int16 <-> float
  scaling is 1/32768), so ``dtype`` only chooses the processing precision.
"""

from __future__ import annotations

import numpy as np
import soxr

from .pcm import as_pcm16_array, float_to_int16_array

__all__ = ["StreamResampler", "resample"]

BytesLike = bytes | bytearray | memoryview

_STREAM_DTYPES = {"float32": np.float32, "float64": np.float64, "int16": np.int16}


def _as_mono(chunk: BytesLike | np.ndarray) -> np.ndarray:
    """Input -> 1-D array of int16 or float dtype (no copy when possible)."""
    if not isinstance(chunk, np.ndarray):
        return as_pcm16_array(chunk)
    if chunk.ndim == 2 and chunk.shape[1] == 1:
        chunk = chunk[:, 0]
    elif chunk.ndim != 1:
        raise ValueError(f"expected mono audio (1-D array), got shape {chunk.shape}")
    kind = chunk.dtype.kind
    if kind == "f":
        return chunk
    if kind == "i" and chunk.dtype.itemsize == 2:
        return chunk
    raise TypeError(f"expected PCM16 bytes, an int16 or a float array, got dtype {chunk.dtype}")


_INT16 = np.dtype(np.int16)
_INV_32768 = {
    np.dtype(np.float32): np.array(1.0 / 32768.0, dtype=np.float32),
    np.dtype(np.float64): np.array(1.0 / 32768.0, dtype=np.float64),
}


def _convert(x: np.ndarray, target: np.dtype) -> np.ndarray:
    """Convert between int16 and float audio (1/32768 scaling), C-contiguous, native."""
    if x.dtype == target:
        return x if x.flags.c_contiguous else np.ascontiguousarray(x)
    if target.kind == "i":
        if x.dtype.kind == "i":  # non-native int16
            return np.ascontiguousarray(x, dtype=target)
        return float_to_int16_array(x)
    y = x.astype(target)
    if x.dtype.kind == "i":
        np.multiply(y, _INV_32768[target], out=y)
    return y


class StreamResampler:
    """Stateful mono resampler ``in_rate`` -> ``out_rate`` over ``soxr.ResampleStream``.

    ``process(chunk, last=False)`` returns the output available so far; ``flush()``
    (== ``process(empty, last=True)``) returns the tail. After the last chunk the
    stream must be ``reset()`` before reuse. ``in_rate == out_rate`` is a pass-through.
    """

    def __init__(
        self,
        in_rate: float,
        out_rate: float,
        dtype: str = "float32",
        *,
        quality: str = "HQ",
    ) -> None:
        if in_rate <= 0 or out_rate <= 0:
            raise ValueError(f"sample rates must be > 0, got {in_rate} -> {out_rate}")
        try:
            self._dtype = np.dtype(_STREAM_DTYPES[str(np.dtype(dtype))])
        except (KeyError, TypeError):
            raise ValueError(
                f"dtype must be one of {', '.join(_STREAM_DTYPES)}, got {dtype!r}"
            ) from None
        self.in_rate = in_rate
        self.out_rate = out_rate
        self.quality = quality
        self._float_out = self._dtype if self._dtype.kind == "f" else np.dtype(np.float32)
        self._passthrough = in_rate == out_rate
        self._stream = (
            None
            if self._passthrough
            else soxr.ResampleStream(in_rate, out_rate, 1, dtype=self._dtype.name, quality=quality)
        )
        self._last_kind_int = self._dtype.kind == "i"
        self._finished = False
        self.samples_in = 0
        self.samples_out = 0

    @property
    def dtype(self) -> np.dtype:
        """Processing dtype of the underlying soxr stream."""
        return self._dtype

    @property
    def delay(self) -> float:
        """Output samples currently held back by the filter (libsoxr ``delay()``)."""
        return 0.0 if self._stream is None else float(self._stream.delay())

    def process(self, chunk: BytesLike | np.ndarray, last: bool = False) -> np.ndarray:
        """Feed ``chunk`` (PCM16 bytes, int16 or float array); return the resampled
        output available now (int16 for PCM16/int16 input, float otherwise)."""
        if self._finished:
            raise RuntimeError("StreamResampler already flushed; call reset() to reuse it")
        x = _as_mono(chunk)
        out_int = x.dtype.kind == "i"
        self._last_kind_int = out_int
        self.samples_in += x.shape[0]
        if self._passthrough:
            y = x
        else:
            y = self._stream.resample_chunk(_convert(x, self._dtype), last=last)
        if last:
            self._finished = True
        y = _convert(y, _INT16 if out_int else self._float_out)
        if y is x:
            y = y.copy()
        self.samples_out += y.shape[0]
        return y

    def process_bytes(self, pcm16: BytesLike, last: bool = False) -> bytes:
        """PCM16 little-endian bytes in, PCM16 little-endian bytes out."""
        return self.process(pcm16, last=last).astype("<i2", copy=False).tobytes()

    def flush(self) -> np.ndarray:
        """Return the remaining output (``process(empty, last=True)``), of the kind of
        the last input (int16 or float)."""
        empty = np.zeros(0, dtype=np.int16 if self._last_kind_int else self._float_out)
        return self.process(empty, last=True)

    def reset(self) -> None:
        """Forget all state and start a new stream with the same settings."""
        if self._stream is not None:
            self._stream.clear()
        self._finished = False
        self.samples_in = 0
        self.samples_out = 0

    def __repr__(self) -> str:
        return (
            f"StreamResampler({self.in_rate!r}, {self.out_rate!r}, dtype={self._dtype.name!r}, "
            f"quality={self.quality!r})"
        )


def resample(
    x: BytesLike | np.ndarray, in_rate: float, out_rate: float, *, quality: str = "HQ"
) -> np.ndarray:
    """One-shot resampling of a whole mono signal with ``soxr.resample``.

    PCM16 bytes and int16 arrays give int16 arrays (processed in float32, then rounded
    and clipped); float32/float64 arrays give arrays of the same dtype. Other float
    dtypes are processed as float32.
    """
    if in_rate <= 0 or out_rate <= 0:
        raise ValueError(f"sample rates must be > 0, got {in_rate} -> {out_rate}")
    a = _as_mono(x)
    if a.dtype.kind == "i":
        if in_rate == out_rate:
            return np.array(a, dtype=np.int16)
        y = soxr.resample(_convert(a, np.dtype(np.float32)), in_rate, out_rate, quality=quality)
        return float_to_int16_array(y)
    work = np.dtype(np.float64) if a.dtype == np.float64 else np.dtype(np.float32)
    a = np.ascontiguousarray(a, dtype=work)
    if in_rate == out_rate:
        return a.copy()
    return soxr.resample(a, in_rate, out_rate, quality=quality)
