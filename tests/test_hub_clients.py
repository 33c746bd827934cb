"""Third-party realtime clients on hub sessions, as their authors ship them.

Each client reaches a hub session with its own base-URL setting and the Jupyter token
as its API key (``server/client_routes.py``), sees what its own user would see, and
every event lands in the session's log and DataFrames (in the log's preview dialect).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from hub_testing import *
from hub_testing import HubWS, create_session, get_json, text_turn

from realtime_widget.frames import SessionFrames
from realtime_widget.protocol.server_events import SPEC_SERVER_EVENT_TYPES

pytestmark = pytest.mark.timeout(120)

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a place",
    "parameters": {
        "type": "object",
        "properties": {"location": {"type": "string"}},
        "required": ["location"],
    },
}


def _rtclient_dir() -> Path | None:
    """The spec repository's Python rtclient (pure Python; not on PyPI): shared/ next to the
    checkout."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (
        os.environ.get("RTCLIENT_PATH"),
        here.parent / "shared/thirdparty/aoai-rtclient-python",
        here.parent.parent / "shared/thirdparty/aoai-rtclient-python",
        Path("/work/shared/thirdparty/aoai-rtclient-python"),
    ):
        if candidate and (Path(candidate) / "rtclient").is_dir():
            return Path(candidate)
    return None


@pytest.fixture
def jp_base_url():
    # rt-client and rtclient replace the endpoint's path with /openai/realtime: the
    # server's root route needs base_url "/" (Jupyter's default)
    return "/"


@pytest.fixture
def hub_options(engine_server, upstream_key):
    return {"openai_api_key": upstream_key, "openai_url": engine_server.url("/v1/realtime")}


@pytest.fixture
def token(jp_serverapp) -> str:
    return jp_serverapp.identity_provider.token


@pytest.fixture(scope="session")
def rtclient(tmp_path_factory):
    path = _rtclient_dir()
    if path is None:
        pytest.fail(
            "the Python rtclient source is missing (shared/thirdparty/aoai-rtclient-python)"
        )
    # what pip would write: rtclient reads its own version for its User-Agent
    meta = tmp_path_factory.mktemp("rtclient-meta")
    (meta / "rtclient-0.5.4.dist-info").mkdir()
    (meta / "rtclient-0.5.4.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: rtclient\nVersion: 0.5.4\n"
    )
    sys.path[:0] = [str(path), str(meta)]
    import rtclient

    return rtclient


def frames(hub_log_dir: Path, sid: str) -> SessionFrames:
    return SessionFrames(path=hub_log_dir / sid)


async def log_events(jp_fetch, sid: str) -> list[dict[str, Any]]:
    out, after = [], 0
    while True:
        page = await get_json(
            jp_fetch, "realtime", "sessions", sid, "events", after=after, limit=1000
        )
        out += page["events"]
        if not page["has_more"]:
            return out
        after = page["next_after"]


# ---------------------------------------------------------------------- the hub's own socket


async def test_the_preview_socket_sends_strict_clients_only_spec_events(jp_fetch, jp_ws_fetch):
    sid = (await create_session(jp_fetch, session={"modalities": ["text"]}))["id"]
    ours = await HubWS.connect(jp_ws_fetch, sid, source="widget")
    strict = await HubWS.connect(jp_ws_fetch, sid, hub_events=False, wait_ready=False)
    await strict.until(
        lambda: any(e["type"] == "session.updated" for e in strict.events),
        "the replayed session.updated",
    )
    await text_turn(ours, "hello there")
    await strict.until(
        lambda: any(e["type"] == "response.done" for e in strict.events), "response.done"
    )
    # our client opted in: the service's extra events and the hub's own, each with an event_id
    assert "conversation.created" in [e["type"] for e in ours.events]
    assert ours.ready["type"] == "x_hub.ready" and ours.ready["event_id"].startswith("event_")
    # the strict one: only the spec's types, every one with an event_id (rtclient requires it) and
    # x_seq
    assert strict.ready is None
    assert {e["type"] for e in strict.events} <= SPEC_SERVER_EVENT_TYPES
    assert all(
        isinstance(e.get("event_id"), str) and isinstance(e.get("x_seq"), int)
        for e in strict.events
    )
    texts = [e["delta"] for e in strict.events if e["type"] == "response.text.delta"]
    assert "".join(texts) == "You said: hello there."
    # a GA-only event on a preview socket: a precise error, and both sockets carry on
    await strict.send({"type": "conversation.item.retrieve", "event_id": "evt_r", "item_id": "x"})
    error = await strict.until(
        lambda: next((e for e in strict.events if e["type"] == "error"), None), "the error"
    )
    assert error["error"]["param"] == "type" and error["error"]["event_id"] == "evt_r"
    assert "GA dialect" in error["error"]["message"] and "x_untranslated" not in error
    await text_turn(ours, "still here")
    assert not strict.closed and not ours.closed
    await ours.close()
    await strict.close()


