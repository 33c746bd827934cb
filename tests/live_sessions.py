"""What the tests of real sessions share (the ``live_session`` fixture is in conftest.py)."""

from __future__ import annotations

# the transcription the user's turns need to show what the backend heard
HEARD = {"input_audio_transcription": {"model": "whisper-1"}}


def get_weather(city: str) -> dict:
    """The weather in a city.

    Args:
        city: The city, e.g. Paris.
    """
    return {"city": city, "sky": "sunny", "celsius": 21}
