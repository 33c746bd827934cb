"""Issue 11, at the hub (a real Jupyter server, the real local engine): whatever a client
sends, it gets a spec-shaped ``error`` naming its event (no nulls: D19/D28), the socket
and the session carry on, frames do not depend on the upstream's JSON formatting, and the
log serves only strict JSON."""

from __future__ import annotations

import asyncio
import json

import pytest
import tornado.web
import tornado.websocket
from hub_testing import *
from hub_testing import HubWS, create_session, get_json, text_turn
from spec_schema import validate_server_event

pytestmark = pytest.mark.timeout(180)

SURROGATE_ITEM = {
    "type": "message",
    "role": "user",
    "content": [{"type": "input_text", "text": "\udfff"}],
}


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _strict_json(text: str | bytes) -> object:
    """``json.loads`` that refuses NaN / Infinity, as the browser's ``JSON.parse`` does."""

    def refuse(word: str) -> None:
        raise ValueError(f"{word} is not JSON")

    return json.loads(text, parse_constant=refuse)


# (id, frame, code); every frame carries event_id "evt_<id>" where it can be read
BAD_FRAMES = [
    (
        "surrogate",
        json.dumps(
            {
                "type": "conversation.item.create",
                "event_id": "evt_surrogate",
                "item": SURROGATE_ITEM,
            }
        ),
        "invalid_json",
    ),
    (
        "nan",
        '{"type": "session.update", "event_id": "evt_nan", "session": {"tools": [{"type": '
        '"function", "name": "f", "parameters": {"x": NaN}}]}}',
        "invalid_json",
    ),
    (
        "nest500",
        '{"type": "session.update", "event_id": "evt_nest500", "session": {"x": %s}}'
        % _nested(500),
        "invalid_json",
    ),
    (
        "nest1500",
        '{"type": "session.update", "event_id": "evt_nest1500", "session": {"x": %s}}'
        % _nested(1500),
        "invalid_json",
    ),
    (
        "truncated",
        '{"type": "response.create", "event_id": "evt_truncated", "response": {"modal',
        "invalid_json",
    ),
    ("array", "[1, 2]", "invalid_type"),
]


async def test_every_bad_frame_gets_a_spec_shaped_error_naming_its_event(jp_fetch, jp_ws_fetch):
    sid = (await create_session(jp_fetch, session={"modalities": ["text"]}))["id"]
    ws = await HubWS.connect(jp_ws_fetch, sid)
    for name, frame, code in BAD_FRAMES:
        await ws.send(frame)
        # the frame right behind a refused one is not lost (it used to be, after deep nesting)
        await ws.send({"type": "test.after_" + name, "event_id": "evt_after_" + name})
        error = await ws.wait_for("error")
        validate_server_event(error, strict=True)  # the spec as written: no null param / event_id
        assert error["error"]["code"] == code, (name, error)
        if name != "array":
            assert error["error"]["event_id"] == "evt_" + name, error
        after = await ws.wait_for("error")
        assert (
            after["error"]["event_id"] == "evt_after_" + name
        )  # the engine's answer to the next frame
    await ws.ws.write_message(b'{"type": "session.update", "event_id": "evt_binary"}', binary=True)
    error = await ws.wait_for("error")
    validate_server_event(error, strict=True)
    assert error["error"]["code"] == "invalid_type" and error["error"]["event_id"] == "evt_binary"
    assert not ws.closed
    done = await text_turn(ws, "still here?")
    assert done["response"]["status"] == "completed"
    errors = (
        await get_json(jp_fetch, "realtime", "sessions", sid, "events", type="error", limit=100)
    )["events"]
    assert all(
        None not in (e["event"]["error"].get("param", ""), e["event"]["error"].get("event_id", ""))
        for e in errors
    )
    assert not [e for e in errors if e["event"]["error"]["code"] == "internal_error"]
    await ws.close()


