"""Every event type of the spec round-trips through the models and validates against the
spec's schema; every row of docs/protocol-decisions.md is checked."""

from __future__ import annotations

import base64
import json
import types
from typing import Any

import pytest
import spec_schema
from spec_schema import (
    ERRATA,
    EXTRA_EVENT_SCHEMAS,
    SpecValidationError,
    client_event_schemas,
    example,
    server_event_schemas,
    spec_violations,
    validate_client_event,
    validate_server_event,
)

from realtime_widget.protocol import (
    CLIENT_EVENT_TYPES,
    EXTRA_SERVER_EVENT_TYPES,
    KNOWN_VOICES,
    SERVER_EVENT_TYPES,
    SPEC_SERVER_EVENT_TYPES,
    ApiError,
    AudioPart,
    ConversationItemCreated,
    ConversationItemTruncated,
    ErrorEvent,
    FunctionTool,
    InputAudioBufferAppend,
    InputAudioBufferCommitted,
    ProtocolError,
    RateLimit,
    RateLimitsUpdated,
    Response,
    ResponseAudioDelta,
    ResponseAudioTranscriptDone,
    ResponseContentPartAdded,
    ResponseCreate,
    ResponseCreated,
    ResponseDone,
    ResponseFunctionCallArgumentsDone,
    ResponseInputAudioPart,
    ResponseMessageItem,
    ResponseOutputItemAdded,
    ResponseTextDone,
    ServerVad,
    Session,
    SessionCreated,
    SessionUpdate,
    SessionUpdated,
    TextPart,
    ToolChoiceFunction,
    UnknownClientEvent,
    UnknownServerEvent,
    Usage,
    WireModel,
    parse_client_event,
    parse_server_event,
)

AUDIO_20MS = base64.b64encode(bytes(range(256)) * 3 + bytes(192)).decode("ascii")  # 960 bytes
assert len(base64.b64decode(AUDIO_20MS)) == 960  # 20 ms of 24 kHz PCM16

# --------------------------------------------------------------------------- realistic examples
# Hand-written in the shapes the service sent (and clients send), one per event type.

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}

REALISTIC_CLIENT: dict[str, dict[str, Any]] = {
    "session.update": {
        "event_id": "evt_client_1",
        "type": "session.update",
        "session": {
            "modalities": ["text", "audio"],
            "instructions": "You are a friendly tutor. Keep answers short.",
            "voice": "coral",
            "input_audio_format": "pcm16",
            "output_audio_format": "g711_ulaw",
            "input_audio_transcription": {"model": "whisper-1"},
            "turn_detection": {
                "type": "server_vad",
                "threshold": 0.6,
                "prefix_padding_ms": 300,
                "silence_duration_ms": 500,
            },
            "tools": [WEATHER_TOOL],
            "tool_choice": "auto",
            "temperature": 0.8,
            "max_response_output_tokens": "inf",
        },
    },
    "input_audio_buffer.append": {
        "event_id": "evt_client_2",
        "type": "input_audio_buffer.append",
        "audio": AUDIO_20MS,
    },
    "input_audio_buffer.commit": {"event_id": "evt_client_3", "type": "input_audio_buffer.commit"},
    "input_audio_buffer.clear": {"type": "input_audio_buffer.clear"},
    "conversation.item.create": {
        "type": "conversation.item.create",
        "previous_item_id": "item_prev",
        "item": {
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_text", "text": "What is the weather in Paris?"},
                {"type": "input_audio", "audio": AUDIO_20MS},
            ],
        },
    },
    "conversation.item.delete": {"type": "conversation.item.delete", "item_id": "item_abc"},
    "conversation.item.truncate": {
        "type": "conversation.item.truncate",
        "item_id": "item_abc",
        "content_index": 0,
        "audio_end_ms": 1500,
    },
    "response.create": {
        "type": "response.create",
        "response": {
            "commit": True,
            "cancel_previous": False,
            "modalities": ["text"],
            "instructions": "Answer in one sentence.",
            "voice": "alloy",
            "output_audio_format": "pcm16",
            "tools": [WEATHER_TOOL],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
            "temperature": 0.7,
            "max_output_tokens": 256,
            "append_input_items": [
                {"type": "function_call_output", "call_id": "call_1", "output": '{"temp_c": 21}'}
            ],
        },
    },
    "response.cancel": {"event_id": "evt_client_9", "type": "response.cancel"},
}

