"""The local engine's protocol flow, seen by a client over a real WebSocket.

Session lifecycle, conversation items, every ``response.create`` option, the exact event
order of a response, usage, cancellation. Every server event received is validated
against the spec schema by ``EngineClient`` (see ``engine_client.py``).
"""

from __future__ import annotations

import asyncio
import base64
import json

import numpy as np
import pytest
from engine_client import ScriptedBrain, create_item, eventually, user_text
from spec_schema import required_fields
from speech_fixtures import speech_with_silence, wer

pytestmark = pytest.mark.timeout(120)

SESSION_FIELDS = required_fields("RealtimeResponseSession")  # the spec's 14


# --------------------------------------------------------------------------- session


async def test_session_created_has_the_full_session_object(server):
    client = await server.connect("/v1/realtime?model=my-local-model", started=False)
    created = await client.wait_for("session.created")
    session = created["session"]
    assert SESSION_FIELDS <= set(session), SESSION_FIELDS - set(session)
    assert len(SESSION_FIELDS) == 14
    assert session["object"] == "realtime.session"
    assert session["id"].startswith("sess_")
    assert session["model"] == "my-local-model"
    assert session["modalities"] == ["text", "audio"]
    assert session["voice"] == "alloy"
    assert session["input_audio_format"] == session["output_audio_format"] == "pcm16"
    assert session["input_audio_transcription"] is None
    assert session["turn_detection"] == {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 500,
    }
    assert session["tools"] == [] and session["tool_choice"] == "auto"
    assert session["temperature"] == 0.8
    assert session["max_response_output_tokens"] == "inf"
    assert isinstance(session["instructions"], str) and session["instructions"]
    # The service followed with conversation.created, which is not in the spec: a preview
    # socket sends it only to a client that opts in (spec-strict clients close on it).
    await client.sync()
    assert "conversation.created" not in client.types()
    extended = await server.connect("/v1/realtime?model=m&x_events=service", started=False)
    await extended.wait_for("session.created")
    conv = await extended.wait_for("conversation.created")
    assert conv["conversation"]["object"] == "realtime.conversation"
    assert extended.types()[:2] == ["session.created", "conversation.created"]


async def test_preview_routes_send_only_the_spec_events_unless_asked(serve, speech_stack):
    """A spoken turn with transcription on: every event a default preview socket gets is
    one of the spec's 27; a GA socket still gets conversation.created."""
    from speech_fixtures import ESPEAK_SENTENCES, speech_with_silence

    from realtime_widget.protocol import SPEC_SERVER_EVENT_TYPES

    server = await serve()
    pcm = speech_with_silence((0.4, ESPEAK_SENTENCES[0], 0.8)).pcm16
    for path in (
        "/v1/realtime?model=m",
        "/openai/realtime?api-version=2024-10-01-preview&deployment=d",
    ):
        client = await server.connect(path)
        await client.send(
            {
                "type": "session.update",
                "session": {"input_audio_transcription": {"model": "whisper-1"}},
            }
        )
        await client.append_audio(pcm)
        await client.wait_for("response.done")
        await eventually(
            lambda client=client: client.of_type(
                "conversation.item.input_audio_transcription.completed"
            ),
            "the transcript",
        )
        assert set(client.types()) <= SPEC_SERVER_EVENT_TYPES, (
            set(client.types()) - SPEC_SERVER_EVENT_TYPES
        )
    ga = await server.connect("/v1/realtime?model=m", preview=False, started=False)
    await ga.wait_for("session.created")
    await ga.wait_for("conversation.created")
    # An unknown opt-in is refused at the handshake, naming the parameter.
    with pytest.raises(Exception) as refused:
        await server.connect("/v1/realtime?model=m&x_events=everything", started=False)
    assert "400" in str(refused.value)


