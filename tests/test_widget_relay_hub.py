"""The widget's comm relay on a session of a real Jupyter server's hub: the relay attaches
to the hub like the browser's own WebSocket, so what the front end gets (the hub's
catch-up, ``x_hub.ready``, then live events) is the hub's, in both modes."""

from __future__ import annotations

import asyncio
import threading

from hub_testing import *  # noqa: F403


async def test_the_comm_relay_is_a_hub_client_like_a_browser(
    jp_fetch, jp_serverapp, jp_http_port, jp_base_url, hub
):
    from realtime_widget import RealtimeWidget, Session

    token = jp_serverapp.identity_provider.token
    url = f"http://127.0.0.1:{jp_http_port}{jp_base_url}"
    session = await asyncio.to_thread(
        lambda: Session(
            "local",
            mode="hub",
            server=url,
            token=token,
            speech=False,
            session={"modalities": ["text"]},
            timeout=60,
        )
    )
    try:
        await asyncio.to_thread(session.say, "Before the widget")
        w = RealtimeWidget(session=session)
        sent: list[dict] = []
        ready, answered = threading.Event(), threading.Event()

        def capture(content, buffers=None):
            for ev in content.get("events", []):
                sent.append(ev)
                ready.set() if ev.get("type") == "x_hub.ready" else None
                if ev.get("type") == "response.done" and ready.is_set():
                    answered.set()

        w.send = capture
        # the comm's handler blocks until the hub accepted the socket: off this loop, which
        # also runs the Jupyter server (a kernel is another process)
        await asyncio.to_thread(w._on_front_end_msg, w, {"type": "relay_attach", "after": 0}, [])
        assert await asyncio.to_thread(ready.wait, 30)
        caught_up = [e["type"] for e in sent]
        # the earlier turn, from the hub's log, before x_hub.ready
        assert caught_up[0] == "session.created" and "response.done" in caught_up
        assert caught_up[-1] == "x_hub.ready" and sent[-1]["session"]["id"] == session.id
        # the hub counts the relay as an attached widget client
        sources = [c.source for c in hub.sessions[session.id].clients.values()]
        assert sorted(sources) == ["kernel", "widget"]
        w._on_front_end_msg(
            w,
            {
                "type": "client_event",
                "event": {
                    "type": "conversation.item.create",
                    "item": {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": "through the relay"}],
                    },
                },
            },
            [],
        )
        w._on_front_end_msg(w, {"type": "client_event", "event": {"type": "response.create"}}, [])
        assert await asyncio.to_thread(answered.wait, 60)
        live = sent[len(caught_up) :]
        text = "".join(e.get("delta", "") for e in live if e["type"] == "response.text.delta")
        assert "through the relay" in text
        seqs = [e["x_seq"] for e in sent if "x_seq" in e]
        assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))
        w._on_front_end_msg(w, {"type": "relay_detach"}, [])
        for _ in range(100):
            if len(hub.sessions[session.id].clients) == 1:
                break
            await asyncio.sleep(0.05)
        assert [c.source for c in hub.sessions[session.id].clients.values()] == ["kernel"]
        w.close()
    finally:
        await asyncio.to_thread(session.close)