SERVICE_SESSION = {
    "id": "sess_001",
    "object": "realtime.session",
    "model": "gpt-4o-realtime-preview-2024-10-01",
    "expires_at": 1730000000,  # a field the spec lacks: kept
    "modalities": ["text", "audio"],
    "instructions": "",
    "voice": "alloy",
    "turn_detection": {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 200,
    },
    "input_audio_format": "pcm16",
    "output_audio_format": "pcm16",
    "input_audio_transcription": None,
    "tool_choice": "auto",
    "temperature": 0.8,
    "max_response_output_tokens": "inf",
    "tools": [],
}
ASSISTANT_ITEM = {
    "id": "item_002",
    "object": "realtime.item",
    "type": "message",
    "status": "completed",
    "role": "assistant",
    "content": [{"type": "audio", "transcript": "It is sunny in Paris."}],
}
USAGE = {
    "total_tokens": 330,
    "input_tokens": 220,
    "output_tokens": 110,
    "input_token_details": {"cached_tokens": 128, "text_tokens": 120, "audio_tokens": 100},
    "output_token_details": {"text_tokens": 30, "audio_tokens": 80},
}

REALISTIC_SERVER: dict[str, dict[str, Any]] = {
    "session.created": {
        "event_id": "event_1",
        "type": "session.created",
        "session": SERVICE_SESSION,
    },
    "session.updated": {
        "event_id": "event_2",
        "type": "session.updated",
        "session": {
            **SERVICE_SESSION,
            "voice": "sage",
            "turn_detection": None,
            "output_audio_format": "g711-alaw",
        },
    },
    "conversation.created": {
        "event_id": "event_3",
        "type": "conversation.created",
        "conversation": {"id": "conv_001", "object": "realtime.conversation"},
    },
    "input_audio_buffer.speech_started": {
        "event_id": "event_4",
        "type": "input_audio_buffer.speech_started",
        "audio_start_ms": 1020,
        "item_id": "item_001",
    },
    "input_audio_buffer.speech_stopped": {
        "event_id": "event_5",
        "type": "input_audio_buffer.speech_stopped",
        "audio_end_ms": 2800,
        "item_id": "item_001",
    },
    "input_audio_buffer.committed": {
        "event_id": "event_6",
        "type": "input_audio_buffer.committed",
        "previous_item_id": None,
        "item_id": "item_001",
    },
    "input_audio_buffer.cleared": {"event_id": "event_7", "type": "input_audio_buffer.cleared"},
    "conversation.item.created": {
        "event_id": "event_8",
        "type": "conversation.item.created",
        "previous_item_id": None,
        "item": {
            "id": "item_001",
            "object": "realtime.item",
            "type": "message",
            "status": "completed",
            "role": "user",
            "content": [{"type": "input_audio", "transcript": None}],
        },
    },
    "conversation.item.input_audio_transcription.delta": {
        "event_id": "event_9",
        "type": "conversation.item.input_audio_transcription.delta",
        "item_id": "item_001",
        "content_index": 0,
        "delta": "What is the",
    },
    "conversation.item.input_audio_transcription.completed": {
        "event_id": "event_10",
        "type": "conversation.item.input_audio_transcription.completed",
        "item_id": "item_001",
        "content_index": 0,
        "transcript": "What is the weather in Paris?",
    },
    "conversation.item.input_audio_transcription.failed": {
        "event_id": "event_11",
        "type": "conversation.item.input_audio_transcription.failed",
        "item_id": "item_001",
        "content_index": 0,
        "error": {
            "type": "transcription_error",
            "code": "audio_unintelligible",
            "message": "The audio could not be transcribed.",
        },
    },
    "response.created": {
        "event_id": "event_12",
        "type": "response.created",
        "response": {
            "object": "realtime.response",
            "id": "resp_001",
            "status": "in_progress",
            "status_details": None,
            "output": [],
            "usage": None,
        },
    },
    "response.output_item.added": {
        "event_id": "event_13",
        "type": "response.output_item.added",
        "response_id": "resp_001",
        "output_index": 0,
        "item": {**ASSISTANT_ITEM, "status": "in_progress", "content": []},
    },
    "response.content_part.added": {
        "event_id": "event_14",
        "type": "response.content_part.added",
        "response_id": "resp_001",
        "item_id": "item_002",
        "output_index": 0,
        "content_index": 0,
        "part": {"type": "audio", "transcript": ""},
    },
    "response.audio_transcript.delta": {
        "event_id": "event_15",
        "type": "response.audio_transcript.delta",
        "response_id": "resp_001",
        "item_id": "item_002",
        "output_index": 0,
        "content_index": 0,
        "delta": "It is sunny",
    },
    "response.audio.delta": {
        "event_id": "event_16",
        "type": "response.audio.delta",
        "response_id": "resp_001",
        "item_id": "item_002",
        "output_index": 0,
        "content_index": 0,
        "delta": AUDIO_20MS,
    },
    "response.audio.done": {
        "event_id": "event_17",
        "type": "response.audio.done",
        "response_id": "resp_001",
        "item_id": "item_002",
        "output_index": 0,
        "content_index": 0,
    },
    "response.audio_transcript.done": {
        "event_id": "event_18",
        "type": "response.audio_transcript.done",
        "response_id": "resp_001",
        "item_id": "item_002",
        "output_index": 0,
        "content_index": 0,
        "transcript": "It is sunny in Paris.",
    },
    "response.text.delta": {
        "event_id": "event_19",
        "type": "response.text.delta",
        "response_id": "resp_002",
        "item_id": "item_003",
        "output_index": 0,
        "content_index": 0,
        "delta": "Sun",
    },
    "response.text.done": {
        "event_id": "event_20",
        "type": "response.text.done",
        "response_id": "resp_002",
        "item_id": "item_003",
        "output_index": 0,
        "content_index": 0,
        "text": "Sunny, 21 degrees.",
    },
    "response.content_part.done": {
        "event_id": "event_21",
        "type": "response.content_part.done",
        "response_id": "resp_001",
        "item_id": "item_002",
        "output_index": 0,
        "content_index": 0,
        "part": {"type": "audio", "transcript": "It is sunny in Paris."},
    },
    "response.output_item.done": {
        "event_id": "event_22",
        "type": "response.output_item.done",
        "response_id": "resp_001",
        "output_index": 0,
        "item": ASSISTANT_ITEM,
    },
    "response.function_call_arguments.delta": {
        "event_id": "event_23",
        "type": "response.function_call_arguments.delta",
        "response_id": "resp_003",
        "item_id": "item_004",
        "output_index": 0,
        "call_id": "call_1",
        "delta": '{"city": "Pa',
    },
    "response.function_call_arguments.done": {
        "event_id": "event_24",
        "type": "response.function_call_arguments.done",
        "response_id": "resp_003",
        "item_id": "item_004",
        "output_index": 0,
        "call_id": "call_1",
        "name": "get_weather",
        "arguments": '{"city": "Paris"}',
    },
    "response.done": {
        "event_id": "event_25",
        "type": "response.done",
        "response": {
            "object": "realtime.response",
            "id": "resp_001",
            "status": "cancelled",
            "status_details": {"type": "cancelled", "reason": "turn_detected"},
            "output": [
                ASSISTANT_ITEM,
                {
                    "id": "item_004",
                    "object": "realtime.item",
                    "type": "function_call",
                    "status": "completed",
                    "name": "get_weather",
                    "call_id": "call_1",
                    "arguments": '{"city": "Paris"}',
                },
            ],
            "usage": USAGE,
        },
    },
    "rate_limits.updated": {
        "event_id": "event_26",
        "type": "rate_limits.updated",
        "rate_limits": [
            {"name": "requests", "limit": 5000, "remaining": 4999, "reset_seconds": 0.012},
            {"name": "tokens", "limit": 20000, "remaining": 19670, "reset_seconds": 0.99},
        ],
    },
    "conversation.item.truncated": {
        "event_id": "event_27",
        "type": "conversation.item.truncated",
        "item_id": "item_002",
        "content_index": 0,
        "audio_end_ms": 1500,
    },
    "conversation.item.deleted": {
        "event_id": "event_28",
        "type": "conversation.item.deleted",
        "item_id": "item_002",
    },
    "error": {
        "event_id": "event_29",
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "code": "invalid_value",
            "message": "session.voice: unknown voice 'bob'",
            "param": "session.voice",
            "event_id": "evt_client_1",
        },
    },
}

