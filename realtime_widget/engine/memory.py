"""Give a closed session's memory back to the operating system.

Python frees a closed session's objects, but glibc's allocator keeps the freed pages
(the big ones: decoded audio, numpy buffers of the models) in its arenas, so the
process's RSS stays at its peak. ``malloc_trim(0)`` returns them
(benchmarks/README.md, "Memory": measured with and without it). It walks the whole heap
(a few ms), so it runs in a worker thread, at most one at a time, shortly after a close.
"""

from __future__ import annotations

import asyncio
import os

from .speech._ort import release_free_memory

__all__ = ["release_memory_soon"]

_DELAY_S = 0.5  # closes in a burst (a page of sessions) share one trim
_pending: set[asyncio.AbstractEventLoop] = set()


def release_memory_soon() -> None:
    """Schedule one ``malloc_trim`` (glibc; a no-op elsewhere) on the running loop
    (``REALTIME_WIDGET_MALLOC_TRIM=0`` turns it off, for measuring)."""
    if os.environ.get("REALTIME_WIDGET_MALLOC_TRIM", "1") == "0":
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        release_free_memory()
        return
    if loop in _pending:
        return
    _pending.add(loop)

    def trim() -> None:
        _pending.discard(loop)
        if not loop.is_closed():
            loop.run_in_executor(None, release_free_memory)

    loop.call_later(_DELAY_S, trim)
