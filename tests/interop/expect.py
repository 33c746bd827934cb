"""What every interop scenario sends, and what the user of any client must then see.

The server under test answers with the engine's default rule brain
(``realtime_widget/engine/brain/rules.py``): it repeats what it heard ("You said: ...")
and calls a function tool the user names, then reports the tool's result
("get_weather says: ..."). So every client's user must see exactly these answers,
whatever route or dialect carried them.

Each driver fills a :class:`Seen` with what its client handed to its user (text
chunks, transcripts, audio bytes, tool calls, statuses) and the scenario checks it with
the ``expect_*`` functions here, which are shared by every client and every server.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from speech_fixtures import ESPEAK_SENTENCES, speech_with_silence, wer

SCENARIOS = ("text", "server_vad_audio", "manual_commit_audio", "cancel", "truncate", "tool_call")

TEXT_PROMPT = "Hello from a third party client"
SPOKEN = ESPEAK_SENTENCES[3]  # "Can you tell me how to get to the train station?"
# A reply long enough (~30 clauses, each synthesised on its own, ~45 s of speech) to still
# be speaking when the client cancels after its first audio chunk, even on a loaded machine.
LONG_PROMPT = " ".join(ESPEAK_SENTENCES * 3)
TOOL_PROMPT = "What is the weather in Paris?"
TOOL_ARGUMENTS = {"location": "Paris"}
TOOL_RESULT = {"temperature_c": 18, "sky": "clear"}
WEATHER_TOOL = {  # the flat function-tool shape both dialects use
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a place",
    "parameters": {
        "type": "object",
        "properties": {"location": {"type": "string"}},
        "required": ["location"],
    },
}
TRANSCRIPTION_MODEL = "whisper-1"
MAX_WER = 0.25
RATE = 24000  # pcm16 everywhere in these scenarios
CHUNK_BYTES = 9600  # 200 ms of pcm16 per append, as a microphone client would send


def reply_to(said: str) -> str:
    return f"You said: {said}."


def tool_answer(output: str) -> str:
    return f"get_weather says: {output}."


def spoken_pcm16(trailing_s: float = 1.0) -> bytes:
    """The user's spoken turn: silence, the sentence, then enough silence for server VAD
    to end the turn (500 ms by default). A microphone keeps sending silence; semantic VAD
    may wait out its eagerness's longest pause (auto: 1.6 s) when the end-of-turn model is
    unsure, so its scenarios send more."""
    return speech_with_silence((0.5, SPOKEN, trailing_s)).pcm16


def chunks(pcm: bytes, size: int = CHUNK_BYTES) -> list[bytes]:
    return [pcm[i : i + size] for i in range(0, len(pcm), size)]


@dataclass
class Seen:
    """What a client showed its user during one scenario."""

    client: str
    route: str
    text: str = ""  # assistant text (text modality), as the client assembled it
    transcript: str = ""  # assistant audio transcript
    audio: bytes = b""  # assistant audio, pcm16 24 kHz
    user_transcript: str | None = None  # the input transcription of the user's audio
    status: str | None = None  # final status of the last response
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    truncated_ms: int | None = None  # audio_end_ms of a conversation.item.truncated seen
    errors: list[str] = field(default_factory=list)  # error events the client surfaced
    notes: dict[str, Any] = field(default_factory=dict)  # anything else a driver records

    def label(self) -> str:
        return f"{self.client} on {self.route}"

    @property
    def audio_ms(self) -> float:
        return len(self.audio) / 2 * 1000.0 / RATE


def _no_errors(seen: Seen) -> None:
    assert not seen.errors, f"{seen.label()}: error events: {seen.errors}"


def _speech_like(seen: Seen, min_ms: float = 800.0) -> None:
    assert seen.audio_ms >= min_ms, f"{seen.label()}: only {seen.audio_ms:.0f} ms of audio"
    samples = np.frombuffer(seen.audio[: len(seen.audio) // 2 * 2], dtype="<i2").astype(np.float32)
    rms_dbfs = 20 * np.log10(max(float(np.sqrt(np.mean(samples**2))) / 32768.0, 1e-9))
    assert rms_dbfs > -40, f"{seen.label()}: the audio is silent ({rms_dbfs:.0f} dBFS)"


def expect_text(seen: Seen) -> None:
    _no_errors(seen)
    assert seen.text == reply_to(TEXT_PROMPT), f"{seen.label()}: {seen.text!r}"
    assert seen.status == "completed", f"{seen.label()}: status {seen.status}"


def expect_spoken_turn(seen: Seen, *, user_transcript: bool = True) -> None:
    """A spoken user turn answered in speech: the user's words transcribed, the reply's
    transcript repeats them, and real audio arrived."""
    _no_errors(seen)
    if user_transcript:
        assert seen.user_transcript is not None, f"{seen.label()}: no input transcription"
        assert wer([SPOKEN], [seen.user_transcript]) <= MAX_WER, (
            seen.label(),
            seen.user_transcript,
        )
    assert seen.transcript.startswith("You said: "), f"{seen.label()}: {seen.transcript!r}"
    assert wer([SPOKEN], [seen.transcript.removeprefix("You said: ")]) <= MAX_WER, (
        seen.label(),
        seen.transcript,
    )
    _speech_like(seen)
    assert seen.status == "completed", f"{seen.label()}: status {seen.status}"


def expect_cancelled(seen: Seen) -> None:
    _no_errors(seen)
    assert seen.status == "cancelled", f"{seen.label()}: status {seen.status}"
    assert seen.audio, f"{seen.label()}: no audio before the cancel"
    full = reply_to(LONG_PROMPT)
    assert len(seen.transcript) < len(full), f"{seen.label()}: the whole reply was spoken"
    assert full.startswith(seen.transcript.rstrip()), f"{seen.label()}: {seen.transcript!r}"


def expect_truncated(seen: Seen, at_ms: int) -> None:
    _no_errors(seen)
    _speech_like(seen)
    assert seen.truncated_ms == at_ms, (
        f"{seen.label()}: truncated at {seen.truncated_ms}, wanted {at_ms}"
    )


def expect_tool_call(seen: Seen, output: str | None = None) -> None:
    """The tool was called with the user's place, and its result is in the answer."""
    _no_errors(seen)
    assert seen.tool_calls == [("get_weather", TOOL_ARGUMENTS)], (
        f"{seen.label()}: {seen.tool_calls}"
    )
    output = output if output is not None else json.dumps(TOOL_RESULT)
    assert seen.text == tool_answer(output), f"{seen.label()}: {seen.text!r}"


def truncate_point(seen: Seen) -> int:
    """Where a client that stopped playback half-way truncates the reply."""
    return int(seen.audio_ms // 2)
