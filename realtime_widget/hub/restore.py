"""Reconnecting a hub session's upstream, and restoring it to where the session was.

Restored: the session configuration (the last ``session.updated``, every updatable field)
and the conversation items (``Conversation.to_items_payload``: text, transcripts of audio,
function calls and outputs, with their ids; input audio too with ``restore_audio``). Not
restored: assistant audio (a service cannot take it; the transcript stands in), the
uncommitted input audio buffer, a response in progress (reported failed) and pending input
transcriptions. The restore traffic is logged ``quiet``: no client sees it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .hub_events import error_event, hub_event
from .summary import session_update_payload
from .upstreams import UpstreamError, redact

if TYPE_CHECKING:
    from .hub_session import HubSession

log = logging.getLogger(__name__)

__all__ = ["Restorer"]


class Restorer:
    """The reconnect loop and the restore of one :class:`~.session.HubSession`."""

    def __init__(self, session: HubSession):
        self.session = session
        self.active = False  # the upstream's events are restore traffic, not the session's
        self._waiters: list[tuple[Callable[[dict[str, Any]], bool], asyncio.Future]] = []

    def offer(self, event: dict[str, Any], text: str | None) -> None:
        """An upstream event during the restore: logged quietly, and handed to its waiter."""
        self.session.log.append(event, direction="server", source="upstream", quiet=True, text=text)
        for predicate, future in list(self._waiters):
            if not future.done() and predicate(event):
                future.set_result(event)

    async def reconnect_loop(self) -> None:
        session = self.session
        cfg = session.hub.config
        delay = cfg.reconnect_initial_delay
        last_error = "unknown error"
        for attempt in range(1, cfg.reconnect_max_attempts + 1):
            await asyncio.sleep(delay * (0.8 + 0.4 * random.random()))
            if not session.live:
                return
            try:
                async with session.lock:
                    if not session.live:
                        return
                    await session.connect_upstream(restore=True)
                session.reconnects += 1
                return
            except UpstreamError as exc:
                last_error = exc.message
                log.info(
                    "realtime-widget: reconnect %d of session %s failed: %s",
                    attempt,
                    session.id,
                    exc.message,
                )
                if exc.permanent:
                    break
            delay = min(delay * 2, cfg.reconnect_max_delay)
        message = redact(
            f"Reconnecting to the upstream failed: {last_error}", cfg.providers.secrets()
        )
        session.publish(
            error_event("upstream_unavailable", message, type_="server_error"), source="hub"
        )
        async with session.lock:
            if session.live:
                await session.shutdown("failed", message)

    def wait(self, predicate: Callable[[dict[str, Any]], bool]) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        self._waiters.append((predicate, future))
        return future

    def fail(self, reason: str) -> None:
        waiters, self._waiters = self._waiters, []
        for _, future in waiters:
            if not future.done():
                future.set_exception(UpstreamError(reason))

    async def _send(self, event: dict[str, Any]) -> None:
        session = self.session
        session.log.append(event, direction="client", source="hub", quiet=True)
        assert session.upstream is not None
        try:
            await session.upstream.send(event)
        except Exception as exc:
            raise UpstreamError(
                f"the upstream closed while restoring: {type(exc).__name__}"
            ) from None

    async def restore(self, created: asyncio.Future) -> None:
        session = self.session
        timeout = session.hub.config.restore_timeout
        try:
            await asyncio.wait_for(created, timeout)
            waits: list[asyncio.Future] = []
            config = session_update_payload(session.conversation.session)
            if config:
                eid = "event_restore_session"
                waits.append(
                    self.wait(
                        lambda ev: (
                            ev.get("type") == "session.updated"
                            or (
                                ev.get("type") == "error"
                                and (ev.get("error") or {}).get("event_id") == eid
                            )
                        )
                    )
                )
                await self._send({"type": "session.update", "event_id": eid, "session": config})
            items = session.conversation.to_items_payload(
                include_audio=session.hub.config.restore_audio
            )
            for n, item in enumerate(items):
                eid = f"event_restore_item_{n}"
                item_id = item.get("id")
                waits.append(
                    self.wait(
                        lambda ev, eid=eid, item_id=item_id: (
                            (
                                ev.get("type") == "conversation.item.created"
                                and (ev.get("item") or {}).get("id") == item_id
                            )
                            or (
                                ev.get("type") == "error"
                                and (ev.get("error") or {}).get("event_id") == eid
                            )
                        )
                    )
                )
                await self._send(
                    {"type": "conversation.item.create", "event_id": eid, "item": item}
                )
            results = await asyncio.wait_for(asyncio.gather(*waits), timeout) if waits else []
        except asyncio.TimeoutError:
            raise UpstreamError(
                "the upstream did not answer while the conversation was restored"
            ) from None
        finally:
            self._waiters = []
        failed = sum(1 for ev in results if ev.get("type") == "error")
        restored_items = len(items) - sum(
            1 for ev in results[1 if config else 0 :] if ev.get("type") == "error"
        )
        session.publish(
            hub_event(
                "x_hub.status",
                status="open",
                restored_items=restored_items,
                failed_items=failed,
                attempt=session.reconnects + 1,
            ),
            source="hub",
        )
