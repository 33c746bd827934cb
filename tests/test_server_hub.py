"""The session hub inside a real Jupyter server (pytest-jupyter, non-root base_url) with
the real local engine: REST, WebSocket attach / replay / catch-up, the event log, bad input."""

from __future__ import annotations

import base64
import io
import json
import os
import wave

import numpy as np
import pytest
import tornado.httpclient
import tornado.websocket
from hub_testing import *
from hub_testing import HubWS, create_session, get_json, text_turn
from speech_fixtures import espeak_available, speak

USER_SENTENCE = "Please turn off the lights in the kitchen before you leave."


async def test_rest_lifecycle_under_a_non_root_base_url(
    jp_fetch, jp_ws_fetch, jp_base_url, hub_log_dir
):
    assert jp_base_url != "/"
    status = await get_json(jp_fetch, "realtime", "status")
    assert (
        status["providers"]["local"]["available"] and not status["providers"]["openai"]["available"]
    )

    created = await create_session(
        jp_fetch, name="lesson 1", session={"instructions": "Be brief.", "modalities": ["text"]}
    )
    sid = created["id"]
    assert (
        created["status"] == "open"
        and created["name"] == "lesson 1"
        and created["provider"] == "local"
    )
    assert created["ws_path"] == f"realtime/sessions/{sid}/ws"

    ws = await HubWS.connect(jp_ws_fetch, sid, source="widget")
    updated = await ws.wait_for("session.updated")  # the requested config was applied at once
    assert updated["session"]["instructions"] == "Be brief."
    done = await text_turn(ws, "Hello there")
    assert done["response"]["status"] == "completed"

    listed = (await get_json(jp_fetch, "realtime", "sessions"))["sessions"]
    assert [s["id"] for s in listed] == [sid] and listed[0]["n_clients"] == 1

    detail = await get_json(jp_fetch, "realtime", "sessions", sid)
    items = detail["state"]["items"]
    assert [(i["role"], i["text"]) for i in items] == [
        ("user", "Hello there"),
        ("assistant", "You said: Hello there."),
    ]
    assert detail["state"]["responses"][0]["status"] == "completed"

    # the log: both directions, paged, filtered
    page = await get_json(jp_fetch, "realtime", "sessions", sid, "events", limit="3")
    assert [e["seq"] for e in page["events"]] == [1, 2, 3] and page["has_more"]
    client_events = await get_json(
        jp_fetch,
        "realtime",
        "sessions",
        sid,
        "events",
        type="conversation.item.create,response.create",
    )
    assert [(e["dir"], e["source"], e["type"]) for e in client_events["events"]] == [
        ("client", "widget", "conversation.item.create"),
        ("client", "widget", "response.create"),
    ]
    deltas = await get_json(jp_fetch, "realtime", "sessions", sid, "events", type="response.text.*")
    assert {e["type"] for e in deltas["events"]} == {"response.text.delta", "response.text.done"}
    assert all(
        e["dir"] == "server" and e["source"] == "upstream" and e["response_id"]
        for e in deltas["events"]
    )
    rest = await get_json(
        jp_fetch, "realtime", "sessions", sid, "events", after=str(page["next_after"]), limit="1000"
    )
    assert rest["events"][0]["seq"] == 4 and not rest["has_more"]
    every_seq = [e["x_seq"] for e in ws.events]
    assert every_seq == sorted(every_seq) and len(set(every_seq)) == len(every_seq)

    # close: the clients are told, the log stays readable
    r = await jp_fetch("realtime", "sessions", sid, method="DELETE")
    assert r.code == 204
    assert await ws.wait_closed() == 1000
    detail = await get_json(jp_fetch, "realtime", "sessions", sid)
    assert (
        detail["status"] == "closed"
        and detail["state"]["items"][1]["text"] == "You said: Hello there."
    )
    meta = json.loads((hub_log_dir / sid / "meta.json").read_text())
    assert meta["closed_at"] and meta["provider"] == "local"
    # a late client of a closed session gets the history, and an error for what it sends
    late = await HubWS.connect(jp_ws_fetch, sid)
    assert late.ready["replayed"] == len([e for e in ws.events if e["type"] != "x_hub.status"]) + 1
    await late.send({"type": "response.create"})
    err = await late.wait_for("error")
    assert err["error"]["code"] == "session_closed"
    await late.close()
    r = await jp_fetch("realtime", "sessions", sid, method="DELETE", params={"purge": "1"})
    assert r.code == 204 and not (hub_log_dir / sid).exists()
    with pytest.raises(tornado.httpclient.HTTPClientError) as e:
        await jp_fetch("realtime", "sessions", sid)
    assert e.value.code == 404


