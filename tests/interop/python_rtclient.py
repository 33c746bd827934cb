"""Driver: the Python ``rtclient`` 0.5.4 (Azure-Samples/aoai-realtime-audio-sdk), the
spec repository's own Python client. Preview dialect only.

Its high-level ``RTClient`` runs the text, audio, cancel and tool scenarios; the truncate
scenario uses its ``RTLowLevelClient`` (the high-level client has no truncate). Routes:

* ``azure-preview``: ``RTClient(url=<azure endpoint>, key_credential=..., azure_deployment=D)``.
  The path comes from the client's own ``AZURE_OPENAI_PATH`` setting when the endpoint
  has a path prefix (a hub session), else its default ``/openai/realtime``.
* ``openai-preview``: ``RTClient(key_credential=..., model=M)``. rtclient hard-codes
  ``wss://api.openai.com`` for OpenAI; the driver points that one HTTP session at the
  endpoint's origin instead (what a hosts entry plus a TLS terminator would do). Path
  (``/v1/realtime``), headers (``Authorization: Bearer``, ``openai-beta: realtime=v1``)
  and every event stay the client's own.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
from typing import Any
from urllib.parse import urlsplit

from . import expect
from .endpoint import AZURE_PREVIEW, OPENAI_PREVIEW, Endpoint
from .expect import Seen
from .thirdparty import import_rtclient

ID = "python_rtclient"
NAME = "rtclient (Python) 0.5.4"
ROUTES = (AZURE_PREVIEW, OPENAI_PREVIEW)
WAIT_S = 60.0  # a hung client fails the scenario after this long; not a performance figure


@contextlib.contextmanager
def _azure_path(endpoint: Endpoint):
    """rtclient's own setting for a non-default path (``AZURE_OPENAI_PATH``)."""
    prefix = urlsplit(endpoint.azure_endpoint()).path.rstrip("/")
    if not prefix:
        yield
        return
    old = os.environ.get("AZURE_OPENAI_PATH")
    os.environ["AZURE_OPENAI_PATH"] = f"{prefix}/openai/realtime"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("AZURE_OPENAI_PATH", None)
        else:
            os.environ["AZURE_OPENAI_PATH"] = old


def _origin(endpoint: Endpoint) -> str:
    parts = urlsplit(endpoint.azure_endpoint())
    return f"{parts.scheme}://{parts.netloc}"


def _azure_url(endpoint: Endpoint) -> str:
    """rtclient joins its path to the URL's origin (a prefix goes in AZURE_OPENAI_PATH)."""
    return _origin(endpoint)


def _redirect_openai_host(low_level: Any, endpoint: Endpoint) -> None:
    """Send the client's hard-coded ``api.openai.com`` session to the endpoint's origin."""
    from aiohttp import ClientSession

    old = low_level._session
    low_level._session = ClientSession(base_url=_origin(endpoint))
    asyncio.ensure_future(old.close())


def _key(endpoint: Endpoint):
    from azure.core.credentials import AzureKeyCredential

    return AzureKeyCredential(endpoint.api_key)


def client(endpoint: Endpoint, route: str):
    """An unconnected high-level ``RTClient`` for ``route``."""
    rt = import_rtclient()
    if route == AZURE_PREVIEW:
        return rt.RTClient(
            url=_azure_url(endpoint),
            key_credential=_key(endpoint),
            azure_deployment=endpoint.deployment_name,
        )
    if route == OPENAI_PREVIEW:
        made = rt.RTClient(key_credential=_key(endpoint), model=endpoint.model)
        _redirect_openai_host(made._client, endpoint)
        return made
    raise ValueError(f"rtclient has no {route} route")


def low_level_client(endpoint: Endpoint, route: str):
    from rtclient.low_level_client import RTLowLevelClient

    import_rtclient()
    if route == AZURE_PREVIEW:
        return RTLowLevelClient(
            url=_azure_url(endpoint),
            key_credential=_key(endpoint),
            azure_deployment=endpoint.deployment_name,
        )
    made = RTLowLevelClient(key_credential=_key(endpoint), model=endpoint.model)
    _redirect_openai_host(made, endpoint)
    return made


@contextlib.asynccontextmanager
async def connected(endpoint: Endpoint, route: str):
    with _azure_path(endpoint):
        made = client(endpoint, route)
        async with made:
            yield made


# -- reading what the client hands its user -----------------------------------------


async def _read_content(content: Any, seen: Seen) -> None:
    if content.type == "text":
        async for chunk in content.text_chunks():
            seen.text += chunk
        return

    async def audio() -> None:
        async for chunk in content.audio_chunks():
            seen.audio += chunk

    async def transcript() -> None:
        async for chunk in content.transcript_chunks():
            seen.transcript += chunk

    await asyncio.gather(audio(), transcript())


async def read_response(response: Any, seen: Seen) -> None:
    """Everything an ``RTResponse`` yields: text, audio and transcript chunks, function
    calls (name and arguments); then its final status."""
    async for item in response:
        if item.type == "message":
            async for content in item:
                await _read_content(content, seen)
        elif item.type == "function_call":
            await item
            seen.tool_calls.append((item.function_name, json.loads(item.arguments)))
    seen.status = response.status


def _user_text(rt: Any, text: str) -> Any:
    return rt.UserMessageItem(content=[rt.InputTextContentPart(text=text)])