async def test_nothing_a_client_sends_closes_another_clients_socket(
    jp_fetch, jp_ws_fetch, jp_http_port, token
):
    """A GA client sends GA-only events, the other dialect's fields, broken frames and an
    unknown type; a spec-strict preview client on the same session sees only the spec's
    events (rt-client would close on anything else) and keeps working, and so does ours."""
    from openai import AsyncOpenAI

    sid = (await create_session(jp_fetch, session={"modalities": ["text"]}))["id"]
    ours = await HubWS.connect(jp_ws_fetch, sid)
    strict = await HubWS.connect(jp_ws_fetch, sid, hub_events=False, wait_ready=False)
    client = AsyncOpenAI(
        api_key=token,
        websocket_base_url=f"ws://127.0.0.1:{jp_http_port}/realtime/sessions/{sid}/v1",
    )
    async with client, client.realtime.connect(model="m") as conn:
        assert (await conn.recv()).type == "session.created"
        await conn.conversation.item.create(
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "hi"}],
            }
        )
        await conn.send(
            {"type": "conversation.item.retrieve", "event_id": "evt_get", "item_id": "no_such_item"}
        )
        await conn.send({"type": "output_audio_buffer.clear", "event_id": "evt_clear"})
        await conn.send(
            {"type": "response.create", "event_id": "evt_old", "response": {"modalities": ["text"]}}
        )
        await conn.send({"type": "no.such.event", "event_id": "evt_unknown"})
        await conn._connection.send("{not json")  # the SDK's own socket: a broken frame
        errors = {}
        while "invalid_json" not in errors:  # the last one sent
            event = await conn.recv()
            if event.type == "error":
                errors[event.error.event_id or event.error.code] = event.error
        assert (
            errors["evt_old"].param == "response.modalities"
            and "response.output_modalities" in errors["evt_old"].message
        )
        assert (
            errors["evt_unknown"].param == "type"
            and "no.such.event" in errors["evt_unknown"].message
        )
        assert "evt_get" in errors  # no such item (the retrieve itself is the engine's business)
    await text_turn(ours, "are you still there")
    await strict.until(
        lambda: any(e["type"] == "response.done" for e in strict.events), "response.done"
    )
    assert not strict.closed and not ours.closed
    assert {e["type"] for e in strict.events} <= SPEC_SERVER_EVENT_TYPES
    assert all(isinstance(e.get("event_id"), str) for e in strict.events)
    await ours.close()
    await strict.close()


# ---------------------------------------------------------------------- Azure rtclient (preview)


async def test_rtclient_on_the_azure_route_with_the_token_as_its_key(
    jp_fetch, jp_http_port, token, rtclient, hub_log_dir
):
    from azure.core.credentials import AzureKeyCredential
    from rtclient import (
        InputTextContentPart,
        ItemCreateMessage,
        ResponseCreateMessage,
        ResponseCreateParams,
        RTLowLevelClient,
        SessionUpdateMessage,
        SessionUpdateParams,
        UserMessageItem,
    )

    sid = (await create_session(jp_fetch))["id"]
    seen: list[Any] = []
    # the deployment names the session; the key is the Jupyter token (sent as api-key)
    async with RTLowLevelClient(
        url=f"http://127.0.0.1:{jp_http_port}",
        key_credential=AzureKeyCredential(token),
        azure_deployment=sid,
    ) as client:
        await client.send(
            SessionUpdateMessage(
                session=SessionUpdateParams(modalities={"text"}, instructions="Be brief.")
            )
        )
        await client.send(
            ItemCreateMessage(
                item=UserMessageItem(content=[InputTextContentPart(text="Hello from rtclient")])
            )
        )
        await client.send(ResponseCreateMessage(response=ResponseCreateParams()))
        async for message in client:  # rtclient parses every event with its own models
            seen.append(message)
            if message.type == "response.done":
                break
    types = [m.type for m in seen]
    assert types[0] == "session.created" and "conversation.created" not in types
    assert (
        "".join(m.delta for m in seen if m.type == "response.text.delta")
        == "You said: Hello from rtclient."
    )
    done = seen[-1]
    assert done.response.status == "completed"
    # in the log and the DataFrames, with rtclient's own events as source "other"
    log = await log_events(jp_fetch, sid)
    client_events = [(r["source"], r["type"]) for r in log if r["dir"] == "client"]
    assert ("other", "conversation.item.create") in client_events and (
        "other",
        "response.create",
    ) in client_events
    turns = frames(hub_log_dir, sid).transcript()
    assert list(turns["text"]) == ["Hello from rtclient", "You said: Hello from rtclient."]


