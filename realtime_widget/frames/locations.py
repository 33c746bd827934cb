"""Where stored session logs are: the directories looked in, a session's directory by
id, and the list of stored sessions."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..settings import log_dirs
from .columns import import_pandas

__all__ = ["find_log", "log_dirs", "stored_sessions"]


def find_log(session_id: str, extra: Iterable[Path] = ()) -> Path | None:
    for root in [*extra, *log_dirs()]:
        path = Path(root) / session_id
        if (path / "events.jsonl").exists() or (path / "meta.json").exists():
            return path
    return None


def stored_sessions(log_dir: str | os.PathLike[str] | None = None) -> Any:
    """A DataFrame of the session logs under ``log_dir`` (default: :func:`log_dirs`)."""
    from ..hub.eventlog import scan_sessions  # the log's own reader of its directories

    pd = import_pandas()

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
