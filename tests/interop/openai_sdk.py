"""Drivers: the ``openai`` Python SDK's realtime clients (``openai[realtime]``).

* ``GA``: ``client.realtime.connect(model=M)``, the GA dialect. Routes ``openai-ga``
  (``AsyncOpenAI(websocket_base_url=<openai base>)``) and ``azure-ga``
  (``AsyncOpenAI(websocket_base_url=<azure GA base>)``, as Azure documents for GA).
* ``BETA``: ``client.beta.realtime.connect(model=M)``, the preview dialect (it sends
  ``OpenAI-Beta: realtime=v1``). Routes ``openai-preview`` (``AsyncOpenAI``) and
  ``azure-preview`` (``AsyncAzureOpenAI(azure_endpoint=..., api_version=
  "2024-10-01-preview")``, key in the ``api-key`` header).

The SDK parses events leniently (``construct``), so a field it requires but the server
left out would only break the user later; every event is therefore also validated
strictly against the SDK's own pydantic union (``RealtimeServerEvent`` of its dialect),
and a rejection is reported like an error event.
"""

from __future__ import annotations

import asyncio
import base64
import json
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Callable

from . import expect
from .endpoint import (
    AZURE_GA,
    AZURE_PREVIEW,
    AZURE_PREVIEW_API_VERSION,
    OPENAI_GA,
    OPENAI_PREVIEW,
    Endpoint,
    dialect,
)
from .expect import Seen
from .thirdparty import missing

WAIT_S = 60.0  # a hung client fails the scenario after this long; not a performance figure

# What each dialect calls the events a user reads.
_NAMES = {
    "ga": {
        "text": "response.output_text.delta",
        "audio": "response.output_audio.delta",
        "transcript": "response.output_audio_transcript.delta",
    },
    "preview": {
        "text": "response.text.delta",
        "audio": "response.audio.delta",
        "transcript": "response.audio_transcript.delta",
    },
}


def _sdk():
    import importlib.util

    if importlib.util.find_spec("websockets") is None:
        missing("the openai SDK's realtime client needs openai[realtime] (websockets)")
    import openai

    return openai


def version() -> str:
    return _sdk().__version__


class StrictSdkModels:
    """The SDK's own model of each server event type of one dialect, validating raw events
    strictly. The one leniency: a session's ``model`` echoes the name the client connected
    with, which the beta SDK types as a closed list of hosted model names."""

    _models: dict[str, dict[str, Any]] = {}

    @classmethod
    def _by_type(cls, dialect_name: str) -> dict[str, Any]:
        import typing

        from pydantic import TypeAdapter

        if dialect_name not in cls._models:
            if dialect_name == "ga":
                from openai.types.realtime import RealtimeServerEvent
            else:
                from openai.types.beta.realtime import RealtimeServerEvent
            union = typing.get_args(RealtimeServerEvent)[0]
            models = {}
            for model in typing.get_args(union):
                for event_type in typing.get_args(model.model_fields["type"].annotation):
                    models[event_type] = TypeAdapter(model)
            cls._models[dialect_name] = models
        return cls._models[dialect_name]

    @classmethod
    def check(cls, dialect_name: str, raw: dict[str, Any]) -> str | None:
        from pydantic import ValidationError

        adapter = cls._by_type(dialect_name).get(raw.get("type"))
        if adapter is None:
            return f"{raw.get('type')}: not a server event type of the SDK's {dialect_name} dialect"
        try:
            adapter.validate_python(raw)
        except ValidationError as exc:
            problems = [
                e
                for e in exc.errors()
                if not (e["loc"][-1:] == ("model",) and e["type"] == "literal_error")
            ]
            if problems:
                return f"the SDK's {raw['type']} model rejects the event: {problems[:3]}"
        return None


