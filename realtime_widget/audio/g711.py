"""ITU-T G.711 mu-law and A-law, vectorised with numpy lookup tables.

Bit-exact with the reference implementation used by the standard library ``audioop``
(Sun Microsystems' g711.c): ``lin2ulaw``/``lin2alaw``/``ulaw2lin``/``alaw2lin`` with
width 2. In particular:

* encoding truncates the 16-bit sample to 14 bits (mu-law, arithmetic ``>> 2``) or
  13 bits (A-law, ``>> 3``) before quantising, exactly as ``audioop`` does;
* mu-law has two code words for zero (0xFF "+0" and 0x7F "-0"); both decode to 0 and
  0 encodes to 0xFF, so ``ulaw_encode(ulaw_decode(c)) == c`` for every code word
  except 0x7F, which comes back as 0xFF. A-law round-trips all 256 code words.

The tables are built once at import (all 65536 PCM16 values -> code word, 64 KiB each;
256 code words -> little-endian int16). Encoding is one ``np.take`` over the samples
viewed as uint16, decoding one ``np.take`` over the code bytes.
"""

from __future__ import annotations

import numpy as np

__all__ = ["alaw_decode", "alaw_encode", "ulaw_decode", "ulaw_encode"]

BytesLike = bytes | bytearray | memoryview

_SEG_UEND = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int32)
_SEG_AEND = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF], dtype=np.int32)
_BIAS = 0x84
_CLIP = 8159


def _ulaw_encode_14(pcm_val: np.ndarray) -> np.ndarray:
    """g711.c ``st_14linear2ulaw`` on an int32 array of 14-bit samples."""
    neg = pcm_val < 0
    mag = np.where(neg, -pcm_val, pcm_val)
    mask = np.where(neg, 0x7F, 0xFF)
    mag = np.minimum(mag, _CLIP) + (_BIAS >> 2)
    seg = np.searchsorted(_SEG_UEND, mag, side="left")  # first seg with end >= mag
    uval = (seg << 4) | ((mag >> (seg + 1)) & 0xF)
    uval = np.where(seg >= 8, 0x7F, uval)
    return (uval ^ mask).astype(np.uint8)


def _alaw_encode_13(pcm_val: np.ndarray) -> np.ndarray:
    """g711.c ``st_linear2alaw`` on an int32 array of 13-bit samples."""
    neg = pcm_val < 0
    mask = np.where(neg, 0x55, 0xD5)
    mag = np.where(neg, -pcm_val - 1, pcm_val)
    seg = np.searchsorted(_SEG_AEND, mag, side="left")
    shift = np.where(seg < 2, 1, seg)
    aval = (seg << 4) | ((mag >> shift) & 0xF)
    aval = np.where(seg >= 8, 0x7F, aval)
    return (aval ^ mask).astype(np.uint8)


def _ulaw_decode_table() -> np.ndarray:
    """g711.c ``st_ulaw2linear16`` for all 256 code words."""
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    t = ((u & 0x0F) << 3) + _BIAS
    t = t << ((u & 0x70) >> 4)
    return np.where(u & 0x80, _BIAS - t, t - _BIAS).astype("<i2")


def _alaw_decode_table() -> np.ndarray:
    """g711.c ``st_alaw2linear16`` for all 256 code words."""
    a = np.arange(256, dtype=np.int32) ^ 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    t = np.where(seg == 0, t + 8, t + 0x108)
    t = np.where(seg >= 2, t << np.maximum(seg - 1, 0), t)
    return np.where(a & 0x80, t, -t).astype("<i2")


def _build_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    # index = the PCM16 sample's bit pattern as uint16; value = its code word
    samples = np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.int16).astype(np.int32)
    ulaw_enc = _ulaw_encode_14(samples >> 2)
    alaw_enc = _alaw_encode_13(samples >> 3)
    return ulaw_enc, alaw_enc, _ulaw_decode_table(), _alaw_decode_table()


_ULAW_ENC, _ALAW_ENC, _ULAW_DEC, _ALAW_DEC = _build_tables()
for _t in (_ULAW_ENC, _ALAW_ENC, _ULAW_DEC, _ALAW_DEC):
    _t.flags.writeable = False
del _t


def _pcm16_indices(pcm16: BytesLike | np.ndarray) -> np.ndarray:
    """PCM16 (little-endian bytes or an int16 array) -> uint16 bit patterns (native order)."""
    if isinstance(pcm16, np.ndarray):
        if pcm16.dtype.kind != "i" or pcm16.dtype.itemsize != 2:
            raise TypeError(f"expected PCM16 bytes or an int16 array, got dtype {pcm16.dtype}")
        return pcm16.reshape(-1).astype(np.uint16, copy=False)
    mv = memoryview(pcm16)
    if mv.nbytes % 2:
        raise ValueError(f"PCM16 data must have an even number of bytes, got {mv.nbytes}")
    idx = np.frombuffer(mv, dtype="<u2")
    if not idx.dtype.isnative:  # big-endian host
        idx = idx.astype(np.uint16)
    return idx


def _encode(table: np.ndarray, pcm16: BytesLike | np.ndarray) -> bytes:
    return table.take(_pcm16_indices(pcm16)).tobytes()


def _decode(table: np.ndarray, data: BytesLike | np.ndarray) -> bytes:
    if isinstance(data, np.ndarray):
        codes = data.reshape(-1).astype(np.uint8, copy=False)
    else:
        codes = np.frombuffer(memoryview(data), dtype=np.uint8)
    return table.take(codes).tobytes()


def ulaw_encode(pcm16: BytesLike | np.ndarray) -> bytes:
    """PCM16 little-endian bytes (or an int16 array) -> G.711 mu-law bytes (1 per sample)."""
    return _encode(_ULAW_ENC, pcm16)


def alaw_encode(pcm16: BytesLike | np.ndarray) -> bytes:
    """PCM16 little-endian bytes (or an int16 array) -> G.711 A-law bytes (1 per sample)."""
    return _encode(_ALAW_ENC, pcm16)


def ulaw_decode(data: BytesLike | np.ndarray) -> bytes:
    """G.711 mu-law bytes -> PCM16 little-endian bytes (same sample rate)."""
    return _decode(_ULAW_DEC, data)


def alaw_decode(data: BytesLike | np.ndarray) -> bytes:
    """G.711 A-law bytes -> PCM16 little-endian bytes (same sample rate)."""
    return _decode(_ALAW_DEC, data)
