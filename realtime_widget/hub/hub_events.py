"""The events the hub itself sends: spec-shaped ``error`` events and ``x_hub.*`` events."""

from __future__ import annotations

import secrets
from typing import Any

from ..protocol.errors import ProtocolError

__all__ = [
    "CONFIG_EVENT_ID",
    "error_event",
    "hub_event",
    "hub_event_id",
    "protocol_error_event",
]


# The hub's session.update of a creation body's configuration (replay tells it from the
# user's own updates by this id).
CONFIG_EVENT_ID = "event_hub_config"


def hub_event_id() -> str:
    """The id of an event the hub itself makes (strict clients need one on every event)."""
    return "event_hub_" + secrets.token_hex(8)


def error_event(
    code: str,
    message: str,
    *,
    type_: str = "invalid_request_error",
    param: str | None = None,
    event_id: Any = None,
) -> dict[str, Any]:
    # The spec's error object has no nulls: param and event_id are left out when unknown (D19/D28).
    error: dict[str, Any] = {"type": type_, "code": code, "message": message}
    if param is not None:
        error["param"] = param
    if isinstance(event_id, str):
        error["event_id"] = event_id
    return {"type": "error", "event_id": hub_event_id(), "error": error}


def protocol_error_event(err: ProtocolError) -> dict[str, Any]:
    return error_event(
        err.code, err.message, type_=err.type, param=err.param, event_id=err.event_id
    )


def hub_event(etype: str, **fields: Any) -> dict[str, Any]:
    return {"type": etype, "event_id": hub_event_id(), **fields}
