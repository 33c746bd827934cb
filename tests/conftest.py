"""Shared fixtures of the engine tests (``tests/test_engine_*.py``).

* ``speech_stack``: the offline speech models (Silero VAD, Moonshine, Piper), loaded and
  warmed up once per test session and shared by every server.
* ``serve``: starts a fresh standalone server (``engine.server.start_server``) on an
  ephemeral loopback port; every test gets its own, all are stopped after the test.
* ``client``: a preview-dialect ``EngineClient`` on a fresh server with the speech stack,
  already past ``session.created`` (preview sockets send ``conversation.created`` only
  to clients that opt in with ``?x_events=service``).

Every client made through these fixtures is checked at teardown: each server event it
received must have been valid against the spec schema.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest
from engine_client import EngineClient


@pytest.fixture(scope="session")
def speech_stack() -> Any:
    from realtime_widget.engine.speech import SpeechModelsUnavailable
    from realtime_widget.engine.speech.stack import SpeechStack

    try:
        return SpeechStack.load(warm_up=True)
    except SpeechModelsUnavailable as exc:  # pragma: no cover - depends on the environment
        pytest.skip(f"the [local] speech stack is not installed: {exc}")


@dataclass
class RunningServer:
    http_server: Any
    port: int
    state: Any
    clients: list[EngineClient] = field(default_factory=list)

    def url(self, path: str = "/v1/realtime?model=local-test") -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    async def connect(
        self,
        path: str = "/v1/realtime?model=local-test",
        *,
        headers: dict[str, str] | None = None,
        preview: bool = True,
        dialect: str | None = None,
        started: bool = True,
        **kwargs: Any,
    ) -> EngineClient:
        """Open a client. ``preview``: send ``OpenAI-Beta: realtime=v1`` (ignored on the
        Azure routes, whose dialect is fixed). ``started``: wait past session.created (and
        conversation.created on GA sockets, which always get it)."""
        headers = dict(headers or {})
        if preview and path.startswith("/v1/"):
            headers.setdefault("OpenAI-Beta", "realtime=v1")
        if dialect is None:
            dialect = (
                "preview"
                if (preview and path.startswith("/v1/")) or path.startswith("/openai/realtime")
                else "ga"
            )
        client = await EngineClient.connect(
            self.url(path), headers=headers, dialect=dialect, **kwargs
        )
        self.clients.append(client)
        if started:
            await client.wait_for("session.created")
            if dialect != "preview":
                await client.wait_for("conversation.created")
        return client


@pytest.fixture
async def serve(speech_stack: Any):
    """``await serve(**start_server_kwargs)`` -> RunningServer (speech on by default)."""
    from realtime_widget.engine.server import start_server

    running: list[RunningServer] = []

    async def start(host: str = "127.0.0.1", **kwargs: Any) -> RunningServer:
        kwargs.setdefault("speech", speech_stack)
        http_server, port, state = await start_server(host, 0, **kwargs)
        server = RunningServer(http_server, port, state)
        running.append(server)
        return server

    yield start

    problems = []
    for server in running:
        for client in server.clients:
            await client.close()
            if client.violations:
                try:
                    client.assert_valid()
                except AssertionError as exc:
                    problems.append(str(exc))
        server.http_server.stop()
        await server.http_server.close_all_connections()
        for _ in range(100):  # let the sessions of closed connections wind down
            if not server.state.sessions:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0)
    assert not problems, "\n".join(problems)


@pytest.fixture
async def server(serve: Any) -> RunningServer:
    return await serve()


@pytest.fixture
async def client(server: RunningServer) -> EngineClient:
    return await server.connect()


@pytest.fixture
def live_session(speech_stack, tmp_path, monkeypatch):
    """``live_session(**Session_kwargs)``: a direct-mode ``Session`` on the local engine
    with its speech models; closed after the test."""
    from realtime_widget import Session
    from realtime_widget.hub.upstreams import set_shared_speech_stack

    set_shared_speech_stack(speech_stack)
    monkeypatch.setenv("REALTIME_WIDGET_LOG_DIR", str(tmp_path))
    sessions = []

    def make(**kwargs):
        s = Session(mode="direct", **kwargs)
        sessions.append(s)
        # the process has one direct hub, made by the first test that needed one: stored
        # sessions are looked for where it writes
        monkeypatch.setenv("REALTIME_WIDGET_LOG_DIR", str(s.frames.path.parent))
        return s

    yield make
    for s in sessions:
        if not s.closed:
            s.close()