@pytest.mark.skipif(not espeak_available(), reason="needs espeak-ng")
@pytest.mark.parametrize("hub_options", [{"local_speech": True}])
async def test_spoken_turn_through_the_hub_with_two_clients(
    jp_fetch, jp_ws_fetch, hub, hub_log_dir, with_speech, hub_options
):
    session = {
        "turn_detection": {"type": "server_vad", "silence_duration_ms": 400},
        "input_audio_transcription": {"model": "local"},
    }
    sid = (await create_session(jp_fetch, session=session))["id"]
    widget = await HubWS.connect(jp_ws_fetch, sid, source="widget")
    kernel = await HubWS.connect(jp_ws_fetch, sid, source="kernel")
    await widget.wait_for("session.updated")

    speech = np.concatenate(
        [speak(USER_SENTENCE), np.zeros(24000, np.int16)]
    )  # 1 s of silence ends the turn
    pcm = speech.astype("<i2").tobytes()
    for start in range(0, len(pcm), 4800):  # 100 ms appends, from the widget
        await widget.send(
            {
                "type": "input_audio_buffer.append",
                "audio": base64.b64encode(pcm[start : start + 4800]).decode(),
            }
        )

    done_w = await widget.wait_for("response.done")
    done_k = await kernel.wait_for("response.done")
    widget.cursor = 0  # the user's transcript may come before or after the reply starts
    transcript = await widget.wait_for("conversation.item.input_audio_transcription.completed")
    assert "kitchen" in transcript["transcript"].lower()
    assert done_w == done_k and done_w["response"]["status"] == "completed"
    cut = max(done_w["x_seq"], transcript["x_seq"])
    seen_w = [e for e in widget.events if e["x_seq"] <= cut]
    seen_k = [e for e in kernel.events if e["x_seq"] <= cut]
    assert seen_w == seen_k  # identical server events, in the same order
    types = [e["type"] for e in seen_w]
    for expected in (
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "response.audio.delta",
        "response.audio_transcript.done",
    ):
        assert expected in types
    reply = next(
        i
        for i in (await get_json(jp_fetch, "realtime", "sessions", sid))["state"]["items"]
        if i["role"] == "assistant"
    )
    assert "kitchen" in reply["text"].lower() and reply["audio_ms"] > 500

    # the log: every append (source widget), audio as raw PCM, no base64 anywhere
    log_dir = hub_log_dir / sid
    hub.sessions[sid].log.flush()  # the log reaches the OS every log_flush_interval
    assert (log_dir / "audio" / "input.pcm").read_bytes() == pcm
    text = (log_dir / "events.jsonl").read_text()
    first_delta = next(e for e in seen_w if e["type"] == "response.audio.delta")
    assert first_delta["delta"] not in text and base64.b64encode(pcm[:4800]).decode() not in text
    item_pcm = (log_dir / "audio" / f"item-{reply['id']}.pcm").read_bytes()
    assert abs(len(item_pcm) - reply["audio_ms"] * 48) < 10  # audio_ms is rounded to 0.1 ms
    appends = await get_json(
        jp_fetch,
        "realtime",
        "sessions",
        sid,
        "events",
        type="input_audio_buffer.append",
        limit="1000",
    )
    assert len(appends["events"]) == -(-len(pcm) // 4800) and {
        e["source"] for e in appends["events"]
    } == {"widget"}
    assert appends["events"][0]["audio"][0] == {
        "path": ["audio"],
        "file": "input.pcm",
        "nbytes": 4800,
        "format": "pcm16",
        "offset": 0,
    }
    inline = await get_json(
        jp_fetch,
        "realtime",
        "sessions",
        sid,
        "events",
        type="response.audio.delta",
        limit="1",
        audio="inline",
    )
    assert inline["events"][0]["event"]["delta"] == first_delta["delta"]

    # the assistant's audio as WAV
    r = await jp_fetch("realtime", "sessions", sid, "items", reply["id"], "audio")
    with wave.open(io.BytesIO(r.body)) as w:
        assert w.getframerate() == 24000 and w.readframes(w.getnframes()) == item_pcm
    # ... read back from the log: the hub's conversation counts the assistant's audio but
    # does not hold it (its memory does not grow with every reply)
    held = hub.sessions[sid].conversation.item(reply["id"])
    assert held.audio == b"" and held.audio_ms == pytest.approx(reply["audio_ms"], abs=0.1)
    await widget.close()
    await kernel.close()


