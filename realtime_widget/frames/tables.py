"""The DataFrame classes of the session tables: :class:`EventsFrame` (one row per
logged event, with the payloads one call away) and :class:`TranscriptFrame` (the turns,
shown as a chat in a notebook).

They subclass ``pandas.DataFrame``, so they are built on first use (pandas is imported
then, not when :mod:`realtime_widget.frames` is).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .columns import TRANSCRIPT_COLUMNS, import_pandas
from .display import STYLE, esc

if TYPE_CHECKING:
    from .session_frames import SessionFrames

__all__ = ["frame_classes"]  # and EventsFrame / TranscriptFrame, through __getattr__


def _build_frame_classes() -> tuple[type, type]:
    pd = import_pandas()

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
            """The full LogRecords of these rows (see :mod:`realtime_widget.hub.eventlog`)."""
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
            return src.payloads(self["seq"].tolist(), audio=audio)

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
            return src.payloads([int(seq)], audio=audio)[0]

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
                    '<div class="rtw-muted" style="font-size:12px">'
                    f"events of session <b>{esc(src.name)}</b>: "
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
                    f'<div class="rtw-turn {cls}"><span class="rtw-muted">{label} {esc(meta)}'
                    f"</span>{flag}<br>{esc(text)}</div>"
                )
            if len(self) == 0:
                parts.append('<div class="rtw-muted">(no turns yet)</div>')
            parts.append(
                '<div class="rtw-muted" style="font-size:11px">'
                f"a DataFrame: {len(self)} rows, "
                f"columns {esc(', '.join(map(str, self.columns)))}</div>"
            )
            return "".join(parts)

        def _repr_html_(self) -> str | None:
            if not set(TRANSCRIPT_COLUMNS) <= set(self.columns):  # a selection of columns: a table
                return super()._repr_html_()
            return self.chat_html()

    return EventsFrame, TranscriptFrame


_classes: tuple[type, type] | None = None


def frame_classes() -> tuple[type, type]:
    """``(EventsFrame, TranscriptFrame)``, built on first use."""
    global _classes
    if _classes is None:
        _classes = _build_frame_classes()
    return _classes


def __getattr__(name: str) -> Any:  # EventsFrame / TranscriptFrame, built when pandas is imported
    if name == "EventsFrame":
        return frame_classes()[0]
    if name == "TranscriptFrame":
        return frame_classes()[1]
    raise AttributeError(name)
