"""Process-wide registry of the offline speech models: loaded once, shared, thread-safe.

``get_speech_models()`` returns the one :class:`SpeechModels` bundle of the process,
loading the three models on first use under a lock (~2 s; the very first load on a
machine also converts the Moonshine weights once, ~0.6 s, cached on disk; ~570 MB RSS
for all three). The
individual getters (``get_vad_model``, ``get_transcriber``, ``get_synthesizer``) load
just one model, for callers that need only that.

Every inference entry point (``SileroVad.process*``, ``ServerVadSegmenter.feed``,
``Transcriber.transcribe``, iterating ``Synthesizer.stream``, ``warm_up``, and the
first ``get_*`` call itself) is synchronous, CPU-bound work: **call it from an executor**
(``await loop.run_in_executor(None, fn, ...)``), never directly on the event loop.
The shared objects are safe to use from several executor threads at once (onnxruntime
sessions are thread-safe for ``run``; per-stream state lives in per-stream objects).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np

from .asr import Transcriber
from .end_of_turn import SemanticVadSegmenter, SmartTurnModel
from .tts import Synthesizer
from .vad import ServerVadSegmenter, SileroVad, SileroVadModel

__all__ = [
    "SpeechModels",
    "get_speech_models",
    "get_synthesizer",
    "get_transcriber",
    "get_turn_model",
    "get_vad_model",
]

T = TypeVar("T")


class _Once(Generic[T]):
    """A value computed once per process, under a lock (double-checked)."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._value: T | None = None

    def get(self) -> T:
        value = self._value
        if value is None:
            with self._lock:
                value = self._value
                if value is None:
                    value = self._value = self._factory()
        return value

    @property
    def loaded(self) -> bool:
        return self._value is not None


_vad: _Once[SileroVadModel] = _Once(SileroVadModel.load)
_asr: _Once[Transcriber] = _Once(Transcriber.load)
_tts: _Once[Synthesizer] = _Once(Synthesizer.load)
_turn: _Once[SmartTurnModel] = _Once(SmartTurnModel.load)


def get_vad_model() -> SileroVadModel:
    """The shared Silero VAD session (blocking on first call: use an executor)."""
    return _vad.get()


def get_transcriber() -> Transcriber:
    """The shared Moonshine transcriber (blocking on first call: use an executor)."""
    return _asr.get()


def get_synthesizer() -> Synthesizer:
    """The shared Piper synthesizer (blocking on first call: use an executor)."""
    return _tts.get()


def get_turn_model() -> SmartTurnModel:
    """The shared Smart Turn end-of-turn model, loaded on first use (semantic_vad only).

    Raises ``SpeechModelsUnavailable`` naming the package to install when the model is
    missing; a failed load is not cached, so installing it fixes the next call."""
    return _turn.get()


@dataclass
class SpeechModels:
    """The offline speech stack of one process. Obtain it with :func:`get_speech_models`."""

    vad_model: SileroVadModel
    transcriber: Transcriber
    synthesizer: Synthesizer
    warm_up_seconds: dict[str, float] = field(default_factory=dict)
    _warm_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # -- per-stream factories -------------------------------------------------------------
    def new_vad(self) -> SileroVad:
        """A fresh incremental Silero VAD stream over the shared session."""
        return SileroVad(self.vad_model)

    vad_factory = new_vad

    def new_segmenter(
        self,
        threshold: float = 0.5,
        prefix_padding_ms: int = 300,
        silence_duration_ms: int = 500,
        sample_rate_in: int = 24000,
    ) -> ServerVadSegmenter:
        """A server-VAD turn segmenter for one session's input audio."""
        return ServerVadSegmenter(
            threshold, prefix_padding_ms, silence_duration_ms, sample_rate_in, vad=self.new_vad()
        )

    def new_semantic_segmenter(
        self, eagerness: str = "auto", sample_rate_in: int = 24000
    ) -> SemanticVadSegmenter:
        """A semantic_vad segmenter (loads the Smart Turn model on first use: blocking)."""
        return SemanticVadSegmenter(get_turn_model(), eagerness, sample_rate_in, vad=self.new_vad())

    # -- warm-up ------------------------------------------------------------------------
    @property
    def warmed_up(self) -> bool:
        return bool(self.warm_up_seconds)

    def warm_up(self, *, force: bool = False) -> dict[str, float]:
        """Run each model once on a tiny input so the first real request is not slow.

        Synthesizes a short word, transcribes it, and runs the VAD over it. Returns the
        seconds each step took. Only the first call does the work unless ``force``.
        Synchronous: call from an executor.
        """
        with self._warm_lock:
            if self.warm_up_seconds and not force:
                return dict(self.warm_up_seconds)
            timings: dict[str, float] = {}
            t0 = time.perf_counter()
            pcm = self.synthesizer.synthesize("Hello.", "alloy")
            timings["tts"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            self.transcriber.transcribe(pcm)
            timings["asr"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            seg = self.new_segmenter()
            seg.feed(pcm)
            seg.feed(np.zeros(4800, dtype=np.int16))
            timings["vad"] = time.perf_counter() - t0
            self.warm_up_seconds = timings
            return dict(timings)


_bundle_lock = threading.Lock()
_bundle: SpeechModels | None = None


def get_speech_models(*, warm_up: bool = False) -> SpeechModels:
    """The process-wide :class:`SpeechModels`, loaded once (thread-safe).

    Raises :class:`~realtime_widget.engine.speech.SpeechModelsUnavailable` (an
    ``ImportError``) when the ``local`` extra is not installed. With ``warm_up=True``
    also runs :meth:`SpeechModels.warm_up` (once per process). Blocking: use an executor.
    """
    global _bundle
    bundle = _bundle
    if bundle is None:
        with _bundle_lock:
            bundle = _bundle
            if bundle is None:
                bundle = _bundle = SpeechModels(
                    vad_model=get_vad_model(),
                    transcriber=get_transcriber(),
                    synthesizer=get_synthesizer(),
                )
    if warm_up:
        bundle.warm_up()
    return bundle