async def test_late_client_catches_up_and_a_dropped_client_reattaches(jp_fetch, jp_ws_fetch):
    sid = (await create_session(jp_fetch, session={"modalities": ["text"]}))["id"]
    first = await HubWS.connect(jp_ws_fetch, sid, source="kernel")
    await text_turn(first, "one")

    late = await HubWS.connect(jp_ws_fetch, sid, source="widget")
    assert late.events == first.events  # the whole history, as the first client saw it
    assert late.ready["last_seq"] >= late.events[-1]["x_seq"]

    last = late.events[-1]["x_seq"]
    await late.close()
    await text_turn(first, "two")  # meanwhile the conversation goes on
    back = await HubWS.connect(jp_ws_fetch, sid, source="widget", after=last)
    missed = [e for e in first.events if e["x_seq"] > last]
    assert back.events == missed and back.ready["replayed"] == len(missed)
    # live again: both get the next turn
    back.cursor = len(back.events)
    done = await text_turn(back, "three")
    assert (
        await first.wait_for("response.done", where=lambda e: e["x_seq"] == done["x_seq"]) == done
    )
    await first.close()
    await back.close()


async def test_bad_input_never_crashes_and_is_logged(jp_fetch, jp_ws_fetch, hub):
    sid = (await create_session(jp_fetch, session={"modalities": ["text"]}))["id"]
    ws = await HubWS.connect(jp_ws_fetch, sid)
    for frame, code in [
        ("{not json", "invalid_json"),
        ("[1, 2]", "invalid_type"),
        ('{"no": "type"}', "missing_required_parameter"),
    ]:
        await ws.send(frame)
        assert (await ws.wait_for("error"))["error"]["code"] == code
    await ws.ws.write_message(b"\x00\x01binary", binary=True)
    assert (await ws.wait_for("error"))["error"]["code"] == "invalid_type"
    await ws.send({"type": "no.such.event", "event_id": "e_unknown"})
    assert (await ws.wait_for("error"))["error"]["event_id"] == "e_unknown"  # the engine's answer
    await ws.send({"type": "input_audio_buffer.append", "audio": "%%%"})
    assert (await ws.wait_for("error"))["error"]["code"] == "invalid_base64"
    done = await text_turn(ws, "still here?")
    assert done["response"]["status"] == "completed"
    errors = await get_json(jp_fetch, "realtime", "sessions", sid, "events", type="error")
    assert len(errors["events"]) == 6 and {e["source"] for e in errors["events"]} == {
        "hub",
        "upstream",
    }

    # a frame above the limit closes that socket (1009), the session goes on
    hub.config.max_message_bytes = 10_000
    big = await HubWS.connect(jp_ws_fetch, sid)
    await big.send({"type": "input_audio_buffer.append", "audio": "A" * 20_000})
    assert await big.wait_closed() == 1009
    assert (await text_turn(ws, "and now?"))["response"]["status"] == "completed"
    await ws.close()

    # REST: refused with a JSON error, nothing created
    bad_bodies = [
        ("{oops", 400, "invalid_json"),
        ('{"provider": "nope"}', 400, "invalid_value"),
        ('{"provider": "local", "api_key": "x"}', 400, "unknown_parameter"),
        ('{"provider": "openai"}', 400, "provider_not_configured"),
        ('{"provider": "url", "url": "wss://example.com/v1/realtime"}', 403, "url_not_allowed"),
        ('{"provider": "local", "session": 5}', 400, "invalid_type"),
        ('{"provider": "local", "model": "two words\\n"}', 400, "invalid_value"),
    ]
    for body, status, code in bad_bodies:
        with pytest.raises(tornado.httpclient.HTTPClientError) as e:
            await jp_fetch("realtime", "sessions", method="POST", body=body)
        assert (
            e.value.code == status and json.loads(e.value.response.body)["error"]["code"] == code
        ), body
    for parts in (("nope",), ("..",), ("rts_0000",)):
        with pytest.raises(tornado.httpclient.HTTPClientError) as e:
            await jp_fetch("realtime", "sessions", *parts, "events")
        assert e.value.code == 404
    with pytest.raises(tornado.httpclient.HTTPClientError) as e:
        await jp_fetch("realtime", "sessions", sid, "events", params={"after": "x"})
    assert e.value.code == 400
    with pytest.raises(tornado.httpclient.HTTPClientError) as e:
        await jp_ws_fetch("realtime", "sessions", "rts_missing", "ws")
    assert e.value.code == 404
    assert len((await get_json(jp_fetch, "realtime", "sessions"))["sessions"]) == 1


