"""HTTP and WebSocket handlers of the hub, all under ``<base_url>realtime/``.

Every handler needs Jupyter authentication and asks the server's authorizer (resource
``"realtime"``; GET = ``read``, POST / DELETE and the WebSocket = ``write``). Requests
that carry a foreign ``Origin`` are refused even when token-authenticated (unless the
server's ``allow_origin`` / ``allow_origin_pat`` admit it, or ``strict_origin`` is off);
requests without an ``Origin`` (scripts, the kernel) are not affected. Nothing a
handler sends contains a provider credential.

Per-user authorization comes on top of the authorizer: every session route serves only
the requesting user's own sessions (another user's is a 404, as if it did not exist),
and the list shows only theirs. With Jupyter's own identity providers (one person runs
the server) every session belongs to that person.
"""

from __future__ import annotations

import io
import json
import os
import wave
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized, ws_authenticated
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from tornado import web
from tornado.websocket import WebSocketHandler

from .._version import __version__
from ..hub import Hub, HubSession
from ..hub.upstreams import HubError, redact
from ..hub.views import HUB_VIEW, View, client_frame
from ..protocol.audience import EVENTS_QUERY_PARAM, parse_events_opt_in
from ..wsframes import close_invalid_utf8_with_1007, write_text

AUTH_RESOURCE = "realtime"
_SID = r"(?P<session_id>[^/]+)"


def _hub(handler: web.RequestHandler) -> Hub:
    return handler.settings["realtime_widget_hub"]


SINGLE_USER = "owner"


def _single_user(handler: JupyterHandler) -> bool:
    """Jupyter's own identity providers (token / password) stand for the one person who
    runs the server, and give a new random "anonymous" name to every token-authenticated
    request. Other providers (JupyterHub's) name real users."""
    return type(handler.identity_provider).__module__.startswith("jupyter_server.")


def _user(handler: JupyterHandler) -> str:
    """Who owns the sessions a request creates: ``"owner"`` on a single-user server,
    else the user's name."""
    if _single_user(handler):
        return SINGLE_USER
    user = handler.current_user
    return getattr(user, "username", None) or str(user or "anonymous")


def _may_see(handler: JupyterHandler, owner: Any) -> bool:
    """Per-user authorization, in addition to the authorizer's ``realtime`` permission:
    a user sees only the sessions they own. On a single-user server everything
    belongs to that user (also logs written by a kernel or under another name)."""
    return _single_user(handler) or owner == _user(handler)


async def _owned_session(handler: JupyterHandler, session_id: str) -> HubSession:
    """The session ``session_id`` if the requesting user owns it; another user's session
    is reported missing (404), exactly like one that does not exist."""
    session = await _hub(handler).get(session_id)
    if not _may_see(handler, session.owner):
        handler.log.warning(
            "realtime-widget: user %r was refused session %s of another user",
            _user(handler),
            session_id,
        )
        raise HubError(404, "session_not_found", "no such session")
    return session


class _StrictOrigin:
    """Origin policy shared by the REST and WebSocket handlers."""

    def skip_check_origin(self) -> bool:  # type: ignore[override]
        if self.request.method == "OPTIONS":  # type: ignore[attr-defined]
            return True
        app = self.settings.get("realtime_widget_app")  # type: ignore[attr-defined]
        if app is not None and not app.strict_origin:
            return JupyterHandler.skip_check_origin(self)  # type: ignore[arg-type]
        return False


