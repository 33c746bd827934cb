"""compare(): real local-engine sessions side by side, one row per user turn."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from live_sessions import HEARD, get_weather
from speech_fixtures import espeak_available, speak

import realtime_widget
from realtime_widget.frames import open_session
from realtime_widget.replay.wer import word_edits, word_error_rate

PRICES = {"input_text": 4.0, "input_audio": 32.0, "output_text": 16.0, "output_audio": 64.0}
needs_espeak = pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed")


def _two_turns(s):
    spoken = s.send_audio(speak("What is the weather in Paris?"), wait=True)
    typed = s.say("Tell me a joke")
    return spoken, typed


@needs_espeak
def test_compare_lines_up_turns_and_flags_the_one_that_differs(live_session):
    with_tool = live_session(session=HEARD, tools=[get_weather], name="with-tool")
    without = live_session(session=HEARD, name="no-tool")
    spoken_a, typed_a = _two_turns(with_tool)
    spoken_b, typed_b = _two_turns(without)

    table = realtime_widget.compare(with_tool, without, prices=PRICES)
    assert list(table.index) == [0, 1]
    assert table.names == ["with-tool", "no-tool"]
    # what each backend heard, and what it answered
    for name in table.names:
        assert "weather" in table[("user", name)].iloc[0].lower()
        assert table[("user", name)].iloc[1] == "Tell me a joke"
    assert table[("assistant", "with-tool")].iloc[0] == spoken_a.text
    assert table[("assistant", "no-tool")].iloc[0] == spoken_b.text
    assert table[("assistant", "no-tool")].iloc[1] == typed_b.text == typed_a.text
    # the tool call, with its arguments, only where the tool was registered
    assert json.loads(spoken_a.tool_calls[0]["arguments"]) == {"city": "Paris"}
    assert table[("tools", "with-tool")].iloc[0] == 'get_weather({"city": "Paris"})'
    assert table[("tools", "no-tool")].iloc[0] == ""
    # the differing turn is flagged, the identical one is not
    assert table[("differs", "")].tolist() == [True, False]
    diff = table.differences()
    assert diff.loc[0, ("tools", "no-tool")] and diff.loc[0, ("assistant", "no-tool")]
    assert not diff.loc[1].any()

    # latency, tokens and cost are the session tables' own numbers
    lat = without.latency()
    assert table[("latency_ms", "no-tool")].tolist() == pytest.approx(
        lat["to_first_audio_ms"].tolist(), abs=0.01
    )
    used = without.usage(PRICES)
    assert table[("tokens", "no-tool")].tolist() == used["total_tokens"].tolist()
    assert table[("cost", "no-tool")].tolist() == pytest.approx(used["cost"].tolist())
    # the tool turn: from the end of speech to the first audio of the follow-up response
    lat_a = with_tool.latency()
    assert len(lat_a) == 3 and np.isnan(lat_a["first_audio_ms"].iloc[0])
    assert table[("latency_ms", "with-tool")].iloc[0] == pytest.approx(
        lat_a["first_audio_ms"].iloc[1] - lat_a["trigger_ms"].iloc[0], abs=0.01
    )
    assert (
        table[("tokens", "with-tool")].iloc[0] == with_tool.usage()["total_tokens"].iloc[:2].sum()
    )
    assert not table[("interrupted", "with-tool")].any()

    # the aggregate
    summary = table.summary()
    assert summary.loc["with-tool", "tool_agreement"] == 1.0
    assert summary.loc["no-tool", "tool_agreement"] == 0.5
    assert summary.loc["with-tool", "user_wer"] == 0.0
    assert summary.loc["no-tool", "user_wer"] == word_error_rate(
        table[("user", "with-tool")].tolist(), table[("user", "no-tool")].tolist()
    )
    assert summary.loc["no-tool", "median_latency_ms"] == pytest.approx(
        float(np.median(lat["to_first_audio_ms"]))
    )
    assert summary.loc["no-tool", "cost"] == pytest.approx(used["cost"].sum())
    # spoken turns also have a voice-to-voice time (it includes the VAD's silence wait)
    assert table[("voice_to_voice_ms", "no-tool")].iloc[0] == pytest.approx(
        lat["voice_to_voice_ms"].iloc[0], abs=0.01
    )
    assert np.isnan(table[("voice_to_voice_ms", "no-tool")].iloc[1])  # typed
    assert table[("audio_ms", "no-tool")].tolist() == pytest.approx(lat["audio_ms"].tolist())
    assert summary["differing_turns"].tolist() == [0, 1]

    # in a notebook: a highlighted table
    html = table._repr_html_()
    assert "1 differ: highlighted where a session differs from the first (with-tool)" in html
    assert "rgba(255, 193, 7" in html
    assert "(no call)" in html  # no tool call, rather than an empty cell
    assert "1 differ" in table[["tools"]]._repr_html_()  # a selection keeps the highlights
    assert "get_weather({&#34;city&#34;: &#34;Paris&#34;})" in html
    # a row selection keeps its turns: the summary of the differing turns only
    differing = table[table[("differs", "")]]
    assert list(differing.index) == [0]
    assert differing.summary()["tool_agreement"].tolist() == [1.0, 0.0]
    assert differing.turns["no-tool"] == table.turns["no-tool"][:1]
    assert "1 user turns of with-tool, no-tool; 1 differ" in differing._repr_html_()
    with pytest.raises(ValueError, match="not the result of compare"):
        table.set_axis([5, 6]).summary()  # new row labels no longer name the turns

    # stored sessions compare the same once closed; a session with fewer turns shows gaps
    without.say("One more thing")
    with_tool.close()
    without.close()
    again = realtime_widget.compare(open_session(with_tool.id), without.id, names=["a", "b"])
    assert again[("assistant", "a")].tolist()[:2] == table[("assistant", "with-tool")].tolist()
    assert again[("assistant", "b")].iloc[2] == "You said: One more thing."
    assert pd.isna(again[("assistant", "a")].iloc[2])
    assert again[("differs", "")].tolist() == [True, False, True]
    assert "cost" not in again.columns.get_level_values(0)
    assert np.isnan(again.summary().loc["a", "cost"])


def test_word_error_rate():
    assert word_edits("The quick brown fox", "the quick-brown fox!") == (0, 4)
    assert word_edits("a b c d", "a x c") == (2, 4)
    assert word_edits("", "extra words") == (2, 0)
    assert word_error_rate(["a b", "c d"], ["a b", "c"]) == 0.25
    assert np.isnan(word_error_rate([""], ["x"]))


def test_compare_refuses_bad_input(live_session):
    s = live_session()
    with pytest.raises(ValueError, match="at least one session"):
        realtime_widget.compare()
    with pytest.raises(ValueError, match="2 names for 1 sessions"):
        realtime_widget.compare(s, names=["a", "b"])
    with pytest.raises(FileNotFoundError, match="no stored session 'rts_nope'"):
        realtime_widget.compare(s, "rts_nope")
    with pytest.raises(ValueError, match="prices: missing"):
        realtime_widget.compare(s, prices={"input_text": 1.0})
    empty = realtime_widget.compare(s)  # no user turn yet: an empty table, not an error
    assert len(empty) == 0 and isinstance(empty, pd.DataFrame)


@needs_espeak
def test_a_replay_without_tool_calls_differs_in_the_tool_turn_only(live_session):
    """The prototyping loop: record, replay with one change, compare."""
    original = live_session(session=HEARD, tools=[get_weather], name="original")
    original.send_audio(speak("What is the weather in Paris?"), wait=True)
    original.say("Tell me a joke")
    replayed = realtime_widget.replay(original, tool_choice="none", progress=False)
    try:
        table = realtime_widget.compare(original, replayed, names=["original", "replayed"])
        assert table[("differs", "")].tolist() == [True, False]
        assert table[("tools", "replayed")].tolist() == ["", ""]
        assert table[("user", "replayed")].iloc[1] == "Tell me a joke"
        summary = table.summary()
        assert summary.loc["replayed", "tool_agreement"] == 0.5
        assert summary.loc["replayed", "user_wer"] == 0.0  # the same audio, heard the same
    finally:
        replayed.close()
