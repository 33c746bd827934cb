"""DataFrames of a realtime session, live or stored.

>>> from realtime_widget import Session
>>> from realtime_widget.frames import frames, open_session
>>> s = Session()
>>> f = frames(s)                 # the live session
>>> f.events()                    # one row per event, both directions
>>> f.transcript(); f.latency(); f.usage(prices={...}); f.audio(item_id); f.timeline()
>>> old = open_session("rts_...")  # a stored session, reopened from its log

Everything is computed from the session's event log (``events.jsonl``, see
:mod:`realtime_widget.server.eventlog`): what the DataFrames show is what went over the
wire, in both directions, with the hub's sequence numbers and clocks.

Where the log is read from:

* a stored session, or a live one in direct mode: the log file, read incrementally
  (only what was appended since the last call is parsed);
* a live session in hub mode: the log file too when the kernel can see it (the same
  machine and user: the server's ``log_dir`` is found from ``REALTIME_WIDGET_LOG_DIR`` or
  the Jupyter data directory), else the hub's export (``GET .../export?audio=ref``).
"""

from __future__ import annotations

import base64
import fnmatch
import json
import os
import threading
import weakref
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..conversation.logfile import read_log, rebuild_conversation
from .display import STYLE, AudioArray, esc
from .reader import LogTable

__all__ = [
    "EVENT_COLUMNS",
    "PRICE_KEYS",
    "EventsFrame",
    "SessionFrames",
    "TranscriptFrame",
    "frames",
    "log_dirs",
    "open_session",
    "stored_sessions",
]

EVENT_COLUMNS = [
    "seq",
    "t_ms",
    "wall_time",
    "direction",
    "source",
    "type",
    "event_id",
    "item_id",
    "response_id",
    "output_index",
    "content_index",
    "delta_chars",
    "audio_ms",
    "error_type",
    "error_code",
    "error_message",
    "audio_start_ms",
    "audio_end_ms",
    "client",
    "quiet",
]

TRANSCRIPT_COLUMNS = [
    "item_id",
    "role",
    "kind",
    "input",
    "source",
    "text",
    "name",
    "start_ms",
    "end_ms",
    "audio_ms",
    "interrupted",
    "status",
    "response_id",
    "previous_item_id",
]
TEXT_DELTAS = ("response.text.delta", "response.audio_transcript.delta")
AUDIO_DELTA = "response.audio.delta"
PRICE_KEYS = (
    "input_text",
    "cached_text",
    "input_audio",
    "cached_audio",
    "output_text",
    "output_audio",
)
# events about an item that do not mean "the item is being spoken / written now"
_LATE_ITEM_EVENTS = (
    "conversation.item.input_audio_transcription.completed",
    "conversation.item.input_audio_transcription.delta",
    "conversation.item.input_audio_transcription.failed",
    "conversation.item.truncated",
    "conversation.item.deleted",
    "conversation.item.retrieved",
    "conversation.item.create",
    "conversation.item.truncate",
    "conversation.item.delete",
    "conversation.item.retrieve",
)


def _pd() -> Any:
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        raise ImportError(
            "realtime_widget.frames needs pandas: pip install pandas pyarrow"
        ) from None
    return pd


# ---------------------------------------------------------------------- DataFrame types


def _frame_classes() -> tuple[type, type]:
    pd = _pd()

    class _RealtimeFrame(pd.DataFrame):
        _metadata = ["_rtw"]

        @property
        def _constructor(self) -> Any:
            return type(self)

        @property
        def source(self) -> SessionFrames | None:
            """The :class:`SessionFrames` (the session's tables) these rows came from."""
            return getattr(self, "_rtw", None)

    class EventsFrame(_RealtimeFrame):
        """One row per logged event (see :meth:`SessionFrames.events`). The payloads are
        one call away: :meth:`payload` / :meth:`payloads` / :meth:`records`."""

        def records(self) -> list[dict[str, Any]]:
            """The full LogRecords of these rows (see :mod:`realtime_widget.server.eventlog`)."""
            src = self.source
            if src is None:
                raise ValueError("this frame is not attached to a session any more")
            return src.records(self["seq"].tolist())

        def payloads(self, *, audio: str = "omit") -> list[dict[str, Any]]:
            """The events of these rows as they were on the wire (``audio``: ``omit``
            leaves the audio out, ``ref`` keeps the log's references, ``inline`` puts
            the base64 back)."""
            src = self.source
            if src is None:
                raise ValueError("this frame is not attached to a session any more")
            return [src._payload(r, audio) for r in src.records(self["seq"].tolist())]

        def payload(self, seq: int | None = None, *, audio: str = "omit") -> dict[str, Any]:
            """The event with sequence number ``seq`` (default: this frame's only or
            last row) as it was on the wire."""
            src = self.source
            if src is None:
                raise ValueError("this frame is not attached to a session any more")
            if seq is None:
                if not len(self):
                    raise ValueError("the frame is empty")
                seq = int(self["seq"].iloc[-1])
            return src._payload(src.records([int(seq)])[0], audio)

        @property
        def raw(self) -> list[dict[str, Any]]:
            """The payloads of these rows (``payloads()``)."""
            return self.payloads()

        def _repr_html_(self) -> str | None:
            base = super()._repr_html_()
            if base is None:
                return None
            src = self.source
            head = ""
            if src is not None and "type" in self.columns:
                n_types = int(self["type"].nunique()) if len(self) else 0
                head = (
                    f'<div class="rtw-muted" style="font-size:12px">events of session <b>{esc(src.name)}</b>: '
                    f"{len(self)} rows, {n_types} event types. The payload of a row: "
                    f"<code>.payload(seq)</code></div>"
                )
            return head + base

    class TranscriptFrame(_RealtimeFrame):
        """The conversation's turns (see :meth:`SessionFrames.transcript`)."""

        def chat_html(self) -> str:
            parts = [STYLE]
            for row in self.itertuples(index=False):
                role = getattr(row, "role", None)
                kind = getattr(row, "kind", "message")
                text = getattr(row, "text", "") or ""
                start = getattr(row, "start_ms", None)
                when = (
                    ""
                    if start is None or pd.isna(start)
                    else (f"{start:.0f} ms" if start < 10_000 else f"{start / 1000:.1f} s")
                )
                via = getattr(row, "input", None)
                source = getattr(row, "source", None)
                meta = " · ".join(
                    x
                    for x in (
                        when,
                        via if isinstance(via, str) else "",
                        source if isinstance(source, str) else "",
                    )
                    if x
                )
                flag = (
                    ' <span class="rtw-int">[interrupted]</span>'
                    if getattr(row, "interrupted", False)
                    else ""
                )
                if kind == "function_call":
                    cls, label = "rtw-tool", f"call {esc(getattr(row, 'name', ''))}"
                elif kind == "function_call_output":
                    cls, label = "rtw-tool", "result"
                elif role == "assistant":
                    cls, label = "rtw-assistant", "assistant"
                else:
                    cls, label = "rtw-user", esc(role or "user")
                parts.append(
                    f'<div class="rtw-turn {cls}"><span class="rtw-muted">{label} {esc(meta)}</span>{flag}<br>{esc(text)}</div>'
                )
            if len(self) == 0:
                parts.append('<div class="rtw-muted">(no turns yet)</div>')
            parts.append(
                f'<div class="rtw-muted" style="font-size:11px">a DataFrame: {len(self)} rows, columns {esc(", ".join(map(str, self.columns)))}</div>'
            )
            return "".join(parts)

        def _repr_html_(self) -> str | None:
            if not set(TRANSCRIPT_COLUMNS) <= set(self.columns):  # a selection of columns: a table
                return super()._repr_html_()
            return self.chat_html()

    return EventsFrame, TranscriptFrame


