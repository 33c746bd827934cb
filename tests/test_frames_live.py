"""The DataFrames of a live session (direct mode, the real local engine with its speech
models) checked against the events that happened, and the same session reopened from
its log after it closed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from frames_checks import assert_events_match
from speech_fixtures import espeak_available, speak

from realtime_widget.frames import frames, open_session


@pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed")
def test_live_typed_and_spoken_turns(live_session):
    s = live_session(session={"input_audio_transcription": {"model": "whisper-1"}})
    typed = s.say("Hello from the kernel")
    spoken = s.send_audio(speak("What is the weather in Paris?"), wait=True)
    f = frames(s)
    assert f.live and f.path is not None and frames(s) is f  # cached per Session
    df = f.events()
    records = s.log(limit=100_000, audio="ref")
    assert_events_match(df, records[: len(df)])

    # audio: what the deltas carried is the reply's audio, sample for sample
    item = typed.item_ids[0]
    deltas = df[(df["type"] == "response.audio.delta") & (df["item_id"] == item)]
    assert deltas["audio_ms"].sum() == pytest.approx(len(typed.audio) / 24.0)
    assert np.array_equal(f.audio(item), typed.audio)

    # transcript: both turns, matched by item id, the spoken one transcribed
    tr = f.transcript()
    assert tr["role"].tolist() == ["user", "assistant", "user", "assistant"]
    assert tr["text"].iloc[0] == "Hello from the kernel" and tr["input"].iloc[0] == "text"
    assert tr["text"].iloc[1] == typed.text == "You said: Hello from the kernel."
    assert tr["input"].iloc[2] == "audio" and tr["source"].iloc[2] == "kernel"
    assert "weather" in tr["text"].iloc[2].lower()
    assert tr["text"].iloc[3] == spoken.text
    user_audio = f.audio(tr["item_id"].iloc[2])
    assert user_audio.seconds > 1.0 and tr["audio_ms"].iloc[2] == pytest.approx(
        user_audio.seconds * 1000, abs=0.1
    )
    assert (tr["start_ms"] <= tr["end_ms"]).all() and tr["start_ms"].is_monotonic_increasing

    # latency: a client-triggered and a VAD-triggered response, steps in order
    lat = f.latency()
    assert lat["response_id"].tolist() == [typed.response["id"], spoken.response["id"]]

    # the names on the Session itself are the same tables
    pd.testing.assert_frame_equal(pd.DataFrame(s.events()), pd.DataFrame(f.events()))
    pd.testing.assert_frame_equal(pd.DataFrame(s.transcript()), pd.DataFrame(tr))
    pd.testing.assert_frame_equal(pd.DataFrame(s.latency()), pd.DataFrame(lat))
    assert np.array_equal(s.audio(item), typed.audio)
    assert s.transcript_text().splitlines()[0] == "user: Hello from the kernel"
    assert lat["trigger"].tolist() == ["client", "speech"]
    stopped = df[df["type"] == "input_audio_buffer.speech_stopped"]["t_ms"].iloc[-1]
    assert lat["trigger_ms"].iloc[1] == stopped
    for row in lat.itertuples(index=False):
        assert row.trigger_ms <= row.created_ms <= row.first_audio_ms <= row.done_ms
        assert row.to_first_audio_ms == pytest.approx(
            row.first_audio_ms - row.trigger_ms, abs=0.002
        )
        assert row.status == "completed" and not row.interrupted
    assert lat["audio_ms"].iloc[0] == pytest.approx(len(typed.audio) / 24.0, abs=0.1)
    # voice-to-voice: from the last speech sample in stream time, so it includes the VAD's
    # silence wait that to_first_audio_ms (from speech_stopped) leaves out; none for text
    assert np.isnan(lat["voice_to_voice_ms"].iloc[0])
    assert lat["voice_to_voice_ms"].iloc[1] > lat["to_first_audio_ms"].iloc[1]
    assert lat["speech_end_ms"].iloc[1] < lat["trigger_ms"].iloc[1]

    # usage: the response.done usage, as sent
    u = f.usage()
    assert u["input_tokens"].tolist() == [typed.usage["input_tokens"], spoken.usage["input_tokens"]]
    assert u["cached_tokens"].iloc[1] == spoken.usage["input_token_details"]["cached_tokens"]
    assert u["output_audio_tokens"].iloc[0] == typed.usage["output_token_details"]["audio_tokens"]

    # the card shows in a notebook
    assert s.id in f._repr_html_()

    # reopened from the log after the session closed: the same tables
    s.close()
    stored = open_session(s.id)
    assert not stored.live
    again = stored.events()
    pd.testing.assert_frame_equal(
        pd.DataFrame(again.iloc[: len(df)]), pd.DataFrame(df), check_categorical=False
    )
    tr2 = stored.transcript()
    assert tr2[["item_id", "role", "text", "input", "interrupted"]].equals(
        tr[["item_id", "role", "text", "input", "interrupted"]]
    )
    assert np.array_equal(stored.audio(item), typed.audio)
    assert np.array_equal(stored.audio(tr["item_id"].iloc[2]), user_audio)
    pd.testing.assert_frame_equal(stored.latency(), lat)


def test_barge_in_shows_as_an_interruption(live_session):
    """The user cuts the assistant off: response.cancel, then conversation.item.truncate
    at what was heard. The tables say so, and the item keeps only the heard audio."""
    s = live_session()
    long = ". ".join(
        [
            "Please read me a rather long sentence about the history of the city of Paris and its "
            "bridges"
        ]
        * 12
    )
    s.say(long, wait=False)  # the answer repeats it: many seconds of speech
    first = s.wait_for("response.audio.delta", timeout=60)
    s.cancel()
    done = s.wait_for("response.done", since=0, timeout=60)
    item = first["item_id"]
    s.send(
        {
            "type": "conversation.item.truncate",
            "item_id": item,
            "content_index": 0,
            "audio_end_ms": 200,
        }
    )
    s.wait_for("conversation.item.truncated", timeout=30)
    f = frames(s)
    lat = f.latency()
    row = lat[lat["response_id"] == done["response"]["id"]].iloc[0]
    assert (
        row["status"] == "cancelled" and row["reason"] == "client_cancelled" and row["interrupted"]
    )
    tr = f.transcript()
    cut = tr[tr["item_id"] == item].iloc[0]
    assert cut["interrupted"]
    assert len(f.audio(item)) == 200 * 24  # only what was heard
    ev = f.events(["response.cancel", "conversation.item.truncate*"])
    assert ev["type"].astype(str).tolist() == [
        "response.cancel",
        "conversation.item.truncate",
        "conversation.item.truncated",
    ]
    assert ev["audio_end_ms"].iloc[-1] == 200
