"""Fair scheduling of model inference (VAD, ASR, TTS) across the engine's sessions.

Every session's blocking model calls go through one :class:`InferenceScheduler` in
front of one shared thread pool. A plain ``ThreadPoolExecutor`` serves calls in
arrival order, so one session that queues four long transcriptions (four 14 MiB
append + commit turns) fills every thread and everyone else's spoken turn waits
behind them. The scheduler instead keeps a queue per session and:

* lets one session run at most ``per_session`` *heavy* calls at once (its other calls
  wait in its own queue, not in front of other sessions' calls);
* picks the next call from the session served longest ago (round-robin over the
  sessions with work waiting; a newcomer first), so a session that arrives later is
  served before the hog's remaining queue;
* keeps one thread for *light* calls (the VAD on a small append: sub-millisecond, on
  the barge-in path), which are not counted against the per-session cap and go first.

Calls are not pre-empted: a call that is running finishes. Cancelling the awaiting
task removes a call that has not started.
"""

from __future__ import annotations

import asyncio
import os
import weakref
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

__all__ = ["InferenceScheduler", "default_scheduler"]

DEFAULT_WORKERS = 4
DEFAULT_PER_SESSION = 1


class _Job:
    __slots__ = ("owner", "fn", "args", "future", "light")

    def __init__(
        self, owner: Any, fn: Callable[..., Any], args: tuple, future: asyncio.Future, light: bool
    ):
        self.owner, self.fn, self.args, self.future, self.light = owner, fn, args, future, light


class InferenceScheduler:
    """``await scheduler.run(owner, fn, *args)`` runs ``fn(*args)`` in a worker thread,
    fairly across owners (an owner is one session). All bookkeeping happens on the
    event loop thread; only ``fn`` runs in the pool."""

    def __init__(
        self,
        workers: int = DEFAULT_WORKERS,
        per_session: int = DEFAULT_PER_SESSION,
        *,
        pool: ThreadPoolExecutor | None = None,
    ):
        if workers < 1 or per_session < 1:
            raise ValueError("workers and per_session must be at least 1")
        self.workers = workers
        self.per_session = per_session
        # heavy calls may use every thread but one (kept for light calls), unless there is one
        self.heavy_workers = workers - 1 if workers > 1 else 1
        self._pool = pool or ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="realtime-engine"
        )
        self._queues: dict[Any, deque[_Job]] = {}  # owner -> its waiting heavy calls
        self._ring: deque[Any] = deque()  # owners with heavy calls waiting, in arrival order
        self._served: dict[Any, int] = {}  # owner -> stamp of its last heavy start (absent: never)
        self._stamp = 0
        self._light: deque[_Job] = deque()
        self._running = 0
        self._running_heavy = 0
        self._in_flight: dict[Any, int] = {}  # owner -> heavy calls running
        self.started: list[Any] | None = None  # set to [] to record owners in start order (tests)

    # -- public -----------------------------------------------------------------------
    async def run(self, owner: Any, fn: Callable[..., Any], *args: Any, light: bool = False) -> Any:
        future = asyncio.get_running_loop().create_future()
        job = _Job(owner, fn, args, future, light)
        if light:
            self._light.append(job)
        else:
            queue = self._queues.get(owner)
            if queue is None:
                queue = self._queues[owner] = deque()
                self._ring.append(owner)
            queue.append(job)
        self._dispatch()
        try:
            return await future
        except asyncio.CancelledError:
            self._withdraw(job)
            raise

    def queued(self, owner: Any) -> int:
        """Heavy calls of ``owner`` waiting to start."""
        return len(self._queues.get(owner, ()))

    def in_flight(self, owner: Any) -> int:
        return self._in_flight.get(owner, 0)

    def forget(self, owner: Any) -> None:
        """An owner that is gone (a closed session): drop what is remembered of it."""
        self._served.pop(owner, None)

    # -- scheduling ---------------------------------------------------------------------
    def _withdraw(self, job: _Job) -> None:
        """A cancelled call that has not started is removed from its queue."""
        if job.light:
            try:
                self._light.remove(job)
            except ValueError:
                pass
            return
        queue = self._queues.get(job.owner)
        if queue is not None and job in queue:
            queue.remove(job)
            if not queue:
                self._forget(job.owner)

    def _forget(self, owner: Any) -> None:
        self._queues.pop(owner, None)
        try:
            self._ring.remove(owner)
        except ValueError:
            pass

    def _next_heavy(self) -> _Job | None:
        """The next call of the owner served longest ago among those below their cap."""
        best = None
        for owner in self._ring:
            if self._in_flight.get(owner, 0) < self.per_session:
                if best is None or self._served.get(owner, -1) < self._served.get(best, -1):
                    best = owner
        if best is None:
            return None
        queue = self._queues[best]
        job = queue.popleft()
        if not queue:
            self._forget(best)
        return job

    def _dispatch(self) -> None:
        while self._running < self.workers:
            job = None
            if self._light:
                job = self._light.popleft()
            elif self._running_heavy < self.heavy_workers:
                job = self._next_heavy()
            if job is None:
                return
            if job.future.done():  # cancelled meanwhile
                continue
            self._start(job)

    def _start(self, job: _Job) -> None:
        self._running += 1
        if not job.light:
            self._running_heavy += 1
            self._in_flight[job.owner] = self._in_flight.get(job.owner, 0) + 1
            self._stamp += 1
            self._served[job.owner] = self._stamp
        if self.started is not None:
            self.started.append(job.owner)
        loop = asyncio.get_running_loop()
        done = loop.run_in_executor(self._pool, job.fn, *job.args)
        done.add_done_callback(lambda result, job=job: self._finished(job, result))

    def _finished(self, job: _Job, result: asyncio.Future) -> None:
        self._running -= 1
        if not job.light:
            self._running_heavy -= 1
            left = self._in_flight[job.owner] - 1
            if left:
                self._in_flight[job.owner] = left
            else:
                del self._in_flight[job.owner]
        if not job.future.done():
            if result.cancelled():
                job.future.cancel()
            elif result.exception() is not None:
                job.future.set_exception(result.exception())
            else:
                job.future.set_result(result.result())
        self._dispatch()


def _env_int(name: str, default: int) -> int:
    try:
        return max(1, int(os.environ.get(name, "") or default))
    except ValueError:
        return default


_pool: ThreadPoolExecutor | None = None
_per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, InferenceScheduler] = (
    weakref.WeakKeyDictionary()
)


def default_scheduler() -> InferenceScheduler:
    """The scheduler every session of the running event loop shares, over one
    process-wide pool (threads: ``REALTIME_WIDGET_INFERENCE_THREADS``, default 4; heavy
    calls per session: ``REALTIME_WIDGET_INFERENCE_PER_SESSION``, default 1). Its
    bookkeeping lives on one loop, hence one scheduler per loop."""
    global _pool
    loop = asyncio.get_running_loop()
    scheduler = _per_loop.get(loop)
    if scheduler is None:
        workers = _env_int("REALTIME_WIDGET_INFERENCE_THREADS", DEFAULT_WORKERS)
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="realtime-engine")
        scheduler = _per_loop[loop] = InferenceScheduler(
            workers,
            _env_int("REALTIME_WIDGET_INFERENCE_PER_SESSION", DEFAULT_PER_SESSION),
            pool=_pool,
        )
    return scheduler
