"""The ``openai`` Python SDK's realtime client as a real third-party client of the server.

The SDK speaks the GA dialect (no ``OpenAI-Beta`` header) to ``<websocket_base_url>/realtime``.
Besides the SDK's own lenient parsing, every event received is validated *strictly*
against the SDK's pydantic models (``openai.types.realtime.RealtimeServerEvent``), so a
field the SDK requires and the server leaves out is caught.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
from contextlib import asynccontextmanager

import pytest

if importlib.util.find_spec("websockets") is None:
    # The SDK's realtime client needs the openai[realtime] extra. On CI a silent skip would
    # hide a broken install: the test extra must ask for "openai[realtime]".
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        raise ImportError("websockets is missing: the test extra needs 'openai[realtime]'")
    pytest.skip(
        "the openai SDK's realtime client needs openai[realtime] (websockets)",
        allow_module_level=True,
    )

from openai import AsyncOpenAI
from pydantic import TypeAdapter, ValidationError
from speech_fixtures import ESPEAK_SENTENCES, speech_with_silence, wer

pytestmark = pytest.mark.timeout(120)

KEY = "sk-local-sdk"
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


class StrictSdkModels:
    """The SDK's own model for each server event type, validated strictly."""

    def __init__(self) -> None:
        import typing

        from openai.types.realtime import RealtimeServerEvent

        union = typing.get_args(RealtimeServerEvent)[0]
        self.models = {}
        for model in typing.get_args(union):
            (event_type,) = typing.get_args(model.model_fields["type"].annotation)
            self.models[event_type] = TypeAdapter(model)
        self.problems: list[str] = []

    def validate_python(self, event: dict) -> None:
        adapter = self.models.get(event.get("type"))
        if adapter is None:
            self.problems.append(f"{event.get('type')}: not a server event type of the SDK")
            return
        try:
            adapter.validate_python(event)
        except ValidationError as exc:
            self.problems.append(f"{event['type']}: {exc}")


@pytest.fixture
def strict_events():
    models = StrictSdkModels()
    yield models
    assert not models.problems, "\n".join(models.problems)


@asynccontextmanager
async def sdk_connect(server, key: str = KEY):
    """A realtime connection from an SDK client that is closed with it (an SDK client left
    open leaks an httpx pool that asyncio reports later, in another test)."""
    client = AsyncOpenAI(
        api_key=key,
        base_url="http://127.0.0.1:9/v1",
        websocket_base_url=f"ws://127.0.0.1:{server.port}/v1",
    )
    async with client, client.realtime.connect(model="local-realtime") as conn:
        yield conn


async def receive_until(conn, strict_events, *types: str) -> list:
    """SDK events up to and including the first of ``types``; each strictly validated."""
    events = []
    while True:
        raw = await conn.recv_bytes()
        strict_events.validate_python(json.loads(raw))  # raises on any field the SDK requires
        event = conn.parse_event(raw)
        events.append(event)
        assert event.type != "error", event
        if event.type in types:
            return events


async def test_sdk_text_turn(serve, strict_events):
    server = await serve(api_key=KEY)
    async with sdk_connect(server) as conn:
        created = await receive_until(conn, strict_events, "session.created")
        session = created[-1].session
        assert session.type == "realtime" and session.model == "local-realtime"
        await conn.session.update(
            session={"type": "realtime", "output_modalities": ["text"], "instructions": "Be brief."}
        )
        updated = (await receive_until(conn, strict_events, "session.updated"))[-1].session
        assert updated.output_modalities == ["text"] and updated.instructions == "Be brief."
        await conn.conversation.item.create(
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Hello from the SDK"}],
            }
        )
        await conn.response.create()
        events = await receive_until(conn, strict_events, "response.done")
        types = [e.type for e in events]
        assert "conversation.item.added" in types and "response.created" in types
        deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
        assert len(deltas) > 1
        text = "".join(deltas)
        assert text == "You said: Hello from the SDK."
        done = next(e for e in events if e.type == "response.output_text.done")
        assert done.text == text
        response = events[-1].response
        assert response.status == "completed"
        assert (
            response.usage.total_tokens
            == response.usage.input_tokens + response.usage.output_tokens
        )
        assert response.output[0].content[0].text == text
        await receive_until(conn, strict_events, "rate_limits.updated")


async def test_sdk_function_call_turn(server, strict_events):
    async with sdk_connect(server) as conn:
        await receive_until(conn, strict_events, "session.created")
        await conn.session.update(
            session={
                "type": "realtime",
                "output_modalities": ["text"],
                "tools": [WEATHER],
                "tool_choice": "auto",
            }
        )
        await receive_until(conn, strict_events, "session.updated")
        await conn.conversation.item.create(
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "What's the weather in Paris?"}],
            }
        )
        await conn.response.create()
        events = await receive_until(conn, strict_events, "response.done")
        call = next(e for e in events if e.type == "response.function_call_arguments.done")
        assert call.name == "get_weather"
        assert json.loads(call.arguments) == {"location": "Paris"}
        streamed = "".join(
            e.delta for e in events if e.type == "response.function_call_arguments.delta"
        )
        assert streamed == call.arguments
        item = events[-1].response.output[0]
        assert item.type == "function_call" and item.call_id == call.call_id
        await conn.conversation.item.create(
            item={
                "type": "function_call_output",
                "call_id": call.call_id,
                "output": '{"temperature_c": 18}',
            }
        )
        await conn.response.create()
        events = await receive_until(conn, strict_events, "response.done")
        text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
        assert text == 'get_weather says: {"temperature_c": 18}.'


async def test_sdk_spoken_turn(server, strict_events, speech_stack):
    sentence = ESPEAK_SENTENCES[3]
    async with sdk_connect(server) as conn:
        await receive_until(conn, strict_events, "session.created")
        await conn.session.update(
            session={
                "type": "realtime",
                "audio": {
                    "input": {"transcription": {"model": "whisper-1"}},
                    "output": {"voice": "sage"},
                },
            }
        )
        await receive_until(conn, strict_events, "session.updated")
        pcm = speech_with_silence((0.5, sentence, 0.9)).pcm16
        for i in range(0, len(pcm), 9600):
            await conn.input_audio_buffer.append(audio=base64.b64encode(pcm[i : i + 9600]).decode())
        events = await receive_until(conn, strict_events, "response.done")
        types = [e.type for e in events]
        for kind in (
            "input_audio_buffer.speech_started",
            "input_audio_buffer.speech_stopped",
            "input_audio_buffer.committed",
        ):
            assert kind in types
        started = next(e for e in events if e.type == "input_audio_buffer.speech_started")
        assert abs(started.audio_start_ms + 300 - 500) <= 150
        transcript = next(
            e for e in events if e.type == "response.output_audio_transcript.done"
        ).transcript
        assert wer([sentence], [transcript.removeprefix("You said: ")]) <= 0.2
        audio = b"".join(
            base64.b64decode(e.delta) for e in events if e.type == "response.output_audio.delta"
        )
        assert wer([transcript], [speech_stack.transcribe(audio, 24000)]) <= 0.3


async def test_sdk_with_a_wrong_key_is_refused(serve):
    server = await serve(api_key=KEY)
    with pytest.raises(Exception) as refused:
        async with sdk_connect(server, key="sk-wrong"):
            pass
    assert "401" in str(refused.value)