def _client(endpoint: Endpoint, route: str) -> Any:
    openai = _sdk()
    if route == OPENAI_GA or route == OPENAI_PREVIEW:
        return openai.AsyncOpenAI(
            api_key=endpoint.api_key,
            base_url="http://127.0.0.1:9/unused",
            websocket_base_url=endpoint.openai_ws_base(),
        )
    if route == AZURE_GA:
        return openai.AsyncOpenAI(
            api_key=endpoint.api_key,
            base_url="http://127.0.0.1:9/unused",
            websocket_base_url=endpoint.azure_ga_ws_base(),
        )
    # Without websocket_base_url the Azure client always dials wss:// (TLS); a loopback
    # server speaks plain ws://, so the same URL is given with the ws scheme.
    azure = endpoint.azure_endpoint()
    return openai.AsyncAzureOpenAI(
        azure_endpoint=azure,
        api_key=endpoint.api_key,
        api_version=AZURE_PREVIEW_API_VERSION,
        websocket_base_url=azure.replace("http", "ws", 1) + "/openai",
    )


class Conn:
    """One SDK connection plus what its user has seen so far."""

    def __init__(self, conn: Any, route: str, seen: Seen):
        self.conn = conn
        self.dialect = dialect(route)
        self.names = _NAMES[self.dialect]
        self.seen = seen

    async def next(self) -> Any:
        raw = await asyncio.wait_for(self.conn.recv_bytes(), WAIT_S)
        problem = StrictSdkModels.check(self.dialect, json.loads(raw))
        if problem:
            self.seen.errors.append(problem)
        event = self.conn.parse_event(raw)  # what the SDK hands its user
        if event.type == "error":
            self.seen.errors.append(f"{event.error.code}: {event.error.message}")
        elif event.type == self.names["text"]:
            self.seen.text += event.delta
        elif event.type == self.names["audio"]:
            self.seen.audio += base64.b64decode(event.delta)
        elif event.type == self.names["transcript"]:
            self.seen.transcript += event.delta
        elif event.type == "conversation.item.input_audio_transcription.completed":
            self.seen.user_transcript = event.transcript
        elif event.type == "response.function_call_arguments.done":
            self.seen.tool_calls.append((event.name, json.loads(event.arguments)))
        elif event.type == "conversation.item.truncated":
            self.seen.truncated_ms = event.audio_end_ms
        elif event.type == "response.done":
            self.seen.status = event.response.status
        return event

    async def until(self, *types: str, also: Callable[[Any], bool] | None = None) -> Any:
        """Read events until one of ``types`` (or an error); returns it."""
        while True:
            event = await self.next()
            if event.type in types or event.type == "error" or (also is not None and also(event)):
                return event

    def session(
        self,
        *,
        text_only: bool = False,
        server_vad: bool = False,
        transcribe: bool = False,
        tools: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """The session this dialect's SDK user writes for these settings."""
        turn = {"type": "server_vad"} if server_vad else None
        transcription = {"model": expect.TRANSCRIPTION_MODEL} if transcribe else None
        if self.dialect == "ga":
            audio_input: dict[str, Any] = {"turn_detection": turn}
            if transcription:
                audio_input["transcription"] = transcription
            session: dict[str, Any] = {
                "type": "realtime",
                "output_modalities": ["text"] if text_only else ["audio"],
                "audio": {"input": audio_input},
            }
        else:
            session = {
                "modalities": ["text"] if text_only else ["text", "audio"],
                "turn_detection": turn,
            }
            if transcription:
                session["input_audio_transcription"] = transcription
        if tools is not None:
            session["tools"] = tools
        return session

    async def configure(self, **settings: Any) -> None:
        await self.conn.session.update(session=self.session(**settings))
        await self.until("session.updated")

    async def say(self, text: str) -> None:
        await self.conn.conversation.item.create(
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": text}],
            }
        )

    async def respond(self) -> Any:
        await self.conn.response.create()
        return await self.until("response.done")


