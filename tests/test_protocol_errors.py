"""Bad input gives ``ProtocolError`` with the exact code, param and a message naming the
field; nothing else ever escapes the parsers (hypothesis fuzzing)."""

from __future__ import annotations

import base64
import json
import types
from collections.abc import Callable, Iterator
from typing import Any, get_args

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from spec_schema import client_event_schemas, example, server_event_schemas, validate_server_event

from realtime_widget.protocol import (
    CLIENT_EVENT_TYPES,
    DEFAULT_MAX_BYTES,
    MAX_APPEND_AUDIO_BYTES,
    SERVER_EVENT_TYPES,
    InputAudioBufferAppend,
    ProtocolError,
    WireModel,
    dumps_json,
    loads_json,
    parse_client_event,
    parse_server_event,
    parsing,
)

PARSERS: list[Callable[..., Any]] = [parse_client_event, parse_server_event]
CODES = {
    "invalid_json",
    "missing_required_parameter",
    "invalid_type",
    "invalid_value",
    "payload_too_large",
}


@pytest.fixture(autouse=True, scope="module")
def _surface_internal_errors() -> Iterator[None]:
    """Internal bugs would otherwise be reported as ProtocolError: make them fail."""
    parsing._RAISE_INTERNAL_ERRORS = True
    yield
    parsing._RAISE_INTERNAL_ERRORS = False


def parse_error(parse: Callable[..., Any], raw: Any, **kwargs: Any) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        parse(raw, **kwargs)
    err = info.value
    assert err.code in CODES and err.type == "invalid_request_error"
    assert isinstance(err.message, str) and err.message
    if err.param:
        assert err.message.startswith(err.param + ": "), "the message names the field"
    return err


def check_error_event(err: ProtocolError) -> None:
    event = err.to_event()
    validate_server_event(event, strict=True)
    assert event["type"] == "error" and event["error"]["code"] == err.code
    assert (
        event["error"].get("param") == err.param and event["error"].get("event_id") == err.event_id
    )


# --------------------------------------------------------------------------- malformed input


@pytest.mark.parametrize(
    "raw",
    [
        '{"type": "input_audio_buffer.commit"',
        "",
        "   ",
        '{"type": "x",}',
        "nul",
        "{'type': 'x'}",
        b"\xff\xfe{}",
        b'{"type": "\xc3("}',
        '{"a": NaN',
    ],
)
@pytest.mark.parametrize("parse", PARSERS)
def test_malformed_json(parse: Callable[..., Any], raw: str | bytes) -> None:
    err = parse_error(parse, raw)
    assert (err.code, err.param, err.event_id) == ("invalid_json", None, None)
    assert err.message.startswith("invalid JSON: ")
    check_error_event(err)


def test_malformed_json_still_reports_a_readable_event_id() -> None:
    err = parse_error(
        parse_client_event, '{"event_id": "evt_9", "type": "response.create", "response": {'
    )
    assert (err.code, err.event_id) == ("invalid_json", "evt_9")
    assert err.to_event()["error"]["event_id"] == "evt_9"


def test_lone_surrogate_text_is_invalid_json() -> None:
    err = parse_error(parse_client_event, '{"type": "x\ud800"}')
    assert err.code == "invalid_json"


@pytest.mark.parametrize(
    "raw, kind",
    [("[]", "an array"), ("5", "5"), ('"text"', "'text'"), ("null", "null"), ("true", "true")],
)
@pytest.mark.parametrize("parse", PARSERS)
def test_not_an_object(parse: Callable[..., Any], raw: str, kind: str) -> None:
    err = parse_error(parse, raw)
    assert (err.code, err.param) == ("invalid_type", None)
    assert err.message == f"expected a JSON object, got {kind}"


@pytest.mark.parametrize("raw", [5, None, 1.5, ["type"], object()])
@pytest.mark.parametrize("parse", PARSERS)
def test_not_text_bytes_or_mapping(parse: Callable[..., Any], raw: Any) -> None:
    err = parse_error(parse, raw)
    assert (err.code, err.param) == ("invalid_type", None)


