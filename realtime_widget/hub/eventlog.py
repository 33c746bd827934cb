"""The append-only event log of one hub session: JSONL records + raw audio side files.

Layout of a session directory::

    <log_dir>/<session id>/
        meta.json          the session's summary (id, name, provider, model, owner, times)
        events.jsonl       one record per event, both directions, in sequence order
        seq.reserved       the highest sequence number handed out or about to be (see below)
        audio/input.pcm    the input audio stream (every input_audio_buffer.append)
        audio/item-<id>.pcm  the audio of one item (response.audio.delta, or audio sent
                           inside conversation.item.create)

Why JSONL and not SQLite: appending a record is one buffered ``write`` on the event loop
(no transaction, no fsync, no worker thread), a crash can only tear the last line (which
is detected and dropped when the log is reopened), the export *is* the file, and any tool
reads it (``jq``, ``pandas.read_json(lines=True)``). Paging by sequence number and
filtering by type are served from an in-memory index (byte offset, type and flags per
record) rebuilt by one scan when an old log is opened; SQLite's indexes would only pay
off for ad-hoc queries we do not offer.

A record (``LogRecord``)::

    {"seq": 12, "t": <wall time, s>, "mono": <time.monotonic(), s>,
     "dir": "client" | "server",          # a client event (to the upstream) or a server event
     "source": "widget" | "kernel" | "other" | "upstream" | "hub",
     "client": "c3",                      # the attached client that sent it (client events)
     "type": "response.audio.delta", "event_id": ..., "item_id": ..., "response_id": ...,
     "quiet": true,                       # hub-internal traffic (restoring a reconnected upstream)
     "audio": [{"path": ["delta"], "file": "item-abc.pcm", "offset": 0, "nbytes": 4800,
                "format": "pcm16"}],
     "event": {...}}                      # the event, without the audio field(s) listed above

Sequence numbers are never reused, even after a crash. Records reach the OS only every
``flush_interval`` (0.2 s), but the hub sends each event to its clients at once with its
sequence number as ``x_seq``: a killed process can lose records whose numbers clients
have already seen. So numbers are reserved in blocks of ``SEQ_BLOCK``: before the first
number of a block is used, the block's end is written to ``seq.reserved`` (one ``pwrite``
that reaches the OS at once, i.e. survives the death of the process; it is not fsynced,
so a power cut or kernel panic is not covered). A clean close writes back the last number
used, and so does every flush (every number used is then in a record the OS has; the
next append reserves a new block). When a log is next appended to and ``seq.reserved``
is above its last record (the
process died), the numbers in between are skipped: one quiet record ``x_hub.seq_gap``
(``{"first_seq", "last_seq"}``: the numbers that may have been lost) is written with the
next number, and the log goes on after it. Readers skip the missing numbers.

Audio is stored once, as the raw bytes the base64 carried (PCM16 little-endian for
``pcm16``; G.711 bytes for the G.711 formats), in the file of its stream; the record keeps
only a reference. Reading with ``audio="inline"`` puts the base64 back, which gives the
events exactly as they were on the wire.
"""

from __future__ import annotations

import asyncio
import binascii
import fnmatch
import hashlib
import json
import logging
import os
import re
import shutil
import time
from array import array
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import pybase64

from ..logfile import AUDIO_DIR, EVENTS_FILE, SAFE_NAME, AudioFiles, inline_audio
from ..protocol.parsing import dumps_json

__all__ = [
    "TOP_LEVEL_AUDIO",
    "Appended",
    "EventLog",
    "StoredSessionInfo",
    "apply_retention",
    "scan_sessions",
    "valid_session_id",
]

_log = logging.getLogger(__name__)

META_FILE = "meta.json"
SEQ_FILE = "seq.reserved"
SEQ_BLOCK = 1024  # sequence numbers reserved at once (one small write per block)
INPUT_STREAM = "input.pcm"

