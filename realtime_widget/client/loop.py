"""The client's background loop thread, and the one place where a Session verb's
blocking form is derived from its async form."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import inspect
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["LoopThread", "blocking", "loop_thread", "on_client_loop"]

T = TypeVar("T")


class LoopThread:
    """One asyncio loop on a daemon thread, shared by every Session of the process (and a
    small pool for tools), so that a cell blocked on a call never stalls a socket."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=4, thread_name_prefix="realtime-widget-tool"
        )
        self.thread = threading.Thread(target=self._run, name="realtime-widget-client", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def in_loop(self) -> bool:
        return threading.current_thread() is self.thread

    def submit(self, coro: Any) -> concurrent.futures.Future:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Any, timeout: float | None = None) -> Any:
        if self.in_loop():
            coro.close()
            raise RuntimeError(
                "blocking Session methods cannot be called from a Session callback: "
                "use the a* forms"
            )
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError("timed out waiting for the realtime session") from None

    async def arun(self, coro: Any) -> Any:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            return await coro
        return await asyncio.wrap_future(self.submit(coro))


_loop_lock = threading.Lock()
_loop_thread: LoopThread | None = None


def loop_thread() -> LoopThread:
    """The process's client loop thread (started on first use, again if it died)."""
    global _loop_thread
    with _loop_lock:
        if _loop_thread is None or not _loop_thread.thread.is_alive():
            _loop_thread = LoopThread()
        return _loop_thread


def on_client_loop(
    method: Callable[..., Coroutine[Any, Any, T]],
) -> Callable[..., Coroutine[Any, Any, T]]:
    """An async Session verb that runs on the client's loop thread, whichever loop awaits it
    (the kernel's own, or the client loop itself inside a callback)."""

    @functools.wraps(method)
    async def on_loop(self: Any, *args: Any, **kwargs: Any) -> T:
        return await self._lt.arun(method(self, *args, **kwargs))

    return on_loop


def blocking(
    async_method: Callable[..., Coroutine[Any, Any, T]],
    *,
    slack: float = 10,
    limit: float | None = None,
    name: str | None = None,
) -> Callable[..., T]:
    """The blocking form of an :func:`on_client_loop` verb (``say`` of ``asay``): same
    signature and docstring. It waits for the verb's own ``timeout`` plus ``slack``
    seconds (the verb times out first, with its own message), or ``limit`` seconds for a
    verb without a ``timeout`` argument."""
    body = async_method.__wrapped__  # type: ignore[attr-defined]
    signature = inspect.signature(body)

    @functools.wraps(body)
    def wait(self: Any, *args: Any, **kwargs: Any) -> T:
        if limit is not None:
            seconds = limit
        else:
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            timeout = bound.arguments.get("timeout")
            seconds = None if timeout is None else timeout + slack
        return self._lt.run(body(self, *args, **kwargs), seconds)

    wait.__name__ = name or body.__name__.removeprefix("a")
    wait.__qualname__ = wait.__qualname__.rsplit(".", 1)[0] + "." + wait.__name__
    return wait
