"""``realtime-widget serve``: the local engine as a drop-in realtime WebSocket server.

Routes, handshakes and dialects, as the hosted services have them:

=========================================  ==================  ===========================
path                                       credentials         dialect
=========================================  ==================  ===========================
``/v1/realtime?model=M`` (OpenAI)          ``Authorization:     preview with header
                                           Bearer K``           ``OpenAI-Beta: realtime=v1``
                                                                (or subprotocol
                                                                ``openai-beta.realtime-v1``),
                                                                else GA
``/openai/realtime?api-version=…&           ``api-key: K``       preview
deployment=D`` (Azure preview)             (or Bearer)
``/openai/v1/realtime?model=D`` (Azure GA) ``api-key: K``       GA
=========================================  ==================  ===========================

A preview-dialect socket sends only the spec's 27 server event types unless the client
opts in to more with ``?x_events=service`` (or ``all``): strict clients such as npm
``rt-client`` close the socket on anything else (``protocol.audience``).

Browsers cannot set headers, so the key is also accepted as the subprotocol
``openai-insecure-api-key.K`` (as OpenAI does). With an API key configured, a wrong or
missing key is refused at the handshake (401). Without one the server only listens on
loopback and only accepts loopback browser origins.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import tornado.httpserver
import tornado.netutil
import tornado.web
import tornado.websocket

from ..protocol import (
    EVENTS_QUERY_PARAM,
    ProtocolError,
    dumps_json,
    ga,
    load_json_event,
    parse_events_opt_in,
    server_event_allowed,
    wrong_dialect,
)
from ..protocol.dialects import dialect_of_handshake, offered_subprotocols
from ..wsframes import close_invalid_utf8_with_1007
from .brain import Brain, close_brain
from .engine_session import EngineSession
from .limits import SessionLimits
from .scheduler import InferenceScheduler
from .speech.stack import SpeechStack

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 32 * 1024 * 1024  # frames above this are refused by Tornado (close 1009)
_KEY_SUBPROTOCOL = "openai-insecure-api-key."


@dataclass
class ServerState:
    """What every connection of one server shares."""

    api_key: str | None = None
    speech: SpeechStack | None = None
    brain_factory: Any = None  # () -> Brain, or None for the default rule brain
    sessions: set[EngineSession] = field(default_factory=set)
    limits: SessionLimits = field(default_factory=SessionLimits)  # caps of every session
    scheduler: InferenceScheduler | None = None  # None: the process-wide default


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class RealtimeSocket(tornado.websocket.WebSocketHandler):
    def initialize(self, state: ServerState, route: str) -> None:
        self.state = state
        self.route = route  # "openai", "azure-preview" or "azure-ga"
        self.dialect = "preview"
        self.opt_in: frozenset[str] = frozenset()  # extra event types the client asked for
        self.session: EngineSession | None = None
        self._closed = False

    # -- handshake ------------------------------------------------------------------
    def _offered_subprotocols(self) -> list[str]:
        return offered_subprotocols(self.request.headers.get("Sec-WebSocket-Protocol", ""))

    def _presented_key(self) -> str | None:
        auth = self.request.headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        if self.request.headers.get("api-key"):
            return self.request.headers["api-key"].strip()
        for proto in self._offered_subprotocols():
            if proto.startswith(_KEY_SUBPROTOCOL):
                return proto[len(_KEY_SUBPROTOCOL) :]
        return None

    def _choose_dialect(self) -> str:
        return dialect_of_handshake(
            self.route, self.request.headers.get("OpenAI-Beta", ""), self._offered_subprotocols()
        )

    def _model(self) -> str:
        return (
            self.get_query_argument("model", None)
            or self.get_query_argument("deployment", None)
            or "local-realtime"
        )

    async def get(self, *args: Any, **kwargs: Any) -> None:
        expected = self.state.api_key
        if expected is not None:
            presented = self._presented_key() or ""
            if not hmac.compare_digest(presented.encode(), expected.encode()):
                self.set_status(401)
                self.finish(
                    {
                        "error": {
                            "type": "invalid_request_error",
                            "code": "invalid_api_key",
                            "message": "Incorrect API key provided.",
                        }
                    }
                )
                return
        if self.route == "azure-preview" and not self.get_query_argument("api-version", None):
            self.set_status(400)
            self.finish(
                {
                    "error": {
                        "type": "invalid_request_error",
                        "code": "missing_api_version",
                        "message": "api-version is required",
                    }
                }
            )
            return
        try:
            self.opt_in = parse_events_opt_in(self.get_query_arguments(EVENTS_QUERY_PARAM))
        except ValueError as exc:
            self.set_status(400)
            self.finish(
                {
                    "error": {
                        "type": "invalid_request_error",
                        "code": "invalid_value",
                        "message": str(exc),
                    }
                }
            )
            return
        self.dialect = self._choose_dialect()
        await super().get(*args, **kwargs)

    def check_origin(self, origin: str) -> bool:
        # Non-browser clients send no Origin. A browser page may connect when it presents the
        # key (checked in get) or, on a keyless loopback server, when it is itself local.
        if self.state.api_key is not None:
            return True
        return is_loopback(urlparse(origin).hostname or "")

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        # Echo "realtime" when offered (browsers require the server to pick one they sent).
        return "realtime" if "realtime" in subprotocols else None

    # -- session --------------------------------------------------------------------
    async def open(self, *args: Any, **kwargs: Any) -> None:
        self.set_nodelay(True)  # small realtime frames: don't let Nagle hold them ~40 ms
        close_invalid_utf8_with_1007(self.ws_connection)
        brain: Brain | None = self.state.brain_factory() if self.state.brain_factory else None
        self.session = EngineSession(
            self._send,
            speech=self.state.speech,
            brain=brain,
            model=self._model(),
            limits=self.state.limits,
            scheduler=self.state.scheduler,
        )
        self.state.sessions.add(self.session)
        await self.session.start()

    async def on_message(self, message: str | bytes) -> None:
        session = self.session
        if session is None:
            return
        try:
            event = load_json_event(message)  # refused exactly as the preview parser refuses it
        except ProtocolError as err:
            await session.emit(err.to_event())
            return
        problem = wrong_dialect(event, self.dialect)
        if problem is not None:  # already named in the client's own dialect
            await self._write(problem.to_event())
            return
        if self.dialect == "preview":
            await session.handle(event)  # parsed once: the dict goes on
            return
        try:
            translated = ga.client_ga_to_preview(event)
        except Exception:
            await session.handle(event)  # let the parser describe what is wrong
            return
        for preview_event in translated:
            await session.handle(preview_event)

    async def _send(self, event: dict[str, Any]) -> None:
        for out in [event] if self.dialect == "preview" else ga.server_preview_to_ga(event):
            if server_event_allowed(out["type"], self.dialect, self.opt_in):
                await self._write(
                    out
                )  # (e.g. conversation.created would close a spec-strict client)

    async def _write(self, event: dict[str, Any]) -> None:
        if self._closed:
            return
        try:
            await self.write_message(dumps_json(event))
        except tornado.websocket.WebSocketClosedError:
            self._closed = True

    def on_close(self) -> None:
        self._closed = True
        session, self.session = self.session, None
        if session is not None:
            self.state.sessions.discard(session)
            asyncio.ensure_future(self._end(session))

    async def _end(self, session: EngineSession) -> None:
        await session.close()
        if self.state.brain_factory is not None:  # its brain was made for this session
            await close_brain(session.brain)


def make_app(state: ServerState) -> tornado.web.Application:
    routes = [
        (r"/v1/realtime/?", RealtimeSocket, {"state": state, "route": "openai"}),
        (r"/openai/realtime/?", RealtimeSocket, {"state": state, "route": "azure-preview"}),
        (r"/openai/v1/realtime/?", RealtimeSocket, {"state": state, "route": "azure-ga"}),
    ]
    return tornado.web.Application(routes, websocket_max_message_size=MAX_MESSAGE_BYTES)


async def start_server(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    api_key: str | None = None,
    speech: SpeechStack | None = None,
    brain_factory: Any = None,
    limits: SessionLimits | None = None,
    scheduler: InferenceScheduler | None = None,
) -> tuple[Any, int, ServerState]:
    """Start listening; returns (tornado HTTPServer, bound port, state). ``limits``: the
    caps of each session (engine/limits.py); ``scheduler``: the inference scheduler
    (default: the process-wide one, engine/scheduler.py).

    An empty (or blank) key is no key: it would turn authentication off and admit any
    Origin, so a non-loopback host refuses it like a missing one."""
    if api_key is not None and not api_key.strip():
        api_key = None
    if api_key is None and not is_loopback(host):
        raise ValueError(
            f"refusing to listen on {host!r} without a non-empty --api-key "
            "(or REALTIME_WIDGET_SERVE_API_KEY): anyone on the network could use it"
        )
    state = ServerState(
        api_key=api_key,
        speech=speech,
        brain_factory=brain_factory,
        limits=limits or SessionLimits(),
        scheduler=scheduler,
    )
    sockets = tornado.netutil.bind_sockets(port, address=host)
    server = tornado.httpserver.HTTPServer(make_app(state))
    server.add_sockets(sockets)
    return server, sockets[0].getsockname()[1], state