_FLAG_SERVER = 1
_FLAG_QUIET = 2
_FLAG_LOST = 4  # a sequence number skipped after a crash: no record has it

_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_MAX_OPEN_AUDIO = 16

# The hot events: (direction, type) -> the top-level field carrying base64 audio.
TOP_LEVEL_AUDIO = {
    ("client", "input_audio_buffer.append"): "audio",
    ("server", "response.audio.delta"): "delta",
}
_str = json.encoder.encode_basestring_ascii  # one JSON string (C implementation)


def not_a_json_number(word: str) -> None:
    """NaN / Infinity in a record (a log written before they were refused at the input):
    read back as null, so that every answer is JSON a browser's ``JSON.parse`` reads."""
    return None


def valid_session_id(session_id: Any) -> bool:
    """True for ids the hub makes (and only those can name a directory)."""
    return isinstance(session_id, str) and bool(_SESSION_ID.match(session_id))


def _stream_for_item(item_id: Any) -> str:
    if isinstance(item_id, str) and SAFE_NAME.match(item_id):
        return f"item-{item_id}.pcm"
    digest = hashlib.sha1(str(item_id).encode("utf-8", "replace")).hexdigest()[:20]
    return f"item-x{digest}.pcm"


def _b64(value: Any) -> bytes | None:
    """Strict base64 -> bytes, None when it is not base64 (then the event keeps it)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return pybase64.b64decode(value, validate=True)  # SIMD: 0.3 instead of 1.4 us a frame
    except (binascii.Error, ValueError):
        return None


def _cut_last_member(text: str, field: str, encoded: str) -> str | None:
    """:func:`_cut_field` for the layout every client and server we know writes: the audio
    is the last member (``...,"field":"<encoded>"}``, with or without a space after the
    ',' and ':'). Found from the end, so no search through the base64; None for any
    other layout. Safe on parsed JSON: an unescaped '"' only ever delimits a string, so
    ``,"field":"`` right before the final value and its closing '"}' can only be that
    top-level member (and the comparison with ``encoded`` rules out escapes in it)."""
    value_start = len(text) - 2 - len(encoded)
    if (
        not text.endswith('"}')
        or text[value_start - 1 : value_start] != '"'
        or not text.startswith(encoded, value_start)
    ):
        return None
    key = '"' + field + '":'
    key_end = value_start - 1
    if text[key_end - 1] == " ":
        key_end -= 1
    key_start = key_end - len(key)
    if not text.startswith(key, key_start):
        return None
    before = text[:key_start].rstrip(" ")
    if before.endswith(","):
        return before[:-1] + "}"
    if before == "{":
        return "{}"
    return None


def _cut_field(text: str, field: str, encoded: str) -> str | None:
    """``text`` (a JSON object) without its top-level ``"field": "<encoded>"`` member, by
    string surgery (no re-encoding); None when that member is not found unambiguously."""
    cut = _cut_last_member(text, field, encoded)
    if cut is not None:
        return cut
    # Look for a prefix of the value, not all of it: as cheap to find, and unique iff the
    # value is (a long needle costs str.find a table built per call).
    probe = '"' + encoded[:48]
    at = text.find(probe)
    if at < 0 or text.find(probe, at + 1) >= 0:
        return None
    value_end = at + 1 + len(encoded)
    if not text.startswith(encoded, at + 1) or text[value_end : value_end + 1] != '"':
        return None
    # what precedes the value must be the key: '"field":', with JSON whitespace around ':'
    window_start = max(0, at - len(field) - 16)
    head = text[window_start:at].rstrip(" \t\n\r")
    if not head.endswith(":"):
        return None
    head = head[:-1].rstrip(" \t\n\r")
    key = '"' + field + '"'
    if not head.endswith(key):
        return None
    key_start = window_start + len(head) - len(key)
    before = text[:key_start].rstrip()
    after = text[value_end + 1 :].lstrip()
    if before.endswith(",") and after[:1] in (",", "}"):
        return before[:-1] + after
    if before.endswith("{"):
        if after.startswith(","):
            return before + after[1:].lstrip()
        if after.startswith("}"):
            return before + after
    return None


def _audio_ref(
    stream: str, raw: bytes, fmt: str, path: list[Any], offset: int | None
) -> dict[str, Any]:
    """A record's reference to its audio (``dropped`` instead of an offset when not stored)."""
    ref: dict[str, Any] = {"path": path, "file": stream, "nbytes": len(raw), "format": fmt}
    if offset is None:
        ref["dropped"] = "max_bytes"
    else:
        ref["offset"] = offset
    return ref


