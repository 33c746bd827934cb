"""The columns of the session DataFrames: their names, and how each is computed from
the flat Arrow table of the log (:mod:`.reader`) or from the events DataFrame.

Imports only :mod:`.reader`'s output types (pandas and pyarrow are imported when used).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

__all__ = [
    "AUDIO_DELTA",
    "EVENT_COLUMNS",
    "LATE_ITEM_EVENTS",
    "PRICE_KEYS",
    "TEXT_DELTAS",
    "TRANSCRIPT_COLUMNS",
    "cat_mask",
    "elapsed_ms",
    "events_dataframe",
    "import_pandas",
    "item_sources",
    "item_times",
    "price_table",
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
LATE_ITEM_EVENTS = (
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


def import_pandas() -> Any:
    """pandas, or an ImportError that says how to install it."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        raise ImportError(
            "realtime_widget.frames needs pandas: pip install pandas pyarrow"
        ) from None
    return pd


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


def cat_mask(df: Any, column: str, names: Iterable[str]) -> np.ndarray:
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


def price_table(prices: Mapping[str, float]) -> dict[str, float]:
    unknown = set(prices) - set(PRICE_KEYS)
    if unknown:
        raise ValueError(
            f"prices: unknown key(s) {', '.join(sorted(unknown))}; "
            f"use {', '.join(PRICE_KEYS)} (USD per 1M tokens)"
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


def events_dataframe(table: Any) -> Any:
    """The events DataFrame of the flat Arrow table (strings stay Arrow-backed); the
    columns are :data:`EVENT_COLUMNS`."""
    pd = import_pandas()
    import pyarrow as pa

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
    return pd.DataFrame(data, copy=False)


def item_times(df: Any, ids: list[str]) -> tuple[dict[str, float], dict[str, float]]:
    """First and last server event about each item, excluding late bookkeeping events
    (transcription results, truncation, deletion)."""
    if not len(df) or not ids:
        return {}, {}
    mask = (
        cat_mask(df, "direction", ("server",))
        & df["item_id"].notna().to_numpy()
        & ~cat_mask(df, "type", LATE_ITEM_EVENTS)
    )
    sub = df.loc[mask, ["item_id", "t_ms"]]
    g = sub.groupby(sub["item_id"].astype(object))["t_ms"]
    return g.min().to_dict(), g.max().to_dict()


def item_sources(df: Any, ids: list[str]) -> dict[str, str]:
    """Which client made each user item: the source of the last client event that can
    create one (``conversation.item.create``, ``input_audio_buffer.commit`` / ``append``)
    before the server's ``conversation.item.created``."""
    if not len(df) or not ids:
        return {}
    seq = df["seq"].to_numpy()
    client = cat_mask(df, "direction", ("client",))
    server = cat_mask(df, "direction", ("server",))
    makers = np.flatnonzero(
        client
        & cat_mask(
            df,
            "type",
            ("conversation.item.create", "input_audio_buffer.commit", "input_audio_buffer.append"),
        )
    )
    created = np.flatnonzero(server & cat_mask(df, "type", ("conversation.item.created",)))
    added = np.flatnonzero(server & cat_mask(df, "type", ("response.output_item.added",)))
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
