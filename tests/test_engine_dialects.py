"""Dialects (preview / GA), the OpenAI and Azure handshakes, API keys, origins, isolation.

Preview-dialect events are validated against the spec as they arrive; GA events are
translated back to preview (``protocol.ga``) and validated the same way.
"""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
import tornado.httpclient
from engine_client import EngineClient, create_item, eventually, user_text
from speech_fixtures import ESPEAK_SENTENCES, speech_with_silence, wer

pytestmark = pytest.mark.timeout(120)

KEY = "sk-local-test-key"
PREVIEW_ONLY_EVENTS = {
    "response.text.delta",
    "response.text.done",
    "response.audio.delta",
    "response.audio_transcript.delta",
}


async def _text_turn(client, text="hello there", **options):
    await client.send(create_item(user_text(text)))
    await client.send(
        {"type": "response.create", "response": {"modalities": ["text"], **options}}
        if client.dialect == "preview"
        else {"type": "response.create", "response": {"output_modalities": ["text"], **options}}
    )
    done = await client.wait_for("response.done")
    return done["response"]


def _assert_preview_session(session, model):
    assert session["object"] == "realtime.session" and session["model"] == model
    assert session["modalities"] == ["text", "audio"] and session["input_audio_format"] == "pcm16"
    assert "audio" not in session and "output_modalities" not in session


def _assert_ga_session(session, model):
    assert session["type"] == "realtime"
    assert session["model"] == model
    assert session["output_modalities"] == ["audio"]
    assert session["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert session["audio"]["input"]["turn_detection"]["type"] == "server_vad"
    assert session["audio"]["output"]["voice"] == "alloy"
    assert session["audio"]["output"]["format"] == {"type": "audio/pcm", "rate": 24000}
    for flat in (
        "modalities",
        "input_audio_format",
        "output_audio_format",
        "voice",
        "turn_detection",
    ):
        assert flat not in session


# --------------------------------------------------------------------------- OpenAI route


async def test_v1_realtime_without_beta_header_speaks_ga(server):
    client = await server.connect("/v1/realtime?model=gpt-realtime", preview=False)
    assert client.dialect == "ga"
    _assert_ga_session(client.events[0]["session"], "gpt-realtime")
    # GA client events: nested session.update
    await client.send(
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "instructions": "Be brief.",
                "output_modalities": ["text"],
                "audio": {"input": {"turn_detection": None}, "output": {"voice": "ash"}},
                "max_output_tokens": 300,
            },
        }
    )
    session = (await client.wait_for("session.updated"))["session"]
    assert session["output_modalities"] == ["text"] and session["instructions"] == "Be brief."
    assert session["audio"]["input"]["turn_detection"] is None
    assert session["audio"]["output"]["voice"] == "ash" and session["max_output_tokens"] == 300
    # a GA text turn: item added/done, output_text events
    mark = client.mark()
    await client.send({"type": "conversation.item.create", "item": user_text("hello from GA")})
    added = await client.wait_for("conversation.item.added")
    item_done = await client.wait_for("conversation.item.done")
    assert added["item"]["id"] == item_done["item"]["id"]
    await client.send({"type": "response.create"})
    response = (await client.wait_for("response.done"))["response"]
    types = client.types(mark)
    assert "response.output_text.delta" in types and "response.output_text.done" in types
    assert not PREVIEW_ONLY_EVENTS & set(types) and "conversation.item.created" not in types
    text = "".join(e["delta"] for e in client.of_type("response.output_text.delta", since=mark))
    assert text == "You said: hello from GA."
    assert response["output"][0]["content"] == [{"type": "output_text", "text": text}]
    assert response["status"] == "completed"
    await client.wait_for("rate_limits.updated")


