"""Reading a stored session log: its records with their audio, and the conversation they
add up to.

The one way from a log to a conversation. The hub rebuilds a session with it (a session
loaded from disk), the DataFrames read stored sessions with it, and ``replay`` reads the
user's side of a recording with it. The format is written by :mod:`.eventlog`: one JSON
record a line in ``events.jsonl``; audio cut out of the event and stored raw under
``audio/``, the record keeping ``{"path", "file", "offset", "nbytes", "format"}``
references to it.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, Literal

from ..conversation import Conversation

__all__ = [
    "AUDIO_DIR",
    "EVENTS_FILE",
    "SAFE_NAME",
    "AudioFiles",
    "LogCorrupt",
    "conversation_from_log",
    "inline_audio",
    "read_records",
]

EVENTS_FILE = "events.jsonl"
AUDIO_DIR = "audio"
SAFE_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,79}$")


class LogCorrupt(ValueError):
    """A stored log has a line that is not a record (``path`` and 1-based ``line``)."""

    def __init__(self, path: Path, line: int, why: str):
        super().__init__(f"{path}: line {line} is not a log record ({why})")
        self.path, self.line = path, line


def not_a_json_number(word: str) -> None:
    """NaN / Infinity in a record (a log written before they were refused at the input):
    read back as null, so that every answer is JSON a browser's ``JSON.parse`` reads."""
    return None


class AudioFiles:
    """The raw audio a log's references point to, with the files kept open while reading."""

    def __init__(self, directory: str | os.PathLike[str]):
        self.dir = Path(directory) / AUDIO_DIR
        self._open: dict[str, BinaryIO] = {}

    def read(self, ref: dict[str, Any]) -> bytes | None:
        """The bytes of one reference (None: not stored, or a name that is not a file here)."""
        name = ref.get("file")
        if "offset" not in ref or not isinstance(name, str) or not SAFE_NAME.match(name):
            return None
        try:
            f = self._open.get(name)
            if f is None:
                f = self._open[name] = open(self.dir / name, "rb")
            f.seek(int(ref["offset"]))
            return f.read(int(ref["nbytes"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def close(self) -> None:
        for f in self._open.values():
            f.close()
        self._open.clear()

    def __enter__(self) -> AudioFiles:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def inline_audio(rec: dict[str, Any], audio: AudioFiles) -> dict[str, Any]:
    """Put a record's stored audio back into its event as base64 (the wire form), in place;
    the record's ``audio`` references are dropped."""
    event = rec.get("event")
    for ref in rec.pop("audio", None) or ():
        if not isinstance(ref, dict) or not isinstance(event, dict):
            continue
        raw = audio.read(ref)
        if raw is None:
            continue
        try:
            target: Any = event
            keys = list(ref.get("path") or [])
            for key in keys[:-1]:
                target = target[key]
            target[keys[-1]] = base64.b64encode(raw).decode("ascii")
        except (KeyError, IndexError, TypeError):
            continue
    return rec


def read_records(
    directory: str | os.PathLike[str],
    *,
    audio: Literal["inline", "ref"] = "inline",
    corrupt: Literal["raise", "skip"] = "raise",
) -> Iterator[dict[str, Any]]:
    """Every record of a stored log, in order (blocking; the log is only read).

    A last line without its newline is a record still being written (an open session):
    it is left out. Any other line that is not a JSON object raises :class:`LogCorrupt`
    naming it, or is skipped with ``corrupt="skip"``.
    """
    path = Path(directory) / EVENTS_FILE
    with open(path, "rb") as f, AudioFiles(directory) as files:
        for number, line in enumerate(f, start=1):
            if not line.endswith(b"\n"):
                return  # a line being written
            try:
                rec = json.loads(line, parse_constant=not_a_json_number)
                if not isinstance(rec, dict) or not isinstance(rec.get("event"), dict):
                    raise ValueError("not a record object")
            except ValueError as exc:
                if corrupt == "skip":
                    continue
                raise LogCorrupt(path, number, str(exc)) from None
            yield inline_audio(rec, files) if audio == "inline" else rec


def conversation_from_log(records: Iterable[dict[str, Any]], **conversation: Any) -> Conversation:
    """The conversation a log's records add up to, as every client saw it: restore traffic
    (``quiet``) is left out. ``records`` carry their audio inline; ``conversation`` are
    :class:`~realtime_widget.conversation.Conversation` options (memory caps, whether to
    keep the assistant's audio)."""
    conv = Conversation(**conversation)
    for rec in records:
        if rec.get("quiet"):
            continue
        if rec.get("dir") == "server":
            conv.apply(rec["event"])
        else:
            conv.apply_client(rec["event"])
    return conv
