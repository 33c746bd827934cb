"""Reading a session's event log (``events.jsonl``, see :mod:`realtime_widget.hub.eventlog`)
into one flat Arrow table, fast.

The log is parsed in chunks of whole lines. Each chunk goes through pyarrow's
multithreaded C++ JSON reader with an explicit schema that names only the fields the
DataFrames need (everything else in a record is skipped by the parser, never turned into
Python objects). A chunk that the fast reader refuses (a field of an unexpected type, a
damaged line) is parsed again record by record in Python, with the same result columns,
so one odd event never costs more than its own chunk.

Reading is incremental: a live log is re-read from where the last read stopped, up to
its last complete line (a line being written is left for the next read).

Byte offsets of each record's line are computed lazily, per chunk, the first time a
record's full payload is asked for (:meth:`LogTable.records`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..logfile import parse_record

__all__ = ["COLUMNS", "FLAT_SCHEMA", "LogTable", "audio_ms_per_byte"]

CHUNK_BYTES = 32 * 1024 * 1024

# Flat result columns: (name, arrow type name)
COLUMNS: list[tuple[str, str]] = [
    ("seq", "int64"),
    ("t", "float64"),
    ("mono", "float64"),
    ("dir", "string"),
    ("source", "string"),
    ("client", "string"),
    ("type", "string"),
    ("event_id", "string"),
    ("item_id", "string"),
    ("response_id", "string"),
    ("quiet", "bool"),
    ("output_index", "int64"),
    ("content_index", "int64"),
    ("delta_len", "int64"),
    ("audio_ms", "float64"),
    ("audio_start_ms", "int64"),
    ("audio_end_ms", "int64"),
    ("error_type", "string"),
    ("error_code", "string"),
    ("error_message", "string"),
]

# where each flat column comes from in a LogRecord (a path of keys)
_PATHS: dict[str, tuple[str, ...]] = {
    "output_index": ("event", "output_index"),
    "content_index": ("event", "content_index"),
    "audio_start_ms": ("event", "audio_start_ms"),
    "audio_end_ms": ("event", "audio_end_ms"),
    "error_type": ("event", "error", "type"),
    "error_code": ("event", "error", "code"),
    "error_message": ("event", "error", "message"),
}
_HEAD = (
    "seq",
    "t",
    "mono",
    "dir",
    "source",
    "client",
    "type",
    "event_id",
    "item_id",
    "response_id",
    "quiet",
)


def audio_ms_per_byte(fmt: Any) -> float:
    """Milliseconds of audio per stored byte: PCM16 at 24 kHz, G.711 at 8 kHz."""
    if isinstance(fmt, str) and fmt.startswith("g711"):
        return 1000.0 / 8000.0
    return 1000.0 / 48000.0


def _pa() -> Any:
    import pyarrow as pa

    return pa


def _arrow_type(pa: Any, name: str) -> Any:
    return {
        "int64": pa.int64(),
        "float64": pa.float64(),
        "string": pa.string(),
        "bool": pa.bool_(),
    }[name]


def flat_schema() -> Any:
    pa = _pa()
    return pa.schema([(name, _arrow_type(pa, kind)) for name, kind in COLUMNS])


FLAT_SCHEMA = None  # built lazily (pyarrow is imported on first use)


def _read_schema() -> Any:
    """The nested schema the fast JSON reader is given (only what we need)."""
    pa = _pa()
    types = dict(COLUMNS)

    def build(tree: dict[str, Any]) -> list[Any]:
        fields = []
        for key, sub in tree.items():
            if isinstance(sub, dict):
                fields.append(pa.field(key, pa.struct(build(sub))))
            else:
                fields.append(pa.field(key, sub))
        return fields

    tree: dict[str, Any] = {}
    for name in _HEAD:
        tree[name] = _arrow_type(pa, types[name])
    tree["audio"] = pa.list_(pa.struct([("nbytes", pa.int64()), ("format", pa.string())]))
    for name, path in _PATHS.items():
        node = tree
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = _arrow_type(pa, types[name])
    tree["event"]["delta"] = pa.string()
    return pa.schema(build(tree))


_READ_SCHEMA = None


# ---------------------------------------------------------------------- parsing one chunk


class _Refused(Exception):
    pass


def _fast_chunk(buf: Any) -> Any:
    """Flat table of one chunk by pyarrow's JSON reader (raises when it cannot)."""
    global _READ_SCHEMA
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.json as pj

    if _READ_SCHEMA is None:
        _READ_SCHEMA = _read_schema()
    try:
        table = pj.read_json(
            pa.BufferReader(buf),
            read_options=pj.ReadOptions(use_threads=True, block_size=4 * 1024 * 1024),
            parse_options=pj.ParseOptions(
                explicit_schema=_READ_SCHEMA, unexpected_field_behavior="ignore"
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise _Refused(str(exc)) from None
    n = table.num_rows
    cols: dict[str, Any] = {}
    for name in _HEAD:
        cols[name] = table.column(name)
    event = (
        table.column("event").combine_chunks()
        if table.num_rows
        else pa.array([], type=_READ_SCHEMA.field("event").type)
    )

    def get(path: tuple[str, ...]) -> Any:
        arr = event
        for key in path[1:]:
            arr = pc.struct_field(arr, key)
        return arr

    for name, path in _PATHS.items():
        cols[name] = get(path)
    delta = pc.struct_field(event, "delta")
    cols["delta_len"] = pc.utf8_length(delta).cast(pa.int64())
    # audio milliseconds: sum over a record's audio references
    audio = (
        table.column("audio").combine_chunks()
        if n
        else pa.array([], type=_READ_SCHEMA.field("audio").type)
    )
    flat = pc.list_flatten(audio)
    audio_ms = np.full(n, np.nan)
    if len(flat):
        parents = pc.list_parent_indices(audio).to_numpy(zero_copy_only=False)
        nbytes = pc.struct_field(flat, "nbytes").to_numpy(zero_copy_only=False).astype(np.float64)
        nbytes = np.nan_to_num(nbytes)
        fmt = pc.struct_field(flat, "format")
        g711 = pc.fill_null(pc.starts_with(fmt, "g711"), False).to_numpy(zero_copy_only=False)
        per = np.where(g711, 1000.0 / 8000.0, 1000.0 / 48000.0)
        sums = np.bincount(parents, weights=nbytes * per, minlength=n)
        has = np.bincount(parents, minlength=n) > 0
        audio_ms = np.where(has, sums, np.nan)
    cols["audio_ms"] = pa.array(audio_ms, type=pa.float64(), from_pandas=True)
    schema = flat_schema()
    return pa.table([cols[name] for name, _ in COLUMNS], schema=schema)


def _dig(obj: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _typed(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "string":
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        return None
    if kind == "int64":
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value if -(2**63) <= value < 2**63 else None
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
            return int(value)
        return None
    if kind == "float64":
        return (
            float(value)
            if isinstance(value, (int, float)) and not isinstance(value, bool)
            else None
        )
    if kind == "bool":
        return value if isinstance(value, bool) else None
    return None


def record_row(rec: dict[str, Any]) -> dict[str, Any]:
    """The flat row of one LogRecord (the slow path; same values as the fast one)."""
    kinds = dict(COLUMNS)
    row: dict[str, Any] = {}
    for name in _HEAD:
        row[name] = _typed(rec.get(name), kinds[name])
    for name, path in _PATHS.items():
        row[name] = _typed(_dig(rec, path), kinds[name])
    delta = _dig(rec, ("event", "delta"))
    row["delta_len"] = len(delta) if isinstance(delta, str) else None
    refs = rec.get("audio")
    ms = None
    if isinstance(refs, list):
        total, seen = 0.0, False
        for ref in refs:
            if isinstance(ref, dict):
                nbytes = ref.get("nbytes")
                seen = True
                if isinstance(nbytes, (int, float)) and not isinstance(nbytes, bool):
                    total += float(nbytes) * audio_ms_per_byte(ref.get("format"))
        ms = total if seen else None
    row["audio_ms"] = ms
    return row


def _slow_chunk(buf: Any, base: int) -> tuple[Any, np.ndarray]:
    """(flat table, absolute line offsets) of one chunk, record by record; damaged lines
    are skipped (as :class:`~realtime_widget.hub.eventlog.EventLog` does)."""
    pa = _pa()
    data = bytes(buf)
    rows: list[dict[str, Any]] = []
    offsets: list[int] = []
    pos = 0
    for line in data.split(b"\n"):
        start = pos
        pos += len(line) + 1
        if not line.strip():
            continue
        try:
            rec = parse_record(line)
        except ValueError:
            continue
        rows.append(record_row(rec))
        offsets.append(base + start)
    schema = flat_schema()
    arrays = [
        pa.array([r[name] for r in rows], type=schema.field(name).type) for name, _ in COLUMNS
    ]
    return pa.table(arrays, schema=schema), np.asarray(offsets, dtype=np.int64)


def _line_starts(buf: Any, base: int) -> np.ndarray:
    """Absolute offsets of the non-empty lines of ``buf`` (which ends with a newline)."""
    arr = np.frombuffer(buf, dtype=np.uint8)
    ends = np.flatnonzero(arr == 10)
    starts = np.empty(len(ends), dtype=np.int64)
    if len(ends):
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
    nonempty = starts < ends  # a line of just "\n" is skipped, as the JSON reader does
    if nonempty.any():
        # whitespace-only lines are skipped by the JSON reader too
        blank = np.zeros(len(starts), dtype=bool)
        short = np.flatnonzero(nonempty & (ends - starts <= 4))
        for i in short:
            blank[i] = not bytes(arr[starts[i] : ends[i]]).strip()
        nonempty &= ~blank
    return starts[nonempty] + base


# ---------------------------------------------------------------------- the table


@dataclass
class _Chunk:
    start: int  # byte offset of the chunk in the log
    end: int
    rows: int
    offsets: np.ndarray | None = field(default=None, repr=False)  # line starts (lazily)
    slow: bool = False


class LogTable:
    """The flat Arrow table of one log, read incrementally.

    ``LogTable.from_file(path)`` reads ``events.jsonl`` (memory-mapped); ``from_bytes``
    reads an export held in memory. :meth:`refresh` reads what was appended since.
    """

    def __init__(
        self, path: Path | None = None, data: bytes | None = None, *, chunk_bytes: int = CHUNK_BYTES
    ):
        self.path = path
        self._data = data
        self.chunk_bytes = chunk_bytes
        self._chunks: list[_Chunk] = []
        self._tables: list[Any] = []
        self._consumed = 0
        self._combined: Any = None
        self.slow_chunks = 0  # chunks the fast reader refused (for tests and benchmarks)
        self.loaded_from_cache = False

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], **kw: Any) -> LogTable:
        return cls(Path(path), None, **kw)

    @classmethod
    def from_bytes(cls, data: bytes, **kw: Any) -> LogTable:
        return cls(None, data, **kw)

    # -- reading --------------------------------------------------------------------

    def _size(self) -> int:
        if self._data is not None:
            return len(self._data)
        try:
            return self.path.stat().st_size  # type: ignore[union-attr]
        except FileNotFoundError:
            return 0

    def _read(self, f: Any, start: int, end: int) -> Any:
        """Bytes [start, end) of the log (a memoryview for in-memory data)."""
        if self._data is not None:
            return memoryview(self._data)[start:end]
        f.seek(start)
        return f.read(end - start)

    def refresh(self) -> int:
        """Read complete lines appended since the last read; returns the new row count."""
        size = self._size()
        if size <= self._consumed:
            return 0
        added = 0
        f = open(self.path, "rb") if self._data is None else None  # type: ignore[arg-type]
        try:
            pos = self._consumed
            while pos < size:
                end = min(pos + self.chunk_bytes, size)
                buf = self._read(f, pos, end)
                last_nl = _rfind_nl(buf)
                while last_nl < 0 and end < size:  # a line longer than the chunk: read on
                    end = min(end + self.chunk_bytes, size)
                    buf = self._read(f, pos, end)
                    last_nl = _rfind_nl(buf)
                if last_nl < 0:
                    break  # an incomplete last line (being written): next time
                end = pos + last_nl + 1
                buf = buf[: last_nl + 1]
                try:
                    table = _fast_chunk(buf)
                    chunk = _Chunk(pos, end, table.num_rows)
                except _Refused:
                    table, offsets = _slow_chunk(buf, pos)
                    chunk = _Chunk(pos, end, table.num_rows, offsets, slow=True)
                    self.slow_chunks += 1
                del buf
                self._chunks.append(chunk)
                self._tables.append(table)
                added += table.num_rows
                pos = end
            self._consumed = pos
        finally:
            if f is not None:
                f.close()
        if added:
            self._combined = None
        return added

    # -- a cache of the parsed table (for large stored sessions) -------------------------

    def save(self, path: str | os.PathLike[str]) -> bool:
        """Write the parsed table to an Arrow IPC file (with what is needed to find the
        records again); False when it cannot be cached (a chunk needed the slow path)."""
        import pyarrow as pa

        if any(c.slow for c in self._chunks):
            return False
        meta = {
            "version": 1,
            "consumed": self._consumed,
            "chunks": [[c.start, c.end, c.rows] for c in self._chunks],
        }
        table = self.table.replace_schema_metadata({b"realtime_widget": json.dumps(meta).encode()})
        path = Path(path)
        tmp = path.with_name(path.name + ".part")
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table, max_chunksize=1 << 20)
        os.replace(tmp, path)
        return True

    def load(self, path: str | os.PathLike[str]) -> bool:
        """Take the table from :meth:`save`'s file (memory-mapped); False if unusable."""
        import pyarrow as pa

        try:
            with pa.memory_map(str(path), "r") as source:
                table = pa.ipc.open_file(source).read_all()
            meta = json.loads(table.schema.metadata[b"realtime_widget"])
            if meta.get("version") != 1 or table.schema.remove_metadata() != flat_schema():
                return False
        except (OSError, KeyError, ValueError, TypeError, pa.ArrowException):
            return False
        self._chunks = [_Chunk(int(a), int(b), int(n)) for a, b, n in meta["chunks"]]
        self._tables = [table.replace_schema_metadata(None)]
        self._consumed = int(meta["consumed"])
        self._combined = None
        self.loaded_from_cache = True
        return True

    @property
    def table(self) -> Any:
        """Every row read so far, as one Arrow table."""
        if self._combined is None:
            pa = _pa()
            if not self._tables:
                self._combined = flat_schema().empty_table()
            else:
                self._combined = pa.concat_tables(self._tables)
        return self._combined

    @property
    def num_rows(self) -> int:
        return sum(c.rows for c in self._chunks)

    @property
    def bytes_read(self) -> int:
        return self._consumed

    # -- full records ---------------------------------------------------------------

    def _offsets(self, chunk: _Chunk, f: Any) -> np.ndarray:
        if chunk.offsets is None:
            buf = self._read(f, chunk.start, chunk.end)
            chunk.offsets = _line_starts(buf, chunk.start)
            if len(chunk.offsets) != chunk.rows:  # the readers disagree on lines: cannot happen
                raise RuntimeError("the event log changed while it was read")
        return chunk.offsets

    def records(self, rows: Iterable[int]) -> list[dict[str, Any]]:
        """The full LogRecords of the given row positions (0-based, in read order)."""
        rows = list(rows)
        if not rows:
            return []
        bounds = np.cumsum([0] + [c.rows for c in self._chunks])
        out: list[dict[str, Any]] = []
        f = open(self.path, "rb", buffering=0) if self._data is None else None  # type: ignore[arg-type]
        try:
            for row in rows:
                if not 0 <= row < bounds[-1]:
                    raise IndexError(f"row {row} is not in the log")
                ci = int(np.searchsorted(bounds, row, side="right") - 1)
                chunk = self._chunks[ci]
                offsets = self._offsets(chunk, f)
                i = row - int(bounds[ci])
                start = int(offsets[i])
                stop = int(offsets[i + 1]) if i + 1 < len(offsets) else chunk.end
                if (
                    f is not None
                ):  # one exact read per record (no mapping: the page cache is not our RSS)
                    line = os.pread(f.fileno(), stop - start, start)
                else:
                    line = self._data[start:stop]  # type: ignore[index]
                out.append(parse_record(line))
        finally:
            if f is not None:
                f.close()
        return out


def _rfind_nl(buf: Any) -> int:
    if isinstance(buf, memoryview):
        arr = np.frombuffer(buf, dtype=np.uint8)
        hits = np.flatnonzero(arr[-(1 << 20) :] == 10)
        if len(hits):
            return len(arr) - min(len(arr), 1 << 20) + int(hits[-1])
        hits = np.flatnonzero(arr == 10)
        return int(hits[-1]) if len(hits) else -1
    return buf.rfind(b"\n")
