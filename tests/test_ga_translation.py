"""Tests for realtime_widget.protocol.ga (preview <-> GA wire translation).

The GA payloads are modelled on captured GA traffic (`gpt-realtime`, the
`/v1/realtime` WebSocket) and on the openai-python `types/realtime/*` shapes.
"""

from __future__ import annotations

import base64
import copy
import json
import string
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realtime_widget.protocol import ga
from realtime_widget.protocol.ga import (
    client_ga_to_preview,
    client_preview_to_ga,
    format_ga_to_preview,
    format_preview_to_ga,
    modalities_ga_to_preview,
    modalities_preview_to_ga,
    server_ga_to_preview,
    server_preview_to_ga,
    session_ga_to_preview,
    session_preview_to_ga,
    turn_detection_preview_to_ga,
)

M = "x_untranslated"
AUDIO = base64.b64encode(bytes(range(256)) * 3).decode()
PCM = {"type": "audio/pcm", "rate": 24000}

# ======================================================================================
# helpers
# ======================================================================================


def _containers(obj: Any, acc: set | None = None) -> set:
    acc = set() if acc is None else acc
    if isinstance(obj, dict):
        acc.add(id(obj))
        for v in obj.values():
            _containers(v, acc)
    elif isinstance(obj, list):
        acc.add(id(obj))
        for v in obj:
            _containers(v, acc)
    return acc


def pure(fn: Callable[[dict], list[dict]], event: dict) -> list[dict]:
    """Call a translator and check its contract: no mutation, no aliasing, JSON-able."""
    before = copy.deepcopy(event)
    out = fn(event)
    assert event == before, "input was mutated"
    assert isinstance(out, list) and all(isinstance(e, dict) for e in out)
    inputs = _containers(event)
    seen: set = set()
    for e in out:
        ids = _containers(e)
        assert not ids & inputs, "output shares a dict/list with the input"
        assert not ids & seen, "two output events share a dict/list"
        seen |= ids
    json.dumps(out)
    return out


def chain(fn: Callable[[dict], list[dict]], events: Iterable[dict]) -> list[dict]:
    return [out for e in events for out in pure(fn, e)]


def drop_marked_item_done(events: Iterable[dict]) -> list[dict]:
    return [e for e in events if not (e["type"] == "conversation.item.done" and e.get(M) == "ga")]


# ======================================================================================
# realistic payloads
# ======================================================================================

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
VAD = {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300, "silence_duration_ms": 500}

PV_SESSION = {
    "object": "realtime.session",
    "id": "sess_Ct1OVZ9vNW62W",
    "model": "gpt-4o-realtime-preview-2024-10-01",
    "modalities": ["text", "audio"],
    "instructions": "You are a helpful assistant.",
    "voice": "alloy",
    "input_audio_format": "pcm16",
    "output_audio_format": "pcm16",
    "input_audio_transcription": {"model": "whisper-1"},
    "turn_detection": VAD,
    "tools": [WEATHER_TOOL],
    "tool_choice": "auto",
    "temperature": 0.8,
    "max_response_output_tokens": "inf",
}
GA_SESSION = {
    "type": "realtime",
    "object": "realtime.session",
    "id": "sess_Ct1OVZ9vNW62W",
    "model": "gpt-4o-realtime-preview-2024-10-01",
    "output_modalities": ["audio"],
    "instructions": "You are a helpful assistant.",
    "tools": [WEATHER_TOOL],
    "tool_choice": "auto",
    "max_output_tokens": "inf",
    "audio": {
        "input": {"format": PCM, "transcription": {"model": "whisper-1"}, "turn_detection": VAD},
        "output": {"format": PCM, "voice": "alloy"},
    },
}
PV_SESSION_TEXT = {
    **PV_SESSION,
    "modalities": ["text"],
    "voice": "verse",
    "input_audio_format": "g711-ulaw",
    "output_audio_format": "g711_alaw",
    "input_audio_transcription": None,
    "turn_detection": None,
    "tools": [],
    "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
    "temperature": 0.6,
    "max_response_output_tokens": 4096,
}
GA_SESSION_TEXT = {
    "type": "realtime",
    "object": "realtime.session",
    "id": "sess_Ct1OVZ9vNW62W",
    "model": "gpt-4o-realtime-preview-2024-10-01",
    "output_modalities": ["text"],
    "instructions": "You are a helpful assistant.",
    "tools": [],
    "tool_choice": {"type": "function", "name": "get_weather"},
    "max_output_tokens": 4096,
    "audio": {
        "input": {"format": {"type": "audio/pcmu"}, "transcription": None, "turn_detection": None},
        "output": {"format": {"type": "audio/pcma"}, "voice": "verse"},
    },
}

# what the GA service actually sends in session.created (captured shape)
GA_CAPTURED_SESSION = {
    "type": "realtime",
    "object": "realtime.session",
    "id": "sess_Ct1OVZ9vNW62W3cUp",
    "model": "gpt-realtime",
    "output_modalities": ["audio"],
    "instructions": "You are a polite AI assistant on a phone call. Keep answers short.",
    "tools": [],
    "tool_choice": "auto",
    "max_output_tokens": "inf",
    "tracing": None,
    "truncation": "auto",
    "prompt": None,
    "expires_at": 1767233035,
    "audio": {
        "input": {
            "format": PCM,
            "transcription": None,
            "noise_reduction": None,
            "turn_detection": {
                "type": "server_vad",
                "threshold": 0.5,
                "prefix_padding_ms": 300,
                "silence_duration_ms": 200,
                "idle_timeout_ms": None,
                "create_response": True,
                "interrupt_response": True,
            },
        },
        "output": {"format": PCM, "voice": "alloy", "speed": 1.0},
    },
    "include": None,
}
PV_FROM_CAPTURED_SESSION = {
    "object": "realtime.session",
    "id": "sess_Ct1OVZ9vNW62W3cUp",
    "model": "gpt-realtime",
    "modalities": ["text", "audio"],
    "instructions": "You are a polite AI assistant on a phone call. Keep answers short.",
    "voice": "alloy",
    "speed": 1.0,
    "input_audio_format": "pcm16",
    "output_audio_format": "pcm16",
    "input_audio_transcription": None,
    "input_audio_noise_reduction": None,
    "turn_detection": GA_CAPTURED_SESSION["audio"]["input"]["turn_detection"],
    "tools": [],
    "tool_choice": "auto",
    "temperature": 0.8,
    "max_response_output_tokens": "inf",
    "tracing": None,
    "truncation": "auto",
    "prompt": None,
    "expires_at": 1767233035,
    "include": None,
}


def pv_item(**kw: Any) -> dict:
    return {"object": "realtime.item", **kw}


USER_AUDIO_ITEM = {
    "id": "item_Ct1OXLqYLre7",
    "type": "message",
    "status": "completed",
    "role": "user",
    "content": [{"type": "input_audio", "transcript": None}],
}
ASSISTANT_EMPTY = {
    "id": "item_Ct1OZd4Zkrcb",
    "type": "message",
    "status": "in_progress",
    "role": "assistant",
    "content": [],
}
TRANSCRIPT = "Sure! The weather in Paris is sunny, 21 degrees."
GA_ASSISTANT_DONE = {
    "id": "item_Ct1OZd4Zkrcb",
    "type": "message",
    "status": "completed",
    "role": "assistant",
    "content": [{"type": "output_audio", "transcript": TRANSCRIPT}],
}
PV_ASSISTANT_DONE = pv_item(
    id="item_Ct1OZd4Zkrcb",
    type="message",
    status="completed",
    role="assistant",
    content=[{"type": "audio", "transcript": TRANSCRIPT}],
)
FUNCTION_CALL = {
    "id": "item_Fc01",
    "type": "function_call",
    "status": "completed",
    "name": "get_weather",
    "call_id": "call_Zx81",
    "arguments": '{"city": "Paris"}',
}
USAGE = {
    "total_tokens": 320,
    "input_tokens": 132,
    "output_tokens": 188,
    "input_token_details": {
        "text_tokens": 59,
        "audio_tokens": 73,
        "image_tokens": 0,
        "cached_tokens": 64,
        "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 64, "image_tokens": 0},
    },
    "output_token_details": {"text_tokens": 41, "audio_tokens": 147},
}
GA_RESPONSE_CREATED = {
    "object": "realtime.response",
    "id": "resp_Ct1OZ5ukpGEZ",
    "status": "in_progress",
    "status_details": None,
    "output": [],
    "conversation_id": "conv_Ct1OV3QLbjuy",
    "output_modalities": ["audio"],
    "max_output_tokens": "inf",
    "audio": {"output": {"format": PCM, "voice": "alloy"}},
    "usage": None,
    "metadata": None,
}
PV_RESPONSE_CREATED = {
    "object": "realtime.response",
    "id": "resp_Ct1OZ5ukpGEZ",
    "status": "in_progress",
    "status_details": None,
    "output": [],
    "conversation_id": "conv_Ct1OV3QLbjuy",
    "modalities": ["text", "audio"],
    "max_output_tokens": "inf",
    "voice": "alloy",
    "output_audio_format": "pcm16",
    "usage": None,
    "metadata": None,
}
GA_RESPONSE_DONE = {
    **GA_RESPONSE_CREATED,
    "status": "completed",
    "output": [GA_ASSISTANT_DONE, FUNCTION_CALL],
    "usage": USAGE,
}
PV_RESPONSE_DONE = {
    **PV_RESPONSE_CREATED,
    "status": "completed",
    "output": [PV_ASSISTANT_DONE, pv_item(**FUNCTION_CALL)],
    "usage": USAGE,
}

STREAM = {
    "response_id": "resp_Ct1OZ5ukpGEZ",
    "item_id": "item_Ct1OZd4Zkrcb",
    "output_index": 0,
    "content_index": 0,
}


def ev(kind: str, eid: str = "event_X", **fields: Any) -> dict:
    return {"type": kind, "event_id": eid, **fields}


# ======================================================================================
# server: preview -> GA
# ======================================================================================

