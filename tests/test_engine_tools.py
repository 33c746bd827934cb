"""Function calling and the brains: the default rule brain, and ``ChatCompletionsBrain``
against a small local HTTP server that speaks OpenAI chat-completions SSE streaming."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest
import tornado.httpserver
import tornado.netutil
import tornado.web
from engine_client import create_item, user_text
from speech_fixtures import speech_with_silence, wer

pytestmark = pytest.mark.timeout(120)

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
TIME = {
    "type": "function",
    "name": "get_time",
    "description": "The time in a timezone",
    "parameters": {
        "type": "object",
        "properties": {"timezone": {"type": "string"}},
        "required": ["timezone"],
    },
}
VOLUME = {
    "type": "function",
    "name": "set_volume",
    "description": "Set the speaker volume",
    "parameters": {
        "type": "object",
        "properties": {"level": {"type": "integer"}, "mute": {"type": "boolean"}},
        "required": ["level"],
    },
}
TOOL_OUTPUT = '{"temperature_c": 21, "sky": "sunny"}'


async def tools_session(client, tools, **session):
    await client.send({"type": "session.update", "session": {"tools": tools, **session}})
    return (await client.wait_for("session.updated"))["session"]


def call_events(turn):
    return turn.of_type(
        "response.output_item.added",
        "conversation.item.created",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
    )


def check_function_call(turn, name):
    """The streamed function call of ``turn``: order, ids, arguments. Returns the done event."""
    types = [e["type"] for e in turn.events]
    types = types[
        types.index("response.created") :
    ]  # (earlier, unread events are not this response's)
    n = types.count("response.function_call_arguments.delta")
    assert n >= 1
    assert types == [
        "response.created",
        "response.output_item.added",
        "conversation.item.created",
        *["response.function_call_arguments.delta"] * n,
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.done",
    ], types
    added = turn.of_type("response.output_item.added")[0]["item"]
    assert (
        added["type"] == "function_call"
        and added["name"] == name
        and added["status"] == "in_progress"
    )
    deltas = turn.of_type("response.function_call_arguments.delta")
    done = turn.of_type("response.function_call_arguments.done")[0]
    assert all(d["item_id"] == added["id"] and d["call_id"] == added["call_id"] for d in deltas)
    assert done["call_id"] == added["call_id"] and done["name"] == name
    assert "".join(d["delta"] for d in deltas) == done["arguments"]
    final = turn.of_type("response.output_item.done")[0]["item"]
    assert final["status"] == "completed" and final["arguments"] == done["arguments"]
    assert turn.response["output"] == [final]
    assert turn.status == "completed"
    return done


# --------------------------------------------------------------------------- rule brain


async def test_function_call_round_trip(client):
    await tools_session(client, [WEATHER, TIME])
    await client.send(create_item(user_text("What is the weather in Paris?")))
    await client.wait_for("conversation.item.created")
    turn = await client.response(modalities=["text"])
    done = check_function_call(turn, "get_weather")
    assert json.loads(done["arguments"]) == {"location": "Paris"}
    # the client runs the tool and returns its output; the reply uses it
    await client.send(
        create_item(
            {"type": "function_call_output", "call_id": done["call_id"], "output": TOOL_OUTPUT}
        )
    )
    created = await client.wait_for("conversation.item.created")
    assert created["previous_item_id"] == turn.response["output"][0]["id"]
    reply = await client.response(modalities=["text"])
    assert reply.status == "completed"
    assert reply.text == f"get_weather says: {TOOL_OUTPUT}."
    assert not reply.of_type("response.function_call_arguments.delta")


async def test_spoken_function_call_round_trip(client, speech_stack):
    await tools_session(client, [WEATHER], input_audio_transcription={"model": "whisper-1"})
    await client.append_audio(
        speech_with_silence((0.5, "What is the weather in Paris?", 0.9)).pcm16
    )
    turn = await client.next_response()  # automatic response to the spoken turn
    call = turn.of_type("response.function_call_arguments.done")[0]
    assert call["name"] == "get_weather"
    assert json.loads(call["arguments"])["location"].rstrip("?. ").lower() == "paris"
    await client.send(
        create_item(
            {"type": "function_call_output", "call_id": call["call_id"], "output": TOOL_OUTPUT}
        )
    )
    reply = await client.response()
    transcript = reply.of_type("response.audio_transcript.done")[0]["transcript"]
    assert "temperature_c" in transcript and "21" in transcript
    assert reply.audio()


async def test_tool_choice(client):
    await tools_session(client, [WEATHER, TIME])
    await client.send(create_item(user_text("Hello there, how is the weather")))
    await client.wait_for("conversation.item.created")
    # a named function is called even though the words name another tool
    named = await client.response(
        modalities=["text"], tool_choice={"type": "function", "function": {"name": "get_time"}}
    )
    check_function_call(named, "get_time")
    # "none": no call, an answer in words
    none = await client.response(modalities=["text"], tool_choice="none")
    assert not none.of_type("response.function_call_arguments.done")
    assert none.text.startswith("You said:")
    # session-level tool_choice "required" with words that name no tool: the first tool
    await client.send({"type": "session.update", "session": {"tool_choice": "required"}})
    await client.wait_for("session.updated")
    await client.send(create_item(user_text("Good morning")))
    await client.wait_for("conversation.item.created")
    required = await client.response(modalities=["text"])
    check_function_call(required, "get_weather")


async def test_tools_given_per_response(client):
    await client.send(create_item(user_text("Set the volume to 7 please")))
    await client.wait_for("conversation.item.created")
    plain = await client.response(modalities=["text"])  # the session has no tools
    assert plain.text == "You said: Set the volume to 7 please."
    turn = await client.response(modalities=["text"], tools=[VOLUME])
    done = check_function_call(turn, "set_volume")
    assert json.loads(done["arguments"])["level"] == 7
    # a tool_choice naming a tool the response does not have is an error
    event_id = await client.send(
        {
            "type": "response.create",
            "response": {
                "tools": [VOLUME],
                "tool_choice": {"type": "function", "function": {"name": "get_time"}},
            },
        }
    )
    assert (await client.error_for(event_id))["param"] == "response.tool_choice"


async def test_function_call_in_an_audio_response_then_spoken_answer(client, speech_stack):
    await tools_session(client, [TIME])
    await client.send(create_item(user_text("What time is it in Tokyo")))
    await client.wait_for("conversation.item.created")
    turn = await client.response()  # audio + text modalities: a call has no audio
    done = check_function_call(turn, "get_time")
    assert json.loads(done["arguments"]) == {"timezone": "Tokyo"}
    assert not turn.of_type("response.audio.delta")
    await client.send(
        create_item(
            {
                "type": "function_call_output",
                "call_id": done["call_id"],
                "output": "It is nine o'clock.",
            }
        )
    )
    reply = await client.response()
    transcript = reply.of_type("response.audio_transcript.done")[0]["transcript"]
    assert transcript.startswith("get_time says: It is nine o'clock.")
    assert wer([transcript], [speech_stack.transcribe(reply.audio(), 24000)]) <= 0.35


# --------------------------------------------------------------------------- chat-completions brain


class FakeChatCompletions:
    """A tiny OpenAI-compatible ``POST /v1/chat/completions`` (streaming SSE only).

    ``script`` is a queue of replies; each reply is a list of chunk deltas (dicts such as
    ``{"content": "Hi"}`` or ``{"tool_calls": [...]}``), the string ``"pause"`` (wait for
    ``resume`` before sending the rest), or an int (answer with that HTTP status).
    Every request body is recorded in ``requests``.
    """

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.script: list[Any] = []
        self.resume = asyncio.Event()
        self.paused = asyncio.Event()
        fake = self

        class Handler(tornado.web.RequestHandler):
            async def post(self) -> None:
                body = json.loads(self.request.body)
                fake.requests.append(body)
                reply = fake.script.pop(0) if fake.script else [{"content": "ok"}]
                if isinstance(reply, int):
                    self.set_status(reply)
                    self.finish(
                        {
                            "error": {
                                "message": "model 'tiny-local' not found",
                                "type": "not_found_error",
                            }
                        }
                    )
                    return
                assert body.get("stream") is True
                self.set_header("Content-Type", "text/event-stream")
                for delta in reply:
                    if delta == "pause":
                        fake.paused.set()
                        await fake.resume.wait()
                        continue
                    await self._chunk(body, delta, None)
                await self._chunk(
                    body,
                    {},
                    "tool_calls"
                    if any(isinstance(d, dict) and "tool_calls" in d for d in reply)
                    else "stop",
                )
                self.write("data: [DONE]\n\n")
                await self.flush()
                self.finish()

            async def _chunk(
                self, body: dict[str, Any], delta: dict[str, Any], finish: str | None
            ) -> None:
                chunk = {
                    "id": "chatcmpl-local",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": body["model"],
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                }
                self.write(f"data: {json.dumps(chunk)}\n\n")
                await self.flush()

        self.app = tornado.web.Application([(r"/v1/chat/completions", Handler)])

    async def start(self) -> str:
        sockets = tornado.netutil.bind_sockets(0, address="127.0.0.1")
        self.server = tornado.httpserver.HTTPServer(self.app)
        self.server.add_sockets(sockets)
        return f"http://127.0.0.1:{sockets[0].getsockname()[1]}/v1"


@pytest.fixture
async def chat(serve):
    """(fake chat-completions server, an engine client whose brain uses it)"""
    from realtime_widget.engine.brain import ChatCompletionsBrain

    fake = FakeChatCompletions()
    base_url = await fake.start()
    server = await serve(
        brain_factory=lambda: ChatCompletionsBrain(
            base_url=base_url, model="tiny-local", api_key="sk-fake"
        )
    )
    client = await server.connect()
    yield fake, client
    fake.server.stop()
    await fake.server.close_all_connections()


TOKENS = ["Bon", "jour", "!", " I", " am", " a", " tiny", " model", "."]


async def test_chat_completions_tokens_stream_through_as_deltas(chat):
    fake, client = chat
    fake.script.append(
        [
            {"role": "assistant", "content": ""},
            *({"content": t} for t in TOKENS[:3]),
            "pause",
            *({"content": t} for t in TOKENS[3:]),
        ]
    )
    await client.send(
        {"type": "session.update", "session": {"instructions": "You are tiny.", "temperature": 0.7}}
    )
    await client.wait_for("session.updated")
    await client.send(create_item(user_text("Say hello")))
    await client.send({"type": "response.create", "response": {"modalities": ["text"]}})
    # The first tokens arrive as deltas while the model is still "thinking" mid-stream:
    first = await client.wait_for("response.text.delta")
    assert first["delta"] == "Bon"
    await fake.paused.wait()
    fake.resume.set()
    await client.wait_for("response.done")
    deltas = [e["delta"] for e in client.of_type("response.text.delta")]
    assert deltas == TOKENS  # one delta per token, unchanged
    assert client.of_type("response.text.done")[0]["text"] == "".join(TOKENS)
    request = fake.requests[0]
    assert request["model"] == "tiny-local" and request["stream"] is True
    assert request["temperature"] == 0.7
    assert request["messages"] == [
        {"role": "system", "content": "You are tiny."},
        {"role": "user", "content": "Say hello"},
    ]
    assert "tools" not in request


async def test_chat_completions_audio_reply(chat, speech_stack):
    fake, client = chat
    fake.script.append(
        [{"content": t} for t in ["The train", " leaves", " at noon", ". Please", " hurry."]]
    )
    await client.send(create_item(user_text("When does the train leave?")))
    turn = await client.response()
    transcript = turn.of_type("response.audio_transcript.done")[0]["transcript"]
    assert transcript == "The train leaves at noon. Please hurry."
    assert (
        "".join(e["delta"] for e in turn.of_type("response.audio_transcript.delta")) == transcript
    )
    assert wer([transcript], [speech_stack.transcribe(turn.audio(), 24000)]) <= 0.3


async def test_chat_completions_tools_pass_through(chat):
    fake, client = chat
    pieces = ['{"loc', 'ation": "Par', 'is"}']
    fake.script.append(
        [
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_fake1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": ""},
                    }
                ],
            }
        ]
        + [{"tool_calls": [{"index": 0, "function": {"arguments": p}}]} for p in pieces]
    )
    fake.script.append([{"content": "It is 21 degrees and sunny in Paris."}])
    await tools_session(
        client,
        [WEATHER, TIME],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )
    await client.send(create_item(user_text("Weather in Paris?")))
    turn = await client.response(modalities=["text"], max_output_tokens=500)
    done = check_function_call(turn, "get_weather")
    assert [e["delta"] for e in turn.of_type("response.function_call_arguments.delta")] == pieces
    assert done["call_id"] == "call_fake1" and json.loads(done["arguments"]) == {
        "location": "Paris"
    }
    request = fake.requests[0]
    assert request["tools"] == [
        {
            "type": "function",
            "function": {
                "name": t["name"],
                "description": t["description"],
                "parameters": t["parameters"],
            },
        }
        for t in (WEATHER, TIME)
    ]
    assert request["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert request["max_tokens"] == 500
    # round trip: the tool output goes back to the model as a tool message
    await client.send(
        create_item(
            {"type": "function_call_output", "call_id": "call_fake1", "output": TOOL_OUTPUT}
        )
    )
    reply = await client.response(modalities=["text"], tool_choice="auto")
    assert reply.text == "It is 21 degrees and sunny in Paris."
    messages = fake.requests[1]["messages"]
    assert messages[-2] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_fake1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": done["arguments"]},
            }
        ],
    }
    assert messages[-1]["role"] == "tool" and messages[-1]["tool_call_id"] == "call_fake1"
    assert messages[-1]["content"] == TOOL_OUTPUT
    assert fake.requests[1]["tool_choice"] == "auto"


async def test_chat_completions_failure_fails_the_response(chat):
    fake, client = chat
    fake.script.append(404)  # e.g. Ollama without that model (not retried by the SDK)
    await client.send(create_item(user_text("Are you there?")))
    turn = await client.response(modalities=["text"])
    assert turn.status == "failed"
    details = turn.response["status_details"]
    assert details["type"] == "failed" and details["error"]["code"] == "brain_failed"
    # the session carries on and the next response works
    fake.script.append([{"content": "Back again."}])
    again = await client.response(modalities=["text"])
    assert again.status == "completed" and again.text == "Back again."


async def test_a_reply_ending_in_two_dots_does_not_leak_into_the_next_utterance(
    serve, speech_stack
):
    """espeak-ng (Piper's phonemizer, one per process) keeps a trailing "." of a text
    ending in ".." and speaks it as "dot" at the start of the *next* text it is given,
    whichever session that is. A tool output ending in "." made the rule brain say ".."."""
    first = await serve()
    a = await first.connect()
    await tools_session(a, [TIME])
    await a.send(create_item(user_text("What time is it in Oslo")))
    call = (await a.response(modalities=["text"])).of_type("response.function_call_arguments.done")[
        0
    ]
    await a.send(
        create_item(
            {"type": "function_call_output", "call_id": call["call_id"], "output": "Nine o'clock."}
        )
    )
    said = (await a.response()).of_type("response.audio_transcript.done")[0]["transcript"]
    assert not said.endswith("..")
    # Any text ending in ".." (an LLM may write it) must not leave anything behind either.
    fake = FakeChatCompletions()
    fake.script.append([{"content": "Wait for it.."}])
    from realtime_widget.engine.brain import ChatCompletionsBrain

    base_url = await fake.start()
    chat_server = await serve(
        brain_factory=lambda: ChatCompletionsBrain(base_url=base_url, model="m")
    )
    b = await chat_server.connect()
    await b.send(create_item(user_text("Tell me")))
    assert (await b.response()).status == "completed"
    fake.server.stop()
    await fake.server.close_all_connections()
    # The next utterance, in another session, starts with its own first word.
    c = await first.connect()
    await c.send(create_item(user_text("The train leaves at noon")))
    turn = await c.response()
    heard = speech_stack.transcribe(turn.audio(), 24000)
    # Compare words only: the recogniser sometimes adds quote marks ('"\'You said, ...')
    # and hears "said" as "set". A leak would put "dot" first.
    words = re.findall(r"[a-z]+", heard.lower())
    assert words[:1] == ["you"], heard
    assert "dot" not in words, heard


async def test_a_sessions_chat_completions_client_closes_with_the_session(serve):
    """A brain_factory makes one brain per session; its HTTP client is closed when the
    session ends (left to the garbage collector, its close would run on a dead loop)."""
    from realtime_widget.engine.brain import ChatCompletionsBrain

    fake = FakeChatCompletions()
    base_url = await fake.start()
    made: list[ChatCompletionsBrain] = []

    def factory() -> ChatCompletionsBrain:
        made.append(ChatCompletionsBrain(base_url=base_url, model="m", api_key="sk-fake"))
        return made[-1]

    server = await serve(brain_factory=factory)
    client = await server.connect()
    fake.script.append([{"content": "Hi."}])
    await client.send(create_item(user_text("Hello")))
    await client.send({"type": "response.create", "response": {"modalities": ["text"]}})
    await client.wait_for("response.done")
    assert len(made) == 1 and not made[0]._client.is_closed()
    await client.close()
    for _ in range(100):  # the server sees the socket close, then ends the session
        if made[0]._client.is_closed():
            break
        await asyncio.sleep(0.05)
    assert made[0]._client.is_closed()
    fake.server.stop()
    await fake.server.close_all_connections()
