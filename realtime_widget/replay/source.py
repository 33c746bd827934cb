"""The user side of a recorded session, read from its event log.

:func:`read_log` is the one place the replay reads a source's log (a live ``Session``, a
stored session's id or directory, or a :class:`~realtime_widget.frames.SessionFrames`).
:func:`user_side` cuts the records into user turns: what the user sent (configuration,
audio appends, text items, commits, ``response.create``) up to the point where the source
answered, and where the user barged in (``response.cancel``, ``conversation.item.truncate``).

What the source's *model* did (responses, tool calls, timings) is not part of a turn: the
replay's model makes its own. The source's function outputs are kept aside, by function
name, for calls that no tool of the replay answers.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ReplayError

__all__ = [
    "Interrupt",
    "ReplayError",
    "SourceLog",
    "Turn",
    "UserSide",
    "read_log",
    "user_side",
]

HUB_CONFIG_EVENT_ID = "event_hub_config"  # the hub's session.update of a creation body's config
USER_SOURCES = ("widget", "kernel", "other")


# ---------------------------------------------------------------------- reading the log


@dataclass
class SourceLog:
    """A source's log records (seq order, audio inline) and what is known about it."""

    id: str
    records: list[dict[str, Any]]
    meta: dict[str, Any]
    open: bool  # still live: only its complete turns are replayed
    path: Path | None


def _frames_of(source: Any) -> Any:
    from ..frames import SessionFrames, frames

    if isinstance(source, SessionFrames):
        return source
    if isinstance(source, (str, os.PathLike)) or hasattr(source, "transport"):
        return frames(source)
    inner = getattr(source, "session", None)  # a RealtimeWidget
    if inner is not None and hasattr(inner, "transport"):
        return frames(inner)
    raise TypeError(
        "replay: the source is a Session, a stored session (id or path) or a SessionFrames, "
        f"not {type(source).__name__}"
    )


