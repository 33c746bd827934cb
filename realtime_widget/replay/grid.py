"""``replay_many(sources, configs)``: a grid of replays (sources x configurations), run
concurrently.

Each cell is an ordinary :func:`~realtime_widget.replay.run.replay`. Cells are independent,
so they run side by side: every session's socket lives on the one client loop thread, and
a small pool of threads only creates sessions and waits for them (no thread does audio
work; the backend does). ``max_concurrency`` bounds how many run at once, which is what
bounds the backend's load (the local engine shares one inference pool between sessions).
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .comparison import Comparison, compare_groups
from .errors import ReplayInterrupted
from .run import start_replay, stop_replay
from .source import ReplayError

__all__ = ["ReplayGrid", "compare_grid", "replay_many"]


@dataclass
class ReplayGrid:
    """The result of :func:`replay_many`: a session per cell and one comparison table."""

    sources: list[str]  # the source ids, in the order given
    configs: list[str]  # the configuration names, in the order given
    sessions: dict[tuple[str, str], Any] = field(
        default_factory=dict
    )  # (source, config) -> Session
    errors: dict[tuple[str, str], BaseException] = field(default_factory=dict)
    table: Comparison | None = None  # compare_grid(...): one row per (source, user turn)

    def __getitem__(self, key: tuple[str, str]) -> Any:
        return self.sessions[key]

    def close(self) -> None:
        for session in self.sessions.values():
            if not session.closed:
                session.close()

    def compare(self, prices: Mapping[str, float] | None = None) -> Comparison | None:
        """The grid's table again, with costs when ``prices`` are given."""
        return compare_grid(self, prices)

    def _repr_html_(self) -> str | None:
        return self.table._repr_html_() if self.table is not None else None


def compare_grid(grid: ReplayGrid, prices: Mapping[str, float] | None = None) -> Comparison | None:
    """The grid's comparison: one row per ``(source, user turn)``, a column per
    configuration; ``.summary()`` aggregates each configuration over every source,
    against the first. ``prices`` as for :func:`~realtime_widget.compare`. None for a
    grid without sessions."""
    groups = {
        source: [grid.sessions.get((source, config)) for config in grid.configs]
        for source in grid.sources
        if any((source, config) in grid.sessions for config in grid.configs)
    }
    return compare_groups(groups, grid.configs, prices=prices) if groups else None


def _config_names(
    configs: Mapping[str, Any] | Iterable[Mapping[str, Any]],
) -> list[tuple[str, dict]]:
    if isinstance(configs, Mapping):
        return [(str(name), dict(config or {})) for name, config in configs.items()]
    out = []
    for i, config in enumerate(configs):
        config = dict(config or {})
        out.append((str(config.pop("label", None) or f"config {i}"), config))
    return out


def _source_id(source: Any) -> str:
    for attr in ("id",):
        value = getattr(source, attr, None)
        if isinstance(value, str):
            return value
    return str(getattr(source, "name", None) or source)


def replay_many(
    sources: Iterable[Any],
    configs: Mapping[str, Mapping[str, Any]] | Iterable[Mapping[str, Any]],
    *,
    max_concurrency: int = 4,
    speed: str = "turns",
    progress: bool = True,
    raise_errors: bool = True,
    keep_open: bool = False,
    **common: Any,
) -> ReplayGrid:
    """Replay every source with every configuration, ``max_concurrency`` at a time.

    ``configs``: ``{name: {overrides}}``, or a list of overrides (named by their
    ``"label"`` key, else ``config 0``, ``config 1``, ...). Overrides are what
    :func:`~realtime_widget.replay` takes (``provider=``, ``model=``, ``tools=``, session
    fields); ``common`` applies to every cell. Returns a :class:`ReplayGrid`: ``.sessions``
    by ``(source id, config name)`` and ``.table``, one comparison for the whole grid.
    Each cell's session is closed when its replay is done (its log and DataFrames stay:
    a hub allows only a few live sessions per user), unless ``keep_open``.
    A cell that fails raises at the end (``raise_errors``), after the others finished;
    with ``raise_errors=False`` it is in ``.errors``. Ctrl-C stops every cell:
    :class:`ReplayInterrupted` has the ``sessions`` so far.
    """
    if max_concurrency < 1:
        raise ValueError("replay_many: max_concurrency is at least 1")
    sources = list(sources)
    named = _config_names(configs)
    ids = [_source_id(s) for s in sources]
    grid = ReplayGrid(ids, [name for name, _ in named])
    stop = threading.Event()
    running: dict[tuple[str, str], tuple[Any, Any, Any]] = {}
    lock = threading.Lock()

    def cell(source: Any, sid: str, name: str, config: dict[str, Any]) -> None:
        if stop.is_set():
            return
        options = {**common, **config}
        new, _replayer, future, cancel = start_replay(
            source, speed=speed, **{**options, "name": options.get("name") or f"{sid} | {name}"}
        )
        with lock:
            grid.sessions[(sid, name)] = new
            running[(sid, name)] = (new, future, cancel)
        try:
            while not stop.is_set():
                try:
                    future.result(0.2)
                except concurrent.futures.TimeoutError:
                    continue
                if not keep_open:
                    new.close()
                return
        finally:
            with lock:
                running.pop((sid, name), None)

    bar = None
    if progress:
        try:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(sources) * len(named), desc="replay grid", unit="session")
        except ImportError:
            bar = None
    pool = concurrent.futures.ThreadPoolExecutor(max_concurrency, thread_name_prefix="replay")
    jobs = {
        pool.submit(cell, source, sid, name, config): (sid, name)
        for source, sid in zip(sources, ids, strict=True)
        for name, config in named
    }
    try:
        pending = set(jobs)
        while pending:
            done, pending = concurrent.futures.wait(pending, timeout=0.2)
            for job in done:
                if job.exception() is not None:
                    grid.errors[jobs[job]] = job.exception()
                if bar is not None:
                    bar.update(1)
    except KeyboardInterrupt:
        stop.set()
        for job in jobs:
            job.cancel()
        with lock:
            cells = list(running.values())
        for session, future, cancel in cells:
            stop_replay(session, future, cancel)
        pool.shutdown(wait=True, cancel_futures=True)
        raise ReplayInterrupted(
            f"replay_many interrupted: {len(grid.sessions)} sessions started, still open "
            "(exception.sessions)",
            sessions=grid.sessions,
        ) from None
    finally:
        if bar is not None:
            bar.close()
    pool.shutdown(wait=True)
    grid.table = compare_grid(grid)
    if grid.errors and raise_errors:
        (sid, name), first = next(iter(grid.errors.items()))
        raise ReplayError(
            f"replay_many: {len(grid.errors)} of {len(jobs)} cells failed; the first, "
            f"({sid}, {name}): {first}",
            session=grid,
        ) from first
    return grid
