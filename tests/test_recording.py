"""Session.recording(): a real local-engine conversation as one stereo track, user left,
assistant right, cut where the user barged in."""

from __future__ import annotations

import wave

import numpy as np
import pytest
from speech_fixtures import espeak_available, speak, speech_bounds

from realtime_widget.frames import open_session

RATE = 24000
LONG = ". ".join(
    ["Please read me a rather long sentence about the history of the city of Paris"] * 4
)


@pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed")
def test_barge_in_silences_the_assistant_from_where_the_user_spoke(live_session, tmp_path):
    s = live_session()  # server VAD: speech over the answer cancels it
    s.say(LONG, wait=False)
    s.wait_for("response.audio.delta", timeout=60)
    barge_in = speak("Stop, stop please.")
    s.send_audio(barge_in)
    done = s.wait_for(
        lambda e: e.get("type") == "response.done" and e["response"]["status"] == "completed",
        since=0,
        timeout=60,
    )  # the answer to the barge-in
    assert s.latency()["status"].tolist() == ["cancelled", "completed"]
    reply = s.audio(done["response"]["output"][0]["id"])

    heard = s.recording()
    full = s.recording(as_heard=False)
    assert heard.shape[1] == 2 and heard.rate == RATE and heard.dtype == np.int16
    # the user's channel is what was sent, sample for sample (and nothing else)
    assert np.array_equal(np.trim_zeros(heard.user), np.trim_zeros(np.asarray(barge_in)))
    speech_start, speech_end = speech_bounds(heard.user, RATE)

    # one cut: the long answer, after the user started speaking
    (item, cut_s), *rest = heard.cuts
    assert not rest and item == s.transcript()["item_id"].iloc[1]
    cut = round(cut_s * RATE)
    assert speech_start <= cut < speech_end
    assert np.abs(heard.assistant[:cut]).max() > 1000  # the assistant was speaking
    assert np.array_equal(heard.assistant[:cut], full.assistant[:cut])  # cut, never moved
    # silent from the barge-in until the user has finished (then comes the new reply)
    assert not heard.assistant[cut:speech_end].any()
    assert np.abs(full.assistant[cut:speech_end]).max() > 1000  # what was not heard
    # the reply to the barge-in follows, as it was received
    assert heard.assistant[speech_end:].any()
    assert np.array_equal(np.trim_zeros(heard.assistant[speech_end:]), np.trim_zeros(reply))

    # a stereo WAV, and an inline player
    path = heard.save(tmp_path / "talk.wav")
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getframerate(), w.getnframes()) == (2, RATE, len(heard))
        assert np.array_equal(
            np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, 2), heard
        )
    html = heard._repr_html_()
    assert "<audio controls" in html and "2 channels" in html

    # the stored session gives the same track
    s.close()
    assert np.array_equal(open_session(s.id).recording(), heard)


def test_truncation_keeps_only_what_was_played(live_session):
    s = live_session()
    s.say(LONG, wait=False)
    first = s.wait_for("response.audio.delta", timeout=60)
    s.cancel()
    s.wait_for("response.done", since=0, timeout=60)
    s.send(
        {
            "type": "conversation.item.truncate",
            "item_id": first["item_id"],
            "content_index": 0,
            "audio_end_ms": 200,
        }
    )
    s.wait_for("conversation.item.truncated", timeout=30)
    heard, full = s.recording(), s.recording(as_heard=False)
    assert not heard.user.any()  # typed: nothing on the user's channel
    [(item, cut_s)] = heard.cuts
    assert item == first["item_id"]
    cut = round(cut_s * RATE)
    start = cut - 200 * RATE // 1000
    assert not heard.assistant[:start].any() and not heard.assistant[cut:].any()
    assert np.array_equal(heard.assistant[start:cut], full.assistant[start:cut])
    assert np.array_equal(heard.assistant[start:cut], s.audio(item))  # the item as heard
    assert full.assistant[cut:].any() and len(full) > len(heard)


def test_a_session_without_audio_is_an_empty_track(live_session):
    s = live_session(session={"modalities": ["text"]})
    s.say("Hello")
    rec = s.recording()
    assert rec.shape == (0, 2) and rec.cuts == [] and rec.seconds == 0.0


@pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed")
def test_g711_audio_is_decoded_and_resampled_to_the_track_rate(live_session):
    s = live_session(
        session={"input_audio_format": "g711_ulaw", "output_audio_format": "g711_ulaw"}
    )
    question = speak("What is the weather in Paris?")
    reply = s.send_audio(question, wait=True)
    assert reply.sample_rate == 8000
    rec = s.recording()
    assert rec.rate == RATE
    # the user's speech lasts as long on the track as it did when spoken (not 3x shorter)
    a, b = speech_bounds(rec.user, RATE)
    a0, b0 = speech_bounds(np.asarray(question), RATE)
    assert abs((b - a) - (b0 - a0)) < RATE // 50
    # the answer: its 8 kHz samples resampled, three times as many at 24 kHz
    from realtime_widget import audio

    expected = audio.float_to_int16_array(
        audio.resample(audio.pcm16_to_float32(reply.audio), 8000, RATE)
    )
    start = np.flatnonzero(rec.assistant)[0] - np.flatnonzero(expected)[0]
    placed = rec.assistant[start : start + len(expected)]
    assert abs(len(expected) - 3 * len(reply.audio)) <= 3 and len(placed) == len(expected)
    assert np.corrcoef(placed.astype(float), expected.astype(float))[0, 1] > 0.99
    assert not rec.assistant[start + len(expected) :].any()


@pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed")
def test_an_answer_the_server_completed_plays_to_its_end(live_session):
    """A script that speaks its next turn without waiting for the playback talks over the
    answer; nothing in the log says the answer stopped, so the track keeps all of it."""
    s = live_session()
    answer = s.say("Tell me about the bridges of Paris")
    s.send_audio(speak("And the museums?"), wait=True)
    rec = s.recording()
    assert rec.cuts == []
    first = np.flatnonzero(rec.assistant)[0]
    start = first - np.flatnonzero(answer.audio)[0]
    assert np.array_equal(rec.assistant[start : start + len(answer.audio)], answer.audio)
    a, _ = speech_bounds(rec.user, RATE)
    assert a < start + len(answer.audio)  # the user did speak while it played