# --------------------------------------------------------------------------- helpers

_MS_FIELDS = ("prefix_padding_ms", "silence_duration_ms")


def assert_superset(out: Any, given: Any, path: str = "") -> None:
    """``out`` equals ``given`` except for added fields (superset) and the documented
    normalisation of numeric-string milliseconds to integers (D8)."""
    if isinstance(given, dict):
        assert isinstance(out, dict), f"{path}: {out!r} is not an object"
        for key, value in given.items():
            assert key in out, f"{path}.{key}: dropped"
            if key in _MS_FIELDS and isinstance(value, str):
                assert out[key] == int(value), f"{path}.{key}: {out[key]!r} != int({value!r})"
                continue
            assert_superset(out[key], value, f"{path}.{key}")
    elif isinstance(given, list):
        assert isinstance(out, list) and len(out) == len(given), f"{path}: {out!r} != {given!r}"
        for i, (a, b) in enumerate(zip(out, given, strict=True)):
            assert_superset(a, b, f"{path}[{i}]")
    else:
        assert out == given and type(out) in (type(given), float), f"{path}: {out!r} != {given!r}"


def check_round_trip(given: dict[str, Any], side: str) -> WireModel:
    """parse -> model -> to_dict (superset of the input, spec-valid) -> JSON -> parse."""
    parse = parse_client_event if side == "client" else parse_server_event
    types_ = CLIENT_EVENT_TYPES if side == "client" else SERVER_EVENT_TYPES
    validate = validate_client_event if side == "client" else validate_server_event

    model = parse(json.dumps(given))
    assert type(model) is types_[given["type"]]
    out = model.to_dict()
    assert_superset(out, given)
    validate(out)  # the spec's schema, with the documented errata
    again = parse(model.to_json())
    assert again == model
    assert again.to_dict() == out
    # the three input forms agree
    assert parse(json.dumps(given).encode()) == model
    assert parse(given) == model
    assert parse(types.MappingProxyType(given)) == model
    return model


