"""The per-session event log: records, raw audio side files, paging, crash repair, retention."""

from __future__ import annotations

import base64
import json
import os
import time

import numpy as np
import pytest

from realtime_widget.hub.eventlog import (
    EventLog,
    apply_retention,
    scan_sessions,
    valid_session_id,
)


def _pcm(n: int, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(-3000, 3000, n, dtype=np.int16).tobytes()


def test_audio_is_stored_once_as_raw_pcm_and_comes_back_exactly(tmp_path):
    log = EventLog.create(tmp_path / "s1")
    chunk_in, chunk_out = _pcm(2400, 1), _pcm(4800, 2)
    b64_in, b64_out = base64.b64encode(chunk_in).decode(), base64.b64encode(chunk_out).decode()
    append = {"type": "input_audio_buffer.append", "event_id": "e1", "audio": b64_in}
    delta = {
        "type": "response.audio.delta",
        "event_id": "e2",
        "response_id": "r1",
        "item_id": "item_1",
        "output_index": 0,
        "content_index": 0,
        "delta": b64_out,
    }
    seq1, wire1, raw1 = log.append(append, direction="client", source="widget", client="c1")
    seq2, wire2, raw2 = log.append(delta, direction="server", source="upstream")
    log.flush()
    assert (seq1, seq2) == (1, 2)
    assert (
        json.loads(wire1) == append and json.loads(wire2) == delta
    )  # the wire form is the whole event
    assert (raw1, raw2) == (chunk_in, chunk_out)  # decoded once, handed to the caller

    text = (tmp_path / "s1" / "events.jsonl").read_text()
    assert b64_in not in text and b64_out not in text  # no base64 in the log
    assert (tmp_path / "s1" / "audio" / "input.pcm").read_bytes() == chunk_in
    assert (tmp_path / "s1" / "audio" / "item-item_1.pcm").read_bytes() == chunk_out

    ref, inline = log.read([1, 2]), log.read([1, 2], audio="inline")
    assert "audio" not in ref[0]["event"] and ref[0]["audio"][0]["nbytes"] == len(chunk_in)
    assert (
        ref[1]["item_id"] == "item_1" and ref[1]["response_id"] == "r1" and ref[0]["client"] == "c1"
    )
    assert [r["event"] for r in inline] == [append, delta]
    assert [json.loads(f) for f in log.wire_frames([2])] == [{**delta, "x_seq": 2}]


def test_item_audio_inside_item_create_is_taken_out(tmp_path):
    log = EventLog.create(tmp_path / "s")
    pcm = _pcm(960)
    event = {
        "type": "conversation.item.create",
        "item": {
            "id": "u1",
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_audio", "audio": base64.b64encode(pcm).decode(), "transcript": "hi"}
            ],
        },
    }
    log.append(event, direction="client", source="kernel")
    rec = log.read([1])[0]
    assert (
        "audio" not in rec["event"]["item"]["content"][0]
        and rec["event"]["item"]["content"][0]["transcript"] == "hi"
    )
    assert log.read([1], audio="inline")[0]["event"] == event
    assert (tmp_path / "s" / "audio" / "item-u1.pcm").read_bytes() == pcm


def test_bad_base64_and_hostile_ids_are_kept_safely(tmp_path):
    log = EventLog.create(tmp_path / "s")
    bad = {"type": "input_audio_buffer.append", "audio": "not base64!!"}
    evil = {
        "type": "response.audio.delta",
        "item_id": "../../etc/passwd",
        "delta": base64.b64encode(b"\0\0").decode(),
    }
    log.append(bad, direction="client", source="widget")
    log.append(evil, direction="server", source="upstream")
    assert log.read([1])[0]["event"] == bad  # not audio: stored as it came
    files = os.listdir(tmp_path / "s" / "audio")
    assert len(files) == 1 and files[0].startswith("item-x") and "/" not in files[0]
    assert log.read([2], audio="inline")[0]["event"] == evil


def test_paging_and_filters(tmp_path):
    log = EventLog.create(tmp_path / "s")
    for i in range(10):
        log.append(
            {"type": "response.text.delta", "delta": str(i)}, direction="server", source="upstream"
        )
        log.append({"type": "response.create"}, direction="client", source="kernel")
    assert log.select(after=0, limit=3) == [1, 2, 3]
    assert log.select(after=4, limit=2, types=["response.text.*"]) == [5, 7]
    assert log.select(direction="client", limit=2) == [2, 4]
    assert log.select(types=["nothing"]) == []
    log.append({"type": "session.created"}, direction="server", source="upstream", quiet=True)
    assert 21 not in log.select(include_quiet=False) and 21 in log.select()