async def test_ga_audio_turn_and_out_of_band_response(server, speech_stack):
    client = await server.connect("/v1/realtime?model=gpt-realtime", preview=False)
    await client.send({"type": "conversation.item.create", "item": user_text("Speak to me")})
    await client.wait_for("conversation.item.added")
    mark = client.mark()
    await client.send(
        {"type": "response.create", "response": {"audio": {"output": {"voice": "coral"}}}}
    )
    response = (await client.wait_for("response.done"))["response"]
    types = set(client.types(mark))
    assert {
        "response.output_audio.delta",
        "response.output_audio_transcript.delta",
        "response.output_audio.done",
    } <= types
    assert not PREVIEW_ONLY_EVENTS & types
    assert response["output"][0]["content"][0]["type"] == "output_audio"
    pcm = b"".join(
        base64.b64decode(e["delta"])
        for e in client.of_type("response.output_audio.delta", since=mark)
    )
    assert wer(["You said: Speak to me."], [speech_stack.transcribe(pcm, 24000)]) <= 0.35
    # conversation: "none" is GA's out-of-band response
    mark = client.mark()
    await client.send(
        {
            "type": "response.create",
            "response": {"conversation": "none", "output_modalities": ["text"]},
        }
    )
    await client.wait_for("response.done")
    assert "conversation.item.added" not in client.types(mark)
    assert "response.output_item.added" in client.types(mark)


async def test_ga_response_input_item_reference(server):
    client = await server.connect("/v1/realtime?model=gpt-realtime", preview=False)
    await client.send(
        {"type": "conversation.item.create", "item": user_text("referenced", id="item_ref")}
    )
    await client.wait_for("conversation.item.added")
    await client.send(
        {
            "type": "response.create",
            "response": {
                "output_modalities": ["text"],
                "input": [{"type": "item_reference", "id": "item_ref"}],
            },
        }
    )
    outcome = await client.wait_for("response.done", "error")
    assert outcome["type"] == "response.done", outcome
    text = "".join(e["delta"] for e in client.of_type("response.output_text.delta"))
    assert text == "You said: referenced."


async def test_ga_semantic_vad_eagerness(server):
    """GA's semantic_vad runs the local end-of-turn model with the client's ``eagerness``:
    a low-eagerness turn ends later than a high-eagerness one (it asks the model after a
    longer silence, needs a surer "complete", and waits up to 8 s rather than 2 s)."""
    signal = speech_with_silence((0.5, ESPEAK_SENTENCES[0], 8.5))
    ends = {}
    for eagerness in ("high", "low"):
        client = await server.connect("/v1/realtime?model=gpt-realtime", preview=False)
        td = {"type": "semantic_vad", "eagerness": eagerness}
        await client.send(
            {
                "type": "session.update",
                "session": {
                    "type": "realtime",
                    "output_modalities": ["text"],
                    "audio": {"input": {"turn_detection": td}},
                },
            }
        )
        session = (await client.wait_for("session.updated"))["session"]
        assert session["audio"]["input"]["turn_detection"]["type"] == "semantic_vad"
        await client.append_audio(signal.pcm16)
        await client.wait_for("input_audio_buffer.speech_started")
        ends[eagerness] = (await client.wait_for("input_audio_buffer.speech_stopped"))[
            "audio_end_ms"
        ]
        assert (await client.wait_for("response.done"))["response"]["status"] == "completed"
    assert ends["low"] > ends["high"]


@pytest.mark.parametrize(
    ("headers", "subprotocols"),
    [({"OpenAI-Beta": "realtime=v1"}, None), ({}, ["realtime", "openai-beta.realtime-v1"])],
    ids=["beta-header", "beta-subprotocol"],
)
async def test_v1_realtime_preview_with_beta_header_or_subprotocol(server, headers, subprotocols):
    client = await server.connect(
        "/v1/realtime?model=gpt-4o-realtime-preview",
        preview=False,
        dialect="preview",
        headers=headers,
        subprotocols=subprotocols,
    )
    _assert_preview_session(client.events[0]["session"], "gpt-4o-realtime-preview")
    if subprotocols:
        assert client.ws.selected_subprotocol == "realtime"
    response = await _text_turn(client)
    assert response["status"] == "completed"
    assert (
        "response.text.delta" in client.types()
        and "response.output_text.delta" not in client.types()
    )


# --------------------------------------------------------------------------- Azure routes


