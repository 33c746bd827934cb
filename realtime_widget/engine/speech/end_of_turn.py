"""Semantic end-of-turn detection: Smart Turn v3.2 (ONNX) on the user's last 8 s of speech.

Model: ``smart-turn-v3.2-cpu.onnx`` (Daily, BSD-2-Clause, ~8.7 MB), a Whisper-encoder
classifier that hears whether an utterance is finished (23 languages). It ships inside
the ``pipecat-ai==1.14.0`` wheel at ``pipecat/audio/turn/smart_turn/data/``. Pipecat's
own dependencies are heavy (numba, ...), so the wheel is installed without them
(``pip install --no-deps pipecat-ai==1.14.0``, ~34 MB on disk) and pipecat is never
imported: the file is located through the package's import spec and run with our
``onnxruntime``.

Input contract (pipecat's ``LocalSmartTurnAnalyzerV3``): 16 kHz mono float audio, the
LAST 8 s of the turn (shorter audio is zero-padded at the FRONT), turned into Whisper
log-mel features (80 mel bins x 800 frames) by pipecat's own ``_whisper_features.py``,
a numpy-only copy of ``transformers.WhisperFeatureExtractor(chunk_length=8)``. That file
imports nothing but numpy, so it is loaded by file path from the same wheel (one copy
of the log-mel code, the one the model was shipped with). The output is the
probability that the turn is complete.

A call is synchronous CPU work (~80 ms on 2 quiet cores, a few hundred under load). The
segmenter starts it on the model's own threads at the first silent frame, so it runs
while the silence that lets it judge is still being heard.
"""

from __future__ import annotations

import importlib.util
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ._ort import SpeechModelsUnavailable, make_session
from .vad import FRAME_SAMPLES, ServerVadSegmenter, SpeechStopped, VadEvent

__all__ = [
    "EAGERNESS",
    "INSTALL_HINT",
    "MODEL_SECONDS",
    "SemanticVadSegmenter",
    "SmartTurnModel",
    "log_mel_features",
    "smart_turn_model_path",
]

SAMPLE_RATE = 16000
MODEL_SECONDS = 8
MODEL_SAMPLES = SAMPLE_RATE * MODEL_SECONDS
INSTALL_HINT = "pip install --no-deps pipecat-ai==1.14.0"
_PACKAGE_RELPATH = ("audio", "turn", "smart_turn")
_MODEL_FILE = "smart-turn-v3.2-cpu.onnx"
_FEATURES_FILE = "_whisper_features.py"


def _smart_turn_dir() -> Path:
    """``pipecat/audio/turn/smart_turn`` inside the installed ``pipecat-ai`` wheel.

    ``find_spec`` of a top-level package locates it without running its ``__init__``
    (which would import pipecat's dependencies)."""
    spec = importlib.util.find_spec("pipecat")
    if spec is None or not spec.submodule_search_locations:
        raise SpeechModelsUnavailable(
            "semantic_vad needs the Smart Turn end-of-turn model, which ships in the "
            f"pipecat-ai wheel: {INSTALL_HINT}"
        )
    return Path(list(spec.submodule_search_locations)[0]).joinpath(*_PACKAGE_RELPATH)


def smart_turn_model_path() -> Path:
    """Path of the Smart Turn ONNX file inside the installed ``pipecat-ai`` wheel."""
    path = _smart_turn_dir() / "data" / _MODEL_FILE
    if not path.is_file():
        raise SpeechModelsUnavailable(f"pipecat-ai has no {_MODEL_FILE}: {INSTALL_HINT}")
    return path