SERVER_TO_GA = [
    (
        "session.created",
        ev("session.created", "event_A1", session=PV_SESSION),
        [ev("session.created", "event_A1", session=GA_SESSION)],
    ),
    (
        "session.updated text-only, g711, vad off, forced tool",
        ev("session.updated", "event_A2", session=PV_SESSION_TEXT),
        [ev("session.updated", "event_A2", session=GA_SESSION_TEXT)],
    ),
    (
        "conversation.item.created user (complete) -> added + done",
        ev(
            "conversation.item.created",
            "event_B1",
            previous_item_id="item_Prev00",
            item=pv_item(**USER_AUDIO_ITEM),
        ),
        [
            ev(
                "conversation.item.added",
                "event_B1",
                previous_item_id="item_Prev00",
                item=pv_item(**USER_AUDIO_ITEM),
            ),
            ev(
                "conversation.item.done",
                "event_B1_done",
                previous_item_id="item_Prev00",
                item=pv_item(**USER_AUDIO_ITEM),
            ),
        ],
    ),
    (
        "conversation.item.created assistant in_progress -> added only",
        ev(
            "conversation.item.created",
            "event_B2",
            previous_item_id="item_Ct1OXLqYLre7",
            item=pv_item(**ASSISTANT_EMPTY),
        ),
        [
            ev(
                "conversation.item.added",
                "event_B2",
                previous_item_id="item_Ct1OXLqYLre7",
                item=pv_item(**ASSISTANT_EMPTY),
            )
        ],
    ),
    (
        "conversation.item.created assistant text (client-created, complete)",
        ev(
            "conversation.item.created",
            "event_B3",
            previous_item_id=None,
            item=pv_item(
                id="item_As01",
                type="message",
                status="completed",
                role="assistant",
                content=[{"type": "text", "text": "Earlier answer."}],
            ),
        ),
        [
            ev(
                "conversation.item.added",
                "event_B3",
                previous_item_id=None,
                item=pv_item(
                    id="item_As01",
                    type="message",
                    status="completed",
                    role="assistant",
                    content=[{"type": "output_text", "text": "Earlier answer."}],
                ),
            ),
            ev(
                "conversation.item.done",
                "event_B3_done",
                previous_item_id=None,
                item=pv_item(
                    id="item_As01",
                    type="message",
                    status="completed",
                    role="assistant",
                    content=[{"type": "output_text", "text": "Earlier answer."}],
                ),
            ),
        ],
    ),
    (
        "conversation.item.created function_call_output",
        ev(
            "conversation.item.created",
            "event_B4",
            previous_item_id="item_Fc01",
            item=pv_item(
                id="item_Fo01", type="function_call_output", call_id="call_Zx81", output='{"t":21}'
            ),
        ),
        [
            ev(
                "conversation.item.added",
                "event_B4",
                previous_item_id="item_Fc01",
                item=pv_item(
                    id="item_Fo01",
                    type="function_call_output",
                    call_id="call_Zx81",
                    output='{"t":21}',
                ),
            ),
            ev(
                "conversation.item.done",
                "event_B4_done",
                previous_item_id="item_Fc01",
                item=pv_item(
                    id="item_Fo01",
                    type="function_call_output",
                    call_id="call_Zx81",
                    output='{"t":21}',
                ),
            ),
        ],
    ),
    (
        "conversation.item.created user item reported in_progress is still created whole",
        ev(
            "conversation.item.created",
            "event_B8",
            previous_item_id=None,
            item=pv_item(**{**USER_AUDIO_ITEM, "status": "in_progress"}),
        ),
        [
            ev(
                "conversation.item.added",
                "event_B8",
                previous_item_id=None,
                item=pv_item(**{**USER_AUDIO_ITEM, "status": "in_progress"}),
            ),
            ev(
                "conversation.item.done",
                "event_B8_done",
                previous_item_id=None,
                item=pv_item(**{**USER_AUDIO_ITEM, "status": "in_progress"}),
            ),
        ],
    ),
    (
        "conversation.item.created function_call in_progress -> added only",
        ev(
            "conversation.item.created",
            "event_B5",
            previous_item_id="item_Ct1OXLqYLre7",
            item=pv_item(**{**FUNCTION_CALL, "status": "in_progress", "arguments": ""}),
        ),
        [
            ev(
                "conversation.item.added",
                "event_B5",
                previous_item_id="item_Ct1OXLqYLre7",
                item=pv_item(**{**FUNCTION_CALL, "status": "in_progress", "arguments": ""}),
            )
        ],
    ),
    (
        "response.created",
        ev("response.created", "event_C1", response=PV_RESPONSE_CREATED),
        [ev("response.created", "event_C1", response=GA_RESPONSE_CREATED)],
    ),
    (
        "response.done (temperature dropped, output items renamed)",
        ev("response.done", "event_C2", response={**PV_RESPONSE_DONE, "temperature": 0.8}),
        [
            ev(
                "response.done",
                "event_C2",
                response={
                    **GA_RESPONSE_DONE,
                    "output": [pv_item(**GA_ASSISTANT_DONE), pv_item(**FUNCTION_CALL)],
                },
            )
        ],
    ),
    (
        "response.output_item.added",
        ev(
            "response.output_item.added",
            "event_D1",
            response_id="resp_Ct1OZ5ukpGEZ",
            output_index=0,
            item=pv_item(**ASSISTANT_EMPTY),
        ),
        [
            ev(
                "response.output_item.added",
                "event_D1",
                response_id="resp_Ct1OZ5ukpGEZ",
                output_index=0,
                item=pv_item(**ASSISTANT_EMPTY),
            )
        ],
    ),
    (
        "response.output_item.done -> conversation.item.done + output_item.done",
        ev(
            "response.output_item.done",
            "event_D2",
            response_id="resp_Ct1OZ5ukpGEZ",
            output_index=0,
            item=PV_ASSISTANT_DONE,
        ),
        [
            ev("conversation.item.done", "event_D2_done", item=pv_item(**GA_ASSISTANT_DONE)),
            ev(
                "response.output_item.done",
                "event_D2",
                response_id="resp_Ct1OZ5ukpGEZ",
                output_index=0,
                item=pv_item(**GA_ASSISTANT_DONE),
            ),
        ],
    ),
    (
        "response.output_item.done function_call",
        ev(
            "response.output_item.done",
            "event_D3",
            response_id="resp_Ct1OZ5ukpGEZ",
            output_index=1,
            item=pv_item(**FUNCTION_CALL),
        ),
        [
            ev("conversation.item.done", "event_D3_done", item=pv_item(**FUNCTION_CALL)),
            ev(
                "response.output_item.done",
                "event_D3",
                response_id="resp_Ct1OZ5ukpGEZ",
                output_index=1,
                item=pv_item(**FUNCTION_CALL),
            ),
        ],
    ),
    (
        "response.content_part.added (GA keeps audio/text in part events)",
        ev(
            "response.content_part.added",
            "event_E1",
            **STREAM,
            part={"type": "audio", "transcript": ""},
        ),
        [
            ev(
                "response.content_part.added",
                "event_E1",
                **STREAM,
                part={"type": "audio", "transcript": ""},
            )
        ],
    ),
    (
        "response.content_part.done text",
        ev(
            "response.content_part.done",
            "event_E2",
            **STREAM,
            part={"type": "text", "text": "Hello"},
        ),
        [
            ev(
                "response.content_part.done",
                "event_E2",
                **STREAM,
                part={"type": "text", "text": "Hello"},
            )
        ],
    ),
    (
        "response.text.delta",
        ev("response.text.delta", "event_F1", **STREAM, delta="Hel"),
        [ev("response.output_text.delta", "event_F1", **STREAM, delta="Hel")],
    ),
    (
        "response.text.done (text + value superset)",
        ev("response.text.done", "event_F2", **STREAM, text="Hello", value="Hello"),
        [ev("response.output_text.done", "event_F2", **STREAM, text="Hello")],
    ),
    (
        "response.text.done (spec spelling: value only)",
        ev("response.text.done", "event_F3", **STREAM, value="Hello"),
        [ev("response.output_text.done", "event_F3", **STREAM, text="Hello")],
    ),
    (
        "response.audio.delta",
        ev("response.audio.delta", "event_G1", **STREAM, delta=AUDIO),
        [ev("response.output_audio.delta", "event_G1", **STREAM, delta=AUDIO)],
    ),
    (
        "response.audio.done",
        ev("response.audio.done", "event_G2", **STREAM),
        [ev("response.output_audio.done", "event_G2", **STREAM)],
    ),
    (
        "response.audio_transcript.delta",
        ev("response.audio_transcript.delta", "event_H1", **STREAM, delta="Sure"),
        [ev("response.output_audio_transcript.delta", "event_H1", **STREAM, delta="Sure")],
    ),
    (
        "response.audio_transcript.done",
        ev("response.audio_transcript.done", "event_H2", **STREAM, transcript=TRANSCRIPT),
        [ev("response.output_audio_transcript.done", "event_H2", **STREAM, transcript=TRANSCRIPT)],
    ),
    (
        "conversation.item.truncated (content_index + index superset)",
        ev(
            "conversation.item.truncated",
            "event_I1",
            item_id="item_Ct1OZd4Zkrcb",
            content_index=0,
            index=0,
            audio_end_ms=1500,
        ),
        [
            ev(
                "conversation.item.truncated",
                "event_I1",
                item_id="item_Ct1OZd4Zkrcb",
                content_index=0,
                audio_end_ms=1500,
            )
        ],
    ),
    (
        "conversation.item.truncated (spec spelling: index only)",
        ev("conversation.item.truncated", "event_I2", item_id="item_A", index=1, audio_end_ms=20),
        [
            ev(
                "conversation.item.truncated",
                "event_I2",
                item_id="item_A",
                audio_end_ms=20,
                content_index=1,
            )
        ],
    ),
]


@pytest.mark.parametrize(
    "preview, expected", [c[1:] for c in SERVER_TO_GA], ids=[c[0] for c in SERVER_TO_GA]
)
def test_server_preview_to_ga(preview: dict, expected: list[dict]) -> None:
    assert pure(server_preview_to_ga, preview) == expected


# ======================================================================================
# server: GA -> preview
# ======================================================================================

