"""Offline speech recognition: Moonshine base (English) run with onnxruntime.

Weights: ``encoder_model.ort`` and ``decoder_model_merged.ort`` (ONNX Runtime format,
int8 weights) shipped inside the ``moonshine-cpp`` 0.1.4 wheel (MIT; Linux x86_64 only).
Only the files are used: that wheel's own runtime leaks memory per call and its Python
``transcribe()`` is broken, so they are run with the pip ``onnxruntime``, with greedy
decoding and a KV cache. By default the int8 weights are dequantized once into an ONNX
copy (:mod:`._ortfold`), because the ``.ort`` graphs dequantize all weights on every
decoding step; that makes decoding ~4x faster (~6 ms instead of ~30 ms per token).

Tokenizer: the same wheel ships ``tokenizer.bin``, a flat id -> bytes table of the
32000-token Moonshine SentencePiece/BPE vocabulary (each entry is a length byte, or two
bytes ``(n & 0x7f) | 0x80, n >> 7`` when longer than 127, followed by the token's UTF-8
bytes, byte-fallback tokens already resolved to their raw byte). Decoding only needs
that table (concatenate, replace U+2581 by a space, UTF-8 decode), so neither
``tokenizers`` nor ``useful-moonshine-onnx`` (which pulls librosa, numba and
huggingface-hub) is needed. The table was checked entry by entry against the
``tokenizer.json`` of ``useful-moonshine-onnx``: all 32000 entries agree.

Everything here is synchronous CPU work (real-time factor ~0.04 on one core, ~0.15
without folding): the
engine calls :meth:`Transcriber.transcribe` from an executor. One :class:`Transcriber`
is shared by all sessions; concurrent calls are safe (onnxruntime sessions are
thread-safe and each call keeps its own decoder state).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ._ort import ShrinkingSession, SpeechModelsUnavailable, make_session, release_free_memory

__all__ = ["MoonshineTokenizer", "Transcriber", "moonshine_model_dir", "speech_with_margins"]

_LOG = logging.getLogger(__name__)
SAMPLE_RATE = 16000
_NUM_LAYERS = 8  # Moonshine base
_NUM_KV_HEADS = 8
_HEAD_DIM = 52
_BOS = 1
_EOS = 2
_MAX_DECODER_TOKENS = 190  # the decoder's positional table holds ~194 positions
_TOKENS_PER_SECOND = 8.0  # generous: fast English speech is ~5-6 tokens/s
_MIN_SECONDS = 0.3  # shorter input is zero-padded to this length
_MAX_WINDOW_SECONDS = 20.0  # longer input is cut (at a quiet spot) into windows


def moonshine_model_dir() -> Path:
    """Folder of the Moonshine base-en files inside the installed ``moonshine-cpp`` wheel."""
    try:
        root = resources.files("moonshine_cpp")
    except ModuleNotFoundError as exc:
        raise SpeechModelsUnavailable(
            "moonshine-cpp is not installed: pip install 'realtime-widget[local]'"
        ) from exc
    return Path(str(root.joinpath("models", "base-en")))


class MoonshineTokenizer:
    """Decoder for Moonshine token ids, read from ``tokenizer.bin`` (see module doc)."""

    def __init__(self, pieces: Sequence[bytes]) -> None:
        self.pieces = list(pieces)

    @classmethod
    def from_file(cls, path: str | Path) -> MoonshineTokenizer:
        data = Path(path).read_bytes()
        pieces: list[bytes] = []
        i = 0
        while i < len(data):
            n = data[i]
            i += 1
            if n >= 0x80:
                n = (n & 0x7F) | (data[i] << 7)
                i += 1
            pieces.append(data[i : i + n])
            i += n
        if i != len(data) or len(pieces) < 1000:
            raise ValueError(f"{path} is not a Moonshine tokenizer.bin")
        return cls(pieces)

    def __len__(self) -> int:
        return len(self.pieces)

    def decode(self, ids: Sequence[int]) -> str:
        """Text of ``ids``; special tokens (<unk>, <s>, </s>, ids past the table) are dropped."""
        raw = b"".join(self.pieces[i] for i in ids if 3 <= i < len(self.pieces))
        return raw.decode("utf-8", errors="replace").replace("\u2581", " ").strip()


def speech_with_margins(
    x: np.ndarray, keep_s: float = 0.3, below_peak_db: float = 40.0
) -> np.ndarray:
    """``x`` with at most ``keep_s`` of silence before its first loud 10 ms frame and
    exactly ``keep_s`` after its last (cut, or padded with zeros). Loud = above peak -
    ``below_peak_db`` and above twice the quiet floor.

    Moonshine's words depend on the silence around them. Measured (benchmarks/README.md,
    turn taking): a committed buffer with 2.6 s of trailing silence came back "" for
    sentences it read perfectly without it, and audio cut at the VAD's first silent frame
    (the speculative recognition of server VAD) garbled the last word. With the same
    margins on every path, server VAD and a manual commit hear the same thing."""
    hop = SAMPLE_RATE // 100
    n = x.shape[0] // hop
    if n < 2:
        return x
    rms = np.sqrt((x[: n * hop].reshape(n, hop) ** 2).mean(axis=1))
    loud = np.flatnonzero(
        rms
        >= max(float(rms.max()) * 10 ** (-below_peak_db / 20), 2.0 * float(np.percentile(rms, 10)))
    )
    if not loud.size:
        return x
    keep = int(keep_s * SAMPLE_RATE)
    start = max(0, int(loud[0]) * hop - keep)
    end = (int(loud[-1]) + 1) * hop + keep
    out = x[start:end]
    if end > x.shape[0]:
        out = np.concatenate((out, np.zeros(end - x.shape[0], dtype=x.dtype)))
    return out


class Transcriber:
    """Moonshine base-en speech recognizer (English).

    ``transcribe(audio)`` takes PCM16 bytes at 24 kHz (the realtime ``pcm16`` input
    format; pass ``sample_rate=`` for other rates) or a float32 ndarray at 16 kHz and
    returns the text. Synchronous: call from an executor.
    """

    sample_rate = SAMPLE_RATE
    folded = False
    """True when the weight-folded ONNX copies are running (see :meth:`load`)."""

    def __init__(self, encoder: Any, decoder: Any, tokenizer: MoonshineTokenizer) -> None:
        # the encoder's activations grow with the audio (up to a 20 s window): give them back
        self.encoder = (
            encoder if isinstance(encoder, ShrinkingSession) else ShrinkingSession(encoder)
        )
        self.decoder = decoder
        self.tokenizer = tokenizer
        self._past_names = [
            f"past_key_values.{i}.{part}.{kv}"
            for i in range(_NUM_LAYERS)
            for part in ("decoder", "encoder")
            for kv in ("key", "value")
        ]

    @classmethod
    def load(
        cls,
        model_dir: str | Path | None = None,
        *,
        threads: int | None = None,
        fold_weights: bool | None = None,
    ) -> Transcriber:
        """Load Moonshine base-en from ``model_dir`` (default: the ``moonshine-cpp`` wheel).

        ``fold_weights`` (default on; ``REALTIME_WIDGET_MOONSHINE_FOLD=0`` turns it off):
        run an ONNX copy of each ``.ort`` file whose int8 weights were dequantized once at
        conversion (see :mod:`._ortfold`; cached on disk, ~250 MB) instead of on every
        decoding step: ~3-4x faster decoding, same weights, same transcripts. Falls back
        to the ``.ort`` files if the conversion fails.
        """
        d = Path(model_dir) if model_dir is not None else moonshine_model_dir()
        if fold_weights is None:
            fold_weights = os.environ.get("REALTIME_WIDGET_MOONSHINE_FOLD", "1").strip() != "0"
        tokenizer = MoonshineTokenizer.from_file(d / "tokenizer.bin")
        enc, dec = d / "encoder_model.ort", d / "decoder_model_merged.ort"
        if fold_weights:
            try:
                t = cls(_folded_session(enc, threads), _folded_session(dec, threads), tokenizer)
                t.folded = True
                return t
            except Exception as exc:  # noqa: BLE001  # pragma: no cover - onnxruntime internals
                _LOG.warning(
                    "Moonshine weight folding failed (%s); running the .ort files as is", exc
                )
        return cls(
            make_session(enc, threads=threads), make_session(dec, threads=threads), tokenizer
        )

    # -- public -----------------------------------------------------------------------
    def transcribe(
        self, audio: bytes | bytearray | memoryview | np.ndarray, *, sample_rate: int | None = None
    ) -> str:
        """Recognize English speech.

        ``audio``: PCM16 little-endian bytes (default rate 24000), or an ndarray (float32 in
        [-1, 1] or int16; default rate 16000). Returns ``""`` for empty or digitally silent
        input. Audio longer than 20 s is cut at quiet spots and the pieces' texts joined.
        Synchronous (~40 ms per second of audio on one core): call from an executor.
        """
        x = self._to_16k(audio, sample_rate)
        if x.size < SAMPLE_RATE // 50 or float(np.max(np.abs(x))) < 1e-4:
            return ""
        x = speech_with_margins(x)
        texts = [self._transcribe_window(w) for w in _split_windows(x)]
        return " ".join(t for t in texts if t)

    def transcribe_tokens(self, audio16k: np.ndarray) -> list[int]:
        """Greedy token ids (without <s> / </s>) for one window of float32 16 kHz audio."""
        x = np.asarray(audio16k, dtype=np.float32).reshape(-1)
        min_len = int(_MIN_SECONDS * SAMPLE_RATE)
        if x.shape[0] < min_len:
            x = np.concatenate((x, np.zeros(min_len - x.shape[0], dtype=np.float32)))
        seconds = x.shape[0] / SAMPLE_RATE
        max_tokens = min(_MAX_DECODER_TOKENS, math.ceil(seconds * _TOKENS_PER_SECOND) + 8)

        hidden = self.encoder.run(None, {"input_values": x[None, :]})[0]
        empty = np.zeros((1, _NUM_KV_HEADS, 0, _HEAD_DIM), dtype=np.float32)
        past = {name: empty for name in self._past_names}
        tokens: list[int] = []
        input_ids = np.array([[_BOS]], dtype=np.int64)
        for step in range(max_tokens):
            out = self.decoder.run(
                None,
                {
                    "input_ids": input_ids,
                    "encoder_hidden_states": hidden,
                    "use_cache_branch": np.array([step > 0]),
                    **past,
                },
            )
            token = int(np.argmax(out[0][0, -1]))
            if token == _EOS:
                break
            tokens.append(token)
            if _repeating_tail(tokens):
                break
            input_ids = np.array([[token]], dtype=np.int64)
            for name, value in zip(self._past_names, out[1:], strict=True):
                # The encoder (cross-attention) cache is computed once, on the first step.
                if step == 0 or ".decoder." in name:
                    past[name] = value
        return _strip_repetition(tokens)

    # -- helpers ----------------------------------------------------------------------
    def _transcribe_window(self, x: np.ndarray) -> str:
        return self.tokenizer.decode(self.transcribe_tokens(x))

    @staticmethod
    def _to_16k(audio: Any, sample_rate: int | None) -> np.ndarray:
        if isinstance(audio, np.ndarray):
            rate = sample_rate or SAMPLE_RATE
            if audio.dtype == np.int16:
                x = audio.reshape(-1).astype(np.float32) / 32768.0
            else:
                x = np.asarray(audio, dtype=np.float32).reshape(-1)
        else:
            rate = sample_rate or 24000
            data = bytes(audio)
            data = data[: len(data) - (len(data) % 2)]
            x = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
        if rate != SAMPLE_RATE and x.size:
            import soxr

            x = soxr.resample(x, rate, SAMPLE_RATE, quality="HQ").astype(np.float32, copy=False)
        return x


def _folded_session(src: Path, threads: int | None) -> Any:
    from ._ortfold import folded_onnx_path

    path, temporary = folded_onnx_path(src)
    try:
        return make_session(path, threads=threads)
    finally:
        if temporary:
            path.unlink(missing_ok=True)
        release_free_memory()


def _split_windows(x: np.ndarray) -> list[np.ndarray]:
    """Cut long audio into <= 20 s windows at the quietest 100 ms in the last 5 s of each."""
    max_len = int(_MAX_WINDOW_SECONDS * SAMPLE_RATE)
    hop = SAMPLE_RATE // 10
    windows = []
    while x.shape[0] > max_len:
        lo = max_len - 5 * SAMPLE_RATE
        region = x[lo:max_len]
        n = region.shape[0] // hop
        energy = (region[: n * hop].reshape(n, hop) ** 2).mean(axis=1)
        cut = lo + int(np.argmin(energy)) * hop + hop // 2
        windows.append(x[:cut])
        x = x[cut:]
    windows.append(x)
    return windows


def _loop_length(tokens: list[int], *, max_ngram: int = 4, min_span: int = 8) -> int:
    """Length ``n`` of an n-gram that fills the tail of ``tokens`` (a decoding loop), or 0.

    A loop is one n-gram (n <= 4) repeated at least 3 times and over at least 8 tokens, so
    ordinary repetitions ("no, no, no", the zeros of "1000000") are left alone.
    """
    for n in range(1, max_ngram + 1):
        span = max(min_span, 3 * n)
        span += (-span) % n  # whole copies of the n-gram
        if len(tokens) < span:
            continue
        tail = tokens[-span:]
        if all(tail[i] == tail[i % n] for i in range(span)):
            return n
    return 0


def _repeating_tail(tokens: list[int]) -> bool:
    return _loop_length(tokens) > 0


def _strip_repetition(tokens: list[int]) -> list[int]:
    """Drop the copies of a looping n-gram at the end, keeping one."""
    n = _loop_length(tokens)
    if not n:
        return tokens
    gram = tokens[-n:]
    end = len(tokens)
    while end - 2 * n >= 0 and tokens[end - 2 * n : end - n] == gram:
        end -= n
    return tokens[:end]
