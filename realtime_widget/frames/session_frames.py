"""The tables of one session (:class:`SessionFrames`): events, transcript, latency,
usage, audio and a session card, all computed from the session's event log.

Everything is read from the log (``events.jsonl``, see the hub's ``eventlog`` module):
what the tables show is what went over the wire, in both directions, with the hub's
sequence numbers and clocks. The log is read from:

* a stored session, or a live one in direct mode: the log file, read incrementally
  (only what was appended since the last call is parsed);
* a live session in hub mode: the log file too when the kernel can see it (the same
  machine and user: the server's ``log_dir`` is found from ``REALTIME_WIDGET_LOG_DIR`` or
  the Jupyter data directory), else the hub's export (``GET .../export?audio=ref``).
"""

from __future__ import annotations

import fnmatch
import json
import os
import threading
import weakref
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..logfile import AudioFiles, inline_audio, read_log
from .cache import load_cached, save_cached
from .columns import (
    TRANSCRIPT_COLUMNS,
    cat_mask,
    events_dataframe,
    import_pandas,
    item_sources,
    item_times,
)
from .display import STYLE, AudioArray, esc
from .live import hub_export, hub_item_audio, live_log_path
from .plot import timeline as plot_timeline
from .reader import LogTable
from .responses import latency_table, usage_table
from .tables import frame_classes

__all__ = ["SessionFrames"]


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
            self._path = live_log_path(session)
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
            data = hub_export(self._session)
            self._table = LogTable.from_bytes(data)
            self._table.refresh()
        else:
            first = self._table is None
            if first:
                self._table = LogTable.from_file(self._path / "events.jsonl")  # type: ignore[operator]
                if self._session is None:
                    load_cached(self._table, self._path)  # type: ignore[arg-type]
            added = self._table.refresh()
            if first and self._session is None and (added or not self._table.loaded_from_cache):
                save_cached(self._table, self._path, self.meta())  # type: ignore[arg-type]
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
        bad = [
            s for s, r in zip(seqs, rows, strict=True) if r >= len(self._seqs) or self._seqs[r] != s
        ]
        if bad:
            raise KeyError(f"no event with seq {bad[0]} in session {self.id}")
        return table.records(int(r) for r in rows)

    def payloads(self, seqs: Iterable[int], *, audio: str = "omit") -> list[dict[str, Any]]:
        """The events with these sequence numbers as they were on the wire. ``audio``:
        ``omit`` leaves the audio out, ``ref`` keeps the log's references (under
        ``x_audio_refs``), ``inline`` puts the base64 back."""
        if audio not in ("omit", "ref", "inline"):
            raise ValueError("audio: one of 'omit', 'ref', 'inline'")
        records = self.records(seqs)
        if audio == "inline" and self._path is not None:
            with AudioFiles(self._path) as files:
                return [
                    inline_audio(dict(rec.get("event") or {}), rec.get("audio"), files)
                    for rec in records
                ]
        out = []
        for rec in records:
            event = dict(rec.get("event") or {})
            if audio == "ref" and rec.get("audio"):
                event["x_audio_refs"] = rec["audio"]
            out.append(event)
        return out

    def _base(self) -> Any:
        """The events DataFrame of every row read so far (cached by row count)."""
        table = self._table
        assert table is not None
        if self._df is not None and self._df_rows == table.num_rows:
            return self._df
        df = frame_classes()[0](events_dataframe(table.table))
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
            # imported here: the conversation (and audio) modules are not needed for the
            # events table, and importing realtime_widget.frames stays light
            from ..conversation.rebuild import rebuild_conversation

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
        pd = import_pandas()
        self._ensure()
        df = self._base()
        conv = self.conversation
        items = conv.items
        responses = getattr(conv, "responses", {}) or {}
        ids = [it.id for it in items]
        starts, ends = item_times(df, ids)
        sources = item_sources(df, ids)
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
        out = frame_classes()[1](pd.DataFrame(rows, columns=TRANSCRIPT_COLUMNS))
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
        done = df[cat_mask(df, "type", ("response.done",))]
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
        turn's ``audio_end_ms`` and the client's appends, see ``responses.speech_end_times``)
        ``voice_to_voice_ms`` what the user waited: first audio minus ``speech_end_ms``
        (NaN when the log cannot tell, e.g. for client-triggered responses).
        """
        self._ensure()
        return latency_table(self._base(), self.records, self._response_records)

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
        self._ensure()
        return usage_table(self._base(), self._response_records, prices, total=total)

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
            got = hub_item_audio(self._session, item_id)
            if got is not None:
                return AudioArray(got[0], got[1], label=item_id)
        conv = self._audio_conversation()
        item = conv.item(item_id)
        if item is None:
            known = [i.id for i in conv.items]
            more = " ..." if len(known) > 12 else ""
            raise KeyError(
                f"no item {item_id!r} in session {self.id} (items: {', '.join(known[:12])}{more})"
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
        return plot_timeline(self, ax=ax, **kwargs)

    def recording(self, *, as_heard: bool = True) -> AudioArray:
        """The conversation as one stereo track, user left, assistant right, on the
        session's timeline (see :mod:`realtime_widget.replay.recordings`)."""
        from ..replay.recordings import recording

        return recording(self, as_heard=as_heard)

    def summary(self) -> dict[str, Any]:
        """Counts for the session card."""
        self._ensure()
        df = self._base()
        meta = self.meta()
        n_resp = int(cat_mask(df, "type", ("response.done",)).sum())
        errors = int(cat_mask(df, "type", ("error",)).sum())
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
            f"{STYLE}<div class='rtw-card'><h4>realtime session {esc(s['name'])}</h4>"
            f"<table>{rows}</table>"
            f"<div class='rtw-muted' style='margin-top:6px'>last turns</div>{chat}</div>"
        )