def test_reopen_indexes_and_repairs_a_torn_last_line(tmp_path):
    log = EventLog.create(tmp_path / "s")
    for i in range(5):
        log.append({"type": "x", "n": i}, direction="server", source="upstream")
    log.close()
    with open(tmp_path / "s" / "events.jsonl", "ab") as f:
        f.write(b'{"seq": 6, "type": "torn')  # a crash in the middle of a write
    again = EventLog.open(tmp_path / "s")
    assert again.last_seq == 5
    assert [r["event"]["n"] for r in again.read([1, 5])] == [0, 4]
    seq = again.append({"type": "y"}, direction="server", source="hub").seq
    again.flush()
    assert seq == 6 and again.read([6])[0]["event"] == {"type": "y"}
    lines = (tmp_path / "s" / "events.jsonl").read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [1, 2, 3, 4, 5, 6]


def test_size_limit_stops_storing_audio_but_keeps_events(tmp_path):
    log = EventLog.create(tmp_path / "s", max_bytes=20_000)
    for i in range(10):
        log.append(
            {
                "type": "input_audio_buffer.append",
                "audio": base64.b64encode(_pcm(2400, i)).decode(),
            },
            direction="client",
            source="widget",
        )
    assert log.n_events == 10 and log.audio_dropped > 0
    refs = [r["audio"][0] for r in log.read(list(range(1, 11)))]
    assert refs[0].get("dropped") is None and refs[-1]["dropped"] == "max_bytes"
    assert log.size_bytes <= 20_000 + 2000


def test_retention_by_age_and_total_size(tmp_path):
    now = time.time()
    for n, age_days in enumerate([40, 10, 1, 0]):
        sid = f"rts_{n}"
        log = EventLog.create(tmp_path / sid)
        log.write_meta({"id": sid})
        log.append(
            {
                "type": "input_audio_buffer.append",
                "audio": base64.b64encode(_pcm(24000, n)).decode(),
            },
            direction="client",
            source="widget",
        )
        log.close()
        stamp = now - age_days * 86400
        for root, _, files in os.walk(tmp_path / sid):
            for name in files:
                os.utime(os.path.join(root, name), (stamp, stamp))
    deleted = apply_retention(tmp_path, retention_days=30, max_total_bytes=None, now=now)
    assert deleted == ["rts_0"]
    deleted = apply_retention(
        tmp_path, retention_days=30, max_total_bytes=100_000, keep={"rts_1"}, now=now
    )
    assert deleted == ["rts_2"]  # the oldest one not kept (rts_1 is live)
    assert sorted(s.id for s in scan_sessions(tmp_path)) == ["rts_1", "rts_3"]


def test_session_ids_that_could_name_other_directories_are_refused():
    assert valid_session_id("rts_abc123")
    for bad in ("..", "../x", "a/b", "", "x" * 65, None, 5, "a b"):
        assert not valid_session_id(bad)


@pytest.mark.parametrize(
    "text_of",
    [
        lambda ev: json.dumps(ev),  # the standard library's spacing
        lambda ev: json.dumps(ev, separators=(",", ":")),  # compact, as the service sends
        lambda ev: json.dumps(
            {"delta": ev["delta"], **{k: v for k, v in ev.items() if k != "delta"}}, indent=1
        ),  # first, pretty
        # the audio last, as clients and the service write it (the per-frame path)
        lambda ev: json.dumps(
            {**{k: v for k, v in ev.items() if k != "delta"}, "delta": ev["delta"]}
        ),
        lambda ev: json.dumps(
            {**{k: v for k, v in ev.items() if k != "delta"}, "delta": ev["delta"]},
            separators=(",", ":"),
        ),
        lambda ev: json.dumps({"type": ev["type"], "delta": ev["delta"]}, separators=(",", ":")),
        lambda ev: (
            json.dumps(ev).replace(ev["delta"], ev["delta"].replace("/", "\\/"))[:-1] + "  }"
        ),  # escaped '/', spaces
    ],
)
def test_audio_is_cut_from_the_exact_text_whatever_its_layout(tmp_path, text_of):
    log = EventLog.create(tmp_path / "s")
    chunk = _pcm(480, 3)
    delta = {
        "type": "response.audio.delta",
        "event_id": "e1",
        "response_id": "r",
        "item_id": "i",
        "output_index": 0,
        "content_index": 0,
        "delta": base64.b64encode(chunk).decode(),
        "x_t0": 1.25,
    }
    text = text_of(delta)
    delta = json.loads(text)  # the event as parsed from that text
    seq, wire, raw = log.append(delta, direction="server", source="upstream", text=text)
    assert wire == text and raw == chunk  # the wire keeps the exact text
    rec = log.read([seq])[0]
    assert rec["event"] == {k: v for k, v in delta.items() if k != "delta"}
    [ref] = rec["audio"]
    assert {k: ref[k] for k in ("path", "nbytes", "format", "offset")} == {
        "path": ["delta"],
        "nbytes": len(chunk),
        "format": "pcm16",
        "offset": 0,
    }
    assert log.read([seq], audio="inline")[0]["event"] == delta
    assert log.read_audio(ref) == chunk