@pytest.mark.parametrize("parse", PARSERS)
def test_missing_type(parse: Callable[..., Any]) -> None:
    err = parse_error(parse, '{"event_id": "evt_1", "audio": "AAAA"}')
    assert (err.code, err.param, err.event_id) == ("missing_required_parameter", "type", "evt_1")
    assert err.message == "type: missing required parameter"
    check_error_event(err)


@pytest.mark.parametrize(
    "value, shown", [(5, "5"), (None, "null"), (["x"], "an array"), ({"a": 1}, "an object")]
)
@pytest.mark.parametrize("parse", PARSERS)
def test_type_is_not_a_string(parse: Callable[..., Any], value: Any, shown: str) -> None:
    err = parse_error(parse, json.dumps({"type": value}))
    assert (err.code, err.param) == ("invalid_type", "type")
    assert err.message == f"type: expected a string, got {shown}"


# --------------------------------------------------------------------------- field errors

TD = "session.turn_detection"

FIELD_ERRORS: list[tuple[str, dict[str, Any], str, str, str]] = [
    # side, event, code, param, message
    (
        "client",
        {
            "type": "session.update",
            "session": {"turn_detection": {"type": "server_vad", "threshold": "high"}},
        },
        "invalid_type",
        f"{TD}.threshold",
        f"{TD}.threshold: expected a number between 0 and 1, got 'high'",
    ),
    (
        "client",
        {
            "type": "session.update",
            "session": {"turn_detection": {"type": "server_vad", "threshold": 1.5}},
        },
        "invalid_value",
        f"{TD}.threshold",
        f"{TD}.threshold: expected a number between 0 and 1, got 1.5",
    ),
    (
        "client",
        {"type": "input_audio_buffer.append", "audio": 5},
        "invalid_type",
        "audio",
        "audio: expected a string, got 5",
    ),
    (
        "client",
        {
            "type": "conversation.item.truncate",
            "item_id": "i",
            "content_index": "0",
            "audio_end_ms": 10,
        },
        "invalid_type",
        "content_index",
        "content_index: expected an integer, got '0'",
    ),
    (
        "client",
        {
            "type": "conversation.item.truncate",
            "item_id": "i",
            "content_index": 0,
            "audio_end_ms": 1.5,
        },
        "invalid_type",
        "audio_end_ms",
        "audio_end_ms: expected an integer, got 1.5",
    ),
    (
        "client",
        {
            "type": "conversation.item.truncate",
            "item_id": "i",
            "content_index": 0,
            "audio_end_ms": -1,
        },
        "invalid_value",
        "audio_end_ms",
        "audio_end_ms: expected a value >= 0, got -1",
    ),
    (
        "client",
        {"type": "session.update", "session": "fast"},
        "invalid_type",
        "session",
        "session: expected an object, got 'fast'",
    ),
    (
        "client",
        {"type": "session.update", "session": {"temperature": "hot"}},
        "invalid_type",
        "session.temperature",
        "session.temperature: expected a number, got 'hot'",
    ),
    (
        "client",
        {"type": "session.update", "session": {"modalities": "audio"}},
        "invalid_type",
        "session.modalities",
        "session.modalities: expected an array, got 'audio'",
    ),
    (
        "client",
        {"type": "session.update", "session": {"instructions": ["be nice"]}},
        "invalid_type",
        "session.instructions",
        "session.instructions: expected a string, got an array",
    ),
    (
        "client",
        {"type": "response.create", "response": {"commit": "yes"}},
        "invalid_type",
        "response.commit",
        "response.commit: expected true or false, got 'yes'",
    ),
    (
        "client",
        {"type": "response.cancel", "event_id": 5},
        "invalid_type",
        "event_id",
        "event_id: expected a string, got 5",
    ),
    (
        "client",
        {
            "type": "conversation.item.create",
            "item": {"type": "message", "role": "user", "content": "hi"},
        },
        "invalid_type",
        "item.content",
        "item.content: expected an array, got 'hi'",
    ),
    (
        "client",
        {
            "type": "session.update",
            "session": {"tools": [{"type": "function", "name": "f", "parameters": "{}"}]},
        },
        "invalid_type",
        "session.tools[0].parameters",
        "session.tools[0].parameters: expected an object, got '{}'",
    ),
    (
        "server",
        {
            "type": "response.audio.delta",
            "response_id": "r",
            "item_id": "i",
            "output_index": -1,
            "content_index": 0,
            "delta": "",
        },
        "invalid_value",
        "output_index",
        "output_index: expected a value >= 0, got -1",
    ),
    (
        "server",
        {
            "type": "rate_limits.updated",
            "rate_limits": [
                {"name": "a", "limit": 1, "remaining": 1, "reset_seconds": 1},
                {"name": "b", "limit": "10", "remaining": 1, "reset_seconds": 1},
            ],
        },
        "invalid_type",
        "rate_limits[1].limit",
        "rate_limits[1].limit: expected an integer, got '10'",
    ),
    (
        "server",
        {"type": "session.created", "session": {"id": "s", "model": "m", "temperature": None}},
        "invalid_type",
        "session.temperature",
        "session.temperature: expected a number, got null",
    ),
    # missing required fields
    (
        "client",
        {"type": "input_audio_buffer.append"},
        "missing_required_parameter",
        "audio",
        "audio: missing required parameter",
    ),
    (
        "client",
        {"type": "session.update"},
        "missing_required_parameter",
        "session",
        "session: missing required parameter",
    ),
    (
        "client",
        {"type": "conversation.item.create"},
        "missing_required_parameter",
        "item",
        "item: missing required parameter",
    ),
    (
        "client",
        {"type": "conversation.item.create", "item": {"role": "user", "content": []}},
        "missing_required_parameter",
        "item.type",
        "item.type: missing required parameter",
    ),
    (
        "client",
        {"type": "conversation.item.create", "item": {"type": "message", "content": []}},
        "missing_required_parameter",
        "item.role",
        "item.role: missing required parameter",
    ),
    (
        "client",
        {
            "type": "conversation.item.create",
            "item": {"type": "function_call_output", "output": "o"},
        },
        "missing_required_parameter",
        "item.call_id",
        "item.call_id: missing required parameter",
    ),
    (
        "client",
        {
            "type": "conversation.item.create",
            "item": {"type": "message", "role": "user", "content": [{"type": "input_text"}]},
        },
        "missing_required_parameter",
        "item.content[0].text",
        "item.content[0].text: missing required parameter",
    ),
    (
        "client",
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "text", "text": "a"}, {"type": "text"}],
            },
        },
        "missing_required_parameter",
        "item.content[1].text",
        "item.content[1].text: missing required parameter",
    ),
    (
        "client",
        {"type": "conversation.item.truncate", "item_id": "i", "audio_end_ms": 5},
        "missing_required_parameter",
        "content_index",
        "content_index: missing required parameter",
    ),
    (
        "client",
        {"type": "session.update", "session": {"tool_choice": {"type": "function"}}},
        "missing_required_parameter",
        "session.tool_choice",
        "session.tool_choice: a function tool choice needs 'function': {'name': ...}",
    ),
    (
        "client",
        {"type": "session.update", "session": {"tools": [{"type": "function"}]}},
        "missing_required_parameter",
        "session.tools[0].name",
        "session.tools[0].name: missing required parameter",
    ),
    (
        "server",
        {
            "type": "response.audio.delta",
            "response_id": "r",
            "item_id": "i",
            "output_index": 0,
            "content_index": 0,
        },
        "missing_required_parameter",
        "delta",
        "delta: missing required parameter",
    ),
    (
        "server",
        {"type": "response.created"},
        "missing_required_parameter",
        "response",
        "response: missing required parameter",
    ),
    (
        "server",
        {"type": "response.done", "response": {"status": "completed"}},
        "missing_required_parameter",
        "response.id",
        "response.id: missing required parameter",
    ),
    (
        "server",
        {"type": "error", "error": {"type": "server_error"}},
        "missing_required_parameter",
        "error.message",
        "error.message: missing required parameter",
    ),
    (
        "server",
        {
            "type": "conversation.item.created",
            "item": {"object": "realtime.item", "type": "message", "role": "user"},
        },
        "missing_required_parameter",
        "item.id",
        "item.id: missing required parameter",
    ),
    (
        "server",
        {
            "type": "response.done",
            "response": {"id": "r", "status": "cancelled", "status_details": {"type": "cancelled"}},
        },
        "missing_required_parameter",
        "response.status_details.reason",
        "response.status_details.reason: missing required parameter",
    ),
    # invalid enum values
    (
        "client",
        {"type": "session.update", "session": {"modalities": ["text", "video"]}},
        "invalid_value",
        "session.modalities[1]",
        "session.modalities[1]: expected 'text' or 'audio', got 'video'",
    ),
    (
        "client",
        {
            "type": "conversation.item.create",
            "item": {"type": "message", "role": "robot", "content": []},
        },
        "invalid_value",
        "item.role",
        "item.role: expected one of 'system', 'user' or 'assistant', got 'robot'",
    ),
    (
        "client",
        {"type": "conversation.item.create", "item": {"type": "note"}},
        "invalid_value",
        "item.type",
        "item.type: expected one of 'message', 'function_call' or 'function_call_output', got "
        "'note'",
    ),
    (
        "client",
        {
            "type": "conversation.item.create",
            "item": {"type": "message", "role": "user", "content": [{"type": "input_image"}]},
        },
        "invalid_value",
        "item.content[0].type",
        "item.content[0].type: expected one of 'input_text', 'input_audio', 'text' or 'audio', "
        "got 'input_image'",
    ),
    (
        "client",
        {"type": "session.update", "session": {"turn_detection": {"type": "push_to_talk"}}},
        "invalid_value",
        f"{TD}.type",
        f"{TD}.type: expected one of 'server_vad', 'semantic_vad' or 'none', got 'push_to_talk'",
    ),
    (
        "client",
        {"type": "session.update", "session": {"tool_choice": "sometimes"}},
        "invalid_value",
        "session.tool_choice",
        "session.tool_choice: expected 'auto', 'none', 'required' or an object, got 'sometimes'",
    ),
    (
        "client",
        {"type": "session.update", "session": {"max_response_output_tokens": "lots"}},
        "invalid_value",
        "session.max_response_output_tokens",
        "session.max_response_output_tokens: expected an integer or 'inf', got 'lots'",
    ),
    (
        "client",
        {"type": "response.create", "response": {"output_audio_format": "mp3"}},
        "invalid_value",
        "response.output_audio_format",
        "response.output_audio_format: expected one of 'pcm16', 'g711_ulaw', 'g711_alaw', "
        "'g711-ulaw' or 'g711-alaw', got 'mp3'",
    ),
    (
        "client",
        {
            "type": "conversation.item.create",
            "item": {
                "type": "function_call",
                "name": "f",
                "call_id": "c",
                "arguments": "",
                "status": "done",
            },
        },
        "invalid_value",
        "item.status",
        "item.status: expected one of 'in_progress', 'completed' or 'incomplete', got 'done'",
    ),
    (
        "server",
        {"type": "response.done", "response": {"id": "r", "status": "paused"}},
        "invalid_value",
        "response.status",
        "response.status: expected one of 'in_progress', 'completed', 'cancelled', 'incomplete' "
        "or 'failed', got 'paused'",
    ),
    (
        "server",
        {
            "type": "response.done",
            "response": {
                "id": "r",
                "status": "cancelled",
                "status_details": {"type": "cancelled", "reason": "bored"},
            },
        },
        "invalid_value",
        "response.status_details.reason",
        "response.status_details.reason: expected 'turn_detected' or 'client_cancelled', got "
        "'bored'",
    ),
    (
        "server",
        {
            "type": "response.content_part.added",
            "response_id": "r",
            "item_id": "i",
            "output_index": 0,
            "content_index": 0,
            "part": {"type": "video"},
        },
        "invalid_value",
        "part.type",
        "part.type: expected one of 'input_text', 'input_audio', 'text' or 'audio', got 'video'",
    ),
    (
        "server",
        {
            "type": "conversation.item.created",
            "item": {"id": "i", "object": "realtime.thing", "type": "message", "role": "user"},
        },
        "invalid_value",
        "item.object",
        "item.object: expected 'realtime.item', got 'realtime.thing'",
    ),
    (
        "client",
        {"type": "session.update", "session": {"modalities": [1]}},
        "invalid_type",
        "session.modalities[0]",
        "session.modalities[0]: expected 'text' or 'audio', got 1",
    ),
]