class RealtimeAPIHandler(_StrictOrigin, APIHandler):
    auth_resource = AUTH_RESOURCE

    async def prepare(self) -> None:  # type: ignore[override]
        await JupyterHandler.prepare(
            self
        )  # authentication (APIHandler's 404 on origin is replaced below)
        if not self.check_origin():
            raise web.HTTPError(403, "cross-origin request refused")

    @property
    def hub(self) -> Hub:
        return _hub(self)

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, HubError):  # a refused request, not a server bug
            self.log.info(
                "realtime-widget: %s %s -> %s %s",
                self.request.method,
                self.request.path,
                value.status,
                value.code,
            )
            return
        super().log_exception(typ, value, tb)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, HubError):
            self.set_status(exc.status)
            self._json({"error": {"code": exc.code, "message": self._redact(exc.message)}})
            return
        message = "error"
        if isinstance(exc, web.HTTPError):
            message = exc.log_message or exc.reason or message
        elif exc is not None:
            message = "internal error"
        self._json(
            {"error": {"code": f"http_{status_code}", "message": self._redact(str(message))}}
        )

    def _redact(self, text: str) -> str:
        return redact(text, self.hub.config.providers.secrets())

    def _json(self, obj: Any, status: int | None = None) -> None:
        if status is not None:
            self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(self._redact(json.dumps(obj)))

    def _body(self) -> dict[str, Any]:
        if not self.request.body:
            return {}
        try:
            body = json.loads(self.request.body)
        except ValueError:
            raise HubError(400, "invalid_json", "the request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise HubError(400, "invalid_type", "the request body must be a JSON object")
        return body

    def _int_arg(self, name: str, default: int, lo: int, hi: int) -> int:
        raw = self.get_query_argument(name, None)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise HubError(400, "invalid_value", f"{name}: expected an integer") from None
        return max(lo, min(hi, value))

    def _audio_arg(self, default: str) -> str:
        audio = self.get_query_argument("audio", default)
        if audio not in ("ref", "inline", "omit"):
            raise HubError(400, "invalid_value", "audio: one of ref, inline, omit")
        return audio


class StatusHandler(RealtimeAPIHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        cfg = self.hub.config
        self._json(
            {
                "version": __version__,
                "providers": cfg.providers.available(),
                "limits": {
                    "max_sessions_per_user": cfg.max_sessions_per_user,
                    "max_clients_per_session": cfg.max_clients_per_session,
                    "max_message_bytes": cfg.max_message_bytes,
                },
            }
        )


class SessionsHandler(RealtimeAPIHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self._json(
            {"sessions": [s for s in await self.hub.list() if _may_see(self, s.get("owner"))]}
        )

    @web.authenticated
    @authorized
    async def post(self) -> None:
        session = await self.hub.create(_user(self), self._body())
        self._json(session.summary(), status=201)


class SessionHandler(RealtimeAPIHandler):
    @web.authenticated
    @authorized
    async def get(self, session_id: str) -> None:
        session = await _owned_session(self, session_id)
        self._json(session.summary(state=True))

    @web.authenticated
    @authorized
    async def delete(self, session_id: str) -> None:
        purge = self.get_query_argument("purge", "0") in ("1", "true", "yes")
        await _owned_session(self, session_id)
        await self.hub.close(session_id, purge=purge)
        self.set_status(204)
        self.finish()


class ResumeHandler(RealtimeAPIHandler):
    @web.authenticated
    @authorized
    async def post(self, session_id: str) -> None:
        await _owned_session(self, session_id)
        session = await self.hub.resume(session_id, _user(self))
        self._json(session.summary())


class EventsHandler(RealtimeAPIHandler):
    @web.authenticated
    @authorized
    async def get(self, session_id: str) -> None:
        after = self._int_arg("after", 0, 0, 2**62)
        limit = self._int_arg("limit", 100, 1, 1000)
        types = [t for arg in self.get_query_arguments("type") for t in arg.split(",") if t]
        await _owned_session(self, session_id)
        result = await self.hub.events(
            session_id, after=after, limit=limit, types=types or None, audio=self._audio_arg("ref")
        )
        self._json(result)


class ExportHandler(RealtimeAPIHandler):
    @web.authenticated
    @authorized
    async def get(self, session_id: str) -> None:
        audio = self._audio_arg("inline")
        await _owned_session(self, session_id)
        self.set_header("Content-Type", "application/x-ndjson")
        self.set_header("Content-Disposition", f'attachment; filename="{session_id}.jsonl"')
        async for chunk in self.hub.export(session_id, audio=audio):
            self.write(chunk)
            await self.flush()
        self.finish()

    @web.authenticated
    @authorized
    async def post(self, session_id: str) -> None:
        body = self._body()
        audio = body.get("audio", "inline")
        if audio not in ("ref", "inline", "omit"):
            raise HubError(400, "invalid_value", "audio: one of ref, inline, omit")
        await _owned_session(self, session_id)
        root = Path(self.settings["realtime_widget_export_dir"]).resolve()
        target = safe_export_path(root, body.get("path"))
        if target.exists() and not body.get("overwrite"):
            raise HubError(
                409, "exists", "path: the file exists (send overwrite: true to replace it)"
            )
        chunks = [chunk async for chunk in self.hub.export(session_id, audio=audio)]

        def write() -> int:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + ".part")
            with open(tmp, "wb") as f:
                f.writelines(chunks)
            os.replace(tmp, target)
            return target.stat().st_size

        import asyncio

        size = await asyncio.get_running_loop().run_in_executor(None, write)
        self._json({"path": target.relative_to(root).as_posix(), "bytes": size}, status=201)


def safe_export_path(root: Path, path: Any) -> Path:
    """``root / path`` for a relative ``*.jsonl`` path that stays inside ``root`` (also
    through symlinks); ``HubError`` 400/403 otherwise."""
    if not isinstance(path, str) or not path or "\x00" in path or len(path) > 1024:
        raise HubError(400, "invalid_value", "path: expected a relative file path ending in .jsonl")
    rel = Path(path)
    if rel.is_absolute() or path.startswith(("/", "\\", "~")) or (len(path) > 1 and path[1] == ":"):
        raise HubError(403, "path_not_allowed", "path: must be relative to the export directory")
    if rel.suffix != ".jsonl":
        raise HubError(400, "invalid_value", "path: must end in .jsonl")
    target = (root / rel).resolve()
    try:
        target.relative_to(root)
    except ValueError:
        raise HubError(
            403, "path_not_allowed", "path: must stay inside the export directory"
        ) from None
    if target == root:
        raise HubError(400, "invalid_value", "path: names the export directory itself")
    return target


class ItemAudioHandler(RealtimeAPIHandler):
    @web.authenticated
    @authorized
    async def get(self, session_id: str, item_id: str) -> None:
        session = await _owned_session(self, session_id)
        item = session.conversation.item(item_id)
        if item is None:
            raise HubError(404, "item_not_found", "no such item in the session's conversation")
        pcm, rate = await session.item_audio(item)
        if not pcm or not rate:
            raise HubError(404, "no_audio", "the item has no audio")
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(pcm)
        self.set_header("Content-Type", "audio/wav")
        self.finish(buf.getvalue())


class SessionSocket(_StrictOrigin, WebSocketMixin, WebSocketHandler, JupyterHandler):
    """``realtime/sessions/<id>/ws?source=widget|kernel&after=<seq>&x_events=all``: attach
    as a client. Without ``x_events`` the client gets only what a spec-strict preview
    client accepts (``client_views.py``); our widget and kernel client opt in to all."""

    auth_resource = AUTH_RESOURCE
    session: HubSession | None = None
    client: Any = None
    view = HUB_VIEW  # what this client sees (client_views.View)
    _after: int | None = 0

    @property
    def max_message_size(self) -> int:  # type: ignore[override]
        return _hub(self).config.max_message_bytes

    def get_compression_options(self) -> dict[str, Any] | None:
        return None

    @ws_authenticated
    async def get(self, session_id: str) -> None:  # type: ignore[override]
        user = self.current_user
        if not await ensure_async(
            self.authorizer.is_authorized(self, user, "write", AUTH_RESOURCE)
        ):
            raise web.HTTPError(403, "not authorized")
        try:
            self.session = await _owned_session(self, session_id)
        except HubError as exc:
            raise web.HTTPError(exc.status, exc.code) from None
        self._read_route()
        await super().get(session_id)

    def _read_route(self) -> None:
        """The client's view, catch-up and source, from the query."""
        try:
            self._after = max(0, int(self.get_query_argument("after", "0") or 0))
        except ValueError:
            raise web.HTTPError(400, "after: expected an integer") from None
        self.view = View("preview", self._opt_in())
        self._source = self.get_query_argument("source", "other")

    def _opt_in(self) -> frozenset[str]:
        try:
            return parse_events_opt_in(self.get_query_arguments(EVENTS_QUERY_PARAM))
        except ValueError as exc:
            raise web.HTTPError(400, str(exc)) from None

    def open(self, session_id: str) -> None:  # type: ignore[override]
        super().open(session_id)
        self.set_nodelay(True)  # small realtime frames: don't let Nagle hold them back
        close_invalid_utf8_with_1007(self.ws_connection)
        assert self.session is not None
        try:
            self.client = self.session.attach(
                self, source=self._source, after=self._after, view=self.view
            )
        except HubError as exc:
            self.close(1008, exc.message)

    def on_message(self, message: str | bytes) -> Awaitable[None] | None:  # type: ignore[override]
        # Not a coroutine: Tornado would wrap each frame in a Task. An awaitable comes back
        # only when the hub must make this client wait (Tornado then pauses reading).
        if self.session is not None and self.client is not None and not self.client.closed:
            if self.client.sees_everything:  # our own clients: the hub's usual path
                return self.session.client_message(self.client, message)
            return client_frame(self.session, self.client, message)
        return None

    def on_close(self) -> None:
        if self.ping_callback is not None:
            self.ping_callback.stop()
        if self.session is not None and self.client is not None:
            self.session.detach(self.client)

    # ClientSink
    def send_text(self, frame: str) -> Any:
        return write_text(self.ws_connection, frame)


def handlers() -> list[tuple[str, type, dict[str, Any]] | tuple[str, type]]:
    from .client_routes import client_routes

    base = "realtime"
    return [
        (rf"/{base}/status", StatusHandler),
        (rf"/{base}/sessions/?", SessionsHandler),
        (rf"/{base}/sessions/{_SID}/?", SessionHandler),
        (rf"/{base}/sessions/{_SID}/resume", ResumeHandler),
        (rf"/{base}/sessions/{_SID}/events", EventsHandler),
        (rf"/{base}/sessions/{_SID}/export", ExportHandler),
        (rf"/{base}/sessions/{_SID}/items/(?P<item_id>[^/]+)/audio", ItemAudioHandler),
        (rf"/{base}/sessions/{_SID}/ws", SessionSocket),
        *client_routes(),
    ]
