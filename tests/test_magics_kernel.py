"""The magics in a real IPython kernel (jupyter_client), on the local engine in direct
mode: text and audio answers, a tool call, one conversation shared with a kernel-side
Session and another client, the DataFrames checked against the events that happened,
and clear errors. One kernel serves the whole module (the cells build on each other)."""

from __future__ import annotations

import importlib.util

import pytest
from jupyter_client.manager import start_new_kernel
from kernel_testing import kernel_env, run_cell
from speech_fixtures import espeak_available


@pytest.fixture(scope="module")
def kc(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("magics-kernel")
    km, client = start_new_kernel(kernel_name="python3", env=kernel_env(tmp), startup_timeout=120)
    run_cell(client, "%load_ext realtime_widget").ok()
    yield client
    client.stop_channels()
    km.shutdown_kernel(now=True)


def test_text_turn_streams_the_answer_and_returns_the_result(kc):
    run = run_cell(
        kc,
        """
        %%realtime -s chat --no-audio
        Hello magic
    """,
    ).ok()
    assert run.stdout.strip() == "You said: Hello magic."  # streamed as it arrived
    assert run.text.startswith("<TurnResult completed: 'You said: Hello magic.'")
    assert "<audio" not in run.html
    check = (
        run_cell(
            kc,
            """
        import json
        r = _
        ev = r.events
        deltas = ev[ev["type"] == "response.text.delta"]
        records = r.session.log(limit=100000, audio="ref")
        mine = [x for x in records if r.first_seq < x["seq"] <= r.last_seq]
        print(json.dumps({
            "text": r.text, "status": r.status, "mode": r.session.mode,
            "delta_chars": int(deltas["delta_chars"].sum()), "n_deltas": len(deltas),
            "types": ev["type"].astype(str).tolist(), "seqs": ev["seq"].tolist(),
            "record_types": [x["type"] for x in mine], "record_seqs": [x["seq"] for x in mine],
            "sources": sorted(set(ev["source"].astype(str))),
        }))
    """,
        )
        .ok()
        .last_json()
    )
    assert (
        check["text"] == "You said: Hello magic."
        and check["status"] == "completed"
        and check["mode"] == "direct"
    )
    assert check["delta_chars"] == len(check["text"]) and check["n_deltas"] == len(
        check["text"].split()
    )
    assert check["types"] == check["record_types"] and check["seqs"] == check["record_seqs"]
    assert (
        check["types"][0] == "conversation.item.create" and "response.create" in check["types"][1:3]
    )
    assert check["types"][-2] == "response.done"
    assert check["sources"] == ["kernel", "upstream"]


def test_one_line_form_keeps_the_message_verbatim(kc):
    run = run_cell(kc, "%realtime -s chat --no-audio What's the time? -5 degrees").ok()
    assert run.stdout.strip() == "You said: What's the time? -5 degrees."


@pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed")
def test_audio_answer_plays_inline(kc):
    run = run_cell(
        kc,
        """
        %%realtime -s voice --voice verse
        Say something nice
    """,
    ).ok()
    assert run.stdout.strip() == "You said: Say something nice."  # the transcript streams
    assert "<audio" in run.html  # the player
    check = (
        run_cell(
            kc,
            """
        r = _
        from realtime_widget.frames import frames
        f = frames(r.session)
        ev = r.events
        item = r.reply.item_ids[0]
        same = bool((f.audio(item) == r.audio).all())
        print(json.dumps({"seconds": r.audio.seconds, "rate": r.audio.rate,
                          "delta_ms": float(
                              ev[ev["type"] == "response.audio.delta"]["audio_ms"].sum()),
                          "samples": len(r.audio), "same": same,
                          "voice": r.session.conversation.session["voice"]}))
    """,
        )
        .ok()
        .last_json()
    )
    assert check["rate"] == 24000 and check["seconds"] > 0.5 and check["same"]
    assert check["delta_ms"] == pytest.approx(check["samples"] / 24.0)
    assert check["voice"] == "verse"  # the option configured the new session


def test_tool_call_runs_in_the_kernel(kc):
    run_cell(
        kc,
        """
        calls = []
        def get_weather(city: str) -> str:
            '''The weather in a city.

            Args:
                city: the city's name
            '''
            calls.append(city)
            return f"rainy in {city}"
    """,
    ).ok()
    run = run_cell(
        kc,
        """
        %%realtime -s chat --tools get_weather --no-audio
        What is the weather in Oslo?
    """,
    ).ok()
    lines = run.stdout.strip().splitlines()
    assert lines == [
        '-> calling get_weather({"city": "Oslo"})',
        "<- rainy in Oslo",
        "get_weather says: rainy in Oslo.",
    ]
    check = (
        run_cell(
            kc,
            """
        r = _
        ev = r.events
        created = ev[ev["type"] == "conversation.item.create"].payloads()
        print(json.dumps({"calls": calls, "tool_calls": [c["name"] for c in r.tool_calls],
                          "outputs": [p["item"]["output"] for p in created
                                      if p["item"]["type"] == "function_call_output"],
                          "responses": int((ev["type"] == "response.done").sum())}))
    """,
        )
        .ok()
        .last_json()
    )
    assert check == {
        "calls": ["Oslo"],
        "tool_calls": ["get_weather"],
        "outputs": ["rainy in Oslo"],
        "responses": 2,
    }


def test_shared_conversation_with_a_session_and_another_client(kc):
    """What a kernel-side Session said, what %%realtime said and what another client
    (here: a client attached as 'widget', as the widget is) said: one transcript."""
    run_cell(
        kc,
        """
        import asyncio, json
        from realtime_widget import Session
        from realtime_widget.client.loop import loop_thread
        from realtime_widget.frames import frames
        s = Session(session={"modalities": ["text"]})
        s.say("typed through the Session")
    """,
    ).ok()
    run = run_cell(
        kc,
        """
        %%realtime -s s
        said through the magic
    """,
    ).ok()
    assert run.stdout.strip() == "You said: said through the magic."
    again = run_cell(kc, "%%realtime\nno -s: the session used last").ok()
    assert run_cell(kc, "print(_.session is s)").ok().stdout.strip() == "True"
    assert again.stdout.strip() == "You said: no -s: the session used last."
    check = (
        run_cell(
            kc,
            """
        class Sink:
            def send_text(self, frame): return None
            def close(self, code, reason): pass

        async def widget_says(text):
            hub_session = s.transport.session
            client = hub_session.attach(Sink(), source="widget")
            item = {"type": "message", "role": "user",
                    "content": [{"type": "input_text", "text": text}]}
            await hub_session.client_event(
                client, json.dumps({"type": "conversation.item.create", "item": item}))
            await hub_session.client_event(
                client, json.dumps({"type": "response.create", "response": {}}))

        said = widget_says("spoken into the widget")
        asyncio.run_coroutine_threadsafe(said, loop_thread().loop).result(30)
        s.wait_for("response.done", timeout=60)
        tr = frames(s).transcript()
        users = tr[tr["role"] == "user"]
        ev = %realtime_events s --type conversation.item.created
        from frames_checks import assert_events_match
        df = frames(s).events()
        assert_events_match(df, s.log(limit=100000, audio="ref")[: len(df)])
        print(json.dumps({"texts": users["text"].tolist(), "sources": users["source"].tolist(),
                          "assistant": tr[tr["role"] == "assistant"]["text"].tolist(),
                          "created": len(ev),
                          "event_sources": sorted(set(df["source"].astype(str)))}))
    """,
        )
        .ok()
        .last_json()
    )
    assert check["texts"] == [
        "typed through the Session",
        "said through the magic",
        "no -s: the session used last",
        "spoken into the widget",
    ]
    assert check["sources"] == ["kernel", "kernel", "kernel", "widget"]
    assert check["assistant"] == [
        "You said: typed through the Session.",
        "You said: said through the magic.",
        "You said: no -s: the session used last.",
        "You said: spoken into the widget.",
    ]
    assert check["created"] == 8 and check["event_sources"] == [
        "hub",
        "kernel",
        "upstream",
        "widget",
    ]  # hub: the session config


@pytest.mark.skipif(
    importlib.util.find_spec("realtime_widget.widget") is None, reason="the widget is not built yet"
)
def test_magic_and_widget_share_a_session(kc):
    run_cell(
        kc,
        """
        from realtime_widget.widget import RealtimeWidget
        w = RealtimeWidget()     # not connected yet
    """,
    ).ok()
    error = run_cell(kc, "%realtime_events w")
    assert error.status == "error" and "has no session yet" in error.error["evalue"]
    run = run_cell(
        kc, "%%realtime -s w --no-audio\nHello widget"
    ).ok()  # connects the widget's session
    assert run.stdout.strip() == "You said: Hello widget."
    check = (
        run_cell(
            kc,
            """
        result = _
        done = %realtime_events w --type response.done
        print(json.dumps({"same": result.session is w.session,
                          "id": w.session_id == w.session.id, "rows": len(done)}))
    """,
        )
        .ok()
        .last_json()
    )
    assert check == {"same": True, "id": True, "rows": 1}
    run_cell(kc, "w.close()").ok()


def test_queries(kc):
    run = run_cell(kc, "%realtime_events chat --type response.done --last 1").ok()
    assert "response.done" in run.text and "1 rows" in run.html
    sessions = (
        run_cell(
            kc,
            """
        df = %realtime_sessions
        print(json.dumps({"names": sorted(n for n in df["magic_names"] if n),
                          "variables": sorted(v for v in df["variables"] if v),
                          "status": sorted(set(df["status"].dropna()))}))
    """,
        )
        .ok()
        .last_json()
    )
    assert (
        sessions["names"] == ["chat", "voice"]
        and sessions["variables"] == ["s"]
        and "open" in sessions["status"]
    )
    last = run_cell(kc, "%realtime_events --last 1").ok()  # no name: the session used last
    assert "1 rows" in last.html
    config = run_cell(kc, "%realtime_config chat").ok()
    assert (
        "providers" in config.html
        and "OPENAI_API_KEY" in config.html
        and "AZURE_OPENAI_ENDPOINT" in config.html
    )
    assert "get_weather" in config.html and "never in a notebook" in config.html
    card = run_cell(kc, "s").ok()  # a Session shows as a card once the extension is loaded
    assert "realtime session" in card.html and "spoken into the widget" in card.html


def test_compare_magic_puts_sessions_side_by_side(kc):
    run_cell(kc, "%%realtime -s left --no-audio\nHello there").ok()
    run_cell(kc, "%%realtime -s right --no-audio\nHello where").ok()
    run_cell(kc, "%%realtime -s left --no-audio\nSame words").ok()
    run_cell(kc, "%%realtime -s right --no-audio\nSame words").ok()
    got = (
        run_cell(
            kc,
            """
        prices = {"input_text": 4, "input_audio": 32, "output_text": 16, "output_audio": 64}
        table = %realtime_compare left right --prices prices
        import json
        print(json.dumps({
            "names": table.names,
            "user": table["user"].values.tolist(),
            "assistant": table["assistant"].values.tolist(),
            "differs": table[("differs", "")].tolist(),
            "cost": bool((table["cost"] > 0).all().all()),
        }))
    """,
        )
        .ok()
        .last_json()
    )
    assert got["names"] == ["left", "right"]
    assert got["user"] == [["Hello there", "Hello where"], ["Same words", "Same words"]]
    assert got["assistant"][0] == ["You said: Hello there.", "You said: Hello where."]
    assert got["differs"] == [True, False] and got["cost"]
    shown = run_cell(kc, "table").ok()
    assert "1 differ: highlighted" in shown.html and "You said: Hello where." in shown.html
    named = run_cell(kc, "%realtime_compare left right --names a,b").ok()
    assert "compare: 2 user turns of a, b" in named.html


BAD_CELLS = [
    (
        "%%realtime --provider openai -s cloud\nhi",
        ["OPENAI_API_KEY", "c.RealtimeWidgetApp.openai_api_key", "never from the notebook"],
    ),
    (
        "%%realtime --provider azure -s az\nhi",
        ["AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY", "c.RealtimeWidgetApp.azure_endpoint"],
    ),
    ("%%realtime --provider bedrock\nhi", ["--provider: one of local, openai, azure, url"]),
    ("%realtime_events nosuch", ["unknown realtime session 'nosuch'", "%realtime_sessions"]),
    ("%%realtime -s rts_0000000000\nhi", ["no live session 'rts_0000000000'"]),
    ("%%realtime --bogus\nhi", ["unknown option --bogus", "usage: %%realtime"]),
    ("%%realtime --tools nope\nhi", ["--tools: no function named 'nope'"]),
    ("%%realtime --tools json\nhi", ["'json' is a module, not a function"]),
    ("%%realtime --modalities video\nhi", ["--modalities: 'text' or 'text,audio'"]),
    ("%%realtime --timeout soon\nhi", ["--timeout: a number of seconds"]),
    ("%realtime_events chat --last x", ["--last: a number of events"]),
    ("%realtime_events chat --direction up", ["--direction: client or server"]),
    ("%realtime -s chat", ["no message"]),
    ("%%realtime -s chat extra words\nhi", ["the message is the cell body"]),
    ("%realtime_sessions now", ["takes no arguments"]),
    ("%realtime_compare", ["which sessions?", "usage: %realtime_compare"]),
    ("%realtime_compare chat nosuch", ["unknown realtime session 'nosuch'"]),
    ("%realtime_compare chat chat --names a", ["--names: 1 names for 2 sessions"]),
    ("%realtime_compare chat chat", ["each session needs its own name"]),
    ("%realtime_compare chat --prices nope", ["--prices: 'nope' is not a notebook dict"]),
]


@pytest.mark.parametrize("code, expected", BAD_CELLS, ids=[c.splitlines()[0] for c, _ in BAD_CELLS])
def test_clear_errors(kc, code, expected):
    run = run_cell(kc, code)
    assert run.status == "error" and run.error["ename"] == "UsageError", (run.error, run.stderr)
    message = run.error["evalue"]
    for text in expected:
        assert text in message, (text, message)
    assert "Traceback" not in run.error["traceback"]  # a usage error, not a crash