@pytest.mark.parametrize(
    "hub_options", [{"max_sessions_per_user": 2, "max_clients_per_session": 2}]
)
async def test_sessions_per_user_and_clients_per_session_are_bounded(
    jp_fetch, jp_ws_fetch, hub_options
):
    a = await create_session(jp_fetch)
    await create_session(jp_fetch)
    with pytest.raises(tornado.httpclient.HTTPClientError) as e:
        await create_session(jp_fetch)
    assert e.value.code == 429
    await jp_fetch("realtime", "sessions", a["id"], method="DELETE")
    await create_session(jp_fetch)  # a closed session frees its place

    b = (await get_json(jp_fetch, "realtime", "sessions"))["sessions"][1]["id"]
    c1 = await HubWS.connect(jp_ws_fetch, b)
    c2 = await HubWS.connect(jp_ws_fetch, b)
    c3 = await HubWS.connect(jp_ws_fetch, b, wait_ready=False)
    assert await c3.wait_closed() == 1008
    await c1.close()
    await c2.close()


async def test_export_download_and_export_to_a_file_that_cannot_escape(
    jp_fetch, jp_ws_fetch, jp_root_dir, tmp_path
):
    sid = (await create_session(jp_fetch, session={"modalities": ["text"]}))["id"]
    ws = await HubWS.connect(jp_ws_fetch, sid)
    await ws.send(
        {
            "type": "input_audio_buffer.append",
            "audio": base64.b64encode(b"\x01\x00" * 2400).decode(),
        }
    )
    await text_turn(ws, "export me")
    r = await jp_fetch("realtime", "sessions", sid, "export")
    assert r.headers["Content-Type"].startswith("application/x-ndjson")
    records = [json.loads(line) for line in r.body.decode().splitlines()]
    assert [rec["seq"] for rec in records] == list(range(1, len(records) + 1))
    append = next(rec for rec in records if rec["type"] == "input_audio_buffer.append")
    assert base64.b64decode(append["event"]["audio"]) == b"\x01\x00" * 2400  # inline by default

    r = await jp_fetch(
        "realtime",
        "sessions",
        sid,
        "export",
        method="POST",
        body=json.dumps({"path": "exports/run1.jsonl"}),
    )
    assert r.code == 201 and json.loads(r.body)["path"] == "exports/run1.jsonl"
    assert (jp_root_dir / "exports" / "run1.jsonl").read_text().count("\n") == len(records)

    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, jp_root_dir / "link")
    for path, status in [
        ("../escape.jsonl", 403),
        ("/tmp/abs.jsonl", 403),
        ("link/x.jsonl", 403),
        ("a/../../b.jsonl", 403),
        ("notes.txt", 400),
        ("", 400),
        ("exports/run1.jsonl", 409),
    ]:
        with pytest.raises(tornado.httpclient.HTTPClientError) as e:
            await jp_fetch(
                "realtime",
                "sessions",
                sid,
                "export",
                method="POST",
                body=json.dumps({"path": path}),
            )
        assert e.value.code == status, path
    assert list(outside.iterdir()) == [] and not (tmp_path / "escape.jsonl").exists()
    await ws.close()
