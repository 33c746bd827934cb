"""What one attached client sees of a hub session: its *view* of the session's events.

The hub logs and publishes preview-dialect server events (the log has one format). A
client's :class:`View` is its dialect and the extra events it opted in to with the
``x_events`` query parameter (``protocol.audience``: ``service``, ``x``, ``all``):

* preview, ``x_events=all``: everything, hub events (``x_hub.*``) included. Our own
  clients (the widget, the kernel's ``Session``) attach this way.
* preview, no opt-in: a spec-strict client (Azure's ``rtclient`` / ``rt-client``, the
  ``openai`` SDK's beta client) gets only the spec's 27 server event types
  (``protocol.audience.server_event_allowed``), each with an ``event_id`` (rtclient
  requires one on every event). Hub-made ``error`` and ``response.done`` events are
  spec-shaped and go through; ``x_hub.*`` and the service's extra events do not.
* GA: every event translated by :func:`realtime_widget.protocol.ga.server_preview_to_ga`;
  ``x_hub.*`` only with the ``x`` (or ``all``) opt-in.

Every frame keeps the ``x_seq`` key (the event's number in the session log): extra
keys are valid in the spec (no schema sets ``additionalProperties: false``) and every
client we run ignores them (``rtclient``'s pydantic models ignore extras, ``rt-client``
looks only at ``type``, the ``openai`` SDK's models allow extras), and it lets any
client reattach with ``after=<x_seq>``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable
from typing import Any, NamedTuple

from ..protocol import ProtocolError, ga, load_json_event
from ..protocol.audience import server_event_allowed
from ..protocol.dialects import wrong_dialect
from ..protocol.parsing import dumps_json
from .hub_events import hub_event_id
from .upstreams import NativeGA

__all__ = ["HUB_VIEW", "View", "client_frame", "live_frames", "replay_frames"]

log = logging.getLogger(__name__)


class View(NamedTuple):
    dialect: str  # "preview" or "ga"
    opt_in: frozenset[str] = frozenset()  # protocol.audience opt-ins

    @property
    def sees_everything(self) -> bool:
        """The hub's own frames go out unchanged (the hot path: no per-client work)."""
        return self.dialect == "preview" and "all" in self.opt_in

    @property
    def hub_events(self) -> bool:
        return "x" in self.opt_in or "all" in self.opt_in


HUB_VIEW = View("preview", frozenset({"all"}))


def _with_seq(event: dict[str, Any], seq: int | None) -> str:
    text = dumps_json(event)
    return text if seq is None else '%s,"x_seq":%d}' % (text[:-1], seq)


def live_frames(view: View, event: dict[str, Any], seq: int | None, hub_frame: str) -> list[str]:
    """The frames one published event becomes for a client of ``view`` (``hub_frame``:
    the event's hub frame, with ``x_seq``)."""
    if view.sees_everything:
        return [hub_frame]
    etype = event.get("type")
    if not isinstance(etype, str):
        return []
    if view.dialect == "preview":
        if not server_event_allowed(etype, "preview", view.opt_in):
            return []
        if not isinstance(event.get("event_id"), str):  # rtclient cannot read an event without one
            return [_with_seq({**event, "event_id": hub_event_id()}, seq)]
        return [hub_frame]
    if etype.startswith("x_") and not view.hub_events:
        return []
    try:
        return [_with_seq(out, seq) for out in ga.server_preview_to_ga(event)]
    except Exception:  # a translation bug must not stop the session's other clients
        log.exception("realtime-widget: translating a %s event for a GA client failed", etype)
        return []


def replay_frames(view: View, frame: str) -> list[str]:
    """:func:`live_frames` for a frame read back from the log (catch-up)."""
    if view.sees_everything:
        return [frame]
    event = json.loads(frame)
    seq = event.pop("x_seq", None)
    return live_frames(view, event, seq, frame)


# ------------------------------------------------------------------ client frames


def client_frame(session: Any, client: Any, message: str | bytes) -> Awaitable[None] | None:
    """One frame from a client that does not see everything (a third-party client), for
    ``HubSession.client_message`` (same contract: an awaitable only when the client must
    wait). GA events are translated to the preview dialect the log and the conversation
    use. An event of the other dialect (``protocol.wrong_dialect``) is refused with an
    ``error`` in the client's own dialect, and the session goes on."""
    dialect = client.view.dialect
    if dialect == "preview" and not (isinstance(message, str) and _may_be_other_dialect(message)):
        return session.client_message(client, message)  # audio appends are not parsed twice
    event = _parsed(message)
    if event is None:  # the hub describes what is wrong with it
        return session.client_message(client, message)
    problem = wrong_dialect(event, dialect)
    if problem is not None:
        error = problem.to_event()
        if dialect == "ga":
            error[ga.MARKER] = "ga"  # already in the client's terms: not respelled for GA clients
        session.refuse_client_event(client, event, error)
        return None
    if dialect == "preview" or (
        event["type"] in ga.CLIENT_SHARED_EVENTS and isinstance(message, str)
    ):
        return session.client_message(client, message)  # the exact text: the same in both dialects
    translated = ga.client_ga_to_preview(event)
    native = NativeGA(message) if len(translated) == 1 and isinstance(message, str) else None
    return _in_order(session, client, translated, native)


def _may_be_other_dialect(message: str) -> bool:
    """Only these preview frames can hold the other dialect's events or fields (quoted
    names and dots cannot occur in base64 audio, so appends never match)."""
    return (
        '"session.update"' in message
        or '"response.create"' in message
        or "item.retrieve" in message
        or "output_audio_buffer" in message
    )


def _parsed(message: str | bytes) -> dict[str, Any] | None:
    if not isinstance(message, str):
        return None  # binary frames: the hub refuses them
    try:
        event = load_json_event(
            message
        )  # never raises anything but ProtocolError (deep nesting included)
    except ProtocolError:
        return None
    return event if isinstance(event, dict) and isinstance(event.get("type"), str) else None


def _in_order(
    session: Any, client: Any, events: list[dict[str, Any]], native: str | None
) -> Awaitable[None] | None:
    """Hand several events over in order: once one has to wait, the rest wait behind it."""
    for n, event in enumerate(events):
        waiting = session.client_message(client, event, native=native)
        if waiting is not None:
            rest = events[n + 1 :]

            async def finish(waiting: Awaitable[None] = waiting, rest: list = rest) -> None:
                await waiting
                for later in rest:
                    more = session.client_message(client, later, native=native)
                    if more is not None:
                        await more

            return finish()
    return None
