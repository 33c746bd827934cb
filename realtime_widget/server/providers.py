"""Upstream providers: where a hub session's realtime conversation actually runs.

Every upstream speaks the **preview** dialect to the hub (``on_event`` gets preview
server events, ``send`` takes preview client events) whatever it speaks on its wire:

============  ===========================================================  ==========
provider      connection                                                   dialect
============  ===========================================================  ==========
``local``     the embedded engine (``EngineSession``), in process          preview
``openai``    ``<openai_url>?model=M``, ``Authorization: Bearer K``         GA
``azure``     ``<endpoint>/openai/v1/realtime?model=D`` (GA), or with an    GA, or
              ``azure_api_version``: ``/openai/realtime?api-version=V&      preview
              deployment=D``; ``api-key: K`` or an Entra ID bearer token
``url``       any realtime URL allowed by ``url_allowlist`` (e.g. another   preview
              ``realtime-widget serve``), ``Authorization: Bearer K``       (or GA)
============  ===========================================================  ==========

Credentials come only from the server's configuration or environment
(:class:`ProviderSettings`); nothing a client sends can choose a key.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urlparse, urlunparse

import tornado.httpclient
import tornado.websocket

from ..protocol import ga, loads_json
from .wsframes import write_text

log = logging.getLogger(__name__)

OnEvent = Callable[[dict[str, Any], "str | None"], None]
OnClosed = Callable[[str], None]

PROVIDERS = ("local", "openai", "azure", "url")
DEFAULT_URL_ALLOWLIST = (r"^wss?://(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?(/.*)?$",)
AZURE_SCOPE = "https://cognitiveservices.azure.com/.default"
UPSTREAM_MAX_MESSAGE_BYTES = 64 * 1024 * 1024
_dumps = json.JSONEncoder(separators=(",", ":")).encode


class HubError(Exception):
    """A request the hub refuses: HTTP ``status``, a machine ``code`` and a message."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class UpstreamError(Exception):
    """Connecting to the upstream failed. ``permanent``: retrying will not help."""

    def __init__(self, message: str, *, permanent: bool = False, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.status = status


@dataclass
class ProviderSettings:
    """Server-side provider configuration (traitlets or environment; never from clients)."""

    local_speech: bool = True
    local_model: str = "local-realtime"
    openai_api_key: str | None = None
    openai_url: str = "wss://api.openai.com/v1/realtime"
    openai_model: str = "gpt-realtime"
    azure_endpoint: str | None = None
    azure_api_key: str | None = None
    azure_deployment: str | None = None
    azure_api_version: str | None = None  # set (e.g. 2024-10-01-preview) for the preview route
    azure_auth: str = "auto"  # "key", "entra" or "auto" (key when one is set)
    url_allowlist: list[str] = field(default_factory=lambda: list(DEFAULT_URL_ALLOWLIST))
    url_api_key: str | None = None
    url_dialect: str = "preview"
    connect_timeout: float = 20.0

    def secrets(self) -> list[str]:
        """Every credential, for redaction of anything a client may see."""
        return [s for s in (self.openai_api_key, self.azure_api_key, self.url_api_key) if s]

    def available(self) -> dict[str, dict[str, Any]]:
        """What a client may know about the providers (never a key)."""
        return {
            "local": {"available": True, "model": self.local_model, "speech": self.local_speech},
            "openai": {"available": bool(self.openai_api_key), "model": self.openai_model},
            "azure": {
                "available": bool(self.azure_endpoint and (self.azure_api_key or self.azure_auth in ("entra", "auto"))),
                "model": self.azure_deployment,
                "dialect": "preview" if self.azure_api_version else "ga",
            },
            "url": {"available": bool(self.url_allowlist)},
        }

    def default_model(self, provider: str) -> str:
        if provider == "local":
            return self.local_model
        if provider == "openai":
            return self.openai_model
        if provider == "azure":
            return self.azure_deployment or ""
        return ""


def redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


# ---------------------------------------------------------------------- the speech stack

_speech_lock = threading.Lock()
_speech_state: dict[str, Any] = {}


def _load_speech_blocking() -> Any:
    with _speech_lock:
        if "stack" not in _speech_state:
            try:
                from ..engine.speech_stack import SpeechStack

                _speech_state["stack"] = SpeechStack.load()
            except Exception as exc:  # not installed, or models failed: text-only engine
                log.warning("realtime-widget: the offline speech models are not available (%s); "
                            "the local engine runs text-only", exc)
                _speech_state["stack"] = None
        return _speech_state["stack"]


async def shared_speech_stack() -> Any:
    """The process-wide offline speech stack, loaded once in a worker thread (None when
    the ``[local]`` extra is missing)."""
    if "stack" in _speech_state:
        return _speech_state["stack"]
    return await asyncio.get_running_loop().run_in_executor(None, _load_speech_blocking)


def set_shared_speech_stack(stack: Any) -> None:
    """Use an already loaded stack (tests, embedding applications)."""
    with _speech_lock:
        _speech_state["stack"] = stack


# ---------------------------------------------------------------------- upstreams


class Upstream:
    """One connection to a realtime service. ``on_event(event, text)`` receives preview
    server events (``text`` is the event's exact JSON when the hub may reuse it);
    ``on_closed(reason)`` is called once when the connection ends without ``close()``."""

    provider = "?"
    dialect = "preview"

    def __init__(self, model: str, on_event: OnEvent, on_closed: OnClosed):
        self.model = model
        self.on_event = on_event
        self.on_closed = on_closed
        self.closing = False

    async def connect(self) -> None:
        raise NotImplementedError

    async def send(self, event: dict[str, Any], text: str | None = None) -> None:
        """Send one preview client event (``text``: its exact JSON, when known)."""
        raise NotImplementedError

    def send_nowait(self, event: dict[str, Any], text: str | None = None) -> bool:
        """Send at once if that needs no waiting; False means "use :meth:`send`"
        (nothing was sent). May raise what :meth:`send` raises."""
        return False

    async def close(self) -> None:
        self.closing = True

    def describe(self) -> str:
        return self.provider


class LocalUpstream(Upstream):
    provider = "local"

    def __init__(self, model: str, on_event: OnEvent, on_closed: OnClosed, *, speech: bool = True, brain_factory: Any = None):
        super().__init__(model, on_event, on_closed)
        self._use_speech = speech
        self._brain_factory = brain_factory
        self.engine: Any = None

    async def connect(self) -> None:
        from ..engine.session import EngineSession

        speech = await shared_speech_stack() if self._use_speech else None
        brain = self._brain_factory() if self._brain_factory else None
        self.engine = EngineSession(self._from_engine, speech=speech, brain=brain, model=self.model)
        await self.engine.start()

    async def _from_engine(self, event: dict[str, Any]) -> None:
        if not self.closing:
            self.on_event(event, None)

    async def send(self, event: dict[str, Any], text: str | None = None) -> None:
        if self.engine is None or self.closing:
            raise ConnectionError("the local engine session is closed")
        await self.engine.handle(event)

    async def close(self) -> None:
        await super().close()
        if self.engine is not None:
            await self.engine.close()

    def describe(self) -> str:
        return "the local engine"


class WebSocketUpstream(Upstream):
    """A realtime service over a WebSocket, GA or preview dialect."""

    def __init__(
        self,
        provider: str,
        url: str,
        headers: dict[str, str],
        dialect: str,
        model: str,
        on_event: OnEvent,
        on_closed: OnClosed,
        *,
        connect_timeout: float = 20.0,
        token_provider: Callable[[], Any] | None = None,
    ):
        super().__init__(model, on_event, on_closed)
        self.provider = provider
        self.url = url
        self.dialect = dialect
        self._headers = headers
        self._token_provider = token_provider
        self._connect_timeout = connect_timeout
        self._ws: tornado.websocket.WebSocketClientConnection | None = None
        self._reader: asyncio.Task | None = None
        self._ended: asyncio.Future[None] | None = None  # done when the connection has ended
        self._last_write: Any = None

    def describe(self) -> str:
        parts = urlparse(self.url)
        return f"{self.provider} ({parts.scheme}://{parts.netloc}{parts.path})"

    async def connect(self) -> None:
        headers = dict(self._headers)
        if self._token_provider is not None:
            try:
                token = await asyncio.get_running_loop().run_in_executor(None, self._token_provider)
            except Exception as exc:
                raise UpstreamError(f"could not get an Entra ID token: {type(exc).__name__}", permanent=True) from None
            headers["Authorization"] = f"Bearer {token}"
        self._ended = asyncio.get_running_loop().create_future()
        request = tornado.httpclient.HTTPRequest(
            self.url,
            headers=headers,
            connect_timeout=self._connect_timeout,
            request_timeout=self._connect_timeout,
            validate_cert=True,
        )
        try:
            self._ws = await tornado.websocket.websocket_connect(
                request,
                max_message_size=UPSTREAM_MAX_MESSAGE_BYTES,
                ping_interval=20,
                ping_timeout=30,
                # a callback, not read_message(): no queue hand-off and task wake-up per event
                on_message_callback=self._on_message,
            )
        except tornado.httpclient.HTTPClientError as exc:
            permanent = exc.code in (400, 401, 403, 404)
            raise UpstreamError(
                f"{self.describe()} refused the connection: HTTP {exc.code} {exc.message or ''}".strip(),
                permanent=permanent,
                status=exc.code,
            ) from None
        except (OSError, asyncio.TimeoutError, tornado.websocket.WebSocketError) as exc:
            raise UpstreamError(f"cannot reach {self.describe()}: {type(exc).__name__}: {exc}") from None
        except Exception as exc:  # anything else while connecting: retryable
            raise UpstreamError(f"cannot connect to {self.describe()}: {type(exc).__name__}: {exc}") from None
        _nodelay(self._ws)
        self._reader = asyncio.ensure_future(self._watch_close(self._ws))

    def _on_message(self, message: str | bytes | None) -> None:
        """Every frame from the upstream, then None when the connection ends. Runs inside
        Tornado's frame reader: it must not raise (Tornado would drop the connection)."""
        if message is None:
            if self._ended is not None and not self._ended.done():
                self._ended.set_result(None)
            return
        try:
            if isinstance(message, bytes):
                try:
                    message = message.decode("utf-8")
                except UnicodeDecodeError:
                    return
            try:
                event = loads_json(message)
            except ValueError:
                self.on_event(_upstream_garbage("the upstream sent a frame that is not JSON"), None)
                return
            if not isinstance(event, dict) or not isinstance(event.get("type"), str):
                self.on_event(_upstream_garbage("the upstream sent a frame that is not an event object"), None)
                return
            if self.dialect == "ga":
                for translated in ga.server_ga_to_preview(event):
                    self.on_event(translated, None)
            else:
                self.on_event(event, message)
        except Exception:  # a bug of ours must not stop the relay
            log.exception("realtime-widget: failed to relay an upstream event")

    async def _watch_close(self, ws: tornado.websocket.WebSocketClientConnection) -> None:
        assert self._ended is not None
        await self._ended
        if not self.closing:
            code, reason = ws.close_code, ws.close_reason
            detail = f"close code {code}" + (f" ({reason})" if reason else "") if code else "connection lost"
            self.on_closed(f"{self.describe()}: {detail}")

    def _frames(self, event: dict[str, Any], text: str | None) -> list[str]:
        if self.dialect == "ga":
            return [_dumps(out) for out in ga.client_preview_to_ga(event)]
        return [text if text is not None else _dumps(event)]

    def _write(self, ws: tornado.websocket.WebSocketClientConnection, frame: str) -> None:
        self._last_write = write_text(ws.protocol, frame)  # a closed connection: WebSocketClosedError
        if self._last_write.done():  # the usual case: written at once (no callback to schedule)
            _consume_error(self._last_write)
        else:
            self._last_write.add_done_callback(_consume_error)

    def send_nowait(self, event: dict[str, Any], text: str | None = None) -> bool:
        ws = self._ws
        previous = self._last_write
        if ws is None or self.closing or (previous is not None and not previous.done()):
            return False
        for frame in self._frames(event, text):
            self._write(ws, frame)
        return True

    async def send(self, event: dict[str, Any], text: str | None = None) -> None:
        ws = self._ws
        if ws is None or self.closing:
            raise ConnectionError("the upstream connection is closed")
        for frame in self._frames(event, text):
            # Wait for the previous write only if it is still in flight (backpressure when
            # the upstream is slow); the usual write completes at once.
            previous = self._last_write
            if previous is not None and not previous.done():
                await previous
            self._write(ws, frame)

    async def close(self) -> None:
        await super().close()
        if self._ws is not None:
            self._ws.close(1000, "session closed")
        if self._reader is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._reader), 2.0)
            except (asyncio.TimeoutError, Exception):
                self._reader.cancel()

    def abort(self) -> None:
        """Drop the TCP connection without a close handshake (tests, benchmarks)."""
        if self._ws is not None and self._ws.protocol is not None:
            stream = getattr(self._ws.protocol, "stream", None)
            if stream is not None:
                stream.close()