def test_a_value_repeated_elsewhere_is_not_cut_by_guesswork(tmp_path):
    """The same base64 also inside another field: the text cannot be cut unambiguously,
    so the record is re-encoded from the event instead (and still reads back whole)."""
    log = EventLog.create(tmp_path / "s")
    b64 = base64.b64encode(_pcm(480, 4)).decode()
    delta = {"type": "response.audio.delta", "item_id": "i", "delta": b64, "x_copy": b64}
    seq, _, raw = log.append(delta, direction="server", source="upstream", text=json.dumps(delta))
    assert raw == base64.b64decode(b64)
    assert log.read([seq])[0]["event"] == {
        "type": "response.audio.delta",
        "item_id": "i",
        "x_copy": b64,
    }
    assert log.read([seq], audio="inline")[0]["event"] == delta
    # As the last member the audio is unambiguous (an unescaped '"' only delimits strings).
    nested = {"type": "response.audio.delta", "item_id": "i", "x": {"delta": b64}, "delta": b64}
    seq = log.append(nested, direction="server", source="upstream", text=json.dumps(nested)).seq
    assert log.read([seq])[0]["event"] == {
        "type": "response.audio.delta",
        "item_id": "i",
        "x": {"delta": b64},
    }
    assert log.read([seq], audio="inline")[0]["event"] == nested


def test_a_pretty_printed_event_stays_one_record(tmp_path):
    log = EventLog.create(tmp_path / "s")
    event = {"type": "session.update", "session": {"instructions": "line one\nline two"}}
    text = json.dumps(event, indent=2)
    assert log.append(event, direction="client", source="kernel", text=text).wire == text
    log.append({"type": "x"}, direction="server", source="hub")
    log.close()
    again = EventLog.open(tmp_path / "s")
    assert again.last_seq == 2 and [r["event"] for r in again.read([1, 2])] == [
        event,
        {"type": "x"},
    ]


def test_sequence_numbers_handed_out_before_a_crash_are_never_reused(tmp_path):
    from realtime_widget.hub.eventlog import SEQ_FILE

    log = EventLog.create(tmp_path / "s")
    for n in range(3):
        log.append({"type": "x", "n": n}, direction="server", source="hub")
    log.close()  # a clean close: nothing to skip
    again = EventLog.open(tmp_path / "s")
    assert again.append({"type": "x", "n": 3}, direction="server", source="hub").seq == 4
    again.flush()
    # A crash: numbers 5..10 reached clients, their records never reached the file (the
    # reservation the hub wrote before using them is all that is left).
    (tmp_path / "s" / SEQ_FILE).write_bytes(b"10\n")
    del again
    crashed = EventLog.open(tmp_path / "s")
    assert crashed.last_seq == 4
    seq = crashed.append({"type": "after"}, direction="server", source="upstream").seq
    assert seq == 12  # 5..10 skipped, 11 is the marker
    marker = crashed.read([11])[0]
    assert marker["quiet"] and marker["event"] == {
        "type": "x_hub.seq_gap",
        "first_seq": 5,
        "last_seq": 10,
    }
    assert crashed.select() == [1, 2, 3, 4, 11, 12]
    assert crashed.select(include_quiet=False) == [1, 2, 3, 4, 12]
    assert [r["seq"] for r in crashed.read(list(range(1, 13)))] == [1, 2, 3, 4, 11, 12]
    crashed.close()
    reopened = EventLog.open(tmp_path / "s")  # the index rebuilt from the file agrees
    assert reopened.last_seq == 12 and reopened.select() == [1, 2, 3, 4, 11, 12]
    assert [r["event"]["type"] for r in reopened.iter_all()] == ["x"] * 4 + [
        "x_hub.seq_gap",
        "after",
    ]
