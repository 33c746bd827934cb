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

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import logfile
from ..hub.hub_events import CONFIG_EVENT_ID
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


def _with_audio(rec: dict[str, Any], files: logfile.AudioFiles) -> dict[str, Any]:
    """The record with its stored audio back in its event, byte for byte: audio that the
    log says was stored but cannot be read whole is an error (the replay would not send
    what the user said)."""
    refs = rec.pop("audio", None) or []
    for ref in refs:
        if not isinstance(ref, dict) or "offset" not in ref:
            continue  # not stored (the log's size cap): nothing to send
        raw = files.read(ref)
        if raw is None or len(raw) != int(ref.get("nbytes") or 0):
            raise ReplayError(
                f"the audio of event seq {rec.get('seq')} cannot be read whole from "
                f"{files.directory}"
            )
    rec["event"] = logfile.inline_audio(rec["event"], refs, files)
    return rec


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

    try:
        sf = _frames_of(source)
    except FileNotFoundError:
        remote = _hub_log(str(source), server, token) if isinstance(source, str) else None
        if remote is None:
            raise
        sf = None
    data: bytes | None = None
    if sf is not None:
        sf.refresh()  # a live session: the hub writes out what it buffered first
        meta, live, path, sid = sf.meta(), sf.live, sf.path, str(sf.id)
        if path is None:  # a hub session this kernel cannot read from disk: the hub's export
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
    # a closed log that ends inside a record was truncated; an open one is being written
    partial = "raise" if closed else "skip"
    try:
        if path is not None:
            with logfile.AudioFiles(path) as files:
                records = [
                    _with_audio(rec, files)
                    for rec in logfile.read_log(path, audio="ref", partial=partial)
                    if isinstance(rec.get("event"), dict)
                ]
        else:
            assert data is not None
            lines = data.splitlines(keepends=True)
            records = [
                rec
                for rec in logfile.parse_lines(lines, where, partial=partial)
                if isinstance(rec.get("event"), dict)
            ]
    except logfile.LogTruncated as exc:
        raise ReplayError(
            f"{exc.path}, line {exc.line}: the log is truncated (its last line is cut off)"
        ) from None
    except logfile.LogFormatError as exc:
        raise ReplayError(
            f"{exc.path}, line {exc.line}: the log is damaged: {exc.reason}"
        ) from None
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
        if rec.get("source") == "hub" and event.get("event_id") == CONFIG_EVENT_ID:
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