async def test_rtclient_with_its_path_setting_reaches_the_per_session_route(
    jp_fetch, jp_http_port, token, rtclient, monkeypatch
):
    from azure.core.credentials import AzureKeyCredential
    from rtclient import RTLowLevelClient

    sid = (await create_session(jp_fetch))["id"]
    monkeypatch.setenv("AZURE_OPENAI_PATH", f"/realtime/sessions/{sid}/openai/realtime")
    async with RTLowLevelClient(
        url=f"http://127.0.0.1:{jp_http_port}",
        key_credential=AzureKeyCredential(token),
        azure_deployment="anything",
    ) as client:
        first = await client.recv()
    assert first.type == "session.created" and first.session.model == "local-realtime"


# ---------------------------------------------------------------------- openai SDK (GA)


async def test_the_openai_ga_sdk_on_a_hub_session(jp_fetch, jp_http_port, token, hub_log_dir):
    from openai import AsyncOpenAI

    sid = (await create_session(jp_fetch))["id"]
    client = AsyncOpenAI(
        api_key=token,
        websocket_base_url=f"ws://127.0.0.1:{jp_http_port}/realtime/sessions/{sid}/v1",
    )

    async def turn(conn: Any, text: str) -> tuple[str, list[Any]]:
        await conn.conversation.item.create(
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": text}],
            }
        )
        await conn.response.create()
        said, events = "", []
        async for event in conn:
            events.append(event)
            if event.type == "response.output_text.delta":
                said += event.delta
            if event.type == "response.done":
                return said, events
        raise AssertionError("the connection ended")

    async with client, client.realtime.connect(model="gpt-realtime") as conn:
        first = await conn.recv()
        assert first.type == "session.created" and first.session.type == "realtime"  # GA shape
        await conn.session.update(
            session={"type": "realtime", "output_modalities": ["text"], "instructions": "Be brief."}
        )
        said, events = await turn(conn, "Hello from the SDK")
        assert said == "You said: Hello from the SDK."
        types = [e.type for e in events]
        assert "conversation.item.added" in types and "response.text.delta" not in types
        # a preview field on the GA route: an error that names it, in GA terms; the session goes on
        await conn.send(
            {"type": "session.update", "event_id": "evt_bad", "session": {"modalities": ["text"]}}
        )
        error = await conn.recv()
        while error.type != "error":
            error = await conn.recv()
        assert (
            error.error.param == "session.modalities" and "output_modalities" in error.error.message
        )
        said, _ = await turn(conn, "Second turn")
        assert said == "You said: Second turn."
    # the log keeps one dialect (preview): the GA client's events were translated for it
    log = await log_events(jp_fetch, sid)
    updates = [
        r["event"]["session"] for r in log if r["dir"] == "client" and r["type"] == "session.update"
    ]
    assert updates[0].get("modalities") == ["text"] and "output_modalities" not in updates[0]
    assert any(r["type"] == "response.text.delta" for r in log)
    turns = frames(hub_log_dir, sid).transcript()
    assert list(turns["text"]) == [
        "Hello from the SDK",
        "You said: Hello from the SDK.",
        "Second turn",
        "You said: Second turn.",
    ]
    # a closed session refuses the handshake (its log stays readable over REST)
    await jp_fetch("realtime", "sessions", sid, method="DELETE")
    with pytest.raises(Exception, match="409"):
        async with client.realtime.connect(model="gpt-realtime") as conn:
            await conn.recv()