ALL_EVENT_TYPES = sorted(
    set(client_event_schemas())
    | set(server_event_schemas())
    | set(EXTRA_EVENT_SCHEMAS)
    | set(CLIENT_EVENT_TYPES)
    | set(SERVER_EVENT_TYPES)
)


def _side(event_type: str) -> str:
    return (
        "client"
        if event_type in client_event_schemas() or event_type in CLIENT_EVENT_TYPES
        else "server"
    )


# --------------------------------------------------------------------------- coverage


def test_models_cover_exactly_the_spec_mapping() -> None:
    assert set(CLIENT_EVENT_TYPES) == set(client_event_schemas())
    assert set(SPEC_SERVER_EVENT_TYPES) == set(server_event_schemas())
    assert set(SERVER_EVENT_TYPES) == set(server_event_schemas()) | EXTRA_SERVER_EVENT_TYPES
    assert EXTRA_SERVER_EVENT_TYPES == set(EXTRA_EVENT_SCHEMAS)
    assert (len(CLIENT_EVENT_TYPES), len(SPEC_SERVER_EVENT_TYPES)) == (9, 27)


@pytest.mark.parametrize("event_type", ALL_EVENT_TYPES)
def test_event_type_has_models_and_schema_validated_examples(event_type: str) -> None:
    """Fails for a type in the spec without a model, or in the models without a
    schema-validated example (hand-written, and generated from the spec's schema)."""
    side = _side(event_type)
    models = CLIENT_EVENT_TYPES if side == "client" else SERVER_EVENT_TYPES
    realistic = REALISTIC_CLIENT if side == "client" else REALISTIC_SERVER
    mapping = client_event_schemas() if side == "client" else server_event_schemas()
    assert event_type in models, f"{event_type} is in the spec but has no model"
    assert event_type in realistic, f"{event_type} has no hand-written example"
    assert event_type in mapping or event_type in EXTRA_EVENT_SCHEMAS, f"{event_type} has no schema"

    check_round_trip(realistic[event_type], side)
    if event_type in mapping:
        for mode in ("min", "max"):
            generated = example(mapping[event_type], mode)  # type: ignore[arg-type]
            assert generated["type"] == event_type
            (validate_client_event if side == "client" else validate_server_event)(
                generated, strict=True
            )
            check_round_trip(generated, side)


def test_strict_spec_violations_are_exactly_the_documented_errata() -> None:
    """With the spec exactly as written, our output fails only where ERRATA say so,
    and every erratum is actually needed by some example."""
    errata_fields = {e.pointer[-1] for e in ERRATA}
    seen: set[str] = set()
    cases = [(d, "client") for d in REALISTIC_CLIENT.values()] + [
        (d, "server") for d in REALISTIC_SERVER.values()
    ]
    for side, mapping in (("client", client_event_schemas()), ("server", server_event_schemas())):
        cases += [(example(name, "max"), side) for name in mapping.values()]
    cases += [
        (
            {
                "type": "session.update",
                "session": {
                    "turn_detection": None,
                    "input_audio_transcription": None,
                    "max_response_output_tokens": None,
                },
            },
            "client",
        ),
    ]
    for given, side in cases:
        if given["type"] in EXTRA_EVENT_SCHEMAS:
            continue
        parse = parse_client_event if side == "client" else parse_server_event
        mapping = client_event_schemas() if side == "client" else server_event_schemas()
        out = parse(given).to_dict()
        for path, message in spec_violations(out, mapping[given["type"]], strict=True):
            field = path.rsplit(".", 1)[-1]
            assert field in errata_fields, (
                f"{given['type']} {path}: {message} is not a documented erratum"
            )
            seen.add(field)
    assert seen == errata_fields


# --------------------------------------------------------------------------- the spec helper itself


def test_spec_helper_rejects_invalid_events() -> None:
    good = REALISTIC_SERVER["response.output_item.done"]
    validate_server_event(good, strict=True)
    with pytest.raises(SpecValidationError, match="response_id"):
        validate_server_event({k: v for k, v in good.items() if k != "response_id"})
    # the discriminator dispatches into the item's own schema
    bad_item = {
        **good,
        "item": {
            "id": "i",
            "object": "realtime.item",
            "type": "function_call",
            "status": "completed",
        },
    }
    with pytest.raises(SpecValidationError, match="name"):
        validate_server_event(bad_item)
    with pytest.raises(SpecValidationError, match="not a server event"):
        validate_server_event({"type": "response.output_text.delta"})
    with pytest.raises(SpecValidationError):
        validate_client_event(
            {
                "type": "conversation.item.truncate",
                "item_id": "x",
                "content_index": "0",
                "audio_end_ms": 1,
            }
        )
    # extras are validated only with errata (they are not in the spec)
    with pytest.raises(SpecValidationError):
        validate_server_event(REALISTIC_SERVER["conversation.created"], strict=True)