async def test_session_update_merges(client):
    await client.send(
        {"type": "session.update", "session": {"instructions": "Be terse.", "voice": "echo"}}
    )
    s1 = (await client.wait_for("session.updated"))["session"]
    assert s1["instructions"] == "Be terse." and s1["voice"] == "echo"
    await client.send(
        {
            "type": "session.update",
            "session": {
                "temperature": 1.0,
                "turn_detection": {
                    "type": "server_vad",
                    "threshold": 0.7,
                    "silence_duration_ms": "800",
                },
                "max_response_output_tokens": 200,
                "input_audio_transcription": {"model": "whisper-1"},
            },
        }
    )
    s2 = (await client.wait_for("session.updated"))["session"]
    # Earlier settings are kept, new ones merged in (partial turn_detection gets defaults).
    assert s2["instructions"] == "Be terse." and s2["voice"] == "echo"
    assert s2["temperature"] == 1.0
    assert s2["turn_detection"] == {
        "type": "server_vad",
        "threshold": 0.7,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 800,  # numeric string accepted as an integer
    }
    assert s2["max_response_output_tokens"] == 200
    assert s2["input_audio_transcription"]["model"] == "whisper-1"
    assert s2["id"] == s1["id"] and SESSION_FIELDS <= set(s2)
    await client.send(
        {
            "type": "session.update",
            "session": {"max_response_output_tokens": "inf", "modalities": ["text"]},
        }
    )
    s3 = (await client.wait_for("session.updated"))["session"]
    assert s3["max_response_output_tokens"] == "inf" and s3["modalities"] == ["text"]


@pytest.mark.parametrize(
    ("session", "param", "code"),
    [
        ({"temperature": 2.5}, "session.temperature", "invalid_value"),
        ({"temperature": "warm"}, "session.temperature", "invalid_type"),
        ({"voice": "robot"}, "session.voice", "invalid_value"),
        ({"modalities": ["video"]}, "session.modalities[0]", None),
        ({"input_audio_format": "mp3"}, "session.input_audio_format", None),
        ({"output_audio_format": "flac"}, "session.output_audio_format", None),
        (
            {"turn_detection": {"type": "server_vad", "threshold": 1.5}},
            "session.turn_detection.threshold",
            "invalid_value",
        ),
        (
            {"turn_detection": {"type": "server_vad", "silence_duration_ms": -5}},
            "session.turn_detection.silence_duration_ms",
            "invalid_value",
        ),
        (
            {"turn_detection": {"type": "server_vad", "prefix_padding_ms": "soon"}},
            "session.turn_detection.prefix_padding_ms",
            None,
        ),
        ({"turn_detection": {"type": "semantic_magic"}}, "session.turn_detection.type", None),
        ({"max_response_output_tokens": 0}, "session.max_response_output_tokens", "invalid_value"),
        (
            {"max_response_output_tokens": 999999},
            "session.max_response_output_tokens",
            "invalid_value",
        ),
        (
            {"tools": [{"type": "function", "description": "no name"}]},
            "session.tools[0].name",
            None,
        ),
        (
            {"tool_choice": {"type": "function", "function": {"name": "nope"}}},
            "session.tool_choice",
            "invalid_value",
        ),
        ({"colour": "blue"}, "session.colour", "unknown_parameter"),
    ],
)
async def test_session_update_invalid_value_names_the_field(client, session, param, code):
    before = {"instructions": "unchanged"}
    await client.send({"type": "session.update", "session": before})
    await client.wait_for("session.updated")
    # A bad value anywhere in the update rejects the whole update (nothing is half-applied).
    event_id = await client.send(
        {"type": "session.update", "session": {"instructions": "half applied", **session}}
    )
    error = await client.error_for(event_id)
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    if code is not None:
        assert error["code"] == code
    assert param.split(".")[-1].split("[")[0] in error["message"]
    await client.sync()
    assert not client.of_type("session.updated", since=client.cursor)
    # The session carries on, unchanged by the rejected update.
    await client.send({"type": "session.update", "session": {}})
    assert (await client.wait_for("session.updated"))["session"]["instructions"] == "unchanged"


# --------------------------------------------------------------------------- items


