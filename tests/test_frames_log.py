"""The DataFrame layer on logs written by the hub's own EventLog on a fake clock: every
column and value is checked against the records (read back with the hub's own reader)
and against the schedule the log was written with."""

from __future__ import annotations

import base64
import json

import numpy as np
import pandas as pd
import pytest
from frames_synth import write_synthetic_log

from realtime_widget.frames import EVENT_COLUMNS, PRICE_KEYS, open_session, stored_sessions
from realtime_widget.frames import reader as frames_reader
from realtime_widget.frames.columns import elapsed_ms
from realtime_widget.hub.eventlog import EventLog


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    root = tmp_path_factory.mktemp("logs")
    return write_synthetic_log(
        root / "rts_0123456789abcdef",
        turns=4,
        appends_per_turn=5,
        deltas_per_turn=6,
        cancel_every=3,
    )


def _their_records(path):
    log = EventLog.open(path)
    return log.read(list(range(1, log.last_seq + 1)), audio="ref", flush=False)


def test_events_columns_and_values_match_the_records(synth):
    f = open_session(synth.path)
    df = f.events()
    assert list(df.columns) == EVENT_COLUMNS
    records = _their_records(synth.path)
    assert len(df) == len(records) == synth.n_events
    assert df["seq"].tolist() == [r["seq"] for r in records]
    assert df["type"].astype(str).tolist() == [r["type"] for r in records]
    assert df["direction"].astype(str).tolist() == [r["dir"] for r in records]
    assert df["source"].astype(str).tolist() == [r["source"] for r in records]
    for col in ("event_id", "item_id", "response_id"):
        assert [None if pd.isna(v) else v for v in df[col]] == [r.get(col) for r in records], col
    assert [None if pd.isna(v) else v for v in df["client"].astype(object)] == [
        r.get("client") for r in records
    ]
    # times: the fake clock's schedule, in ms since the first event
    t0 = records[0]["mono"]
    assert np.allclose(df["t_ms"].to_numpy(), [(r["mono"] - t0) * 1000 for r in records], atol=0.01)
    micros = (df["wall_time"] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(microseconds=1)
    assert micros.tolist() == [round(r["t"] * 1e6) for r in records]
    # event fields
    for row, rec in zip(df.itertuples(index=False), records, strict=True):
        ev = rec["event"]
        assert (None if pd.isna(row.output_index) else row.output_index) == ev.get("output_index")
        assert (None if pd.isna(row.content_index) else row.content_index) == ev.get(
            "content_index"
        )
        delta = ev.get("delta")
        assert (None if pd.isna(row.delta_chars) else row.delta_chars) == (
            len(delta) if isinstance(delta, str) else None
        )
        refs = rec.get("audio") or []
        if refs:
            assert row.audio_ms == pytest.approx(sum(r["nbytes"] for r in refs) / 48.0)
        else:
            assert np.isnan(row.audio_ms)
        for key in ("audio_start_ms", "audio_end_ms"):
            value = getattr(row, key)
            assert (None if pd.isna(value) else value) == ev.get(key)
    # audio deltas: 4800 bytes of PCM16 at 24 kHz = 100 ms each
    audio = df[df["type"] == "response.audio.delta"]
    assert len(audio) == sum(len(t.deltas) for t in synth.turns) and set(audio["audio_ms"]) == {
        100.0
    }
    appends = df[df["type"] == "input_audio_buffer.append"]
    assert (
        set(appends["direction"]) == {"client"}
        and set(appends["source"]) == {"kernel"}
        and set(appends["audio_ms"]) == {100.0}
    )


def test_filters_and_payloads(synth):
    f = open_session(synth.path)
    done = f.events("response.*", last=2)
    assert len(done) == 2 and list(done["type"]) == ["response.output_item.done", "response.done"]
    assert set(f.events(["error", "*.speech_*"])["type"]) == {
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
    }
    assert set(f.events("response.text.delta,response.audio.delta")["type"]) == {
        "response.audio.delta"
    }
    assert set(f.events(direction="client")["direction"]) == {"client"}
    with pytest.raises(ValueError):
        f.events(direction="up")
    # the payload is one call away, from the full frame or a filtered one
    records = {r["seq"]: r for r in _their_records(synth.path)}
    last = done.payload()
    assert last == records[int(done["seq"].iloc[-1])]["event"]
    assert last["response"]["id"] == synth.turns[-1].response_id
    deltas = f.events("response.audio.delta", last=3)
    for seq, payload in zip(deltas["seq"], deltas.payloads(audio="inline"), strict=True):
        inline = EventLog.open(synth.path).read([int(seq)], audio="inline", flush=False)[0]["event"]
        assert payload == inline and base64.b64decode(payload["delta"])  # the audio, back in place
    assert "delta" not in deltas.payload()  # omitted by default
    assert deltas.payload(audio="ref")["x_audio_refs"][0]["nbytes"] == 4800
    assert [r["seq"] for r in deltas.records()] == deltas["seq"].tolist()
    with pytest.raises(KeyError):
        f.records([10**9])


def test_latency_follows_the_schedule(synth):
    lat = open_session(synth.path).latency()
    assert lat["response_id"].tolist() == [t.response_id for t in synth.turns]
    assert set(lat["trigger"]) == {"speech"}
    for row, plan in zip(lat.itertuples(index=False), synth.turns, strict=True):
        t0 = 0.0
        assert row.to_created_ms == pytest.approx(
            (plan.created_s - plan.speech_stopped_s) * 1000, abs=0.01
        )
        assert row.to_first_audio_ms == pytest.approx(
            (plan.first_audio_s - plan.speech_stopped_s) * 1000, abs=0.01
        )
        assert row.to_first_text_ms == pytest.approx(row.to_first_audio_ms, abs=0.01)
        assert row.to_done_ms == pytest.approx(
            (plan.done_s - plan.speech_stopped_s) * 1000, abs=0.01
        )
        assert row.created_ms <= row.first_audio_ms <= row.done_ms and t0 <= row.trigger_ms
        assert row.audio_ms == pytest.approx(100.0 * len(plan.deltas))
        assert row.status == plan.status
        assert row.interrupted == (plan.status == "cancelled")
        assert (None if pd.isna(row.reason) else row.reason) == (
            "turn_detected" if plan.status == "cancelled" else None
        )


def test_usage_and_cost(synth):
    f = open_session(synth.path)
    u = f.usage()
    assert u["response_id"].tolist() == [t.response_id for t in synth.turns]
    n = np.arange(1, len(synth.turns) + 1)
    assert u["input_tokens"].tolist() == list(60.0 + n)
    assert u["cached_tokens"].tolist() == [20.0] * len(n)
    assert (u["cached_tokens"] <= u["input_tokens"]).all()  # cached is a part of the input
    assert (u["uncached_input_tokens"] + u["cached_tokens"] == u["input_tokens"]).all()
    assert (u["cached_text_tokens"] + u["cached_audio_tokens"] == u["cached_tokens"]).all()
    assert (u["input_tokens"] + u["output_tokens"] == u["total_tokens"]).all()
    prices = {
        "input_text": 4.0,
        "cached_text": 0.4,
        "input_audio": 32.0,
        "cached_audio": 0.4,
        "output_text": 16.0,
        "output_audio": 64.0,
    }
    c = f.usage(prices)
    first = c.iloc[0]
    expected = (
        (31 - 15) * 4.0 + 15 * 0.4 + (30 - 5) * 32.0 + 5 * 0.4 + 10 * 16.0 + 30 * 64.0
    ) / 1e6
    assert first["cost"] == pytest.approx(expected)
    total = f.usage(prices, total=True)
    assert total.index.tolist() == ["total"] and total["responses"].iloc[0] == len(n)
    assert total["cost"].iloc[0] == pytest.approx(c["cost"].sum())
    assert total["input_tokens"].iloc[0] == u["input_tokens"].sum()
    # without a cached price, cached tokens cost as much as the rest of the input
    no_discount = f.usage({"input_text": 1, "input_audio": 1, "output_text": 1, "output_audio": 1})
    assert no_discount["cost"].iloc[0] == pytest.approx(float(u["total_tokens"].iloc[0]) / 1e6)
    with pytest.raises(ValueError, match="unknown key"):
        f.usage({"input": 1})
    with pytest.raises(ValueError, match="missing"):
        f.usage({"input_text": 1})
    assert set(PRICE_KEYS) == {
        "input_text",
        "cached_text",
        "input_audio",
        "cached_audio",
        "output_text",
        "output_audio",
    }


def test_transcript_and_audio_of_a_stored_session(synth):
    f = open_session(synth.path)
    tr = f.transcript()
    assert tr["role"].tolist() == ["user", "assistant"] * len(synth.turns)
    assistant = tr[tr["role"] == "assistant"]
    assert assistant["text"].tolist() == ["".join(t.deltas) for t in synth.turns]
    assert assistant["interrupted"].tolist() == [t.status == "cancelled" for t in synth.turns]
    assert assistant["response_id"].tolist() == [t.response_id for t in synth.turns]
    users = tr[tr["role"] == "user"]
    assert set(users["input"]) == {"audio"} and set(users["source"]) == {"kernel"}
    starts = f.events("input_audio_buffer.speech_started")["t_ms"].tolist()
    assert users["start_ms"].tolist() == starts  # a spoken turn starts when VAD heard it
    # audio of an assistant item: every delta's bytes, in order
    plan = synth.turns[0]
    a = f.audio(plan.assistant_item)
    raw = (synth.path / "audio" / f"item-{plan.assistant_item}.pcm").read_bytes()
    assert (
        a.rate == 24000
        and a.tobytes() == raw
        and a.seconds == pytest.approx(len(plan.deltas) * 0.1)
    )
    assert "<audio" in a._repr_html_()
    stream = f.audio("input")
    assert stream.tobytes() == (synth.path / "audio" / "input.pcm").read_bytes()
    with pytest.raises(KeyError, match="no item 'nope'"):
        f.audio("nope")


def test_open_by_id_and_the_list_of_stored_sessions(synth, monkeypatch, tmp_path):
    monkeypatch.setenv("REALTIME_WIDGET_LOG_DIR", str(synth.path.parent))
    f = open_session(synth.path.name)
    assert f.id == synth.path.name and f.name == "synthetic" and not f.live
    listed = stored_sessions()
    assert synth.path.name in listed["id"].tolist()
    with pytest.raises(FileNotFoundError, match="looked in"):
        open_session("rts_doesnotexist", log_dir=tmp_path)
    html = f._repr_html_()
    assert "synthetic" in html and "responses" in html


def test_fast_and_per_record_paths_agree(synth, monkeypatch):
    fast = open_session(synth.path).events()

    def refuse(buf):
        raise frames_reader._Refused("forced")

    monkeypatch.setattr(frames_reader, "_fast_chunk", refuse)
    slow_frames = open_session(synth.path)
    slow = slow_frames.events()
    assert slow_frames._table.slow_chunks >= 1
    pd.testing.assert_frame_equal(pd.DataFrame(fast), pd.DataFrame(slow))
    assert slow.payload(5) == fast.payload(5)


def test_odd_records_only_cost_their_own_chunk(tmp_path):
    """A record the fast reader refuses (an integer event_id, an object delta), a damaged
    line and a line still being written: the log is read all the same."""
    path = tmp_path / "rts_odd"
    log = EventLog.create(path)
    for i in range(300):
        log.append(
            {
                "type": "response.text.delta",
                "event_id": f"e{i}",
                "response_id": "r1",
                "item_id": "i1",
                "output_index": 0,
                "content_index": 0,
                "delta": "abc",
            },
            direction="server",
            source="upstream",
        )
    log.append(
        {"type": "x_custom", "event_id": 77, "delta": {"weird": True}},
        direction="server",
        source="upstream",
    )
    log.close()
    with open(path / "events.jsonl", "ab") as fh:
        fh.write(b"this line is damaged\n")
        fh.write(
            json.dumps(
                {
                    "seq": 302,
                    "t": 1.0,
                    "mono": 1.0,
                    "dir": "server",
                    "source": "upstream",
                    "type": "late",
                    "event": {"type": "late"},
                }
            ).encode()
            + b"\n"
        )
        fh.write(b'{"seq": 303, "t": 1.0, "mono"')  # being written
    table = frames_reader.LogTable.from_file(path / "events.jsonl", chunk_bytes=4096)
    assert table.refresh() == 302
    assert 1 <= table.slow_chunks < len(table._chunks)
    f = open_session(path)
    df = f.events()
    assert len(df) == 302 and df["seq"].tolist() == list(range(1, 303))
    odd = df[df["type"] == "x_custom"].iloc[0]
    assert odd["event_id"] == "77" and pd.isna(odd["delta_chars"])
    assert (df[df["type"] == "response.text.delta"]["delta_chars"] == 3).all()
    assert f.records([302])[0]["type"] == "late"
    # the line being written is finished: the next read picks it up, and only it
    with open(path / "events.jsonl", "ab") as fh:
        fh.write(
            b': 1.0, "dir": "server", "source": "upstream", "type": "finished", "event": {"type": '
            b'"finished"}}\n'
        )
    assert table.refresh() == 1 and table.num_rows == 303
    assert f.events(last=1)["type"].iloc[0] == "finished"


def test_elapsed_time_survives_a_clock_jump():
    t = np.array([100.0, 100.5, 101.0, 5000.0, 5000.25])
    mono = np.array([10.0, 10.5, 11.0, 3.0, 3.25])  # the server restarted between 3 and 4
    assert elapsed_ms(t, mono).tolist() == [0.0, 500.0, 1000.0, 4900000.0, 4900250.0]


def test_timeline_plot(synth):
    import matplotlib

    matplotlib.use("Agg")
    ax = open_session(synth.path).timeline()
    assert [t.get_text() for t in ax.get_yticklabels()] == ["errors", "tools", "assistant", "user"]
    assert len(ax.collections) >= 3 * len(synth.turns)  # user speech + response spans
    assert ax.get_xlabel().startswith("seconds")


def test_large_closed_sessions_are_cached(synth, tmp_path, monkeypatch):
    from realtime_widget.frames import cache

    monkeypatch.setenv("REALTIME_WIDGET_FRAMES_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cache, "CACHE_MIN_ROWS", 1)
    cold = open_session(synth.path)
    assert (
        not cold._table.loaded_from_cache and len(list((tmp_path / "cache").glob("*.arrow"))) == 1
    )
    warm = open_session(synth.path)
    assert warm._table.loaded_from_cache
    pd.testing.assert_frame_equal(pd.DataFrame(warm.events()), pd.DataFrame(cold.events()))
    assert warm.events("response.done").payload() == cold.events("response.done").payload()
    pd.testing.assert_frame_equal(warm.latency(), cold.latency())
    # the log grows (the session was resumed): the cache no longer matches and is replaced
    copy = tmp_path / synth.path.name
    import shutil

    shutil.copytree(synth.path, copy)
    first = open_session(copy)
    assert not first._table.loaded_from_cache
    with open(copy / "events.jsonl", "ab") as fh:
        fh.write(
            json.dumps(
                {
                    "seq": synth.n_events + 1,
                    "t": 2e9,
                    "mono": 2e3,
                    "dir": "server",
                    "source": "hub",
                    "type": "x_hub.status",
                    "event": {"type": "x_hub.status", "status": "open"},
                }
            ).encode()
            + b"\n"
        )
    grown = open_session(copy)
    assert not grown._table.loaded_from_cache and len(grown.events()) == synth.n_events + 1
    assert len(list((tmp_path / "cache").glob(f"{copy.name}-*.arrow"))) == 1
    monkeypatch.setenv("REALTIME_WIDGET_FRAMES_CACHE", "off")
    assert cache.cache_dir() is None


def test_html_views(synth):
    f = open_session(synth.path)
    tr = f.transcript()
    chat = tr._repr_html_()
    assert (
        "rtw-turn rtw-user" in chat and "rtw-turn rtw-assistant" in chat and "[interrupted]" in chat
    )
    assert synth.turns[0].deltas[0].strip() in chat
    table = tr[["role", "text"]]._repr_html_()  # a selection of columns shows as a table
    assert "<table" in table and "rtw-turn" not in table
    events = f.events(last=3)._repr_html_()
    assert "events of session" in events and "<table" in events and ".payload(seq)" in events
    assert type(tr[tr["role"] == "user"]).__name__ == "TranscriptFrame"  # filtering keeps the type
    assert f.events("error").source is f