def test_errata_point_at_existing_spec_nodes() -> None:
    spec = spec_schema.load_spec()["components"]["schemas"]
    for erratum in ERRATA:
        node = spec[erratum.schema]
        for key in erratum.pointer:
            node = node[key]
        assert erratum.decision.startswith("D") and erratum.reason


# ------------------------------------------------------------------------ decisions (NOTES.md rows)


def _server(given: dict[str, Any]) -> dict[str, Any]:
    out = parse_server_event(given).to_dict()
    validate_server_event(out)
    return out


TEXT_DONE = {k: v for k, v in REALISTIC_SERVER["response.text.done"].items() if k != "text"}


@pytest.mark.parametrize("spelling", ["text", "value"])
def test_text_done_accepts_either_spelling_and_emits_both(spelling: str) -> None:
    out = _server({**TEXT_DONE, spelling: "Sunny."})
    assert out["text"] == out["value"] == "Sunny."
    validate_server_event(out, strict=True)  # `value` satisfies the spec


def test_text_done_constructor_and_missing_text() -> None:
    event = ResponseTextDone(
        response_id="r", item_id="i", output_index=0, content_index=0, text="hi"
    )
    assert (event.text, event.value) == ("hi", "hi")
    validate_server_event(event.to_dict(), strict=True)
    with pytest.raises(ProtocolError) as info:
        parse_server_event(TEXT_DONE)
    assert (info.value.code, info.value.param) == ("missing_required_parameter", "text")


@pytest.mark.parametrize("given, expected", [({"index": 2}, 2), ({"content_index": 3}, 3), ({}, 0)])
def test_truncated_accepts_index_or_content_index_and_emits_both(
    given: dict[str, int], expected: int
) -> None:
    out = _server(
        {"type": "conversation.item.truncated", "item_id": "i", "audio_end_ms": 10, **given}
    )
    assert out["index"] == out["content_index"] == expected
    validate_server_event(out, strict=True)
    built = ConversationItemTruncated(
        item_id="i", audio_end_ms=10, content_index=expected
    ).to_dict()
    assert built["index"] == built["content_index"] == expected


def test_audio_transcript_done_emits_transcript() -> None:
    event = ResponseAudioTranscriptDone(
        response_id="r", item_id="i", output_index=0, content_index=0, transcript="Hello there."
    )
    assert event.to_dict()["transcript"] == "Hello there."
    validate_server_event(event.to_dict(), strict=True)
    spec_shaped = {
        k: v
        for k, v in REALISTIC_SERVER["response.audio_transcript.done"].items()
        if k != "transcript"
    }
    parsed = parse_server_event(spec_shaped)
    assert isinstance(parsed, ResponseAudioTranscriptDone) and parsed.transcript is None
    assert "transcript" not in parsed.to_dict()  # never null: clients type it as a string


def test_item_created_always_has_previous_item_id() -> None:
    item = ResponseMessageItem(id="item_1", role="user", content=[ResponseInputAudioPart()])
    first = ConversationItemCreated(item=item).to_dict()
    assert first["previous_item_id"] is None
    assert first["item"]["content"] == [{"type": "input_audio", "transcript": None}]
    validate_server_event(first)
    later = ConversationItemCreated(previous_item_id="item_0", item=item).to_dict()
    assert later["previous_item_id"] == "item_0"
    spec_shaped = {
        k: v
        for k, v in REALISTIC_SERVER["conversation.item.created"].items()
        if k != "previous_item_id"
    }
    assert _server(spec_shaped)["previous_item_id"] is None


def test_committed_always_has_previous_item_id() -> None:
    out = InputAudioBufferCommitted(item_id="item_1").to_dict()
    assert out["previous_item_id"] is None
    validate_server_event(out)
    assert (
        InputAudioBufferCommitted(item_id="b", previous_item_id="a").to_dict()["previous_item_id"]
        == "a"
    )


def test_request_input_audio_part_accepts_audio() -> None:
    event = parse_client_event(REALISTIC_CLIENT["conversation.item.create"])
    part = event.item.content[1]  # type: ignore[union-attr]
    assert part.type == "input_audio" and part.audio == AUDIO_20MS and part.transcript is None
    assert event.to_dict()["item"]["content"][1] == {"type": "input_audio", "audio": AUDIO_20MS}
    validate_client_event(event.to_dict(), strict=True)