async def test_azure_preview_handshake_with_api_key(serve):
    server = await serve(api_key=KEY)
    client = await server.connect(
        "/openai/realtime?api-version=2024-10-01-preview&deployment=gpt-4o-realtime-preview",
        headers={"api-key": KEY},
    )
    assert client.dialect == "preview"
    _assert_preview_session(client.events[0]["session"], "gpt-4o-realtime-preview")
    # Azure's rtclient spells G.711 with a hyphen and turns VAD off with {"type": "none"}
    await client.send(
        {
            "type": "session.update",
            "session": {"input_audio_format": "g711-ulaw", "turn_detection": {"type": "none"}},
        }
    )
    session = (await client.wait_for("session.updated"))["session"]
    assert session["input_audio_format"] == "g711-ulaw" and session["turn_detection"] == {
        "type": "none"
    }
    response = await _text_turn(client, "hello azure")
    assert response["output"][0]["content"][0]["text"] == "You said: hello azure."
    # a wrong key is refused at the handshake
    with pytest.raises(tornado.httpclient.HTTPClientError) as refused:
        await server.connect(
            "/openai/realtime?api-version=2024-10-01-preview&deployment=d",
            headers={"api-key": "wrong"},
        )
    assert refused.value.code == 401


async def test_azure_preview_needs_an_api_version(serve):
    server = await serve(api_key=KEY)
    with pytest.raises(tornado.httpclient.HTTPClientError) as refused:
        await server.connect("/openai/realtime?deployment=d", headers={"api-key": KEY})
    assert refused.value.code == 400


async def test_azure_ga_handshake_with_api_key(serve):
    server = await serve(api_key=KEY)
    client = await server.connect(
        "/openai/v1/realtime?model=my-deployment", headers={"api-key": KEY}
    )
    assert client.dialect == "ga"
    _assert_ga_session(client.events[0]["session"], "my-deployment")
    response = await _text_turn(client, "hello azure ga")
    assert response["output"][0]["content"] == [
        {"type": "output_text", "text": "You said: hello azure ga."}
    ]
    assert "conversation.item.added" in client.types()


# --------------------------------------------------------------------------- keys and origins


@pytest.mark.parametrize(
    "path",
    [
        "/v1/realtime?model=m",
        "/openai/realtime?api-version=2024-10-01-preview&deployment=d",
        "/openai/v1/realtime?model=m",
    ],
)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer sk-wrong"},
        {"api-key": "sk-wrong"},
        {"Authorization": f"Bearer {KEY}x"},
    ],
    ids=["missing", "wrong-bearer", "wrong-api-key", "key-prefix"],
)
async def test_wrong_or_missing_key_is_refused_at_the_handshake(serve, path, headers):
    server = await serve(api_key=KEY)
    with pytest.raises(tornado.httpclient.HTTPClientError) as refused:
        await server.connect(path, headers=headers)
    assert refused.value.code == 401
    body = json.loads(refused.value.response.body)
    assert body["error"]["code"] == "invalid_api_key"
    assert not server.state.sessions  # no session was ever created


async def test_the_right_key_works_as_bearer_api_key_or_browser_subprotocol(serve):
    server = await serve(api_key=KEY)
    for headers, subprotocols in (
        ({"Authorization": f"Bearer {KEY}"}, None),
        ({"api-key": KEY}, None),
        # browsers cannot set headers: the key travels as a subprotocol, from any origin
        (
            {"Origin": "https://app.example.com"},
            ["realtime", f"openai-insecure-api-key.{KEY}", "openai-beta.realtime-v1"],
        ),
    ):
        client = await server.connect(
            "/v1/realtime?model=m", headers=headers, subprotocols=subprotocols
        )
        assert (await _text_turn(client))["status"] == "completed"
    assert len(server.state.sessions) == 3


async def test_without_a_key_the_server_is_loopback_only(serve):
    for host in ("0.0.0.0", "192.0.2.10", "::"):
        with pytest.raises(ValueError, match="api-key"):
            await serve(host=host)
    # with a key it may listen on every interface
    exposed = await serve(host="0.0.0.0", api_key=KEY)
    client = await exposed.connect(headers={"Authorization": f"Bearer {KEY}"})
    assert (await _text_turn(client))["status"] == "completed"


