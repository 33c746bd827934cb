"""Every kind of invalid client input -> one ``error`` event, and the session carries on.

Each error must carry ``type``, ``code``, ``message``, ``param`` (when a field is to
blame) and the offending ``event_id``; a valid event sent right after must still work.
"""

from __future__ import annotations

import base64
import json

import pytest
import tornado.websocket
from engine_client import create_item, user_text

pytestmark = pytest.mark.timeout(120)

EID = "evt_offending_1"

# (id, raw event (dict or text), code, param) -- param None: no single field to blame
CASES = [
    (
        "bad-json",
        '{"type": "session.update", "event_id": "' + EID + '", "session": {',
        "invalid_json",
        None,
    ),
    ("not-an-object", "[1, 2, 3]", "invalid_type", None),
    (
        "unknown-type",
        {"type": "conversation.item.explode", "event_id": EID},
        "invalid_value",
        "type",
    ),
    ("type-not-a-string", {"type": 42, "event_id": EID}, "invalid_type", "type"),
    ("missing-type", {"event_id": EID, "session": {}}, "missing_required_parameter", "type"),
    (
        "missing-audio",
        {"type": "input_audio_buffer.append", "event_id": EID},
        "missing_required_parameter",
        "audio",
    ),
    (
        "missing-item",
        {"type": "conversation.item.create", "event_id": EID},
        "missing_required_parameter",
        "item",
    ),
    (
        "missing-item-id",
        {"type": "conversation.item.delete", "event_id": EID},
        "missing_required_parameter",
        "item_id",
    ),
    (
        "missing-audio-end",
        {
            "type": "conversation.item.truncate",
            "event_id": EID,
            "item_id": "item_x",
            "content_index": 0,
        },
        "missing_required_parameter",
        "audio_end_ms",
    ),
    (
        "missing-text",
        create_item(
            {"type": "message", "role": "user", "content": [{"type": "input_text"}]}, event_id=EID
        ),
        "missing_required_parameter",
        "item.content[0].text",
    ),
    (
        "missing-call-id",
        create_item({"type": "function_call_output", "output": "{}"}, event_id=EID),
        "missing_required_parameter",
        "item.call_id",
    ),
    (
        "wrong-type-temperature",
        {"type": "session.update", "event_id": EID, "session": {"temperature": "hot"}},
        "invalid_type",
        "session.temperature",
    ),
    (
        "wrong-type-audio",
        {"type": "input_audio_buffer.append", "event_id": EID, "audio": 12345},
        "invalid_type",
        "audio",
    ),
    (
        "wrong-type-content",
        create_item({"type": "message", "role": "user", "content": "hi"}, event_id=EID),
        "invalid_type",
        "item.content",
    ),
    (
        "wrong-type-end-ms",
        {
            "type": "conversation.item.truncate",
            "event_id": EID,
            "item_id": "item_x",
            "content_index": 0,
            "audio_end_ms": "soon",
        },
        "invalid_type",
        "audio_end_ms",
    ),
    (
        "wrong-type-session",
        {"type": "session.update", "event_id": EID, "session": "everything"},
        "invalid_type",
        "session",
    ),
    (
        "bad-role",
        create_item({"type": "message", "role": "narrator", "content": []}, event_id=EID),
        "invalid_value",
        "item.role",
    ),
    (
        "bad-item-type",
        create_item({"type": "telepathy"}, event_id=EID),
        "invalid_value",
        "item.type",
    ),
    (
        "bad-base64",
        {"type": "input_audio_buffer.append", "event_id": EID, "audio": "this is not base64!!"},
        "invalid_base64",
        "audio",
    ),
    (
        "odd-pcm16-bytes",
        {
            "type": "input_audio_buffer.append",
            "event_id": EID,
            "audio": base64.b64encode(b"\x00\x01\x02").decode(),
        },
        "invalid_value",
        "audio",
    ),
    (
        "bad-base64-in-item",
        create_item(
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_audio", "audio": "%%%"}],
            },
            event_id=EID,
        ),
        "invalid_base64",
        "item.content[0].audio",
    ),
    (
        "unknown-item-delete",
        {"type": "conversation.item.delete", "event_id": EID, "item_id": "item_nope"},
        "item_not_found",
        "item_id",
    ),
    (
        "unknown-item-truncate",
        {
            "type": "conversation.item.truncate",
            "event_id": EID,
            "item_id": "item_nope",
            "content_index": 0,
            "audio_end_ms": 0,
        },
        "item_not_found",
        "item_id",
    ),
    (
        "unknown-previous-item",
        create_item(user_text("x"), event_id=EID, previous_item_id="item_nope"),
        "item_not_found",
        "previous_item_id",
    ),
    (
        "out-of-range-temperature",
        {"type": "response.create", "event_id": EID, "response": {"temperature": 5.0}},
        "invalid_value",
        "response.temperature",
    ),
    (
        "cancel-nothing",
        {"type": "response.cancel", "event_id": EID},
        "response_cancel_not_active",
        None,
    ),
]