SERVER_TO_PREVIEW = [
    (
        "session.created (captured GA session)",
        ev("session.created", "event_Ct1OVqJm", session=GA_CAPTURED_SESSION),
        [ev("session.created", "event_Ct1OVqJm", session=PV_FROM_CAPTURED_SESSION)],
    ),
    (
        "session.created (full GA session, exact inverse)",
        ev("session.created", "event_A1", session=GA_SESSION),
        [ev("session.created", "event_A1", session=PV_SESSION)],
    ),
    (
        "session.updated (text-only GA session)",
        ev("session.updated", "event_A2", session=GA_SESSION_TEXT),
        [
            ev(
                "session.updated",
                "event_A2",
                session={
                    **PV_SESSION_TEXT,
                    "input_audio_format": "g711_ulaw",
                    "temperature": 0.8,
                },
            )
        ],
    ),
    (
        "session.updated (sparse GA session: the 14 required fields are filled)",
        ev(
            "session.updated",
            "event_A3",
            session={"type": "realtime", "id": "sess_1", "model": "gpt-realtime"},
        ),
        [
            ev(
                "session.updated",
                "event_A3",
                session={
                    "object": "realtime.session",
                    "id": "sess_1",
                    "model": "gpt-realtime",
                    "modalities": ["text", "audio"],
                    "instructions": "",
                    "voice": "alloy",
                    "input_audio_format": "pcm16",
                    "output_audio_format": "pcm16",
                    "input_audio_transcription": None,
                    "turn_detection": VAD,
                    "tools": [],
                    "tool_choice": "auto",
                    "temperature": 0.8,
                    "max_response_output_tokens": "inf",
                },
            )
        ],
    ),
    (
        "session.created of a GA transcription session: no counterpart, marked",
        ev(
            "session.created",
            "event_A4",
            session={"type": "transcription", "id": "sess_T", "audio": {"input": {"format": PCM}}},
        ),
        [
            ev(
                "session.created",
                "event_A4",
                session={
                    "type": "transcription",
                    "id": "sess_T",
                    "audio": {"input": {"format": PCM}},
                },
                **{M: "ga"},
            )
        ],
    ),
    (
        "conversation.item.added user (captured)",
        ev(
            "conversation.item.added", "event_Ct1OZj9N", previous_item_id=None, item=USER_AUDIO_ITEM
        ),
        [
            ev(
                "conversation.item.created",
                "event_Ct1OZj9N",
                previous_item_id=None,
                item=pv_item(**USER_AUDIO_ITEM),
            )
        ],
    ),
    (
        "conversation.item.added without previous_item_id",
        ev("conversation.item.added", "event_B6", item=USER_AUDIO_ITEM),
        [
            ev(
                "conversation.item.created",
                "event_B6",
                item=pv_item(**USER_AUDIO_ITEM),
                previous_item_id=None,
            )
        ],
    ),
    (
        "conversation.item.added assistant in_progress (captured)",
        ev(
            "conversation.item.added",
            "event_Ct1OkPD2",
            previous_item_id="item_Ct1OXLqYLre7",
            item=ASSISTANT_EMPTY,
        ),
        [
            ev(
                "conversation.item.created",
                "event_Ct1OkPD2",
                previous_item_id="item_Ct1OXLqYLre7",
                item=pv_item(**ASSISTANT_EMPTY),
            )
        ],
    ),
    (
        "conversation.item.created (still in the GA SDK): items translated",
        ev(
            "conversation.item.created",
            "event_B7",
            previous_item_id="item_0",
            item=GA_ASSISTANT_DONE,
        ),
        [
            ev(
                "conversation.item.created",
                "event_B7",
                previous_item_id="item_0",
                item=PV_ASSISTANT_DONE,
            )
        ],
    ),
    (
        "response.created (captured)",
        ev("response.created", "event_Ct1OZ4pf", response=GA_RESPONSE_CREATED),
        [ev("response.created", "event_Ct1OZ4pf", response=PV_RESPONSE_CREATED)],
    ),
    (
        "response.done (captured, usage with cache details)",
        ev("response.done", "event_CsZyNdzX", response=GA_RESPONSE_DONE),
        [ev("response.done", "event_CsZyNdzX", response=PV_RESPONSE_DONE)],
    ),
    (
        "response.done cancelled, sparse response object gets required keys",
        ev(
            "response.done",
            "event_C3",
            response={
                "id": "resp_2",
                "status": "cancelled",
                "status_details": {"type": "cancelled", "reason": "turn_detected"},
                "output_modalities": ["text"],
            },
        ),
        [
            ev(
                "response.done",
                "event_C3",
                response={
                    "id": "resp_2",
                    "status": "cancelled",
                    "status_details": {"type": "cancelled", "reason": "turn_detected"},
                    "modalities": ["text"],
                    "object": "realtime.response",
                    "output": [],
                    "usage": None,
                },
            )
        ],
    ),
    (
        "response.output_item.added (captured)",
        ev(
            "response.output_item.added",
            "event_Ct1Ok7Up",
            response_id="resp_Ct1OZ5ukpGEZ",
            output_index=0,
            item=ASSISTANT_EMPTY,
        ),
        [
            ev(
                "response.output_item.added",
                "event_Ct1Ok7Up",
                response_id="resp_Ct1OZ5ukpGEZ",
                output_index=0,
                item=pv_item(**ASSISTANT_EMPTY),
            )
        ],
    ),
    (
        "response.output_item.done (captured, output_audio -> audio)",
        ev(
            "response.output_item.done",
            "event_CsZyN8lv",
            response_id="resp_Ct1OZ5ukpGEZ",
            output_index=0,
            item=GA_ASSISTANT_DONE,
        ),
        [
            ev(
                "response.output_item.done",
                "event_CsZyN8lv",
                response_id="resp_Ct1OZ5ukpGEZ",
                output_index=0,
                item=PV_ASSISTANT_DONE,
            )
        ],
    ),
    (
        "response.content_part.added (captured: part type audio)",
        ev(
            "response.content_part.added",
            "event_Ct1Ok0wN",
            **STREAM,
            part={"type": "audio", "transcript": ""},
        ),
        [
            ev(
                "response.content_part.added",
                "event_Ct1Ok0wN",
                **STREAM,
                part={"type": "audio", "transcript": ""},
            )
        ],
    ),
    (
        "response.content_part.done with output_text part type",
        ev(
            "response.content_part.done",
            "event_E3",
            **STREAM,
            part={"type": "output_text", "text": "Hi"},
        ),
        [
            ev(
                "response.content_part.done",
                "event_E3",
                **STREAM,
                part={"type": "text", "text": "Hi"},
            )
        ],
    ),
    (
        "response.output_text.delta (obfuscation kept)",
        ev(
            "response.output_text.delta",
            "event_F4",
            **STREAM,
            delta="Hel",
            obfuscation="z9A9dJucSf1J",
        ),
        [ev("response.text.delta", "event_F4", **STREAM, delta="Hel", obfuscation="z9A9dJucSf1J")],
    ),
    (
        "response.output_text.done -> text and value",
        ev("response.output_text.done", "event_F5", **STREAM, text="Hello"),
        [ev("response.text.done", "event_F5", **STREAM, text="Hello", value="Hello")],
    ),
    (
        "response.output_audio.delta",
        ev("response.output_audio.delta", "event_G3", **STREAM, delta=AUDIO),
        [ev("response.audio.delta", "event_G3", **STREAM, delta=AUDIO)],
    ),
    (
        "response.output_audio.done (captured)",
        ev("response.output_audio.done", "event_CsZyNwe7", **STREAM),
        [ev("response.audio.done", "event_CsZyNwe7", **STREAM)],
    ),
    (
        "response.output_audio_transcript.delta (captured)",
        ev(
            "response.output_audio_transcript.delta",
            "event_Ct1Ok70E",
            **STREAM,
            delta="The",
            obfuscation="LBqdwEYsSEHbF",
        ),
        [
            ev(
                "response.audio_transcript.delta",
                "event_Ct1Ok70E",
                **STREAM,
                delta="The",
                obfuscation="LBqdwEYsSEHbF",
            )
        ],
    ),
    (
        "response.output_audio_transcript.done (captured)",
        ev(
            "response.output_audio_transcript.done",
            "event_CsZyNlwu",
            **STREAM,
            transcript=TRANSCRIPT,
        ),
        [ev("response.audio_transcript.done", "event_CsZyNlwu", **STREAM, transcript=TRANSCRIPT)],
    ),
    (
        "conversation.item.truncated -> content_index and index",
        ev(
            "conversation.item.truncated",
            "event_I3",
            item_id="item_A",
            content_index=0,
            audio_end_ms=1500,
        ),
        [
            ev(
                "conversation.item.truncated",
                "event_I3",
                item_id="item_A",
                content_index=0,
                audio_end_ms=1500,
                index=0,
            )
        ],
    ),
]


@pytest.mark.parametrize(
    "ga_event, expected", [c[1:] for c in SERVER_TO_PREVIEW], ids=[c[0] for c in SERVER_TO_PREVIEW]
)
def test_server_ga_to_preview(ga_event: dict, expected: list[dict]) -> None:
    assert pure(server_ga_to_preview, ga_event) == expected


# ======================================================================================
# server: unchanged, GA-only and unknown events
# ======================================================================================

SERVER_SHARED = [
    ev(
        "error",
        error={
            "type": "invalid_request_error",
            "code": "invalid_value",
            "message": "bad",
            "param": "item_id",  # a field both dialects spell alike (see the param test)
            "event_id": "evt_c1",
        },
    ),
    ev(
        "rate_limits.updated",
        rate_limits=[
            {"name": "tokens", "limit": 40000, "remaining": 38490, "reset_seconds": 2.265}
        ],
    ),
    ev("input_audio_buffer.committed", previous_item_id=None, item_id="item_Ct1OXLqYLre7"),
    ev("input_audio_buffer.cleared"),
    ev("input_audio_buffer.speech_started", audio_start_ms=1236, item_id="item_Ct1OXLqYLre7"),
    ev("input_audio_buffer.speech_stopped", audio_end_ms=3808, item_id="item_Ct1OXLqYLre7"),
    ev("conversation.item.deleted", item_id="item_Ct1OXLqYLre7"),
    ev(
        "conversation.item.input_audio_transcription.completed",
        item_id="item_Ct1OXLqYLre7",
        content_index=0,
        transcript="What's the weather in Paris?",
        usage={"type": "tokens", "total_tokens": 24, "input_tokens": 16, "output_tokens": 8},
    ),
    ev(
        "conversation.item.input_audio_transcription.failed",
        item_id="item_Ct1OXLqYLre7",
        content_index=0,
        error={
            "type": "transcription_error",
            "code": "audio_unintelligible",
            "message": "?",
            "param": None,
        },
    ),
    ev(
        "response.function_call_arguments.delta",
        response_id="resp_1",
        item_id="item_Fc01",
        output_index=1,
        call_id="call_Zx81",
        delta='{"ci',
    ),
    ev(
        "response.function_call_arguments.done",
        response_id="resp_1",
        item_id="item_Fc01",
        output_index=1,
        call_id="call_Zx81",
        name="get_weather",
        arguments='{"city": "Paris"}',
    ),
    # not in the spec, but in our preview dialect (NOTES.md), and identical in GA
    ev("conversation.created", conversation={"id": "conv_1", "object": "realtime.conversation"}),
    ev(
        "conversation.item.input_audio_transcription.delta",
        item_id="item_1",
        content_index=0,
        delta="What's",
        obfuscation="abcdefghijk",
    ),
]


@pytest.mark.parametrize("event", SERVER_SHARED, ids=[e["type"] for e in SERVER_SHARED])
def test_server_shared_events_are_unchanged(event: dict) -> None:
    assert pure(server_ga_to_preview, event) == [event]
    assert pure(server_preview_to_ga, event) == [event]