async def test_without_a_key_a_foreign_browser_origin_is_refused(server):
    for origin in ("https://evil.example", "http://192.168.1.5:8888", "null"):
        with pytest.raises(tornado.httpclient.HTTPClientError) as refused:
            await server.connect(headers={"Origin": origin})
        assert refused.value.code == 403, origin
    for origin in ("http://localhost:8888", "http://127.0.0.1:5173", "http://[::1]:8000"):
        client = await server.connect(headers={"Origin": origin})
        assert client.events[0]["type"] == "session.created"
    # and non-browser clients (no Origin) are welcome
    await server.connect()


# --------------------------------------------------------------------------- isolation


async def test_concurrent_sessions_are_isolated(server):
    a = await server.connect()
    b = await server.connect()
    sa, sb = a.events[0]["session"], b.events[0]["session"]
    assert sa["id"] != sb["id"]
    await a.send(
        {"type": "session.update", "session": {"voice": "verse", "instructions": "A only"}}
    )
    await a.wait_for("session.updated")
    await b.send({"type": "session.update", "session": {}})
    sb2 = (await b.wait_for("session.updated"))["session"]
    assert sb2["voice"] == "alloy" and sb2["instructions"] != "A only"
    # items live in one conversation only
    await a.send(create_item(user_text("private to A", id="item_private")))
    await a.wait_for("conversation.item.created")
    event_id = await b.send({"type": "conversation.item.delete", "item_id": "item_private"})
    assert (await b.error_for(event_id))["code"] == "item_not_found"
    await b.send(
        create_item(user_text("mine is B", id="item_private"))
    )  # same id, other session: fine
    await b.wait_for("conversation.item.created")
    # both respond at once, each from its own conversation
    ra, rb = await asyncio.gather(a.response(modalities=["text"]), b.response(modalities=["text"]))
    assert ra.text == "You said: private to A." and rb.text == "You said: mine is B."
    assert not any(e["type"] == "error" for e in a.events)


async def test_concurrent_spoken_turns_are_isolated(server):
    sentences = ESPEAK_SENTENCES[:3]
    clients = [await server.connect() for _ in sentences]
    for c in clients:
        await c.send(
            {
                "type": "session.update",
                "session": {
                    "modalities": ["text"],
                    "input_audio_transcription": {"model": "whisper-1"},
                },
            }
        )
        await c.wait_for("session.updated")
    pcms = [speech_with_silence((0.4, s, 0.9)).pcm16 for s in sentences]
    # interleave the three users' audio frame by frame
    for i in range(0, max(map(len, pcms)), 4800):
        for c, pcm in zip(clients, pcms, strict=True):
            if i < len(pcm):
                await c.send(
                    {
                        "type": "input_audio_buffer.append",
                        "audio": base64.b64encode(pcm[i : i + 4800]).decode(),
                    }
                )
    turns = await asyncio.gather(*(c.next_response() for c in clients))
    for sentence, c, turn in zip(sentences, clients, turns, strict=True):
        (completed,) = c.of_type("conversation.item.input_audio_transcription.completed")
        transcript = completed["transcript"]
        assert wer([sentence], [transcript]) <= 0.2, (sentence, transcript)
        assert wer([sentence], [turn.text.removeprefix("You said: ")]) <= 0.2
        assert len(c.of_type("input_audio_buffer.speech_started")) == 1


async def test_many_sessions_at_once(server):
    clients = await asyncio.gather(*(server.connect() for _ in range(12)))
    texts = [f"session number {i}" for i in range(12)]
    for c, t in zip(clients, texts, strict=True):
        await c.send(create_item(user_text(t)))
    turns = await asyncio.gather(*(c.response(modalities=["text"]) for c in clients))
    assert [t.text for t in turns] == [f"You said: {t}." for t in texts]
    assert len(server.state.sessions) == 12
    for c in clients[:6]:
        await c.close()
    # closed connections end their sessions
    await eventually(lambda: len(server.state.sessions) == 6, "6 sessions are left")
    assert isinstance(clients[6], EngineClient)
