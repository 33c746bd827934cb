"""What a session needs from the offline speech models, on the session's own timeline.

``SpeechStack`` wraps the process-wide models of :mod:`.models` (loaded once, shared by
every session) and hands each session its own turn segmenter. All methods are
synchronous; the session calls them through its executor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from .models import SpeechModels, get_speech_models, get_turn_model
from .vad import ServerVadSegmenter, SpeechStarted


@dataclass(frozen=True)
class TurnEvent:
    kind: str  # "started" or "stopped"
    audio_start_ms: int = 0
    audio_end_ms: int = 0
    speech_end_ms: int = 0
    confirm_words: bool = False  # semantic_vad: hold() it if the transcript trails off


class TurnSegmenter:
    """Server VAD for one session; milliseconds are positions on the session's input timeline."""

    def __init__(self, segmenter: ServerVadSegmenter, timeline_start_ms: float):
        self._vad = segmenter
        self._offset = int(round(timeline_start_ms))

    def feed(self, pcm16: bytes) -> list[TurnEvent]:
        out = []
        for event in self._vad.feed(pcm16):
            if isinstance(event, SpeechStarted):
                out.append(TurnEvent("started", audio_start_ms=event.audio_start_ms + self._offset))
            else:
                out.append(
                    TurnEvent(
                        "stopped",
                        audio_end_ms=event.audio_end_ms + self._offset,
                        speech_end_ms=event.speech_end_ms + self._offset,
                        confirm_words=event.confirm_words,
                    )
                )
        return out

    @property
    def pending_speech_end_ms(self) -> int | None:
        """Where speech ended if the silence now running lasts long enough, else None."""
        end = self._vad.pending_speech_end_ms
        return None if end is None else int(round(end)) + self._offset

    @property
    def feed_ms(self) -> int | None:
        """The largest piece :meth:`feed` should get at once (None: any)."""
        return self._vad.feed_ms

    def hold(self) -> None:
        """Take back the ``confirm_words`` end just fed: the turn goes on."""
        self._vad.hold()  # only SemanticVadSegmenter marks ends to confirm

    def reset(self) -> None:
        self._vad.reset()


class SpeechStack:
    def __init__(self, models: SpeechModels):
        self.models = models

    @classmethod
    def load(cls, *, warm_up: bool = True) -> "SpeechStack":
        """Load (once per process) and warm up the models. Blocking."""
        return cls(get_speech_models(warm_up=warm_up))

    def new_segmenter(
        self,
        *,
        threshold: float = 0.5,
        prefix_padding_ms: int = 300,
        silence_duration_ms: int = 500,
        sample_rate_in: int,
        timeline_start_ms: float,
        eagerness: str | None = None,
    ) -> TurnSegmenter:
        """Server VAD, or semantic_vad when ``eagerness`` is given (blocking: loads the
        end-of-turn model on first use and raises ``SpeechModelsUnavailable`` without it)."""
        if eagerness is not None:
            vad = self.models.new_semantic_segmenter(eagerness, sample_rate_in)
        else:
            vad = self.models.new_segmenter(
                threshold, prefix_padding_ms, silence_duration_ms, sample_rate_in
            )
        return TurnSegmenter(vad, timeline_start_ms)

    def load_turn_model(self) -> None:
        """Load the semantic end-of-turn model now (blocking; raises if it is not installed)."""
        get_turn_model()

    def transcribe(self, pcm16: bytes, rate: int) -> str:
        return self.models.transcriber.transcribe(pcm16, sample_rate=rate)

    def synthesize(
        self, text: str, voice: str, sample_rate: int = 24000, speed: float = 1.0
    ) -> Iterator[bytes]:
        return self.models.synthesizer.stream(text, voice, sample_rate=sample_rate, speed=speed)