@pytest.mark.parametrize(
    "side, event, code, param, message", FIELD_ERRORS, ids=[c[3] + "-" + c[2] for c in FIELD_ERRORS]
)
def test_field_errors(
    side: str, event: dict[str, Any], code: str, param: str, message: str
) -> None:
    parse = parse_client_event if side == "client" else parse_server_event
    if "event_id" in event:  # the case about event_id itself: an unreadable id is not reported
        err = parse_error(parse, json.dumps(event))
        assert (err.code, err.param, err.message, err.event_id) == (code, param, message, None)
        return
    for raw in (json.dumps({**event, "event_id": "evt_42"}), {**event, "event_id": "evt_42"}):
        err = parse_error(parse, raw)
        assert (err.code, err.param, err.message) == (code, param, message)
        assert err.event_id == "evt_42"
        check_error_event(err)


def test_several_problems_are_counted() -> None:
    err = parse_error(
        parse_client_event,
        {"type": "conversation.item.truncate", "content_index": "0", "audio_end_ms": -1},
    )
    assert (
        err.param == "item_id"
        and err.message == "item_id: missing required parameter (and 2 more problems)"
    )


def test_long_values_are_shortened_in_messages() -> None:
    err = parse_error(
        parse_client_event,
        {"type": "session.update", "session": {"voice": "x" * 10_000, "modalities": "a" * 500}},
    )
    assert (
        err.param == "session.modalities"
        and len(err.message) < 150
        and "(500 characters)" in err.message
    )


