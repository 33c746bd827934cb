"""Issue 11, at the engine: input every route refuses alike (lone surrogates, NaN, deep
nesting), wrong JSON types in tools, the response.done invariant, failures of spoken turns
that must not be silent, and the close code of a text frame that is not UTF-8.

Real WebSockets against ``realtime-widget serve`` (preview and both GA routes). Every
preview event is validated against the spec by the test client (``engine_client``).
"""

from __future__ import annotations

import json
import logging

import pytest
from engine_client import create_item, user_text

pytestmark = pytest.mark.timeout(120)

ROUTES = {  # id -> (path, preview header)
    "preview": ("/v1/realtime?model=local-test", True),
    "openai-ga": ("/v1/realtime?model=local-test", False),
    "azure-ga": ("/openai/v1/realtime?model=local-test", False),
}
GA_ITEM = {
    "type": "message",
    "role": "user",
    "content": [{"type": "input_text", "text": "Hello there"}],
}


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _bad_frames(eid: str) -> dict[str, str]:
    """Frames the text parser refuses, each naming ``eid`` (as JSON text)."""
    item = {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "\udfff"}],
    }
    return {
        "lone-surrogate": json.dumps(
            {"type": "conversation.item.create", "event_id": eid, "item": item}
        ),
        "nan": (
            '{"type": "session.update", "event_id": "%s", '
            '"session": {"instructions": "x", "foo": NaN}}'
        )
        % eid,
        "nesting-500": '{"type": "session.update", "event_id": "%s", "session": {"x": %s}}'
        % (eid, _nested(500)),
        "nesting-1500": '{"type": "session.update", "event_id": "%s", "session": {"x": %s}}'
        % (eid, _nested(1500)),
        "truncated": '{"type": "session.update", "event_id": "%s", "session": {"instr' % eid,
    }


async def _connect(server, route: str):
    path, preview = ROUTES[route]
    return await server.connect(path, preview=preview)


async def _normal_turn(client, route: str) -> dict:
    """A text turn in the route's dialect; its response.done."""
    if route == "preview":
        await client.send(create_item(user_text("Hello there")))
        await client.send({"type": "response.create", "response": {"modalities": ["text"]}})
    else:
        await client.send({"type": "conversation.item.create", "item": GA_ITEM})
        await client.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
    return await client.wait_for("response.done")


@pytest.mark.parametrize("route", list(ROUTES))
@pytest.mark.parametrize("kind", list(_bad_frames("x")))
async def test_every_route_refuses_what_the_parser_refuses_and_carries_on(server, route, kind):
    client = await _connect(server, route)
    eid = f"evt_bad_{kind}"
    await client.send(_bad_frames(eid)[kind])
    error = (await client.wait_for("error"))["error"]
    assert error["code"] == "invalid_json", error
    assert error["event_id"] == eid  # readable from the text even though it does not parse
    assert "param" not in error or error["param"] is not None
    if kind.startswith("nesting"):
        assert "nested more than" in error["message"]
    # the session was not poisoned: a normal turn completes, and no internal error was sent
    done = await _normal_turn(client, route)
    assert done["response"]["status"] == "completed", done
    assert not [e for e in client.of_type("error") if e["error"]["code"] == "internal_error"]


async def test_a_lone_surrogate_cannot_poison_later_responses(server):
    """The issue's case: before, every later response.create answered internal_error."""
    client = await server.connect("/openai/v1/realtime?model=local-test", preview=False)
    bad = {**GA_ITEM, "content": [{"type": "input_text", "text": "a\udfffb"}]}
    await client.send({"type": "conversation.item.create", "event_id": "evt_poison", "item": bad})
    assert (await client.wait_for("error"))["error"]["event_id"] == "evt_poison"
    for _ in range(3):
        done = await _normal_turn(client, "azure-ga")
        assert done["response"]["status"] == "completed"
    assert not client.of_type("error")[1:]


