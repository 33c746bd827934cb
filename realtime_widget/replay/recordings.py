"""A whole conversation as one stereo track: the user on the left, the assistant on the
right, on the session's timeline (``Session.recording()``).

Where each piece of audio goes, from the session's event log:

* **user**: every ``input_audio_buffer.append`` (and audio sent inside
  ``conversation.item.create``), back to back in the order sent. A chunk was captured
  just before it was sent, so it starts at its send time minus its duration, unless the
  previous chunk is still playing. A client that sends faster than real time (a script,
  a replay) pushes the user's audio later than the events' clock; everything after such
  a burst is pushed by the same amount (never back: the track keeps the events' order),
  so the gaps a listener hears, such as the wait for an answer, stay as they were.
* **assistant**: each item's audio (``response.audio.delta``) plays from its first delta
  (on the pushed clock), after the previous item has finished, as a player queues it.
* **as heard** (``as_heard=True``): an item stops where the client truncated it
  (``conversation.item.truncated``: the widget does at the sample it played), or, when
  the server cut its response for the user's speech (``turn_detected``), where the VAD
  said the user started (``speech_started``: a player stops there); that also drops what
  was received but still queued. An answer the server completed and nobody truncated
  plays to its end, even under the user's next turn (a script that does not wait for
  the playback talks over it).

The track is 24 kHz; G.711 audio is decoded and resampled. The audio comes from the log's
audio files; a hub session whose log this kernel cannot read is fetched once through the
hub's export (``GET .../export``, audio inline).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .. import audio as _audio
from ..frames import frames as _frames
from ..frames.display import AudioArray

__all__ = ["RATE", "Recording", "recording"]

RATE = 24000
USER_AUDIO = ("input_audio_buffer.append", "conversation.item.create")


class Recording(AudioArray):
    """A stereo :class:`~realtime_widget.frames.AudioArray` ``(samples, 2)``: column 0 the
    user, column 1 the assistant. Plays in a notebook; ``.save(path)`` writes a WAV.
    ``.cuts`` lists where assistant audio was cut short, as ``(item_id, at_s)``."""

    cuts: list[tuple[str, float]]

    def __array_finalize__(self, obj: Any) -> None:
        super().__array_finalize__(obj)
        self.cuts = list(getattr(obj, "cuts", []) or [])

    @property
    def user(self) -> AudioArray:
        return AudioArray(np.asarray(self)[:, 0], self.rate, label="user")

    @property
    def assistant(self) -> AudioArray:
        return AudioArray(np.asarray(self)[:, 1], self.rate, label="assistant")


def _to_track_rate(raw: bytes, fmt: str) -> np.ndarray:
    """Stored audio bytes of ``fmt`` as int16 samples at the track's rate."""
    rate = _audio.sample_rate(fmt)
    x = np.frombuffer(_audio.to_pcm16(raw, fmt), dtype="<i2")
    if rate != RATE and len(x):
        x = _audio.float_to_int16_array(_audio.resample(_audio.pcm16_to_float32(x), rate, RATE))
    return x


class _FileAudio:
    """The log's audio files, each read and decoded once."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.cache: dict[str, tuple[np.ndarray, int]] = {}

    def samples(self, record: dict[str, Any], ref: dict[str, Any]) -> np.ndarray:
        name = str(ref.get("file") or "")
        if not name or "/" in name or name.startswith(".") or "offset" not in ref:
            return np.zeros(0, np.int16)
        fmt = str(ref.get("format") or "pcm16")
        if name not in self.cache:
            try:
                raw = (self.directory / "audio" / name).read_bytes()
            except OSError:
                raw = b""
            bytes_per_s = _audio.bytes_per_sample(fmt) * _audio.sample_rate(fmt)
            self.cache[name] = (_to_track_rate(raw, fmt), bytes_per_s)
        x, bytes_per_s = self.cache[name]
        start = round(int(ref["offset"]) / bytes_per_s * RATE)
        stop = round((int(ref["offset"]) + int(ref["nbytes"])) / bytes_per_s * RATE)
        return x[start:stop]


class _ExportedAudio:
    """A hub session whose log this kernel cannot read: its records with the audio
    inline, as the replay reads a source (``source.read_log``: the hub's export, fetched
    once); each reference's base64 is found at its path in the event."""

    def __init__(self, frames: Any):
        from .source import read_log

        self.events = {rec.get("seq"): rec.get("event") for rec in read_log(frames).records}

    def samples(self, record: dict[str, Any], ref: dict[str, Any]) -> np.ndarray:
        value: Any = self.events.get(record.get("seq"))
        try:
            for key in ref.get("path") or ():
                value = value[key]
            raw = _audio.b64decode_audio(value)
        except Exception:  # not in the export (a quiet record, a lost line): no audio
            return np.zeros(0, np.int16)
        return _to_track_rate(raw, str(ref.get("format") or "pcm16"))


