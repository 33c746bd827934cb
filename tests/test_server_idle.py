"""Sessions created with an ``idle_timeout`` (the widget's, issue 15): the hub closes one
that has no browser (widget) client attached and no event either way for that long, and
leaves alone one a widget is attached to, one still in use, and one without a timeout.
A real Jupyter server (pytest-jupyter) and real WebSockets; the local engine text-only."""

from __future__ import annotations

import asyncio
import json

import pytest
import tornado.httpclient
from hub_testing import *
from hub_testing import HubWS, create_session, get_json, text_turn

IDLE_S = 1.5


async def status_of(jp_fetch, sid: str) -> str:
    return (await get_json(jp_fetch, "realtime", "sessions", sid))["status"]


async def wait_closed(jp_fetch, sid: str, timeout: float = 30.0) -> list[str]:
    seen = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        seen.append(await status_of(jp_fetch, sid))
        if seen[-1] == "closed":
            break
        await asyncio.sleep(0.1)
    return seen


async def test_a_session_nobody_watches_is_closed_after_its_idle_timeout(jp_fetch, jp_ws_fetch):
    idle = await create_session(jp_fetch, idle_timeout=IDLE_S, session={"modalities": ["text"]})
    forever = await create_session(jp_fetch, session={"modalities": ["text"]})
    watched = await create_session(jp_fetch, idle_timeout=IDLE_S, session={"modalities": ["text"]})
    kernel = await HubWS.connect(
        jp_ws_fetch, idle["id"], source="kernel"
    )  # a kernel alone does not keep it open
    widget = await HubWS.connect(jp_ws_fetch, watched["id"], source="widget")
    await text_turn(kernel, "Hello")

    seen = await wait_closed(jp_fetch, idle["id"])
    assert seen[-1] == "closed" and seen[0] == "open", seen
    reason = await kernel.wait_for("x_hub.status")
    assert reason["status"] == "closed" and f"idle for {IDLE_S:g} s" in reason["reason"]
    await kernel.until(lambda: kernel.closed, "the kernel's socket to close")
    # the others are still open (they were idle as long), and the widget's session still answers
    assert await status_of(jp_fetch, forever["id"]) == "open"
    assert await status_of(jp_fetch, watched["id"]) == "open"
    assert (await text_turn(widget, "Still there?"))["response"]["status"] == "completed"

    # once the widget goes (its tab was closed), the idle clock runs for that session too
    widget.ws.close()
    assert (await wait_closed(jp_fetch, watched["id"]))[-1] == "closed"
    assert await status_of(jp_fetch, forever["id"]) == "open"


@pytest.mark.parametrize("value", [0, -1, "10", True, 10**9])
async def test_a_bad_idle_timeout_is_refused(jp_fetch, value):
    with pytest.raises(tornado.httpclient.HTTPClientError) as err:
        await jp_fetch(
            "realtime",
            "sessions",
            method="POST",
            body=json.dumps({"provider": "local", "idle_timeout": value}),
        )
    assert err.value.code == 400
    body = json.loads(err.value.response.body)
    assert body["error"]["code"] == "invalid_value" and "idle_timeout" in body["error"]["message"]
