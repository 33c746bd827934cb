"""Reading a stored session's event log: the one parser of a session directory written
by the hub's event log (``events.jsonl`` plus the raw audio side files under ``audio/``;
the record format is described in the hub's ``eventlog`` module). The hub restores a
session from it and :mod:`realtime_widget.frames` reads stored sessions with it.

>>> from realtime_widget.conversation.rebuild import rebuild_conversation
>>> records = read_log("~/.local/share/realtime_widget/sessions/abc")  # doctest: +SKIP
>>> conv = rebuild_conversation(records)  # doctest: +SKIP

- :func:`read_log` yields every record (a ``LogRecord`` dict) in order. A line that is
  not a JSON object raises :class:`LogFormatError` naming the file and line number
  (``on_error="skip"`` skips it instead, as the hub does when it reopens a log). A last
  line without its newline is a record still being written (or torn by a crash): it is
  left out, so a log that is still open reads up to its last complete record.
- :class:`AudioFiles` and :func:`inline_audio` resolve a record's audio references.
- :func:`realtime_widget.conversation.rebuild.rebuild_conversation` turns the records
  into the conversation they describe.

This module imports no other part of the package (the kernel, the hub and the DataFrames
all read logs, and importing it stays cheap).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, Literal

import pybase64

try:  # a C JSON parser (optional; same records as json.loads, errors are ValueErrors)
    import orjson as _orjson

    _loads: Any = _orjson.loads
except ImportError:  # pragma: no cover - orjson is optional
    _loads = json.loads

__all__ = [
    "AUDIO_DIR",
    "AudioFiles",
    "EVENTS_FILE",
    "SAFE_NAME",
    "LogFormatError",
    "LogTruncated",
    "inline_audio",
    "parse_lines",
    "parse_record",
    "read_log",
]

EVENTS_FILE = "events.jsonl"
AUDIO_DIR = "audio"
# an audio side file's name as the event log writes it (no path separators)
SAFE_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,79}$")
_MAX_OPEN_AUDIO = 16


class LogFormatError(ValueError):
    """A line of an event log that is not a record. ``path`` and ``line`` (1-based)
    say where."""

    def __init__(self, path: str | os.PathLike[str] | None, line: int, reason: str):
        self.path = None if path is None else Path(path)
        self.line = line
        self.reason = reason
        where = f"{self.path}, line {line}" if self.path is not None else f"line {line}"
        super().__init__(f"corrupt event log record at {where}: {reason}")


class LogTruncated(LogFormatError):
    """A closed log whose last line ends inside a record (the file was cut off)."""


def parse_record(line: bytes | str) -> dict[str, Any]:
    """One line of ``events.jsonl`` as a record dict; ``ValueError`` when it is not one."""
    rec = _loads(line)
    if not isinstance(rec, dict):
        raise ValueError(f"a JSON {type(rec).__name__}, not an object")
    return rec


def _events_path(path: str | os.PathLike[str]) -> Path:
    """``events.jsonl`` of a session directory (or the file itself)."""
    path = Path(path).expanduser()
    return path if path.is_file() or path.suffix == ".jsonl" else path / EVENTS_FILE


class AudioFiles:
    """The audio side files of one stored session, read through a few open handles.

    ``with AudioFiles(session_dir) as audio: audio.read(ref)``."""

    def __init__(self, session_dir: str | os.PathLike[str]):
        self.directory = Path(session_dir) / AUDIO_DIR
        self._open: dict[str, BinaryIO] = {}

    def read(self, ref: Any) -> bytes | None:
        """The raw bytes a record's audio reference points to (None: not stored, or a
        reference that does not name an audio file of this session)."""
        if not isinstance(ref, dict) or "offset" not in ref:
            return None
        name = ref.get("file")
        if not isinstance(name, str) or not SAFE_NAME.match(name):
            return None
        f = self._open.get(name)
        try:
            if f is None:
                if len(self._open) >= _MAX_OPEN_AUDIO:
                    self._open.pop(next(iter(self._open))).close()
                f = self._open[name] = open(self.directory / name, "rb")  # noqa: SIM115
            f.seek(int(ref["offset"]))
            return f.read(int(ref["nbytes"]))
        except (OSError, ValueError, TypeError, KeyError):
            return None

    def close(self) -> None:
        for f in self._open.values():
            f.close()
        self._open.clear()

    def __enter__(self) -> AudioFiles:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def inline_audio(event: dict[str, Any], refs: Any, audio: AudioFiles) -> dict[str, Any]:
    """``event`` with each referenced audio put back as base64, as it was on the wire.

    The containers along each reference's path are copied, so a record shared with a
    cache is not changed; references whose audio was not stored are left out."""
    if not isinstance(refs, list):
        return event
    event = dict(event)
    for ref in refs:
        raw = audio.read(ref)
        if raw is None:
            continue
        try:
            keys = list(ref["path"])
            target: Any = event
            for key in keys[:-1]:
                inner = target[key]
                target[key] = dict(inner) if isinstance(inner, dict) else list(inner)
                target = target[key]
            target[keys[-1]] = pybase64.b64encode_as_string(raw)
        except (KeyError, IndexError, TypeError):
            continue
    return event


def parse_lines(
    lines: Iterable[bytes],
    where: str | os.PathLike[str] | None,
    *,
    on_error: Literal["raise", "skip"] = "raise",
    partial: Literal["skip", "raise"] = "skip",
) -> Iterator[dict[str, Any]]:
    """The records of a log's lines (a file, or the hub's export), in order, with their
    audio as stored. ``where`` names the log in errors. A last line without its newline is
    a record still being written: left out, or (``partial="raise"``, for a log known to be
    closed) a :class:`LogFormatError`. ``on_error`` as for :func:`read_log`."""
    for number, line in enumerate(lines, 1):
        if not line.endswith(b"\n"):
            if partial == "raise" and line.strip():
                raise LogTruncated(where, number, "the line is cut off (the log was truncated)")
            return  # a record being written (or torn by a crash)
        if not line.strip():
            continue
        try:
            yield parse_record(line)
        except ValueError as exc:
            if on_error == "raise":
                raise LogFormatError(where, number, str(exc)) from None


def read_log(
    path: str | os.PathLike[str],
    *,
    audio: Literal["inline", "ref"] = "inline",
    on_error: Literal["raise", "skip"] = "raise",
    partial: Literal["skip", "raise"] = "skip",
) -> Iterator[dict[str, Any]]:
    """Every record of a stored session's log, in order.

    ``path``: the session directory (or its ``events.jsonl``). ``audio="inline"`` puts the
    stored audio back into each event as base64 (the events as they were on the wire) and
    drops the references; ``"ref"`` leaves the ``audio`` references as stored.
    ``on_error``: ``"raise"`` raises :class:`LogFormatError` at the first line that is not
    a JSON object; ``"skip"`` skips such lines. A last line without its newline (still
    being written) is never read. The log is only read, never modified.
    """
    events = _events_path(path)
    files = AudioFiles(events.parent) if audio == "inline" else None
    try:
        with open(events, "rb") as f:
            for rec in parse_lines(f, events, on_error=on_error, partial=partial):
                if files is not None and "audio" in rec:
                    refs = rec.pop("audio")
                    if isinstance(rec.get("event"), dict):
                        rec["event"] = inline_audio(rec["event"], refs, files)
                yield rec
    finally:
        if files is not None:
            files.close()