@pytest.mark.parametrize("fmt", ["pcm16", "g711_ulaw", "g711_alaw", "g711-ulaw", "g711-alaw"])
def test_audio_format_spellings_are_accepted_and_echoed(fmt: str) -> None:
    update = parse_client_event(
        {
            "type": "session.update",
            "session": {"input_audio_format": fmt, "output_audio_format": fmt},
        }
    )
    assert update.to_dict()["session"] == {"input_audio_format": fmt, "output_audio_format": fmt}
    create = parse_client_event(
        {"type": "response.create", "response": {"output_audio_format": fmt}}
    )
    assert create.to_dict()["response"]["output_audio_format"] == fmt
    out = SessionUpdated(
        session=Session(id="s", model="m", input_audio_format=fmt, output_audio_format=fmt)
    ).to_dict()
    assert (out["session"]["input_audio_format"], out["session"]["output_audio_format"]) == (
        fmt,
        fmt,
    )
    validate_server_event(out)
    # the spec's audio format type is an open string: every spelling is spec-valid
    assert not [
        v
        for v in spec_violations(out, "Realtime.RealtimeResponseSessionUpdatedCommand", strict=True)
        if "audio_format" in v[0]
    ]


def test_unknown_audio_format_is_rejected() -> None:
    with pytest.raises(ProtocolError) as info:
        parse_client_event({"type": "session.update", "session": {"input_audio_format": "g711"}})
    assert (info.value.code, info.value.param) == ("invalid_value", "session.input_audio_format")
    assert "'g711-ulaw'" in info.value.message


@pytest.mark.parametrize("off", [None, {"type": "none"}])
def test_turn_detection_off_both_spellings_echoed(off: dict[str, str] | None) -> None:
    update = parse_client_event({"type": "session.update", "session": {"turn_detection": off}})
    assert update.to_dict() == {"type": "session.update", "session": {"turn_detection": off}}
    validate_client_event(update.to_dict())
    created = SessionCreated(session=Session(id="s", model="m", turn_detection=off)).to_dict()
    assert created["session"]["turn_detection"] == off
    validate_server_event(created)


def test_turn_detection_absent_stays_absent_and_default_is_server_vad() -> None:
    assert (
        "turn_detection"
        not in parse_client_event({"type": "session.update", "session": {}}).to_dict()["session"]
    )
    td = Session(id="s", model="m").to_dict()["turn_detection"]
    assert td == {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 500,
    }


@pytest.mark.parametrize("given, expected", [(300, 300), ("300", 300), (" 200 ", 200), (0, 0)])
def test_server_vad_milliseconds_are_integers_numeric_strings_accepted(
    given: Any, expected: int
) -> None:
    td = {"type": "server_vad", "prefix_padding_ms": given, "silence_duration_ms": given}
    out = parse_client_event(
        {"type": "session.update", "session": {"turn_detection": td}}
    ).to_dict()
    assert out["session"]["turn_detection"]["prefix_padding_ms"] == expected
    assert out["session"]["turn_detection"]["silence_duration_ms"] == expected
    server = _server(
        {"type": "session.created", "session": {**SERVICE_SESSION, "turn_detection": td}}
    )
    assert server["session"]["turn_detection"]["silence_duration_ms"] == expected


@pytest.mark.parametrize(
    "given, code",
    [
        ("abc", "invalid_type"),
        ("1.5", "invalid_type"),
        (1.5, "invalid_type"),
        (True, "invalid_type"),
        (-5, "invalid_value"),
    ],
)
def test_server_vad_milliseconds_rejects_non_integers(given: Any, code: str) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_client_event(
            {
                "type": "session.update",
                "session": {"turn_detection": {"type": "server_vad", "silence_duration_ms": given}},
            }
        )
    assert (info.value.code, info.value.param) == (
        code,
        "session.turn_detection.silence_duration_ms",
    )
    assert "milliseconds" in info.value.message


@pytest.mark.parametrize("value", ["inf", 4096, None])
def test_max_response_output_tokens_int_inf_or_null(value: int | str | None) -> None:
    out = parse_client_event(
        {"type": "session.update", "session": {"max_response_output_tokens": value}}
    ).to_dict()
    assert out["session"] == {"max_response_output_tokens": value}
    created = SessionCreated(
        session=Session(id="s", model="m", max_response_output_tokens=value)
    ).to_dict()
    assert created["session"]["max_response_output_tokens"] == value
    validate_server_event(created)
    create = parse_client_event(
        {"type": "response.create", "response": {"max_output_tokens": value}}
    )
    assert create.to_dict()["response"]["max_output_tokens"] == value
    validate_client_event(create.to_dict(), strict=True)


