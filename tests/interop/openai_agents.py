"""Driver: ``openai-agents`` (PyPI) ``RealtimeAgent`` + ``RealtimeRunner``, a GA client.

The agent has one function tool (``get_weather``). The runner connects with
``model_config={"url": <the route's URL>, "api_key": ...}`` (its documented way to reach
another server) and sends what it always sends: its GA ``session.update`` (semantic VAD
unless told otherwise, GA transcription models, ``tracing``), then items and
``response.create``. What the agent's user sees: the session's history (user
transcripts, assistant text and transcripts), its ``audio`` events, ``tool_start`` /
``tool_end`` and ``error`` events; each response's final status is read from the raw
server events the session also hands out.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from . import expect
from .endpoint import AZURE_GA, OPENAI_GA, Endpoint
from .expect import Seen
from .thirdparty import missing

ID = "openai_agents"
NAME = "openai-agents RealtimeRunner"
ROUTES = (OPENAI_GA, AZURE_GA)
WAIT_S = 60.0  # a hung client fails the scenario after this long; not a performance figure


def _agents():
    try:
        import agents
        from agents import realtime
    except ImportError:
        missing("openai-agents is not installed: pip install -e '.[test]'")
    return agents, realtime


def name() -> str:
    from importlib.metadata import version

    return f"openai-agents {version('openai-agents')} RealtimeRunner"


def _agent():
    agents, realtime = _agents()

    @agents.function_tool
    def get_weather(location: str) -> str:
        """Current weather for a place."""
        assert location == expect.TOOL_ARGUMENTS["location"], location
        return json.dumps(expect.TOOL_RESULT)

    return realtime.RealtimeAgent(
        name="Assistant", instructions="Answer briefly.", tools=[get_weather]
    )


class Watcher:
    """Reads a ``RealtimeSession``'s events into a :class:`Seen`."""

    def __init__(self, session: Any, seen: Seen):
        self.session = session
        self.seen = seen
        self.history: list[Any] = []
        self.responses_done = 0
        self.events = session.__aiter__()

    async def next(self) -> Any:
        event = await asyncio.wait_for(self.events.__anext__(), WAIT_S)
        seen = self.seen
        if event.type == "error":
            seen.errors.append(str(event.error))
        elif event.type == "audio":
            seen.audio += event.audio.data
        elif event.type == "history_updated":
            self.history = list(event.history)
        elif event.type == "history_added":
            self.history = [
                i for i in self.history if getattr(i, "item_id", None) != event.item.item_id
            ] + [event.item]
        elif event.type == "tool_start":
            seen.tool_calls.append((event.tool.name, json.loads(event.arguments)))
        elif event.type == "raw_model_event" and event.data.type == "raw_server_event":
            raw = event.data.data
            if raw.get("type") == "response.done":
                seen.status = raw["response"]["status"]
                self.responses_done += 1
            elif raw.get("type") == "conversation.item.truncated":
                seen.truncated_ms = raw["audio_end_ms"]
            elif raw.get("type") == "error":
                seen.errors.append(json.dumps(raw.get("error")))
        return event

    async def until_responses(self, n: int) -> None:
        while self.responses_done < n:
            await self.next()

    async def until(self, kind: str) -> Any:
        while True:
            event = await self.next()
            if event.type == kind:
                return event

    def read_history(self) -> None:
        """The user's and the assistant's last words as the session's history has them."""
        for item in self.history:
            if getattr(item, "type", None) != "message":
                continue
            for part in item.content:
                if item.role == "user" and part.type == "input_audio" and part.transcript:
                    self.seen.user_transcript = part.transcript
                elif item.role == "assistant" and part.type == "text" and part.text:
                    self.seen.text = part.text
                elif item.role == "assistant" and part.type == "audio" and part.transcript:
                    self.seen.transcript = part.transcript


def _model_config(endpoint: Endpoint, route: str) -> dict[str, Any]:
    return {"url": endpoint.url(route), "api_key": endpoint.api_key}


async def _run(endpoint: Endpoint, route: str, settings: dict[str, Any], body) -> Seen:
    _, realtime = _agents()
    seen = Seen(name(), route)
    runner = realtime.RealtimeRunner(
        _agent(), config={"model_settings": {"model_name": endpoint.model, **settings}}
    )
    session = await runner.run(model_config=_model_config(endpoint, route))
    async with session:
        watcher = Watcher(session, seen)
        await body(session, watcher)
        watcher.read_history()
    return seen


_TEXT = {"modalities": ["text"], "turn_detection": None}
_AUDIO_OUT = {"modalities": ["audio"]}
_TRANSCRIBE = {"input_audio_transcription": {"model": expect.TRANSCRIPTION_MODEL}}


async def text(endpoint: Endpoint, route: str) -> Seen:
    async def body(session, w: Watcher) -> None:
        await session.send_message(expect.TEXT_PROMPT)
        await w.until_responses(1)  # the history has the reply before response.done

    seen = await _run(endpoint, route, _TEXT, body)
    expect.expect_text(seen)
    return seen


async def _spoken(session, w: Watcher, trailing_s: float = 1.0) -> None:
    for chunk in expect.chunks(expect.spoken_pcm16(trailing_s)):
        await session.send_audio(chunk)
    await w.until_responses(1)
    for _ in range(50):  # the transcript and the reply's final history entry
        w.read_history()
        if w.seen.user_transcript and w.seen.transcript:
            return
        await w.next()


async def server_vad_audio(endpoint: Endpoint, route: str) -> Seen:
    settings = {**_AUDIO_OUT, **_TRANSCRIBE, "turn_detection": {"type": "server_vad"}}

    async def body(session, w: Watcher) -> None:
        await _spoken(session, w)

    seen = await _run(endpoint, route, settings, body)
    expect.expect_spoken_turn(seen)
    return seen


async def semantic_vad_audio(endpoint: Endpoint, route: str) -> Seen:
    """The runner's own default turn detection (semantic VAD)."""

    async def body(session, w: Watcher) -> None:
        await _spoken(session, w, trailing_s=2.5)

    seen = await _run(endpoint, route, {**_AUDIO_OUT, **_TRANSCRIBE}, body)
    expect.expect_spoken_turn(seen)
    return seen


async def cancel(endpoint: Endpoint, route: str) -> Seen:
    """``session.interrupt()`` once the first audio chunk has arrived: the runner cancels
    the response and truncates the item at what was played."""

    async def body(session, w: Watcher) -> None:
        await session.send_message(expect.LONG_PROMPT)
        await w.until("audio")
        await session.interrupt()
        await w.until_responses(1)

    seen = await _run(endpoint, route, {**_AUDIO_OUT, "turn_detection": None}, body)
    expect.expect_cancelled(seen)
    assert seen.truncated_ms is not None, f"{seen.label()}: the interrupted item was not truncated"
    return seen


async def tool_call(endpoint: Endpoint, route: str) -> Seen:
    async def body(session, w: Watcher) -> None:
        await session.send_message(expect.TOOL_PROMPT)
        await w.until_responses(2)  # the call, then the answer that uses its result

    seen = await _run(endpoint, route, _TEXT, body)
    expect.expect_tool_call(seen)
    return seen


SCENARIOS = {
    "text": text,
    "server_vad_audio": server_vad_audio,
    "semantic_vad_audio": semantic_vad_audio,
    "cancel": cancel,
    "tool_call": tool_call,
}