# --------------------------------------------------------------------------- size limit


def test_payload_too_large() -> None:
    raw = json.dumps(
        {"event_id": "evt_big", "type": "input_audio_buffer.append", "audio": "A" * 200}
    )
    for parse in PARSERS:
        for form in (raw, raw.encode(), bytearray(raw.encode()), memoryview(raw.encode())):
            err = parse_error(parse, form, max_bytes=100)
            assert (err.code, err.param, err.event_id) == ("payload_too_large", None, "evt_big")
            assert f"{len(raw):,} bytes" in err.message and "100 bytes" in err.message
            check_error_event(err)
        assert (
            parse(raw, max_bytes=len(raw)).type == "input_audio_buffer.append"
        )  # the limit is inclusive


def test_payload_size_counts_utf8_bytes_not_characters() -> None:
    raw = json.dumps({"type": "conversation.item.delete", "item_id": "é" * 60}, ensure_ascii=False)
    assert len(raw) < 150 < len(raw.encode())
    assert parse_error(parse_client_event, raw, max_bytes=150).code == "payload_too_large"
    assert parse_client_event(raw, max_bytes=len(raw.encode())).item_id == "é" * 60  # type: ignore[union-attr]


def test_default_limit_admits_15_mib_of_audio_and_rejects_more() -> None:
    assert DEFAULT_MAX_BYTES > MAX_APPEND_AUDIO_BYTES * 4 // 3
    audio = base64.b64encode(bytes(MAX_APPEND_AUDIO_BYTES)).decode()
    event = parse_client_event(InputAudioBufferAppend(audio=audio).to_json())
    assert isinstance(event, InputAudioBufferAppend) and len(event.audio) == len(audio)
    too_big = '{"type": "input_audio_buffer.append", "audio": "' + "A" * DEFAULT_MAX_BYTES + '"}'
    assert parse_error(parse_client_event, too_big).code == "payload_too_large"