async def test_every_item_kind_is_created_and_echoed(client, speech_stack):
    await client.send(
        {
            "type": "session.update",
            "session": {
                "turn_detection": None,
                "input_audio_transcription": {"model": "whisper-1"},
            },
        }
    )
    await client.wait_for("session.updated")
    spoken = "Can you tell me how to get to the train station?"
    audio = speech_with_silence((0.2, spoken, 0.3)).pcm16
    items = [
        {
            "type": "message",
            "role": "system",
            "content": [{"type": "input_text", "text": "Speak like a pirate."}],
        },
        user_text("Hello from text."),
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_audio", "audio": base64.b64encode(audio).decode()}],
        },
        {"type": "message", "role": "assistant", "content": [{"type": "text", "text": "Ahoy."}]},
        {
            "type": "function_call",
            "name": "get_weather",
            "call_id": "call_abc",
            "arguments": '{"city": "Oslo"}',
        },
        {"type": "function_call_output", "call_id": "call_abc", "output": '{"temp_c": 3}'},
    ]
    created = []
    previous = None
    for item in items:
        await client.send(create_item(item))
        event = await client.wait_for("conversation.item.created")
        got = event["item"]
        created.append(got)
        assert got["type"] == item["type"] and got["object"] == "realtime.item"
        assert got["id"].startswith("item_")
        assert event["previous_item_id"] == previous  # appended at the end
        previous = got["id"]
        if item["type"] == "message":
            assert got["role"] == item["role"]
            assert [p["type"] for p in got["content"]] == [p["type"] for p in item["content"]]
        for key in ("name", "call_id", "arguments", "output"):
            if key in item:
                assert got[key] == item[key]
    assert created[0]["content"][0]["text"] == "Speak like a pirate."
    assert created[3]["content"] == [{"type": "text", "text": "Ahoy."}]
    # The audio item is transcribed (input transcription is on).
    done = await client.wait_for("conversation.item.input_audio_transcription.completed")
    assert done["item_id"] == created[2]["id"] and done["content_index"] == 0
    assert wer([spoken], [done["transcript"]]) <= 0.2, done["transcript"]
    # The reply reads the conversation: the last thing was a tool result.
    turn = await client.response(modalities=["text"])
    assert turn.status == "completed"
    assert turn.text == 'get_weather says: {"temp_c": 3}.'


async def test_item_create_with_client_id_and_previous_item_id_inserts_mid_conversation(client):
    ids = {}
    for word in ("alpha", "bravo"):
        await client.send(create_item(user_text(word, id=f"item_{word}")))
        ids[word] = (await client.wait_for("conversation.item.created"))["item"]["id"]
    assert ids == {"alpha": "item_alpha", "bravo": "item_bravo"}
    # Insert charlie right after alpha: alpha, charlie, bravo.
    await client.send(create_item(user_text("charlie"), previous_item_id="item_alpha"))
    event = await client.wait_for("conversation.item.created")
    assert event["previous_item_id"] == "item_alpha"
    # The next appended item follows bravo, which is still last.
    await client.send(
        create_item(
            {
                "type": "message",
                "role": "system",
                "content": [{"type": "input_text", "text": "note"}],
            }
        )
    )
    assert (await client.wait_for("conversation.item.created"))["previous_item_id"] == "item_bravo"
    # The reply reads the conversation in that order: the last user message is bravo.
    turn = await client.response(modalities=["text"])
    assert turn.text == "You said: bravo."
    # A duplicate id is refused.
    event_id = await client.send(create_item(user_text("again", id="item_alpha")))
    error = await client.error_for(event_id)
    assert error["param"] == "item.id" and error["code"] == "invalid_value"


async def test_item_create_unknown_previous_item_id_is_an_error(client):
    event_id = await client.send(
        create_item(user_text("hi"), previous_item_id="item_does_not_exist")
    )
    error = await client.error_for(event_id)
    assert error["code"] == "item_not_found"
    assert error["param"] == "previous_item_id"
    assert "item_does_not_exist" in error["message"]
    await client.sync()
    assert not client.of_type("conversation.item.created")


