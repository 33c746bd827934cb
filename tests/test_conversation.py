"""Conversation state rebuilt from scripted preview-dialect event sequences."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from realtime_widget import audio
from realtime_widget.conversation import Conversation, cut_transcript

RATE = 24000
BYTES_PER_MS = RATE * 2 // 1000  # PCM16 at 24 kHz: 48 bytes per ms


# ---------------------------------------------------------------- event builders


def pcm(ms: int, *, start: int = 0, rate: int = RATE) -> bytes:
    """``ms`` of PCM16 whose samples count up from ``start`` (so slices are recognisable)."""
    n = ms * rate // 1000
    return ((np.arange(start, start + n) % 20000) - 10000).astype("<i2").tobytes()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def session_event(kind: str = "session.created", **overrides) -> dict:
    session = {
        "object": "realtime.session",
        "id": "sess_1",
        "model": "gpt-4o-realtime-preview",
        "modalities": ["text", "audio"],
        "instructions": "",
        "voice": "alloy",
        "input_audio_format": "pcm16",
        "output_audio_format": "pcm16",
        "input_audio_transcription": {"model": "whisper-1"},
        "turn_detection": {
            "type": "server_vad",
            "threshold": 0.5,
            "prefix_padding_ms": 300,
            "silence_duration_ms": 200,
        },
        "tools": [],
        "tool_choice": "auto",
        "temperature": 0.8,
        "max_response_output_tokens": "inf",
    }
    session.update(overrides)
    return {"type": kind, "event_id": "event_s", "session": session}


def item_created(item: dict, previous_item_id="absent") -> dict:
    ev = {"type": "conversation.item.created", "event_id": "event_ic", "item": item}
    if previous_item_id != "absent":
        ev["previous_item_id"] = previous_item_id
    return ev


def user_audio_item(item_id: str) -> dict:
    return {
        "id": item_id,
        "object": "realtime.item",
        "type": "message",
        "status": "completed",
        "role": "user",
        "content": [{"type": "input_audio", "transcript": None}],
    }


def user_text_item(item_id: str, text: str) -> dict:
    return {
        "id": item_id,
        "object": "realtime.item",
        "type": "message",
        "status": "completed",
        "role": "user",
        "content": [{"type": "input_text", "text": text}],
    }


def assistant_item(item_id: str, status="in_progress", content=None) -> dict:
    return {
        "id": item_id,
        "object": "realtime.item",
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": content or [],
    }


USAGE = {
    "total_tokens": 250,
    "input_tokens": 150,
    "output_tokens": 100,
    "input_token_details": {"cached_tokens": 64, "text_tokens": 50, "audio_tokens": 100},
    "output_token_details": {"text_tokens": 20, "audio_tokens": 80},
}


def response(
    resp_id: str, status="in_progress", output=None, usage=None, status_details=None
) -> dict:
    return {
        "object": "realtime.response",
        "id": resp_id,
        "status": status,
        "status_details": status_details,
        "output": output or [],
        "usage": usage,
    }


def audio_turn(
    resp_id: str,
    item_id: str,
    previous: str | None,
    chunks: list[bytes],
    transcript: list[str],
    fmt_encode=lambda b: b,
    status="completed",
) -> list[dict]:
    """The events of one assistant audio reply as the service sends them."""
    common = {"response_id": resp_id, "item_id": item_id, "output_index": 0, "content_index": 0}
    full = "".join(transcript)
    final_item = assistant_item(item_id, "completed", [{"type": "audio", "transcript": full}])
    events = [
        {"type": "response.created", "event_id": "e1", "response": response(resp_id)},
        {
            "type": "response.output_item.added",
            "event_id": "e2",
            "response_id": resp_id,
            "output_index": 0,
            "item": assistant_item(item_id),
        },
        item_created(assistant_item(item_id), previous),
        {
            "type": "response.content_part.added",
            "event_id": "e3",
            **common,
            "part": {"type": "audio", "transcript": ""},
        },
    ]
    for chunk, words in zip(chunks, transcript, strict=True):
        events.append(
            {"type": "response.audio_transcript.delta", "event_id": "e4", **common, "delta": words}
        )
        events.append(
            {
                "type": "response.audio.delta",
                "event_id": "e5",
                **common,
                "delta": b64(fmt_encode(chunk)),
            }
        )
    events += [
        {"type": "response.audio.done", "event_id": "e6", **common},
        {"type": "response.audio_transcript.done", "event_id": "e7", **common, "transcript": full},
        {
            "type": "response.content_part.done",
            "event_id": "e8",
            **common,
            "part": {"type": "audio", "transcript": full},
        },
        {
            "type": "response.output_item.done",
            "event_id": "e9",
            "response_id": resp_id,
            "output_index": 0,
            "item": final_item,
        },
        {
            "type": "response.done",
            "event_id": "e10",
            "response": response(resp_id, status, [final_item], USAGE),
        },
    ]
    return events


def apply_all(conv: Conversation, events: list[dict]) -> None:
    for ev in events:
        conv.apply(ev)


@pytest.fixture
def conv() -> Conversation:
    c = Conversation(strict=True)
    c.apply(session_event())
    return c


# ---------------------------------------------------------------- full turns


def test_full_audio_turn(conv: Conversation) -> None:
    conv.apply(
        {
            "type": "conversation.created",
            "event_id": "e0",
            "conversation": {"id": "conv_1", "object": "realtime.conversation"},
        }
    )
    mic = pcm(1000)
    for i in range(4):  # four 250 ms appends
        conv.apply_client(
            {
                "type": "input_audio_buffer.append",
                "audio": b64(mic[i * 250 * BYTES_PER_MS : (i + 1) * 250 * BYTES_PER_MS]),
            }
        )
    assert conv.input_buffer_ms == 1000

    conv.apply(
        {
            "type": "input_audio_buffer.speech_started",
            "event_id": "e",
            "audio_start_ms": 100,
            "item_id": "item_u1",
        }
    )
    conv.apply(
        {
            "type": "input_audio_buffer.speech_stopped",
            "event_id": "e",
            "audio_end_ms": 900,
            "item_id": "item_u1",
        }
    )
    conv.apply(
        {
            "type": "input_audio_buffer.committed",
            "event_id": "e",
            "item_id": "item_u1",
            "previous_item_id": None,
        }
    )
    conv.apply(item_created(user_audio_item("item_u1"), None))

    user = conv.item("item_u1")
    assert user.role == "user" and user.previous_item_id is None
    assert (user.audio_start_ms, user.audio_end_ms) == (100, 900)
    assert user.audio == mic[100 * BYTES_PER_MS : 900 * BYTES_PER_MS]  # the speech segment
    assert user.audio_ms == 800 and user.sample_rate == 24000
    assert conv.input_buffer == mic[900 * BYTES_PER_MS :]  # appended after speech end: next turn
    assert conv.input_buffer_ms == 100

    chunks = [pcm(100, start=2400 * i) for i in range(3)]
    events = audio_turn("resp_1", "item_a1", "item_u1", chunks, ["Hello", " there", "."])
    apply_all(conv, events[:4])
    assert conv.active_response is conv.responses["resp_1"]
    apply_all(conv, events[4:])

    assert [i.id for i in conv.items] == ["item_u1", "item_a1"]
    reply = conv.item("item_a1")
    assert reply.previous_item_id == "item_u1"
    assert reply.status == "completed" and reply.response_id == "resp_1"
    assert conv.text_of("item_a1") == "Hello there."
    assert reply.content[0].type == "audio"
    assert reply.audio == b"".join(chunks)
    assert reply.audio_ms == 300 and reply.sample_rate == 24000

    resp = conv.responses["resp_1"]
    assert resp.status == "completed" and resp.output_item_ids == ["item_a1"]
    assert resp.usage == USAGE and resp.usage["input_token_details"]["cached_tokens"] == 64
    assert conv.active_response is None
    assert conv.conversation_id == "conv_1"
    assert conv.warnings == []


def test_user_transcript_after_response_done(conv: Conversation) -> None:
    conv.apply_client({"type": "input_audio_buffer.append", "audio": b64(pcm(500))})
    conv.apply(
        {
            "type": "input_audio_buffer.committed",
            "event_id": "e",
            "item_id": "item_u1",
            "previous_item_id": None,
        }
    )
    conv.apply(item_created(user_audio_item("item_u1"), None))
    apply_all(conv, audio_turn("resp_1", "item_a1", "item_u1", [pcm(40)], ["Sure."]))
    assert conv.item("item_u1").content[0].transcript is None

    conv.apply(
        {
            "type": "conversation.item.input_audio_transcription.delta",
            "event_id": "e",
            "item_id": "item_u1",
            "content_index": 0,
            "delta": "What time",
        }
    )
    assert conv.text_of("item_u1") == "What time"
    conv.apply(
        {
            "type": "conversation.item.input_audio_transcription.completed",
            "event_id": "e",
            "item_id": "item_u1",
            "content_index": 0,
            "transcript": "What time is it?",
        }
    )
    assert conv.text_of("item_u1") == "What time is it?"
    assert conv.text_of("item_a1") == "Sure."
    assert conv.item("item_u1").audio == pcm(500)
    assert conv.warnings == []


def test_transcription_failed_is_kept_on_the_part(conv: Conversation) -> None:
    conv.apply(item_created(user_audio_item("item_u1"), None))
    err = {"type": "transcription_error", "code": "audio_unintelligible", "message": "no speech"}
    conv.apply(
        {
            "type": "conversation.item.input_audio_transcription.failed",
            "event_id": "e",
            "item_id": "item_u1",
            "content_index": 0,
            "error": err,
        }
    )
    assert conv.item("item_u1").content[0].transcription_error == err


def test_trailing_events_of_cancelled_response_land_on_their_items(conv: Conversation) -> None:
    conv.apply(item_created(user_text_item("item_u1", "Tell me a story"), None))
    first = audio_turn(
        "resp_1", "item_a1", "item_u1", [pcm(100), pcm(100, start=5)], ["Once", " upon"]
    )
    apply_all(conv, first[:6])  # created ... first transcript + audio delta
    cancelled = response(
        "resp_1",
        "cancelled",
        [assistant_item("item_a1", "incomplete")],
        status_details={"type": "cancelled", "reason": "turn_detected"},
    )
    conv.apply({"type": "response.done", "event_id": "e", "response": cancelled})
    assert conv.active_response is None

    conv.apply(item_created(user_text_item("item_u2", "Actually, a poem"), "item_a1"))
    second = audio_turn("resp_2", "item_a2", "item_u2", [pcm(60, start=9)], ["Roses"])
    apply_all(conv, second[:4])
    # trailing events of the cancelled response, interleaved with the new one
    conv.apply(first[6])  # transcript " upon" for item_a1
    conv.apply(second[4])  # transcript "Roses" for item_a2
    conv.apply(first[7])  # audio for item_a1
    apply_all(conv, second[5:9])
    assert conv.active_response is conv.responses["resp_2"]
    apply_all(conv, second[9:])

    assert [i.id for i in conv.items] == ["item_u1", "item_a1", "item_u2", "item_a2"]
    a1, a2 = conv.item("item_a1"), conv.item("item_a2")
    assert a1.content[0].transcript == "Once upon"
    assert a1.audio == pcm(100) + pcm(100, start=5) and a1.status == "incomplete"
    assert a2.content[0].transcript == "Roses" and a2.audio == pcm(60, start=9)
    assert conv.responses["resp_1"].status == "cancelled"
    assert conv.responses["resp_1"].status_details == {
        "type": "cancelled",
        "reason": "turn_detected",
    }
    assert conv.responses["resp_2"].status == "completed"
    assert list(conv.responses) == ["resp_1", "resp_2"]


# ---------------------------------------------------------------- truncation and deletion

STORY = "one two three four five six seven eight nine ten"  # 48 characters


def test_cut_transcript_rounds_down_to_whole_words() -> None:
    assert cut_transcript(STORY, 1.0) == STORY
    assert cut_transcript(STORY, 0.0) == ""
    assert cut_transcript(STORY, 0.5) == "one two three four five"  # cut falls on a space
    assert cut_transcript(STORY, 0.25) == "one two"  # "thre|e" was not heard completely
    assert cut_transcript("", 0.5) == ""


@pytest.mark.parametrize("index_key", ["content_index", "index"])
def test_truncation_cuts_audio_and_transcript(conv: Conversation, index_key: str) -> None:
    conv.apply(item_created(user_text_item("item_u1", "Count to ten"), None))
    chunks = [pcm(250, start=6000 * i) for i in range(4)]
    events = audio_turn("resp_1", "item_a1", "item_u1", chunks, [STORY, "", "", ""])
    apply_all(conv, events[:-5])  # everything before audio.done: the audio is still playing
    full_audio = conv.item("item_a1").audio
    assert len(full_audio) == 1000 * BYTES_PER_MS

    conv.apply(
        {
            "type": "conversation.item.truncated",
            "event_id": "e",
            "item_id": "item_a1",
            index_key: 0,
            "audio_end_ms": 500,
        }
    )
    a1 = conv.item("item_a1")
    assert a1.truncated and a1.audio_end_ms == 500
    assert len(a1.audio) == 500 * BYTES_PER_MS and a1.audio == full_audio[: 500 * BYTES_PER_MS]
    assert a1.audio_ms == 500
    assert a1.content[0].transcript == "one two three four five"

    # the rest of the (cancelled) response must not bring back what was not heard
    conv.apply(
        {
            "type": "response.audio.delta",
            "event_id": "e",
            "response_id": "resp_1",
            "item_id": "item_a1",
            "output_index": 0,
            "content_index": 0,
            "delta": b64(pcm(100)),
        }
    )
    apply_all(conv, events[-5:])
    assert a1.audio == full_audio[: 500 * BYTES_PER_MS]
    assert conv.text_of("item_a1") == "one two three four five"
    assert conv.to_items_payload()[1]["content"] == [
        {"type": "text", "text": "one two three four five"}
    ]


def test_truncation_beyond_audio_is_clamped_with_warning() -> None:
    conv = Conversation()
    apply_all(conv, audio_turn("resp_1", "item_a1", None, [pcm(100)], ["Hi there"]))
    conv.apply(
        {
            "type": "conversation.item.truncated",
            "event_id": "e",
            "item_id": "item_a1",
            "content_index": 0,
            "audio_end_ms": 400,
        }
    )
    assert conv.item("item_a1").audio == pcm(100)
    assert conv.text_of("item_a1") == "Hi there"
    assert conv.item("item_a1").truncated
    assert any("beyond" in w for w in conv.warnings)


def test_deletion_keeps_the_order_of_the_rest(conv: Conversation) -> None:
    conv.apply(item_created(user_text_item("item_1", "a"), None))
    conv.apply(
        item_created(
            assistant_item("item_2", "completed", [{"type": "text", "text": "b"}]), "item_1"
        )
    )
    conv.apply(item_created(user_text_item("item_3", "c"), "item_2"))
    conv.apply({"type": "conversation.item.deleted", "event_id": "e", "item_id": "item_2"})
    assert [i.id for i in conv.items] == ["item_1", "item_3"]
    assert conv.item("item_2") is None
    assert conv.item("item_3").previous_item_id == "item_1"
    conv.apply(item_created(user_text_item("item_4", "d"), "item_3"))
    assert [i.id for i in conv.items] == ["item_1", "item_3", "item_4"]
    assert conv.warnings == []


def test_insertion_positions() -> None:
    conv = Conversation()
    conv.apply(item_created(user_text_item("item_1", "a"), None))
    conv.apply(item_created(user_text_item("item_2", "b"), "item_1"))
    conv.apply(item_created(user_text_item("item_x", "x"), "item_1"))  # inserted in the middle
    conv.apply(item_created(user_text_item("item_0", "z"), "root"))  # the new first item
    conv.apply(item_created(user_text_item("item_8", "y")))  # no previous_item_id: appended
    conv.apply(item_created(user_text_item("item_9", "v"), None))  # null: appended too
    assert [i.id for i in conv.items] == [
        "item_0",
        "item_1",
        "item_x",
        "item_2",
        "item_8",
        "item_9",
    ]
    assert [i.previous_item_id for i in conv.items] == [
        None,
        "item_0",
        "item_1",
        "item_x",
        "item_2",
        "item_8",
    ]
    assert conv.warnings == []
    conv.apply(item_created(user_text_item("item_5", "w"), "item_missing"))
    assert conv.items[-1].id == "item_5"
    assert len(conv.warnings) == 1 and "item_missing" in conv.warnings[0]


def test_created_after_output_item_added_is_moved_only_by_a_known_previous_id() -> None:
    conv = Conversation()
    conv.apply(item_created(user_text_item("item_1", "a"), None))
    conv.apply(item_created(user_text_item("item_2", "b"), "item_1"))
    conv.apply(
        {
            "type": "response.output_item.added",
            "response_id": "resp_1",
            "output_index": 0,
            "item": assistant_item("item_a"),
        }
    )
    conv.apply(item_created(assistant_item("item_a"), None))  # null: stays where it is
    assert [i.id for i in conv.items] == ["item_1", "item_2", "item_a"]
    conv.apply(item_created(assistant_item("item_a"), "item_1"))
    assert [i.id for i in conv.items] == ["item_1", "item_a", "item_2"]


# ---------------------------------------------------------------- function calls


def test_function_call_round_trip(conv: Conversation) -> None:
    conv.apply(item_created(user_text_item("item_u1", "Weather in Paris?"), None))
    call = {
        "id": "item_fc",
        "object": "realtime.item",
        "type": "function_call",
        "status": "in_progress",
        "name": "get_weather",
        "call_id": "call_1",
        "arguments": "",
    }
    common = {"response_id": "resp_1", "item_id": "item_fc", "output_index": 0, "call_id": "call_1"}
    conv.apply({"type": "response.created", "event_id": "e", "response": response("resp_1")})
    conv.apply(
        {
            "type": "response.output_item.added",
            "event_id": "e",
            "response_id": "resp_1",
            "output_index": 0,
            "item": call,
        }
    )
    conv.apply(item_created(call, "item_u1"))
    conv.apply(
        {
            "type": "response.function_call_arguments.delta",
            "event_id": "e",
            **common,
            "delta": '{"city":',
        }
    )
    assert conv.item("item_fc").arguments == '{"city":'
    conv.apply(
        {
            "type": "response.function_call_arguments.delta",
            "event_id": "e",
            **common,
            "delta": ' "Par',
        }
    )
    assert conv.item("item_fc").arguments == '{"city": "Par'
    args = '{"city": "Paris"}'
    conv.apply(
        {
            "type": "response.function_call_arguments.done",
            "event_id": "e",
            **common,
            "name": "get_weather",
            "arguments": args,
        }
    )
    done_call = dict(call, status="completed", arguments=args)
    conv.apply(
        {
            "type": "response.output_item.done",
            "event_id": "e",
            "response_id": "resp_1",
            "output_index": 0,
            "item": done_call,
        }
    )
    conv.apply(
        {
            "type": "response.done",
            "event_id": "e",
            "response": response("resp_1", "completed", [done_call], USAGE),
        }
    )

    fc = conv.item("item_fc")
    assert (fc.type, fc.name, fc.call_id, fc.arguments, fc.status) == (
        "function_call",
        "get_weather",
        "call_1",
        args,
        "completed",
    )
    assert json.loads(conv.text_of("item_fc")) == {"city": "Paris"}

    # the client answers; only the server's echo changes the state
    output = {"type": "function_call_output", "call_id": "call_1", "output": '{"temp_c": 21}'}
    conv.apply_client(
        {"type": "conversation.item.create", "previous_item_id": "item_fc", "item": output}
    )
    assert len(conv.items) == 2
    conv.apply(
        item_created(
            {"id": "item_fo", "object": "realtime.item", "status": "completed", **output}, "item_fc"
        )
    )
    assert [i.id for i in conv.items] == ["item_u1", "item_fc", "item_fo"]
    fo = conv.item("item_fo")
    assert (
        fo.call_id == "call_1"
        and fo.output == '{"temp_c": 21}'
        and fo.previous_item_id == "item_fc"
    )
    assert conv.to_items_payload() == [
        {
            "type": "message",
            "id": "item_u1",
            "role": "user",
            "content": [{"type": "input_text", "text": "Weather in Paris?"}],
        },
        {
            "type": "function_call",
            "id": "item_fc",
            "call_id": "call_1",
            "name": "get_weather",
            "arguments": args,
        },
        {
            "type": "function_call_output",
            "id": "item_fo",
            "call_id": "call_1",
            "output": '{"temp_c": 21}',
        },
    ]
    assert conv.warnings == []


# ---------------------------------------------------------------- formats


def test_g711_output_audio_is_pcm16_at_8khz(conv: Conversation) -> None:
    conv.apply(session_event("session.updated", output_audio_format="g711_ulaw"))
    chunks = [pcm(20, start=160 * i, rate=8000) for i in range(5)]  # 5 x 20 ms at 8 kHz
    apply_all(
        conv,
        audio_turn(
            "resp_1",
            "item_a1",
            None,
            chunks,
            ["a", "b", "c", "d", "e"],
            fmt_encode=audio.ulaw_encode,
        ),
    )
    item = conv.item("item_a1")
    assert item.sample_rate == 8000
    assert item.audio_ms == 100
    assert len(item.audio) == 100 * 8 * 2  # 800 samples of PCM16
    assert item.audio == audio.ulaw_decode(audio.ulaw_encode(b"".join(chunks)))
    conv.apply(
        {
            "type": "conversation.item.truncated",
            "event_id": "e",
            "item_id": "item_a1",
            "content_index": 0,
            "audio_end_ms": 30,
        }
    )
    assert len(item.audio) == 30 * 8 * 2 and item.audio_ms == 30


def test_g711_input_audio_with_dash_spelling(conv: Conversation) -> None:
    conv.apply(session_event("session.updated", input_audio_format="g711-alaw"))
    assert conv.input_audio_format == "g711_alaw"
    speech = pcm(200, rate=8000)
    conv.apply_client(
        {"type": "input_audio_buffer.append", "audio": b64(audio.alaw_encode(speech))}
    )
    assert conv.input_sample_rate == 8000 and conv.input_buffer_ms == 200
    conv.apply(
        {
            "type": "input_audio_buffer.committed",
            "event_id": "e",
            "item_id": "item_u1",
            "previous_item_id": None,
        }
    )
    conv.apply(item_created(user_audio_item("item_u1"), None))
    item = conv.item("item_u1")
    assert item.audio == audio.alaw_decode(audio.alaw_encode(speech))
    assert item.sample_rate == 8000 and item.audio_ms == 200
    assert conv.input_buffer_ms == 0
    payload = conv.to_items_payload(include_audio=True)[0]["content"][0]
    assert base64.b64decode(payload["audio"]) == audio.alaw_encode(speech)


# ---------------------------------------------------------------- input buffer


def test_manual_commit_keeps_audio_appended_while_waiting(conv: Conversation) -> None:
    conv.apply(session_event("session.updated", turn_detection=None))
    conv.apply_client({"type": "input_audio_buffer.append", "audio": b64(pcm(500))})
    conv.apply_client({"type": "input_audio_buffer.commit", "event_id": "evt_c1"})
    conv.apply_client({"type": "input_audio_buffer.append", "audio": b64(pcm(200, start=7))})
    conv.apply(
        {
            "type": "input_audio_buffer.committed",
            "event_id": "e",
            "item_id": "item_u1",
            "previous_item_id": None,
        }
    )
    assert conv.input_buffer == pcm(200, start=7)
    conv.apply(item_created(user_audio_item("item_u1"), None))
    assert conv.item("item_u1").audio == pcm(500)


def test_rejected_commit_is_forgotten(conv: Conversation) -> None:
    conv.apply(session_event("session.updated", turn_detection=None))
    conv.apply_client({"type": "input_audio_buffer.append", "audio": b64(pcm(50))})
    conv.apply_client({"type": "input_audio_buffer.commit", "event_id": "evt_c1"})
    error = {
        "type": "invalid_request_error",
        "code": "input_audio_buffer_commit_empty",
        "message": "buffer too small",
        "param": None,
        "event_id": "evt_c1",
    }
    conv.apply({"type": "error", "event_id": "e", "error": error})
    assert conv.errors == [error]
    conv.apply_client({"type": "input_audio_buffer.append", "audio": b64(pcm(450, start=3))})
    conv.apply(
        {
            "type": "input_audio_buffer.committed",
            "event_id": "e",
            "item_id": "item_u1",
            "previous_item_id": None,
        }
    )
    conv.apply(item_created(user_audio_item("item_u1"), None))
    assert conv.item("item_u1").audio == pcm(50) + pcm(450, start=3)


def test_clear(conv: Conversation) -> None:
    conv.apply_client({"type": "input_audio_buffer.append", "audio": b64(pcm(100))})
    conv.apply_client({"type": "input_audio_buffer.clear"})
    assert conv.input_buffer_ms == 0
    conv.apply_client({"type": "input_audio_buffer.append", "audio": b64(pcm(100))})
    conv.apply({"type": "input_audio_buffer.cleared", "event_id": "e"})  # answers the clear above
    assert conv.input_buffer_ms == 100
    conv.apply({"type": "input_audio_buffer.cleared", "event_id": "e"})  # a server-side clear
    assert conv.input_buffer_ms == 0


def test_session_update_is_not_applied(conv: Conversation) -> None:
    conv.apply_client({"type": "session.update", "session": {"output_audio_format": "g711_ulaw"}})
    assert conv.output_audio_format == "pcm16"
    conv.apply(session_event("session.updated", output_audio_format="g711_ulaw"))
    assert conv.output_audio_format == "g711_ulaw" and conv.session["voice"] == "alloy"


# ---------------------------------------------------------------- spellings, robustness


@pytest.mark.parametrize("key", ["text", "value"])
def test_text_done_accepts_text_and_value(conv: Conversation, key: str) -> None:
    common = {"response_id": "resp_1", "item_id": "item_a1", "output_index": 0, "content_index": 0}
    conv.apply({"type": "response.created", "event_id": "e", "response": response("resp_1")})
    conv.apply(
        {
            "type": "response.output_item.added",
            "event_id": "e",
            "response_id": "resp_1",
            "output_index": 0,
            "item": assistant_item("item_a1"),
        }
    )
    conv.apply(
        {
            "type": "response.content_part.added",
            "event_id": "e",
            **common,
            "part": {"type": "text", "text": ""},
        }
    )
    conv.apply({"type": "response.text.delta", "event_id": "e", **common, "delta": "Bonjour"})
    assert conv.text_of("item_a1") == "Bonjour"
    conv.apply({"type": "response.text.done", "event_id": "e", **common, key: "Bonjour !"})
    assert conv.text_of("item_a1") == "Bonjour !"
    assert conv.item("item_a1").content[0].type == "text"


def test_unknown_ids_give_warnings_not_exceptions() -> None:
    conv = Conversation()
    common = {"response_id": "resp_x", "item_id": "item_x", "output_index": 0, "content_index": 0}
    events = [
        {"type": "response.text.delta", **common, "delta": "a"},
        {"type": "response.text.done", **common, "text": "a"},
        {"type": "response.audio.delta", **common, "delta": b64(pcm(10))},
        {"type": "response.audio.done", **common},
        {"type": "response.audio_transcript.delta", **common, "delta": "a"},
        {"type": "response.audio_transcript.done", **common, "transcript": "a"},
        {"type": "response.content_part.added", **common, "part": {"type": "text", "text": ""}},
        {
            "type": "response.function_call_arguments.delta",
            **common,
            "call_id": "call_x",
            "delta": "{",
        },
        {
            "type": "response.function_call_arguments.done",
            **common,
            "call_id": "call_x",
            "name": "f",
            "arguments": "{}",
        },
        {
            "type": "conversation.item.input_audio_transcription.completed",
            "item_id": "item_x",
            "content_index": 0,
            "transcript": "a",
        },
        {
            "type": "conversation.item.truncated",
            "item_id": "item_x",
            "content_index": 0,
            "audio_end_ms": 5,
        },
        {"type": "conversation.item.deleted", "item_id": "item_x"},
        {"type": "response.done", "response": response("resp_y", "completed")},
    ]
    for ev in events:
        conv.apply(ev)
    assert len(conv.warnings) == len(events)
    assert conv.items == [] and conv.errors == []

    conv.apply(
        {
            "type": "response.output_item.added",
            "response_id": "resp_z",
            "output_index": 0,
            "item": assistant_item("item_z"),
        }
    )  # unknown response: recorded anyway
    assert conv.responses["resp_z"].output_item_ids == ["item_z"]
    assert [i.id for i in conv.items] == ["item_z"]

    conv.apply({"type": "conversation.item.deleted", "item_id": "item_z"})
    conv.apply(
        {
            "type": "response.audio.delta",
            "response_id": "resp_z",
            "item_id": "item_z",
            "output_index": 0,
            "content_index": 0,
            "delta": b64(pcm(10)),
        }
    )
    assert "deleted item 'item_z'" in conv.warnings[-1]
    assert conv.items == []


def test_malformed_and_unknown_events() -> None:
    conv = Conversation()
    conv.apply({"type": "response.output_text.delta", "delta": "GA spelling"})
    conv.apply({"type": "conversation.item.created"})  # no item
    conv.apply({"type": "response.created", "response": response("resp_1")})
    conv.apply(
        {
            "type": "response.output_item.added",
            "response_id": "resp_1",
            "output_index": 0,
            "item": assistant_item("item_a1"),
        }
    )
    conv.apply(
        {
            "type": "response.audio.delta",
            "response_id": "resp_1",
            "item_id": "item_a1",
            "output_index": 0,
            "content_index": 0,
            "delta": "not base64!",
        }
    )
    conv.apply(["not", "an", "event"])
    assert conv.unknown_event_counts == {"response.output_text.delta": 1}
    assert conv.event_counts["response.created"] == 1
    assert len(conv.warnings) == 3
    assert conv.item("item_a1").audio == b""
    with pytest.raises(KeyError):
        Conversation(strict=True).apply({"type": "conversation.item.created"})


def test_accepts_protocol_models_and_json() -> None:
    class Model:  # stands in for a realtime_widget.protocol event model
        def __init__(self, data: dict) -> None:
            self._data = data

        def to_dict(self) -> dict:
            return dict(self._data)

    conv = Conversation(strict=True)
    conv.apply(Model(item_created(user_text_item("item_1", "hi"), None)))
    conv.apply(json.dumps(item_created(user_text_item("item_2", "there"), "item_1")))
    conv.apply_client(Model({"type": "input_audio_buffer.append", "audio": b64(pcm(10))}))
    assert [i.text for i in conv.items] == ["hi", "there"]
    assert conv.input_buffer_ms == 10


def test_session_errors_and_rate_limits(conv: Conversation) -> None:
    assert conv.session["id"] == "sess_1" and conv.input_audio_format == "pcm16"
    limits = [
        {"name": "requests", "limit": 1000, "remaining": 999, "reset_seconds": 60},
        {"name": "tokens", "limit": 50000, "remaining": 49000, "reset_seconds": 1.5},
    ]
    conv.apply({"type": "rate_limits.updated", "event_id": "e", "rate_limits": limits[:1]})
    conv.apply({"type": "rate_limits.updated", "event_id": "e", "rate_limits": limits})
    assert conv.rate_limits == limits
    err = {
        "type": "invalid_request_error",
        "code": "invalid_value",
        "message": "bad",
        "param": "session.voice",
    }
    conv.apply({"type": "error", "event_id": "e", "error": err})
    assert conv.errors == [err]


def test_items_payload_for_replay(conv: Conversation) -> None:
    conv.apply(
        item_created(
            {
                "id": "item_s",
                "object": "realtime.item",
                "type": "message",
                "status": "completed",
                "role": "system",
                "content": [{"type": "input_text", "text": "Be brief."}],
            },
            None,
        )
    )
    conv.apply_client({"type": "input_audio_buffer.append", "audio": b64(pcm(300))})
    conv.apply(
        {
            "type": "input_audio_buffer.committed",
            "event_id": "e",
            "item_id": "item_u1",
            "previous_item_id": "item_s",
        }
    )
    conv.apply(item_created(user_audio_item("item_u1"), "item_s"))
    conv.apply(
        {
            "type": "conversation.item.input_audio_transcription.completed",
            "event_id": "e",
            "item_id": "item_u1",
            "content_index": 0,
            "transcript": "Hi",
        }
    )
    apply_all(conv, audio_turn("resp_1", "item_a1", "item_u1", [pcm(50)], ["Hello!"]))
    conv.apply(item_created(user_audio_item("item_u2"), "item_a1"))  # no audio, no transcript

    assert conv.to_items_payload() == [
        {
            "type": "message",
            "id": "item_s",
            "role": "system",
            "content": [{"type": "input_text", "text": "Be brief."}],
        },
        {
            "type": "message",
            "id": "item_u1",
            "role": "user",
            "content": [{"type": "input_audio", "transcript": "Hi"}],
        },
        {
            "type": "message",
            "id": "item_a1",
            "role": "assistant",
            "content": [{"type": "text", "text": "Hello!"}],
        },
    ]
    with_audio = conv.to_items_payload(include_audio=True, include_ids=False)
    assert "id" not in with_audio[0]
    assert base64.b64decode(with_audio[1]["content"][0]["audio"]) == pcm(300)


def test_input_format_change_drops_old_audio_with_warning(conv: Conversation) -> None:
    conv.apply_client({"type": "input_audio_buffer.append", "audio": b64(pcm(100))})
    conv.apply(session_event("session.updated", input_audio_format="g711_ulaw"))
    conv.apply_client(
        {"type": "input_audio_buffer.append", "audio": b64(audio.ulaw_encode(pcm(50, rate=8000)))}
    )
    assert conv.input_sample_rate == 8000 and conv.input_buffer_ms == 50
    assert len(conv.warnings) == 1 and "buffer dropped" in conv.warnings[0]


def test_pcm16_bytes_for_ms() -> None:
    from realtime_widget.conversation.records import pcm16_bytes_for_ms

    assert pcm16_bytes_for_ms(500, 24000) == 24000
    assert pcm16_bytes_for_ms(1000 / 24, 24000) == 2000  # float round-off keeps the sample
    assert pcm16_bytes_for_ms(0.1, 8000) == 0 and pcm16_bytes_for_ms(-5, 8000) == 0
    assert pcm16_bytes_for_ms(2.5, 8000) == 40


def test_same_state_from_protocol_models() -> None:
    protocol = pytest.importorskip("realtime_widget.protocol")
    events = [
        session_event(),
        item_created(user_text_item("item_u1", "Hi"), None),
        *audio_turn("resp_1", "item_a1", "item_u1", [pcm(30), pcm(20, start=1)], ["Hel", "lo"]),
        {
            "type": "conversation.item.truncated",
            "event_id": "e",
            "item_id": "item_a1",
            "content_index": 0,
            "audio_end_ms": 25,
        },
        item_created(user_text_item("item_u2", "Bye"), "item_a1"),
    ]
    raw, typed = Conversation(strict=True), Conversation(strict=True)
    for ev in events:
        raw.apply(ev)
        typed.apply(protocol.parse_server_event(ev))
    assert typed.items == raw.items and len(raw.items) == 3
    assert typed.responses == raw.responses
    assert typed.warnings == raw.warnings == []


def test_idle_input_audio_is_bounded_under_server_vad():
    """Minutes of silence streamed under server VAD must not pile up in memory, and
    a turn that then starts still gets its audio from speech_started to speech_stopped."""
    import base64

    conv = Conversation(strict=True)
    conv.apply(
        {
            "type": "session.created",
            "event_id": "e0",
            "session": {
                "id": "s",
                "turn_detection": {"type": "server_vad", "prefix_padding_ms": 300},
                "input_audio_format": "pcm16",
            },
        }
    )
    second = base64.b64encode(b"\x00\x00" * 24000).decode()
    for _ in range(120):  # two minutes of silence
        conv.apply_client({"type": "input_audio_buffer.append", "audio": second})
    assert conv.input_buffer_ms <= 300 + 2000 + 1000  # bounded: at most one append over the window
    speech = base64.b64encode(b"\x10\x00" * 24000).decode()
    conv.apply(
        {
            "type": "input_audio_buffer.speech_started",
            "event_id": "e1",
            "audio_start_ms": 120_000 - 300,
            "item_id": "u1",
        }
    )
    conv.apply_client({"type": "input_audio_buffer.append", "audio": speech})
    conv.apply_client({"type": "input_audio_buffer.append", "audio": second})
    assert conv.input_buffer_ms > 2000  # the turn's audio is kept while it is in progress
    conv.apply(
        {
            "type": "input_audio_buffer.speech_stopped",
            "event_id": "e2",
            "audio_end_ms": 121_500,
            "item_id": "u1",
        }
    )
    conv.apply(
        {
            "type": "input_audio_buffer.committed",
            "event_id": "e3",
            "item_id": "u1",
            "previous_item_id": None,
        }
    )
    conv.apply(
        {
            "type": "conversation.item.created",
            "event_id": "e4",
            "previous_item_id": None,
            "item": {
                "id": "u1",
                "object": "realtime.item",
                "type": "message",
                "role": "user",
                "status": "completed",
                "content": [{"type": "input_audio", "transcript": None}],
            },
        }
    )
    item = conv.item("u1")
    assert item.audio_ms == 1800  # 119.7 s .. 121.5 s
    assert item.audio[: 300 * 48] == b"\x00\x00" * (300 * 24)  # the prefix padding is silence
    assert item.audio[300 * 48 : 300 * 48 + 4] == b"\x10\x00\x10\x00"  # then the speech


@pytest.mark.parametrize("fmt, encode", [("pcm16", None), ("g711_ulaw", audio.ulaw_encode)])
def test_audio_already_decoded_by_the_caller_gives_the_same_state(fmt, encode) -> None:
    """The hub's log decodes each chunk once and hands the bytes over (``audio=``): the
    conversation must end up exactly as when it decodes the base64 itself."""
    rate = 24000 if fmt == "pcm16" else 8000
    chunks = [pcm(20, start=480 * i, rate=rate) for i in range(4)]
    wire = [encode(c) if encode else c for c in chunks]
    events = [
        session_event(
            "session.updated", input_audio_format=fmt, output_audio_format=fmt, turn_detection=None
        )
    ]
    events += audio_turn(
        "resp_1", "item_a1", None, chunks, ["a", "b", "c", "d"], fmt_encode=encode or (lambda b: b)
    )
    decoded, itself = Conversation(), Conversation()
    for ev in events:
        raw = base64.b64decode(ev["delta"]) if ev["type"] == "response.audio.delta" else None
        decoded.apply(ev, audio=raw)
        itself.apply(ev)
    for data in wire:
        append = {"type": "input_audio_buffer.append", "audio": b64(data)}
        decoded.apply_client(append, audio=data)
        itself.apply_client(append)
    assert (
        decoded.item("item_a1").audio == itself.item("item_a1").audio
        and len(itself.item("item_a1").audio) > 0
    )
    assert (
        decoded.input_buffer
        == itself.input_buffer
        == b"".join(audio.to_pcm16(d, fmt) for d in wire)
    )
    assert decoded.warnings == itself.warnings == []
    if (
        fmt == "pcm16"
    ):  # an odd PCM16 byte count is still refused, as when the conversation decodes it
        before = decoded.input_buffer
        decoded.apply_client(
            {"type": "input_audio_buffer.append", "audio": b64(b"abc")}, audio=b"abc"
        )
        assert decoded.input_buffer == before and "undecodable" in decoded.warnings[-1]


@pytest.mark.parametrize("fmt, encode", [("pcm16", None), ("g711_alaw", audio.alaw_encode)])
def test_output_audio_counted_but_not_kept_gives_the_same_lengths_and_cuts(fmt, encode) -> None:
    """``keep_output_audio=False`` (the hub, whose log has the audio): durations,
    truncation and transcripts as when the audio is kept, without holding it."""
    rate = 24000 if fmt == "pcm16" else 8000
    chunks = [pcm(100, start=2400 * i, rate=rate) for i in range(5)]
    events = [session_event("session.updated", output_audio_format=fmt, turn_detection=None)]
    events += audio_turn(
        "resp_1",
        "item_a1",
        None,
        chunks,
        ["one ", "two ", "three ", "four ", "five"],
        fmt_encode=encode or (lambda b: b),
    )
    events.append(
        {
            "type": "conversation.item.truncated",
            "event_id": "e",
            "item_id": "item_a1",
            "content_index": 0,
            "audio_end_ms": 230,
        }
    )
    kept, counted = Conversation(), Conversation(keep_output_audio=False)
    for ev in events:
        kept.apply(ev)
        counted.apply(ev)
    a, b = kept.item("item_a1"), counted.item("item_a1")
    assert len(a.audio) == 230 * rate // 1000 * 2 and b.audio == b""
    assert b.audio_ms == a.audio_ms == 230 and b.sample_rate == a.sample_rate == rate
    assert b.content[0].transcript == a.content[0].transcript != "one two three four five"
    assert counted.warnings == kept.warnings == []
    assert (
        counted.to_items_payload() == kept.to_items_payload()
    )  # replayed as its transcript either way
