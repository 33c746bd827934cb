"""The one log -> conversation path (``realtime_widget.logfile`` and
``realtime_widget.conversation.rebuild``): a log
written by the hub's own ``EventLog`` is read back record by record and rebuilt into the
conversation it recorded, the user's audio byte for byte."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import numpy as np
import pytest
from frames_synth import write_synthetic_log

from realtime_widget.conversation.rebuild import rebuild_conversation
from realtime_widget.hub.eventlog import EventLog
from realtime_widget.logfile import LogFormatError, read_log

RATE = 24000


def pcm(ms: int, start: int = 0) -> bytes:
    n = ms * RATE // 1000
    return ((np.arange(start, start + n) % 20000) - 10000).astype("<i2").tobytes()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def write_turn(directory: Path) -> tuple[bytes, bytes]:
    """One spoken user turn and one audio reply, logged as the hub logs them."""
    log = EventLog.create(directory)
    mic = [pcm(250, start=i * 6000) for i in range(4)]
    for chunk in mic:
        log.append(
            {"type": "input_audio_buffer.append", "audio": b64(chunk)},
            direction="client",
            source="kernel",
        )
    server = [
        {"type": "input_audio_buffer.committed", "event_id": "e1", "item_id": "item_u1"},
        {
            "type": "conversation.item.created",
            "event_id": "e2",
            "previous_item_id": None,
            "item": {
                "id": "item_u1",
                "object": "realtime.item",
                "type": "message",
                "status": "completed",
                "role": "user",
                "content": [{"type": "input_audio", "transcript": None}],
            },
        },
        {
            "type": "conversation.item.created",
            "event_id": "e3",
            "previous_item_id": "item_u1",
            "item": {
                "id": "item_a1",
                "object": "realtime.item",
                "type": "message",
                "status": "in_progress",
                "role": "assistant",
                "content": [],
            },
        },
    ]
    reply = pcm(120, start=7)
    common = {"response_id": "resp_1", "item_id": "item_a1", "output_index": 0}
    server.append(
        {"type": "response.audio.delta", "event_id": "e4", "content_index": 0, **common}
        | {"delta": b64(reply)}
    )
    for ev in server:
        log.append(ev, direction="server", source="upstream")
    log.close()
    return b"".join(mic), reply


def test_read_log_inlines_audio_and_rebuilds_the_conversation(tmp_path: Path) -> None:
    mic, reply = write_turn(tmp_path)
    stored = (tmp_path / "events.jsonl").read_text()
    assert "audio" in stored and b64(mic[:100]) not in stored  # audio is kept apart

    records = list(read_log(tmp_path))
    assert [r["seq"] for r in records] == list(range(1, 9))
    assert records[0]["event"]["audio"] == b64(mic[: 250 * 48])
    assert "audio" not in records[0]  # references are resolved
    refs = list(read_log(tmp_path, audio="ref"))
    assert refs[0]["audio"][0]["nbytes"] == 250 * 48 and "audio" not in refs[0]["event"]

    conv = rebuild_conversation(read_log(tmp_path))
    assert [i.id for i in conv.items] == ["item_u1", "item_a1"]
    assert conv.item("item_u1").audio == mic
    assert conv.item("item_a1").audio == reply


def test_a_corrupt_line_is_named(tmp_path: Path) -> None:
    write_turn(tmp_path)
    events = tmp_path / "events.jsonl"
    lines = events.read_bytes().splitlines(keepends=True)
    lines[4] = lines[4][: len(lines[4]) // 2] + b"\n"  # a record cut in half
    events.write_bytes(b"".join(lines))

    with pytest.raises(LogFormatError) as err:
        list(read_log(tmp_path))
    assert err.value.line == 5 and err.value.path == events
    assert "line 5" in str(err.value) and str(events) in str(err.value)

    kept = list(read_log(tmp_path, on_error="skip"))
    assert [r["seq"] for r in kept] == [1, 2, 3, 4, 6, 7, 8]
    assert events.read_bytes() == b"".join(lines)  # only read, never modified


def test_a_line_still_being_written_is_left_out(tmp_path: Path) -> None:
    mic, _ = write_turn(tmp_path)
    events = tmp_path / "events.jsonl"
    with open(events, "ab") as f:
        f.write(b'{"seq":9,"t":1.0,"dir":"server","type":"response.audio.del')

    records = list(read_log(tmp_path))
    assert [r["seq"] for r in records] == list(range(1, 9))
    assert rebuild_conversation(records).item("item_u1").audio == mic


def test_a_json_value_that_is_not_a_record_is_named(tmp_path: Path) -> None:
    (tmp_path / "events.jsonl").write_bytes(b'{"seq": 1, "event": {}}\n[1, 2]\n')
    with pytest.raises(LogFormatError, match="line 2"):
        list(read_log(tmp_path))


def _digest(directory: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()


def test_a_stored_log_reads_back_as_the_hub_reads_it(tmp_path: Path) -> None:
    """The hub (EventLog, restoring a session) and the stored-log reader (DataFrames,
    replay) see the same records, and the same conversation; the log is only read."""
    synth = write_synthetic_log(tmp_path / "s", turns=2, appends_per_turn=4)
    before = _digest(tmp_path / "s")
    records = list(read_log(tmp_path / "s"))
    live = EventLog.open(tmp_path / "s")
    assert records == list(live.iter_all(audio="inline"))
    live.close()
    conv = rebuild_conversation(records)
    user = [i for i in conv.items if i.role == "user"]
    assert [i.id for i in user] == [t.user_item for t in synth.turns]
    assert all(len(i.audio) == 4 * 4800 for i in user)  # every append, byte for byte
    assert _digest(tmp_path / "s") == before
