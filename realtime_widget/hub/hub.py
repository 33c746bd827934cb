"""The hub: every session of one server (or of one kernel, in direct mode)."""

from __future__ import annotations

import asyncio
import logging
import secrets
import shutil
import time
from collections.abc import AsyncIterator
from typing import Any

from ..conversation import Conversation
from ..conversation.rebuild import rebuild_conversation
from ..protocol.parsing import dumps_json
from .eventlog import EventLog, StoredSessionInfo, apply_retention, scan_sessions, valid_session_id
from .hub_config import IDLE_CHECK_S, HubConfig
from .hub_session import HubSession
from .summary import session_summary
from .upstreams import HubError, make_upstream

log = logging.getLogger(__name__)

__all__ = ["Hub"]


class Hub:
    """Every session of one server (or of one kernel, in direct mode)."""

    def __init__(self, config: HubConfig):
        self.config = config
        self.sessions: dict[str, HubSession] = {}  # live, and closed ones loaded in memory
        self._stored: dict[str, StoredSessionInfo] = {}
        self._loading: dict[str, asyncio.Future] = {}
        self._started = False
        # Sessions being created or resumed, per owner: counted with the live ones, so that
        # checking the per-user limit and taking a place happen in one step (no await between).
        self._reserved: dict[str, set[str]] = {}
        self._idle_watch: asyncio.Task | None = None

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._start_blocking)
        self._idle_watch = asyncio.ensure_future(self._watch_idle())

    async def _watch_idle(self) -> None:
        """Close the sessions idle beyond their ``idle_timeout`` (see ``HubSession.idle_for``)."""
        while True:
            await asyncio.sleep(IDLE_CHECK_S)
            now = time.monotonic()
            for session in list(self.sessions.values()):
                if (
                    session.live
                    and session.idle_timeout
                    and session.idle_for(now) > session.idle_timeout
                ):
                    log.info(
                        "realtime-widget: closing session %s: idle for %g s",
                        session.id,
                        session.idle_timeout,
                    )
                    asyncio.ensure_future(
                        session.close(
                            f"idle for {session.idle_timeout:g} s with no widget attached"
                        )
                    )

    def _start_blocking(self) -> None:
        self.config.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            apply_retention(
                self.config.log_dir,
                retention_days=self.config.retention_days,
                max_total_bytes=self.config.max_total_log_bytes,
                keep=set(self.sessions),
            )
        except OSError:
            log.warning("realtime-widget: applying the log retention failed", exc_info=True)
        self._stored = {s.id: s for s in scan_sessions(self.config.log_dir)}

    # ------------------------------------------------------------------ sessions

    def _reserve_place(self, owner: str, session_id: str, message: str) -> None:
        """Take one of ``owner``'s live-session places for ``session_id``, or refuse (429).
        Synchronous: the check and the reservation cannot interleave with another
        request's. A session counts once, whether reserved, live or both."""
        live = {sid for sid, s in self.sessions.items() if s.live and s.owner == owner}
        reserved = self._reserved.setdefault(owner, set())
        if len(live | reserved | {session_id}) > self.config.max_sessions_per_user:
            raise HubError(429, "too_many_sessions", message)
        reserved.add(session_id)

    def _release_place(self, owner: str, session_id: str) -> None:
        reserved = self._reserved.get(owner, set())
        reserved.discard(session_id)
        if not reserved:
            self._reserved.pop(owner, None)

    async def create(self, owner: str, body: dict[str, Any]) -> HubSession:
        await self.start()
        if not isinstance(body, dict):
            raise HubError(400, "invalid_type", "the request body must be a JSON object")
        unknown = set(body) - {"provider", "name", "model", "session", "url", "idle_timeout"}
        if unknown:
            raise HubError(
                400,
                "unknown_parameter",
                f"unknown field(s): {', '.join(sorted(map(str, unknown)))}",
            )
        provider = body.get("provider", "local")
        name = body.get("name") or ""
        if not isinstance(name, str) or len(name) > 200:
            raise HubError(
                400, "invalid_value", "name: expected a string of at most 200 characters"
            )
        requested = body.get("session")
        if requested is not None and not isinstance(requested, dict):
            raise HubError(400, "invalid_type", "session: expected an object of session fields")
        model = body.get("model")
        url = body.get("url")
        if url is not None and not isinstance(url, str):
            raise HubError(400, "invalid_type", "url: expected a string")
        idle_timeout = body.get("idle_timeout")
        if idle_timeout is not None and (
            isinstance(idle_timeout, bool)
            or not isinstance(idle_timeout, (int, float))
            or not 0 < idle_timeout <= 7 * 86400
        ):
            raise HubError(
                400,
                "invalid_value",
                "idle_timeout: seconds, a number above 0 and at most 604800 (or null)",
            )
        # validate the provider and its configuration before anything is written
        make_upstream(
            self.config.providers,
            provider if isinstance(provider, str) else repr(provider),
            model=model,
            url=url,
            on_event=lambda e, t: None,
            on_closed=lambda r: None,
        )
        session_id = "rts_" + secrets.token_hex(10)
        self._reserve_place(
            owner,
            session_id,
            f"at most {self.config.max_sessions_per_user} live sessions per user: close one first",
        )
        try:
            return await self._create(
                session_id, owner, provider, name, model, url, requested, idle_timeout
            )
        finally:
            self._release_place(owner, session_id)  # the session itself is live now (or failed)

    async def _create(
        self,
        session_id: str,
        owner: str,
        provider: str,
        name: str,
        model: Any,
        url: Any,
        requested: Any,
        idle_timeout: Any,
    ) -> HubSession:
        model = model or self.config.providers.default_model(provider)
        eventlog = await asyncio.get_running_loop().run_in_executor(
            None,
            lambda: EventLog.create(
                self.config.log_dir / session_id, max_bytes=self.config.max_session_log_bytes
            ),
        )
        eventlog.flush_interval = self.config.log_flush_interval
        session = HubSession(
            self,
            session_id,
            provider=provider,
            model=model,
            name=name or session_id,
            owner=owner,
            url=url if provider == "url" else None,
            requested_session=requested,
            created_at=time.time(),
            eventlog=eventlog,
            idle_timeout=float(idle_timeout) if idle_timeout is not None else None,
        )
        eventlog.write_meta(session.meta())
        self.sessions[session_id] = session
        await session.start()
        return session

    async def get(self, session_id: str) -> HubSession:
        """A session, live or loaded from its log; ``HubError`` 404."""
        if not valid_session_id(session_id):
            raise HubError(404, "session_not_found", "no such session")
        session = self.sessions.get(session_id)
        if session is not None:
            return session
        await self.start()
        if session_id not in self._stored:
            path = self.config.log_dir / session_id
            if not (path / "meta.json").exists():
                raise HubError(404, "session_not_found", "no such session")
        pending = self._loading.get(session_id)
        if pending is None:
            pending = self._loading[session_id] = asyncio.ensure_future(self._load(session_id))
        try:
            return await asyncio.shield(pending)
        finally:
            self._loading.pop(session_id, None)

    async def _load(self, session_id: str) -> HubSession:
        loop = asyncio.get_running_loop()
        path = self.config.log_dir / session_id

        def load() -> tuple[EventLog, dict[str, Any], Conversation]:
            eventlog = EventLog.open(path, max_bytes=self.config.max_session_log_bytes)
            meta = eventlog.read_meta()
            return (
                eventlog,
                meta,
                rebuild_conversation(
                    eventlog.iter_all(audio="inline"),
                    keep_output_audio=self.config.keep_output_audio,
                    max_kept_audio_ms=self.config.max_kept_audio_ms,
                    max_input_buffer_ms=self.config.max_input_buffer_ms,
                ),
            )

        eventlog, meta, conv = await loop.run_in_executor(None, load)
        eventlog.flush_interval = self.config.log_flush_interval
        session = HubSession(
            self,
            session_id,
            provider=str(meta.get("provider") or "local"),
            model=str(meta.get("model") or ""),
            name=str(meta.get("name") or session_id),
            owner=str(meta.get("owner") or ""),
            url=meta.get("url"),
            requested_session=None,
            created_at=float(meta.get("created_at") or 0.0),
            eventlog=eventlog,
            status="closed",
        )
        session.closed_at = meta.get("closed_at")
        session.interrupted = session.closed_at is None
        session.conversation = conv
        session.log.input_format = conv.input_audio_format
        session.log.output_format = conv.output_audio_format
        loaded = self.sessions.setdefault(session_id, session)
        self._unload_closed()
        return loaded

    async def list(self) -> list[dict[str, Any]]:
        await self.start()
        out = {sid: s.summary() for sid, s in self.sessions.items()}
        for sid, info in self._stored.items():
            if sid in out or not info.path.exists():
                continue
            out[sid] = session_summary(sid, info.meta)
        return sorted(out.values(), key=lambda s: s.get("created_at") or 0)

    async def close(self, session_id: str, *, purge: bool = False) -> None:
        session = await self.get(session_id)
        await session.close()
        if purge:
            self.sessions.pop(session_id, None)
            self._stored.pop(session_id, None)
            await asyncio.get_running_loop().run_in_executor(
                None, lambda: shutil.rmtree(session.log.dir, ignore_errors=True)
            )

    async def resume(self, session_id: str, owner: str) -> HubSession:
        session = await self.get(session_id)
        if not session.live:
            self._reserve_place(
                owner,
                session_id,
                f"at most {self.config.max_sessions_per_user} live sessions per user",
            )
            try:
                await session.resume()
            finally:
                self._release_place(owner, session_id)
        return session

    def _session_ended(self, session: HubSession) -> None:
        self._stored[session.id] = StoredSessionInfo(
            session.id, session.log.dir, session.meta(), 0, time.time()
        )
        self._unload_closed()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        keep = {sid for sid, s in self.sessions.items() if s.live}
        loop.run_in_executor(
            None,
            lambda: apply_retention(
                self.config.log_dir,
                retention_days=self.config.retention_days,
                max_total_bytes=self.config.max_total_log_bytes,
                keep=keep | {session.id},
            ),
        )

    def _unload_closed(self) -> None:
        """Keep at most ``max_closed_sessions_loaded`` closed sessions in memory (their
        conversations hold text and audio); the oldest loaded go first."""
        closed = [sid for sid, s in self.sessions.items() if not s.live and not s.clients]
        for sid in closed[: max(0, len(closed) - self.config.max_closed_sessions_loaded)]:
            self.sessions.pop(sid, None)

    async def events(
        self,
        session_id: str,
        *,
        after: int = 0,
        limit: int = 100,
        types: list[str] | None = None,
        audio: str = "ref",
    ) -> dict[str, Any]:
        session = await self.get(session_id)
        seqs = session.log.select(after=after, limit=limit, types=types)
        session.log.flush()
        records = await asyncio.get_running_loop().run_in_executor(
            None, lambda: session.log.read(seqs, audio=audio, flush=False)
        )
        next_after = seqs[-1] if seqs else max(after, 0)
        more = bool(session.log.select(after=next_after, limit=1, types=types))
        return {
            "events": records,
            "next_after": next_after,
            "has_more": more,
            "last_seq": session.log.last_seq,
        }

    async def export(
        self, session_id: str, *, audio: str = "inline", chunk: int = 512
    ) -> AsyncIterator[bytes]:
        """The session's log as JSONL, in chunks (reads in a worker thread)."""
        session = await self.get(session_id)
        last = session.log.last_seq
        loop = asyncio.get_running_loop()
        for start in range(1, last + 1, chunk):
            seqs = list(range(start, min(start + chunk, last + 1)))
            session.log.flush()
            lines = await loop.run_in_executor(
                None,
                lambda seqs=seqs: "".join(
                    dumps_json(r) + "\n" for r in session.log.read(seqs, audio=audio, flush=False)
                ).encode(),
            )
            yield lines

    async def shutdown(self) -> None:
        if self._idle_watch is not None:
            self._idle_watch.cancel()
        for session in list(self.sessions.values()):
            if session.live:
                try:
                    await session.close("the server is shutting down")
                except Exception:
                    log.exception("closing session %s failed", session.id)
