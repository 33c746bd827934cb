"""Relays to hosted services (OpenAI, Azure) and to any realtime URL, tested against the
project's standalone engine server speaking their handshakes and the GA dialect; and
what happens when the upstream drops: an error at once, reconnect with backoff, restore."""

from __future__ import annotations

import asyncio
import json
import os
import time

import pytest
import tornado.httpclient
from hub_testing import *
from hub_testing import EngineServer, HubWS, create_session, get_json, start_engine, text_turn

PREVIEW_ONLY = {"response.text.delta", "response.text.done", "conversation.item.created"}
GA_ONLY = {
    "response.output_text.delta",
    "response.output_text.done",
    "conversation.item.added",
    "response.output_audio.delta",
}

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather in a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@pytest.fixture
def hub_options(engine_server, upstream_key, request):
    options = {
        "openai_api_key": upstream_key,
        "openai_url": engine_server.url("/v1/realtime"),
        "azure_endpoint": f"http://127.0.0.1:{engine_server.port}",
        "azure_api_key": upstream_key,
        "url_api_key": upstream_key,
        # the key is for this server only
        "url_api_key_url": f"ws://127.0.0.1:{engine_server.port}",
    }
    options.update(getattr(request, "param", {}))
    return options


def _route(engine: EngineServer) -> tuple[str, str, str]:
    [handler] = engine.sockets()
    return handler.route, handler.dialect, handler.request.uri


async def test_openai_relay_translates_ga_both_ways(jp_fetch, jp_ws_fetch, engine_server):
    sid = (
        await create_session(
            jp_fetch,
            provider="openai",
            model="gpt-realtime-test",
            session={"modalities": ["text"], "tools": [WEATHER_TOOL]},
        )
    )["id"]
    route, dialect, uri = _route(engine_server)
    assert (route, dialect) == ("openai", "ga") and uri == "/v1/realtime?model=gpt-realtime-test"
    ws = await HubWS.connect(jp_ws_fetch, sid)
    updated = await ws.wait_for("session.updated")
    assert (
        updated["session"]["modalities"] == ["text"]
        and updated["session"]["tools"][0]["name"] == "get_weather"
    )

    done = await text_turn(ws, "Good morning")
    assert done["response"]["status"] == "completed"
    text_done = next(e for e in ws.events if e["type"] == "response.text.done")
    assert text_done["text"] == "You said: Good morning."
    # a tool call through the relay, answered by the client
    done = await text_turn(ws, "What is the weather in Paris?")
    call = done["response"]["output"][0]
    assert call["type"] == "function_call" and json.loads(call["arguments"]) == {"city": "Paris"}
    await ws.send(
        {
            "type": "conversation.item.create",
            "item": {"type": "function_call_output", "call_id": call["call_id"], "output": "sunny"},
        }
    )
    await ws.send({"type": "response.create"})
    done = await ws.wait_for("response.done")
    assert done["response"]["status"] == "completed"
    assert ws.of_type("response.text.done")[-1]["text"] == "get_weather says: sunny."

    types = {e["type"] for e in ws.events}
    assert (
        PREVIEW_ONLY <= types and not types & GA_ONLY
    )  # clients only ever see the preview dialect
    state = (await get_json(jp_fetch, "realtime", "sessions", sid))["state"]
    assert [i["type"] for i in state["items"]] == [
        "message",
        "message",
        "message",
        "function_call",
        "function_call_output",
        "message",
    ]
    await ws.close()


