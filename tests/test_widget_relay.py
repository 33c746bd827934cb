"""The widget's comm relay, for a front end that cannot reach the hub: the relay attaches to
the hub like the browser's own WebSocket, so what the front end gets (the hub's catch-up,
``x_hub.ready``, then live events) is the hub's, whether the session runs in the kernel
(direct mode) or in a real Jupyter server's hub."""

from __future__ import annotations

import asyncio
import threading

import pytest
from hub_testing import *  # noqa: F403

pytest.importorskip("anywidget")

from realtime_widget import RealtimeWidget, Session  # noqa: E402


class FrontEnd:
    """What the widget's front end receives over the comm, and what it sends."""

    def __init__(self, widget: RealtimeWidget):
        self.widget = widget
        self.sent: list[dict] = []
        self.ready, self.answered = threading.Event(), threading.Event()
        widget.send = self.receive

    def receive(self, content, buffers=None) -> None:
        for ev in content.get("events", []):
            self.sent.append(ev)
            if ev.get("type") == "x_hub.ready":
                self.ready.set()
            if ev.get("type") == "response.done" and self.ready.is_set():
                self.answered.set()

    def attach(self) -> None:
        self.widget._on_front_end_msg(self.widget, {"type": "relay_attach", "after": 0}, [])

    def detach(self) -> None:
        self.widget._on_front_end_msg(self.widget, {"type": "relay_detach"}, [])

    def type_message(self, text: str) -> None:
        """A typed message and the response.create the front end sends after it."""
        item = {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        }
        for event in (
            {"type": "conversation.item.create", "item": item},
            {"type": "response.create"},
        ):
            self.widget._on_front_end_msg(self.widget, {"type": "client_event", "event": event}, [])

    def text(self, events: list[dict]) -> str:
        return "".join(e.get("delta", "") for e in events if e["type"] == "response.text.delta")

    def seqs_in_order(self) -> bool:
        seqs = [e["x_seq"] for e in self.sent if "x_seq" in e]
        return seqs == sorted(seqs) and len(seqs) == len(set(seqs))


def test_attach_to_a_kernel_session_and_relay_through_the_comm(tmp_path, monkeypatch):
    """Where the browser cannot reach a hub (here: a session run by the kernel itself),
    the widget relays: logged events first, then ``x_hub.ready``, then live events; the
    front end's client events go to the session."""
    monkeypatch.setenv("REALTIME_WIDGET_LOG_DIR", str(tmp_path))
    session = Session(mode="direct", speech=False, session={"modalities": ["text"]})
    try:
        w = RealtimeWidget(session=session)
        assert w.session is session and w.session_id == session.id
        assert w.hub_mode is False and w.autoattach and w.ws_path.endswith("/ws")
        front = FrontEnd(w)
        front.attach()
        assert front.ready.wait(30)  # the hub's catch-up runs on the session's thread
        types = [e["type"] for e in front.sent]
        assert (
            types[:2] == ["session.created", "conversation.created"] and types[-1] == "x_hub.ready"
        )
        # the hub's own x_hub.ready: this reader is a client of the session like a browser
        assert front.sent[-1]["client_id"] and front.sent[-1]["session"]["id"] == session.id
        front.type_message("hello relay")
        assert front.answered.wait(60)
        assert front.seqs_in_order()
        assert "hello relay" in front.text(front.sent)
        front.detach()
        w.close()
        assert not session.closed  # a session the widget was given is not ended by it
    finally:
        session.close()


async def test_the_comm_relay_is_a_hub_client_like_a_browser(
    jp_fetch, jp_serverapp, jp_http_port, jp_base_url, hub
):
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
        front = FrontEnd(w)
        # the comm's handler blocks until the hub accepted the socket: off this loop, which
        # also runs the Jupyter server (a kernel is another process)
        await asyncio.to_thread(front.attach)
        assert await asyncio.to_thread(front.ready.wait, 30)
        caught_up = [e["type"] for e in front.sent]
        # the earlier turn, from the hub's log, before x_hub.ready
        assert caught_up[0] == "session.created" and "response.done" in caught_up
        assert caught_up[-1] == "x_hub.ready" and front.sent[-1]["session"]["id"] == session.id
        # the hub counts the relay as an attached widget client
        sources = [c.source for c in hub.sessions[session.id].clients.values()]
        assert sorted(sources) == ["kernel", "widget"]
        front.type_message("through the relay")
        assert await asyncio.to_thread(front.answered.wait, 60)
        assert "through the relay" in front.text(front.sent[len(caught_up) :])
        assert front.seqs_in_order()
        front.detach()
        for _ in range(100):
            if len(hub.sessions[session.id].clients) == 1:
                break
            await asyncio.sleep(0.05)
        assert [c.source for c in hub.sessions[session.id].clients.values()] == ["kernel"]
        w.close()
    finally:
        await asyncio.to_thread(session.close)
