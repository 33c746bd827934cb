"""Per-session caps of the local engine (engine/limits.py), over real WebSockets with the
real engine and speech models. Every cap is set small here; each test checks the
spec-shaped ``error`` a client gets when it is hit, and that the session carries on."""

from __future__ import annotations

import numpy as np
import pytest
from engine_client import b64, create_item, pcm16_bytes, silence, user_text
from speech_fixtures import ESPEAK_SENTENCES, espeak_available, speak

from realtime_widget.engine.limits import SessionLimits
from realtime_widget.engine.response import MAX_CLAUSE_CHARS

needs_espeak = pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed")


def _error_shape(error: dict, code: str, event_id: str | None) -> None:
    assert error["code"] == code
    assert error["type"] == "invalid_request_error"
    assert error["message"] and None not in error.values()
    if event_id is not None:
        assert error["event_id"] == event_id


async def _text_session(server):
    client = await server.connect()
    await client.send(
        {"type": "session.update", "session": {"modalities": ["text"], "turn_detection": None}}
    )
    await client.wait_for("session.updated")
    return client


async def test_an_item_above_max_item_bytes_is_refused_and_the_session_carries_on(serve):
    server = await serve(limits=SessionLimits(max_item_bytes=1000))
    client = await _text_session(server)
    eid = await client.send(create_item(user_text("x" * 1001)))
    _error_shape(await client.error_for(eid), "item_too_large", eid)
    # the same cap holds for items inside response.create, which then never starts
    eid = await client.send(
        {"type": "response.create", "response": {"input_items": [user_text("é" * 501)]}}
    )
    error = await client.error_for(eid)
    _error_shape(error, "item_too_large", eid)
    assert error["param"] == "response.input_items[0]"
    await client.sync()
    assert not client.of_type("conversation.item.created", "response.created")

    await client.send(create_item(user_text("Hello there")))
    turn = await client.response()
    assert turn.status == "completed" and "Hello there" in turn.text


async def test_conversation_caps_refuse_new_items_until_some_are_deleted(serve):
    server = await serve(
        limits=SessionLimits(max_conversation_items=3, max_conversation_bytes=None)
    )
    client = await _text_session(server)
    for n in range(3):
        await client.send(create_item(user_text(f"item {n}", id=f"item_{n}")))
    eid = await client.send(create_item(user_text("one too many")))
    _error_shape(await client.error_for(eid), "conversation_too_large", eid)
    await client.send({"type": "conversation.item.delete", "item_id": "item_0"})
    await client.wait_for("conversation.item.deleted")
    await client.send(create_item(user_text("now it fits", id="item_3")))
    created = await client.wait_for(
        "conversation.item.created", where=lambda e: e["item"]["id"] == "item_3"
    )
    assert created["item"]["content"][0]["text"] == "now it fits"

    server = await serve(limits=SessionLimits(max_conversation_bytes=100))
    client = await _text_session(server)
    await client.send(create_item(user_text("a" * 60)))
    eid = await client.send(create_item(user_text("b" * 60)))
    _error_shape(await client.error_for(eid), "conversation_too_large", eid)
    turn = await client.response()  # the refused item is not read
    assert turn.status == "completed" and "b" * 10 not in turn.text and "a" * 60 in turn.text


async def test_appends_beyond_max_input_buffer_ms_are_refused_and_the_buffer_still_commits(serve):
    server = await serve(limits=SessionLimits(max_input_buffer_ms=1000))
    client = await _text_session(server)
    await client.send(
        {"type": "input_audio_buffer.append", "audio": b64(pcm16_bytes(silence(800)))}
    )
    eid = await client.send(
        {"type": "input_audio_buffer.append", "audio": b64(pcm16_bytes(silence(300)))}
    )
    error = await client.error_for(eid)
    _error_shape(error, "input_audio_buffer_full", eid)
    assert error["param"] == "audio"
    await client.send({"type": "input_audio_buffer.commit"})
    await client.wait_for("input_audio_buffer.committed")
    session = next(iter(server.state.sessions))
    item = session.conversation.items[-1]
    assert item.audio_ms == pytest.approx(
        800, abs=1
    )  # what was accepted, nothing of the refused append
    # room again after the commit
    eid = await client.send(
        {"type": "input_audio_buffer.append", "audio": b64(pcm16_bytes(silence(900)))}
    )
    await client.sync()
    assert not [e for e in client.of_type("error") if e["error"].get("event_id") == eid]


