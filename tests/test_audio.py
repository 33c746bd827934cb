"""Tests for realtime_widget.audio: PCM16/float32, base64, G.711, formats, resampling."""

from __future__ import annotations

import base64
import hashlib
import itertools
import struct
import sys
import warnings

import numpy as np
import pytest
import soxr

from realtime_widget import audio
from realtime_widget.audio import (
    StreamResampler,
    alaw_decode,
    alaw_encode,
    b64decode_audio,
    b64encode_audio,
    bytes_for_ms,
    bytes_per_sample,
    duration_ms,
    float32_to_pcm16,
    from_pcm16,
    normalize_format,
    pcm16_to_float32,
    resample,
    sample_rate,
    to_pcm16,
    ulaw_decode,
    ulaw_encode,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:  # stdlib up to 3.12; the ``audioop-lts`` package provides it on 3.13+
        import audioop
    except ImportError:  # pragma: no cover
        audioop = None

needs_audioop = pytest.mark.skipif(audioop is None, reason="audioop / audioop-lts not installed")

ALL_PCM16 = np.arange(-32768, 32768, dtype="<i2").tobytes()
ALL_CODES = bytes(range(256))


def _pcm(*values: int) -> bytes:
    return struct.pack(f"<{len(values)}h", *values)


def _samples(b: bytes) -> list[int]:
    return list(struct.unpack(f"<{len(b) // 2}h", b))


# --------------------------------------------------------------------------- public API


def test_public_api_exported():
    for name in [
        "pcm16_to_float32",
        "float32_to_pcm16",
        "b64encode_audio",
        "b64decode_audio",
        "ulaw_encode",
        "ulaw_decode",
        "alaw_encode",
        "alaw_decode",
        "normalize_format",
        "sample_rate",
        "bytes_per_sample",
        "duration_ms",
        "bytes_for_ms",
        "to_pcm16",
        "from_pcm16",
        "StreamResampler",
        "resample",
    ]:
        assert name in audio.__all__, name
        assert callable(getattr(audio, name))


# --------------------------------------------------------------------------- G.711 vs audioop


@needs_audioop
def test_ulaw_encode_all_65536_values_match_audioop():
    assert ulaw_encode(ALL_PCM16) == audioop.lin2ulaw(ALL_PCM16, 2)


@needs_audioop
def test_alaw_encode_all_65536_values_match_audioop():
    assert alaw_encode(ALL_PCM16) == audioop.lin2alaw(ALL_PCM16, 2)


@needs_audioop
def test_decode_all_256_code_words_match_audioop():
    assert ulaw_decode(ALL_CODES) == audioop.ulaw2lin(ALL_CODES, 2)
    assert alaw_decode(ALL_CODES) == audioop.alaw2lin(ALL_CODES, 2)


@needs_audioop
def test_roundtrip_matches_audioop():
    assert ulaw_encode(ulaw_decode(ALL_CODES)) == audioop.lin2ulaw(
        audioop.ulaw2lin(ALL_CODES, 2), 2
    )
    assert alaw_encode(alaw_decode(ALL_CODES)) == audioop.lin2alaw(
        audioop.alaw2lin(ALL_CODES, 2), 2
    )


# --------------------------------------------------------------------------- G.711, never skipped

# SHA-256 of audioop's output (CPython 3.11 audioop == Sun g711.c, the ITU-T G.711
# reference) over all 65536 PCM16 values (-32768..32767, LE) resp. all 256 code words.
_SHA_LIN2ULAW = "81d633c9e6972a18c74a58720b96cb8ca0bdd096d4060b646dd708c3b846019a"
_SHA_LIN2ALAW = "38488f6fd710f4686360edc4d38639f96c491595ef93f8eb8d62d5e07ca6ce7b"
_SHA_ULAW2LIN = "3dab54339e520bb2c924826e3b72a917a2b612e9fd12fc867500f1d983a75827"
_SHA_ALAW2LIN = "e04788d110e58ff8c70c93b8480190d973e3b67876b6119abbaec766cc75c174"


def test_exhaustive_tables_match_recorded_audioop_digests():
    assert hashlib.sha256(ulaw_encode(ALL_PCM16)).hexdigest() == _SHA_LIN2ULAW
    assert hashlib.sha256(alaw_encode(ALL_PCM16)).hexdigest() == _SHA_LIN2ALAW
    assert hashlib.sha256(ulaw_decode(ALL_CODES)).hexdigest() == _SHA_ULAW2LIN
    assert hashlib.sha256(alaw_decode(ALL_CODES)).hexdigest() == _SHA_ALAW2LIN


# (pcm16 sample, mu-law code, A-law code): from audioop and the G.711 code tables
# (mu-law: 0xFF = +0, 0x80 = +max, 0x00 = -max; A-law: even-bit inverted, 0xD5 = +min,
# 0x55 = -min, 0xAA = +max, 0x2A = -max).
ENCODE_REFERENCE = [
    (0, 0xFF, 0xD5),
    (1, 0xFF, 0xD5),
    (-1, 0x7E, 0x55),
    (2, 0xFF, 0xD5),
    (-2, 0x7E, 0x55),
    (3, 0xFF, 0xD5),
    (4, 0xFE, 0xD5),
    (-4, 0x7E, 0x55),
    (-5, 0x7E, 0x55),
    (7, 0xFE, 0xD5),
    (8, 0xFE, 0xD5),
    (100, 0xF2, 0xD3),
    (-100, 0x72, 0x53),
    (1000, 0xCE, 0xFA),
    (-1000, 0x4E, 0x7A),
    (5000, 0xAB, 0x86),
    (-5000, 0x2B, 0x06),
    (32124, 0x80, 0xAA),
    (32767, 0x80, 0xAA),
    (-32767, 0x00, 0x2A),
    (-32768, 0x00, 0x2A),
]
ULAW_DECODE_REFERENCE = {
    0x00: -32124,
    0x0F: -16764,
    0x10: -15996,
    0x70: -120,
    0x7E: -8,
    0x7F: 0,
    0x80: 32124,
    0xEF: 132,
    0xFE: 8,
    0xFF: 0,
}
ALAW_DECODE_REFERENCE = {
    0x00: -5504,
    0x2A: -32256,
    0x55: -8,
    0x54: -24,
    0x80: 5504,
    0xAA: 32256,
    0xD5: 8,
    0xD4: 24,
    0xFF: 848,
}


@pytest.mark.parametrize("value,ucode,acode", ENCODE_REFERENCE)
def test_encode_reference_code_words(value, ucode, acode):
    assert ulaw_encode(_pcm(value)) == bytes([ucode])
    assert alaw_encode(_pcm(value)) == bytes([acode])


def test_decode_reference_code_words():
    for code, value in ULAW_DECODE_REFERENCE.items():
        assert _samples(ulaw_decode(bytes([code]))) == [value], hex(code)
    for code, value in ALAW_DECODE_REFERENCE.items():
        assert _samples(alaw_decode(bytes([code]))) == [value], hex(code)


def test_decode_tables_are_sign_symmetric_and_monotonic():
    u = np.array(_samples(ulaw_decode(ALL_CODES)))
    a = np.array(_samples(alaw_decode(ALL_CODES)))
    idx = np.arange(256)
    assert (u[idx ^ 0x80] == -u).all()
    assert (a[idx ^ 0x80] == -a).all()
    # mu-law: 0x80..0xFF is +max..+0 (strictly decreasing), 0x00..0x7F is -max..-0
    assert (np.diff(u[0x80:]) < 0).all() and (np.diff(u[:0x80]) > 0).all()
    # A-law: after removing the even-bit inversion, 0x80..0xFF increases
    a_pos = a[np.arange(0x80, 0x100) ^ 0x55]
    assert (np.diff(a_pos) > 0).all()


def test_encode_is_monotonic_with_bounded_error():
    x = np.arange(-32768, 32768)
    for enc, dec, max_err in ((ulaw_encode, ulaw_decode, 1024), (alaw_encode, alaw_decode, 1024)):
        y = np.array(_samples(dec(enc(ALL_PCM16))))
        assert (np.diff(y) >= 0).all()
        assert np.abs(y - x).max() <= max_err
        small = np.abs(x) < 256  # finest segment: small quantisation error
        assert np.abs(y - x)[small].max() <= 16


def test_roundtrip_code_words():
    uback = ulaw_encode(ulaw_decode(ALL_CODES))
    for c in range(256):
        # mu-law has two zeros: 0x7F ("-0") decodes to 0, which encodes to 0xFF ("+0")
        expected = 0xFF if c == 0x7F else c
        assert uback[c] == expected, hex(c)
    assert alaw_encode(alaw_decode(ALL_CODES)) == ALL_CODES


def test_g711_accepts_bytes_like_and_int16_arrays():
    arr = np.array([0, -1, 1000, -32768, 32767], dtype=np.int16)
    b = arr.astype("<i2").tobytes()
    for enc in (ulaw_encode, alaw_encode):
        ref = enc(b)
        assert enc(bytearray(b)) == ref
        assert enc(memoryview(b)) == ref
        assert enc(arr) == ref
        assert enc(arr.astype(">i2")) == ref  # big-endian array: same samples
        assert enc(b"") == b""
        with pytest.raises(ValueError):
            enc(b"\x00\x01\x02")
        with pytest.raises(TypeError):
            enc(arr.astype(np.float32))
    for dec in (ulaw_decode, alaw_decode):
        assert dec(b"") == b""
        assert dec(bytearray(b"\x00\xff")) == dec(b"\x00\xff")
        assert dec(np.frombuffer(b"\x00\xff", np.uint8)) == dec(b"\x00\xff")


def test_g711_output_is_little_endian():
    assert ulaw_decode(b"\x80") == struct.pack("<h", 32124)
    assert alaw_decode(b"\xaa") == struct.pack("<h", 32256)


# --------------------------------------------------------------------------- PCM16 <-> float32


def test_pcm16_to_float32_scaling():
    x = pcm16_to_float32(_pcm(0, 16384, -16384, 32767, -32768, 1))
    assert x.dtype == np.float32
    assert x.tolist() == [0.0, 0.5, -0.5, 32767 / 32768, -1.0, 1 / 32768]
    full = pcm16_to_float32(ALL_PCM16)
    assert full.min() == -1.0 and full.max() < 1.0
    assert np.array_equal(
        pcm16_to_float32(np.arange(-5, 5, dtype=np.int16)), np.arange(-5, 5) / 32768
    )
    with pytest.raises(ValueError):
        pcm16_to_float32(b"\x00")


def test_float32_to_pcm16_clip_round_nan_little_endian():
    x = np.array(
        [
            0.0,
            0.5,
            -0.5,
            1.0,
            -1.0,
            2.0,
            -3.0,
            np.inf,
            -np.inf,
            np.nan,
            1.4 / 32768,
            1.6 / 32768,
            2.5 / 32768,
            -2.5 / 32768,
        ],
        dtype=np.float32,
    )
    b = float32_to_pcm16(x)
    assert isinstance(b, bytes) and len(b) == 2 * len(x)
    assert _samples(b) == [
        0,
        16384,
        -16384,
        32767,
        -32768,
        32767,
        -32768,
        32767,
        -32768,
        0,
        1,
        2,
        2,
        -2,
    ]  # round half to even
    assert float32_to_pcm16(np.array([0.5])) == b"\x00\x40"  # float64 accepted; LE bytes


def test_pcm16_float_roundtrip_is_exact_for_all_values():
    assert float32_to_pcm16(pcm16_to_float32(ALL_PCM16)) == ALL_PCM16


# --------------------------------------------------------------------------- base64


def _protocol_error_cls():
    try:
        from realtime_widget.protocol.errors import ProtocolError
    except ImportError:
        from realtime_widget.protocol import ProtocolError
    return ProtocolError


def test_b64_roundtrip():
    data = bytes(range(256)) * 7 + b"\x01"
    s = b64encode_audio(data)
    assert isinstance(s, str) and s == base64.b64encode(data).decode()
    assert b64decode_audio(s) == data
    assert b64decode_audio(s.encode()) == data
    assert b64decode_audio("") == b""
    assert (
        b64encode_audio(np.array([1, -2], dtype=np.int16)) == base64.b64encode(_pcm(1, -2)).decode()
    )


@pytest.mark.parametrize(
    "bad",
    ["abc", "ab=c", "a b c d", "YWJj\n", "YWJj!", "YW_j", "é", "YWJjZA", 12345, None],
)
def test_b64decode_rejects_bad_input(bad):
    ProtocolError = _protocol_error_cls()
    with pytest.raises(ProtocolError) as info:
        b64decode_audio(bad)
    err = info.value
    assert err.code == "invalid_base64"
    assert err.param == "audio"
    assert err.type == "invalid_request_error"
    assert "audio" in err.message


def test_b64decode_custom_param():
    ProtocolError = _protocol_error_cls()
    with pytest.raises(ProtocolError) as info:
        b64decode_audio("***", param="delta")
    assert info.value.param == "delta"
    assert info.value.code == "invalid_base64"


# --------------------------------------------------------------------------- formats


@pytest.mark.parametrize(
    "name,canon",
    [
        ("pcm16", "pcm16"),
        ("g711_ulaw", "g711_ulaw"),
        ("g711-ulaw", "g711_ulaw"),
        ("g711_alaw", "g711_alaw"),
        ("g711-alaw", "g711_alaw"),
    ],
)
def test_normalize_format(name, canon):
    assert normalize_format(name) == canon


@pytest.mark.parametrize("bad", ["pcm", "PCM16", "ulaw", "g711", "", None, 16])
def test_normalize_format_rejects(bad):
    with pytest.raises(ValueError) as info:
        normalize_format(bad)
    msg = str(info.value)
    for allowed in ("pcm16", "g711_ulaw", "g711_alaw"):
        assert allowed in msg


def test_rates_and_widths():
    assert sample_rate("pcm16") == 24000 and bytes_per_sample("pcm16") == 2
    for f in ("g711_ulaw", "g711-alaw"):
        assert sample_rate(f) == 8000 and bytes_per_sample(f) == 1


def test_duration_ms():
    assert duration_ms(48000, "pcm16") == 1000.0
    assert duration_ms(960, "pcm16") == 20.0
    assert duration_ms(961, "pcm16") == 20.0  # whole samples only
    assert duration_ms(8000, "g711_ulaw") == 1000.0
    assert duration_ms(1, "g711_alaw") == 0.125
    assert duration_ms(0, "pcm16") == 0.0
    with pytest.raises(ValueError):
        duration_ms(-2, "pcm16")


def test_bytes_for_ms():
    assert bytes_for_ms(20, "pcm16") == 960
    assert bytes_for_ms(1000, "pcm16") == 48000
    assert bytes_for_ms(20, "g711_ulaw") == 160
    assert bytes_for_ms(0.1, "pcm16") == 4  # 2.4 samples -> 2 whole samples
    assert bytes_for_ms(0.1, "g711_alaw") == 0  # 0.8 sample -> 0
    assert bytes_for_ms(1000 / 24, "pcm16") == 2000  # exactly 1000 samples despite float round-off
    assert bytes_for_ms(1 / 24, "pcm16") == 2
    assert bytes_for_ms(0, "pcm16") == 0
    for ms in (0, 1, 7, 20, 33.3, 100, 12345):
        for f in ("pcm16", "g711_ulaw"):
            assert duration_ms(bytes_for_ms(ms, f), f) <= ms + 1e-9
    with pytest.raises(ValueError):
        bytes_for_ms(-1, "pcm16")
    with pytest.raises(ValueError):
        bytes_for_ms(float("nan"), "pcm16")
    with pytest.raises(ValueError):
        bytes_for_ms(10, "mp3")


def test_to_and_from_pcm16():
    pcm = _pcm(0, 100, -1000, 32767)
    assert to_pcm16(pcm, "pcm16") == pcm and from_pcm16(pcm, "pcm16") == pcm
    assert from_pcm16(pcm, "g711_ulaw") == ulaw_encode(pcm)
    assert from_pcm16(pcm, "g711-alaw") == alaw_encode(pcm)
    assert to_pcm16(b"\x80\xff", "g711_ulaw") == ulaw_decode(b"\x80\xff")
    assert to_pcm16(b"\xaa", "g711-alaw") == alaw_decode(b"\xaa")
    assert isinstance(to_pcm16(bytearray(pcm), "pcm16"), bytes)
    with pytest.raises(ValueError):
        to_pcm16(b"\x00", "pcm16")
    with pytest.raises(ValueError):
        from_pcm16(pcm, "opus")


# --------------------------------------------------------------------------- resampling

RATE_PAIRS = [(48000, 24000), (22050, 24000), (24000, 16000)]
F0 = 1000.0
AMP = 0.5


def _sine(rate: int, seconds: float, f: float = F0, amp: float = AMP) -> np.ndarray:
    n = round(rate * seconds)
    return (amp * np.sin(2 * np.pi * f * np.arange(n) / rate)).astype(np.float32)


def _chunk_sizes(kind: str, rate: int, n: int, rng: np.random.Generator) -> list[int]:
    if kind == "random":
        sizes = []
        while sum(sizes) < n:
            sizes.append(int(rng.integers(0, 2 * rate // 100)))  # 0 .. 20 ms, including 0
        return sizes
    ms = {"20ms": 20, "10ms": 10}[kind]
    # whole cumulative sample counts even when ms*rate/1000 is fractional (22050 Hz)
    edges = [(k * ms * rate) // 1000 for k in range(n * 1000 // (ms * rate) + 2)]
    return [b - a for a, b in itertools.pairwise(edges)]


def _stream(x: np.ndarray, rs: StreamResampler, sizes: list[int]) -> tuple[np.ndarray, list[int]]:
    outs, pos = [], 0
    for size in sizes:
        if pos >= len(x):
            break
        outs.append(rs.process(x[pos : pos + size]))
        pos += size
    assert pos >= len(x)
    outs.append(rs.flush())
    return np.concatenate(outs), [len(o) for o in outs]


def _sine_snr_db(y: np.ndarray, rate: int, edge_s: float = 0.05) -> float:
    """SNR of y against the ideal (zero-delay) AMP*sin(2 pi F0 t), skipping the edges."""
    t = np.arange(len(y)) / rate
    ideal = AMP * np.sin(2 * np.pi * F0 * t)
    sl = slice(int(edge_s * rate), len(y) - int(edge_s * rate))
    err = y[sl].astype(np.float64) - ideal[sl]
    return 10 * np.log10(np.sum(ideal[sl] ** 2) / np.sum(err**2))


@pytest.mark.parametrize("in_rate,out_rate", RATE_PAIRS)
@pytest.mark.parametrize("chunking", ["20ms", "10ms", "random"])
def test_stream_matches_one_shot_without_clicks(in_rate, out_rate, chunking):
    rng = np.random.default_rng(1234)
    x = _sine(in_rate, 1.0)
    sizes = _chunk_sizes(chunking, in_rate, len(x), rng)
    rs = StreamResampler(in_rate, out_rate)
    y, _ = _stream(x, rs, sizes)
    assert y.dtype == np.float32
    one = soxr.resample(x, in_rate, out_rate, quality="HQ")
    expected_len = len(x) * out_rate / in_rate
    assert abs(len(y) - expected_len) <= 1
    assert abs(len(y) - len(one)) <= 1
    n = min(len(y), len(one))
    assert np.abs(y[:n] - one[:n]).max() < 1e-4
    ours = resample(x, in_rate, out_rate)  # the one-shot helper is soxr.resample
    assert len(ours) == len(one) and np.abs(ours - one).max() < 1e-6
    # spectral purity vs the ideal sine (output is delay-compensated)
    assert _sine_snr_db(y, out_rate) > 80
    # no clicks: the sample-to-sample step never exceeds that of the ideal sine (+ margin)
    max_step = AMP * 2 * np.sin(np.pi * F0 / out_rate)
    inner = y[int(0.01 * out_rate) : -int(0.01 * out_rate)]
    assert np.abs(np.diff(inner)).max() < max_step * 1.001
    assert rs.samples_in == len(x) and rs.samples_out == len(y)


@pytest.mark.parametrize("in_rate,out_rate", RATE_PAIRS)
def test_stream_int16_and_bytes_inputs(in_rate, out_rate):
    x = _sine(in_rate, 0.5)
    pcm = float32_to_pcm16(x)
    step = in_rate // 50
    # bytes in -> int16 out
    rs = StreamResampler(in_rate, out_rate)
    outs = [rs.process(pcm[i : i + 2 * step]) for i in range(0, len(pcm), 2 * step)]
    outs.append(rs.flush())
    assert all(o.dtype == np.int16 for o in outs)
    y16 = np.concatenate(outs)
    assert np.array_equal(y16, resample(pcm, in_rate, out_rate))
    assert _sine_snr_db(y16.astype(np.float32) / 32768, out_rate) > 80
    # int16 processing dtype
    rs16 = StreamResampler(in_rate, out_rate, dtype="int16")
    x16 = np.frombuffer(pcm, "<i2")
    outs = [rs16.process(x16[i : i + step]) for i in range(0, len(x16), step)] + [rs16.flush()]
    z = np.concatenate(outs)
    assert z.dtype == np.int16 and abs(len(z) - len(y16)) <= 1
    assert _sine_snr_db(z.astype(np.float32) / 32768, out_rate) > 80
    # float input to an int16 stream gives float32 out
    rs16.reset()
    assert rs16.process(x[:step]).dtype == np.float32
    # process_bytes round trip
    rsb = StreamResampler(in_rate, out_rate)
    b = b"".join(rsb.process_bytes(pcm[i : i + 2 * step]) for i in range(0, len(pcm), 2 * step))
    b += rsb.process_bytes(b"", last=True)
    assert b == y16.astype("<i2").tobytes()


@pytest.mark.parametrize(
    "in_rate,out_rate",
    [(22050, 24000), (11025, 16000), (44100, 24000), (44100, 16000), (22050, 8000)],
)
def test_fractional_frames_are_not_dropped(in_rate, out_rate):
    """10 ms frames whose ideal output length is fractional (e.g. 220.5 samples of
    22050 Hz, or 441 -> 240 but 220/221 alternating): the stream must keep the
    fractions, so the cumulative output count stays exact."""
    rng = np.random.default_rng(7)
    x = (rng.standard_normal(in_rate * 3) * 0.1).astype(np.float32)
    sizes = _chunk_sizes("10ms", in_rate, len(x), rng)
    rs = StreamResampler(in_rate, out_rate)
    total_in = total_out = 0
    naive_total = 0
    pos = 0
    for size in sizes:
        chunk = x[pos : pos + size]
        if len(chunk) == 0:
            break
        pos += len(chunk)
        total_in += len(chunk)
        total_out += len(rs.process(chunk))
        naive_total += int(len(chunk) * out_rate / in_rate)  # the per-chunk-floor trap
        # never more than the filter's latency behind the exact cumulative count
        exact = total_in * out_rate / in_rate
        assert total_out <= exact + 1
        assert exact - total_out <= rs.delay + 2
    total_out += len(rs.flush())
    exact = len(x) * out_rate / in_rate
    assert abs(total_out - exact) <= 1
    assert total_out == len(soxr.resample(x, in_rate, out_rate))
    if (in_rate * 10) % 1000 or ((in_rate * 10 // 1000) * out_rate) % in_rate:
        assert naive_total < exact - 50  # the naive approach loses samples; the stream did not


def test_stream_lifecycle():
    x = _sine(48000, 0.2)
    rs = StreamResampler(48000, 24000)
    first = np.concatenate([rs.process(x), rs.flush()])
    with pytest.raises(RuntimeError):
        rs.process(x)
    rs.reset()
    again = np.concatenate([rs.process(x[:1000]), rs.process(x[1000:], last=True)])
    assert np.array_equal(first, again)
    assert "48000" in repr(rs)
    # empty chunks and (n, 1) input
    rs.reset()
    assert len(rs.process(np.zeros(0, np.float32))) == 0
    assert rs.process(x.reshape(-1, 1)).ndim == 1
    with pytest.raises(ValueError):
        rs.process(np.zeros((10, 2), np.float32))
    with pytest.raises(TypeError):
        rs.process(np.zeros(10, np.int32))
    with pytest.raises(ValueError):
        StreamResampler(48000, 24000, dtype="uint8")
    with pytest.raises(ValueError):
        StreamResampler(0, 24000)


def test_stream_passthrough_same_rate():
    x = _sine(24000, 0.1)
    rs = StreamResampler(24000, 24000)
    y = rs.process(x)
    assert np.array_equal(y, x) and y is not x
    assert len(rs.flush()) == 0
    assert np.array_equal(resample(x, 24000, 24000), x)
    pcm = float32_to_pcm16(x)
    assert (
        resample(pcm, 24000, 24000).tobytes()
        == np.frombuffer(pcm, "<i2").astype(np.int16).tobytes()
    )


def test_stream_float64_dtype():
    x = _sine(48000, 0.5).astype(np.float64)
    rs = StreamResampler(48000, 16000, dtype="float64")
    y = np.concatenate([rs.process(x[i : i + 960]) for i in range(0, len(x), 960)] + [rs.flush()])
    assert y.dtype == np.float64
    assert np.abs(y - soxr.resample(x, 48000, 16000)).max() < 1e-9
    # float32 stream given float64 input returns float32
    assert StreamResampler(48000, 16000).process(x).dtype == np.float32


def test_resample_one_shot_dtypes():
    x = _sine(48000, 0.1)
    assert resample(x, 48000, 24000).dtype == np.float32
    assert resample(x.astype(np.float64), 48000, 24000).dtype == np.float64
    pcm = float32_to_pcm16(x)
    y = resample(pcm, 48000, 24000)
    assert y.dtype == np.int16 and len(y) == 2400
    assert np.array_equal(resample(np.frombuffer(pcm, "<i2"), 48000, 24000), y)
    with pytest.raises(ValueError):
        resample(x, 48000, -1)


def test_resample_int16_clips_instead_of_wrapping():
    # a full-scale square wave overshoots after band-limiting: must clip, not wrap around
    sq = np.where((np.arange(4800) // 24) % 2 == 0, 32767, -32768).astype(np.int16)
    y = resample(sq, 48000, 24000)
    yf = resample(sq.astype(np.float32) / 32768, 48000, 24000)
    assert yf.max() > 1.0  # there is overshoot
    assert y.max() == 32767 and y.min() == -32768
    pos = yf > 1.0
    assert (y[pos] == 32767).all()


if sys.byteorder == "big":  # pragma: no cover

    def test_big_endian_host_wire_format():
        assert float32_to_pcm16(np.array([0.5], np.float32)) == b"\x00\x40"