_classes: tuple[type, type] | None = None


def _cls() -> tuple[type, type]:
    global _classes
    if _classes is None:
        _classes = _frame_classes()
    return _classes


def __getattr__(name: str) -> Any:  # EventsFrame / TranscriptFrame, built when pandas is imported
    if name == "EventsFrame":
        return _cls()[0]
    if name == "TranscriptFrame":
        return _cls()[1]
    raise AttributeError(name)


# ---------------------------------------------------------------------- log locations


def log_dirs() -> list[Path]:
    """Where stored session logs are looked for, in order: ``REALTIME_WIDGET_LOG_DIR``,
    then the Jupyter data directory's ``realtime_widget/sessions`` (the default of both
    the server extension and direct mode)."""
    out: list[Path] = []
    env = os.environ.get("REALTIME_WIDGET_LOG_DIR")
    if env:
        out.append(Path(env).expanduser())
    try:
        from jupyter_core.paths import jupyter_data_dir

        out.append(Path(jupyter_data_dir()) / "realtime_widget" / "sessions")
    except ImportError:  # pragma: no cover
        out.append(Path.home() / ".local" / "share" / "realtime_widget" / "sessions")
    seen, unique = set(), []
    for p in out:
        if str(p) not in seen:
            seen.add(str(p))
            unique.append(p)
    return unique


def _find_log(session_id: str, extra: Iterable[Path] = ()) -> Path | None:
    for root in [*extra, *log_dirs()]:
        path = Path(root) / session_id
        if (path / "events.jsonl").exists() or (path / "meta.json").exists():
            return path
    return None


def stored_sessions(log_dir: str | os.PathLike[str] | None = None) -> Any:
    """A DataFrame of the session logs under ``log_dir`` (default: :func:`log_dirs`)."""
    from ..server.eventlog import scan_sessions  # the log's own reader of its directories

    pd = _pd()

    def when(value: Any) -> Any:
        return pd.to_datetime(value, unit="s", utc=True) if value else pd.NaT

    rows = []
    for root in [Path(log_dir)] if log_dir is not None else log_dirs():
        for info in scan_sessions(root):
            events = info.path / "events.jsonl"
            rows.append(
                {
                    "id": info.id,
                    "name": info.meta.get("name"),
                    "provider": info.meta.get("provider"),
                    "model": info.meta.get("model"),
                    "created": when(info.meta.get("created_at")),
                    "closed": when(info.meta.get("closed_at")),
                    "log_bytes": events.stat().st_size if events.exists() else 0,
                    "path": str(info.path),
                }
            )
    df = pd.DataFrame(
        rows, columns=["id", "name", "provider", "model", "created", "closed", "log_bytes", "path"]
    )
    return df.sort_values("created").reset_index(drop=True) if len(df) else df


# ---------------------------------------------------------------------- time


def elapsed_ms(t: np.ndarray, mono: np.ndarray) -> np.ndarray:
    """Milliseconds since the first event. Steps between consecutive events come from
    the monotonic clock; where it jumps (a server restart between two events of a
    resumed session) or is missing, from the wall clock."""
    n = len(t)
    if n == 0:
        return np.zeros(0)
    dt = np.diff(t)
    dm = np.diff(mono)
    ok = np.isfinite(dm) & (dm >= 0) & (np.abs(dm - np.nan_to_num(dt, nan=np.inf)) < 1.0)
    step = np.where(ok, dm, np.clip(np.nan_to_num(dt), 0, None))
    out = np.empty(n)
    out[0] = 0.0
    np.cumsum(step, out=out[1:])
    return np.round(out * 1000.0, 3)


# ---------------------------------------------------------------------- the frames


