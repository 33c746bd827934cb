"""A client event of the other dialect, sent on a route of one: a precise error.

A preview route (the spec's dialect) and a GA route share event names but not the
shapes: ``session.update`` is flat in preview and nested in GA, ``response.create``
differs, and GA has two client events preview lacks. A client that mixes them up (a GA
SDK pointed at a preview URL, a preview client at a GA one) must hear which field or
event is the other dialect's, and how its own dialect spells it, instead of a vague
``unknown_parameter`` or, worse, a silently ignored setting. ``wrong_dialect`` is that
check; servers call it before translating (``realtime-widget serve``, the hub).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import ProtocolError
from .ga import GA_ONLY_CLIENT_EVENTS

__all__ = ["wrong_dialect"]

# GA-only session fields -> the preview spelling, or None when preview has no counterpart
_GA_SESSION_FIELDS: dict[str, str | None] = {
    "type": None,
    "output_modalities": "modalities",
    "audio": (
        "voice, input_audio_format, output_audio_format, input_audio_transcription, turn_detection"
    ),
    "max_output_tokens": "max_response_output_tokens",
    "tracing": None,
    "truncation": None,
    "include": None,
    "prompt": None,
    "reasoning": None,
    "parallel_tool_calls": None,
}
# preview-only session fields -> the GA spelling, or None when GA has no counterpart
_PREVIEW_SESSION_FIELDS: dict[str, str | None] = {
    "modalities": "output_modalities",
    "voice": "audio.output.voice",
    "input_audio_format": "audio.input.format",
    "output_audio_format": "audio.output.format",
    "input_audio_transcription": "audio.input.transcription",
    "turn_detection": "audio.input.turn_detection",
    "input_audio_noise_reduction": "audio.input.noise_reduction",
    "speed": "audio.output.speed",
    "max_response_output_tokens": "max_output_tokens",
    "temperature": None,
}
_GA_RESPONSE_FIELDS: dict[str, str | None] = {
    "output_modalities": "modalities",
    "audio": "voice, output_audio_format",
    "input": "input_items",
    "conversation": "commit",
}
_PREVIEW_RESPONSE_FIELDS: dict[str, str | None] = {
    "modalities": "output_modalities",
    "voice": "audio.output.voice",
    "output_audio_format": "audio.output.format",
    "input_items": "input",
    "append_input_items": None,
    "commit": "conversation",
    "cancel_previous": None,
    "temperature": None,
}
_OTHER = {"preview": "GA", "ga": "preview"}
_ROUTES = {  # where the other dialect is spoken (engine and hosted services alike)
    "preview": "/v1/realtime without OpenAI-Beta, or /openai/v1/realtime",
    "ga": (
        "/v1/realtime with OpenAI-Beta: realtime=v1, "
        "or /openai/realtime?api-version=2024-10-01-preview"
    ),
}


def _field_error(
    dialect: str, param: str, key: str, counterpart: str | None, event_id: Any
) -> ProtocolError:
    own = "preview (the spec's)" if dialect == "preview" else "GA"
    head = param.rsplit(".", 1)[0]
    advice = (
        f"; the {own} dialect spells it {head}.{counterpart}"
        if counterpart and "," not in counterpart
        else f"; the {own} dialect uses {counterpart}"
        if counterpart
        else f"; the {own} dialect has no such field"
    )
    return ProtocolError(
        f"{param}: {key!r} belongs to the {_OTHER[dialect]} dialect, "
        f"but this connection speaks {own}{advice} "
        f"(or connect to a {_OTHER[dialect]} route: {_ROUTES[dialect]})",
        code="unknown_parameter",
        param=param,
        event_id=event_id if isinstance(event_id, str) else None,
    )


def wrong_dialect(event: Mapping[str, Any], dialect: str) -> ProtocolError | None:
    """The error for a client event of the other dialect on a ``dialect`` connection
    (``"preview"`` or ``"ga"``), or None when the event is not the other dialect's.
    Only the fields that tell the dialects apart are checked; everything else is the
    parser's and the server's job."""
    kind = event.get("type")
    if not isinstance(kind, str):  # a missing or mistyped type is the parser's to describe
        return None
    event_id = event.get("event_id")
    if dialect == "preview" and kind in GA_ONLY_CLIENT_EVENTS:
        return ProtocolError(
            f"type: {kind!r} is a client event of the GA dialect, but this connection speaks the "
            f"preview (the spec's) dialect; connect to a GA route ({_ROUTES['preview']}) to use it",
            code="invalid_value",
            param="type",
            event_id=event_id if isinstance(event_id, str) else None,
        )
    if kind == "session.update":
        fields = _GA_SESSION_FIELDS if dialect == "preview" else _PREVIEW_SESSION_FIELDS
        body, head = event.get("session"), "session"
    elif kind == "response.create":
        fields = _GA_RESPONSE_FIELDS if dialect == "preview" else _PREVIEW_RESPONSE_FIELDS
        body, head = event.get("response"), "response"
    else:
        return None
    if not isinstance(body, Mapping):
        return None
    for key in body:
        if key in fields:
            return _field_error(dialect, f"{head}.{key}", key, fields[key], event_id)
    return None


BETA_SUBPROTOCOL = "openai-beta.realtime-v1"  # a browser's way to send OpenAI-Beta: realtime=v1


def offered_subprotocols(header: str) -> list[str]:
    """The subprotocols a WebSocket handshake offers (its ``Sec-WebSocket-Protocol`` header)."""
    return [p.strip() for p in header.split(",") if p.strip()]


def dialect_of_handshake(route: str, openai_beta: str, subprotocols: list[str]) -> str:
    """``"preview"`` or ``"ga"`` for a connection: the Azure routes say it in their path;
    the OpenAI route speaks preview only when the client sends ``OpenAI-Beta: realtime=v1``
    (or its subprotocol spelling), as the service did."""
    if route == "azure-preview":
        return "preview"
    if route == "azure-ga":
        return "ga"
    if "realtime=v1" in openai_beta.replace(" ", "").split(",") or BETA_SUBPROTOCOL in subprotocols:
        return "preview"
    return "ga"
