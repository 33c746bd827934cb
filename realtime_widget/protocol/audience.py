"""Which server events may go to which client: the one place that decides.

Spec-strict preview clients (npm ``rt-client`` 0.5.1, the spec repository's own JavaScript
client) close the socket on any event type outside the spec's 27. So a preview-dialect
socket sends only those, unless its client opts in to more with the ``x_events``
query parameter (a comma-separated list; browsers cannot set headers):

=========  ====================================================================
opt-in     adds
=========  ====================================================================
``service``  the events the preview service sent beyond the spec
             (``EXTRA_SERVER_EVENT_TYPES``: ``conversation.created``,
             ``conversation.item.input_audio_transcription.delta``)
``x``        our own ``x_*`` events (the hub's ``x_hub.ready``, ``x_hub.status``)
``all``      everything
=========  ====================================================================

A GA-dialect socket gets every GA event: GA clients parse GA types, and the GA SDKs
skip types they do not know.
"""

from __future__ import annotations

from collections.abc import Iterable

from .server_events import EXTRA_SERVER_EVENT_TYPES, SPEC_SERVER_EVENT_TYPES

__all__ = ["EVENTS_QUERY_PARAM", "OPT_INS", "parse_events_opt_in", "server_event_allowed"]

#: The query parameter a client opts in with: ``?x_events=service,x``.
EVENTS_QUERY_PARAM = "x_events"
#: Every opt-in name and what it means.
OPT_INS = {
    "service": (
        "events the preview service sent beyond the spec "
        "(conversation.created, transcription deltas)"
    ),
    "x": "realtime-widget's own x_* events (hub status)",
    "all": "every event type",
}


def parse_events_opt_in(values: str | Iterable[str] | None) -> frozenset[str]:
    """``"service,x"`` (or several such strings) -> ``{"service", "x"}``.

    Raises ``ValueError`` naming an unknown opt-in, so a typo is reported at the
    handshake instead of silently giving the strict default."""
    if values is None:
        return frozenset()
    if isinstance(values, str):
        values = [values]
    names = {name.strip() for value in values for name in value.split(",") if name.strip()}
    unknown = sorted(names - set(OPT_INS))
    if unknown:
        raise ValueError(
            f"{EVENTS_QUERY_PARAM}: unknown value {unknown[0]!r}; "
            "expected a comma-separated list of " + ", ".join(OPT_INS)
        )
    return frozenset(names)


def server_event_allowed(
    event_type: str, dialect: str, opt_in: frozenset[str] = frozenset()
) -> bool:
    """May a server event of ``event_type`` go to a client of ``dialect``
    (``"preview"`` or ``"ga"``) that opted in to ``opt_in``?"""
    if dialect != "preview" or event_type in SPEC_SERVER_EVENT_TYPES or "all" in opt_in:
        return True
    if event_type in EXTRA_SERVER_EVENT_TYPES:
        return "service" in opt_in
    return event_type.startswith("x_") and "x" in opt_in