def test_session_default_reports_inf() -> None:
    out = SessionCreated(session=Session(id="s", model="m")).to_dict()
    assert out["session"]["max_response_output_tokens"] == "inf"
    assert out["session"]["input_audio_transcription"] is None
    validate_server_event(out)


@pytest.mark.parametrize("voice", [*KNOWN_VOICES, "marin"])
def test_voices_known_and_unknown_strings_accepted(voice: str) -> None:
    out = parse_client_event({"type": "session.update", "session": {"voice": voice}}).to_dict()
    assert out["session"]["voice"] == voice
    validate_client_event(out, strict=True)  # the spec's voice type is an open string


def test_voice_must_be_a_string() -> None:
    with pytest.raises(ProtocolError) as info:
        parse_client_event({"type": "response.create", "response": {"voice": 3}})
    assert (info.value.code, info.value.param) == ("invalid_type", "response.voice")


def test_response_create_follows_the_schema_not_the_stale_prose() -> None:
    given = REALISTIC_CLIENT["response.create"]
    event = parse_client_event(given)
    assert isinstance(event, ResponseCreate) and event.response is not None
    r = event.response
    assert (r.commit, r.cancel_previous, r.modalities, r.max_output_tokens) == (
        True,
        False,
        ["text"],
        256,
    )
    assert (
        isinstance(r.tool_choice, ToolChoiceFunction)
        and r.tool_choice.function_name == "get_weather"
    )
    assert r.append_input_items and r.append_input_items[0].type == "function_call_output"
    # Prose-only fields are not interpreted, only carried along.
    stale = parse_client_event(
        {"type": "response.create", "response": {"conversation_label": "c", "append_messages": []}}
    )
    assert stale.to_dict()["response"]["conversation_label"] == "c"


def test_response_input_items_are_full_items_or_typed_references() -> None:
    """A reference needs its ``type`` (the spec requires it). An item without one used to
    pass as a reference carrying extra fields, and came back a full message when parsed
    again (found by the mutation fuzz test)."""
    ref = parse_client_event(
        {
            "type": "response.create",
            "response": {"input_items": [{"type": "message", "id": "item_1"}]},
        }
    )
    assert ref.to_dict()["response"]["input_items"] == [{"type": "message", "id": "item_1"}]
    untyped = {"id": "item_1", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    with pytest.raises(ProtocolError) as info:
        parse_client_event({"type": "response.create", "response": {"input_items": [untyped]}})
    assert (info.value.code, info.value.param) == (
        "missing_required_parameter",
        "response.input_items[0].type",
    )
    full = parse_client_event(
        {"type": "response.create", "response": {"input_items": [{**untyped, "type": "message"}]}}
    )
    assert parse_client_event(full.to_json()) == full


def test_response_create_commit_and_cancel_previous_default_true_and_are_emitted() -> None:
    event = parse_client_event(
        {"type": "response.create", "response": {"instructions": "Be brief."}}
    )
    assert isinstance(event, ResponseCreate) and event.response is not None
    out = event.to_dict()
    assert (out["response"]["commit"], out["response"]["cancel_previous"]) == (True, True)
    assert "cancel_previous" not in event.response.model_fields_set  # the engine can tell
    validate_client_event(out, strict=True)  # the spec requires both
    assert parse_client_event({"type": "response.create"}).to_dict() == {"type": "response.create"}


@pytest.mark.parametrize(
    "choice, name",
    [
        ({"type": "function", "function": {"name": "f"}}, "f"),  # spec
        ({"type": "function", "function": "f"}, "f"),  # rtclient
        ({"type": "function", "name": "f"}, "f"),  # OpenAI
    ],
)
def test_tool_choice_function_spellings(choice: dict[str, Any], name: str) -> None:
    event = parse_client_event({"type": "session.update", "session": {"tool_choice": choice}})
    assert event.session.tool_choice.function_name == name  # type: ignore[union-attr]
    assert event.to_dict()["session"]["tool_choice"] == choice


def test_service_extra_events_are_tolerated() -> None:
    created = parse_server_event(REALISTIC_SERVER["conversation.created"])
    assert created.conversation.id == "conv_001"  # type: ignore[union-attr]
    delta = parse_server_event(
        REALISTIC_SERVER["conversation.item.input_audio_transcription.delta"]
    )
    assert (delta.item_id, delta.delta) == ("item_001", "What is the")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "raw, side",
    [
        (
            {
                "type": "output_audio_buffer.started",
                "event_id": "e",
                "response_id": "r",
                "nested": {"a": [1, None]},
            },
            "server",
        ),
        ({"type": "response.output_text.delta", "delta": "x"}, "server"),
        ({"type": "conversation.item.retrieve", "item_id": "i"}, "client"),
    ],
)
def test_unknown_event_types_keep_all_data(raw: dict[str, Any], side: str) -> None:
    parse = parse_client_event if side == "client" else parse_server_event
    event = parse(json.dumps(raw))
    assert isinstance(event, UnknownServerEvent if side == "server" else UnknownClientEvent)
    assert event.to_dict() == raw  # exactly: no event_id invented
    assert parse(event.to_json()) == event