# --------------------------------------------------------------------------- ProtocolError itself


def test_protocol_error_attributes_and_event() -> None:
    err = ProtocolError(
        "audio: not valid base64", code="invalid_base64", param="audio", event_id="evt_1"
    )
    assert isinstance(err, Exception) and str(err) == "audio: not valid base64"
    assert (err.type, err.code, err.param, err.event_id) == (
        "invalid_request_error",
        "invalid_base64",
        "audio",
        "evt_1",
    )
    event = err.to_event()
    assert event["type"] == "error" and event["event_id"].startswith("event_")
    assert event["error"] == {
        "type": "invalid_request_error",
        "code": "invalid_base64",
        "message": "audio: not valid base64",
        "param": "audio",
        "event_id": "evt_1",
    }
    validate_server_event(event, strict=True)
    assert err.to_event("event_fixed")["event_id"] == "event_fixed"
    assert err.to_event()["event_id"] != event["event_id"]
    bare = ProtocolError("boom", "invalid_value").to_event()
    assert bare["error"] == {
        "type": "invalid_request_error",
        "code": "invalid_value",
        "message": "boom",
    }
    validate_server_event(bare, strict=True)
    assert "invalid_base64" in repr(err)


def test_error_event_round_trips_through_the_models() -> None:
    err = parse_error(
        parse_client_event, '{"type": "session.update", "event_id": "e7", "session": {"voice": 1}}'
    )
    event = parse_server_event(err.to_event())
    assert (
        event.type == "error"
        and event.error.param == "session.voice"
        and event.error.event_id == "e7"
    )  # type: ignore[union-attr]


