"""``ProtocolError``: the one exception type of the protocol layer.

It carries exactly what the service's ``error`` event carries, so a server can answer a
bad client event with ``err.to_event()``. Other modules raise it too (e.g.
``realtime_widget.audio.b64decode_audio`` with ``code="invalid_base64"``), always as
``ProtocolError(message, code=..., param=...)``.
"""

from __future__ import annotations

from typing import Any, Final

from .types import new_event_id

__all__ = [
    "INVALID_BASE64",
    "INVALID_JSON",
    "INVALID_REQUEST_ERROR",
    "INVALID_TYPE",
    "INVALID_VALUE",
    "MISSING_REQUIRED_PARAMETER",
    "PAYLOAD_TOO_LARGE",
    "UNKNOWN_PARAMETER",
    "ProtocolError",
]

# error.type
INVALID_REQUEST_ERROR: Final = "invalid_request_error"

# error.code values produced by this package (others may use more, e.g. the engine)
INVALID_JSON: Final = "invalid_json"
MISSING_REQUIRED_PARAMETER: Final = "missing_required_parameter"
INVALID_TYPE: Final = "invalid_type"
INVALID_VALUE: Final = "invalid_value"
UNKNOWN_PARAMETER: Final = "unknown_parameter"
PAYLOAD_TOO_LARGE: Final = "payload_too_large"
INVALID_BASE64: Final = "invalid_base64"


class ProtocolError(Exception):
    """A client (or server) event that cannot be accepted.

    Attributes mirror the spec's error object: ``type`` (``"invalid_request_error"``),
    ``code``, ``message`` (names the field and says why), ``param`` (dotted path such as
    ``session.turn_detection.threshold``, list indexes as ``[0]``, or ``None``) and
    ``event_id`` (the offending event's id when it could be read).
    """

    def __init__(
        self,
        message: str,
        code: str = INVALID_VALUE,
        param: str | None = None,
        event_id: str | None = None,
        *,
        type: str = INVALID_REQUEST_ERROR,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param
        self.event_id = event_id
        self.type = type

    def __repr__(self) -> str:
        return (
            f"ProtocolError(code={self.code!r}, param={self.param!r}, "
            f"event_id={self.event_id!r}, message={self.message!r})"
        )

    def error_object(self) -> dict[str, Any]:
        """The spec's ``error`` object; absent fields are left out (the spec has no nulls there)."""
        error: dict[str, Any] = {"type": self.type, "code": self.code, "message": self.message}
        if self.param is not None:
            error["param"] = self.param
        if self.event_id is not None:
            error["event_id"] = self.event_id
        return error

    def to_event(self, event_id: str | None = None) -> dict[str, Any]:
        """An ``error`` server event (wire dict) reporting this error."""
        return {
            "event_id": event_id or new_event_id(),
            "type": "error",
            "error": self.error_object(),
        }
