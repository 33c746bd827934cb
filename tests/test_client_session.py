"""The kernel-side ``Session`` in a real IPython kernel (jupyter_client): it finds the
Jupyter server by itself, drives text and spoken turns, runs tools in the kernel; and
with no server it runs the same session inside the kernel (direct mode)."""

from __future__ import annotations

import json
import os
import textwrap
import wave

import numpy as np
import pytest
from hub_testing import *
from hub_testing import HubWS, get_json
from jupyter_client.manager import start_new_async_kernel
from speech_fixtures import espeak_available, speak


async def _run(kc, code: str, timeout: float = 180) -> str:
    out: list[str] = []

    def hook(msg):
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            out.append(content["text"])
        elif kind == "error":
            out.append("\n".join(content["traceback"]))
        elif kind == "execute_result":
            out.append(content["data"].get("text/plain", ""))

    reply = await kc.execute_interactive(textwrap.dedent(code), output_hook=hook, timeout=timeout)
    assert reply["content"]["status"] == "ok", "".join(out)
    return "".join(out)


def _last_json(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


@pytest.fixture
async def kernel_factory():
    started = []

    async def start(env: dict[str, str]):
        km, kc = await start_new_async_kernel(kernel_name="python3", env=env, startup_timeout=120)
        started.append((km, kc))
        return kc

    yield start
    for km, kc in started:
        kc.stop_channels()
        await km.shutdown_kernel(now=True)


KERNEL_TURNS = """
import json, realtime_widget
s = realtime_widget.Session(session={"modalities": ["text"]})
print(json.dumps({"mode": s.mode, "how": s.server.how if s.server else None, "id": s.id}))

reply = s.say("Hello from the kernel")
print(json.dumps({"text": reply.text, "status": reply.status}))

@s.tool
def get_weather(city: str, unit: str = "celsius") -> str:
    '''The weather in a city.

    Args:
        city: the city's name
        unit: celsius or fahrenheit
    '''
    return f"rainy in {city}, 9 degrees {unit}"

def explode(level: int) -> int:
    '''Blow up.'''
    raise RuntimeError(f"the tool broke at level {level}")

s.add_tool(explode)
weather = s.say("What is the weather in Oslo?")
boom = s.say("Please explode at level 3")
log = s.log(limit=1000)
print(json.dumps({
    "weather": weather.text, "calls": weather.tool_calls,
    "boom": boom.text, "boom_calls": boom.tool_calls,
    "tools": sorted(t["name"] for t in s.conversation.session["tools"]),
    "n_log": len(log), "sources": sorted({r["source"] for r in log}),
}))
"""


def _check_turns(out: str) -> dict:
    lines = [json.loads(line) for line in out.strip().splitlines() if line.startswith("{")]
    first, hello, tools = lines[0], lines[1], lines[2]
    assert hello == {"text": "You said: Hello from the kernel.", "status": "completed"}
    assert tools["weather"] == "get_weather says: rainy in Oslo, 9 degrees celsius."
    assert [c["name"] for c in tools["calls"]] == ["get_weather"] and json.loads(
        tools["calls"][0]["arguments"]
    )["city"] == "Oslo"
    error = json.loads(tools["boom_calls"][0]["output"])
    assert error == {
        "error": "RuntimeError: the tool broke at level 3"
    }  # an exception becomes the output
    assert tools["boom"].startswith("explode says:") and "the tool broke" in tools["boom"]
    assert tools["tools"] == ["explode", "get_weather"]
    assert "kernel" in tools["sources"] and "upstream" in tools["sources"]
    return first


async def test_kernel_session_finds_its_server_and_runs_turns_and_tools(
    jp_fetch, jp_ws_fetch, hub, kernel_factory
):
    kc = await kernel_factory(
        dict(os.environ)
    )  # JUPYTER_RUNTIME_DIR: the test server's, which is the kernel's parent
    out = await _run(kc, KERNEL_TURNS)
    first = _check_turns(out)
    assert first["mode"] == "hub" and first["how"] == f"pid {os.getpid()}"
    sid = first["id"]
    # the same session, seen from the server: the kernel's events, the tool outputs,
    # no active-response race
    records = (await get_json(jp_fetch, "realtime", "sessions", sid, "events", limit="1000"))[
        "events"
    ]
    assert {r["source"] for r in records if r["dir"] == "client"} == {"kernel", "hub"}
    outputs = [
        r["event"]["item"]["output"]
        for r in records
        if r["type"] == "conversation.item.create"
        and r["event"]["item"]["type"] == "function_call_output"
    ]
    assert outputs == [
        "rainy in Oslo, 9 degrees celsius",
        json.dumps({"error": "RuntimeError: the tool broke at level 3"}),
    ]
    errors = [r["event"]["error"] for r in records if r["type"] == "error"]
    assert errors == []
    # every tool follow-up response.create came after the response.done of the call
    done_seqs = [r["seq"] for r in records if r["type"] == "response.done"]
    creates = [r["seq"] for r in records if r["type"] == "response.create"]
    assert len(creates) == len(done_seqs) == 5
    # a widget attached to the same session sees the kernel's conversation
    widget = await HubWS.connect(jp_ws_fetch, sid)
    assert [e["type"] for e in widget.events].count("response.done") == 5

    # the kernel attaches to a session made elsewhere (e.g. by the widget) and can end it
    out = await _run(
        kc,
        f"""
        other = realtime_widget.Session(id={sid!r})
        r = other.say("Second client here", modalities=["text"])
        print(json.dumps({{"text": r.text, "items": len(other.items)}}))
        s.close()
        print(json.dumps({{"closed": other.wait_for("x_hub.status", status="closed")["status"]}}))
    """,
    )
    lines = [json.loads(line) for line in out.strip().splitlines()]
    assert lines[0]["text"] == "You said: Second client here." and lines[0]["items"] >= 12
    assert lines[1] == {"closed": "closed"}
    assert hub.sessions[sid].status == "closed"
    await widget.close()


@pytest.mark.skipif(not espeak_available(), reason="needs espeak-ng")
@pytest.mark.parametrize("hub_options", [{"local_speech": True}])
async def test_kernel_session_sends_speech(
    jp_fetch, with_speech, kernel_factory, tmp_path, hub_options
):
    speech = speak("My sister plays the piano every morning after breakfast.")
    wav = tmp_path / "speech.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(24000)
        w.writeframes(np.asarray(speech, "<i2").tobytes())
    kc = await kernel_factory(dict(os.environ))
    out = await _run(
        kc,
        f"""
        import json, realtime_widget
        s = realtime_widget.Session(session={{"input_audio_transcription": {{"model": "local"}}}})
        reply = s.send_audio({str(wav)!r}, wait=True)   # server VAD: trailing silence ends the turn
        user = s.items[0]
        print(json.dumps({{"mode": s.mode, "reply": reply.text,
                          "audio_s": len(reply.audio) / reply.sample_rate,
                          "heard": user.content[0].transcript,
                          "user_audio_s": user.audio_ms / 1000}}))
    """,
    )
    result = _last_json(out)
    assert result["mode"] == "hub"
    assert "piano" in result["heard"].lower() and "piano" in result["reply"].lower()
    assert result["audio_s"] > 1.0 and result["user_audio_s"] > 1.0


async def test_direct_mode_where_no_server_is_reachable(kernel_factory, tmp_path):
    env = dict(os.environ)
    env.update(
        JUPYTER_RUNTIME_DIR=str(tmp_path / "no-servers-here"),
        REALTIME_WIDGET_LOCAL_SPEECH="0",
        REALTIME_WIDGET_LOG_DIR=str(tmp_path / "kernel-logs"),
    )
    env.pop("REALTIME_WIDGET_SERVER_URL", None)
    kc = await kernel_factory(env)
    out = await _run(kc, KERNEL_TURNS)
    first = _check_turns(out)
    assert first["mode"] == "direct"
    log_dir = tmp_path / "kernel-logs" / first["id"]
    assert (log_dir / "events.jsonl").exists() and (log_dir / "meta.json").exists()
    out = await _run(
        kc,
        """
        events = []
        async def collect():
            async for ev in s.astream(timeout=30, types=["response.done"]):
                return ev
        import asyncio
        task = asyncio.ensure_future(collect())
        await asyncio.sleep(0)
        s.respond(modalities=["text"])
        ev = await task
        sessions = [x["status"] for x in realtime_widget.client.list_sessions()]
        print(json.dumps({"status": ev["response"]["status"], "sessions": sessions}))
        s.close()
    """,
    )
    result = _last_json(out)
    assert result["status"] == "completed" and "open" in result["sessions"]
    # a key set in the notebook after the first session counts for the next one
    out = await _run(
        kc,
        """
        import os
        def attempt():
            try:
                realtime_widget.Session(provider="openai")
            except Exception as exc:
                return str(exc)
        before = attempt()
        os.environ["OPENAI_API_KEY"] = "sk-set-in-the-notebook"
        os.environ["OPENAI_REALTIME_URL"] = "ws://127.0.0.1:9/v1/realtime"  # nothing listens there
        print(json.dumps({"before": before, "after": attempt()}))
    """,
    )
    result = _last_json(out)
    assert "OPENAI_API_KEY" in result["before"], result
    assert "OPENAI_API_KEY" not in result["after"] and "127.0.0.1:9" in result["after"], result
    assert "sk-set-in-the-notebook" not in result["after"]


async def test_a_notebook_points_the_openai_sdk_at_its_hub_session(jp_fetch, kernel_factory):
    """The user story of issue 10: the official SDK in a notebook, the key on the server,
    every event in the session the notebook holds."""
    kc = await kernel_factory(dict(os.environ))
    out = await _run(
        kc,
        """
        import json, realtime_widget
        from openai import AsyncOpenAI
        s = realtime_widget.Session()
        cfg = s.client_settings()
        client = AsyncOpenAI(
            api_key=cfg["api_key"], websocket_base_url=cfg["openai_websocket_base_url"]
        )
        said = ""
        async with client, client.realtime.connect(model="gpt-realtime") as conn:
            await conn.session.update(session={"type": "realtime", "output_modalities": ["text"]})
            await conn.conversation.item.create(item={
                "type": "message", "role": "user",
                "content": [{"type": "input_text", "text": "Hi from the SDK"}],
            })
            await conn.response.create()
            async for event in conn:
                if event.type == "response.output_text.delta":
                    said += event.delta
                if event.type == "response.done":
                    break
        s.wait_for("response.done", since=0)
        print(json.dumps({"said": said, "id": s.id, "seen": [i.text for i in s.items]}))
    """,
    )
    result = _last_json(out)
    assert result["said"] == "You said: Hi from the SDK."
    assert result["seen"] == [
        "Hi from the SDK",
        "You said: Hi from the SDK.",
    ]  # the notebook's Session saw the SDK's turn
    records = (
        await get_json(jp_fetch, "realtime", "sessions", result["id"], "events", limit="1000")
    )["events"]
    assert ("other", "conversation.item.create") in {
        (r["source"], r["type"]) for r in records if r["dir"] == "client"
    }
