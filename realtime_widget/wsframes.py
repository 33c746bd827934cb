"""Writing WebSocket text frames without Tornado's per-message Task.

Tornado's ``write_message`` wraps every write in a coroutine Task, only to turn a
``StreamClosedError`` into ``WebSocketClosedError``. On the relay's hot path (a frame
every 10 ms per session, each way) that Task is a measurable part of the hub's CPU
(benchmarks/README.md). :func:`write_text` calls the connection's own frame writer (the
same framing, masking and buffering) and translates the error itself; on a Tornado
without that writer, or with compression on, it falls back to ``write_message``.
"""

from __future__ import annotations

from asyncio import Future
from typing import Any

from tornado.iostream import StreamClosedError
from tornado.websocket import WebSocketClosedError

__all__ = ["close_invalid_utf8_with_1007", "write_text"]

_TEXT = 0x1


def write_text(protocol: Any, text: str) -> Future[None]:
    """Write one text message on a Tornado ``WebSocketProtocol``; the future resolves
    when it is handed to the socket (and fails with ``StreamClosedError`` if the
    connection breaks first). Raises ``WebSocketClosedError`` on a closed connection."""
    if protocol is None or protocol.is_closing():
        raise WebSocketClosedError()
    write_frame = getattr(protocol, "_write_frame", None)
    if write_frame is None or getattr(protocol, "_compressor", None) is not None:
        return protocol.write_message(text)
    data = text.encode("utf-8")
    protocol._message_bytes_out += len(data)
    try:
        return write_frame(True, _TEXT, data)
    except StreamClosedError:
        raise WebSocketClosedError() from None


def close_invalid_utf8_with_1007(protocol: Any) -> None:
    """Make a Tornado ``WebSocketProtocol`` close with 1007 (RFC 6455: data inconsistent
    with the message type) when a text frame is not UTF-8; Tornado drops the TCP
    connection instead (the client sees 1006). Call it in ``open()``. Same work per frame
    as Tornado's own handler (one decode); compressed frames keep Tornado's handling."""
    original = getattr(protocol, "_handle_message", None)
    if original is None or not hasattr(protocol, "_run_callback"):
        return

    def handle_message(opcode: int, data: bytes) -> Any:
        if opcode != _TEXT or protocol.client_terminated or protocol._frame_compressed:
            return original(opcode, data)
        protocol._message_bytes_in += len(data)
        try:
            decoded = data.decode("utf-8")
        except UnicodeDecodeError:
            protocol.close(1007, "a text frame must be UTF-8")
            return None
        return protocol._run_callback(protocol.handler.on_message, decoded)

    protocol._handle_message = handle_message