async def test_a_lone_surrogate_cannot_poison_a_hub_session(jp_fetch, jp_ws_fetch):
    """The issue's case: every later response.create answered internal_error."""
    sid = (await create_session(jp_fetch, session={"modalities": ["text"]}))["id"]
    ws = await HubWS.connect(jp_ws_fetch, sid)
    await ws.send(
        {"type": "conversation.item.create", "event_id": "evt_poison", "item": SURROGATE_ITEM}
    )
    assert (await ws.wait_for("error"))["error"]["event_id"] == "evt_poison"
    for text in ("one", "two"):
        assert (await text_turn(ws, text))["response"]["status"] == "completed"
    await ws.close()


async def test_nan_never_reaches_the_log_and_the_log_is_strict_json(jp_fetch, jp_ws_fetch):
    sid = (await create_session(jp_fetch))["id"]
    ws = await HubWS.connect(jp_ws_fetch, sid)
    await ws.send(
        '{"type": "session.update", "event_id": "evt_nan", "session": {"temperature": 0.8, "x": '
        "Infinity}}"
    )
    assert (await ws.wait_for("error"))["error"]["code"] == "invalid_json"
    r = await jp_fetch("realtime", "sessions", sid, "events", params={"limit": "1000"})
    _strict_json(r.body)  # JSON.parse would accept it
    r = await jp_fetch("realtime", "sessions", sid, "export")
    for line in r.body.decode().splitlines():
        _strict_json(line)
    await ws.close()


def test_the_log_reads_back_strict_json_even_from_an_old_record_with_nan(tmp_path):
    from realtime_widget.hub.eventlog import EventLog

    log = EventLog.create(tmp_path / "rts_old")
    log.append(
        {"type": "session.update", "session": {"x": float("nan"), "y": [float("inf")]}},
        direction="client",
        source="kernel",
    )
    log.flush()
    assert "NaN" in (tmp_path / "rts_old" / "events.jsonl").read_text()  # as older hubs wrote it
    record = log.read([1])[0]
    assert record["event"]["session"] == {"x": None, "y": [None]}
    _strict_json(json.dumps(record))
    log.close()


async def test_a_text_frame_that_is_not_utf8_closes_with_1007(jp_fetch, jp_ws_fetch):
    sid = (await create_session(jp_fetch, session={"modalities": ["text"]}))["id"]
    bad = await HubWS.connect(jp_ws_fetch, sid)
    bad.ws.protocol._write_frame(True, 0x1, b'{"type": "\xc3\x28"}')  # a text frame, bad UTF-8
    assert await bad.wait_closed() == 1007
    ws = await HubWS.connect(jp_ws_fetch, sid)  # the session is fine
    assert (await text_turn(ws, "hello"))["response"]["status"] == "completed"
    await ws.close()


class _PrettyEngine(tornado.websocket.WebSocketHandler):
    """The real engine behind a realtime WebSocket that writes its JSON pretty-printed,
    with a trailing newline (valid JSON, like some services and proxies write it)."""

    async def open(self) -> None:
        from realtime_widget.engine.engine_session import EngineSession

        self.engine = EngineSession(self._send)
        await self.engine.start()

    async def _send(self, event: dict) -> None:
        try:
            await self.write_message(json.dumps(event, indent=1) + "\n \r\n")
        except tornado.websocket.WebSocketClosedError:
            pass

    async def on_message(self, message) -> None:
        await self.engine.handle(message)

    def on_close(self) -> None:
        asyncio.ensure_future(self.engine.close())


async def test_frames_do_not_depend_on_the_upstreams_formatting(jp_fetch, jp_ws_fetch):
    app = tornado.web.Application([(r"/v1/realtime", _PrettyEngine)])
    server = app.listen(0, address="127.0.0.1")
    port = next(iter(server._sockets.values())).getsockname()[1]
    try:
        sid = (
            await create_session(jp_fetch, provider="url", url=f"ws://127.0.0.1:{port}/v1/realtime")
        )["id"]
        ws = await HubWS.connect(jp_ws_fetch, sid)  # HubWS parses every frame: a bad one fails here
        done = await text_turn(ws, "Hello there", modalities=["text"])
        assert done["response"]["status"] == "completed"
        seqs = [e["x_seq"] for e in ws.events]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        text = "".join(e["delta"] for e in ws.of_type("response.text.delta"))
        assert text == "You said: Hello there."
        await ws.close()
    finally:
        server.stop()