# --------------------------------------------------------------------------- fuzzing

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def _field_names_and_literals() -> tuple[list[str], list[str]]:
    """Every field name and string literal of the models: vocabulary for structured fuzzing."""
    names: set[str] = set()
    literals: set[str] = set()
    seen: set[type] = set()

    def visit(annotation: Any) -> None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation in seen:
                return
            seen.add(annotation)
            for name, field in annotation.model_fields.items():
                names.add(name)
                visit(field.annotation)
            return
        if isinstance(annotation, str):
            literals.add(annotation)
        for arg in get_args(annotation):
            visit(arg)

    for cls in [*CLIENT_EVENT_TYPES.values(), *SERVER_EVENT_TYPES.values()]:
        visit(cls)
    return sorted(names), sorted(literals)


FIELD_NAMES, LITERALS = _field_names_and_literals()
EVENT_TYPES = sorted(CLIENT_EVENT_TYPES) + sorted(SERVER_EVENT_TYPES) + ["unknown.event"]
shaped_scalars = json_scalars | st.sampled_from(LITERALS) | st.integers(min_value=-2, max_value=3)
shaped_values = st.recursive(
    shaped_scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(FIELD_NAMES), children, max_size=6)
        | st.fixed_dictionaries(
            {"type": st.sampled_from(LITERALS)}, optional={n: children for n in FIELD_NAMES[:40]}
        )
    ),
    max_leaves=25,
)
shaped_events = st.builds(
    lambda t, fields: {**fields, "type": t},
    st.sampled_from(EVENT_TYPES),
    st.dictionaries(st.sampled_from(FIELD_NAMES), shaped_values, max_size=8),
)


def check_outcome(parse: Callable[..., Any], raw: Any, *, round_trip: bool = True) -> None:
    """The parser returns a model or raises ProtocolError, nothing else; accepted
    events round-trip; errors make a spec-valid error event."""
    try:
        event = parse(raw)
    except ProtocolError as err:
        assert err.code in CODES
        assert isinstance(err.message, str) and err.message
        assert err.param is None or isinstance(err.param, str)
        assert err.event_id is None or isinstance(err.event_id, str)
        validate_server_event(err.to_event(), strict=True)
        return
    assert isinstance(event, WireModel)
    if round_trip:
        again = parse(event.to_json())
        assert again == event
        assert again.to_dict() == event.to_dict()


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(json_values)
def test_fuzz_any_json_value(value: Any) -> None:
    raw = json.dumps(value)
    for parse in PARSERS:
        check_outcome(parse, raw)
        check_outcome(parse, raw.encode())


@FUZZ
@given(shaped_events)
def test_fuzz_event_shaped_objects(event: dict[str, Any]) -> None:
    for parse in PARSERS:
        check_outcome(parse, json.dumps(event))
        check_outcome(parse, event)


