"""JSON views of a hub session: its summary, its conversation's state, its configuration."""

from __future__ import annotations

from typing import Any

from ..conversation import Conversation
from ..protocol.types import SessionUpdateParams

__all__ = ["conversation_state", "session_summary", "session_update_payload", "ws_path"]

# What a session.update may set: the protocol's own model of it (``model`` is chosen at connect).
SESSION_FIELDS = tuple(name for name in SessionUpdateParams.model_fields if name != "model")
_NULLABLE_SESSION_FIELDS = ("input_audio_transcription", "turn_detection")


def session_update_payload(session: dict[str, Any]) -> dict[str, Any]:
    """The updatable fields of a reported session (to replay it with ``session.update``)."""
    out = {}
    for key in SESSION_FIELDS:
        if key in session and (session[key] is not None or key in _NULLABLE_SESSION_FIELDS):
            out[key] = session[key]
    return out


def conversation_state(conv: Conversation) -> dict[str, Any]:
    """A JSON summary of a conversation (items without audio bytes, responses)."""
    items = []
    for item in conv.items:
        entry: dict[str, Any] = {
            "id": item.id,
            "type": item.type,
            "status": item.status,
            "previous_item_id": item.previous_item_id,
        }
        if item.type == "message":
            entry["role"] = item.role
            entry["text"] = item.text
            entry["content"] = [
                {
                    "type": p.type,
                    "text": p.text,
                    "transcript": p.transcript,
                    "audio_ms": round(p.audio_ms, 1),
                    "format": p.format,
                }
                for p in item.content
            ]
            entry["audio_ms"] = round(item.audio_ms, 1)
        else:
            entry.update(
                call_id=item.call_id, name=item.name, arguments=item.arguments, output=item.output
            )
        if item.truncated:
            entry["truncated"] = True
        if item.response_id:
            entry["response_id"] = item.response_id
        items.append(entry)
    responses = [
        {
            "id": r.id,
            "status": r.status,
            "status_details": r.status_details,
            "usage": r.usage,
            "output_item_ids": list(r.output_item_ids),
        }
        for r in conv.responses.values()
    ]
    return {
        "session": conv.session,
        "items": items,
        "responses": responses,
        "errors": len(conv.errors),
        "input_buffer_ms": round(conv.input_buffer_ms, 1),
    }


def ws_path(session_id: str) -> str:
    """The hub WebSocket of a session, relative to the server's ``base_url``."""
    return f"realtime/sessions/{session_id}/ws"


def session_summary(
    session_id: str,
    meta: dict[str, Any],
    *,
    status: str = "closed",
    interrupted: bool | None = None,
    n_events: int | None = None,
    n_clients: int = 0,
    reconnects: int = 0,
) -> dict[str, Any]:
    """A session's ``SessionSummary`` (docs/architecture.md), from its stored ``meta`` and,
    for a loaded session, what only memory knows. A session on disk that was never closed
    (no ``closed_at``) was interrupted by its server's end."""
    return {
        "id": session_id,
        "name": meta.get("name") or session_id,
        "provider": meta.get("provider"),
        "model": meta.get("model"),
        "status": status,
        "created_at": meta.get("created_at"),
        "closed_at": meta.get("closed_at"),
        "owner": meta.get("owner"),
        "interrupted": meta.get("closed_at") is None if interrupted is None else interrupted,
        "n_events": n_events,
        "n_clients": n_clients,
        "reconnects": reconnects,
        "ws_path": ws_path(session_id),
    }