async def test_item_delete(client):
    for word in ("alpha", "bravo"):
        await client.send(create_item(user_text(word, id=f"item_{word}")))
        await client.wait_for("conversation.item.created")
    await client.send({"type": "conversation.item.delete", "item_id": "item_bravo"})
    assert (await client.wait_for("conversation.item.deleted"))["item_id"] == "item_bravo"
    turn = await client.response(modalities=["text"])
    assert turn.text == "You said: alpha."
    # Deleting it again, or an id that never existed: item_not_found naming item_id.
    for missing in ("item_bravo", "item_never"):
        event_id = await client.send({"type": "conversation.item.delete", "item_id": missing})
        error = await client.error_for(event_id)
        assert (error["code"], error["param"]) == ("item_not_found", "item_id")
    # A deleted item's id is free again.
    await client.send(create_item(user_text("bravo again", id="item_bravo")))
    assert (await client.wait_for("conversation.item.created"))[
        "previous_item_id"
    ] == turn.response["output"][0]["id"]


async def test_item_truncate_cuts_audio_and_transcript(serve):
    brain = ScriptedBrain()
    server = await serve(brain_factory=brain.factory)
    client = await server.connect()
    words = "alpha bravo charlie delta echo foxtrot golf hotel india juliet"
    await client.send(create_item(user_text(words)))
    await client.wait_for("conversation.item.created")
    turn = await client.response()
    assert turn.status == "completed"
    item = turn.response["output"][0]
    audio_ms = len(turn.audio()) / 48  # pcm16 24 kHz
    assert audio_ms > 2000
    full_transcript = item["content"][0]["transcript"]
    assert full_transcript == f"You said: {words}."
    first_usage = turn.usage

    # Beyond the audio: an error naming audio_end_ms, and nothing is cut.
    event_id = await client.send(
        {
            "type": "conversation.item.truncate",
            "item_id": item["id"],
            "content_index": 0,
            "audio_end_ms": int(audio_ms) + 500,
        }
    )
    error = await client.error_for(event_id)
    assert (error["code"], error["param"]) == ("invalid_value", "audio_end_ms")
    # No such part, no such item, a negative time: errors naming the field.
    bad = [
        ({"item_id": item["id"], "content_index": 3, "audio_end_ms": 100}, "content_index"),
        ({"item_id": "item_unknown", "content_index": 0, "audio_end_ms": 100}, "item_id"),
        ({"item_id": item["id"], "content_index": 0, "audio_end_ms": -1}, "audio_end_ms"),
    ]
    for fields, param in bad:
        event_id = await client.send({"type": "conversation.item.truncate", **fields})
        assert (await client.error_for(event_id))["param"] == param
    # Only assistant audio can be truncated.
    user_item = client.of_type("conversation.item.created")[0]["item"]["id"]
    event_id = await client.send(
        {
            "type": "conversation.item.truncate",
            "item_id": user_item,
            "content_index": 0,
            "audio_end_ms": 0,
        }
    )
    assert (await client.error_for(event_id))["param"] == "item_id"

    cut_ms = int(audio_ms * 0.4)
    await client.send(
        {
            "type": "conversation.item.truncate",
            "item_id": item["id"],
            "content_index": 0,
            "audio_end_ms": cut_ms,
        }
    )
    truncated = await client.wait_for("conversation.item.truncated")
    assert truncated["item_id"] == item["id"]
    assert truncated["content_index"] == 0 and truncated["audio_end_ms"] == cut_ms

    # What the next response reads: the transcript cut to what was heard, and less audio.
    second = await client.response(modalities=["text"])
    heard = next(m for m in brain.requests[-1].messages if m["role"] == "assistant")["content"]
    assert heard and len(heard) < len(full_transcript)
    assert full_transcript.startswith(heard.rstrip(". "))
    assert len(heard.split()) <= 0.6 * len(full_transcript.split()) + 1
    assert (
        second.usage["input_token_details"]["audio_tokens"]
        < first_usage["output_token_details"]["audio_tokens"]
    )


# --------------------------------------------------------------------------- response order


def _check_ids(turn):
    rid = turn.response["id"]
    for e in turn.events:
        if "response_id" in e:
            assert e["response_id"] == rid, e