class SessionFrames:
    """DataFrames of one session. Make it with :func:`frames` (a live ``Session``) or
    :func:`open_session` (a stored log)."""

    _by_session: weakref.WeakKeyDictionary[Any, SessionFrames] = weakref.WeakKeyDictionary()
    _lock = threading.Lock()

    def __init__(self, session: Any = None, *, path: str | os.PathLike[str] | None = None):
        if session is None and path is None:
            raise ValueError("SessionFrames needs a live Session or the path of a stored session")
        self._session = session
        self._path = Path(path) if path is not None else None
        self._table: LogTable | None = None
        self._df: Any = None
        self._df_rows = -1
        self._seqs = np.zeros(0, dtype=np.int64)
        self._conv: Any = None
        self._conv_rows = -1
        self._export = False
        if session is not None and self._path is None:
            self._path = _live_log_path(session)
            self._export = self._path is None
        if (
            self._path is not None
            and not (self._path / "events.jsonl").exists()
            and session is None
        ):
            raise FileNotFoundError(f"no event log at {self._path / 'events.jsonl'}")

    @classmethod
    def of(cls, session: Any) -> SessionFrames:
        """The (cached) frames of a live ``Session``."""
        with cls._lock:
            frames = cls._by_session.get(session)
            if frames is None:
                frames = cls._by_session[session] = cls(session)
            return frames

    # ------------------------------------------------------------------ identity

    @property
    def live(self) -> bool:
        return self._session is not None and not getattr(self._session, "closed", False)

    @property
    def session(self) -> Any:
        """The live ``Session`` (None for a stored session)."""
        return self._session

    @property
    def path(self) -> Path | None:
        """The session's log directory (None when read through the hub's export)."""
        return self._path

    def meta(self) -> dict[str, Any]:
        meta: dict[str, Any] = {}
        if self._path is not None:
            try:
                meta = json.loads((self._path / "meta.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                meta = {}
        if self._session is not None:
            summary = getattr(getattr(self._session, "transport", None), "summary", None) or {}
            snapshot = (
                "n_events",
                "n_clients",
                "reconnects",
                "ws_path",
                "state",
            )  # stale copies of a live summary
            meta = {
                **meta,
                **{k: v for k, v in summary.items() if v is not None and k not in snapshot},
            }
            meta["mode"] = getattr(self._session, "mode", None)
            meta["status"] = (
                "closed"
                if getattr(self._session, "closed", False)
                else summary.get("status", "open")
            )
        else:
            meta.setdefault("status", "closed" if meta.get("closed_at") else "stored")
        return meta

    @property
    def id(self) -> str:
        if self._session is not None:
            return str(self._session.id)
        return str(self.meta().get("id") or (self._path.name if self._path else "?"))

    @property
    def name(self) -> str:
        return str(self.meta().get("name") or self.id)

    def __repr__(self) -> str:
        kind = "live" if self.live else "stored"
        return f"<SessionFrames {self.id} ({kind}{', ' + str(self._path) if self._path else ''})>"

    # ------------------------------------------------------------------ reading

    def _flush_live(self) -> None:
        """Make the hub write out what it buffered (a public, cheap call: the hub flushes
        its log before it answers ``events``)."""
        session = self._session
        if session is None or getattr(session, "closed", False):
            return
        try:
            session.log(after=2**62, limit=1)
        except Exception:  # closed meanwhile, or called from a Session callback
            pass

    def refresh(self) -> SessionFrames:
        """Read what the log gained since the last read."""
        if self._session is not None:
            self._flush_live()
        if self._export:
            data = _hub_export(self._session)
            self._table = LogTable.from_bytes(data)
            self._table.refresh()
        else:
            first = self._table is None
            if first:
                self._table = LogTable.from_file(self._path / "events.jsonl")  # type: ignore[operator]
                if self._session is None:
                    _cache_load(self._table, self._path)  # type: ignore[arg-type]
            added = self._table.refresh()
            if first and self._session is None and (added or not self._table.loaded_from_cache):
                _cache_save(self._table, self._path, self.meta())  # type: ignore[arg-type]
        return self

    def _ensure(self) -> LogTable:
        self.refresh()  # cheap when nothing was appended (one stat)
        assert self._table is not None
        return self._table

    def records(self, seqs: Iterable[int]) -> list[dict[str, Any]]:
        """Full LogRecords by sequence number."""
        table = self._ensure()
        self._base()
        seqs = [int(s) for s in seqs]
        rows = np.searchsorted(self._seqs, seqs)
        bad = [s for s, r in zip(seqs, rows) if r >= len(self._seqs) or self._seqs[r] != s]
        if bad:
            raise KeyError(f"no event with seq {bad[0]} in session {self.id}")
        return table.records(int(r) for r in rows)

    def _payload(self, record: dict[str, Any], audio: str) -> dict[str, Any]:
        event = dict(record.get("event") or {})
        refs = record.get("audio") or []
        if audio == "ref":
            if refs:
                event["x_audio_refs"] = refs
            return event
        if audio == "inline":
            for ref in refs:
                raw = self._read_audio_ref(ref)
                if raw is None:
                    continue
                target: Any = event
                path = list(ref.get("path") or [])
                try:
                    for key in path[:-1]:
                        target[key] = (
                            dict(target[key])
                            if isinstance(target[key], dict)
                            else list(target[key])
                        )
                        target = target[key]
                    target[path[-1]] = base64.b64encode(raw).decode("ascii")
                except (KeyError, IndexError, TypeError):
                    continue
            return event
        if audio != "omit":
            raise ValueError("audio: one of 'omit', 'ref', 'inline'")
        return event

    def _read_audio_ref(self, ref: dict[str, Any]) -> bytes | None:
        if self._path is None or "offset" not in ref:
            return None
        name = str(ref.get("file") or "")
        if not name or "/" in name or name.startswith("."):
            return None
        try:
            with open(self._path / "audio" / name, "rb") as f:
                f.seek(int(ref["offset"]))
                return f.read(int(ref["nbytes"]))
        except (OSError, ValueError, KeyError):
            return None

    def _base(self) -> Any:
        """The events DataFrame of every row read so far (cached by row count)."""
        table = self._table
        assert table is not None
        if self._df is not None and self._df_rows == table.num_rows:
            return self._df
        df = _events_dataframe(table.table)
        self._seqs = df["seq"].to_numpy()
        df._rtw = self
        self._df, self._df_rows = df, table.num_rows
        return df

    # ------------------------------------------------------------------ events

    def events(
        self,
        types: str | Iterable[str] | None = None,
        *,
        last: int | None = None,
        direction: str | None = None,
        include_quiet: bool = True,
    ) -> Any:
        """One row per logged event, both directions, in sequence order.

        Columns: ``seq`` (the log's sequence number), ``t_ms`` (ms since the session's
        first event, monotonic clock), ``wall_time`` (UTC), ``direction`` (``client``:
        sent to the model, ``server``: from it), ``source`` (``widget``, ``kernel``,
        ``other``, ``upstream`` or ``hub``), ``type``, ``event_id``, ``item_id``,
        ``response_id``, ``output_index``, ``content_index``, ``delta_chars`` (characters
        of a text / transcript / arguments delta), ``audio_ms`` (audio carried by the
        event), ``error_type`` / ``error_code`` / ``error_message``, ``audio_start_ms`` /
        ``audio_end_ms`` (speech marks and truncation points, on the input or item audio
        clock), ``client`` (which attached client sent it), ``quiet`` (hub-internal
        traffic, e.g. restoring a reconnected upstream).

        ``types``: glob(s) such as ``"response.*"`` or ``["error", "*.done"]``;
        ``last``: only the last N rows; ``direction``: ``client`` or ``server``. The
        payload of a row is one call away: ``df.payload(seq)``.
        """
        self._ensure()
        df = self._base()
        mask = None
        if types is not None:
            patterns = [types] if isinstance(types, str) else list(types)
            patterns = [p.strip() for pat in patterns for p in str(pat).split(",") if p.strip()]
            names = [str(c) for c in df["type"].cat.categories]
            wanted = [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in patterns)]
            mask = df["type"].isin(wanted).to_numpy()
        if direction is not None:
            if direction not in ("client", "server"):
                raise ValueError("direction: 'client' or 'server'")
            m = (df["direction"] == direction).to_numpy()
            mask = m if mask is None else mask & m
        if not include_quiet:
            m = ~df["quiet"].to_numpy()
            mask = m if mask is None else mask & m
        out = df[mask] if mask is not None else df
        if last is not None:
            if last < 0:
                raise ValueError("last: a number of rows >= 0")
            out = out.iloc[len(out) - min(last, len(out)) :]
        if out is df:
            out = df.copy(deep=False)
        out._rtw = self
        return out

    # ------------------------------------------------------------------ conversation

    @property
    def conversation(self) -> Any:
        """The conversation state (``realtime_widget.conversation.Conversation``): the
        live session's own, or one rebuilt from the stored log (cached)."""
        if self._session is not None:
            return self._session.conversation
        table = self._ensure()
        if self._conv is None or self._conv_rows != table.num_rows:
            self._conv = rebuild_conversation(read_log(self._path, on_error="skip"))  # type: ignore[arg-type]
            self._conv_rows = table.num_rows
        return self._conv

    def _audio_conversation(self) -> Any:
        """A conversation that has the audio of every item (input audio included)."""
        session = self._session
        if session is not None:
            hub_session = getattr(getattr(session, "transport", None), "session", None)
            conv = getattr(hub_session, "conversation", None)
            if conv is not None:  # direct mode: the hub's own conversation has everything
                return conv
            return session.conversation
        return self.conversation

    # ------------------------------------------------------------------ transcript

    def transcript(self) -> Any:
        """The conversation's turns in order, one row per item: ``item_id``, ``role``,
        ``kind`` (``message``, ``function_call``, ``function_call_output``), ``input``
        (``text`` or ``audio`` for user messages), ``source`` (which client made a user
        item: ``widget``, ``kernel``, ...), ``text`` (text, transcript, call arguments or
        output), ``name`` (of a called function), ``start_ms`` / ``end_ms`` (on the
        events' clock), ``audio_ms``, ``interrupted`` (the reply was cut: truncated,
        cancelled or incomplete), ``status``, ``response_id``, ``previous_item_id``."""
        pd = _pd()
        self._ensure()
        df = self._base()
        conv = self.conversation
        items = conv.items
        responses = getattr(conv, "responses", {}) or {}
        ids = [it.id for it in items]
        starts, ends = _item_times(df, ids)
        sources = _item_sources(df, ids)
        rows = []
        for it in items:
            inp = None
            if it.type == "message" and it.role == "user":
                kinds = {p.type for p in it.content}
                inp = "audio" if "input_audio" in kinds else ("text" if kinds else None)
            resp = responses.get(it.response_id) if it.response_id else None
            interrupted = (
                bool(it.truncated)
                or it.status == "incomplete"
                or (
                    resp is not None
                    and getattr(resp, "status", None) in ("cancelled", "incomplete", "failed")
                )
            )
            rows.append(
                {
                    "item_id": it.id,
                    "role": it.role
                    if it.type == "message"
                    else ("assistant" if it.type == "function_call" else "tool"),
                    "kind": it.type,
                    "input": inp,
                    "source": sources.get(it.id),
                    "text": it.text,
                    "name": it.name,
                    "start_ms": starts.get(it.id, np.nan),
                    "end_ms": ends.get(it.id, np.nan),
                    "audio_ms": round(float(it.audio_ms), 1) if it.type == "message" else np.nan,
                    "interrupted": interrupted,
                    "status": it.status,
                    "response_id": it.response_id,
                    "previous_item_id": it.previous_item_id,
                }
            )
        out = _cls()[1](pd.DataFrame(rows, columns=TRANSCRIPT_COLUMNS))
        if len(out):
            out["interrupted"] = out["interrupted"].astype(bool)
        out._rtw = self
        return out

    # ------------------------------------------------------------------ latency

    def _response_records(self) -> dict[str, dict[str, Any]]:
        """``response.done`` payloads by response id (read from the log; cached)."""
        df = self._base()
        cached = getattr(self, "_done_cache", None)
        if cached is not None and cached[0] == len(df):
            return cached[1]
        done = df[_cat_mask(df, "type", ("response.done",))]
        out: dict[str, dict[str, Any]] = {}
        for rec in self.records(done["seq"].tolist()):
            resp = (rec.get("event") or {}).get("response") or {}
            if isinstance(resp, dict) and resp.get("id") is not None:
                out[str(resp["id"])] = resp
        self._done_cache = (len(df), out)
        return out

    def latency(self) -> Any:
        """One row per response: what started it and how long each step took.

        ``trigger``: ``speech`` (the server's VAD ended a user turn:
        ``input_audio_buffer.speech_stopped``) or ``client`` (a ``response.create``);
        ``trigger_ms``, ``created_ms`` (``response.created``), ``first_text_ms`` and
        ``first_audio_ms`` (first text / transcript and audio delta), ``done_ms``
        (``response.done``), all on the events' clock; the steps ``to_created_ms``,
        ``to_first_text_ms``, ``to_first_audio_ms`` (time to first audio: what a user
        waits) and ``to_done_ms`` from the trigger; ``audio_ms`` (audio received);
        ``status`` and ``reason`` (why a response was cut: ``turn_detected`` for a
        barge-in, ``client_cancelled`` for ``response.cancel``, ...), ``interrupted``.

        Server VAD only fires ``speech_stopped`` after ``silence_duration_ms`` of
        silence: the user waits that long on top of ``to_first_audio_ms``.
        ``speech_end_ms`` is when the user's last speech sample was streamed (from the
        turn's ``audio_end_ms`` and the client's appends, see ``_speech_end_times``) and
        ``voice_to_voice_ms`` what the user waited: first audio minus ``speech_end_ms``
        (NaN when the log cannot tell, e.g. for client-triggered responses).
        """
        pd = _pd()
        self._ensure()
        df = self._base()
        server = _cat_mask(df, "direction", ("server",))
        client = _cat_mask(df, "direction", ("client",))
        sel = np.flatnonzero(
            (_cat_mask(df, "type", ("input_audio_buffer.speech_stopped",)) & server)
            | (_cat_mask(df, "type", ("response.create",)) & client)
            | (_cat_mask(df, "type", ("response.created",)) & server)
        )
        t_all = df["t_ms"].to_numpy()
        types = df["type"].iloc[sel].astype(object).to_numpy()
        t_ms = t_all[sel]
        rid = df["response_id"].iloc[sel].astype(object).to_numpy()
        rows: list[dict[str, Any]] = []
        trigger: tuple[str, float, float] | None = None
        speech_end = self._speech_end_times(df, sel, types)
        for i in range(len(sel)):
            kind = types[i]
            if kind == "input_audio_buffer.speech_stopped":
                trigger = ("speech", t_ms[i], speech_end.get(i, np.nan))
            elif kind == "response.create":
                trigger = ("client", t_ms[i], np.nan)
            else:
                how, when, ended = trigger if trigger is not None else ("server", np.nan, np.nan)
                rows.append(
                    {
                        "response_id": rid[i],
                        "trigger": how,
                        "trigger_ms": when,
                        "created_ms": t_ms[i],
                        "speech_end_ms": ended,
                    }
                )
                trigger = None
        lat = pd.DataFrame(
            rows, columns=["response_id", "trigger", "trigger_ms", "created_ms", "speech_end_ms"]
        )
        if len(lat):

            def first(mask: np.ndarray, name: str) -> Any:
                idx = np.flatnonzero(mask)
                sub = pd.DataFrame(
                    {
                        "response_id": df["response_id"].iloc[idx].astype(object).to_numpy(),
                        name: t_all[idx],
                    }
                )
                return sub.groupby("response_id")[name].min()

            lat = lat.set_index("response_id")
            is_text = _cat_mask(df, "type", TEXT_DELTAS) & server
            is_audio = _cat_mask(df, "type", (AUDIO_DELTA,)) & server
            lat["first_text_ms"] = first(is_text, "first_text_ms")
            lat["first_audio_ms"] = first(is_audio, "first_audio_ms")
            lat["done_ms"] = first(_cat_mask(df, "type", ("response.done",)) & server, "done_ms")
            idx = np.flatnonzero(is_audio)
            audio_sum = pd.DataFrame(
                {
                    "response_id": df["response_id"].iloc[idx].astype(object).to_numpy(),
                    "a": df["audio_ms"].to_numpy()[idx],
                }
            )
            lat["audio_ms"] = audio_sum.groupby("response_id")["a"].sum().round(1)
            lat["audio_ms"] = lat["audio_ms"].fillna(0.0)
            for step, col in (
                ("to_created_ms", "created_ms"),
                ("to_first_text_ms", "first_text_ms"),
                ("to_first_audio_ms", "first_audio_ms"),
                ("to_done_ms", "done_ms"),
            ):
                lat[step] = (lat[col] - lat["trigger_ms"]).round(3)
            lat["voice_to_voice_ms"] = (lat["first_audio_ms"] - lat["speech_end_ms"]).round(3)
            done = self._response_records()
            lat["status"] = [(done.get(r) or {}).get("status") for r in lat.index]
            reasons = []
            for r in lat.index:
                details = (done.get(r) or {}).get("status_details") or {}
                reason = details.get("reason") if isinstance(details, dict) else None
                if (
                    reason is None
                    and isinstance(details, dict)
                    and isinstance(details.get("error"), dict)
                ):
                    reason = details["error"].get("code") or details["error"].get("type")
                reasons.append(reason)
            lat["reason"] = reasons
            lat["interrupted"] = lat["status"].isin(["cancelled", "incomplete"]) & lat[
                "reason"
            ].isin(["turn_detected", "client_cancelled"])
            lat = lat.reset_index()
        else:
            for col in (
                "first_text_ms",
                "first_audio_ms",
                "done_ms",
                "audio_ms",
                "to_created_ms",
                "to_first_text_ms",
                "to_first_audio_ms",
                "to_done_ms",
                "voice_to_voice_ms",
                "status",
                "reason",
                "interrupted",
            ):
                lat[col] = pd.Series(dtype=object if col in ("status", "reason") else float)
        cols = [
            "response_id",
            "trigger",
            "trigger_ms",
            "created_ms",
            "first_text_ms",
            "first_audio_ms",
            "done_ms",
            "to_created_ms",
            "to_first_text_ms",
            "to_first_audio_ms",
            "to_done_ms",
            "speech_end_ms",
            "voice_to_voice_ms",
            "audio_ms",
            "status",
            "reason",
            "interrupted",
        ]
        return lat[cols]

    def _speech_end_times(self, df: Any, sel: np.ndarray, types: np.ndarray) -> dict[int, float]:
        """For each ``speech_stopped`` among ``sel`` (by position), the time on the events'
        clock at which the user's last speech sample was streamed.

        Where speech ended on the input timeline: ``audio_end_ms`` minus the server-VAD
        silence wait in force (``silence_duration_ms`` of the latest ``session.created`` /
        ``session.updated``; ``semantic_vad`` reports the end itself). That position is
        mapped to a time through the client's appends: the append that carried it was sent
        at ``t_ms``, and the sample was captured ``(audio up to the end of that append) -
        position`` earlier. Only the local engine's and the service's preview/GA
        ``audio_end_ms`` count appended audio from the session's start, so the mapping is
        exact when every append of the session is in the log."""
        out: dict[int, float] = {}
        stops = [i for i in range(len(sel)) if types[i] == "input_audio_buffer.speech_stopped"]
        if not stops:
            return out
        client = _cat_mask(df, "direction", ("client",))
        appends = np.flatnonzero(client & _cat_mask(df, "type", ("input_audio_buffer.append",)))
        if not len(appends):
            return out
        t_all = df["t_ms"].to_numpy()
        cum = np.cumsum(np.nan_to_num(df["audio_ms"].to_numpy()[appends]))
        t_app = t_all[appends]
        sessions = np.flatnonzero(
            _cat_mask(df, "type", ("session.created", "session.updated"))
            & _cat_mask(df, "direction", ("server",))
        )
        recs = self.records(df["seq"].iloc[sessions].tolist()) if len(sessions) else []
        waits = []
        for rec in recs:
            sess = (rec.get("event") or {}).get("session") or {}
            td = (
                sess.get("turn_detection")
                if "turn_detection" in sess
                else ((sess.get("audio") or {}).get("input") or {}).get("turn_detection")
            )
            td = td if isinstance(td, dict) else {}
            waits.append(
                0.0
                if td.get("type") == "semantic_vad"
                else float(td.get("silence_duration_ms", 500))
            )
        end_ms = df["audio_end_ms"].to_numpy()
        for i in stops:
            row = sel[i]
            k = int(np.searchsorted(sessions, row)) - 1
            wait = waits[k] if k >= 0 else 500.0
            pos = float(end_ms[row]) - wait
            j = int(np.searchsorted(cum, pos))
            if np.isfinite(pos) and j < len(cum):
                out[i] = float(t_app[j] - (cum[j] - pos))
        return out

    # ------------------------------------------------------------------ usage

    def usage(self, prices: Mapping[str, float] | None = None, *, total: bool = False) -> Any:
        """Tokens per response (``response.done`` usage), by kind.

        ``input_tokens`` counts everything the model read for that response, the
        conversation so far re-read every turn; ``cached_tokens`` is the *part* of it
        that was served from the cache (a subset, not extra), ``uncached_input_tokens``
        the rest. Kinds: ``input_text_tokens``, ``input_audio_tokens``,
        ``cached_text_tokens``, ``cached_audio_tokens``, ``output_text_tokens``,
        ``output_audio_tokens``. When the service gives no text/audio split of the
        cached tokens, they are split in proportion to the input's.

        ``prices``: USD per 1,000,000 tokens by kind, keys from :data:`PRICE_KEYS`
        (``cached_*`` default to the matching ``input_*`` price: no discount); adds
        ``cost_*`` columns and ``cost``. ``total=True``: one row with the sums.
        """
        pd = _pd()
        self._ensure()
        df = self._base()
        order = df[_cat_mask(df, "type", ("response.done",))]["response_id"].astype(object).tolist()
        done = self._response_records()
        rows = []
        for r in order:
            resp = done.get(str(r)) or {}
            u = resp.get("usage") or {}
            ind = u.get("input_token_details") or {}
            outd = u.get("output_token_details") or {}
            cdet = ind.get("cached_tokens_details") or {}
            inp = _num(u.get("input_tokens"))
            cached = _num(ind.get("cached_tokens"))
            in_text, in_audio = _num(ind.get("text_tokens")), _num(ind.get("audio_tokens"))
            if cdet:
                c_text, c_audio = _num(cdet.get("text_tokens")), _num(cdet.get("audio_tokens"))
            else:
                both = (in_text or 0) + (in_audio or 0)
                c_text = (cached or 0) * (in_text or 0) / both if both else 0.0
                c_audio = (cached or 0) - c_text
            rows.append(
                {
                    "response_id": r,
                    "status": resp.get("status"),
                    "input_tokens": inp,
                    "cached_tokens": cached,
                    "uncached_input_tokens": (inp or 0) - (cached or 0),
                    "input_text_tokens": in_text,
                    "input_audio_tokens": in_audio,
                    "cached_text_tokens": c_text,
                    "cached_audio_tokens": c_audio,
                    "output_tokens": _num(u.get("output_tokens")),
                    "output_text_tokens": _num(outd.get("text_tokens")),
                    "output_audio_tokens": _num(outd.get("audio_tokens")),
                    "total_tokens": _num(u.get("total_tokens")),
                }
            )
        cols = [
            "response_id",
            "status",
            "input_tokens",
            "cached_tokens",
            "uncached_input_tokens",
            "input_text_tokens",
            "input_audio_tokens",
            "cached_text_tokens",
            "cached_audio_tokens",
            "output_tokens",
            "output_text_tokens",
            "output_audio_tokens",
            "total_tokens",
        ]
        out = pd.DataFrame(rows, columns=cols)
        for c in cols[2:]:
            out[c] = pd.to_numeric(out[c]).astype(float)
        if prices is not None:
            price = _price_table(prices)
            per = 1_000_000.0
            out["cost_input_text"] = (
                (out["input_text_tokens"].fillna(0) - out["cached_text_tokens"].fillna(0))
                * price["input_text"]
                / per
            )
            out["cost_cached_text"] = (
                out["cached_text_tokens"].fillna(0) * price["cached_text"] / per
            )
            out["cost_input_audio"] = (
                (out["input_audio_tokens"].fillna(0) - out["cached_audio_tokens"].fillna(0))
                * price["input_audio"]
                / per
            )
            out["cost_cached_audio"] = (
                out["cached_audio_tokens"].fillna(0) * price["cached_audio"] / per
            )
            out["cost_output_text"] = (
                out["output_text_tokens"].fillna(0) * price["output_text"] / per
            )
            out["cost_output_audio"] = (
                out["output_audio_tokens"].fillna(0) * price["output_audio"] / per
            )
            out["cost"] = out[[c for c in out.columns if c.startswith("cost_")]].sum(axis=1)
        if total:
            sums = (
                out.drop(columns=["response_id", "status"])
                .sum(numeric_only=True)
                .to_frame("total")
                .T
            )
            sums.insert(0, "responses", len(out))
            return sums
        return out

    # ------------------------------------------------------------------ audio

    def audio(self, item_id: str) -> AudioArray:
        """The audio of one item as int16 samples (an :class:`AudioArray`: a numpy array
        that shows a player in a notebook; ``.player()`` gives an ``IPython.display.Audio``).
        ``item_id="input"``: everything the clients streamed into the input buffer."""
        if item_id == "input":
            return self._input_stream()
        if (
            self._session is not None
            and getattr(self._session, "mode", None) == "hub"
            and self._path is None
        ):
            got = _hub_item_audio(self._session, item_id)
            if got is not None:
                return AudioArray(got[0], got[1], label=item_id)
        conv = self._audio_conversation()
        item = conv.item(item_id)
        if item is None:
            known = [i.id for i in conv.items]
            raise KeyError(
                f"no item {item_id!r} in session {self.id} (items: {', '.join(known[:12])}{' ...' if len(known) > 12 else ''})"
            )
        pcm = item.audio
        if not pcm:
            raise ValueError(f"item {item_id!r} ({item.type}, {item.role or ''}) has no audio")
        rate = item.sample_rate or 24000
        return AudioArray(
            np.frombuffer(pcm, dtype="<i2"), rate, label=f"{item.role or item.type} {item_id}"
        )

    def _input_stream(self) -> AudioArray:
        from .. import audio as _audio

        if self._path is None or not (self._path / "audio" / "input.pcm").exists():
            raise ValueError(
                "the input audio stream is not stored (or not readable from this kernel)"
            )
        raw = (self._path / "audio" / "input.pcm").read_bytes()
        fmt = self.conversation.input_audio_format
        pcm = _audio.to_pcm16(raw, fmt)
        return AudioArray(
            np.frombuffer(pcm, dtype="<i2"), _audio.sample_rate(fmt), label="input stream"
        )

    # ------------------------------------------------------------------ plot / display

    def timeline(self, ax: Any = None, **kwargs: Any) -> Any:
        """A timeline of the session (who spoke when, responses, interruptions, tool
        calls, errors) on a matplotlib Axes (``pip install realtime-widget[plot]``)."""
        from .plot import timeline

        return timeline(self, ax=ax, **kwargs)

    def summary(self) -> dict[str, Any]:
        """Counts for the session card."""
        self._ensure()
        df = self._base()
        meta = self.meta()
        n_resp = int(_cat_mask(df, "type", ("response.done",)).sum())
        errors = int(_cat_mask(df, "type", ("error",)).sum())
        return {
            "id": self.id,
            "name": meta.get("name") or self.id,
            "provider": meta.get("provider"),
            "model": meta.get("model"),
            "status": meta.get("status"),
            "mode": meta.get("mode"),
            "events": len(df),
            "duration_s": round(float(df["t_ms"].iloc[-1]) / 1000, 2) if len(df) else 0.0,
            "responses": n_resp,
            "errors": errors,
            "path": str(self._path) if self._path else None,
        }

    def _repr_html_(self) -> str:
        try:
            s = self.summary()
            tr = self.transcript().tail(6)
            chat = tr.chat_html() if len(tr) else '<div class="rtw-muted">(no turns yet)</div>'
        except Exception as exc:  # a repr never raises
            return f"<pre>{esc(repr(self))}: {esc(exc)}</pre>"
        rows = "".join(
            f"<tr><td class='rtw-muted'>{esc(k)}</td><td>{esc(v)}</td></tr>"
            for k, v in s.items()
            if v is not None
        )
        return (
            f"{STYLE}<div class='rtw-card'><h4>realtime session {esc(s['name'])}</h4><table>{rows}</table>"
            f"<div class='rtw-muted' style='margin-top:6px'>last turns</div>{chat}</div>"
        )


# ---------------------------------------------------------------------- helpers


def _cat_mask(df: Any, column: str, names: Iterable[str]) -> np.ndarray:
    """Rows whose categorical ``column`` is one of ``names`` (on the codes: fast)."""
    col = df[column]
    cats = list(col.cat.categories)
    wanted = [cats.index(n) for n in names if n in cats]
    codes = col.cat.codes.to_numpy()
    if not wanted:
        return np.zeros(len(codes), dtype=bool)
    if len(wanted) == 1:
        return codes == wanted[0]
    return np.isin(codes, wanted)


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _price_table(prices: Mapping[str, float]) -> dict[str, float]:
    unknown = set(prices) - set(PRICE_KEYS)
    if unknown:
        raise ValueError(
            f"prices: unknown key(s) {', '.join(sorted(unknown))}; use {', '.join(PRICE_KEYS)} (USD per 1M tokens)"
        )
    required = ("input_text", "input_audio", "output_text", "output_audio")
    missing = [k for k in required if k not in prices]
    if missing:
        raise ValueError(f"prices: missing {', '.join(missing)} (USD per 1M tokens)")
    out = {k: float(prices[k]) for k in prices}
    out.setdefault("cached_text", out["input_text"])
    out.setdefault("cached_audio", out["input_audio"])
    for k, v in out.items():
        if not np.isfinite(v) or v < 0:
            raise ValueError(f"prices: {k} must be a price >= 0, got {v!r}")
    return out


def _events_dataframe(table: Any) -> Any:
    """The pandas DataFrame of the flat Arrow table (strings stay Arrow-backed)."""
    pd = _pd()
    import pyarrow as pa

    EventsFrame = _cls()[0]
    n = table.num_rows
    t = table.column("t").to_numpy(zero_copy_only=False).astype(np.float64)
    mono = table.column("mono").to_numpy(zero_copy_only=False).astype(np.float64)
    string = pd.StringDtype("pyarrow")

    def mapper(typ: Any) -> Any:
        if typ == pa.string():
            return string
        if typ == pa.int64():
            return pd.Int64Dtype()
        return None

    cats = ("dir", "source", "type", "client", "error_type", "error_code")
    strs = ("event_id", "item_id", "response_id", "error_message")
    ints = ("output_index", "content_index", "delta_len", "audio_start_ms", "audio_end_ms")
    sub = pa.table(
        {
            **{c: table.column(c).dictionary_encode() for c in cats},
            **{c: table.column(c) for c in strs + ints},
        }
    )
    conv = sub.to_pandas(types_mapper=mapper, split_blocks=True)
    seq = table.column("seq").to_numpy(zero_copy_only=False).astype(np.int64)
    audio_ms = table.column("audio_ms").to_numpy(zero_copy_only=False).astype(np.float64)
    quiet = table.column("quiet").fill_null(False).to_numpy(zero_copy_only=False).astype(bool)
    data = {
        "seq": seq,
        "t_ms": elapsed_ms(t, mono),
        "wall_time": pd.to_datetime(
            np.round(t * 1e6).astype("int64") if n else np.zeros(0, "int64"), unit="us", utc=True
        ),
        "direction": conv["dir"],
        "source": conv["source"],
        "type": conv["type"],
        "event_id": conv["event_id"],
        "item_id": conv["item_id"],
        "response_id": conv["response_id"],
        "output_index": conv["output_index"],
        "content_index": conv["content_index"],
        "delta_chars": conv["delta_len"],
        "audio_ms": audio_ms,
        "error_type": conv["error_type"],
        "error_code": conv["error_code"],
        "error_message": conv["error_message"],
        "audio_start_ms": conv["audio_start_ms"],
        "audio_end_ms": conv["audio_end_ms"],
        "client": conv["client"],
        "quiet": quiet,
    }
    df = EventsFrame(pd.DataFrame(data, copy=False))
    return df


def _item_times(df: Any, ids: list[str]) -> tuple[dict[str, float], dict[str, float]]:
    """First and last server event about each item, excluding late bookkeeping events
    (transcription results, truncation, deletion)."""
    if not len(df) or not ids:
        return {}, {}
    mask = (
        _cat_mask(df, "direction", ("server",))
        & df["item_id"].notna().to_numpy()
        & ~_cat_mask(df, "type", _LATE_ITEM_EVENTS)
    )
    sub = df.loc[mask, ["item_id", "t_ms"]]
    g = sub.groupby(sub["item_id"].astype(object))["t_ms"]
    return g.min().to_dict(), g.max().to_dict()


def _item_sources(df: Any, ids: list[str]) -> dict[str, str]:
    """Which client made each user item: the source of the last client event that can
    create one (``conversation.item.create``, ``input_audio_buffer.commit`` / ``append``)
    before the server's ``conversation.item.created``."""
    if not len(df) or not ids:
        return {}
    seq = df["seq"].to_numpy()
    client = _cat_mask(df, "direction", ("client",))
    server = _cat_mask(df, "direction", ("server",))
    makers = np.flatnonzero(
        client
        & _cat_mask(
            df,
            "type",
            ("conversation.item.create", "input_audio_buffer.commit", "input_audio_buffer.append"),
        )
    )
    created = np.flatnonzero(server & _cat_mask(df, "type", ("conversation.item.created",)))
    added = np.flatnonzero(server & _cat_mask(df, "type", ("response.output_item.added",)))
    source = df["source"].iloc[makers].astype(object).to_numpy()
    item_created = df["item_id"].iloc[created].astype(object).to_numpy()
    out: dict[str, str] = {}
    maker_seq = seq[makers]
    # items the model made (output items) are announced by response.output_item.added first
    model_items = set(df["item_id"].iloc[added].astype(object).to_numpy())
    for j, i in enumerate(created):
        iid = item_created[j]
        if iid in out or iid in model_items:
            continue
        k = np.searchsorted(maker_seq, seq[i]) - 1
        if k >= 0:
            out[iid] = source[k]
    return out


# ---------------------------------------------------------------------- the table cache

CACHE_MIN_ROWS = 100_000
CACHE_MAX_BYTES = 4 * 1024**3


def cache_dir() -> Path | None:
    """Where parsed tables of large closed sessions are kept (``REALTIME_WIDGET_FRAMES_CACHE``;
    ``off`` disables; default ``$XDG_CACHE_HOME/realtime_widget/frames``)."""
    value = os.environ.get("REALTIME_WIDGET_FRAMES_CACHE")
    if value is not None and value.strip().lower() in ("", "0", "off", "no", "false"):
        return None
    if value:
        return Path(value).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "realtime_widget" / "frames"


def _cache_path(log_dir: Path) -> Path | None:
    root = cache_dir()
    events = log_dir / "events.jsonl"
    try:
        st = events.stat()
    except OSError:
        return None
    if root is None:
        return None
    import hashlib

    key = hashlib.sha1(f"{events.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[
        :16
    ]
    return root / f"{log_dir.name}-{key}.arrow"


def _cache_load(table: LogTable, log_dir: Path) -> None:
    path = _cache_path(log_dir)
    if path is not None and path.exists():
        table.load(path)


def _cache_save(table: LogTable, log_dir: Path, meta: dict[str, Any]) -> None:
    """Keep the parsed table of a large *closed* session (its log no longer changes;
    the key has the log's size and mtime, so a resumed session is read afresh)."""
    if table.num_rows < CACHE_MIN_ROWS or not meta.get("closed_at"):
        return
    path = _cache_path(log_dir)
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for old in path.parent.glob(f"{log_dir.name}-*.arrow"):
            if old != path:
                old.unlink(missing_ok=True)
        table.save(path)
        files = sorted(path.parent.glob("*.arrow"), key=lambda p: p.stat().st_mtime)
        total = sum(p.stat().st_size for p in files)
        for old in files:
            if total <= CACHE_MAX_BYTES or old == path:
                break
            total -= old.stat().st_size
            old.unlink(missing_ok=True)
    except OSError:
        pass  # a cache: reading the log again next time is correct, only slower


# ---------------------------------------------------------------------- live sessions


def _live_log_path(session: Any) -> Path | None:
    """The log directory of a live session when this kernel can read it."""
    transport = getattr(session, "transport", None)
    sid = str(getattr(session, "id", ""))
    # direct mode: the hub runs in this process
    hub_session = getattr(transport, "session", None)
    log = getattr(hub_session, "log", None)
    directory = getattr(log, "dir", None)
    if directory is not None and Path(directory).exists():
        return Path(directory)
    hub = getattr(transport, "hub", None)
    config = getattr(hub, "config", None)
    if config is not None and getattr(config, "log_dir", None) is not None:
        path = Path(config.log_dir) / sid
        if path.exists():
            return path
    # hub mode: the server's log dir, when it is one this kernel knows and can read
    path = _find_log(sid) if sid else None
    if path is not None:
        try:
            meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
            if meta.get("id") == sid and os.access(path / "events.jsonl", os.R_OK):
                return path
        except (OSError, ValueError):
            pass
    return None


def _hub_get(session: Any, *parts: str, params: str = "") -> bytes:
    import urllib.error
    import urllib.request

    server = getattr(session, "server", None)
    if server is None:
        raise RuntimeError("the session is not attached to a Jupyter server")
    url = server.api(*parts) + (("?" + params) if params else "")
    request = urllib.request.Request(url, headers=server.headers())
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:500].decode("utf-8", "replace")
        raise RuntimeError(
            f"the hub refused GET {'/'.join(parts)}: HTTP {exc.code} {detail}"
        ) from None