GA_ONLY_SERVER = [
    ev("conversation.item.done", previous_item_id=None, item=USER_AUDIO_ITEM),
    ev(
        "conversation.item.retrieved",
        item={
            **USER_AUDIO_ITEM,
            "content": [{"type": "input_audio", "audio": AUDIO, "transcript": "hi"}],
        },
    ),
    ev(
        "conversation.item.input_audio_transcription.segment",
        item_id="item_1",
        content_index=0,
        id="seg_1",
        text="What's the weather",
        speaker="A",
        start=0.0,
        end=1.4,
    ),
    ev(
        "input_audio_buffer.timeout_triggered",
        item_id="item_2",
        audio_start_ms=12000,
        audio_end_ms=18000,
    ),
    ev("input_audio_buffer.dtmf_event_received", event="5", received_at=1767233035),
    ev("output_audio_buffer.started", response_id="resp_1"),
    ev("output_audio_buffer.stopped", response_id="resp_1"),
    ev("output_audio_buffer.cleared", response_id="resp_1"),
    ev("mcp_list_tools.in_progress", item_id="mcpl_1"),
    ev("response.mcp_call.completed", item_id="mcp_1", output_index=0),
]


@pytest.mark.parametrize("event", GA_ONLY_SERVER, ids=[e["type"] for e in GA_ONLY_SERVER])
def test_ga_only_server_events_pass_through_marked(event: dict) -> None:
    (marked,) = pure(server_ga_to_preview, event)
    assert marked == {**event, M: "ga"}
    # already marked: left alone
    assert pure(server_ga_to_preview, marked) == [marked]
    # and back: the marker goes, the event is the original (item.done is re-synthesised)
    back = pure(server_preview_to_ga, marked)
    assert back == ([] if event["type"] == "conversation.item.done" else [event])
    # a GA event name arriving unmarked on the preview side is valid GA as it is
    if event["type"] != "conversation.item.done":
        assert pure(server_preview_to_ga, event) == [event]


def test_set_of_ga_only_server_events_is_covered() -> None:
    covered = {e["type"] for e in GA_ONLY_SERVER}
    required = {
        "output_audio_buffer.started",
        "output_audio_buffer.stopped",
        "output_audio_buffer.cleared",
        "input_audio_buffer.timeout_triggered",
        "conversation.item.input_audio_transcription.segment",
        "conversation.item.retrieved",
        "conversation.item.done",
    }
    assert required <= covered <= ga.GA_ONLY_SERVER_EVENTS
    assert not ga.GA_ONLY_SERVER_EVENTS & ga.SERVER_SHARED_EVENTS


def test_unknown_server_events_are_marked_with_their_source() -> None:
    unknown = ev("response.reasoning.delta", delta="x")
    assert pure(server_ga_to_preview, unknown) == [{**unknown, M: "ga"}]
    assert pure(server_preview_to_ga, unknown) == [{**unknown, M: "preview"}]
    # a preview-marked event crossing back to preview loses its marker
    assert pure(server_ga_to_preview, {**unknown, M: "preview"}) == [unknown]
    assert pure(server_preview_to_ga, {**unknown, M: "preview"}) == [{**unknown, M: "preview"}]


def test_marked_events_of_any_type_come_back_without_their_marker() -> None:
    for kind in (["not", "a", "string"], None, 7):
        assert server_preview_to_ga({"type": kind, M: "ga"}) == [{"type": kind}]
        assert client_ga_to_preview({"type": kind, M: "preview"}) == [{"type": kind}]


# ======================================================================================
# server: whole turns, the item lifecycle and the event order
# ======================================================================================

GA_TURN = [
    ev("input_audio_buffer.speech_started", "e01", audio_start_ms=11956, item_id="item_U"),
    ev("input_audio_buffer.speech_stopped", "e02", audio_end_ms=14720, item_id="item_U"),
    ev("input_audio_buffer.committed", "e03", previous_item_id="item_P", item_id="item_U"),
    ev(
        "conversation.item.added",
        "e04",
        previous_item_id="item_P",
        item={**USER_AUDIO_ITEM, "id": "item_U"},
    ),
    ev(
        "conversation.item.done",
        "e05",
        previous_item_id="item_P",
        item={**USER_AUDIO_ITEM, "id": "item_U"},
    ),
    ev("response.created", "e06", response=GA_RESPONSE_CREATED),
    ev(
        "response.output_item.added",
        "e07",
        response_id="resp_Ct1OZ5ukpGEZ",
        output_index=0,
        item=ASSISTANT_EMPTY,
    ),
    ev("conversation.item.added", "e08", previous_item_id="item_U", item=ASSISTANT_EMPTY),
    ev("response.content_part.added", "e09", **STREAM, part={"type": "audio", "transcript": ""}),
    ev(
        "response.output_audio_transcript.delta",
        "e10",
        **STREAM,
        delta="Sure",
        obfuscation="z9A9dJucSf1J",
    ),
    ev("response.output_audio.delta", "e11", **STREAM, delta=AUDIO),
    ev("response.output_audio.done", "e12", **STREAM),
    ev("response.output_audio_transcript.done", "e13", **STREAM, transcript=TRANSCRIPT),
    ev(
        "response.content_part.done",
        "e14",
        **STREAM,
        part={"type": "audio", "transcript": TRANSCRIPT},
    ),
    ev("conversation.item.done", "e15", previous_item_id="item_U", item=GA_ASSISTANT_DONE),
    ev(
        "response.output_item.done",
        "e16",
        response_id="resp_Ct1OZ5ukpGEZ",
        output_index=0,
        item=GA_ASSISTANT_DONE,
    ),
    ev("response.done", "e17", response=GA_RESPONSE_DONE),
    ev(
        "rate_limits.updated",
        "e18",
        rate_limits=[
            {"name": "tokens", "limit": 40000, "remaining": 38490, "reset_seconds": 2.265}
        ],
    ),
    ev(
        "conversation.item.input_audio_transcription.delta",
        "e19",
        item_id="item_U",
        content_index=0,
        delta="Weather?",
    ),
    ev(
        "conversation.item.input_audio_transcription.completed",
        "e20",
        item_id="item_U",
        content_index=0,
        transcript="Weather?",
        usage={
            "type": "tokens",
            "total_tokens": 24,
            "input_tokens": 16,
            "input_token_details": {"text_tokens": 0, "audio_tokens": 16},
            "output_tokens": 8,
        },
    ),
]


def test_ga_turn_to_preview_types() -> None:
    preview = chain(server_ga_to_preview, GA_TURN)
    assert [(e["type"], e.get(M)) for e in preview] == [
        ("input_audio_buffer.speech_started", None),
        ("input_audio_buffer.speech_stopped", None),
        ("input_audio_buffer.committed", None),
        ("conversation.item.created", None),
        ("conversation.item.done", "ga"),
        ("response.created", None),
        ("response.output_item.added", None),
        ("conversation.item.created", None),
        ("response.content_part.added", None),
        ("response.audio_transcript.delta", None),
        ("response.audio.delta", None),
        ("response.audio.done", None),
        ("response.audio_transcript.done", None),
        ("response.content_part.done", None),
        ("conversation.item.done", "ga"),
        ("response.output_item.done", None),
        ("response.done", None),
        ("rate_limits.updated", None),
        ("conversation.item.input_audio_transcription.delta", None),
        ("conversation.item.input_audio_transcription.completed", None),
    ]


def _strip_item_objects(event: dict) -> dict:
    event = copy.deepcopy(event)
    items = [event.get("item")] + list((event.get("response") or {}).get("output") or [])
    for item in items:
        if isinstance(item, dict):
            item.pop("object", None)
    return event


def test_ga_turn_survives_ga_preview_ga() -> None:
    """GA -> preview -> GA gives the same events in the same order. The differences
    are documented ones: items gain ``object``, and a re-synthesised conversation.item.done
    has a derived event id (and no previous_item_id when it comes from
    response.output_item.done)."""
    back = chain(server_preview_to_ga, chain(server_ga_to_preview, GA_TURN))
    assert [e["type"] for e in back] == [e["type"] for e in GA_TURN]
    for original, got in zip(GA_TURN, back, strict=True):
        if original["type"] == "conversation.item.done":
            assert got["item"] == pv_item(**original["item"])
            continue
        assert _strip_item_objects(got) == original


def test_preview_engine_turn_gives_the_ga_service_order() -> None:
    user = pv_item(**{**USER_AUDIO_ITEM, "id": "item_U"})
    preview_turn = [
        ev("input_audio_buffer.committed", "p1", previous_item_id="item_P", item_id="item_U"),
        ev("conversation.item.created", "p2", previous_item_id="item_P", item=user),
        ev("response.created", "p3", response=PV_RESPONSE_CREATED),
        ev(
            "response.output_item.added",
            "p4",
            response_id="resp_Ct1OZ5ukpGEZ",
            output_index=0,
            item=pv_item(**ASSISTANT_EMPTY),
        ),
        ev(
            "conversation.item.created",
            "p5",
            previous_item_id="item_U",
            item=pv_item(**ASSISTANT_EMPTY),
        ),
        ev("response.content_part.added", "p6", **STREAM, part={"type": "audio", "transcript": ""}),
        ev("response.audio_transcript.delta", "p7", **STREAM, delta="Sure"),
        ev("response.audio.delta", "p8", **STREAM, delta=AUDIO),
        ev("response.audio.done", "p9", **STREAM),
        ev("response.audio_transcript.done", "p10", **STREAM, transcript=TRANSCRIPT),
        ev(
            "response.content_part.done",
            "p11",
            **STREAM,
            part={"type": "audio", "transcript": TRANSCRIPT},
        ),
        ev(
            "response.output_item.done",
            "p12",
            response_id="resp_Ct1OZ5ukpGEZ",
            output_index=0,
            item=PV_ASSISTANT_DONE,
        ),
        ev("response.done", "p13", response=PV_RESPONSE_DONE),
    ]
    out = chain(server_preview_to_ga, preview_turn)
    assert [e["type"] for e in out] == [
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
        "response.created",
        "response.output_item.added",
        "conversation.item.added",
        "response.content_part.added",
        "response.output_audio_transcript.delta",
        "response.output_audio.delta",
        "response.output_audio.done",
        "response.output_audio_transcript.done",
        "response.content_part.done",
        "conversation.item.done",
        "response.output_item.done",
        "response.done",
    ]
    # exactly one added and one done per conversation item
    for item_id in ("item_U", "item_Ct1OZd4Zkrcb"):
        for kind in ("conversation.item.added", "conversation.item.done"):
            assert sum(e["type"] == kind and e["item"]["id"] == item_id for e in out) == 1
    # and back to preview, dropping the marked dones, gives the engine's turn again
    assert drop_marked_item_done(chain(server_ga_to_preview, out)) == preview_turn


