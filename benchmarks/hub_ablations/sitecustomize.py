"""Ablations of the hub's event log, for measuring what each part costs inside the server.

Python imports ``sitecustomize`` at start-up from any directory on PYTHONPATH, so this
patches the ``jupyter server`` that ``bench_hub.py`` starts (and no other process):

    ABLATE=nowrite PYTHONPATH=benchmarks/hub_ablations \\
        python benchmarks/bench_hub.py --configs lean,hub --repeat 5

ABLATE (one or several, comma-separated):
  nowrite  the per-frame records and their audio go to a null writer (no file I/O)
  defer    records are formatted at the flush, batched per session, not at append
  nolog    the per-frame record is replaced by a stub that only decodes the audio

Measuring only: every variant breaks something the hub promises (the log, reads of it).
"""

import os

_ABLATE = set(filter(None, os.environ.get("ABLATE", "").split(",")))

if _ABLATE and "jupyter_server" in open("/proc/self/cmdline").read():
    import realtime_widget.hub.eventlog as E

    _HOT = {t for _, t in E.TOP_LEVEL_AUDIO}

    class _NullWriter:
        def write(self, data):
            return len(data)

        def flush(self):
            pass

    if "nowrite" in _ABLATE:
        _write_record, _null = E.EventLog._write_record, _NullWriter()

        def _write_record_nowhere(self, etype, *args):
            if etype not in _HOT:
                return _write_record(self, etype, *args)
            real, self._events_file, size = self._events_file, _null, self._size
            try:
                return _write_record(self, etype, *args)
            finally:  # nothing was written: later records keep their true offsets
                self._events_file, self._size = real, size

        def _store_audio_nowhere(self, stream, raw):
            offset = self._stream_sizes.get(stream, 0)
            self._stream_sizes[stream] = offset + len(raw)
            self._audio_bytes += len(raw)
            return offset

        E.EventLog._write_record = _write_record_nowhere
        E.EventLog._store_audio = _store_audio_nowhere

    if "defer" in _ABLATE:
        _write_record_now, _flush = E.EventLog._write_record, E.EventLog.flush

        def _write_record_later(self, *args):
            pending = self.__dict__.setdefault("_pending_records", [])
            pending.append(args)
            seq = len(self._offsets) + len(pending)
            if not self._flush_pending:
                self._schedule_flush()
            return seq

        def _flush_formatting(self):
            pending = self.__dict__.get("_pending_records")
            if pending:
                self._pending_records = []
                for args in pending:  # stamped with the flush's time: the cost is the same
                    _write_record_now(self, *args)
            _flush(self)

        E.EventLog._write_record = _write_record_later
        E.EventLog.flush = _flush_formatting

    if "nolog" in _ABLATE:
        _append = E.EventLog.append

        def _append_stub(self, event, *, direction, source, client=None, quiet=False, text=None):
            etype = event.get("type")
            if text is None or etype not in _HOT:
                return _append(
                    self,
                    event,
                    direction=direction,
                    source=source,
                    client=client,
                    quiet=quiet,
                    text=text,
                )
            self._offsets.append(0)
            raw = E._b64(event.get(E.TOP_LEVEL_AUDIO[(direction, etype)]))
            return E._appended(E.Appended, (len(self._offsets), text, raw))

        E.EventLog.append = _append_stub