def _hub_export(session: Any) -> bytes:
    return _hub_get(session, "realtime", "sessions", str(session.id), "export", params="audio=ref")


def _hub_item_audio(session: Any, item_id: str) -> tuple[np.ndarray, int] | None:
    import io
    import urllib.parse
    import wave

    try:
        data = _hub_get(
            session,
            "realtime",
            "sessions",
            str(session.id),
            "items",
            urllib.parse.quote(item_id, safe=""),
            "audio",
        )
    except RuntimeError:
        return None
    with wave.open(io.BytesIO(data)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2"), w.getframerate()


# ---------------------------------------------------------------------- entry points


def open_session(
    session: str | os.PathLike[str], *, log_dir: str | os.PathLike[str] | None = None
) -> SessionFrames:
    """A stored session, reopened from its log: a session id (looked for in ``log_dir``,
    else :func:`log_dirs`), a session directory, or its ``events.jsonl``."""
    path = Path(session)
    if path.name == "events.jsonl":
        path = path.parent
    if not (path / "events.jsonl").exists():
        found = _find_log(str(session), [Path(log_dir)] if log_dir is not None else [])
        if found is None:
            where = ", ".join(str(p) for p in ([Path(log_dir)] if log_dir else []) + log_dirs())
            raise FileNotFoundError(f"no stored session {str(session)!r} (looked in: {where})")
        path = found
    if not (path / "events.jsonl").exists():
        raise FileNotFoundError(f"session {path.name} has no event log ({path / 'events.jsonl'})")
    frames = SessionFrames(path=path)
    frames.refresh()
    return frames


def frames(session: Any, *, log_dir: str | os.PathLike[str] | None = None) -> SessionFrames:
    """The DataFrames of ``session``: a live ``Session`` (or anything with a
    ``.session`` that is one, e.g. the widget), a stored session's id or directory."""
    if isinstance(session, SessionFrames):
        return session
    inner = getattr(session, "session", None)
    if inner is not None and hasattr(inner, "conversation") and hasattr(inner, "transport"):
        session = inner
    if hasattr(session, "conversation") and hasattr(session, "transport"):
        return SessionFrames.of(session)
    if isinstance(session, (str, os.PathLike)):
        return open_session(session, log_dir=log_dir)
    raise TypeError(
        f"frames(): expected a Session, a session id or a log directory, got {type(session).__name__}"
    )