def _load_features() -> Callable[..., np.ndarray]:
    """pipecat's ``compute_whisper_log_mel_features``, loaded by file path (the module
    imports only numpy; importing it as ``pipecat....`` would run pipecat's __init__)."""
    path = _smart_turn_dir() / _FEATURES_FILE
    if not path.is_file():
        raise SpeechModelsUnavailable(f"pipecat-ai has no {_FEATURES_FILE}: {INSTALL_HINT}")
    spec = importlib.util.spec_from_file_location("_realtime_widget_smart_turn_features", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.compute_whisper_log_mel_features


_features: Callable[..., np.ndarray] | None = None


def fit_window(audio: np.ndarray) -> np.ndarray:
    """The last 8 s of ``audio`` (float32, 16 kHz), zero-padded at the front to exactly 8 s."""
    x = np.asarray(audio, dtype=np.float32).reshape(-1)[-MODEL_SAMPLES:]
    if x.shape[0] < MODEL_SAMPLES:
        x = np.concatenate((np.zeros(MODEL_SAMPLES - x.shape[0], dtype=np.float32), x))
    return x


def log_mel_features(window: np.ndarray) -> np.ndarray:
    """Whisper log-mel features (80, 800) float32 of an exactly-8-s 16 kHz window, as the
    model was trained on them (``do_normalize=True``), computed by pipecat's own code."""
    global _features
    if _features is None:
        _features = _load_features()
    return _features(np.asarray(window, dtype=np.float32), do_normalize=True)


def prepare_turn(
    audio16k: np.ndarray, *, below_peak_db: float = 30.0, keep_gap_ms: int = 150
) -> np.ndarray:
    """What the model hears: ``audio16k`` with its trailing silence cut and every inner
    silence longer than ``keep_gap_ms`` shortened to it. Quiet = 10 ms frames below the
    turn's peak minus ``below_peak_db`` (and below twice its quiet floor, so noise does
    not count as speech).

    Silero declares a silence ~100 ms after the voice stops, and that much trailing
    silence pushes the model towards "finished" (an unfinished espeak sentence: 0.06
    with none, 0.81 with 100 ms); a long pause inside the turn makes it call even a
    finished sentence unfinished (0.05 for "Can you tell me about the ... history of
    Rome?" with the 0.7 s pause kept). Vectorised: one pass over 10 ms frames."""
    hop = SAMPLE_RATE // 100
    n = audio16k.shape[0] // hop
    if n < 2:
        return audio16k
    frames = audio16k[: n * hop].reshape(n, hop).astype(np.float32)
    rms = np.sqrt((frames**2).mean(axis=1))
    level = max(float(rms.max()) * 10 ** (-below_peak_db / 20), 2.0 * float(np.percentile(rms, 10)))
    loud = rms >= level
    if not loud.any():
        return audio16k
    last = int(np.flatnonzero(loud)[-1])
    quiet = ~loud[: last + 1]
    # position of each quiet frame inside its run of quiet frames (0, 1, 2, ...)
    run_start = np.maximum.accumulate(np.where(~quiet, np.arange(last + 1), -1))
    pos_in_run = np.arange(last + 1) - run_start - 1
    keep = (
        ~quiet | (pos_in_run < keep_gap_ms // 10) | (run_start < 0)
    )  # leading silence: left as is
    return frames[: last + 1][keep].reshape(-1)


class SmartTurnModel:
    """The shared Smart Turn session; :meth:`probability` is thread-safe.

    :meth:`judge` runs it on the model's own two threads (onnxruntime's ``run`` is
    thread-safe): the segmenter asks there and does not block on the answer until it
    needs it. Its own pool, not the engine's executor: the segmenter already runs inside
    that executor, and waiting there on a job queued behind itself could deadlock."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="smart-turn")

    @classmethod
    def load(cls, path: str | Path | None = None) -> SmartTurnModel:
        global _features
        session = make_session(path or smart_turn_model_path())
        _features = _features or _load_features()  # fail here, naming the package, not mid-turn
        return cls(session)

    def probability(self, audio16k: np.ndarray) -> float:
        """Probability that the turn in ``audio16k`` (float32 at 16 kHz, the turn so far)
        is complete. Only the last 8 s are heard. Synchronous: call from an executor."""
        features = log_mel_features(fit_window(audio16k))[None]
        (out,) = self.session.run(None, {"input_features": features})
        return float(np.asarray(out).reshape(-1)[0])

    def judge(self, audio16k: np.ndarray) -> Future[float]:
        """:meth:`probability` of ``audio16k``, computed on the model's threads."""
        return self._pool.submit(self.probability, audio16k)


# -- semantic_vad ---------------------------------------------------------------------


@dataclass(frozen=True)
class Eagerness:
    """How one ``eagerness`` value of GA ``semantic_vad`` is realised locally.

    ``judge_ms``: silence after speech at which the model is asked, once per pause (shorter
    silences are the gaps inside words), and the earliest the turn can end;
    ``threshold``: probability of "complete" that ends the turn there; ``max_wait_ms``:
    silence after which the turn ends whatever the model said. GA documents maximum
    timeouts (low 8 s, medium 4 s, high 2 s; auto = medium); these are shorter because the
    model often misjudges finished synthetic sentences (benchmarks/README.md), and a turn
    that hangs for 4 s is worse than an occasional cut. ``check_words``: a turn the model
    judged finished still waits for its transcript, and is held if the words trail off
    (``trailing_text.py``); "high" ends turns "as soon as possible" (GA) and skips it."""

    judge_ms: int
    threshold: float
    max_wait_ms: int
    check_words: bool = True


EAGERNESS = {
    "low": Eagerness(judge_ms=192, threshold=0.7, max_wait_ms=3000),
    "medium": Eagerness(judge_ms=96, threshold=0.5, max_wait_ms=1600),
    "auto": Eagerness(judge_ms=96, threshold=0.5, max_wait_ms=1600),
    "high": Eagerness(judge_ms=96, threshold=0.3, max_wait_ms=1000, check_words=False),
}
RING_SECONDS = MODEL_SECONDS + 2  # the model hears 8 s; keep a little more for the onset
ONSET_LEAD_FRAMES = 6  # ~200 ms before the detected onset: Silero fires a little late


class SemanticVadSegmenter(ServerVadSegmenter):
    """``turn_detection: semantic_vad``: Silero finds speech and pauses (server VAD's frame
    loop, unchanged), Smart Turn decides whether a pause ends the turn.

    Speech starts exactly as in server VAD (``prefix_padding_ms`` 300, threshold 0.5).
    At the first silent frame inside speech the model starts hearing the turn up to the
    start of that silence (at most its last 8 s: memory stays bounded however long the
    user talks), once per pause, on its own threads. When the silence reaches the
    eagerness's ``judge_ms`` (about 100 ms) its answer is read (by then it is usually
    ready: the call ran while the silence was being heard). If it judges the turn
    complete, :class:`SpeechStopped` is emitted at once (``audio_end_ms`` = where speech
    ended, unlike server VAD, whose ``audio_end_ms`` includes its silence wait); if not, the
    turn goes on until speech resumes (the next pause is judged afresh) or the silence
    reaches ``max_wait_ms``. The model hears the turn without its trailing silence
    (:func:`prepare_turn`): silence alone pushes it towards "complete" (an unfinished
    Piper sentence: 0.01 with none, 0.93 with 400 ms). A turn end the model judged
    is marked ``confirm_words`` (except for "high"): the engine reads the speculative
    transcript and calls :meth:`hold` when the words trail off (``trailing_text.py``).

    Synchronous like its base class (:meth:`feed` may wait for the model's answer): call
    from an executor. :attr:`last_judgement` is ``(speech_end_ms, probability)`` of the
    latest answer read; :attr:`judgements` counts the model calls, :attr:`wasted_judgements`
    those whose silence turned out to be a gap inside speech (their answer is dropped).
    """

    # a turn end is taken back (hold) only when nothing follows it in the piece fed, so
    # a big append is fed in pieces no longer than a microphone's
    feed_ms = 100

    def __init__(
        self,
        model: SmartTurnModel,
        eagerness: str = "auto",
        sample_rate_in: int = 24000,
        *,
        vad: Any = None,
    ) -> None:
        if eagerness not in EAGERNESS:
            raise ValueError(f"eagerness must be one of {', '.join(EAGERNESS)}, got {eagerness!r}")
        self.model = model
        self.eagerness = EAGERNESS[eagerness]
        self.judgements = 0
        self.wasted_judgements = 0
        super().__init__(0.5, 300, self.eagerness.max_wait_ms, sample_rate_in, vad=vad)

    def reset(self) -> None:
        super().reset()
        self._ring = np.zeros(0, dtype=np.float32)
        self._ring_start = 0  # 16 kHz sample index (since reset) of _ring[0]
        self._onset_frame = 0
        self._judged_frame: int | None = None  # silence start whose answer was read
        # (silence start frame, the model's answer in the making) of the running silence
        self._asked: tuple[int, Future[float]] | None = None
        self.last_judgement: tuple[int, float] | None = None
        self._stopped_at: int | None = None  # silence start of the last judged turn end

    def _remember(self, x16k: np.ndarray) -> None:
        """Keep the last RING_SECONDS of 16 kHz audio (amortised trim: no copy per call)."""
        self._ring = (
            np.concatenate((self._ring, x16k)) if self._ring.size else x16k.astype(np.float32)
        )
        keep = RING_SECONDS * SAMPLE_RATE
        if self._ring.shape[0] > 2 * keep:
            drop = self._ring.shape[0] - keep
            self._ring = self._ring[drop:].copy()
            self._ring_start += drop

    def _turn_audio(self, start_frame: int, end_frame: int) -> np.ndarray:
        start = max(start_frame * FRAME_SAMPLES, self._ring_start)
        end = end_frame * FRAME_SAMPLES
        return self._ring[start - self._ring_start : max(end - self._ring_start, 0)]

    def _run(self, x16k: np.ndarray) -> list[VadEvent]:
        self._remember(x16k)  # frames index the samples fed since reset, as the ring does
        return super()._run(x16k)

    def _speech_began(self, frame: int) -> None:
        self._onset_frame = frame
        self._judged_frame = None
        self._stopped_at = None  # a new turn: the last one's end is not to be taken back
        self._drop_question()

    def _drop_question(self) -> None:
        """The silence asked about was a gap inside speech: its answer is not wanted."""
        if self._asked is not None:
            if not self._asked[1].cancel():  # already running or done: its CPU is spent
                self.wasted_judgements += 1
            self._asked = None

    def _ask(self, silence: int) -> Future[float]:
        """The model's answer for the pause starting at frame ``silence``, asked once."""
        if self._asked is None or self._asked[0] != silence:
            self._drop_question()
            turn = prepare_turn(self._turn_audio(self._onset_frame - ONSET_LEAD_FRAMES, silence))
            self.judgements += 1
            self._asked = (silence, self.model.judge(turn))
        return self._asked[1]

    def _end_of_turn(self, frame: int) -> SpeechStopped | None:
        silence = self._silence_start_frame
        speech_end = self._frame_ms(silence)
        silent_ms = self._frame_ms(frame + 1) - speech_end
        if self._judged_frame == silence:
            pass  # this pause's answer was read: only the fallback wait can end it now
        elif silent_ms < self.eagerness.judge_ms:
            self._ask(silence)  # asked early, read when the silence is long enough
        else:
            self._judged_frame = silence
            # wait for it: audio streamed faster than real time must get the same verdict
            probability = self._ask(silence).result()
            self._asked = None
            self.last_judgement = (round(speech_end), probability)
            if probability >= self.eagerness.threshold:
                self._stopped_at = silence
                return self._stopped(speech_end, confirm_words=self.eagerness.check_words)
        if silent_ms >= self.eagerness.max_wait_ms:
            return self._stopped(speech_end)
        return None

    def hold(self) -> None:
        """Take back the turn end just judged from the sound: its words trail off (the
        engine's check). The turn goes on: new speech continues it, and only the
        fallback wait can end this pause. Call before feeding more audio."""
        if self._stopped_at is None:
            raise RuntimeError("hold(): no turn end to take back")
        self.in_speech = True
        self._silence_start_frame = self._judged_frame = self._stopped_at
        self._stopped_at = None

    @staticmethod
    def _stopped(speech_end: float, *, confirm_words: bool = False) -> SpeechStopped:
        # audio_end_ms is where speech ended: the wait that confirmed it is not part of
        # the turn (so a log can tell when the user stopped talking)
        return SpeechStopped(round(speech_end), round(speech_end), confirm_words)