@pytest.mark.parametrize(
    "hub_options, expected",
    [
        (
            {"azure_deployment": "rt-deploy"},
            ("azure-ga", "ga", "/openai/v1/realtime?model=rt-deploy"),
        ),
        (
            {"azure_deployment": "rt-deploy", "azure_api_version": "2024-10-01-preview"},
            (
                "azure-preview",
                "preview",
                "/openai/realtime?api-version=2024-10-01-preview&deployment=rt-deploy",
            ),
        ),
    ],
    indirect=["hub_options"],
)
async def test_azure_relay_ga_and_preview_routes(jp_fetch, jp_ws_fetch, engine_server, expected):
    sid = (await create_session(jp_fetch, provider="azure", session={"modalities": ["text"]}))["id"]
    assert _route(engine_server) == expected
    ws = await HubWS.connect(jp_ws_fetch, sid)
    await text_turn(ws, "Hello Azure")
    assert ws.of_type("response.text.done")[-1]["text"] == "You said: Hello Azure."
    assert not {e["type"] for e in ws.events} & GA_ONLY
    await ws.close()


async def test_url_relay_to_another_realtime_server(jp_fetch, jp_ws_fetch, engine_server):
    sid = (
        await create_session(
            jp_fetch,
            provider="url",
            url=engine_server.url("/v1/realtime"),
            model="local-x",
            session={"modalities": ["text"]},
        )
    )["id"]
    assert _route(engine_server)[:2] == ("openai", "preview")  # OpenAI-Beta: realtime=v1 was sent
    ws = await HubWS.connect(jp_ws_fetch, sid)
    assert (await text_turn(ws, "Hi URL"))["response"]["status"] == "completed"
    assert ws.of_type(
        "conversation.created"
    )  # the hub asked the engine for its events beyond the spec (x_events)
    await ws.close()


@pytest.fixture
async def speaking_engine(speech_stack, upstream_key):
    server = await start_engine(api_key=upstream_key, speech=speech_stack)
    yield server
    await server.stop()


@pytest.fixture
def engine_server(speaking_engine):
    return speaking_engine


async def test_upstream_killed_mid_response_reconnects_and_restores(
    jp_fetch, jp_ws_fetch, hub, engine_server
):
    sid = (
        await create_session(
            jp_fetch, provider="openai", session={"instructions": "Be kind.", "voice": "alloy"}
        )
    )["id"]
    ws = await HubWS.connect(jp_ws_fetch, sid)
    kernel = await HubWS.connect(jp_ws_fetch, sid, source="kernel")
    await text_turn(ws, "The first thing I said")
    await ws.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [
                    {
                        "type": "input_text",
                        "text": "Please read me a long story about the sea and the wind.",
                    }
                ],
            },
        }
    )
    await ws.send({"type": "response.create"})
    await ws.wait_for("response.audio.delta")  # the reply is being spoken...
    [first_engine_session] = list(engine_server.state.sessions)
    await engine_server.drop_connections()  # ...when the connection is cut

    error = await ws.wait_for("error")
    assert error["error"]["code"] == "upstream_disconnected"
    failed = await ws.wait_for("response.done")
    assert failed["response"]["status"] == "failed" and failed["x_seq"] > error["x_seq"]
    assert (await ws.wait_for("x_hub.status"))["status"] == "reconnecting"
    restored = await ws.wait_for("x_hub.status", where=lambda e: e["status"] == "open")
    hub_items = [i.id for i in hub.sessions[sid].conversation.items]
    assert restored["restored_items"] == len(hub_items) and restored["failed_items"] == 0
    # the new upstream session has the conversation and the configuration back
    [second_engine_session] = [
        s for s in engine_server.state.sessions if s is not first_engine_session
    ]
    assert [i.id for i in second_engine_session.conversation.items] == hub_items
    assert second_engine_session.session["instructions"] == "Be kind."
    interrupted = (
        second_engine_session.conversation.item(failed["response"]["output"][0]["id"])
        if failed["response"]["output"]
        else None
    )
    assert interrupted is None or interrupted.role == "assistant"
    # the restore traffic is logged (quiet) but no client saw it
    quiet = [
        e
        for e in (await get_json(jp_fetch, "realtime", "sessions", sid, "events", limit="1000"))[
            "events"
        ]
        if e.get("quiet")
    ]
    assert {e["type"] for e in quiet} >= {
        "session.created",
        "session.update",
        "session.updated",
        "conversation.item.create",
        "conversation.item.created",
    }
    assert [e["type"] for e in ws.events].count("session.created") == 1
    # the session goes on, for both clients
    ws.cursor = kernel.cursor = 0
    done = await text_turn(ws, "Are you back?", modalities=["text"])
    assert done["response"]["status"] == "completed"
    assert (
        await kernel.wait_for("response.done", where=lambda e: e["x_seq"] == done["x_seq"]) == done
    )
    assert [e for e in kernel.events if e["x_seq"] <= done["x_seq"]] == [
        e for e in ws.events if e["x_seq"] <= done["x_seq"]
    ]
    summary = await get_json(jp_fetch, "realtime", "sessions", sid)
    assert summary["status"] == "open" and summary["reconnects"] == 1
    await ws.close()
    await kernel.close()