def _consume_error(future: Any) -> None:
    if not future.cancelled():
        future.exception()  # a failed write is seen by the reader as a closed connection


def _nodelay(ws: Any) -> None:
    """Send small realtime frames at once (no Nagle delay)."""
    protocol = getattr(ws, "protocol", None)
    if protocol is not None:
        try:
            protocol.set_nodelay(True)
        except Exception:
            pass


def _upstream_garbage(message: str) -> dict[str, Any]:
    return {
        "type": "error",
        "error": {"type": "server_error", "code": "upstream_invalid_event", "message": message},
    }


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlparse(url)
    query = parts.query + ("&" if parts.query and params else "") + urlencode(params, quote_via=quote)
    return urlunparse(parts._replace(query=query))


def _ws_scheme(url: str) -> str:
    url = url.rstrip("/")
    if url.startswith("https://"):
        return "wss://" + url[len("https://") :]
    if url.startswith("http://"):
        return "ws://" + url[len("http://") :]
    if not re.match(r"^wss?://", url):
        return "wss://" + url
    return url


def _entra_token_provider() -> Callable[[], str]:
    try:
        from azure.identity import DefaultAzureCredential  # type: ignore[import-not-found]
    except ImportError:
        raise HubError(
            400, "provider_not_configured", "azure: no azure_api_key is configured and azure-identity is not installed"
        ) from None
    credential = DefaultAzureCredential()

    def get() -> str:
        return credential.get_token(AZURE_SCOPE).token

    return get


