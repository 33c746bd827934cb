"""expect(): per-turn assertions on a real local-engine session, with failures that say
which turn and what was seen."""

from __future__ import annotations

import re

import pytest
from live_sessions import HEARD, get_weather
from speech_fixtures import espeak_available, speak

import realtime_widget
from realtime_widget.frames import open_session


@pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed")
def test_expectations_pass_and_fail_with_the_turn_and_what_was_seen(live_session):
    s = live_session(session=HEARD, tools=[get_weather])
    s.send_audio(speak("What is the weather in Paris?"), wait=True)
    s.say("Tell me a joke")

    check = realtime_widget.expect(s)
    check.has_turns(2)
    check.turn(0).heard("weather", "Paris").called("get_weather", city="Paris").says("sunny")
    check.turn(0).called("get_weather", {"city": re.compile("^par", re.I)})
    check.turn(0).called("get_weather", city=lambda v: v.startswith("Par"))
    check.turn(1).called_no_tool().matches(r"^You said: Tell me a joke\.$").not_interrupted()
    check.turn(-1).says("JOKE")
    check.first_audio_within(60_000)
    html = check._repr_html_()
    assert "12 checks passed" in html and "called get_weather" in html
    assert len(check.passed) == 12

    with pytest.raises(AssertionError) as err:
        check.turn(0).called("get_weather", city="London")
    assert str(err.value) == (
        "turn 0 (user: 'What is the weather in Paris?'): expected a call of "
        'get_weather(city=\'London\'); the turn called get_weather({"city": "Paris"})'
    )
    with pytest.raises(AssertionError, match=r"^turn 1 \(user: 'Tell me a joke'\): expected "):
        check.turn(1).called("get_weather")
    with pytest.raises(AssertionError) as err:
        check.turn(1).says("knock knock")
    assert str(err.value).endswith(
        "expected the answer to contain 'knock knock'; the answer was 'You said: Tell me a joke.'"
    )
    with pytest.raises(AssertionError, match=r"turn 1 .*expected the answer to match /Paris/"):
        check.turn(1).matches("Paris")
    with pytest.raises(AssertionError, match=r"turn 0 .*expected no tool call; the turn called"):
        check.turn(0).called_no_tool()
    latency = check.turns[1].latency_ms
    assert latency == pytest.approx(s.latency()["to_first_audio_ms"].iloc[-1], abs=0.01)
    with pytest.raises(AssertionError) as err:
        check.turn(1).first_audio_within(latency / 2)
    assert f"it came after {latency:.0f} ms" in str(err.value)
    with pytest.raises(AssertionError, match=r"turn 2: the session .* has 2 user turns"):
        check.turn(2)
    with pytest.raises(AssertionError, match="expected 3 user turns; the session has 2"):
        check.has_turns(3)

    # a stored session is checked the same way
    s.close()
    realtime_widget.expect(open_session(s.id)).turn(0).called("get_weather", city="Paris")


def test_a_text_only_answer_has_no_first_audio(live_session):
    s = live_session(session={"modalities": ["text"]})
    s.say("Hello")
    with pytest.raises(AssertionError, match="turn 0 .*the turn had no audio answer"):
        realtime_widget.expect(s).turn(0).says("hello").first_audio_within(10_000)