@FUZZ
@given(st.binary(max_size=300))
def test_fuzz_any_bytes(raw: bytes) -> None:
    for parse in PARSERS:
        check_outcome(parse, raw)


@FUZZ
@given(st.text(max_size=300))
def test_fuzz_any_text(raw: str) -> None:
    for parse in PARSERS:
        check_outcome(parse, raw)


python_values = st.recursive(
    json_scalars
    | st.binary(max_size=8)
    | st.builds(object)
    | st.frozensets(st.integers(), max_size=3),
    lambda children: (
        st.lists(children, max_size=3)
        | st.tuples(children, children)
        | st.dictionaries(st.text(max_size=6) | st.integers(), children, max_size=3)
    ),
    max_leaves=12,
)


@FUZZ
@given(
    st.sampled_from(EVENT_TYPES),
    st.dictionaries(st.sampled_from(FIELD_NAMES) | st.integers(), python_values, max_size=6),
)
def test_fuzz_mappings_with_arbitrary_python_values(
    event_type: str, fields: dict[Any, Any]
) -> None:
    mapping = types.MappingProxyType({**fields, "type": event_type})
    for parse in PARSERS:
        check_outcome(parse, mapping, round_trip=False)  # non-JSON extras need not serialise


# Mutation fuzzing: valid events with one nested value deleted or replaced reach the
# deep validation paths (items, content parts, sessions) that random objects rarely do.
VALID_EXAMPLES: list[tuple[Callable[..., Any], dict[str, Any]]] = [
    (parse, example(schema, mode))  # type: ignore[arg-type]
    for parse, mapping in (
        (parse_client_event, client_event_schemas()),
        (parse_server_event, server_event_schemas()),
    )
    for schema in mapping.values()
    for mode in ("min", "max")
]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, sub in value.items():
            yield prefix + (key,)
            yield from _paths(sub, prefix + (key,))
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            yield prefix + (i,)
            yield from _paths(sub, prefix + (i,))


@FUZZ
@given(st.data())
def test_fuzz_mutated_valid_events(data: st.DataObject) -> None:
    parse, event = data.draw(st.sampled_from(VALID_EXAMPLES))
    event = json.loads(json.dumps(event))  # a private copy
    paths = [p for p in _paths(event) if p != ("type",)]
    if paths:
        path = data.draw(st.sampled_from(paths))
        parent = event
        for key in path[:-1]:
            parent = parent[key]
        if data.draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = data.draw(shaped_values)
    check_outcome(parse, json.dumps(event))
    check_outcome(parse, event)


@pytest.mark.parametrize(
    "text",
    [
        '{"type":"x","a":[1,2.5,null,true],"b":{"c":"\\u00e9"}}',
        '{"a":"\\ud800"}',
        '{"a":NaN}',
        "[1,2]",
        '"s"',
        "12345678901234567890123",
    ],
)
def test_loads_json_reads_what_the_standard_library_reads(text):
    expected = json.dumps(json.loads(text))  # compared as JSON text: NaN != NaN as a float
    assert json.dumps(loads_json(text)) == expected
    assert json.dumps(loads_json(text.encode())) == expected


def test_dumps_json_is_compact_ascii_text_that_reads_back():
    event = {"type": "x", "text": "caf\u00e9\u2028\ud83d", "n": [1, 2.5, None, True]}
    text = dumps_json(event)
    # one line of ASCII without spaces: a log line or a wire frame that nothing can split
    assert text.isascii() and " " not in text and "\n" not in text
    assert text.startswith('{"type":"x","text":"caf\\u00e9')
    assert json.loads(text) == event


@pytest.mark.parametrize("text", ["", "{", '{"a":1,}', "[1,2]x", "\x00"])
def test_loads_json_fails_with_the_standard_librarys_error(text):
    with pytest.raises(json.JSONDecodeError) as ours:
        loads_json(text)
    with pytest.raises(json.JSONDecodeError) as theirs:
        json.loads(text)
    assert (ours.value.msg, ours.value.pos) == (theirs.value.msg, theirs.value.pos)