@pytest.mark.parametrize(
    ("raw", "code", "param"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
async def test_invalid_input_is_an_error_event_and_the_session_carries_on(client, raw, code, param):
    text = raw if isinstance(raw, str) else json.dumps(raw)
    await client.send(text)
    event = await client.wait_for("error")
    error = event["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == code, error
    assert error.get("param") == param, error
    assert isinstance(error["message"], str) and len(error["message"]) > 10
    if param is not None:  # the message says which field is wrong
        assert param.split(".")[-1].split("[")[0] in error["message"], error
    if EID in text:
        assert error["event_id"] == EID
    await client.sync()
    assert len(client.of_type("error")) == 1  # one bad event, one error
    # The session carries on: a valid event right after works.
    await client.send(create_item(user_text("still here")))
    await client.wait_for("conversation.item.created")
    turn = await client.response(modalities=["text"])
    assert turn.text == "You said: still here."


async def test_a_binary_frame_is_parsed_like_text(client):
    await client.send(
        json.dumps({"type": "session.update", "session": {"instructions": "bytes"}}).encode()
    )
    assert (await client.wait_for("session.updated"))["session"]["instructions"] == "bytes"
    await client.send(b"\xff\xfe not json")
    error = (await client.wait_for("error"))["error"]
    assert error["code"] == "invalid_json"


async def test_an_oversized_message_is_an_error_event(client):
    """A message over the parser's limit (~21 MiB: 15 MiB of audio in base64, plus
    1 MiB) is refused with ``payload_too_large``; the session carries on."""
    from realtime_widget.protocol.parsing import DEFAULT_MAX_BYTES

    audio = "A" * (DEFAULT_MAX_BYTES + 1024)
    await client.send(
        '{"type": "input_audio_buffer.append", "event_id": "' + EID + '", "audio": "' + audio + '"}'
    )
    error = (await client.wait_for("error"))["error"]
    assert error["code"] == "payload_too_large"
    assert error["event_id"] == EID
    assert "15 MiB" in error["message"]
    await client.send({"type": "session.update", "session": {}})
    await client.wait_for("session.updated")


async def test_a_message_beyond_the_frame_limit_closes_the_connection(server):
    """Beyond the WebSocket frame limit (32 MiB) the server closes with 1009 (too big),
    as a hosted service does; the other sessions are unaffected."""
    from realtime_widget.engine.server import MAX_MESSAGE_BYTES

    other = await server.connect()
    victim = await server.connect()
    try:
        await victim.send(
            '{"type": "input_audio_buffer.append", "audio": "'
            + "A" * (MAX_MESSAGE_BYTES + 16)
            + '"}'
        )
    except tornado.websocket.WebSocketClosedError:
        pass  # the server may close before the whole frame is written
    assert await victim.wait_closed() == 1009
    await other.send(create_item(user_text("unaffected")))
    await other.wait_for("conversation.item.created")


async def test_errors_in_a_burst_each_name_their_event(client):
    ids = [f"evt_burst_{i}" for i in range(5)]
    for i, event_id in enumerate(ids):
        await client.send(
            {
                "type": "conversation.item.delete",
                "item_id": f"item_missing_{i}",
                "event_id": event_id,
            }
        )
    errors = [await client.wait_for("error") for _ in ids]
    assert [e["error"]["event_id"] for e in errors] == ids
    assert all(f"item_missing_{i}" in e["error"]["message"] for i, e in enumerate(errors))