def _refs(record: dict[str, Any]) -> Iterable[dict[str, Any]]:
    return (r for r in record.get("audio") or () if isinstance(r, dict))


def _responses_cut_for_speech(f: Any) -> set[str]:
    """Ids of the responses the server cut short because the user started speaking."""
    lat = f.latency()
    cut = lat[lat["status"].isin(["cancelled", "incomplete"]) & (lat["reason"] == "turn_detected")]
    return {str(r) for r in cut["response_id"]}


def recording(source: Any, *, as_heard: bool = True) -> Recording:
    """The conversation of ``source`` (a ``Session``, a widget, ``SessionFrames`` or a
    stored session's id or path) as a stereo :class:`Recording`: see the module docstring."""
    f = _frames(source)
    df = f.events(
        [
            *USER_AUDIO,
            "response.audio.delta",
            "conversation.item.truncated",
            "input_audio_buffer.speech_started",
        ],
        include_quiet=False,
    )
    records = df.records() if len(df) else []
    if f.path is not None:
        audio: Any = _FileAudio(f.path)
    elif f.session is not None:  # hub mode, the log out of this kernel's reach
        audio = _ExportedAudio(f)
    else:  # pragma: no cover - a stored session always has its directory
        raise ValueError(f"the audio of session {f.id} is not readable from this kernel")
    t_ms = df["t_ms"].to_numpy() if len(df) else np.zeros(0)

    # user audio, back to back; `shift` is how far sending ahead of real time pushed it
    user: list[tuple[int, np.ndarray]] = []  # (start sample, samples)
    end = shift = 0.0
    # item id -> [first delta on the pushed clock, [samples], response id]
    assistant: dict[str, list[Any]] = {}
    truncated: dict[str, float] = {}
    barge_ins: list[int] = []  # track samples where the VAD heard the user start
    for rec, t in zip(records, t_ms, strict=True):
        kind = rec.get("type")
        if rec.get("dir") == "client" and kind in USER_AUDIO:
            for ref in _refs(rec):
                x = audio.samples(rec, ref)
                if not len(x):
                    continue
                dur = len(x) * 1000.0 / RATE
                natural = t - dur + shift
                if natural < end:  # sent ahead of real time: push everything after it
                    shift += end - natural
                start = max(natural, end)
                start = max(start, 0.0)
                user.append((round(start * RATE / 1000), x))
                end = start + dur
        elif rec.get("dir") == "server" and kind == "response.audio.delta":
            item = str(rec.get("item_id") or (rec.get("event") or {}).get("item_id"))
            entry = assistant.setdefault(item, [float(t) + shift, [], rec.get("response_id")])
            entry[1].extend(audio.samples(rec, ref) for ref in _refs(rec))
        elif kind == "conversation.item.truncated":
            event = rec.get("event") or {}
            if isinstance(event.get("audio_end_ms"), (int, float)):
                truncated[str(event.get("item_id"))] = float(event["audio_end_ms"])
        elif kind == "input_audio_buffer.speech_started":
            barge_ins.append(round((float(t) + shift) * RATE / 1000))

    barge_at = np.sort(np.asarray(barge_ins, dtype=np.int64))
    cut_for_speech = _responses_cut_for_speech(f) if as_heard else set()
    placed: list[tuple[int, np.ndarray]] = []
    cuts: list[tuple[str, float]] = []
    cursor = 0
    for item, (received_ms, chunks, response_id) in sorted(
        assistant.items(), key=lambda kv: kv[1][0]
    ):
        x = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
        received = round(received_ms * RATE / 1000)
        start = max(received, cursor)
        keep = len(x)
        if as_heard:
            if item in truncated:
                keep = min(keep, round(truncated[item] * RATE / 1000))
            # the user spoke after it arrived and before it ended: playback stops there
            k = int(np.searchsorted(barge_at, received))
            if response_id in cut_for_speech and k < len(barge_at) and barge_at[k] < start + keep:
                keep = max(0, min(keep, int(barge_at[k]) - start))
            if keep < len(x):
                cuts.append((item, (start + keep) / RATE))
        x = x[:keep]
        placed.append((start, x))
        cursor = start + len(x)

    length = max([s + len(x) for s, x in user + placed] or [0])
    track = np.zeros((length, 2), np.int16)
    for channel, pieces in ((0, user), (1, placed)):
        for start, x in pieces:
            track[start : start + len(x), channel] = x
    out = Recording(track, RATE, label=f"session {f.name}")
    out.cuts = cuts
    return out
