"""``realtime_widget.replay``: sources recorded on the real local engine (synthesized
speech, real VAD / ASR / TTS), replayed in direct mode and through a real Jupyter
server's hub, checked on the new session's own event log."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import os
import re
import shutil
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hub_testing import *  # noqa: F403 (pytest-jupyter's fixtures, for the hub-mode test)
from live_sessions import get_weather
from speech_fixtures import espeak_available, speak

import realtime_widget
from realtime_widget import replay
from realtime_widget.frames import open_session
from realtime_widget.replay import ReplayError, ReplayInterrupted
from realtime_widget.replay.comparison import HIGHLIGHT

pytestmark = pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed")

WEATHER = "sunny in {city}, 21 degrees"


PRICES = {"input_text": 4.0, "input_audio": 32.0, "output_text": 16.0, "output_audio": 64.0}


def recorded_weather(city: str) -> str:
    """The weather in a city.

    Args:
        city: the city's name
    """
    return WEATHER.format(city=city)


@pytest.fixture
def direct(speech_stack, tmp_path, monkeypatch):
    """Sessions in direct mode on the local engine, logged under ``tmp_path/logs``."""
    from realtime_widget import Session
    from realtime_widget.hub.upstreams import set_shared_speech_stack

    set_shared_speech_stack(speech_stack)
    monkeypatch.setenv("REALTIME_WIDGET_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setenv("REALTIME_WIDGET_MODE", "direct")
    made = []

    def make(**kwargs):
        from realtime_widget.frames import frames

        s = Session(mode="direct", **kwargs)
        made.append(s)
        # direct mode's hub keeps the log directory it started with (an earlier test's):
        # stored sessions are looked up there
        monkeypatch.setenv("REALTIME_WIDGET_LOG_DIR", str(frames(s).path.parent))
        return s

    from realtime_widget.replay import run

    started = run.start_replay

    def start_and_track(*args, **kwargs):  # every replayed session is closed after the test
        out = started(*args, **kwargs)
        made.append(out[0])
        return out

    monkeypatch.setattr(run, "start_replay", start_and_track)
    yield make
    for s in made:
        if not s.closed:
            s.close()


def user_records(session) -> list[dict]:
    """A session's user-side client records, audio inline (a live Session: its log as
    it is now; an id: the stored log)."""
    from realtime_widget.replay.source import USER_SOURCES, read_log

    return [
        r
        for r in read_log(session).records
        if r["dir"] == "client" and r.get("source") in USER_SOURCES
    ]


def appends(session) -> list[bytes]:
    return [
        base64.b64decode(r["event"]["audio"])
        for r in user_records(session)
        if r["type"] == "input_audio_buffer.append"
    ]


def is_subsequence(needles: list[bytes], haystack: list[bytes]) -> tuple[bool, list[bytes]]:
    """(every needle in order in haystack, the haystack entries that are not needles)."""
    extra, i = [], 0
    for item in haystack:
        if i < len(needles) and item == needles[i]:
            i += 1
        else:
            extra.append(item)
    return i == len(needles), extra


def tree_hash(path: Path) -> dict[str, str]:
    return {
        str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.rglob("*"))
        if p.is_file()
    }


def events_of(session, etype: str) -> list[dict]:
    from realtime_widget.replay.source import read_log

    return [r for r in read_log(session).records if r["type"] == etype]


@pytest.fixture
def spoken_source(direct):
    """A closed source on server VAD: a typed turn, a spoken question that calls a tool
    (answered by the source's own Python function), a spoken statement."""
    s = direct(
        session={"input_audio_transcription": {"model": "whisper-1"}},
        tools=[recorded_weather],
    )
    s.say("Hello from the kernel")
    s.send_audio(speak("What is the weather in Paris?"), wait=True)
    s.send_audio(speak("My sister plays the piano every morning."), wait=True)
    s.close()
    return s.id


def test_replay_sends_the_same_user_side_with_the_overrides(direct, spoken_source, tmp_path):
    log_dir = Path(os.environ["REALTIME_WIDGET_LOG_DIR"]) / spoken_source
    before = tree_hash(log_dir)
    new = replay(spoken_source, instructions="Answer in one short sentence.", voice="alloy")
    assert new.mode == "direct" and not new.closed and new.id != spoken_source
    assert new.replayed_from == spoken_source

    # the configuration: the source's (transcription, its tool's definition) and the overrides
    config = new.conversation.session
    assert config["instructions"] == "Answer in one short sentence." and config["voice"] == "alloy"
    assert config["input_audio_transcription"]["model"] == "whisper-1"
    assert [t["name"] for t in config["tools"]] == ["recorded_weather"]

    # every user audio append byte for byte and in order; extra appends can only be the
    # silence a VAD needs after a spoken turn (here the source's own trailing silence did)
    src, got = appends(spoken_source), appends(new)
    ok, extra = is_subsequence(src, got)
    assert ok and len(src) > 10
    assert all(not any(chunk) for chunk in extra)

    # the same turns, answered by the new session itself
    tr = new.transcript()
    users = tr[tr["role"] == "user"]
    assert users["input"].tolist() == ["text", "audio", "audio"]
    assert users["text"].iloc[0] == "Hello from the kernel"
    assert "weather" in users["text"].iloc[1].lower() and "piano" in users["text"].iloc[2].lower()
    # the function call: no tool registered on the replay, so the source's recorded output
    calls = events_of(new, "response.output_item.done")
    called = [r["event"]["item"] for r in calls if r["event"]["item"]["type"] == "function_call"]
    assert [c["name"] for c in called] == ["recorded_weather"]
    outputs = [
        r["event"]["item"]["output"]
        for r in user_records(new)
        if r["type"] == "conversation.item.create"
        and r["event"]["item"]["type"] == "function_call_output"
    ]
    assert outputs == [WEATHER.format(city="Paris")]
    assert "sunny in Paris" in new.transcript_text()

    # turns: each user turn starts after the previous answer is done
    records = [r for r in json_records(new)]
    done_seqs = [r["seq"] for r in records if r["type"] == "response.done"]
    text_seq = next(r["seq"] for r in records if r["type"] == "conversation.item.create")
    first_audio = next(r["seq"] for r in records if r["type"] == "input_audio_buffer.append")
    assert text_seq < done_seqs[0] < first_audio

    # the source is never modified; the new session is usable afterwards
    assert tree_hash(log_dir) == before
    assert new.say("Still here").text == "You said: Still here."


def json_records(session) -> list[dict]:
    if not session.closed:
        session.log(after=2**62, limit=1)  # the hub writes out what it buffered
    path = Path(os.environ["REALTIME_WIDGET_LOG_DIR"]) / session.id / "events.jsonl"
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def test_every_kind_of_source_and_registered_tools(direct, spoken_source):
    from realtime_widget.frames import frames

    stored = open_session(spoken_source)
    path = Path(os.environ["REALTIME_WIDGET_LOG_DIR"]) / spoken_source

    def snowy(city: str) -> str:
        """The weather in a city."""
        return f"snowy in {city}"

    snowy.__name__ = "recorded_weather"
    by_frames = replay(stored, tools=[snowy])  # a registered tool runs for real
    assert "snowy in Paris" in by_frames.transcript_text()
    assert "sunny" not in by_frames.transcript_text()
    by_path = replay(str(path), progress=False)
    by_session = replay(by_path, progress=False)  # a live Session as the source
    for s in (by_path, by_session):
        assert [u for u in s.transcript()["input"] if isinstance(u, str)] == [
            "text",
            "audio",
            "audio",
        ]
    assert frames(by_session).transcript()["text"].iloc[0] == "Hello from the kernel"


def test_a_function_nobody_answers_gets_an_error_output(direct):
    src = direct()
    src.say("What time is it in Oslo?")
    src.close()
    get_time = {
        "type": "function",
        "name": "get_time",
        "description": "The time in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    }
    new = replay(src.id, tools=[get_time], progress=False)  # declared, no Python behind it
    outputs = [
        json.loads(r["event"]["item"]["output"])
        for r in user_records(new)
        if r["type"] == "conversation.item.create"
        and r["event"]["item"]["type"] == "function_call_output"
    ]
    assert len(outputs) == 1 and "get_time" in outputs[0]["error"]
    assert new.conversation.active_response is None  # the turn ended: no hang


def test_manual_turns_barge_in_and_turn_detection_overrides(direct):
    """A push-to-talk source (manual commits) where the user cut the answer short."""
    src = direct(session={"turn_detection": None})
    src.send_audio(speak("Please turn off the lights in the kitchen."), wait=True)
    long = ". ".join(["Please read me a long sentence about the bridges of Paris"] * 10)
    src.say(long, wait=False)
    first = src.wait_for("response.audio.delta", timeout=60)
    src.cancel()
    src.wait_for("response.done", since=0, timeout=60)
    src.send(
        {
            "type": "conversation.item.truncate",
            "item_id": first["item_id"],
            "content_index": 0,
            "audio_end_ms": 300,
        }
    )
    src.wait_for("conversation.item.truncated", timeout=30)
    src.say("Thank you")
    src.close()

    new = replay(src.id, progress=False)
    kinds = [r["type"] for r in user_records(new)]
    assert kinds.count("input_audio_buffer.commit") == 1
    assert kinds.count("response.create") == 3  # where the user sent them (not the engine's)
    assert kinds.count("response.cancel") == 1 and kinds.count("conversation.item.truncate") == 1
    truncate = next(r for r in user_records(new) if r["type"] == "conversation.item.truncate")
    item = truncate["event"]["item_id"]
    assert item != first["item_id"] and truncate["event"]["audio_end_ms"] == 300
    assert len(new.audio(item)) == 300 * 24  # the new answer, cut where the user barged in
    lat = new.latency()
    assert lat["status"].tolist() == ["completed", "cancelled", "completed"]
    tr = new.transcript()
    assert tr[tr["role"] == "assistant"]["interrupted"].tolist() == [False, True, False]

    # compare() of the two: the cut turn is interrupted in both, and shows what was heard
    table = realtime_widget.compare(src.id, new, names=["recorded", "replayed"])
    for name in table.names:
        assert table[("interrupted", name)].tolist() == [False, True, False]
        assert len(table[("assistant", name)].iloc[1]) < len(long)
    assert not table.differences()[[("interrupted", "replayed")]].any().any()
    # each turn's duration: its response created -> done, on the session's own clock
    lat = new.latency().set_index("response_id")
    assert table[("duration_ms", "replayed")].tolist() == pytest.approx(
        (lat["done_ms"] - lat["created_ms"]).tolist(), abs=0.01
    )
    assert (table[("duration_ms", "replayed")] > 0).all()
    summary = table.summary()
    assert summary["interrupted"].tolist() == [1, 1]
    for name in table.names:
        latency = table[("latency_ms", name)].dropna()
        assert summary.loc[name, "p95_latency_ms"] == pytest.approx(
            float(np.percentile(latency, 95))
        )
        assert summary.loc[name, "median_latency_ms"] <= summary.loc[name, "p95_latency_ms"]

    # the same source with server VAD: the user's commit and response.create are still
    # sent where the user sent them
    vad = replay(src.id, turn_detection={"type": "server_vad"}, progress=False)
    assert [r["type"] for r in user_records(vad)].count("input_audio_buffer.commit") == 1
    assert "lights" in vad.transcript_text().lower()


def test_a_spoken_barge_in_cuts_the_new_answer_where_the_user_heard_it(direct):
    """Server VAD: the user speaks over the answer, the server cuts its response, the
    client truncates what was played (what the widget does)."""
    src = direct()
    long = ". ".join(["Please read me a long sentence about the bridges of Paris"] * 10)
    src.say(long, wait=False)
    first = src.wait_for("response.audio.delta", timeout=60)
    src.send_audio(speak("Stop please."), wait=False)
    src.wait_for("input_audio_buffer.speech_started", since=0, timeout=60)
    src.send(
        {
            "type": "conversation.item.truncate",
            "item_id": first["item_id"],
            "content_index": 0,
            "audio_end_ms": 500,
        }
    )
    src.wait_for(  # the answer to what the user said over the first one
        lambda ev: ev.get("type") == "response.done" and ev["response"]["status"] == "completed",
        since=0,
        timeout=60,
    )
    src.close()
    statuses = open_session(src.id).latency()["status"].tolist()
    assert statuses[0] == "cancelled"  # the engine cut its answer when the user spoke

    new = replay(src.id, progress=False)
    truncate = next(r for r in user_records(new) if r["type"] == "conversation.item.truncate")
    assert truncate["event"]["audio_end_ms"] == 500
    assert len(new.audio(truncate["event"]["item_id"])) == 500 * 24
    lat = new.latency()
    assert lat["status"].tolist()[0] == "cancelled" and lat["status"].tolist()[-1] == "completed"
    assert new.transcript()["role"].tolist().count("assistant") == 2


def test_vad_source_replayed_without_vad_ends_turns_where_the_vad_did(direct):
    src = direct()
    src.send_audio(speak("Can you tell me how to get to the train station?"), wait=True)
    src.close()
    new = replay(src.id, turn_detection=None, progress=False)
    kinds = [r["type"] for r in user_records(new)]
    commit = kinds.index("input_audio_buffer.commit")
    assert kinds[commit + 1] == "response.create" and kinds.count("response.create") == 1
    assert appends(new) == appends(src.id)  # no silence added without VAD
    assert "train station" in new.transcript_text().lower()

    # a VAD that waits longer than the source's trailing silence: the replay adds the
    # silence it needs after the user's audio, as a live microphone would
    patient = replay(
        src.id, turn_detection={"type": "server_vad", "silence_duration_ms": 2000}, progress=False
    )
    ok, extra = is_subsequence(appends(src.id), appends(patient))
    assert ok and extra and all(not any(chunk) for chunk in extra)
    stopped = events_of(patient, "input_audio_buffer.speech_stopped")
    assert len(stopped) == 1 and "train station" in patient.transcript_text().lower()


def test_realtime_speed_keeps_the_users_pacing(direct):
    src = direct()
    src.send_audio(speak("I would like a cup of coffee."), wait=True, realtime=True)
    src.close()

    def span(session_id: str) -> float:
        t = [
            r["mono"] for r in user_records(session_id) if r["type"] == "input_audio_buffer.append"
        ]
        return t[-1] - t[0]

    fast = replay(src.id, progress=False)
    paced = replay(src.id, speed="realtime", progress=False)
    # not earlier than the user spoke (a lower bound: a slow machine only adds to it)
    n = len(appends(src.id))
    paced_times = [
        r["mono"] for r in user_records(paced) if r["type"] == "input_audio_buffer.append"
    ][:n]
    assert paced_times[-1] - paced_times[0] >= span(src.id) - 0.05
    assert "coffee" in paced.transcript_text().lower() and "coffee" in fast.transcript_text()
    with pytest.raises(ValueError, match="speed"):
        replay(src.id, speed="fast")


# ---------------------------------------------------------------------- bad input


def test_bad_sources_give_clear_errors_and_are_never_modified(direct, tmp_path):
    empty = direct()
    empty.close()
    with pytest.raises(ReplayError, match="no user turns"):
        replay(empty.id)

    src = direct()
    src.say("The quick brown fox")
    src.say("jumps over the lazy dog")
    src.close()
    log_dir = Path(os.environ["REALTIME_WIDGET_LOG_DIR"]) / src.id
    before = tree_hash(log_dir)

    damaged = tmp_path / "damaged"
    shutil.copytree(log_dir, damaged)
    lines = (damaged / "events.jsonl").read_bytes().splitlines(keepends=True)
    lines[4] = b'{"seq": 5, "dir": "client", "ev\n'
    (damaged / "events.jsonl").write_bytes(b"".join(lines))
    with pytest.raises(ReplayError, match=r"events.jsonl, line 5: the log is damaged"):
        replay(damaged)

    cut = tmp_path / "cut"
    shutil.copytree(log_dir, cut)
    data = (cut / "events.jsonl").read_bytes()
    (cut / "events.jsonl").write_bytes(data[:-20])
    n = data.count(b"\n")
    with pytest.raises(ReplayError, match=rf"line {n}: the log is truncated"):
        replay(cut)

    # an override the engine refuses: its error event is in the new session's log
    with pytest.raises(ReplayError, match="threshold") as refused:
        replay(src.id, turn_detection={"type": "server_vad", "threshold": 7})
    event = refused.value.event
    assert (
        event["type"] == "error" and event["error"]["param"] == "session.turn_detection.threshold"
    )
    new_log = open_session(refused.value.session.id).events("error")
    assert new_log["error_message"].tolist() == [event["error"]["message"]]

    with pytest.raises(TypeError, match="stored session"):
        replay(42)
    assert tree_hash(log_dir) == before


def test_an_open_source_is_replayed_up_to_its_last_complete_turn(direct):
    live = direct()
    live.say("Hello there")
    live.say("Good morning")
    live.say("this one is never answered", respond=False)
    live.send_audio(speak("The quick brown fox."), end_turn=False)  # speech, not yet ended
    new = replay(live, progress=False)
    users = new.transcript()
    assert users[users["role"] == "user"]["text"].tolist() == ["Hello there", "Good morning"]
    assert appends(new) == []
    assert not live.closed  # the source goes on
    assert live.say("And again").text == "You said: And again."


def test_ctrl_c_stops_the_replay_and_leaves_a_valid_session(direct, tmp_path):
    src = direct()
    for sentence in ("My sister plays the piano.", "I would like a cup of coffee."):
        src.send_audio(speak(sentence), wait=True, realtime=True)
    src.close()
    logs = Path(os.environ["REALTIME_WIDGET_LOG_DIR"])
    known = {p.name for p in logs.iterdir()}
    stop = threading.Event()

    def interrupt_once_audio_flows() -> None:
        while not stop.is_set():
            for path in logs.iterdir():
                if path.name not in known and (path / "events.jsonl").exists():
                    if b"input_audio_buffer.append" in (path / "events.jsonl").read_bytes():
                        os.kill(os.getpid(), signal.SIGINT)
                        return
            time.sleep(0.05)

    watcher = threading.Thread(target=interrupt_once_audio_flows, daemon=True)
    watcher.start()
    try:
        with pytest.raises(ReplayInterrupted) as stopped:
            replay(src.id, speed="realtime", progress=False)
    finally:
        stop.set()
        watcher.join()
    s = stopped.value.session
    assert isinstance(stopped.value, KeyboardInterrupt) and not s.closed
    assert s.conversation.active_response is None
    assert s.say("Are you there").text == "You said: Are you there."
    assert len(appends(s)) < len(appends(src.id))  # it stopped part way
    assert s.transcript()["text"].iloc[-1] == "You said: Are you there."


# ---------------------------------------------------------------------- hub mode


@pytest.mark.parametrize("hub_options", [{"local_speech": True}])
async def test_replay_through_the_jupyter_servers_hub(
    jp_fetch, jp_serverapp, jp_http_port, jp_base_url, with_speech, hub_log_dir
):
    from realtime_widget import Session

    token = jp_serverapp.identity_provider.token
    url = f"http://127.0.0.1:{jp_http_port}{jp_base_url}"
    src = await asyncio.to_thread(
        lambda: Session("local", mode="hub", server=url, token=token, timeout=60)
    )
    await asyncio.to_thread(src.say, "Hello from the hub")
    await asyncio.to_thread(lambda: src.send_audio(speak("Please turn off the lights."), wait=True))
    new = await asyncio.to_thread(
        lambda: realtime_widget.replay(
            src, mode="hub", server=url, token=token, instructions="Be brief.", progress=False
        )
    )
    try:
        assert new.mode == "hub" and src.mode == "hub"
        assert new.conversation.session["instructions"] == "Be brief."
        tr = await asyncio.to_thread(new.transcript)
        users = tr[tr["role"] == "user"]
        assert users["text"].iloc[0] == "Hello from the hub" and users["input"].iloc[1] == "audio"
        assert "turn off the light" in await asyncio.to_thread(new.transcript_text)
        # the replay is a hub session like any other: its log is on the server
        records = await asyncio.to_thread(new.log, limit=1000, type="input_audio_buffer.append")
        assert len(records) >= len(
            await asyncio.to_thread(src.log, limit=1000, type="input_audio_buffer.append")
        )
        assert (hub_log_dir / new.id / "events.jsonl").exists()
    finally:
        await asyncio.to_thread(new.close)
        await asyncio.to_thread(src.close)


# ---------------------------------------------------------------------- the magic


def test_realtime_replay_magic_and_interrupt_kernel(tmp_path):
    from jupyter_client.manager import start_new_kernel
    from kernel_testing import kernel_env, run_cell

    km, kc = start_new_kernel(kernel_name="python3", env=kernel_env(tmp_path), startup_timeout=120)
    try:
        run_cell(kc, "%load_ext realtime_widget").ok()
        run_cell(kc, "%%realtime -s chat --no-audio\nHello magic").ok()
        run_cell(
            kc,
            """
            def get_weather(city: str) -> str:
                '''The weather in a city.'''
                return f"foggy in {city}"
            """,
        ).ok()
        line = (
            '%realtime_replay chat --instructions "Be brief." --voice echo '
            "--turn-detection none --tools get_weather --no-progress"
        )
        run = run_cell(
            kc,
            f"""
            r = {line}
            import json
            print(json.dumps({{"instructions": r.conversation.session["instructions"],
                              "voice": r.conversation.session["voice"],
                              "td": r.conversation.session["turn_detection"],
                              "tools": sorted(r.tools), "text": r.transcript_text()}}))
            """,
        ).ok()
        got = run.last_json()
        assert got["instructions"] == "Be brief." and got["voice"] == "echo"
        assert got["td"] is None and got["tools"] == ["get_weather"]
        assert got["text"] == "user: Hello magic\nassistant: You said: Hello magic."
        # the replay is the magics' current session now
        events = run_cell(kc, "%realtime_events --type session.update").ok()
        assert "session.update" in events.text

        # in a notebook, a progress bar per user turn (tqdm's widget) that reaches the end
        run_cell(kc, "%%realtime -s chat --no-audio\nAnd once more").ok()
        shown = run_cell(kc, "%realtime_replay chat").ok()
        (bar,) = [d for d in shown.displays if "application/vnd.jupyter.widget-view+json" in d]
        assert re.match(r"replay chat:\s+0%.*\| 0/2 ", bar["text/plain"]), bar
        model_id = bar["application/vnd.jupyter.widget-view+json"]["model_id"]
        final = run_cell(
            kc,
            f"""
            from ipywidgets.widgets.widget import _instances
            box = _instances["{model_id}"]
            print(json.dumps([box.children[0].value, box.children[1].value, box.children[1].max]))
            """,
        ).ok()
        label, value, total = final.last_json()
        assert (label.replace("\u2007", " "), value, total) == ("replay chat: 100%", 2, 2)
        for code, expected in [
            ("%realtime_replay", "one SOURCE"),
            ("%realtime_replay nosuch", "unknown realtime session 'nosuch'"),
            ("%realtime_replay chat --speed warp", "--speed: turns or realtime"),
            ("%realtime_replay chat --turn-detection sometimes", "--turn-detection"),
            ("%realtime_replay chat --config [1]", "--config: a JSON object"),
            ("%realtime_replay chat --bogus 1", "unknown option --bogus"),
        ]:
            bad = run_cell(kc, code)
            assert bad.status == "error" and bad.error["ename"] == "UsageError", bad.error
            assert expected in bad.error["evalue"]

        # "interrupt kernel" during a replay: it stops, and its session stays usable
        spoken = run_cell(
            kc,
            """
            import realtime_widget
            from speech_fixtures import speak
            src = realtime_widget.Session()
            for text in ("My sister plays the piano.", "I would like a cup of coffee."):
                src.send_audio(speak(text), wait=True, realtime=True)
            src.close()
            print(src.id)
            """,
        ).ok()
        source_id = spoken.stdout.strip()
        logs = tmp_path / "logs"
        known = {p.name for p in logs.iterdir()}
        result = {}
        cell = threading.Thread(
            target=lambda: result.update(
                run=run_cell(kc, "r2 = realtime_widget.replay(src, speed='realtime')")
            )
        )
        cell.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and cell.is_alive():
            fresh = [p for p in logs.iterdir() if p.name not in known]
            if any(
                b"input_audio_buffer.append" in (p / "events.jsonl").read_bytes()
                for p in fresh
                if (p / "events.jsonl").exists()
            ):
                km.interrupt_kernel()
                break
            time.sleep(0.05)
        cell.join(120)
        stopped = result["run"]
        assert stopped.status == "error" and stopped.error["ename"] == "ReplayInterrupted", re.sub(
            r"\x1b\[[0-9;]*m", "", stopped.error["traceback"]
        )
        assert "the new session" in stopped.error["evalue"]
        after = run_cell(
            kc,
            """
            import sys
            s2 = sys.last_value.session
            print(json.dumps({"closed": s2.closed, "idle": s2.conversation.active_response is None,
                              "from": s2.replayed_from, "reply": s2.say("Hi there").text}))
            """,
        ).ok()
        assert after.last_json() == {
            "closed": False,
            "idle": True,
            "from": source_id,
            "reply": "You said: Hi there.",
        }
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


# ---------------------------------------------------------------------- grids


def test_replay_many_runs_a_grid_concurrently(direct):
    sources = []
    typed = {}
    for text in ("Good morning", "What is the weather in Paris?"):
        s = direct()
        s.say(text)
        s.send_audio(speak("My sister plays the piano."), wait=True)
        s.close()
        sources.append(s.id)
        typed[s.id] = text
    configs = {
        "terse": {"instructions": "Be terse.", "voice": "echo"},
        "manual": {"turn_detection": None, "tools": [get_weather]},
    }
    grid = realtime_widget.replay_many(sources, configs, max_concurrency=3, progress=False)
    try:
        assert grid.sources == sources and grid.configs == ["terse", "manual"]
        assert sorted(grid.sessions) == sorted((s, c) for s in sources for c in configs)
        assert not grid.errors
        ids = {s.id for s in grid.sessions.values()}
        assert len(ids) == 4 and not ids & set(sources)
        assert all(s.closed for s in grid.sessions.values())  # done: closed, logs kept
        for (source, config), new in grid.sessions.items():
            assert (
                new.replayed_from == source
                and new.transport.summary["name"] == f"{source} | {config}"
            )
            session = new.conversation.session
            if config == "terse":
                assert session["voice"] == "echo" and session["turn_detection"]["type"] == (
                    "server_vad"
                )
            else:
                assert session["turn_detection"] is None
            said = new.transcript()
            assert said[said["role"] == "user"]["input"].tolist() == ["text", "audio"]
            assert "piano" in new.transcript_text()
        # the cells overlapped in time: some replay started before another had finished
        spans = sorted(
            (json_records(s)[0]["mono"], json_records(s)[-1]["mono"])
            for s in grid.sessions.values()
        )
        assert any(b_start < a_end for (_, a_end), (b_start, _) in itertools.pairwise(spans))
        # one comparison for the whole grid: a row per (source, user turn), a column per
        # configuration, each cell that replay's own turn
        table = grid.table
        assert table.names == ["terse", "manual"]
        assert table.index.names == ["source", "turn"]
        assert list(table.index) == [(s, t) for s in sources for t in (0, 1)]
        for (source, config), new in grid.sessions.items():
            said = new.transcript()
            assert table.loc[source, ("user", config)].iloc[0] == typed[source]
            assert (
                table.loc[source, ("assistant", config)].tolist()
                == (said[said["role"] == "assistant"]["text"].tolist()[-2:])
            )
            # each source's block is exactly compare() of that source's replays
            alone = realtime_widget.compare(
                *(grid[(source, c)] for c in grid.configs), names=grid.configs
            )
            pd.testing.assert_frame_equal(pd.DataFrame(table.loc[source]), pd.DataFrame(alone))
        # "manual" has the weather tool: it calls it where the user asked for the weather,
        # and that turn is the one highlighted
        weather, morning = sources[1], sources[0]
        assert table.loc[(weather, 0), ("tools", "manual")] == 'get_weather({"city": "Paris"})'
        assert table.loc[(weather, 0), ("tools", "terse")] == ""
        diff = table.differences()
        assert diff.loc[(weather, 0), ("tools", "manual")]
        assert not diff.loc[(morning, 0)].any() and not diff.loc[(weather, 1)].any()
        assert table[("differs", "")].tolist() == [False, False, True, False]
        html = grid._repr_html_()
        assert "compare: 4 user turns from 2 sources of terse, manual; 1 differ" in html
        # the highlighted cells: the tool call and the answer it replaced, nothing else
        rules = re.findall(r"([^{}]+)\{\s*" + re.escape(HIGHLIGHT), html)
        painted = set(re.findall(r"_row(\d+)_col(\d+)", "".join(rules)))
        row = str(list(table.index).index((weather, 0)))
        assert painted == {
            (row, str(table.columns.get_loc((field, "manual")))) for field in ("assistant", "tools")
        }
        # the summary aggregates each configuration over the whole grid
        summary = table.summary()
        assert list(summary.index) == ["terse", "manual"]
        assert summary["turns"].tolist() == [4, 4]
        assert summary.loc["manual", "tool_agreement"] == 0.75
        assert summary.loc["manual", "differing_turns"] == 1
        assert summary.loc["terse", "user_wer"] == 0.0
        assert summary.loc["manual", "median_latency_ms"] == pytest.approx(
            float(np.median(table[("latency_ms", "manual")])), abs=0.01
        )
        # and again with prices: a cost in every cell
        priced = grid.compare(prices=PRICES)
        assert (priced[("cost", "terse")] > 0).all()
        assert priced.summary().loc["terse", "cost"] == pytest.approx(
            priced[("cost", "terse")].sum()
        )
    finally:
        grid.close()

    with pytest.raises(ReplayError, match="1 of 2 cells failed"):
        realtime_widget.replay_many(
            sources[:1],
            [{"label": "ok"}, {"label": "refused", "turn_detection": {"type": "bogus"}}],
            progress=False,
        )


# ---------------------------------------------------------------------- hosted backends
# The project's own engine server with its speech models stands in for OpenAI and Azure
# (their handshakes, the GA dialect the hub translates to and from).


@pytest.fixture
async def hosted(upstream_key, speech_stack):
    server = await start_engine(api_key=upstream_key, speech=speech_stack)  # noqa: F405
    yield server
    await server.stop()


@pytest.fixture
def hub_options(hosted, upstream_key):
    return {
        "local_speech": True,
        "openai_api_key": upstream_key,
        "openai_url": hosted.url("/v1/realtime"),
        "azure_endpoint": f"http://127.0.0.1:{hosted.port}",
        "azure_api_key": upstream_key,
        "azure_deployment": "rt-deploy",
    }


async def test_replay_of_a_local_session_on_openai_and_azure(
    jp_fetch, jp_serverapp, jp_http_port, jp_base_url, with_speech, hosted
):
    from realtime_widget import Session

    connect = {
        "mode": "hub",
        "server": f"http://127.0.0.1:{jp_http_port}{jp_base_url}",
        "token": jp_serverapp.identity_provider.token,
    }
    src = await asyncio.to_thread(lambda: Session("local", **connect))
    await asyncio.to_thread(src.say, "Hello from the notebook")
    await asyncio.to_thread(lambda: src.send_audio(speak("Please turn off the light."), wait=True))
    src_sent = await asyncio.to_thread(src.log, limit=1000, type="input_audio_buffer.append")
    await asyncio.to_thread(src.close)  # a stored session of the hub, replayed by its id
    for provider in ("openai", "azure"):
        new = await asyncio.to_thread(
            lambda provider=provider: replay(
                src.id, provider=provider, voice="echo", progress=False, **connect
            )
        )
        try:
            assert new.transport.summary["provider"] == provider
            assert new.conversation.session["voice"] == "echo"
            text = await asyncio.to_thread(new.transcript_text)
            assert "You said: Hello from the notebook." in text
            assert "turn off the light" in text.lower()
            sent = await asyncio.to_thread(new.log, limit=1000, type="input_audio_buffer.append")
            assert len(sent) >= len(src_sent)
        finally:
            await asyncio.to_thread(new.close)
    # "OpenAI" refuses an override: its error, translated, raises and is in the new log
    with pytest.raises(ReplayError, match="threshold") as refused:
        await asyncio.to_thread(
            lambda: replay(
                src.id,
                provider="openai",
                turn_detection={"type": "server_vad", "threshold": 7},
                progress=False,
                **connect,
            )
        )
    assert refused.value.session.closed  # closed by replay; its log is on the server
    errors = await asyncio.to_thread(refused.value.session.events, "error")
    assert errors["error_message"].tolist() == [refused.value.event["error"]["message"]]