@dataclass(frozen=True)
class Driver:
    ID: str
    NAME: str
    ROUTES: tuple[str, ...]
    beta: bool

    @asynccontextmanager
    async def connect(self, endpoint: Endpoint, route: str):
        # The client is closed with the connection, as its authors' examples do: an SDK
        # client left open leaks an httpx pool that asyncio reports later, in another test.
        async with _client(endpoint, route) as client:
            api = client.beta.realtime if self.beta else client.realtime
            model = endpoint.deployment_name if route == AZURE_PREVIEW else endpoint.model
            async with api.connect(model=model) as conn:
                yield conn

    async def _run(self, endpoint: Endpoint, route: str, body: Callable[[Conn], Any]) -> Seen:
        seen = Seen(f"{self.NAME} {version()}", route)
        async with self.connect(endpoint, route) as raw:
            c = Conn(raw, route, seen)
            await c.until("session.created")
            await body(c)
        return seen

    # -- scenarios --------------------------------------------------------------------
    async def text(self, endpoint: Endpoint, route: str) -> Seen:
        async def body(c: Conn) -> None:
            await c.configure(text_only=True)
            await c.say(expect.TEXT_PROMPT)
            await c.respond()

        seen = await self._run(endpoint, route, body)
        expect.expect_text(seen)
        return seen

    async def server_vad_audio(self, endpoint: Endpoint, route: str) -> Seen:
        async def body(c: Conn) -> None:
            await c.configure(server_vad=True, transcribe=True)
            for chunk in expect.chunks(expect.spoken_pcm16()):
                await c.conn.input_audio_buffer.append(audio=base64.b64encode(chunk).decode())
            await c.until("response.done")
            if c.seen.user_transcript is None:  # may come after the reply: match by item, not order
                await c.until("conversation.item.input_audio_transcription.completed")

        seen = await self._run(endpoint, route, body)
        expect.expect_spoken_turn(seen)
        return seen

    async def manual_commit_audio(self, endpoint: Endpoint, route: str) -> Seen:
        async def body(c: Conn) -> None:
            await c.configure(transcribe=True)
            for chunk in expect.chunks(expect.spoken_pcm16()):
                await c.conn.input_audio_buffer.append(audio=base64.b64encode(chunk).decode())
            await c.conn.input_audio_buffer.commit()
            await c.until("input_audio_buffer.committed")
            await c.respond()
            if c.seen.user_transcript is None:
                await c.until("conversation.item.input_audio_transcription.completed")

        seen = await self._run(endpoint, route, body)
        expect.expect_spoken_turn(seen)
        return seen

    async def cancel(self, endpoint: Endpoint, route: str) -> Seen:
        async def body(c: Conn) -> None:
            await c.configure()
            await c.say(expect.LONG_PROMPT)
            await c.conn.response.create()
            await c.until(c.names["audio"])
            await c.conn.response.cancel()
            done = await c.until("response.done")
            part = done.response.output[0].content[0]
            c.seen.transcript = part.transcript or ""  # what was said before the cancel

        seen = await self._run(endpoint, route, body)
        expect.expect_cancelled(seen)
        return seen

    async def truncate(self, endpoint: Endpoint, route: str) -> Seen:
        at: list[int] = []

        async def body(c: Conn) -> None:
            await c.configure()
            await c.say(expect.TEXT_PROMPT)
            done = await c.respond()
            at.append(expect.truncate_point(c.seen))
            item_id = done.response.output[0].id
            await c.conn.conversation.item.truncate(
                item_id=item_id, content_index=0, audio_end_ms=at[0]
            )
            await c.until("conversation.item.truncated")

        seen = await self._run(endpoint, route, body)
        expect.expect_truncated(seen, at[0])
        return seen

    async def tool_call(self, endpoint: Endpoint, route: str) -> Seen:
        async def body(c: Conn) -> None:
            await c.configure(text_only=True, tools=[expect.WEATHER_TOOL])
            await c.say(expect.TOOL_PROMPT)
            done = await c.respond()
            call = next(o for o in done.response.output if o.type == "function_call")
            await c.conn.conversation.item.create(
                item={
                    "type": "function_call_output",
                    "call_id": call.call_id,
                    "output": json.dumps(expect.TOOL_RESULT),
                }
            )
            await c.respond()

        seen = await self._run(endpoint, route, body)
        expect.expect_tool_call(seen)
        return seen

    @property
    def SCENARIOS(self) -> dict[str, Callable[[Endpoint, str], Any]]:
        return {name: getattr(self, name) for name in expect.SCENARIOS}


GA = Driver("openai_ga", "openai SDK realtime (GA)", (OPENAI_GA, AZURE_GA), beta=False)
BETA = Driver(
    "openai_beta", "openai SDK beta.realtime (preview)", (OPENAI_PREVIEW, AZURE_PREVIEW), beta=True
)
