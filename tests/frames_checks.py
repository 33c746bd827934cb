"""Shared checks: an events DataFrame against the log records it was made from."""

from __future__ import annotations

import numpy as np
import pandas as pd

from realtime_widget.frames import EVENT_COLUMNS


def _v(value):
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


def assert_events_match(df: pd.DataFrame, records: list[dict]) -> None:
    """Every column of every row equals what the LogRecord says."""
    assert list(df.columns) == EVENT_COLUMNS
    assert len(df) == len(records), (len(df), len(records))
    assert df["seq"].tolist() == [r["seq"] for r in records]
    assert df["type"].astype(str).tolist() == [r["type"] for r in records]
    assert df["direction"].astype(str).tolist() == [r["dir"] for r in records]
    assert df["source"].astype(str).tolist() == [r["source"] for r in records]
    for col in ("event_id", "item_id", "response_id", "client"):
        got = [_v(v) for v in df[col].astype(object)]
        want = [None if r.get(col) is None else str(r.get(col)) for r in records]
        assert got == want, col
    t0 = records[0]["mono"]
    assert np.allclose(df["t_ms"].to_numpy(), [(r["mono"] - t0) * 1000 for r in records], atol=0.01)
    for row, rec in zip(df.itertuples(index=False), records, strict=True):
        ev = rec["event"]
        for key in ("output_index", "content_index", "audio_start_ms", "audio_end_ms"):
            assert _v(getattr(row, key)) == ev.get(key), (rec["seq"], key)
        delta = ev.get("delta")
        assert _v(row.delta_chars) == (len(delta) if isinstance(delta, str) else None), rec["seq"]
        refs = rec.get("audio") or []
        if refs:
            assert abs(row.audio_ms - sum(r["nbytes"] for r in refs) / 48.0) < 1e-6, rec["seq"]
        else:
            assert np.isnan(row.audio_ms), rec["seq"]
        err = ev.get("error") if rec["type"] == "error" else None
        for key in ("type", "code", "message"):
            assert _v(getattr(row, f"error_{key}")) == ((err or {}).get(key)), (rec["seq"], key)
        assert bool(row.quiet) == bool(rec.get("quiet"))
