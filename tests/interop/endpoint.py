"""Where a third-party client connects: one description shared by every driver.

An ``Endpoint`` names a server (the local engine's ``realtime-widget serve``, or a hub
session) by the base URLs each family of client is configured with, and the key it
presents. A *route* is how the client reaches it:

==============  ===================================================  ========
route           URL the client opens                                 dialect
==============  ===================================================  ========
openai-ga       ``{openai_base}/realtime?model=M``                   GA
openai-preview  same, with header ``OpenAI-Beta: realtime=v1``       preview
azure-preview   ``{azure_base}/openai/realtime?api-version=…&         preview
                deployment=D`` (key in the ``api-key`` header)
azure-ga        ``{azure_ga_base}/realtime?model=M``                 GA
==============  ===================================================  ========

Every driver in this package takes ``(endpoint, route)`` and connects the way its
client's authors document, so the same scenarios run against the engine and the hub.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit

OPENAI_GA = "openai-ga"
OPENAI_PREVIEW = "openai-preview"
AZURE_PREVIEW = "azure-preview"
AZURE_GA = "azure-ga"
ROUTES = (OPENAI_GA, OPENAI_PREVIEW, AZURE_PREVIEW, AZURE_GA)
PREVIEW_ROUTES = (OPENAI_PREVIEW, AZURE_PREVIEW)
AZURE_PREVIEW_API_VERSION = "2024-10-01-preview"  # what rtclient and rt-client send


def dialect(route: str) -> str:
    """``"preview"`` or ``"ga"``: what a client on ``route`` speaks."""
    if route not in ROUTES:
        raise ValueError(f"unknown route {route!r}; expected one of {ROUTES}")
    return "preview" if route in PREVIEW_ROUTES else "ga"


def _ws(url: str) -> str:
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, *parts[1:]))


def _http(url: str) -> str:
    parts = urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, *parts[1:]))


@dataclass(frozen=True)
class Endpoint:
    """A realtime server as third-party clients see it.

    ``root``: the server's origin plus any path prefix (``http://127.0.0.1:8765``); the
    other bases default to the engine's layout under it. ``openai_base`` is what the
    OpenAI SDKs take as ``websocket_base_url`` (they append ``/realtime``);
    ``azure_base`` is the Azure "endpoint" (clients append ``/openai/realtime``; npm
    rt-client replaces the URL's whole path with it); ``azure_ga_base`` the Azure GA
    base (``…/openai/v1``). ``model`` goes in ``?model=``, ``deployment`` (default: the
    model) in ``?deployment=``. ``name`` labels the target in messages ("engine", "hub").
    """

    root: str
    api_key: str
    model: str = "local-realtime"
    deployment: str | None = None
    openai_base: str | None = None
    azure_base: str | None = None
    azure_ga_base: str | None = None
    name: str = "engine"

    # -- bases, http(s) or ws(s) as each client wants them ---------------------------
    def openai_ws_base(self) -> str:
        return _ws(self.openai_base or f"{self.root.rstrip('/')}/v1")

    def azure_endpoint(self) -> str:
        return _http(self.azure_base or self.root).rstrip("/")

    def azure_ga_ws_base(self) -> str:
        return _ws(self.azure_ga_base or f"{self.root.rstrip('/')}/openai/v1")

    @property
    def deployment_name(self) -> str:
        return self.deployment or self.model

    # -- full URLs (for clients that take one) ----------------------------------------
    def url(self, route: str) -> str:
        """The WebSocket URL a client on ``route`` opens (headers aside)."""
        dialect(route)
        if route in (OPENAI_GA, OPENAI_PREVIEW):
            return f"{self.openai_ws_base()}/realtime?{urlencode({'model': self.model})}"
        if route == AZURE_GA:
            return f"{self.azure_ga_ws_base()}/realtime?{urlencode({'model': self.model})}"
        query = urlencode(
            {"api-version": AZURE_PREVIEW_API_VERSION, "deployment": self.deployment_name}
        )
        return f"{_ws(self.azure_endpoint())}/openai/realtime?{query}"

    def origin(self) -> tuple[str, int]:
        """``(host, port)`` of the server, for clients that hard-code their host."""
        parts = urlsplit(_http(self.root))
        return parts.hostname or "127.0.0.1", parts.port or (443 if parts.scheme == "https" else 80)