async def test_text_response_event_order(client):
    await client.send(create_item(user_text("Order please", id="item_u1")))
    await client.wait_for("conversation.item.created")
    turn = await client.response(modalities=["text"])
    rate = await client.wait_for("rate_limits.updated")
    types = [e["type"] for e in turn.events]
    n = types.count("response.text.delta")
    assert n >= 2  # streamed, not in one piece
    assert types == [
        "response.created",
        "response.output_item.added",
        "conversation.item.created",
        "response.content_part.added",
        *["response.text.delta"] * n,
        "response.text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.done",
    ]
    assert client.events[client.cursor - 1] is rate  # rate_limits.updated right after response.done
    _check_ids(turn)
    created = turn.events[2]
    item = created["item"]
    assert item["role"] == "assistant" and item["type"] == "message"
    assert created["previous_item_id"] == "item_u1"  # follows the user's item, not itself
    done = turn.of_type("response.text.done")[0]
    assert done["text"] == turn.text == "You said: Order please."
    assert turn.of_type("response.content_part.done")[0]["part"] == {
        "type": "text",
        "text": turn.text,
    }
    final = turn.of_type("response.output_item.done")[0]["item"]
    assert final["status"] == "completed" and final["content"] == [
        {"type": "text", "text": turn.text}
    ]
    assert turn.response["output"][0]["id"] == item["id"]
    assert turn.response["status"] == "completed" and turn.response["status_details"] is None
    limits = {r["name"]: r for r in rate["rate_limits"]}
    assert {"requests", "tokens"} <= set(limits)
    assert limits["tokens"]["remaining"] == limits["tokens"]["limit"] - turn.usage["total_tokens"]


async def test_audio_response_event_order_and_audio(client, speech_stack):
    await client.send(create_item(user_text("The lights are on in the kitchen")))
    await client.wait_for("conversation.item.created")
    turn = await client.response()
    types = [e["type"] for e in turn.events]
    head = [
        "response.created",
        "response.output_item.added",
        "conversation.item.created",
        "response.content_part.added",
    ]
    tail = [
        "response.audio.done",
        "response.audio_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.done",
    ]
    assert types[:4] == head and types[-5:] == tail
    middle = set(types[4:-5])
    assert middle == {"response.audio.delta", "response.audio_transcript.delta"}
    assert "response.text.delta" not in types
    # the first transcript delta precedes the first audio (the clause is said as it is heard)
    assert types.index("response.audio_transcript.delta") < types.index("response.audio.delta")
    _check_ids(turn)
    transcript = turn.of_type("response.audio_transcript.done")[0]["transcript"]
    assert transcript == turn.text == "You said: The lights are on in the kitchen."
    part = turn.of_type("response.content_part.done")[0]["part"]
    assert part == {"type": "audio", "transcript": transcript}
    pcm = turn.audio()
    assert len(pcm) % 2 == 0 and len(pcm) > 24000  # > 0.5 s of pcm16
    heard = speech_stack.transcribe(pcm, 24000)
    assert wer([transcript], [heard]) <= 0.25, heard
    await client.wait_for("rate_limits.updated")


async def test_usage_is_consistent_and_second_turn_is_cached(client):
    await client.send(create_item(user_text("Count my tokens please")))
    await client.wait_for("conversation.item.created")
    usages = []
    for _ in range(2):
        turn = await client.response()
        usages.append(turn.usage)
        await client.send(create_item(user_text("And once more")))
        await client.wait_for("conversation.item.created")
    for u in usages:
        details = u["input_token_details"]
        out = u["output_token_details"]
        assert u["total_tokens"] == u["input_tokens"] + u["output_tokens"]
        assert u["input_tokens"] == details["text_tokens"] + details["audio_tokens"]
        assert u["output_tokens"] == out["text_tokens"] + out["audio_tokens"]
        assert 0 <= details["cached_tokens"] <= u["input_tokens"]
        assert out["audio_tokens"] > 0 and out["text_tokens"] > 0
    first, second = usages
    assert first["input_token_details"]["cached_tokens"] == 0
    # the second response re-reads the first one's input (unchanged prefix): cached
    assert 0 < second["input_token_details"]["cached_tokens"] <= second["input_tokens"]
    assert second["input_token_details"]["cached_tokens"] == first["input_tokens"]
    assert second["input_tokens"] > first["input_tokens"]  # it also reads the first reply
    # response.created carries an all-zero usage
    created = client.of_type("response.created")[0]["response"]
    assert created["status"] == "in_progress" and created["output"] == []