@needs_espeak
async def test_a_server_vad_turn_reaching_max_input_buffer_ms_is_committed_there(serve):
    server = await serve(limits=SessionLimits(max_input_buffer_ms=1500))
    client = await server.connect()
    await client.send(
        {"type": "session.update", "session": {"modalities": ["text"]}}
    )  # server VAD (default)
    await client.wait_for("session.updated")
    speech = speak(" ".join(ESPEAK_SENTENCES[:2]))  # ~6 s of uninterrupted speech
    audio = np.concatenate([silence(300), speech, silence(1200)])
    await client.append_audio(pcm16_bytes(audio))
    error = await client.wait_for("error")
    assert error["error"]["code"] == "input_audio_buffer_full"
    committed = await client.wait_for("input_audio_buffer.committed")
    # the cut turn is answered like any other, and speech after it still makes turns
    turn = await client.next_response()
    assert turn.status == "completed" and turn.text.startswith("You said")
    session = next(iter(server.state.sessions))
    assert session.conversation.item(committed["item_id"]).audio_ms <= 1500
    assert session.input.duration_ms <= 1500


async def test_replies_stop_at_max_reply_tokens_with_an_error(serve):
    server = await serve(limits=SessionLimits(max_reply_tokens=20))
    client = await _text_session(server)
    await client.send(create_item(user_text("word " * 2000)))
    start = client.mark()
    turn = await client.response()
    assert turn.status == "incomplete"
    assert turn.response["status_details"]["reason"] == "max_output_tokens"
    assert turn.usage["output_tokens"] <= 20 + 2
    assert len(turn.text) <= 20 * 4 + 8  # cut to the tokens left, not sent whole
    error = await client.wait_for("error")
    assert (
        error["error"]["code"] == "reply_too_long"
        and turn.response["id"] in error["error"]["message"]
    )
    assert client.types(start).index("error") > client.types(start).index("response.done")

    # a client that asked for fewer tokens itself gets no error: the limit was its own
    await client.wait_for("rate_limits.updated")
    start = client.mark()
    turn = await client.response(max_output_tokens=5)
    assert turn.status == "incomplete"
    await client.sync()
    assert not client.of_type("error", since=start)

    await client.send(create_item(user_text("Short one")))
    turn = await client.response()
    assert turn.status == "completed" and turn.text == "You said: Short one."


async def test_unpunctuated_text_is_spoken_in_bounded_chunks(serve):
    """120 KB of text without punctuation: audio starts after the first chunk (not
    after the whole text), and no chunk sent to the synthesiser is longer than the bound."""
    server = await serve()
    client = await server.connect()
    await client.send({"type": "session.update", "session": {"turn_detection": None}})
    await client.wait_for("session.updated")
    words = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot")
    text = " ".join(words[i % len(words)] for i in range(20_000))[:120_000]
    await client.send(create_item(user_text(text)))
    await client.send({"type": "response.create"})
    await client.wait_for("response.audio.delta")
    deltas = client.of_type("response.audio_transcript.delta")
    assert deltas and sum(len(d["delta"]) for d in deltas) <= 2 * MAX_CLAUSE_CHARS
    await client.send({"type": "response.cancel"})
    done = await client.wait_for("response.done")
    assert done["response"]["status"] == "cancelled"
    assert all(
        len(d["delta"]) <= MAX_CLAUSE_CHARS
        for d in client.of_type("response.audio_transcript.delta")
    )


async def test_held_audio_is_released_past_max_kept_audio_ms_but_still_counted(serve):
    server = await serve(limits=SessionLimits(max_kept_audio_ms=1000))
    client = await _text_session(server)
    tone = (np.sin(np.arange(24000 * 0.6) * 0.05) * 8000).astype(np.int16)
    for _ in range(3):
        await client.send({"type": "input_audio_buffer.append", "audio": b64(pcm16_bytes(tone))})
        await client.send({"type": "input_audio_buffer.commit"})
        await client.wait_for("conversation.item.created")
    await client.sync()
    session = next(iter(server.state.sessions))
    items = session.conversation.items
    held = [len(i.content[0].audio) for i in items]
    assert held[0] == 0 and held[-1] > 0  # the oldest released, the newest kept
    assert sum(held) <= 1000 * 48  # 24 kHz PCM16: 48 bytes a millisecond
    assert [round(i.audio_ms) for i in items] == [600, 600, 600]  # durations stay
    turn = await client.response()
    assert (
        turn.usage["input_token_details"]["audio_tokens"] == 3 * 6
    )  # billed as if held: 100 ms a token


def test_the_synthesiser_cuts_unpunctuated_text_at_word_boundaries(speech_stack):
    from realtime_widget.engine.speech.tts import _MAX_PIECE, _split_clauses

    voice = speech_stack.models.synthesizer.voice
    (sentence,) = voice.phonemize("alpha bravo charlie delta " * 300)
    pieces = _split_clauses(sentence)
    assert len(pieces) > 1 and all(len(p) <= _MAX_PIECE for p in pieces)
    assert sum(pieces, []) == sentence  # nothing lost or repeated
    assert all(p[-1] == " " for p in pieces[:-1])  # cut between words