def test_synthesised_done_without_event_id() -> None:
    event = {"type": "conversation.item.created", "item": pv_item(**USER_AUDIO_ITEM)}
    added, done = pure(server_preview_to_ga, event)
    assert "event_id" not in added and "event_id" not in done
    assert "previous_item_id" not in done
    event = {**event, "event_id": None, "previous_item_id": None}
    added, done = pure(server_preview_to_ga, event)
    assert added["event_id"] is None and done["event_id"] is None


# ======================================================================================
# client: preview -> GA
# ======================================================================================

PV_RESPONSE_PARAMS = {
    "commit": True,
    "cancel_previous": True,
    "instructions": "Answer in one sentence.",
    "modalities": ["text", "audio"],
    "voice": "coral",
    "output_audio_format": "g711_ulaw",
    "temperature": 0.7,
    "max_output_tokens": 512,
    "tools": [WEATHER_TOOL],
    "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
}
GA_RESPONSE_PARAMS = {
    "instructions": "Answer in one sentence.",
    "output_modalities": ["audio"],
    "audio": {"output": {"format": {"type": "audio/pcmu"}, "voice": "coral"}},
    "max_output_tokens": 512,
    "tools": [WEATHER_TOOL],
    "tool_choice": {"type": "function", "name": "get_weather"},
}
USER_TEXT = {
    "type": "message",
    "role": "user",
    "content": [{"type": "input_text", "text": "What's the weather in Paris?"}],
}

CLIENT_TO_GA = [
    (
        "session.update full",
        ev(
            "session.update",
            "evt_c01",
            session={
                "model": "gpt-realtime",
                "modalities": ["text", "audio"],
                "instructions": "Be brief.",
                "voice": "shimmer",
                "input_audio_format": "pcm16",
                "output_audio_format": "pcm16",
                "input_audio_transcription": {"model": "whisper-1", "language": "en"},
                "turn_detection": {
                    "type": "server_vad",
                    "threshold": 0.6,
                    "prefix_padding_ms": 250,
                    "silence_duration_ms": 700,
                },
                "tools": [WEATHER_TOOL],
                "tool_choice": "required",
                "temperature": 0.9,
                "max_response_output_tokens": 1024,
            },
        ),
        [
            ev(
                "session.update",
                "evt_c01",
                session={
                    "type": "realtime",
                    "model": "gpt-realtime",
                    "output_modalities": ["audio"],
                    "instructions": "Be brief.",
                    "audio": {
                        "input": {
                            "format": PCM,
                            "transcription": {"model": "whisper-1", "language": "en"},
                            "turn_detection": {
                                "type": "server_vad",
                                "threshold": 0.6,
                                "prefix_padding_ms": 250,
                                "silence_duration_ms": 700,
                            },
                        },
                        "output": {"format": PCM, "voice": "shimmer"},
                    },
                    "tools": [WEATHER_TOOL],
                    "tool_choice": "required",
                    "max_output_tokens": 1024,
                },
            )
        ],
    ),
    (
        "session.update voice only",
        ev("session.update", "evt_c02", session={"voice": "coral"}),
        [
            ev(
                "session.update",
                "evt_c02",
                session={"type": "realtime", "audio": {"output": {"voice": "coral"}}},
            )
        ],
    ),
    (
        "session.update temperature only (dropped)",
        ev("session.update", "evt_c03", session={"temperature": 0.6}),
        [ev("session.update", "evt_c03", session={"type": "realtime"})],
    ),
    (
        "session.update numeric-string durations",
        ev(
            "session.update",
            "evt_c04",
            session={
                "turn_detection": {
                    "type": "server_vad",
                    "prefix_padding_ms": "300",
                    "silence_duration_ms": "500ms",
                }
            },
        ),
        [
            ev(
                "session.update",
                "evt_c04",
                session={
                    "type": "realtime",
                    "audio": {
                        "input": {
                            "turn_detection": {
                                "type": "server_vad",
                                "prefix_padding_ms": 300,
                                "silence_duration_ms": 500,
                            }
                        }
                    },
                },
            )
        ],
    ),
    (
        "session.update Azure turn_detection none + g711-alaw + text only",
        ev(
            "session.update",
            "evt_c05",
            session={
                "turn_detection": {"type": "none"},
                "input_audio_format": "g711-alaw",
                "modalities": ["text"],
                "max_response_output_tokens": None,
            },
        ),
        [
            ev(
                "session.update",
                "evt_c05",
                session={
                    "type": "realtime",
                    "output_modalities": ["text"],
                    "audio": {"input": {"format": {"type": "audio/pcma"}, "turn_detection": None}},
                    "max_output_tokens": "inf",
                },
            )
        ],
    ),
    (
        "session.update transcription and VAD off",
        ev(
            "session.update",
            "evt_c06",
            session={"input_audio_transcription": None, "turn_detection": None},
        ),
        [
            ev(
                "session.update",
                "evt_c06",
                session={
                    "type": "realtime",
                    "audio": {"input": {"transcription": None, "turn_detection": None}},
                },
            )
        ],
    ),
    (
        "response.create full",
        ev("response.create", "evt_c10", response=PV_RESPONSE_PARAMS),
        [ev("response.create", "evt_c10", response=GA_RESPONSE_PARAMS)],
    ),
    (
        "response.create commit=false -> conversation none",
        ev(
            "response.create",
            "evt_c11",
            response={
                "commit": False,
                "cancel_previous": False,
                "modalities": ["text"],
                "instructions": "Classify the topic.",
            },
        ),
        [
            ev(
                "response.create",
                "evt_c11",
                response={
                    "output_modalities": ["text"],
                    "instructions": "Classify the topic.",
                    "conversation": "none",
                },
            )
        ],
    ),
    (
        "response.create append_input_items -> item creates first",
        ev(
            "response.create",
            "evt_c12",
            response={
                "commit": True,
                "cancel_previous": True,
                "append_input_items": [
                    USER_TEXT,
                    {
                        "type": "message",
                        "role": "assistant",
                        "content": [{"type": "text", "text": "Sunny."}],
                    },
                ],
            },
        ),
        [
            ev("conversation.item.create", "evt_c12_append0", item=USER_TEXT),
            ev(
                "conversation.item.create",
                "evt_c12_append1",
                item={
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "Sunny."}],
                },
            ),
            ev("response.create", "evt_c12", response={}),
        ],
    ),
    (
        "response.create input_items (+reference, +appended) -> input",
        ev(
            "response.create",
            "evt_c13",
            response={
                "commit": False,
                "cancel_previous": True,
                "input_items": [
                    {"type": "message", "id": "item_Ct1OXLqYLre7"},
                    {
                        "type": "message",
                        "role": "system",
                        "content": [{"type": "input_text", "text": "Only answer yes or no."}],
                    },
                ],
                "append_input_items": [USER_TEXT],
            },
        ),
        [
            ev(
                "response.create",
                "evt_c13",
                response={
                    "input": [
                        {"type": "item_reference", "id": "item_Ct1OXLqYLre7"},
                        {
                            "type": "message",
                            "role": "system",
                            "content": [{"type": "input_text", "text": "Only answer yes or no."}],
                        },
                        USER_TEXT,
                    ],
                    "conversation": "none",
                },
            )
        ],
    ),
    (
        "response.create with the beta max_response_output_tokens spelling",
        ev(
            "response.create",
            "evt_c14",
            response={"commit": True, "cancel_previous": True, "max_response_output_tokens": "inf"},
        ),
        [ev("response.create", "evt_c14", response={"max_output_tokens": "inf"})],
    ),
    (
        "response.create without response",
        ev("response.create", "evt_c15"),
        [ev("response.create", "evt_c15")],
    ),
    (
        "conversation.item.create assistant text -> output_text",
        ev(
            "conversation.item.create",
            "evt_c20",
            previous_item_id="root",
            item={
                "id": "item_As9",
                "type": "message",
                "role": "assistant",
                "content": [{"type": "text", "text": "Hello there."}],
            },
        ),
        [
            ev(
                "conversation.item.create",
                "evt_c20",
                previous_item_id="root",
                item={
                    "id": "item_As9",
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "Hello there."}],
                },
            )
        ],
    ),
    (
        "conversation.item.create assistant input_text (spec spelling) -> output_text",
        ev(
            "conversation.item.create",
            "evt_c21",
            item={
                "type": "message",
                "role": "assistant",
                "content": [{"type": "input_text", "text": "Hi."}],
            },
        ),
        [
            ev(
                "conversation.item.create",
                "evt_c21",
                item={
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "Hi."}],
                },
            )
        ],
    ),
]

CLIENT_UNCHANGED_TO_GA = [
    ev(
        "conversation.item.create",
        "evt_c30",
        item={
            "type": "message",
            "role": "user",
            "content": [{"type": "input_audio", "audio": AUDIO, "transcript": "hello"}],
        },
    ),
    ev(
        "conversation.item.create",
        "evt_c31",
        item={
            "type": "message",
            "role": "system",
            "content": [{"type": "input_text", "text": "Speak French."}],
        },
    ),
    ev(
        "conversation.item.create",
        "evt_c32",
        item={"type": "function_call_output", "call_id": "call_Zx81", "output": '{"temp_c": 21}'},
    ),
    ev(
        "conversation.item.create",
        "evt_c33",
        item={
            "type": "function_call",
            "call_id": "call_Zx81",
            "name": "get_weather",
            "arguments": "{}",
        },
    ),
]


@pytest.mark.parametrize(
    "preview, expected", [c[1:] for c in CLIENT_TO_GA], ids=[c[0] for c in CLIENT_TO_GA]
)
def test_client_preview_to_ga(preview: dict, expected: list[dict]) -> None:
    assert pure(client_preview_to_ga, preview) == expected


@pytest.mark.parametrize("event", CLIENT_UNCHANGED_TO_GA, ids=lambda e: e["event_id"])
def test_client_items_without_assistant_parts_are_unchanged(event: dict) -> None:
    assert pure(client_preview_to_ga, event) == [event]
    assert pure(client_ga_to_preview, event) == [event]


# ======================================================================================
# client: GA -> preview
# ======================================================================================