# -------------------------------------------------------------------------- response.create options


async def test_modalities_text_only_versus_audio(client):
    await client.send(create_item(user_text("Modalities")))
    await client.wait_for("conversation.item.created")
    text_turn = await client.response(modalities=["text"])
    assert text_turn.of_type("response.text.delta")
    assert not text_turn.of_type(
        "response.audio.delta", "response.audio_transcript.delta", "response.audio.done"
    )
    assert text_turn.response["output"][0]["content"][0]["type"] == "text"
    audio_turn = await client.response(modalities=["audio", "text"])
    assert audio_turn.of_type("response.audio.delta") and audio_turn.of_type(
        "response.audio_transcript.delta"
    )
    assert not audio_turn.of_type("response.text.delta")
    assert audio_turn.response["output"][0]["content"][0]["type"] == "audio"
    # The session default (text + audio) is untouched by per-response overrides.
    await client.send({"type": "session.update", "session": {}})
    assert (await client.wait_for("session.updated"))["session"]["modalities"] == ["text", "audio"]


async def test_instructions_and_temperature_reach_the_brain(serve):
    brain = ScriptedBrain()
    server = await serve(brain_factory=brain.factory)
    client = await server.connect()
    await client.send(create_item(user_text("hi")))
    await client.wait_for("conversation.item.created")
    await client.response(modalities=["text"], instructions="Answer in French.", temperature=0.6)
    request = brain.requests[-1]
    assert request.messages[0] == {"role": "system", "content": "Answer in French."}
    assert request.temperature == 0.6
    await client.response(modalities=["text"])  # the session's own settings again
    assert brain.requests[-1].messages[0]["content"] != "Answer in French."
    assert brain.requests[-1].temperature == 0.8


@pytest.mark.parametrize(
    ("options", "param"),
    [
        ({"temperature": 1.9}, "response.temperature"),
        ({"temperature": 0.1}, "response.temperature"),
        ({"voice": "robot"}, "response.voice"),
        ({"modalities": ["smell"]}, "response.modalities[0]"),
        ({"max_output_tokens": 0}, "response.max_output_tokens"),
        ({"output_audio_format": "opus"}, "response.output_audio_format"),
        (
            {"tool_choice": {"type": "function", "function": {"name": "absent"}}},
            "response.tool_choice",
        ),
        (
            {"input_items": [{"type": "message", "role": "robot", "content": []}]},
            "response.input_items[0].role",
        ),
    ],
)
async def test_response_create_invalid_option_is_an_error(client, options, param):
    event_id = await client.send({"type": "response.create", "response": options})
    error = await client.error_for(event_id)
    assert error["param"] == param, error
    assert error["type"] == "invalid_request_error"
    await client.sync()
    assert not client.of_type("response.created")
    # and the session carries on
    turn = await client.response(modalities=["text"])
    assert turn.status == "completed"


def _spectral_centroid(pcm: bytes, rate: int = 24000) -> float:
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x))
    freqs = np.fft.rfftfreq(len(x), 1 / rate)
    return float((spectrum * freqs).sum() / spectrum.sum())


async def test_two_voices_sound_different(client, speech_stack):
    await client.send(create_item(user_text("Please turn off the lights in the kitchen")))
    await client.wait_for("conversation.item.created")
    low = await client.response(voice="echo", commit=False)
    high = await client.response(voice="shimmer", commit=False)
    assert low.text == high.text == "You said: Please turn off the lights in the kitchen."
    a, b = low.audio(), high.audio()
    assert a != b
    # echo is the deepest rendering, shimmer the highest: the spectrum moves up.
    assert _spectral_centroid(b) > 1.1 * _spectral_centroid(a)
    for pcm in (a, b):  # both still say the words
        assert wer([low.text], [speech_stack.transcribe(pcm, 24000)]) <= 0.3


