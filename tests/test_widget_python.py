"""The Python side of RealtimeWidget, without a browser: arguments -> session config
and traitlets."""

from __future__ import annotations

import pytest
import traitlets

pytest.importorskip("anywidget")

from realtime_widget import RealtimeWidget  # noqa: E402


def test_defaults_local_engine_hands_free_with_transcription():
    w = RealtimeWidget()
    assert w.mode == "hands-free" and w.vad == {"type": "server_vad"}
    args = w._create_args
    assert args["provider"] == "local"
    assert args["session"]["turn_detection"] == {"type": "server_vad"}
    assert args["session"]["input_audio_transcription"] == {"model": "whisper-1"}
    assert w.echo_cancellation and w.noise_suppression and w.auto_gain_control
    assert w.session is None and w.session_id == ""  # created on Connect


def test_options_reach_the_session_config():
    def lookup(city: str) -> str:
        return city

    w = RealtimeWidget(
        "openai",
        model="gpt-realtime",
        voice="verse",
        instructions="Be brief.",
        modalities=["text"],
        vad_threshold=0.7,
        silence_duration_ms=300,
        input_transcription=False,
        input_audio_format="g711_ulaw",
        tools=[lookup],
        echo_cancellation=False,
        frame_ms=100,
    )
    s = w._create_args["session"]
    assert (
        s["voice"] == "verse" and s["instructions"] == "Be brief." and s["modalities"] == ["text"]
    )
    assert s["turn_detection"] == {
        "type": "server_vad",
        "threshold": 0.7,
        "silence_duration_ms": 300,
    }
    assert s["input_audio_transcription"] is None and s["input_audio_format"] == "g711_ulaw"
    assert w._create_args["tools"] == [lookup] and w._create_args["model"] == "gpt-realtime"
    assert w.echo_cancellation is False and w.frame_ms == 100


def test_push_to_talk_and_semantic_vad():
    assert RealtimeWidget(turn_detection=None).mode == "push-to-talk"
    w = RealtimeWidget(turn_detection="semantic_vad", eagerness="high")
    assert w.mode == "hands-free" and w.vad == {"type": "semantic_vad", "eagerness": "high"}
    with pytest.raises(ValueError):
        RealtimeWidget(turn_detection="sometimes")


def test_frame_length_is_bounded():
    with pytest.raises(traitlets.TraitError):
        RealtimeWidget(frame_ms=10)
    with pytest.raises(traitlets.TraitError):
        RealtimeWidget(frame_ms=200)


def test_live_numbers_prices_and_idle_timeout():
    w = RealtimeWidget(
        prices={"input_text": 4, "input_audio": 32, "output_text": 16, "output_audio": 64},
        idle_timeout=30,
    )
    # the same table Session.usage(prices) uses: cached tokens cost the input price unless given
    assert w.prices == {
        "input_text": 4.0,
        "input_audio": 32.0,
        "output_text": 16.0,
        "output_audio": 64.0,
        "cached_text": 4.0,
        "cached_audio": 32.0,
    }
    assert w.show_stats and w._create_args["idle_timeout"] == 30
    assert (
        RealtimeWidget(show_stats=False).prices == {}
        and not RealtimeWidget(show_stats=False).show_stats
    )
    assert (
        RealtimeWidget(input_audio_format="g711-alaw").input_format == "g711_alaw"
    )  # the microphone captures at 8 kHz from the start
    with pytest.raises(ValueError, match="missing output_audio"):
        RealtimeWidget(prices={"input_text": 4, "input_audio": 32, "output_text": 16})
    with pytest.raises(ValueError, match="unknown key"):
        RealtimeWidget(
            prices={
                "input_text": 4,
                "input_audio": 32,
                "output_text": 16,
                "output_audio": 64,
                "audio": 1,
            }
        )