async def test_a_ga_client_on_a_ga_upstream_is_not_translated_on_the_way_up(
    jp_fetch, jp_http_port, token, hub_log_dir, engine_server, monkeypatch
):
    """The OpenAI provider (here the standalone engine standing in for it) speaks GA, as
    the client does: the client's frames go upstream exactly as it wrote them. The log
    has them in the preview dialect, like every session's."""
    from openai import AsyncOpenAI

    from realtime_widget.engine.server import RealtimeSocket

    received: list[str] = []
    original = RealtimeSocket.on_message

    async def record(self: Any, message: Any) -> None:
        received.append(message)
        await original(self, message)

    monkeypatch.setattr(RealtimeSocket, "on_message", record)
    sid = (await create_session(jp_fetch, provider="openai", model="gpt-realtime"))["id"]
    client = AsyncOpenAI(
        api_key=token,
        websocket_base_url=f"ws://127.0.0.1:{jp_http_port}/realtime/sessions/{sid}/v1",
    )
    update = {
        "type": "realtime",
        "output_modalities": ["text"],
        "tool_choice": {"type": "function", "name": "get_weather"},
        "tools": [WEATHER],
    }
    async with client, client.realtime.connect(model="gpt-realtime") as conn:
        assert (await conn.recv()).type == "session.created"
        await conn.session.update(session=update)
        updated = await conn.recv()
        while updated.type != "session.updated":
            updated = await conn.recv()
        assert (
            updated.session.tool_choice.name == "get_weather"
            and updated.session.output_modalities == ["text"]
        )
        await conn.conversation.item.create(
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Weather in Oslo"}],
            }
        )
        await conn.response.create()
        async for event in conn:
            if event.type == "response.function_call_arguments.done":
                assert json.loads(event.arguments) == {"location": "Oslo"}
            if event.type == "response.done":
                break
    sent = [
        m
        for m in received
        if json.loads(m)["type"] == "session.update" and "tools" in json.loads(m)["session"]
    ]
    assert len(sent) == 1 and json.loads(sent[0])["session"] == update
    assert ", " in sent[0]  # the SDK's own spacing: its frame, not a re-serialised translation
    log = await log_events(jp_fetch, sid)
    logged = [
        r["event"]["session"]
        for r in log
        if r["dir"] == "client"
        and r["type"] == "session.update"
        and "tools" in r["event"]["session"]
    ]
    assert logged[0]["tool_choice"] == {
        "type": "function",
        "function": {"name": "get_weather"},
    }  # the preview spelling
    assert any(r["type"] == "response.function_call_arguments.done" for r in log)


# ---------------------------------------------------------------------- openai-agents


async def test_openai_agents_with_a_function_tool_on_a_hub_session(
    jp_fetch, jp_http_port, token, hub_log_dir
):
    from agents import function_tool
    from agents.realtime import RealtimeAgent, RealtimeRunner

    calls: list[str] = []

    @function_tool
    def get_weather(location: str) -> str:
        """Current weather for a place."""
        calls.append(location)
        return f"sunny and 21 C in {location}"

    sid = (await create_session(jp_fetch))["id"]
    agent = RealtimeAgent(name="Assistant", instructions="Use the tools.", tools=[get_weather])
    runner = RealtimeRunner(
        starting_agent=agent, config={"model_settings": {"output_modalities": ["text"]}}
    )
    session = await runner.run(
        model_config={
            "url": f"ws://127.0.0.1:{jp_http_port}/realtime/sessions/{sid}/v1/realtime?model=x",
            "api_key": token,
        }
    )
    answers: list[str] = []
    errors: list[Any] = []
    async with session:
        await session.send_message("What is the weather in Paris?")
        async for event in session:
            if event.type == "error":
                errors.append(event.error)
            if event.type == "raw_model_event" and event.data.type == "raw_server_event":
                raw = event.data.data
                if raw.get("type") == "response.output_text.done":
                    answers.append(raw["text"])
            if calls and answers and "get_weather says" in answers[-1]:
                break
    assert not errors
    assert calls == ["Paris"]
    assert answers[-1] == "get_weather says: sunny and 21 C in Paris."
    log = await log_events(jp_fetch, sid)
    outputs = [
        r["event"]["item"]
        for r in log
        if r["dir"] == "client" and r["type"] == "conversation.item.create"
    ]
    assert any(
        i.get("type") == "function_call_output" and "sunny" in i.get("output", "") for i in outputs
    )
    turns = frames(hub_log_dir, sid).transcript()
    assert turns["text"].iloc[-1] == "get_weather says: sunny and 21 C in Paris."