async def test_upstream_down_for_a_while_then_back(
    jp_fetch, jp_ws_fetch, engine_server, upstream_key, speech_stack
):
    sid = (await create_session(jp_fetch, provider="openai", session={"modalities": ["text"]}))[
        "id"
    ]
    ws = await HubWS.connect(jp_ws_fetch, sid)
    await text_turn(ws, "before")
    port = engine_server.port
    await engine_server.stop()  # nothing listens on the port any more
    assert (await ws.wait_for("error"))["error"]["code"] == "upstream_disconnected"
    # events sent meanwhile are kept and go upstream after the restore
    await ws.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "during"}],
            },
        }
    )
    await ws.send({"type": "response.create"})
    await asyncio.sleep(0.3)  # let a few reconnect attempts fail (not a timing assertion)
    back = await start_engine(port, api_key=upstream_key, speech=speech_stack)
    try:
        opened = await ws.wait_for("x_hub.status", where=lambda e: e["status"] == "open")
        done = await ws.wait_for("response.done")
        assert done["x_seq"] > opened["x_seq"] and done["response"]["status"] == "completed"
        assert ws.of_type("response.text.done")[-1]["text"] == "You said: during."
    finally:
        await ws.close()
        await back.stop()


@pytest.mark.parametrize("hub_options", [{"reconnect_max_attempts": 3}], indirect=True)
async def test_reconnecting_gives_up_on_a_refused_key_and_the_session_can_be_resumed(
    jp_fetch, jp_ws_fetch, engine_server, upstream_key, speech_stack
):
    sid = (await create_session(jp_fetch, provider="openai", session={"modalities": ["text"]}))[
        "id"
    ]
    ws = await HubWS.connect(jp_ws_fetch, sid)
    await text_turn(ws, "remember me")
    port = engine_server.port
    await engine_server.stop()
    wrong = await start_engine(port, api_key="another-key")
    try:
        failed = await ws.wait_for("x_hub.status", where=lambda e: e["status"] == "failed")
        assert "401" in failed["reason"] and upstream_key not in json.dumps(ws.events)
        assert await ws.wait_closed() == 1000
        assert (await get_json(jp_fetch, "realtime", "sessions", sid))["status"] == "failed"
    finally:
        await wrong.stop()
    good = await start_engine(port, api_key=upstream_key, speech=speech_stack)
    try:
        r = await jp_fetch("realtime", "sessions", sid, "resume", method="POST", body="{}")
        assert json.loads(r.body)["status"] == "open"
        again = await HubWS.connect(jp_ws_fetch, sid)
        again.cursor = len(again.events)
        await text_turn(again, "and now?")
        [engine_session] = list(good.state.sessions)
        assert [i.text for i in engine_session.conversation.items][:2] == [
            "remember me",
            "You said: remember me.",
        ]
        await again.close()
    finally:
        await good.stop()


