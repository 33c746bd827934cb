"""The hub's caps (``c.RealtimeWidgetApp.*``, docs/limits-and-guarantees.md) inside a real
Jupyter server with the real local engine: the engine's caps reach the local sessions the
hub creates, and the hub's own conversation keeps its audio bounded."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from hub_testing import *
from hub_testing import HubWS, create_session, get_json

from realtime_widget.conversation import Conversation


@pytest.fixture
def hub_options():
    return {
        "local_max_item_bytes": 500,
        "local_max_reply_tokens": 10,
        "max_input_buffer_ms": 1000,
        "max_kept_audio_ms": 1000,
    }


def _append(ms: int) -> dict:
    tone = (np.sin(np.arange(24 * ms) * 0.05) * 8000).astype("<i2").tobytes()
    return {"type": "input_audio_buffer.append", "audio": base64.b64encode(tone).decode()}


async def test_the_hubs_caps_reach_its_local_sessions_and_its_own_conversation(
    jp_fetch, jp_ws_fetch, hub
):
    session = await create_session(
        jp_fetch, session={"modalities": ["text"], "turn_detection": None}
    )
    ws = await HubWS.connect(jp_ws_fetch, session["id"])
    await ws.wait_for("session.updated")

    await ws.send(
        {
            "type": "conversation.item.create",
            "event_id": "evt_big",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "x" * 600}],
            },
        }
    )
    error = await ws.wait_for("error", lambda e: e["error"].get("event_id") == "evt_big")
    assert error["error"]["code"] == "item_too_large" and "x_seq" in error

    await ws.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "word " * 50}],
            },
        }
    )
    await ws.send({"type": "response.create"})
    done = await ws.wait_for("response.done")
    assert done["response"]["status"] == "incomplete"
    error = await ws.wait_for("error")
    assert error["error"]["code"] == "reply_too_long"

    # input audio: the engine refuses what is beyond the cap, the hub's mirror stays bounded
    for n in range(3):
        await ws.send(_append(600) | {"event_id": f"evt_audio_{n}"})
    error = await ws.wait_for("error", lambda e: e["error"].get("event_id") == "evt_audio_1")
    assert error["error"]["code"] == "input_audio_buffer_full"
    state = (await get_json(jp_fetch, "realtime", "sessions", session["id"]))["state"]
    assert state["input_buffer_ms"] <= 1000

    # committed audio held in memory is bounded too; durations stay for the tables
    for _ in range(3):
        await ws.send({"type": "input_audio_buffer.clear"})
        await ws.send(_append(600))
        await ws.send({"type": "input_audio_buffer.commit"})
        await ws.wait_for("input_audio_buffer.committed")
        await ws.wait_for("conversation.item.created")
    conv = hub.sessions[session["id"]].conversation
    user_audio = [i for i in conv.items if i.audio_ms]
    assert len(user_audio) == 3 and all(round(i.audio_ms) == 600 for i in user_audio)
    assert sum(len(p.audio) for i in user_audio for p in i.content) <= 1000 * 48
    await ws.close()


def test_the_conversation_bounds_held_audio_and_the_input_buffer_mirror():
    conv = Conversation(max_kept_audio_ms=1000, max_input_buffer_ms=500)
    conv.apply(
        {
            "type": "session.created",
            "session": {"input_audio_format": "pcm16", "turn_detection": None},
        }
    )
    for _ in range(3):
        conv.apply_client(_append(300))
    assert conv.input_buffer_ms == 500  # the newest 500 ms of 900
    conv.apply_client({"type": "input_audio_buffer.clear"})
    conv.apply({"type": "input_audio_buffer.cleared"})
    for n in range(3):
        conv.apply_client(_append(400))
        conv.apply_client({"type": "input_audio_buffer.commit", "event_id": f"c{n}"})
        conv.apply({"type": "input_audio_buffer.committed", "item_id": f"u{n}"})
        conv.apply(
            {
                "type": "conversation.item.created",
                "item": {
                    "id": f"u{n}",
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_audio"}],
                },
            }
        )
    held = [len(i.content[0].audio) for i in conv.items]
    assert held == [0, 400 * 48, 400 * 48]  # the oldest released past 1000 ms
    assert [round(i.audio_ms) for i in conv.items] == [400, 400, 400]
    assert conv.warnings == []


@pytest.fixture
def few_loaded(hub):
    hub.config.max_closed_sessions_loaded = 2
    return hub


async def test_closed_sessions_leave_memory_beyond_a_few_and_reload_from_their_log(
    jp_fetch, jp_ws_fetch, few_loaded
):
    hub = few_loaded
    ids = []
    for n in range(4):
        session = await create_session(
            jp_fetch, session={"modalities": ["text"], "turn_detection": None}
        )
        ws = await HubWS.connect(jp_ws_fetch, session["id"])
        await ws.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": f"note {n}"}],
                },
            }
        )
        await ws.wait_for("conversation.item.created")
        await ws.close()
        await jp_fetch("realtime", "sessions", session["id"], method="DELETE")
        ids.append(session["id"])
    assert [sid for sid in ids if sid in hub.sessions] == ids[2:]  # the two newest stay loaded
    state = (await get_json(jp_fetch, "realtime", "sessions", ids[0]))[
        "state"
    ]  # reloaded from the log
    assert state["items"][0]["text"] == "note 0"
    assert len([sid for sid in ids if sid in hub.sessions]) == 2