CLIENT_TO_PREVIEW = [
    (
        "session.update GA full",
        ev(
            "session.update",
            "evt_g01",
            session={
                "type": "realtime",
                "model": "gpt-realtime",
                "output_modalities": ["audio"],
                "instructions": "You are a polite AI assistant on a phone call.",
                "audio": {
                    "input": {
                        "format": PCM,
                        "transcription": {
                            "model": "gpt-4o-transcribe",
                            "language": "en",
                            "prompt": "weather",
                        },
                        "turn_detection": {"type": "semantic_vad", "eagerness": "low"},
                        "noise_reduction": {"type": "near_field"},
                    },
                    "output": {"format": {"type": "audio/pcmu"}, "voice": "marin", "speed": 1.1},
                },
                "tools": [WEATHER_TOOL],
                "tool_choice": {"type": "function", "name": "get_weather"},
                "max_output_tokens": "inf",
                "tracing": "auto",
            },
        ),
        [
            ev(
                "session.update",
                "evt_g01",
                session={
                    "model": "gpt-realtime",
                    "modalities": ["text", "audio"],
                    "instructions": "You are a polite AI assistant on a phone call.",
                    "input_audio_format": "pcm16",
                    "input_audio_transcription": {
                        "model": "gpt-4o-transcribe",
                        "language": "en",
                        "prompt": "weather",
                    },
                    "turn_detection": {"type": "semantic_vad", "eagerness": "low"},
                    "input_audio_noise_reduction": {"type": "near_field"},
                    "output_audio_format": "g711_ulaw",
                    "voice": "marin",
                    "speed": 1.1,
                    "tools": [WEATHER_TOOL],
                    "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
                    "max_response_output_tokens": "inf",
                    "tracing": "auto",
                },
            )
        ],
    ),
    (
        "session.update GA voice only (no defaults filled for updates)",
        ev(
            "session.update",
            "evt_g02",
            session={"type": "realtime", "audio": {"output": {"voice": "cedar"}}},
        ),
        [ev("session.update", "evt_g02", session={"voice": "cedar"})],
    ),
    (
        "session.update GA unknown audio keys survive",
        ev(
            "session.update",
            "evt_g03",
            session={"type": "realtime", "audio": {"input": {"format": PCM, "future_knob": 3}}},
        ),
        [
            ev(
                "session.update",
                "evt_g03",
                session={"input_audio_format": "pcm16", "audio": {"input": {"future_knob": 3}}},
            )
        ],
    ),
    (
        "session.update transcription session: marked",
        ev(
            "session.update",
            "evt_g04",
            session={"type": "transcription", "audio": {"input": {"format": PCM}}},
        ),
        [
            ev(
                "session.update",
                "evt_g04",
                session={"type": "transcription", "audio": {"input": {"format": PCM}}},
                **{M: "ga"},
            )
        ],
    ),
    (
        "response.create GA out-of-band with input and metadata",
        ev(
            "response.create",
            "evt_g10",
            response={
                "conversation": "none",
                "metadata": {"topic": "classification"},
                "output_modalities": ["text"],
                "instructions": "Classify: support or sales?",
                "input": [{"type": "item_reference", "id": "item_Ct1OXLqYLre7"}, USER_TEXT],
                "tool_choice": "none",
                "max_output_tokens": 16,
            },
        ),
        [
            ev(
                "response.create",
                "evt_g10",
                response={
                    "commit": False,
                    "cancel_previous": False,
                    "modalities": ["text"],
                    "tool_choice": "none",
                    "max_output_tokens": 16,
                    "input_items": [{"type": "message", "id": "item_Ct1OXLqYLre7"}, USER_TEXT],
                    "metadata": {"topic": "classification"},
                    "instructions": "Classify: support or sales?",
                },
            )
        ],
    ),
    (
        "response.create GA audio output",
        ev(
            "response.create",
            "evt_g11",
            response={
                "conversation": "auto",
                "audio": {"output": {"voice": "marin", "format": PCM}},
                "output_modalities": ["audio"],
            },
        ),
        [
            ev(
                "response.create",
                "evt_g11",
                response={
                    "commit": True,
                    "cancel_previous": False,
                    "modalities": ["text", "audio"],
                    "output_audio_format": "pcm16",
                    "voice": "marin",
                },
            )
        ],
    ),
    (
        "response.create GA bare",
        ev("response.create", "evt_g12"),
        [ev("response.create", "evt_g12", response={"commit": True, "cancel_previous": False})],
    ),
    (
        "response.create GA unknown conversation value kept",
        ev("response.create", "evt_g13", response={"conversation": "conv_123"}),
        [
            ev(
                "response.create",
                "evt_g13",
                response={"commit": True, "cancel_previous": False, "conversation": "conv_123"},
            )
        ],
    ),
    (
        "conversation.item.create assistant output_text -> text",
        ev(
            "conversation.item.create",
            "evt_g20",
            previous_item_id=None,
            item={
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Hello there."}],
            },
        ),
        [
            ev(
                "conversation.item.create",
                "evt_g20",
                previous_item_id=None,
                item={
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "text", "text": "Hello there."}],
                },
            )
        ],
    ),
]


@pytest.mark.parametrize(
    "ga_event, expected", [c[1:] for c in CLIENT_TO_PREVIEW], ids=[c[0] for c in CLIENT_TO_PREVIEW]
)
def test_client_ga_to_preview(ga_event: dict, expected: list[dict]) -> None:
    assert pure(client_ga_to_preview, ga_event) == expected


CLIENT_SHARED = [
    ev("input_audio_buffer.append", "evt_s1", audio=AUDIO),
    ev("input_audio_buffer.commit", "evt_s2"),
    ev("input_audio_buffer.clear", "evt_s3"),
    ev("conversation.item.delete", "evt_s4", item_id="item_Ct1OXLqYLre7"),
    ev(
        "conversation.item.truncate",
        "evt_s5",
        item_id="item_Ct1OZd4Zkrcb",
        content_index=0,
        audio_end_ms=1500,
    ),
    ev("response.cancel", "evt_s6"),
    {"type": "response.cancel"},
]


@pytest.mark.parametrize("event", CLIENT_SHARED, ids=lambda e: e.get("event_id", e["type"]))
def test_client_shared_events_are_unchanged(event: dict) -> None:
    assert pure(client_preview_to_ga, event) == [event]
    assert pure(client_ga_to_preview, event) == [event]


GA_ONLY_CLIENT = [
    ev("conversation.item.retrieve", "evt_r1", item_id="item_Ct1OZd4Zkrcb"),
    ev("output_audio_buffer.clear", "evt_r2"),
]


@pytest.mark.parametrize("event", GA_ONLY_CLIENT, ids=lambda e: e["type"])
def test_ga_only_client_events_pass_through_marked(event: dict) -> None:
    (marked,) = pure(client_ga_to_preview, event)
    assert marked == {**event, M: "ga"}
    assert pure(client_ga_to_preview, marked) == [marked]
    assert pure(client_preview_to_ga, marked) == [event]
    assert pure(client_preview_to_ga, event) == [event]


def test_unknown_client_events_are_marked_with_their_source() -> None:
    unknown = ev("transcription_session.update", "evt_u", session={})
    assert pure(client_ga_to_preview, unknown) == [{**unknown, M: "ga"}]
    assert pure(client_preview_to_ga, unknown) == [{**unknown, M: "preview"}]
    assert pure(client_ga_to_preview, {**unknown, M: "preview"}) == [unknown]


# ======================================================================================
# helpers: formats, modalities, turn detection, sessions
# ======================================================================================


@pytest.mark.parametrize(
    "preview, ga_format",
    [
        ("pcm16", {"type": "audio/pcm", "rate": 24000}),
        ("g711_ulaw", {"type": "audio/pcmu"}),
        ("g711-ulaw", {"type": "audio/pcmu"}),
        ("g711_alaw", {"type": "audio/pcma"}),
        ("g711-alaw", {"type": "audio/pcma"}),
        ("PCM16", {"type": "audio/pcm", "rate": 24000}),
    ],
)
def test_format_preview_to_ga(preview: str, ga_format: dict) -> None:
    assert format_preview_to_ga(preview) == ga_format
    assert format_ga_to_preview(ga_format) == preview.lower().replace("-", "_")


@pytest.mark.parametrize(
    "ga_format, preview",
    [
        ({"type": "audio/pcm"}, "pcm16"),
        ("audio/pcmu", "g711_ulaw"),
        ("g711-alaw", "g711_alaw"),
        ("pcm16", "pcm16"),
    ],
)
def test_format_ga_to_preview_accepts_loose_forms(ga_format: Any, preview: str) -> None:
    assert format_ga_to_preview(ga_format) == preview


@pytest.mark.parametrize(
    "bad", ["opus", "", None, 16000, {"type": "audio/pcm", "rate": 16000}, {"type": "audio/opus"}]
)
def test_format_helpers_reject_unknown(bad: Any) -> None:
    with pytest.raises(ValueError):
        format_ga_to_preview(bad)
    with pytest.raises(ValueError):
        format_preview_to_ga(bad)


def test_unknown_formats_pass_through_sessions() -> None:
    assert session_preview_to_ga({"input_audio_format": "opus"}) == {
        "type": "realtime",
        "audio": {"input": {"format": "opus"}},
    }
    assert session_ga_to_preview({"audio": {"output": {"format": {"type": "audio/opus"}}}}) == {
        "output_audio_format": {"type": "audio/opus"}
    }


@pytest.mark.parametrize(
    "preview, ga_value, back",
    [
        (["text", "audio"], ["audio"], ["text", "audio"]),
        (["audio", "text"], ["audio"], ["text", "audio"]),
        (["audio"], ["audio"], ["text", "audio"]),
        (["text"], ["text"], ["text"]),
    ],
)
def test_modalities(preview: list, ga_value: list, back: list) -> None:
    assert modalities_preview_to_ga(preview) == ga_value
    assert modalities_ga_to_preview(ga_value) == back


@pytest.mark.parametrize(
    "value, expected",
    [
        (None, None),
        ({"type": "none"}, None),
        (
            {"type": "server_vad", "prefix_padding_ms": "300", "silence_duration_ms": 500},
            {"type": "server_vad", "prefix_padding_ms": 300, "silence_duration_ms": 500},
        ),
        (
            {"type": "server_vad", "prefix_padding_ms": "250ms", "silence_duration_ms": "PT0.7S"},
            {"type": "server_vad", "prefix_padding_ms": 250, "silence_duration_ms": 700},
        ),
        (
            {"type": "server_vad", "prefix_padding_ms": 300.0, "idle_timeout_ms": "6000"},
            {"type": "server_vad", "prefix_padding_ms": 300, "idle_timeout_ms": 6000},
        ),
        (
            {"type": "server_vad", "silence_duration_ms": "soon"},
            {"type": "server_vad", "silence_duration_ms": "soon"},
        ),
        (
            {"type": "semantic_vad", "eagerness": "high"},
            {"type": "semantic_vad", "eagerness": "high"},
        ),
    ],
)
def test_turn_detection_preview_to_ga(value: Any, expected: Any) -> None:
    before = copy.deepcopy(value)
    assert turn_detection_preview_to_ga(value) == expected
    assert value == before