class ManagedIdentityEndpoint:
    """The token endpoint of an Azure App Service / Functions host (the protocol
    azure-identity's ManagedIdentityCredential speaks when IDENTITY_ENDPOINT and
    IDENTITY_HEADER are set): the Entra ID side of the azure provider, on loopback."""

    HEADER = "identity-header-secret"

    def __init__(self, token: str | None):
        import tornado.web

        self.token = token
        self.requests: list[tuple[str, dict[str, str]]] = []
        endpoint = self

        class Token(tornado.web.RequestHandler):
            def get(self) -> None:
                endpoint.requests.append((self.request.uri, dict(self.request.headers)))
                if (
                    endpoint.token is None
                    or self.request.headers.get("X-IDENTITY-HEADER") != endpoint.HEADER
                ):
                    self.set_status(400)
                    self.finish(
                        {
                            "error": "invalid_request",
                            "error_description": "no identity for this app",
                        }
                    )
                    return
                self.finish(
                    {
                        "access_token": endpoint.token,
                        "expires_on": str(int(time.time()) + 3600),
                        "resource": self.get_query_argument("resource"),
                        "token_type": "Bearer",
                    }
                )

        self.server = tornado.web.Application([(r"/msi/token", Token)]).listen(0, "127.0.0.1")
        self.port = next(iter(self.server._sockets.values())).getsockname()[1]


@pytest.fixture
def managed_identity(monkeypatch, upstream_key, request):
    if os.environ.get("CI", "").lower() in (
        "1",
        "true",
        "yes",
    ):  # the test extra installs it: on CI a missing install fails instead of skipping
        import azure.identity  # noqa: F401
    else:
        pytest.importorskip("azure.identity")
    endpoint = ManagedIdentityEndpoint(getattr(request, "param", upstream_key))
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"http://127.0.0.1:{endpoint.port}/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", ManagedIdentityEndpoint.HEADER)
    for name in (
        "AZURE_CLIENT_ID",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_FEDERATED_TOKEN_FILE",
        "MSI_ENDPOINT",
    ):
        monkeypatch.delenv(name, raising=False)
    yield endpoint
    endpoint.server.stop()


ENTRA = {"azure_api_key": None, "azure_auth": "entra", "azure_deployment": "rt-deploy"}


@pytest.mark.parametrize("hub_options", [ENTRA], indirect=True)
async def test_azure_with_an_entra_id_token_instead_of_a_key(
    jp_fetch, jp_ws_fetch, engine_server, managed_identity, upstream_key
):
    sid = (await create_session(jp_fetch, provider="azure", session={"modalities": ["text"]}))["id"]
    [(uri, headers)] = (
        managed_identity.requests
    )  # the hub asked Entra ID for a Cognitive Services token
    assert "resource=https://cognitiveservices.azure.com" in uri
    [upstream] = engine_server.sockets()
    assert (
        upstream.route == "azure-ga"
        and upstream.request.headers["Authorization"] == f"Bearer {upstream_key}"
    )
    assert "api-key" not in upstream.request.headers
    ws = await HubWS.connect(jp_ws_fetch, sid)
    await text_turn(ws, "Hello Entra")
    assert ws.of_type("response.text.done")[-1]["text"] == "You said: Hello Entra."
    seen_by_clients = (
        json.dumps(ws.events) + (await jp_fetch("realtime", "sessions", sid)).body.decode()
    )
    assert upstream_key not in seen_by_clients  # the token stays on the server, like a key
    await ws.close()


@pytest.mark.parametrize("hub_options, managed_identity", [(ENTRA, None)], indirect=True)
async def test_azure_without_a_key_or_an_identity_fails_clearly(
    jp_fetch, engine_server, managed_identity
):
    with pytest.raises(tornado.httpclient.HTTPClientError) as e:
        await create_session(jp_fetch, provider="azure", session={"modalities": ["text"]})
    assert e.value.code == 502
    message = e.value.response.body.decode()
    assert "Entra ID token" in message, message
    assert engine_server.sockets() == []  # nothing reached the service