def test_extra_fields_are_preserved_at_every_level() -> None:
    given = {
        "type": "conversation.item.create",
        "future_top": 1,
        "item": {
            "type": "message",
            "role": "user",
            "future_item": {"x": [1, 2]},
            "content": [{"type": "input_text", "text": "hi", "future_part": True}],
        },
    }
    assert parse_client_event(given).to_dict() == given
    session = {
        **SERVICE_SESSION,
        "turn_detection": {**SERVICE_SESSION["turn_detection"], "create_response": True},
    }
    assert (
        _server({"type": "session.created", "session": session})["session"]["turn_detection"][
            "create_response"
        ]
        is True
    )


def test_null_in_non_nullable_optional_field_means_absent() -> None:
    out = parse_client_event(
        {
            "type": "conversation.item.create",
            "previous_item_id": None,
            "item": {"type": "function_call_output", "call_id": "c", "output": "o"},
        }
    ).to_dict()
    assert "previous_item_id" not in out
    err = _server(
        {
            "type": "error",
            "error": {"type": "server_error", "message": "m", "code": None, "param": None},
        }
    )
    assert err["error"] == {"type": "server_error", "message": "m"}
    validate_server_event(err, strict=True)


# ----------------------------------------------------------------------- constructors for an engine


def test_server_event_ids_are_generated_and_unique() -> None:
    a = ResponseAudioDelta(
        response_id="r", item_id="i", output_index=0, content_index=0, delta=AUDIO_20MS
    )
    b = ResponseAudioDelta(
        response_id="r", item_id="i", output_index=0, content_index=0, delta=AUDIO_20MS
    )
    assert a.event_id and a.event_id.startswith("event_") and a.event_id != b.event_id
    assert (
        ResponseAudioDelta(
            event_id="event_x",
            response_id="r",
            item_id="i",
            output_index=0,
            content_index=0,
            delta="",
        ).event_id
        == "event_x"
    )
    assert a.to_dict() == {
        "event_id": a.event_id,
        "type": "response.audio.delta",
        "response_id": "r",
        "item_id": "i",
        "output_index": 0,
        "content_index": 0,
        "delta": AUDIO_20MS,
    }


def test_engine_style_constructors_produce_spec_valid_events() -> None:
    item = ResponseMessageItem(id="item_2", role="assistant", status="in_progress")
    response = Response(id="resp_1")
    events: list[WireModel] = [
        SessionCreated(session=Session(id="sess_1", model="local", tools=[FunctionTool(name="f")])),
        ResponseCreated(response=response),
        ResponseOutputItemAdded(response_id="resp_1", output_index=0, item=item),
        ResponseContentPartAdded(
            response_id="resp_1",
            item_id="item_2",
            output_index=0,
            content_index=0,
            part=AudioPart(),
        ),
        ResponseAudioDelta(
            response_id="resp_1",
            item_id="item_2",
            output_index=0,
            content_index=0,
            delta=AUDIO_20MS,
        ),
        ResponseFunctionCallArgumentsDone(
            response_id="resp_1",
            item_id="item_3",
            output_index=1,
            call_id="c",
            name="f",
            arguments="{}",
        ),
        ResponseDone(
            response=Response(
                id="resp_1",
                status="completed",
                output=[item.model_copy(update={"status": "completed"})],
                usage=Usage(total_tokens=3, input_tokens=2, output_tokens=1),
            )
        ),
        RateLimitsUpdated(
            rate_limits=[RateLimit(name="requests", limit=10, remaining=9, reset_seconds=1.0)]
        ),
        ErrorEvent(error=ApiError(type="invalid_request_error", code="invalid_value", message="m")),
        ResponseContentPartAdded(
            response_id="r", item_id="i", output_index=0, content_index=0, part=TextPart(text="")
        ),
    ]
    for event in events:
        out = event.to_dict()
        validate_server_event(out)
        assert parse_server_event(out) == event
    created = events[1].to_dict()["response"]
    assert created["status_details"] is None and created["usage"]["total_tokens"] == 0


def test_client_constructors() -> None:
    append = InputAudioBufferAppend(audio=AUDIO_20MS)
    assert append.to_dict() == {"type": "input_audio_buffer.append", "audio": AUDIO_20MS}
    update = SessionUpdate(session={"voice": "ash", "turn_detection": ServerVad(threshold=0.3)})  # type: ignore[arg-type]
    assert update.to_dict() == {
        "type": "session.update",
        "session": {"voice": "ash", "turn_detection": {"type": "server_vad", "threshold": 0.3}},
    }
    validate_client_event(update.to_dict(), strict=True)