async def test_tools_with_wrong_json_types_are_refused_when_set(client):
    weather = {"type": "function", "name": "get_weather"}
    bad_tools = [
        (
            {**weather, "parameters": {"type": "object", "properties": "city"}},
            "session.tools[0].parameters.properties",
        ),
        (
            {**weather, "parameters": {"properties": {"city": "string"}}},
            "session.tools[0].parameters.properties.city",
        ),
        (
            {**weather, "parameters": {"properties": {"city": {"enum": "Paris"}}}},
            "session.tools[0].parameters.properties.city.enum",
        ),
        (
            {**weather, "parameters": {"properties": {}, "required": "city"}},
            "session.tools[0].parameters.required",
        ),
    ]
    for tool, param in bad_tools:
        eid = await client.send(
            {"type": "session.update", "session": {"tools": [tool], "tool_choice": "required"}}
        )
        error = await client.error_for(eid)
        assert error["code"] == "invalid_type" and error["param"] == param, error
    # the same through response.create's own tools: refused before response.created
    eid = await client.send(
        {
            "type": "response.create",
            "response": {"tools": [bad_tools[0][0]], "tool_choice": "required"},
        }
    )
    assert (await client.error_for(eid))["param"] == "response.tools[0].parameters.properties"
    assert not client.of_type("response.created")
    # a good tool, forced the way rtclient names it ({"function": name}), is called
    good = {**weather, "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}
    await client.send({"type": "session.update", "session": {"tools": [good]}})
    await client.wait_for("session.updated")
    await client.send(create_item(user_text("Hello")))
    turn = await client.response(
        modalities=["text"], tool_choice={"type": "function", "function": "get_weather"}
    )
    assert turn.status == "completed"
    call = turn.of_type("response.output_item.done")[0]["item"]
    assert call["type"] == "function_call" and call["name"] == "get_weather"


class _BrokenBrain:
    """A brain (the engine's plug-in point) that fails with a bug, not a BrainError,
    after its first word: the response must still end with response.done."""

    async def reply(self, request):
        from realtime_widget.engine.brain import TextDelta

        yield TextDelta("Partly ")
        raise KeyError("a bug in a brain")


async def test_every_response_created_ends_in_response_done(serve, caplog):
    server = await serve(brain_factory=_BrokenBrain)
    client = await server.connect()
    caplog.set_level(logging.ERROR)
    await client.send(create_item(user_text("Hello")))
    turn = await client.response(modalities=["text"])
    assert turn.status == "failed"
    details = turn.response["status_details"]
    assert details["type"] == "failed" and details["error"]["code"] == "internal_error"
    assert "KeyError" in details["error"]["message"]
    # the item it had opened was closed too, and nothing is left active
    assert [e["item"]["status"] for e in turn.of_type("response.output_item.done")] == [
        "incomplete"
    ]
    eid = await client.send({"type": "response.cancel"})
    assert (await client.error_for(eid))["code"] == "response_cancel_not_active"
    assert any("failed" in r.getMessage() for r in caplog.records)  # and it was logged


async def test_a_failing_spoken_turn_is_reported_not_swallowed(monkeypatch, caplog):
    """The automatic response of a spoken turn runs in its own task: a failure there
    (anything, not only ProtocolError) reaches the client as an error event and the log."""
    from realtime_widget.engine import engine_session as session_module

    sent: list[dict] = []

    async def send(event):
        sent.append(event)

    engine = session_module.EngineSession(send)
    await engine.start()
    await engine.handle(create_item(user_text("hi")))
    assert sent[-1]["type"] == "conversation.item.created"

    def broken_messages(*args):
        raise ValueError("cannot build the prompt")

    monkeypatch.setattr(session_module, "chat_messages", broken_messages)
    caplog.set_level(logging.ERROR)
    await engine._respond_to_turn()  # what _speech_stopped schedules after a spoken turn
    error = sent[-1]
    assert error["type"] == "error" and error["error"]["code"] == "internal_error"
    assert "cannot build the prompt" in error["error"]["message"]
    assert "param" not in error["error"] and "event_id" not in error["error"]
    assert any("spoken turn" in r.getMessage() for r in caplog.records)
    await engine.close()


@pytest.mark.parametrize("route", ["preview", "azure-ga"])
async def test_a_text_frame_that_is_not_utf8_closes_with_1007(server, route):
    client = await _connect(server, route)
    client.ws.protocol._write_frame(True, 0x1, b'{"type": "\xff\xfe"}')  # a text frame, bad UTF-8
    assert await client.wait_closed() == 1007
    other = await _connect(server, route)  # the server itself is fine
    assert (await _normal_turn(other, route))["response"]["status"] == "completed"