def _first_damaged_line(data: bytes) -> tuple[int, str] | None:
    """(1-based line number, why) of the first line that is not a JSON record."""
    for number, line in enumerate(data.split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError as exc:
            return number, f"not JSON ({exc})"
        if not isinstance(rec, dict) or not isinstance(rec.get("event"), dict):
            return number, "not an event record"
    return None


def _inline_audio(rec: dict[str, Any], directory: Path | None, handles: dict[str, Any]) -> None:
    """Put each stored audio payload back into the record's event (base64, as sent)."""
    for ref in rec.get("audio") or ():
        keys = list(ref.get("path") or []) if isinstance(ref, dict) else []
        name = str(ref.get("file") or "") if isinstance(ref, dict) else ""
        if not keys or directory is None or not name or "/" in name or name.startswith("."):
            continue
        target: Any = rec["event"]
        try:
            for key in keys[:-1]:
                target = target[key]
            if keys[-1] in target if isinstance(target, dict) else False:
                continue  # already inline (a hub export with audio=inline)
            f = handles.get(name)
            if f is None:
                f = handles[name] = open(directory / "audio" / name, "rb")
            raw = os.pread(f.fileno(), int(ref["nbytes"]), int(ref["offset"]))
            if len(raw) != int(ref["nbytes"]):
                raise ReplayError(
                    f"the source's audio file {directory / 'audio' / name} is shorter than its "
                    f"log says (event seq {rec.get('seq')})"
                )
            target[keys[-1]] = base64.b64encode(raw).decode("ascii")
        except (KeyError, IndexError, TypeError, ValueError, OSError) as exc:
            raise ReplayError(
                f"the audio of event seq {rec.get('seq')} cannot be read from the source: {exc}"
            ) from None


def _hub_of(server: Any, token: str | None) -> Any:
    """The Jupyter server to ask for a stored session this kernel cannot read."""
    from ..client.discovery import find_server, server_from_argument

    return server_from_argument(server, token) or find_server()


def _hub_log(session_id: str, server: Any, token: str | None) -> tuple[bytes, dict, str] | None:
    """(the hub's export of a session, its summary, where) or None without a hub."""
    from ..client.rest import fetch_blocking

    info = _hub_of(server, token)
    if info is None:
        return None
    try:
        summary = json.loads(fetch_blocking(info, "GET", "realtime", "sessions", session_id))
    except (RuntimeError, OSError, ValueError):
        return None
    data = fetch_blocking(
        info, "GET", "realtime", "sessions", session_id, "export", params={"audio": "inline"}
    )
    return data, summary, f"the hub's export of session {session_id}"


def read_log(source: Any, *, server: Any = None, token: str | None = None) -> SourceLog:
    """Every record of the source's log, in order, with its audio inline. Read-only.

    The single reader of a source (swap here for the project's one log reader). A
    session id this kernel has no log of is asked of the Jupyter server's hub (``server``
    / ``token``, else the one ``Session()`` would find). Raises :class:`ReplayError`
    naming the line for a damaged log, or for a closed log whose last line was cut off (a
    live log's last line may still be being written: it is left out).
    """
    from ..client.rest import fetch_blocking
    from ..frames.reader import LogTable

    try:
        sf = _frames_of(source)
    except FileNotFoundError:
        remote = _hub_log(str(source), server, token) if isinstance(source, str) else None
        if remote is None:
            raise
        sf = None
    if sf is not None:
        sf.refresh()  # a live session: the hub writes out what it buffered first
        meta, live, path, sid = sf.meta(), sf.live, sf.path, str(sf.id)
        if path is not None:
            data = (path / "events.jsonl").read_bytes()
            where = str(path / "events.jsonl")
        else:  # a hub session this kernel cannot read from disk: the hub's export
            data = fetch_blocking(
                sf.session.server,
                "GET",
                "realtime",
                "sessions",
                sid,
                "export",
                params={"audio": "inline"},
            )
            where = f"the hub's export of session {sid}"
    else:
        data, meta, where = remote
        sid, path = str(meta.get("id") or source), None
        live = meta.get("status") in ("connecting", "open", "reconnecting")
    closed = not live and bool(meta.get("closed_at"))
    table = LogTable.from_bytes(data)
    table.refresh()
    if table.slow_chunks:  # the fast reader refused a chunk: find the damaged line
        damaged = _first_damaged_line(data[: table.bytes_read])
        if damaged is not None:
            raise ReplayError(f"{where}, line {damaged[0]}: the log is damaged: {damaged[1]}")
    if table.bytes_read < len(data) and data[table.bytes_read :].strip() and closed:
        line = data[: table.bytes_read].count(b"\n") + 1
        raise ReplayError(f"{where}, line {line}: the log is truncated (its last line is cut off)")
    records = table.records(range(table.num_rows))
    handles: dict[str, Any] = {}
    try:
        for rec in records:
            if isinstance(rec.get("event"), dict):
                _inline_audio(rec, path, handles)
    finally:
        for f in handles.values():
            f.close()
    return SourceLog(sid, records, meta, not closed, path)


# ---------------------------------------------------------------------- turns


@dataclass
class Interrupt:
    """Where the user barged in on a turn's answer."""

    cancel: bool = False  # the user sent response.cancel
    audio_end_ms: int | None = None  # the truncation: how much of the answer was heard
    after_s: float | None = None  # seconds from response.created to the cancel (no audio)


@dataclass
class Turn:
    """One user turn: events as the user sent them, with their time in seconds from the
    turn's first event, and what ended it in the source."""

    events: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    trigger: str | None = None  # "vad": the server committed the audio; "client": response.create
    interrupt: Interrupt | None = None
    has_audio: bool = False

    @property
    def audio_appends(self) -> int:
        return sum(1 for _, e in self.events if e.get("type") == "input_audio_buffer.append")


@dataclass
class UserSide:
    id: str
    name: str
    provider: str | None
    model: str | None
    config: dict[str, Any]  # the session configuration the source was created with
    turns: list[Turn]
    tail: list[tuple[float, dict[str, Any]]]  # user events after the last complete turn
    outputs: dict[str, list[tuple[str, str]]]  # function name -> [(arguments, output)]
    open: bool

    @property
    def tool_definitions(self) -> list[dict[str, Any]]:
        tools = self.config.get("tools") or []
        for _, event in (e for t in self.turns for e in t.events):
            if event.get("type") == "session.update" and "tools" in (event.get("session") or {}):
                tools = event["session"]["tools"] or []
        return [t for t in tools if isinstance(t, dict)]


def _when(rec: dict[str, Any]) -> float:
    mono = rec.get("mono")
    return float(mono if isinstance(mono, (int, float)) else rec.get("t") or 0.0)


def user_side(log: SourceLog) -> UserSide:
    """Cut a source's records into user turns (see the module docstring)."""
    config: dict[str, Any] = {}
    turns: list[Turn] = []
    current = Turn()
    start: float | None = None
    calls: dict[str, tuple[str, str]] = {}  # call_id -> (name, arguments)
    outputs_by_call: dict[str, str] = {}
    follow_up = False  # function outputs were sent: the next response.create is the tool's
    manual_commit = False
    created_at: dict[str, float] = {}  # response id -> when it was created
    turn_of_response: dict[str, int] = {}  # response id -> the turn it answers
    response_of_item: dict[str, str] = {}  # output item id -> its response id

    def add(rec: dict[str, Any], event: dict[str, Any]) -> None:
        nonlocal start
        if start is None:
            start = _when(rec)
        current.events.append((_when(rec) - start, event))

    def close(trigger: str) -> None:
        nonlocal current, start, manual_commit
        current.trigger = trigger
        turns.append(current)
        current, start, manual_commit = Turn(), None, False

    for rec in log.records:
        if rec.get("quiet"):
            continue  # restore traffic after a reconnect: no client sent it
        event = rec.get("event")
        if not isinstance(event, dict):
            continue
        etype = event.get("type")
        if rec.get("dir") == "server":
            if etype == "response.created":
                rid = str((event.get("response") or {}).get("id"))
                created_at[rid] = _when(rec)
                turn_of_response[rid] = max(0, len(turns) - 1)
            elif etype == "response.output_item.added":
                item = event.get("item") or {}
                response_of_item[str(item.get("id"))] = str(event.get("response_id"))
            elif etype == "response.output_item.done":
                item = event.get("item") or {}
                if item.get("type") == "function_call":
                    calls[str(item.get("call_id"))] = (
                        str(item.get("name")),
                        str(item.get("arguments") or ""),
                    )
            elif etype == "input_audio_buffer.committed" and not manual_commit:
                if current.has_audio:
                    close("vad")
            continue
        user = rec.get("source") in USER_SOURCES
        if rec.get("source") == "hub" and event.get("event_id") == HUB_CONFIG_EVENT_ID:
            config = dict(event.get("session") or {})
            continue
        if not user:
            continue
        item = event.get("item") if isinstance(event.get("item"), dict) else {}
        if etype == "conversation.item.create" and item.get("type") == "function_call_output":
            outputs_by_call[str(item.get("call_id"))] = str(item.get("output") or "")
            follow_up = True
            continue
        if etype == "response.create":
            if follow_up:
                follow_up = False
                continue
            add(rec, event)
            close("client")
            continue
        if etype in ("response.cancel", "conversation.item.truncate") and turns:
            # the barge-in belongs to the turn whose answer it cut (the next turn's speech
            # may already be under way, or even committed, when the client sends it)
            if etype == "response.cancel":
                rid = str(event.get("response_id") or "") or (
                    list(created_at)[-1] if created_at else ""
                )
            else:
                rid = response_of_item.get(str(event.get("item_id")), "")
            target = turns[turn_of_response.get(rid, len(turns) - 1)]
            interrupt = target.interrupt or Interrupt()
            if etype == "response.cancel":
                interrupt.cancel = True
                began = created_at.get(rid)
                interrupt.after_s = max(0.0, _when(rec) - began) if began is not None else 0.0
            else:
                interrupt.audio_end_ms = int(event.get("audio_end_ms") or 0)
            target.interrupt = interrupt
            continue
        if etype == "input_audio_buffer.append":
            current.has_audio = True
        elif etype == "input_audio_buffer.commit":
            manual_commit = True
        elif etype == "conversation.item.create" and item.get("role") == "user":
            follow_up = False
        add(rec, event)
    outputs: dict[str, list[tuple[str, str]]] = {}
    for call_id, output in outputs_by_call.items():
        if call_id in calls:
            name, arguments = calls[call_id]
            outputs.setdefault(name, []).append((arguments, output))
    meta = log.meta
    if not turns:
        raise ReplayError(
            f"session {log.id} has no user turns to replay (no user message or speech that "
            "the source answered)"
        )
    return UserSide(
        id=log.id,
        name=str(meta.get("name") or log.id),
        provider=meta.get("provider"),
        model=meta.get("model"),
        config=config,
        turns=turns,
        tail=[] if log.open else current.events,
        outputs=outputs,
        open=log.open,
    )