async def test_max_output_tokens_makes_the_response_incomplete(client):
    await client.send(
        create_item(user_text("one two three four five six seven eight nine ten eleven twelve"))
    )
    await client.wait_for("conversation.item.created")
    turn = await client.response(modalities=["text"], max_output_tokens=3)
    assert turn.status == "incomplete"
    assert turn.response["status_details"] == {"type": "incomplete", "reason": "max_output_tokens"}
    assert turn.usage["output_tokens"] >= 3
    full = "You said: one two three four five six seven eight nine ten eleven twelve."
    assert len(turn.text) < len(full) and full.startswith(turn.text)
    item = turn.of_type("response.output_item.done")[0]["item"]
    assert item["status"] == "incomplete"
    assert turn.of_type("response.text.done")[0]["text"] == turn.text
    # "inf" lifts the limit; so does a session-level limit apply when the response sets none
    unlimited = await client.response(modalities=["text"], max_output_tokens="inf")
    assert unlimited.status == "completed" and unlimited.text == full
    await client.send({"type": "session.update", "session": {"max_response_output_tokens": 2}})
    await client.wait_for("session.updated")
    limited = await client.response(modalities=["text"])
    assert limited.status == "incomplete"


@pytest.mark.parametrize("fmt", ["g711_ulaw", "g711_alaw"])
async def test_output_audio_format_g711_decodes_to_the_words(client, speech_stack, fmt):
    from realtime_widget.audio import alaw_decode, ulaw_decode

    await client.send(create_item(user_text("My sister plays the piano")))
    await client.wait_for("conversation.item.created")
    turn = await client.response(output_audio_format=fmt)
    encoded = turn.audio()
    pcm8k = (ulaw_decode if fmt == "g711_ulaw" else alaw_decode)(encoded)
    assert len(pcm8k) == 2 * len(encoded)
    seconds = len(encoded) / 8000
    assert 1.0 < seconds < 6.0
    heard = speech_stack.transcribe(pcm8k, 8000)
    assert wer([turn.text], [heard]) <= 0.3, heard


async def test_input_items_replace_the_context_and_leave_the_conversation_alone(client):
    await client.send(create_item(user_text("alpha", id="item_alpha")))
    await client.wait_for("conversation.item.created")
    mark = client.mark()
    turn = await client.response(
        modalities=["text"], input_items=[user_text("bravo", id="item_scratch")]
    )
    assert turn.text == "You said: bravo."
    created_ids = [e["item"]["id"] for e in client.of_type("conversation.item.created", since=mark)]
    assert "item_scratch" not in created_ids  # the input items never join the conversation
    event_id = await client.send({"type": "conversation.item.delete", "item_id": "item_scratch"})
    assert (await client.error_for(event_id))["code"] == "item_not_found"
    # An input item may refer to a conversation item by id.
    ref = await client.response(
        modalities=["text"], input_items=[{"type": "message", "id": "item_alpha"}]
    )
    assert ref.text == "You said: alpha."
    event_id = await client.send(
        {
            "type": "response.create",
            "response": {"input_items": [{"type": "message", "id": "item_nope"}]},
        }
    )
    error = await client.error_for(event_id)
    assert (error["code"], error["param"]) == ("item_not_found", "response.input_items[0].id")
    # And the conversation itself still ends with what it had (plus the replies).
    normal = await client.response(modalities=["text"])
    assert normal.text == "You said: alpha."


async def test_append_input_items_join_the_conversation(client):
    await client.send(create_item(user_text("alpha")))
    await client.wait_for("conversation.item.created")
    turn = await client.response(
        modalities=["text"], append_input_items=[user_text("charlie", id="item_charlie")]
    )
    assert turn.text == "You said: charlie."
    assert any(i["id"] == "item_charlie" for i in turn.created_items())
    # it stays in the conversation
    await client.send({"type": "conversation.item.delete", "item_id": "item_charlie"})
    await client.wait_for("conversation.item.deleted")