def test_session_helpers_are_pure_and_inverse() -> None:
    before = copy.deepcopy(PV_SESSION)
    assert session_preview_to_ga(PV_SESSION) == GA_SESSION
    assert PV_SESSION == before
    assert session_ga_to_preview(GA_SESSION, fill_defaults=True) == PV_SESSION
    no_temp = {k: v for k, v in PV_SESSION.items() if k != "temperature"}
    assert session_ga_to_preview(GA_SESSION) == no_temp


def test_session_defaults_cover_the_fourteen_required_fields() -> None:
    from spec_schema import required_fields

    required = required_fields("RealtimeResponseSession")
    assert len(required) == 14
    assert {k for k, _ in ga.PREVIEW_SESSION_DEFAULTS} == required
    filled = session_ga_to_preview({"type": "realtime"}, fill_defaults=True)
    assert set(filled) == required
    # defaults are fresh copies, never shared between calls
    filled["tools"].append("x")
    filled["turn_detection"]["threshold"] = 0.9
    again = session_ga_to_preview({"type": "realtime"}, fill_defaults=True)
    assert again["tools"] == [] and again["turn_detection"]["threshold"] == 0.5


def test_lossy_fields_are_documented() -> None:
    doc = ga.__doc__ or ""
    assert "LOSSY_FIELDS" in doc and "NORMALISATIONS" in doc
    for key in ("session.temperature", "response.create.cancel_previous", "G.711 spelling"):
        assert key in ga.LOSSY_FIELDS
    # temperature really is dropped everywhere going to GA
    assert "temperature" not in session_preview_to_ga({"temperature": 1.0})
    (out,) = pure(
        client_preview_to_ga,
        ev(
            "response.create",
            response={"commit": True, "cancel_previous": True, "temperature": 1.0},
        ),
    )
    assert "temperature" not in json.dumps(out)


# ======================================================================================
# property-based round trips
# ======================================================================================

_ALNUM = string.ascii_letters + string.digits


def prefixed(prefix: str) -> st.SearchStrategy[str]:
    return st.text(_ALNUM, min_size=1, max_size=10).map(lambda s: f"{prefix}_{s}")


event_ids = prefixed("event")
item_ids = prefixed("item")
resp_ids = prefixed("resp")
call_ids = prefixed("call")
texts = st.text(max_size=30)
b64 = st.binary(max_size=48).map(lambda b: base64.b64encode(b).decode())
small = st.integers(0, 4)
millis = st.integers(0, 60_000)
voices = st.sampled_from(["alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse"])
any_formats = st.sampled_from(["pcm16", "g711_ulaw", "g711-ulaw", "g711_alaw", "g711-alaw"])
canonical_formats = st.sampled_from(["pcm16", "g711_ulaw", "g711_alaw"])
names = st.text(string.ascii_lowercase + "_", min_size=1, max_size=12)
json_args = st.dictionaries(names, st.integers() | texts, max_size=3).map(json.dumps)
max_tokens = st.integers(1, 4096) | st.just("inf")

user_parts = st.one_of(
    st.fixed_dictionaries({"type": st.just("input_text"), "text": texts}),
    st.fixed_dictionaries({"type": st.just("input_audio"), "transcript": st.none() | texts}),
)
assistant_parts = st.one_of(
    st.fixed_dictionaries({"type": st.just("text"), "text": texts}),
    st.fixed_dictionaries({"type": st.just("audio"), "transcript": st.none() | texts}),
)


def server_message(
    role: str, parts: st.SearchStrategy | None, statuses: list[str]
) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries(
        {
            "id": item_ids,
            "object": st.just("realtime.item"),
            "type": st.just("message"),
            "status": st.sampled_from(statuses),
            "role": st.just(role),
            "content": st.just([]) if parts is None else st.lists(parts, max_size=3),
        }
    )


def server_function_call(statuses: list[str]) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries(
        {
            "id": item_ids,
            "object": st.just("realtime.item"),
            "type": st.just("function_call"),
            "status": st.sampled_from(statuses),
            "name": names,
            "call_id": call_ids,
            "arguments": json_args,
        }
    )


DONE_STATUSES = ["completed", "incomplete"]
ALL_STATUSES = ["in_progress", "completed", "incomplete"]
server_function_call_output = st.fixed_dictionaries(
    {
        "id": item_ids,
        "object": st.just("realtime.item"),
        "type": st.just("function_call_output"),
        "call_id": call_ids,
        "output": json_args,
    },
    optional={"status": st.sampled_from(ALL_STATUSES)},
)
response_items = st.one_of(
    server_message("assistant", assistant_parts, DONE_STATUSES), server_function_call(DONE_STATUSES)
)
server_items = st.one_of(
    server_message("user", user_parts, ALL_STATUSES),
    server_message(
        "system",
        st.fixed_dictionaries({"type": st.just("input_text"), "text": texts}),
        ALL_STATUSES,
    ),
    server_message("assistant", assistant_parts, ALL_STATUSES),
    server_function_call(ALL_STATUSES),
    server_function_call_output,
)
in_progress_items = st.one_of(
    server_message("assistant", None, ["in_progress"]), server_function_call(["in_progress"])
)
usages = st.none() | st.fixed_dictionaries(
    {
        "total_tokens": st.integers(0, 9999),
        "input_tokens": st.integers(0, 9999),
        "output_tokens": st.integers(0, 9999),
        "input_token_details": st.fixed_dictionaries(
            {"cached_tokens": small, "text_tokens": small, "audio_tokens": small}
        ),
        "output_token_details": st.fixed_dictionaries(
            {"text_tokens": small, "audio_tokens": small}
        ),
    }
)
status_details = st.one_of(
    st.none(),
    st.just({"type": "cancelled", "reason": "turn_detected"}),
    st.just({"type": "cancelled", "reason": "client_cancelled"}),
    st.just({"type": "incomplete", "reason": "max_output_tokens"}),
    st.just({"type": "failed", "error": {"type": "server_error", "message": "boom"}}),
)
response_objects = st.fixed_dictionaries(
    {
        "object": st.just("realtime.response"),
        "id": resp_ids,
        "status": st.sampled_from(
            ["in_progress", "completed", "cancelled", "incomplete", "failed"]
        ),
        "status_details": status_details,
        "output": st.lists(response_items, max_size=3),
        "usage": usages,
    },
    optional={
        "conversation_id": prefixed("conv"),
        "modalities": st.sampled_from([["text"], ["text", "audio"]]),
        "voice": voices,
        "output_audio_format": canonical_formats,
        "max_output_tokens": max_tokens,
        "metadata": st.none() | st.dictionaries(names, texts, max_size=2),
    },
)


def server_event(kind: str, **fields: st.SearchStrategy) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries({"type": st.just(kind), "event_id": event_ids, **fields})


stream_fields = {
    "response_id": resp_ids,
    "item_id": item_ids,
    "output_index": small,
    "content_index": small,
}


def _superset(a: str, b: str) -> Callable[[dict], dict]:
    return lambda e: {**e, b: e[a]}


tool_defs = st.fixed_dictionaries(
    {"type": st.just("function"), "name": names},
    optional={
        "description": texts,
        "parameters": st.just({"type": "object", "properties": {"q": {"type": "string"}}}),
    },
)
tool_choices = st.sampled_from(["auto", "none", "required"]) | names.map(
    lambda n: {"type": "function", "function": {"name": n}}
)
turn_detections = st.one_of(
    st.none(),
    st.just({"type": "none"}),
    st.fixed_dictionaries(
        {"type": st.just("server_vad")},
        optional={
            "threshold": st.floats(0, 1),
            "prefix_padding_ms": millis | millis.map(str) | millis.map(lambda m: f"{m}ms"),
            "silence_duration_ms": millis | millis.map(str),
            "create_response": st.booleans(),
            "interrupt_response": st.booleans(),
        },
    ),
    st.fixed_dictionaries(
        {"type": st.just("semantic_vad")},
        optional={"eagerness": st.sampled_from(["low", "medium", "high", "auto"])},
    ),
)
transcriptions = st.none() | st.fixed_dictionaries(
    {"model": st.sampled_from(["whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe"])},
    optional={"language": st.sampled_from(["en", "fr", "de"]), "prompt": texts},
)
SESSION_FIELDS = {
    "model": st.sampled_from(["gpt-4o-realtime-preview", "gpt-realtime", "local"]),
    "modalities": st.sampled_from([["text"], ["audio"], ["text", "audio"], ["audio", "text"]]),
    "instructions": texts,
    "voice": voices,
    "input_audio_format": any_formats,
    "output_audio_format": any_formats,
    "input_audio_transcription": transcriptions,
    "turn_detection": turn_detections,
    "tools": st.lists(tool_defs, max_size=2),
    "tool_choice": tool_choices,
    "temperature": st.floats(0.6, 1.2),
    "max_response_output_tokens": max_tokens | st.none(),
}
full_sessions = st.fixed_dictionaries(
    {"object": st.just("realtime.session"), "id": prefixed("sess"), **SESSION_FIELDS}
)
partial_sessions = st.fixed_dictionaries({}, optional=SESSION_FIELDS)


def normalise_session(session: dict, *, server: bool) -> dict:
    """The documented normalisations (ga.NORMALISATIONS), re-implemented independently."""
    out = copy.deepcopy(session)
    if "modalities" in out:
        out["modalities"] = ["text", "audio"] if "audio" in out["modalities"] else ["text"]
    for key in ("input_audio_format", "output_audio_format"):
        if key in out:
            out[key] = out[key].replace("-", "_")
    td = out.get("turn_detection", "absent")
    if td is None or (isinstance(td, dict) and td.get("type") == "none"):
        out["turn_detection"] = None
    elif isinstance(td, dict):
        for key in ("prefix_padding_ms", "silence_duration_ms"):
            if isinstance(td.get(key), str):
                td[key] = int(td[key].removesuffix("ms"))
    if "max_response_output_tokens" in out and out["max_response_output_tokens"] is None:
        out["max_response_output_tokens"] = "inf"
    if server:
        out["temperature"] = 0.8
    else:
        out.pop("temperature", None)
    return out


PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(full_sessions)
def test_session_round_trip_full(session: dict) -> None:
    before = copy.deepcopy(session)
    back = session_ga_to_preview(session_preview_to_ga(session), fill_defaults=True)
    assert session == before
    assert back == normalise_session(session, server=True)


@PROPERTY
@given(partial_sessions)
def test_session_round_trip_partial(session: dict) -> None:
    back = session_ga_to_preview(session_preview_to_ga(session))
    assert back == normalise_session(session, server=False)