def make_upstream(
    settings: ProviderSettings,
    provider: str,
    *,
    model: str | None,
    url: str | None,
    on_event: OnEvent,
    on_closed: OnClosed,
    brain_factory: Any = None,
) -> Upstream:
    """The upstream for a create request; ``HubError`` (400) when it cannot be made."""
    if provider not in PROVIDERS:
        raise HubError(400, "invalid_value", f"provider: must be one of {', '.join(PROVIDERS)}, got {provider!r}")
    if model is not None and (not isinstance(model, str) or not re.match(r"^[A-Za-z0-9._:/-]{1,128}$", model)):
        raise HubError(400, "invalid_value", "model: expected a model or deployment name (letters, digits, . _ : / -)")
    if provider == "local":
        return LocalUpstream(model or settings.local_model, on_event, on_closed, speech=settings.local_speech, brain_factory=brain_factory)
    timeout = settings.connect_timeout
    if provider == "openai":
        if not settings.openai_api_key:
            raise HubError(400, "provider_not_configured", "openai: no API key is configured on the server (OPENAI_API_KEY)")
        model = model or settings.openai_model
        return WebSocketUpstream(
            "openai",
            _with_query(_ws_scheme(settings.openai_url), {"model": model}),
            {"Authorization": f"Bearer {settings.openai_api_key}"},
            "ga",
            model,
            on_event,
            on_closed,
            connect_timeout=timeout,
        )
    if provider == "azure":
        if not settings.azure_endpoint:
            raise HubError(400, "provider_not_configured", "azure: no endpoint is configured on the server (AZURE_OPENAI_ENDPOINT)")
        deployment = model or settings.azure_deployment
        if not deployment:
            raise HubError(400, "missing_required_parameter", "model: the Azure deployment name is required")
        base = _ws_scheme(settings.azure_endpoint)
        headers: dict[str, str] = {}
        token_provider = None
        use_key = settings.azure_auth == "key" or (settings.azure_auth == "auto" and settings.azure_api_key)
        if use_key:
            if not settings.azure_api_key:
                raise HubError(400, "provider_not_configured", "azure: no API key is configured on the server (AZURE_OPENAI_API_KEY)")
            headers["api-key"] = settings.azure_api_key
        else:
            token_provider = _entra_token_provider()
        if settings.azure_api_version:
            target = _with_query(base + "/openai/realtime", {"api-version": settings.azure_api_version, "deployment": deployment})
            dialect = "preview"
        else:
            target = _with_query(base + "/openai/v1/realtime", {"model": deployment})
            dialect = "ga"
        return WebSocketUpstream(
            "azure", target, headers, dialect, deployment, on_event, on_closed, connect_timeout=timeout, token_provider=token_provider
        )
    # provider == "url"
    if not isinstance(url, str) or not url:
        raise HubError(400, "missing_required_parameter", "url: required for provider 'url'")
    if not any(re.match(p, url) for p in settings.url_allowlist):
        raise HubError(403, "url_not_allowed", "url: not allowed by the server's url_allowlist")
    target = _with_query(url, {"model": model}) if model and "model=" not in url else url
    dialect = settings.url_dialect if settings.url_dialect in ("preview", "ga") else "preview"
    headers = {"OpenAI-Beta": "realtime=v1"} if dialect == "preview" else {}
    if settings.url_api_key:
        headers["Authorization"] = f"Bearer {settings.url_api_key}"
    return WebSocketUpstream("url", target, headers, dialect, model or "", on_event, on_closed, connect_timeout=timeout)