# -- scenarios ------------------------------------------------------------------------


async def text(endpoint: Endpoint, route: str) -> Seen:
    rt = import_rtclient()
    seen = Seen(NAME, route)
    async with connected(endpoint, route) as c:
        await c.configure(modalities={"text"}, turn_detection=rt.NoTurnDetection())
        await c.send_item(_user_text(rt, expect.TEXT_PROMPT))
        await read_response(await c.generate_response(), seen)
    expect.expect_text(seen)
    return seen


async def server_vad_audio(endpoint: Endpoint, route: str) -> Seen:
    rt = import_rtclient()
    seen = Seen(NAME, route)
    async with connected(endpoint, route) as c:
        await c.configure(
            modalities={"text", "audio"},
            turn_detection=rt.ServerVAD(),
            input_audio_transcription=rt.InputAudioTranscription(model=expect.TRANSCRIPTION_MODEL),
        )
        for chunk in expect.chunks(expect.spoken_pcm16()):
            await c.send_audio(chunk)
        async for event in c.events():
            if event.type == "input_audio":
                await event
                seen.user_transcript = event.transcript
                seen.notes["audio_start_ms"] = event.audio_start_ms
            else:
                await read_response(event, seen)
                break
    expect.expect_spoken_turn(seen)
    return seen


async def manual_commit_audio(endpoint: Endpoint, route: str) -> Seen:
    rt = import_rtclient()
    seen = Seen(NAME, route)
    async with connected(endpoint, route) as c:
        await c.configure(
            turn_detection=rt.NoTurnDetection(),
            input_audio_transcription=rt.InputAudioTranscription(model=expect.TRANSCRIPTION_MODEL),
        )
        await c.send_audio(expect.spoken_pcm16())
        item = await c.commit_audio()
        await item
        seen.user_transcript = item.transcript
        await read_response(await c.generate_response(), seen)
    expect.expect_spoken_turn(seen)
    return seen


async def cancel(endpoint: Endpoint, route: str) -> Seen:
    """Cancel the reply once its first audio chunk has arrived."""
    rt = import_rtclient()
    seen = Seen(NAME, route)
    async with connected(endpoint, route) as c:
        await c.configure(turn_detection=rt.NoTurnDetection())
        await c.send_item(_user_text(rt, expect.LONG_PROMPT))
        response = await c.generate_response()
        item = await response.__anext__()
        content = await item.__anext__()
        async for chunk in content.audio_chunks():
            seen.audio += chunk
            break
        await response.cancel()
        seen.status = response.status
        final = next(o for o in response.output if o.type == "message")
        seen.transcript = final.content[0].transcript or ""
    expect.expect_cancelled(seen)
    return seen


async def truncate(endpoint: Endpoint, route: str) -> Seen:
    """Low-level API: an audio reply, then truncate it where playback "stopped"."""
    rt = import_rtclient()
    seen = Seen(NAME, route)
    with _azure_path(endpoint):
        async with low_level_client(endpoint, route) as c:
            await c.send(
                rt.SessionUpdateMessage(
                    session=rt.SessionUpdateParams(turn_detection=rt.NoTurnDetection())
                )
            )
            await c.send(rt.ItemCreateMessage(item=_user_text(rt, expect.TEXT_PROMPT)))
            await c.send(rt.ResponseCreateMessage())
            item_id = None
            async for message in _messages(c):
                if message.type == "error":
                    seen.errors.append(message.error.message)
                elif message.type == "response.audio.delta":
                    seen.audio += base64.b64decode(message.delta)
                    item_id = message.item_id
                elif message.type == "response.done":
                    seen.status = message.response.status
                    break
            at_ms = expect.truncate_point(seen)
            await c.send(
                rt.ItemTruncateMessage(item_id=item_id, content_index=0, audio_end_ms=at_ms)
            )
            async for message in _messages(c):
                if message.type == "error":
                    seen.errors.append(message.error.message)
                    break
                if message.type == "conversation.item.truncated":
                    seen.truncated_ms = message.audio_end_ms
                    break
    expect.expect_truncated(seen, at_ms)
    return seen


async def _messages(c: Any):
    while True:
        message = await asyncio.wait_for(c.recv(), WAIT_S)
        if message is None:
            raise AssertionError("rtclient: the socket closed")
        yield message


async def tool_call(endpoint: Endpoint, route: str) -> Seen:
    rt = import_rtclient()
    seen = Seen(NAME, route)
    async with connected(endpoint, route) as c:
        await c.configure(
            modalities={"text"}, turn_detection=rt.NoTurnDetection(), tools=[expect.WEATHER_TOOL]
        )
        await c.send_item(_user_text(rt, expect.TOOL_PROMPT))
        first = await c.generate_response()
        calls = Seen(NAME, route)
        await read_response(first, calls)
        seen.tool_calls = calls.tool_calls
        call = next(o for o in first.output if o.type == "function_call")
        await c.send_item(
            rt.FunctionCallOutputItem(call_id=call.call_id, output=json.dumps(expect.TOOL_RESULT))
        )
        await read_response(await c.generate_response(), seen)
    expect.expect_tool_call(seen)
    return seen


SCENARIOS = {
    "text": text,
    "server_vad_audio": server_vad_audio,
    "manual_commit_audio": manual_commit_audio,
    "cancel": cancel,
    "truncate": truncate,
    "tool_call": tool_call,
}