def _id_member(key: str, value: Any) -> str:
    """``,"key":value`` for a string or integer id, else nothing."""
    if type(value) is str:
        return ',"' + key + '":' + _str(value)
    if type(value) is int:
        return ',"%s":%d' % (key, value)
    return ""


class Appended(NamedTuple):
    """What :meth:`EventLog.append` gives back."""

    seq: int
    wire: str  # the whole event as JSON text (audio included), as it goes on the wire
    audio: (
        bytes | None
    )  # the decoded bytes of a hot event's audio field (TOP_LEVEL_AUDIO), else None


# Appended(seq, wire, audio) without NamedTuple's Python-level __new__ (once per event).
_appended = tuple.__new__


class EventLog:
    """The log of one session. Appends happen on the event loop (cheap buffered writes,
    flushed once per loop iteration); reads of old records happen in a worker thread."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        max_bytes: int | None = None,
        flush_interval: float = 0.0,
    ):
        self.dir = Path(directory)
        self.max_bytes = max_bytes
        # Records reach the OS at most this long after they were appended (0: at the end of
        # the current event-loop iteration). A crash of the process loses at most that much.
        self.flush_interval = flush_interval
        self.input_format = "pcm16"
        self.output_format = "pcm16"
        self._offsets = array("q")  # byte offset of record seq (index seq - 1)
        self._types: list[str] = []
        self._type_names: dict[str, str] = {}
        self._flags = bytearray()
        self._size = 0  # bytes of events.jsonl
        self._audio_bytes = 0
        self._stream_sizes: dict[str, int] = {}
        self._events_file: Any = None
        self._audio_files: OrderedDict[str, Any] = OrderedDict()
        self._flush_pending = False
        self._closed = False
        self._last_item_id: Any = None
        self._last_item_stream = ""
        self.audio_dropped = 0  # bytes of audio not stored because of max_bytes
        self._seq_fd: int | None = None
        self._seq_reserved = 0  # numbers up to this one may have been seen by clients

    # ------------------------------------------------------------------ opening

    @classmethod
    def create(cls, directory: str | os.PathLike[str], *, max_bytes: int | None = None) -> EventLog:
        log = cls(directory, max_bytes=max_bytes)
        (log.dir / AUDIO_DIR).mkdir(parents=True, exist_ok=True)
        log._open_for_append()
        return log

    @classmethod
    def open(cls, directory: str | os.PathLike[str], *, max_bytes: int | None = None) -> EventLog:
        """Open an existing log and index it (blocking: call it in a worker thread).
        A torn last line (a crash mid-write) is cut off."""
        log = cls(directory, max_bytes=max_bytes)
        path = log.dir / EVENTS_FILE
        if path.exists():
            log._index_file(path)
        log._seq_reserved = max(log.last_seq, log._read_seq_reserved())
        audio = log.dir / AUDIO_DIR
        if audio.is_dir():
            for f in audio.iterdir():
                if f.is_file():
                    log._stream_sizes[f.name] = f.stat().st_size
                    log._audio_bytes += log._stream_sizes[f.name]
        return log

    def _index_file(self, path: Path) -> None:
        good_end = 0
        with open(path, "rb") as f:
            offset = 0
            for line in f:
                end = offset + len(line)
                if not line.endswith(b"\n"):
                    break  # torn last line
                try:
                    rec = json.loads(line)
                    seq = int(rec["seq"])
                except (ValueError, KeyError, TypeError):
                    offset = end
                    good_end = end
                    continue  # a damaged line is skipped, the rest is kept
                if seq > len(self._offsets) + 1 and rec.get("type") == "x_hub.seq_gap":
                    for _ in range(seq - 1 - len(self._offsets)):  # the numbers lost in a crash
                        self._offsets.append(offset)
                        self._types.append("")
                        self._flags.append(_FLAG_LOST | _FLAG_QUIET)
                if seq == len(self._offsets) + 1:
                    self._add_index(
                        offset,
                        rec.get("type") or "",
                        rec.get("dir") == "server",
                        bool(rec.get("quiet")),
                    )
                offset = end
                good_end = end
        if path.stat().st_size != good_end:
            with open(path, "r+b") as f:
                f.truncate(good_end)
        self._size = good_end

    def _add_index(self, offset: int, etype: str, server: bool, quiet: bool) -> None:
        self._offsets.append(offset)
        self._types.append(self._type_names.setdefault(etype, etype))
        self._flags.append((_FLAG_SERVER if server else 0) | (_FLAG_QUIET if quiet else 0))

    def _open_for_append(self) -> None:
        if self._events_file is None:
            self.dir.mkdir(parents=True, exist_ok=True)
            (self.dir / AUDIO_DIR).mkdir(exist_ok=True)
            self._events_file = open(self.dir / EVENTS_FILE, "ab", buffering=256 * 1024)
            self._closed = False
            self._seq_fd = os.open(self.dir / SEQ_FILE, os.O_WRONLY | os.O_CREAT, 0o644)
            if self._seq_reserved > self.last_seq:
                self._skip_lost_seqs()

    def _read_seq_reserved(self) -> int:
        try:
            return int((self.dir / SEQ_FILE).read_bytes().strip() or 0)
        except (OSError, ValueError):
            return 0

    def _write_seq_reserved(self, value: int) -> None:
        self._seq_reserved = value
        if self._seq_fd is None:
            return
        data = b"%20d\n" % value  # fixed width: no truncate needed
        try:
            if hasattr(os, "pwrite"):
                os.pwrite(self._seq_fd, data, 0)
            else:  # Windows
                os.lseek(self._seq_fd, 0, os.SEEK_SET)
                os.write(self._seq_fd, data)
        except OSError:  # a full disk: the session goes on, without the crash guarantee
            _log.warning("realtime-widget: cannot write %s", self.dir / SEQ_FILE, exc_info=True)

    def _skip_lost_seqs(self) -> None:
        """After a crash: numbers up to ``_seq_reserved`` may have reached clients with
        records that never reached the disk. Skip them, and say so in the log."""
        first, last = self.last_seq + 1, self._seq_reserved
        for _ in range(last - first + 1):
            self._offsets.append(self._size)  # the marker's line
            self._types.append("")
            self._flags.append(_FLAG_LOST | _FLAG_QUIET)
        marker = {"type": "x_hub.seq_gap", "first_seq": first, "last_seq": last}
        self._write_record("x_hub.seq_gap", "server", "hub", None, "", True, "", dumps_json(marker))

    # ------------------------------------------------------------------ properties

    @property
    def last_seq(self) -> int:
        return len(self._offsets)

    @property
    def n_events(self) -> int:
        return len(self._offsets)

    @property
    def size_bytes(self) -> int:
        return self._size + self._audio_bytes

    def type_of(self, seq: int) -> str:
        return self._types[seq - 1]

    def is_server(self, seq: int) -> bool:
        return bool(self._flags[seq - 1] & _FLAG_SERVER)

    # ------------------------------------------------------------------ appending

    def append(
        self,
        event: dict[str, Any],
        *,
        direction: str,
        source: str,
        client: str | None = None,
        quiet: bool = False,
        text: str | None = None,
    ) -> Appended:
        """Log one event (a wire dict).

        ``text`` may be given when the caller already has the event's JSON (it must be
        exactly ``event``); audio is taken out of the record and stored raw. The raw
        audio of the hot events comes back in :attr:`Appended.audio` so that nobody
        decodes the same base64 twice."""
        if self._events_file is None:
            self._open_for_append()
        etype = event.get("type")
        etype = etype if isinstance(etype, str) else ""
        audio_json, stripped, wire, raw = self._take_audio(event, etype, direction, text)
        get = event.get
        event_id, item_id, response_id = get("event_id"), get("item_id"), get("response_id")
        if item_id is None:
            item = get("item")
            if type(item) is dict:
                item_id = item.get("id")
        if response_id is None:
            response = get("response")
            if type(response) is dict:
                response_id = response.get("id")
        body = (
            stripped if stripped is not None else (text if text is not None else dumps_json(event))
        )
        if (
            "\n" in body or "\r" in body
        ):  # pretty-printed JSON from a client: one record must stay one line
            body = dumps_json(
                {
                    k: v
                    for k, v in event.items()
                    if not (audio_json and k == TOP_LEVEL_AUDIO.get((direction, etype)))
                }
            )
        seq = self._write_record(
            etype,
            direction,
            source,
            client,
            _id_member("event_id", event_id)
            + _id_member("item_id", item_id)
            + _id_member("response_id", response_id),
            quiet,
            audio_json,
            body,
        )
        if wire is None:
            wire = text if text is not None else (body if stripped is None else dumps_json(event))
        return _appended(Appended, (seq, wire, raw))

    def _write_record(
        self,
        etype: str,
        direction: str,
        source: str,
        client: str | None,
        ids: str,
        quiet: bool,
        audio_json: str,
        body: str,
    ) -> int:
        """Write one record (``ids``: its ``,"event_id":...`` members, ``audio_json``: its
        ``,"audio":[...]`` member or ""); its sequence number."""
        seq = len(self._offsets) + 1
        if seq > self._seq_reserved:  # a new block: reserve it before any number of it is used
            self._write_seq_reserved(seq - 1 + SEQ_BLOCK)
        # Formatted by hand, in one go (this runs for every event): strings that come from
        # events go through the JSON string encoder, the rest are ours.
        line = (
            '{"seq":%d,"t":%.6f,"mono":%.6f,"dir":"%s","source":"%s","type":%s%s%s%s%s,"event":%s}\n'
            % (
                seq,
                time.time(),
                time.monotonic(),
                direction,
                source,
                _str(etype),
                "" if client is None else ',"client":' + _str(client),
                ids,
                ',"quiet":true' if quiet else "",
                audio_json,
                body,
            )
        ).encode("utf-8")
        self._events_file.write(line)
        self._offsets.append(self._size)
        self._types.append(
            self._type_names.setdefault(etype, etype)
        )  # one string per type, not per event
        self._flags.append(
            (_FLAG_SERVER if direction == "server" else 0) | (_FLAG_QUIET if quiet else 0)
        )
        self._size += len(line)
        if not self._flush_pending:
            self._schedule_flush()
        return seq

    def _top_ref(self, stream: str, raw: bytes, fmt: str, field: str) -> str:
        """Store the audio of a top-level field: the record's ``,"audio":[ref]`` member."""
        offset = self._store_audio(stream, raw)
        if (
            offset is not None
        ):  # the usual reference, formatted by hand: this runs 50 times a second each way
            return ',"audio":[{"path":["%s"],"file":%s,"nbytes":%d,"format":%s,"offset":%d}]' % (
                field,
                _str(stream),
                len(raw),
                _str(fmt),
                offset,
            )
        return ',"audio":' + dumps_json([_audio_ref(stream, raw, fmt, [field], None)])

    def _take_audio(
        self, event: dict[str, Any], etype: str, direction: str, text: str | None
    ) -> tuple[str, str | None, str | None, bytes | None]:
        """For events that carry audio: (``,"audio":[refs]`` for the record, JSON of the
        event without its audio, wire JSON or None, raw audio of a top-level field or
        None); ("", None, None, None) for the others."""
        field = TOP_LEVEL_AUDIO.get((direction, etype))
        if field is not None:
            if direction == "client":
                stream, fmt = INPUT_STREAM, self.input_format
            else:
                item_id = event.get("item_id")
                if (
                    item_id != self._last_item_id or type(item_id) is not str
                ):  # a reply's deltas share one item
                    self._last_item_id, self._last_item_stream = item_id, _stream_for_item(item_id)
                stream, fmt = self._last_item_stream, self.output_format
            return self._take_top(event, field, stream, fmt, text)
        item = event.get("item")
        if isinstance(item, dict) and isinstance(item.get("content"), list):
            parts = item["content"]
            paths = [
                i
                for i, p in enumerate(parts)
                if isinstance(p, dict) and isinstance(p.get("audio"), str)
            ]
            if paths:
                refs, stripped, wire = self._take_item_audio(event, item, paths)
                return (',"audio":' + dumps_json(refs) if refs else ""), stripped, wire, None
        return "", None, None, None

    def _take_top(
        self, event: dict[str, Any], field: str, stream: str, fmt: str, text: str | None = None
    ) -> tuple[str, str | None, str | None, bytes | None]:
        encoded = event.get(field)
        raw = _b64(encoded)
        if raw is None:
            return "", None, None, None
        refs_json = self._top_ref(stream, raw, fmt, field)
        stripped_text = _cut_field(text, field, encoded) if text is not None else None
        if stripped_text is None:
            stripped = {k: v for k, v in event.items() if k != field}
            stripped_text = dumps_json(stripped)
        if text is not None:
            return refs_json, stripped_text, text, raw
        # The wire form: the stripped JSON with the (validated, so escape-free) base64 spliced back.
        sep = "," if stripped_text != "{}" else ""
        wire = stripped_text[:-1] + sep + f'"{field}":"{encoded}"' + "}"
        return refs_json, stripped_text, wire, raw

    def _take_item_audio(
        self, event: dict[str, Any], item: dict[str, Any], indexes: list[int]
    ) -> tuple[list[dict[str, Any]], str | None, str | None]:
        refs = []
        new_parts = list(item["content"])
        stream = _stream_for_item(item.get("id")) if item.get("id") else "item-unnamed.pcm"
        for i in indexes:
            raw = _b64(new_parts[i]["audio"])
            if raw is None:
                continue
            offset = self._store_audio(stream, raw)
            refs.append(
                _audio_ref(stream, raw, self.input_format, ["item", "content", i, "audio"], offset)
            )
            new_parts[i] = {k: v for k, v in new_parts[i].items() if k != "audio"}
        if not refs:
            return [], None, None
        stripped = dict(event)
        stripped["item"] = {**item, "content": new_parts}
        return refs, dumps_json(stripped), None

    def _store_audio(self, stream: str, raw: bytes) -> int | None:
        """Append ``raw`` to the audio file ``stream``: its offset there, or None when the
        session's size limit is reached (the audio is then dropped)."""
        if self.max_bytes is not None and self.size_bytes + len(raw) > self.max_bytes:
            self.audio_dropped += len(raw)
            return None
        f = self._audio_files.get(stream)
        if f is None:
            f = open(self.dir / AUDIO_DIR / stream, "ab", buffering=64 * 1024)
            self._audio_files[stream] = f
            if len(self._audio_files) > _MAX_OPEN_AUDIO:
                _, oldest = self._audio_files.popitem(last=False)
                oldest.close()
        else:
            self._audio_files.move_to_end(stream)
        offset = self._stream_sizes.get(stream, 0)
        f.write(raw)
        self._stream_sizes[stream] = offset + len(raw)
        self._audio_bytes += len(raw)
        return offset

    def _schedule_flush(self) -> None:
        if self._flush_pending:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        self._flush_pending = True
        if self.flush_interval > 0:
            loop.call_later(self.flush_interval, self.flush)
        else:
            loop.call_soon(self.flush)

    def flush(self) -> None:
        """Hand buffered records to the OS (survives a crash of this process)."""
        self._flush_pending = False
        if self._events_file is not None:
            self._events_file.flush()
        for f in self._audio_files.values():
            f.flush()
        if self._seq_reserved > self.last_seq and self._seq_fd is not None:
            # every number handed out is in a record the OS has now: a crash before the
            # next append loses nothing, and the log goes on without a gap
            self._write_seq_reserved(self.last_seq)

    def close(self) -> None:
        self.flush()
        if self._events_file is not None:
            self._events_file.close()
            self._events_file = None
        for f in self._audio_files.values():
            f.close()
        self._audio_files.clear()
        if self._seq_fd is not None:
            self._write_seq_reserved(self.last_seq)  # a clean close: nothing is lost
            os.close(self._seq_fd)
            self._seq_fd = None
        self._closed = True

    # ------------------------------------------------------------------ meta

    def write_meta(self, meta: dict[str, Any]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dir / (META_FILE + ".tmp")
        tmp.write_text(json.dumps(meta, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.dir / META_FILE)

    def read_meta(self) -> dict[str, Any]:
        try:
            meta = json.loads((self.dir / META_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return meta if isinstance(meta, dict) else {}

    # ------------------------------------------------------------------ reading

    def select(
        self,
        *,
        after: int = 0,
        limit: int | None = None,
        types: Iterable[str] | None = None,
        direction: str | None = None,
        include_quiet: bool = True,
        upto: int | None = None,
    ) -> list[int]:
        """Sequence numbers of the matching records (from the in-memory index)."""
        patterns = [t for t in (types or ()) if t]
        cache: dict[str, bool] = {}
        want_server = None if direction is None else direction == "server"
        out: list[int] = []
        last = self.last_seq if upto is None else min(upto, self.last_seq)
        for seq in range(max(after, 0) + 1, last + 1):
            flags = self._flags[seq - 1]
            if flags & _FLAG_LOST:
                continue
            if want_server is not None and bool(flags & _FLAG_SERVER) != want_server:
                continue
            if not include_quiet and flags & _FLAG_QUIET:
                continue
            if patterns:
                etype = self._types[seq - 1]
                hit = cache.get(etype)
                if hit is None:
                    hit = cache[etype] = any(fnmatch.fnmatchcase(etype, p) for p in patterns)
                if not hit:
                    continue
            out.append(seq)
            if limit is not None and len(out) >= limit:
                break
        return out

    def read(
        self, seqs: list[int], *, audio: str = "ref", flush: bool = True
    ) -> list[dict[str, Any]]:
        """The records ``seqs`` (blocking file reads: call it in a worker thread).

        ``audio``: ``"ref"`` leaves the references, ``"inline"`` puts the base64 back
        into the event (as it was on the wire), ``"omit"`` drops the references.
        From a worker thread, flush on the loop first and pass ``flush=False``."""
        if flush:
            self.flush()
        out = []
        with AudioFiles(self.dir) as files:
            for rec in self._raw_records(seqs):
                if audio == "inline":
                    refs = rec.pop("audio", None)
                    if refs:
                        rec["event"] = inline_audio(rec["event"], refs, files)
                elif audio == "omit":
                    rec.pop("audio", None)
                out.append(rec)
        return out

    def wire_frames(self, seqs: list[int], flush: bool = True) -> list[str]:
        """Server events ``seqs`` as hub WebSocket frames (audio inline, ``x_seq`` added)."""
        frames = []
        for rec in self.read(seqs, audio="inline", flush=flush):
            event = rec["event"]
            event["x_seq"] = rec["seq"]
            frames.append(dumps_json(event))
        return frames

    def _raw_records(self, seqs: list[int]) -> Iterator[dict[str, Any]]:
        if not seqs:
            return
        path = self.dir / EVENTS_FILE
        with open(path, "rb") as f:
            for seq in seqs:
                if not 1 <= seq <= self.last_seq or self._flags[seq - 1] & _FLAG_LOST:
                    continue
                f.seek(self._offsets[seq - 1])
                yield json.loads(f.readline(), parse_constant=not_a_json_number)

    def read_audio(self, ref: dict[str, Any]) -> bytes | None:
        """The raw audio bytes a reference points to (None if not stored)."""
        with AudioFiles(self.dir) as files:
            return files.read(ref)

    def item_audio(self, item_id: Any, nbytes: int) -> bytes:
        """The first ``nbytes`` of the audio stored for item ``item_id``, as it came in
        (blocking: flush on the loop first, then call it in a worker thread)."""
        try:
            with open(self.dir / AUDIO_DIR / _stream_for_item(item_id), "rb") as f:
                return f.read(max(0, nbytes))
        except OSError:
            return b""

    def iter_all(self, *, audio: str = "ref", chunk: int = 512) -> Iterator[dict[str, Any]]:
        """Every record in order (blocking)."""
        last = self.last_seq
        for start in range(1, last + 1, chunk):
            yield from self.read(
                list(range(start, min(start + chunk, last + 1))), audio=audio, flush=False
            )


# ---------------------------------------------------------------------- directory level


@dataclass
class StoredSessionInfo:
    id: str
    path: Path
    meta: dict[str, Any]
    size_bytes: int
    mtime: float


def _dir_size(path: Path) -> tuple[int, float]:
    total, newest = 0, 0.0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                st = os.stat(os.path.join(root, name))
            except OSError:
                continue
            total += st.st_size
            newest = max(newest, st.st_mtime)
    return total, newest


def scan_sessions(root: str | os.PathLike[str]) -> list[StoredSessionInfo]:
    """The session logs under ``root`` (blocking)."""
    root = Path(root)
    out = []
    if not root.is_dir():
        return out
    for entry in root.iterdir():
        if not entry.is_dir() or not valid_session_id(entry.name):
            continue
        meta_path = entry / META_FILE
        if not meta_path.exists():
            continue
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            meta = {}
        if not isinstance(meta, dict):
            meta = {}
        size, mtime = _dir_size(entry)
        out.append(StoredSessionInfo(entry.name, entry, meta, size, mtime))
    return out


def apply_retention(
    root: str | os.PathLike[str],
    *,
    retention_days: float | None,
    max_total_bytes: int | None,
    keep: set[str] = frozenset(),  # type: ignore[assignment]
    now: float | None = None,
) -> list[str]:
    """Delete session logs older than ``retention_days`` (by last write), then the
    oldest ones while the total exceeds ``max_total_bytes``. Sessions in ``keep``
    (live ones) are never deleted. Returns the deleted ids (blocking)."""
    now = time.time() if now is None else now
    sessions = sorted(scan_sessions(root), key=lambda s: s.mtime)
    deleted: list[str] = []
    remaining = []
    for s in sessions:
        if (
            s.id not in keep
            and retention_days is not None
            and retention_days > 0
            and now - s.mtime > retention_days * 86400
        ):
            shutil.rmtree(s.path, ignore_errors=True)
            deleted.append(s.id)
        else:
            remaining.append(s)
    if max_total_bytes is not None and max_total_bytes > 0:
        total = sum(s.size_bytes for s in remaining)
        for s in remaining:
            if total <= max_total_bytes:
                break
            if s.id in keep:
                continue
            shutil.rmtree(s.path, ignore_errors=True)
            deleted.append(s.id)
            total -= s.size_bytes
    return deleted
