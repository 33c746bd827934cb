"""``protocol.audience``: which server event types may go to which client (decision D38),
and ``protocol.wrong_dialect`` (D42), the two rules the engine and the hub share."""

import pytest

from realtime_widget.protocol import (
    EXTRA_SERVER_EVENT_TYPES,
    SPEC_SERVER_EVENT_TYPES,
    parse_events_opt_in,
    server_event_allowed,
    wrong_dialect,
)


def test_a_preview_client_gets_only_the_spec_events_unless_it_opts_in():
    for kind in SPEC_SERVER_EVENT_TYPES:
        assert server_event_allowed(kind, "preview")
    for kind in (
        *EXTRA_SERVER_EVENT_TYPES,
        "x_hub.ready",
        "conversation.item.done",
        "output_audio_buffer.started",
    ):
        assert not server_event_allowed(kind, "preview"), kind
        assert server_event_allowed(kind, "preview", frozenset({"all"}))
        assert server_event_allowed(kind, "ga")
    for kind in EXTRA_SERVER_EVENT_TYPES:
        assert server_event_allowed(kind, "preview", parse_events_opt_in("service"))
        assert not server_event_allowed(kind, "preview", parse_events_opt_in("x"))
    assert server_event_allowed("x_hub.status", "preview", parse_events_opt_in("x"))
    assert not server_event_allowed(
        "conversation.item.done", "preview", parse_events_opt_in("service,x")
    )


def test_opt_ins_parse_and_a_typo_is_named():
    assert parse_events_opt_in(None) == frozenset()
    assert parse_events_opt_in(["service, x", "all"]) == {"service", "x", "all"}
    with pytest.raises(ValueError, match="x_events: unknown value 'servce'"):
        parse_events_opt_in("servce")


@pytest.mark.parametrize(
    "event, dialect, param, hint",
    [
        ({"type": "conversation.item.retrieve", "item_id": "i"}, "preview", "type", "GA route"),
        ({"type": "output_audio_buffer.clear"}, "preview", "type", "GA route"),
        (
            {"type": "session.update", "session": {"output_modalities": ["text"]}},
            "preview",
            "session.output_modalities",
            "session.modalities",
        ),
        (
            {"type": "session.update", "session": {"max_output_tokens": 5}},
            "preview",
            "session.max_output_tokens",
            "session.max_response_output_tokens",
        ),
        (
            {"type": "response.create", "response": {"input": []}},
            "preview",
            "response.input",
            "response.input_items",
        ),
        (
            {"type": "session.update", "session": {"turn_detection": None}},
            "ga",
            "session.turn_detection",
            "session.audio.input.turn_detection",
        ),
        (
            {"type": "session.update", "session": {"temperature": 0.8}},
            "ga",
            "session.temperature",
            "no such field",
        ),
        (
            {"type": "response.create", "response": {"modalities": ["text"]}},
            "ga",
            "response.modalities",
            "response.output_modalities",
        ),
    ],
)
def test_the_other_dialects_events_get_errors_that_say_how_to_fix_them(event, dialect, param, hint):
    error = wrong_dialect({**event, "event_id": "evt_1"}, dialect)
    assert error is not None and error.param == param and error.event_id == "evt_1"
    assert hint in error.message and error.message.startswith(f"{param}: ")
    assert error.to_event()["error"]["param"] == param


@pytest.mark.parametrize(
    "event, dialect",
    [
        (
            {"type": "session.update", "session": {"modalities": ["text"], "voice": "alloy"}},
            "preview",
        ),
        (
            {
                "type": "session.update",
                "session": {"type": "realtime", "output_modalities": ["text"], "audio": {}},
            },
            "ga",
        ),
        ({"type": "response.create", "response": {"commit": False, "input_items": []}}, "preview"),
        ({"type": "response.create", "response": {"conversation": "none", "input": []}}, "ga"),
        ({"type": "conversation.item.retrieve", "item_id": "i"}, "ga"),
        ({"type": "input_audio_buffer.append", "audio": ""}, "preview"),
        ({"type": "session.update", "session": "not an object"}, "ga"),
        # a mistyped or missing type is left to the parser (found by the wire fuzz test)
        ({"type": {"nested": "dict"}}, "preview"),
        ({"type": ["list"]}, "ga"),
        ({"event_id": "e"}, "preview"),
    ],
)
def test_each_dialects_own_events_pass(event, dialect):
    assert wrong_dialect(event, dialect) is None
