"""The one way from a stored log to a conversation (``hub.logreader``): what the hub
restores, the DataFrames show and ``replay`` sends all come from it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from frames_synth import write_synthetic_log

from realtime_widget.hub.eventlog import EventLog
from realtime_widget.hub.logreader import LogCorrupt, conversation_from_log, read_records


def _digest(directory: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()


def test_a_stored_log_reads_back_as_the_live_log_reads_it(tmp_path):
    synth = write_synthetic_log(tmp_path / "s", turns=2, appends_per_turn=4)
    before = _digest(tmp_path / "s")
    records = list(read_records(tmp_path / "s"))
    live = EventLog.open(tmp_path / "s")
    assert records == list(live.iter_all(audio="inline"))
    live.close()
    conv = conversation_from_log(records)
    user = [i for i in conv.items if i.role == "user"]
    assert [i.id for i in user] == [t.user_item for t in synth.turns]
    # every user audio append is back, byte for byte: 4 appends of the synthetic chunk
    assert all(len(i.audio) == 4 * 4800 for i in user)
    assert _digest(tmp_path / "s") == before  # the log is only read


def test_a_line_being_written_is_left_out_and_a_corrupt_line_is_named(tmp_path):
    write_synthetic_log(tmp_path / "s", turns=1)
    events = tmp_path / "s" / "events.jsonl"
    n = len(events.read_bytes().splitlines())
    with open(events, "ab") as f:
        f.write(b'{"seq": 99999, "dir": "server", "ev')  # an open session's last line
    assert len(list(read_records(tmp_path / "s"))) == n
    lines = events.read_bytes().splitlines(keepends=True)
    lines[3] = b'{"seq": 4, "dir": "server", "event": {"type": "x"\n'
    events.write_bytes(b"".join(lines))
    with pytest.raises(LogCorrupt, match=r"events.jsonl: line 4 is not a log record") as err:
        list(read_records(tmp_path / "s"))
    assert err.value.line == 4
    assert len(list(read_records(tmp_path / "s", corrupt="skip"))) == n - 1
