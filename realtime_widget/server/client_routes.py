"""Hub routes for third-party realtime clients, shaped like the services they expect.

A client points its own base-URL setting at a hub session and uses the Jupyter token as
its API key; the session's key stays on the server and every event lands in the
session's log. Paths are under the server's ``base_url``:

==========================================================  =========  ==========================
path                                                         dialect    for
==========================================================  =========  ==========================
``realtime/sessions/<id>/v1/realtime?model=<any>``           GA;        ``openai`` SDK
                                                             preview    (``websocket_base_url=
                                                             with       .../sessions/<id>/v1``),
                                                             ``OpenAI-  ``openai-agents`` (model
                                                             Beta:      config ``url``), the SDK's
                                                             realtime=  beta client
                                                             v1``
``realtime/sessions/<id>/openai/realtime?api-version=…``     preview    Azure-style preview clients
                                                                        keeping the endpoint's path
``realtime/sessions/<id>/openai/v1/realtime?model=<any>``    GA         Azure-style GA clients
``openai/realtime?api-version=…&deployment=<id>``            preview    ``rt-client`` and
                                                                        ``rtclient``: both replace
                                                                        the endpoint's path with
                                                                        ``/openai/realtime``, so the
                                                                        deployment names the session
==========================================================  =========  ==========================

Authentication is Jupyter's own (token in ``Authorization: Bearer``/``token``, or
``?token=``, or the login cookie), then the server's authorizer (``write`` on
``realtime``), and the origin check of every hub route. The Azure-style routes also read
an ``api-key`` header (how ``rt-client`` and ``rtclient`` send an ``AzureKeyCredential``):
it is handed to Jupyter's identity provider as the request's token, on these routes
only, and only when no ``Authorization`` header is present.

These clients expect a fresh connection: they first get one ``session.created`` with
the session as it is now (not the session's history; ``after=<seq>`` asks for the
replay), then every live event in their dialect (``client_views.py``).
"""

from __future__ import annotations

from typing import Any

from tornado import web

from ..hub.views import View
from ..protocol.dialects import dialect_of_handshake, offered_subprotocols
from .handlers import SessionSocket

__all__ = ["ClientRouteSocket", "client_routes"]


class ClientRouteSocket(SessionSocket):
    """A hub session's socket for a third-party client (see the module docs)."""

    route = "openai"  # "openai", "azure-preview" or "azure-ga"

    def initialize(self, route: str) -> None:  # type: ignore[override]
        self.route = route

    def prepare(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        headers = self.request.headers
        if (
            self.route.startswith("azure")
            and "api-key" in headers
            and "Authorization" not in headers
        ):
            headers["Authorization"] = "token " + headers["api-key"].strip()
        return super().prepare(*args, **kwargs)

    async def get(self, session_id: str | None = None) -> None:  # type: ignore[override]
        if session_id is None:  # the root Azure route: the deployment names the session
            session_id = self.get_query_argument("deployment", "") or ""
        await super().get(session_id)

    def _read_route(self) -> None:
        if self.session is not None and not self.session.live:
            # nothing could happen on it: say so at the handshake, as a service would
            raise web.HTTPError(
                409,
                f"the session is {self.session.status}: resume it first (POST "
                f"realtime/sessions/<id>/resume)",
            )
        raw = self.get_query_argument("after", None)
        try:
            self._after = None if raw in (None, "") else max(0, int(raw))
        except ValueError:
            raise web.HTTPError(400, "after: expected an integer") from None
        self.view = View(self._dialect(), self._opt_in())
        self._source = "other"

    def _offered_subprotocols(self) -> list[str]:
        return offered_subprotocols(self.request.headers.get("Sec-WebSocket-Protocol", ""))

    def _dialect(self) -> str:
        return dialect_of_handshake(
            self.route, self.request.headers.get("OpenAI-Beta", ""), self._offered_subprotocols()
        )

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        # browsers require the server to pick one they offered (as the services do)
        return "realtime" if "realtime" in subprotocols else None


def client_routes() -> list[tuple[str, type, dict[str, Any]]]:
    sid = r"(?P<session_id>[^/]+)"
    return [
        (rf"/realtime/sessions/{sid}/v1/realtime/?", ClientRouteSocket, {"route": "openai"}),
        (
            rf"/realtime/sessions/{sid}/openai/realtime/?",
            ClientRouteSocket,
            {"route": "azure-preview"},
        ),
        (
            rf"/realtime/sessions/{sid}/openai/v1/realtime/?",
            ClientRouteSocket,
            {"route": "azure-ga"},
        ),
        (r"/openai/realtime/?", ClientRouteSocket, {"route": "azure-preview"}),
    ]
