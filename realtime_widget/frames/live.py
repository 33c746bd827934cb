"""Access to a live session's log: the log directory when this kernel can read it, else
the hub's REST API (the export of the log, an item's audio)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .locations import find_log

__all__ = ["hub_export", "hub_item_audio", "live_log_path"]


def live_log_path(session: Any) -> Path | None:
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
    path = find_log(sid) if sid else None
    if path is not None:
        try:
            meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
            if meta.get("id") == sid and os.access(path / "events.jsonl", os.R_OK):
                return path
        except (OSError, ValueError):
            pass
    return None


def _hub_get(session: Any, *parts: str, **params: str) -> bytes:
    from ..client.rest import fetch_blocking

    server = getattr(session, "server", None)
    if server is None:
        raise RuntimeError("the session is not attached to a Jupyter server")
    return fetch_blocking(server, "GET", *parts, params=params)


def hub_export(session: Any) -> bytes:
    """The session's log as the hub exports it (audio as references)."""
    return _hub_get(session, "realtime", "sessions", str(session.id), "export", audio="ref")


def hub_item_audio(session: Any, item_id: str) -> tuple[np.ndarray, int] | None:
    """An item's audio from the hub (samples, rate); None when the hub has none."""
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