@PROPERTY
@given(full_sessions, st.sampled_from(["session.created", "session.updated"]), event_ids)
def test_session_event_round_trip(session: dict, kind: str, eid: str) -> None:
    event = {"type": kind, "event_id": eid, "session": session}
    (ga_event,) = pure(server_preview_to_ga, event)
    assert ga_event["session"]["type"] == "realtime"
    assert "temperature" not in ga_event["session"]
    assert pure(server_ga_to_preview, ga_event) == [
        {**event, "session": normalise_session(session, server=True)}
    ]


preview_server_events = st.one_of(
    server_event("response.text.delta", **stream_fields, delta=texts),
    server_event("response.text.done", **stream_fields, text=texts).map(_superset("text", "value")),
    server_event("response.audio.delta", **stream_fields, delta=b64),
    server_event("response.audio.done", **stream_fields),
    server_event("response.audio_transcript.delta", **stream_fields, delta=texts),
    server_event("response.audio_transcript.done", **stream_fields, transcript=texts),
    server_event(
        "conversation.item.truncated", item_id=item_ids, content_index=small, audio_end_ms=millis
    ).map(_superset("content_index", "index")),
    server_event(
        "conversation.item.created", previous_item_id=st.none() | item_ids, item=server_items
    ),
    server_event(
        "response.output_item.added",
        response_id=resp_ids,
        output_index=small,
        item=in_progress_items,
    ),
    server_event(
        "response.output_item.done", response_id=resp_ids, output_index=small, item=response_items
    ),
    server_event("response.content_part.added", **stream_fields, part=assistant_parts),
    server_event("response.content_part.done", **stream_fields, part=assistant_parts),
    server_event("response.created", response=response_objects),
    server_event("response.done", response=response_objects),
)


@PROPERTY
@given(st.lists(preview_server_events, min_size=1, max_size=6))
def test_server_preview_round_trip(events: list[dict]) -> None:
    ga_events = chain(server_preview_to_ga, events)
    assert all(M not in e for e in ga_events)
    back = drop_marked_item_done(chain(server_ga_to_preview, ga_events))
    assert back == events


@PROPERTY
@given(st.lists(preview_server_events, min_size=1, max_size=6))
def test_server_ga_side_round_trip_is_stable(events: list[dict]) -> None:
    """GA -> preview -> GA reproduces GA output exactly (preview items carry ``object``)."""
    ga_events = chain(server_preview_to_ga, events)
    again = chain(server_preview_to_ga, chain(server_ga_to_preview, ga_events))
    assert again == ga_events


@PROPERTY
@given(preview_server_events)
def test_server_item_done_rule(event: dict) -> None:
    out = pure(server_preview_to_ga, event)
    kinds = [e["type"] for e in out]
    if event["type"] == "conversation.item.created":
        complete = (
            event["item"].get("status") != "in_progress"
            or event["item"]["type"] == "function_call_output"
            or event["item"].get("role") in ("user", "system")
        )
        assert kinds == (
            ["conversation.item.added", "conversation.item.done"]
            if complete
            else ["conversation.item.added"]
        )
    elif event["type"] == "response.output_item.done":
        assert kinds == ["conversation.item.done", "response.output_item.done"]
        assert out[0]["item"] == out[1]["item"]
    else:
        assert len(out) == 1


request_items = st.one_of(
    st.fixed_dictionaries(
        {
            "type": st.just("message"),
            "role": st.just("user"),
            "content": st.lists(
                st.one_of(
                    st.fixed_dictionaries({"type": st.just("input_text"), "text": texts}),
                    st.fixed_dictionaries(
                        {"type": st.just("input_audio")},
                        optional={"audio": b64, "transcript": texts},
                    ),
                ),
                min_size=1,
                max_size=2,
            ),
        },
        optional={"id": item_ids},
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("message"),
            "role": st.just("system"),
            "content": st.lists(
                st.fixed_dictionaries({"type": st.just("input_text"), "text": texts}),
                min_size=1,
                max_size=2,
            ),
        },
        optional={"id": item_ids},
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("message"),
            "role": st.just("assistant"),
            "content": st.lists(
                st.fixed_dictionaries(
                    {"type": st.sampled_from(["text", "input_text"]), "text": texts}
                ),
                min_size=1,
                max_size=2,
            ),
        },
        optional={"id": item_ids, "status": st.just("completed")},
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("function_call"),
            "name": names,
            "call_id": call_ids,
            "arguments": json_args,
        },
        optional={"id": item_ids},
    ),
    st.fixed_dictionaries(
        {"type": st.just("function_call_output"), "call_id": call_ids, "output": json_args},
        optional={"id": item_ids},
    ),
)
reference_items = st.fixed_dictionaries({"type": st.just("message"), "id": item_ids})


def normalise_request_item(item: dict) -> dict:
    item = copy.deepcopy(item)
    if item.get("role") == "assistant":
        for part in item["content"]:
            if part["type"] == "input_text":
                part["type"] = "text"
    return item


response_params = st.fixed_dictionaries(
    {"commit": st.booleans(), "cancel_previous": st.booleans()},
    optional={
        "instructions": texts,
        "modalities": st.sampled_from([["text"], ["audio"], ["text", "audio"]]),
        "voice": voices,
        "output_audio_format": any_formats,
        "temperature": st.floats(0.6, 1.2),
        "max_output_tokens": max_tokens | st.none(),
        "tools": st.lists(tool_defs, max_size=2),
        "tool_choice": tool_choices,
        "input_items": st.lists(request_items | reference_items, max_size=3),
    },
)


def normalise_response_params(params: dict) -> dict:
    out = normalise_session(
        {
            k: v
            for k, v in params.items()
            if k in ("modalities", "output_audio_format", "temperature")
        },
        server=False,
    )
    out.update(
        {
            k: copy.deepcopy(v)
            for k, v in params.items()
            if k not in ("modalities", "output_audio_format", "temperature")
        }
    )
    out["cancel_previous"] = False
    if "max_output_tokens" in out and out["max_output_tokens"] is None:
        out["max_output_tokens"] = "inf"
    if "input_items" in out:
        out["input_items"] = [normalise_request_item(i) for i in out["input_items"]]
    return out


client_events = st.one_of(
    server_event("session.update", session=partial_sessions),
    server_event("response.create", response=response_params),
    server_event(
        "conversation.item.create", previous_item_id=st.none() | item_ids, item=request_items
    ),
    server_event("conversation.item.create", item=request_items),
    server_event("input_audio_buffer.append", audio=b64),
    server_event("input_audio_buffer.commit"),
    server_event("input_audio_buffer.clear"),
    server_event("conversation.item.delete", item_id=item_ids),
    server_event(
        "conversation.item.truncate", item_id=item_ids, content_index=small, audio_end_ms=millis
    ),
    server_event("response.cancel"),
)


def normalise_client_event(event: dict) -> dict:
    event = copy.deepcopy(event)
    if event["type"] == "session.update":
        event["session"] = normalise_session(event["session"], server=False)
    elif event["type"] == "response.create":
        event["response"] = normalise_response_params(event["response"])
    elif event["type"] == "conversation.item.create":
        event["item"] = normalise_request_item(event["item"])
    return event


@PROPERTY
@given(client_events)
def test_client_preview_round_trip(event: dict) -> None:
    ga_events = pure(client_preview_to_ga, event)
    assert len(ga_events) == 1 and M not in ga_events[0]
    assert chain(client_ga_to_preview, ga_events) == [normalise_client_event(event)]


@PROPERTY
@given(client_events)
def test_client_ga_side_round_trip_is_stable(event: dict) -> None:
    ga_events = pure(client_preview_to_ga, event)
    assert chain(client_preview_to_ga, chain(client_ga_to_preview, ga_events)) == ga_events


@PROPERTY
@given(response_params, st.lists(request_items, min_size=1, max_size=3), event_ids)
def test_append_input_items_expand_into_item_creates(
    params: dict, appended: list[dict], eid: str
) -> None:
    params = {k: v for k, v in params.items() if k != "input_items"}
    event = {
        "type": "response.create",
        "event_id": eid,
        "response": {**params, "append_input_items": appended},
    }
    out = pure(client_preview_to_ga, event)
    assert [e["type"] for e in out] == ["conversation.item.create"] * len(appended) + [
        "response.create"
    ]
    assert [e["event_id"] for e in out] == [f"{eid}_append{i}" for i in range(len(appended))] + [
        eid
    ]
    back = chain(client_ga_to_preview, out)
    assert [e["item"] for e in back[:-1]] == [normalise_request_item(i) for i in appended]
    assert back[-1] == normalise_client_event(
        {"type": "response.create", "event_id": eid, "response": params}
    )


# ======================================================================================
# the preview side agrees with the protocol models
# ======================================================================================


def test_preview_output_parses_with_the_protocol_models() -> None:
    """What GA traffic becomes is valid preview dialect for ``realtime_widget.protocol``
    (and marked events are the only ones it does not know)."""
    protocol = pytest.importorskip("realtime_widget.protocol")
    translated = chain(server_ga_to_preview, GA_TURN)
    for _, ga_event, _ in SERVER_TO_PREVIEW:
        translated += pure(server_ga_to_preview, ga_event)
    for event in translated:
        if M in event:
            continue
        model = protocol.parse_server_event(event)
        assert not isinstance(model, protocol.UnknownServerEvent), event["type"]
        assert model.to_dict()["type"] == event["type"]
    for _, preview, _ in SERVER_TO_GA:
        assert not isinstance(protocol.parse_server_event(preview), protocol.UnknownServerEvent)


@pytest.mark.parametrize(
    "preview, ga_param",
    [
        ("session.voice", "session.audio.output.voice"),
        ("session.turn_detection.threshold", "session.audio.input.turn_detection.threshold"),
        ("session.modalities", "session.output_modalities"),
        ("session.max_response_output_tokens", "session.max_output_tokens"),
        ("session.speed", "session.audio.output.speed"),
        ("response.input_items[1].content[0].text", "response.input[1].content[0].text"),
        ("response.voice", "response.audio.output.voice"),
        ("session.tools[0].name", "session.tools[0].name"),
        ("item_id", "item_id"),
    ],
)
def test_error_params_name_the_field_in_the_receivers_dialect(preview: str, ga_param: str) -> None:
    """An error about a field a GA client sent names it as that client spelled it."""
    error = {
        "type": "invalid_request_error",
        "code": "invalid_value",
        "param": preview,
        "message": f"{preview}: bad",
    }
    (to_ga,) = pure(server_preview_to_ga, ev("error", "evt_p", error=error))
    assert to_ga["error"]["param"] == ga_param and to_ga["error"]["message"] == f"{ga_param}: bad"
    (back,) = pure(server_ga_to_preview, to_ga)
    assert back["error"] == error
    assert ga.param_ga_to_preview(ga.param_preview_to_ga(preview)) == preview
