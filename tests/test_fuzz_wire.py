"""Wire fuzzing in CI (issue 11): seeded frames over real WebSockets against the engine's
preview and GA routes and a hub session on the local engine (see ``tests/fuzz_wire.py``
for the frames and the checks).

Per target: 0 internal errors and no traceback logged, every ``response.created`` ends in
``response.done``, every invalid frame answered by a spec-shaped ``error`` naming its
``event_id`` when readable, a normal turn completes afterwards, and the process's memory
stays within a (generous) bound.

``REALTIME_FUZZ_SEED`` (default 11) and ``REALTIME_FUZZ_FRAMES`` (default 5000) override
the run; a failure message starts with the seed. The 100k-frame run is
``benchmarks/fuzz_wire.py``.
"""

from __future__ import annotations

import gc
import logging
import os

import pytest
import tornado.httpclient
import tornado.websocket
from fuzz_wire import FrameMaker, fuzz_connection, rss_bytes
from hub_testing import *
from hub_testing import create_session

pytestmark = pytest.mark.timeout(600)

SEED = int(os.environ.get("REALTIME_FUZZ_SEED", "11"))
FRAMES = int(os.environ.get("REALTIME_FUZZ_FRAMES", "5000"))
# Bound on the growth of this process's RSS (the servers run in it) during one target's run:
# the session may keep tens of MiB of appended audio; the rest is allocator slack.
RSS_GROWTH_BOUND = 600 * 1024 * 1024

ENGINE_ROUTES = {
    "engine-preview": ("/v1/realtime?model=local", {"OpenAI-Beta": "realtime=v1"}, "preview"),
    "engine-ga": ("/openai/v1/realtime?model=local", {}, "ga"),
}


def _tracebacks(caplog) -> list[str]:
    return [
        f"{r.name}: {r.getMessage()}"
        for r in caplog.records
        if r.levelno >= logging.ERROR or r.exc_info
    ]


def _check(report, rss_before: int, caplog) -> None:
    problems = report.problems()
    growth = rss_bytes() - rss_before
    if growth > RSS_GROWTH_BOUND:
        problems.append(f"{report.target} (seed {SEED}): RSS grew {growth / 2**20:.0f} MiB")
    logged = _tracebacks(caplog)
    if logged:
        problems.append(
            f"{report.target} (seed {SEED}): {len(logged)} errors logged, first: {logged[0][:500]}"
        )
    assert not problems, f"REALTIME_FUZZ_SEED={SEED}\n" + "\n".join(problems)
    assert report.invalid > FRAMES // 5  # the run did exercise the refusals


@pytest.mark.parametrize("target", list(ENGINE_ROUTES))
async def test_fuzz_the_engine(target, caplog):
    from realtime_widget.engine.server import start_server

    caplog.set_level(logging.WARNING)
    path, headers, dialect = ENGINE_ROUTES[target]
    http_server, port, state = await start_server(
        "127.0.0.1", 0
    )  # text only: speech is not under test

    async def connect():
        request = tornado.httpclient.HTTPRequest(f"ws://127.0.0.1:{port}{path}", headers=headers)
        return await tornado.websocket.websocket_connect(request, max_message_size=64 * 2**20)

    seed = SEED + (1 if dialect == "ga" else 0)
    frames = FrameMaker(seed, dialect=dialect, target="engine").frames(FRAMES)
    # earlier tests' garbage (e.g. an SDK's unclosed httpx client) logs its errors now,
    gc.collect()
    caplog.clear()  # not during the fuzz: only what happens from here on is this target's
    before = rss_bytes()
    try:
        report = await fuzz_connection(connect, frames, target=target, seed=seed, dialect=dialect)
    finally:
        http_server.stop()
        await http_server.close_all_connections()
    gc.collect()
    _check(report, before, caplog)


async def test_fuzz_a_hub_session(jp_fetch, jp_ws_fetch, caplog):
    caplog.set_level(logging.WARNING)
    sid = (await create_session(jp_fetch))["id"]

    async def connect():
        return await jp_ws_fetch("realtime", "sessions", sid, "ws", params={"source": "other"})

    seed = SEED + 2
    frames = FrameMaker(seed, dialect="preview", target="hub").frames(FRAMES)
    # earlier tests' garbage (e.g. an SDK's unclosed httpx client) logs its errors now,
    gc.collect()
    caplog.clear()  # not during the fuzz: only what happens from here on is this target's
    before = rss_bytes()
    report = await fuzz_connection(connect, frames, target="hub", seed=seed)
    gc.collect()
    _check(report, before, caplog)