async def test_commit_false_is_out_of_band(client):
    await client.send(create_item(user_text("alpha")))
    await client.wait_for("conversation.item.created")
    turn = await client.response(
        modalities=["text"],
        commit=False,
        append_input_items=[user_text("delta", id="item_delta")],
        metadata={"topic": "oob"},
    )
    assert turn.text == "You said: delta."
    assert not turn.of_type("conversation.item.created")  # nothing joins the conversation
    assert turn.of_type("response.output_item.added")
    assert turn.response["metadata"] == {"topic": "oob"}
    oob_item = turn.response["output"][0]["id"]
    for item_id in ("item_delta", oob_item):
        event_id = await client.send({"type": "conversation.item.delete", "item_id": item_id})
        assert (await client.error_for(event_id))["code"] == "item_not_found", item_id
    # the conversation goes on as if the out-of-band response never happened
    normal = await client.response(modalities=["text"])
    assert normal.text == "You said: alpha."
    assert normal.created_items()[0]["role"] == "assistant"


# --------------------------------------------------------------------------- cancel


async def _held_response(serve, **options):
    brain = ScriptedBrain()
    brain.hold = asyncio.Event()
    server = await serve(brain_factory=brain.factory)
    client = await server.connect()
    await client.send(create_item(user_text("please hold the line for a while")))
    await client.wait_for("conversation.item.created")
    await client.send({"type": "response.create", "response": options})
    created = await client.wait_for("response.created")
    await client.wait_for("response.output_item.added")
    return brain, client, created["response"]["id"]


async def test_response_cancel(serve):
    brain, client, rid = await _held_response(serve)
    await client.send({"type": "response.cancel"})
    done = await client.wait_for("response.done")
    response = done["response"]
    assert response["id"] == rid
    assert response["status"] == "cancelled"
    assert response["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
    # every announced item is closed before response.done
    item_done = client.of_type("response.output_item.done")
    assert item_done and item_done[-1]["item"]["status"] == "incomplete"
    await client.wait_for("rate_limits.updated")
    # nothing to cancel now: an error, and the session carries on
    event_id = await client.send({"type": "response.cancel"})
    assert (await client.error_for(event_id))["code"] == "response_cancel_not_active"
    brain.hold = None
    turn = await client.response(modalities=["text"])
    assert turn.status == "completed"


async def test_response_cancel_naming_another_response_is_an_error(serve):
    _brain, client, rid = await _held_response(serve)
    event_id = await client.send({"type": "response.cancel", "response_id": "resp_other"})
    error = await client.error_for(event_id)
    assert error["param"] == "response_id"
    await client.send({"type": "response.cancel", "response_id": rid})
    assert (await client.wait_for("response.done"))["response"]["status"] == "cancelled"


async def test_response_create_while_active_is_an_error(serve):
    brain, client, rid = await _held_response(serve, modalities=["text"])
    event_id = await client.send({"type": "response.create", "response": {"modalities": ["text"]}})
    error = await client.error_for(event_id)
    assert error["code"] == "conversation_already_has_active_response"
    assert error["type"] == "invalid_request_error"
    assert len(client.of_type("response.created")) == 1
    brain.hold.set()
    done = await client.wait_for("response.done")
    assert done["response"]["id"] == rid and done["response"]["status"] == "completed"


async def test_cancel_previous_replaces_the_active_response(serve):
    brain, client, rid = await _held_response(serve, modalities=["text"])
    brain.hold = None  # the next response runs freely
    await client.send(
        {"type": "response.create", "response": {"modalities": ["text"], "cancel_previous": True}}
    )
    first = await client.wait_for("response.done")
    assert first["response"]["id"] == rid
    assert first["response"]["status"] == "cancelled"
    assert first["response"]["status_details"]["reason"] == "client_cancelled"
    second = await client.wait_for("response.done")
    assert second["response"]["id"] != rid and second["response"]["status"] == "completed"
    assert json.dumps(second["response"]["output"]).count("You said") == 1
