"""The Arrow cache: parsed tables of large closed sessions, kept on disk so that
reopening one reads the table back (memory-mapped) instead of parsing its log again."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .reader import LogTable

__all__ = ["CACHE_MAX_BYTES", "CACHE_MIN_ROWS", "cache_dir", "load_cached", "save_cached"]

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


def _cache_file(log_dir: Path) -> Path | None:
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


def load_cached(table: LogTable, log_dir: Path) -> None:
    """Fill ``table`` from the cache when it holds this log as it is now."""
    path = _cache_file(log_dir)
    if path is not None and path.exists():
        table.load(path)


def save_cached(table: LogTable, log_dir: Path, meta: dict[str, Any]) -> None:
    """Keep the parsed table of a large *closed* session (its log no longer changes;
    the key has the log's size and mtime, so a resumed session is read afresh)."""
    if table.num_rows < CACHE_MIN_ROWS or not meta.get("closed_at"):
        return
    path = _cache_file(log_dir)
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
