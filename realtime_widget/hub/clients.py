"""The clients attached to a hub session: where each one's frames go, and its backlog."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, Protocol

from .views import HUB_VIEW, View

if TYPE_CHECKING:
    from .hub_session import HubSession

log = logging.getLogger(__name__)

__all__ = ["AttachedClient", "ClientSink"]


class ClientSink(Protocol):
    """Where an attached client's frames go (a WebSocket, or the kernel in direct mode)."""

    def send_text(self, frame: str) -> Awaitable[Any] | None: ...

    def close(self, code: int, reason: str) -> None: ...


class AttachedClient:
    def __init__(
        self,
        session: HubSession,
        client_id: str,
        source: str,
        sink: ClientSink,
        view: View = HUB_VIEW,
    ):
        self.session = session
        self.id = client_id
        self.source = source
        self.sink = sink
        self.view = view  # what it sees of the session's events (client_views.py)
        self.sees_everything = view.sees_everything
        self.live = False
        self.backlog: deque[str] = deque()
        self.backlog_bytes = 0
        self.unsent_bytes = 0
        self.closed = False
        self.last_seq_sent = 0
        self.catch_up_task: asyncio.Task | None = None

    def deliver(self, frame: str) -> None:
        if self.closed:
            return
        if not self.live:
            self.backlog.append(frame)
            self.backlog_bytes += len(frame)
            if self.backlog_bytes > self.session.hub.config.client_buffer_bytes:
                self.drop(1013, "client too slow: reattach with after=<last x_seq>")
            return
        self._write(frame)

    def _write(self, frame: str) -> Awaitable[Any] | None:
        try:
            result = self.sink.send_text(frame)
        except Exception:  # the socket is gone
            self.session.detach(self)
            return None
        if result is not None and hasattr(result, "add_done_callback") and not result.done():
            # still in the socket's buffer (a slow client): count it until it is written
            size = len(frame)
            self.unsent_bytes += size

            def done(_: Any, size: int = size) -> None:
                self.unsent_bytes -= size

            result.add_done_callback(done)
            if self.unsent_bytes > self.session.hub.config.client_buffer_bytes:
                self.drop(1013, "client too slow: reattach with after=<last x_seq>")
        return result

    async def write(self, frame: str) -> None:
        result = self._write(frame)
        if result is not None:
            try:
                await result
            except Exception:
                self.session.detach(self)

    def drop(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.session.detach(self)
        try:
            self.sink.close(code, reason)
        except Exception:
            pass
