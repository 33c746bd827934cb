"""A session outlives its Jupyter server: a real ``jupyter server`` process is killed
(SIGKILL, no chance to clean up) and started again; the session's log, state and audio
are all there, and the session can be resumed where it was. Events the clients saw but
the log had not written yet are lost, but their ``x_seq`` numbers are never reused, and
an attached kernel ``Session`` carries on by itself."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import tornado.httpclient
import tornado.websocket

TOKEN = "restart-test-token"
BASE = "/jp%2Fbase/"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JupyterProcess:
    def __init__(
        self, tmp: Path, log_dir: Path, *, port: int | None = None, args: tuple[str, ...] = ()
    ):
        self.port = port or _free_port()
        env = dict(os.environ)
        for name, sub in (
            ("HOME", "home"),
            ("JUPYTER_CONFIG_DIR", "config"),
            ("JUPYTER_DATA_DIR", "data"),
            ("JUPYTER_RUNTIME_DIR", "runtime"),
        ):
            (tmp / sub).mkdir(exist_ok=True)
            env[name] = str(tmp / sub)
        env["PYTHONPATH"] = os.pathsep.join(sys.path)
        self.output = open(tmp / f"server-{self.port}.log", "wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter_server",
                "--no-browser",
                "--allow-root",
                f"--ServerApp.port={self.port}",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.base_url={BASE}",
                f"--ServerApp.root_dir={tmp}",
                f"--IdentityProvider.token={TOKEN}",
                "--ServerApp.jpserver_extensions=realtime_widget=True",
                f"--RealtimeWidgetApp.log_dir={log_dir}",
                "--RealtimeWidgetApp.local_speech=False",
                *args,
            ],
            env=env,
            stdout=self.output,
            stderr=subprocess.STDOUT,
        )
        self.http = tornado.httpclient.AsyncHTTPClient(force_instance=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{BASE}{path}"

    async def request(self, method: str, path: str, body: object = None) -> object:
        r = await self.http.fetch(
            self.url(path),
            method=method,
            headers={"Authorization": f"token {TOKEN}"},
            body=None if body is None and method == "GET" else json.dumps(body or {}),
            request_timeout=60,
        )
        return json.loads(r.body) if r.body else None

    async def ready(self) -> None:
        for _ in range(600):  # a hung start fails the test after a minute
            if self.proc.poll() is not None:
                raise AssertionError(f"jupyter server exited: {self.proc.returncode}")
            try:
                await self.request("GET", "realtime/status")
                return
            except (OSError, tornado.httpclient.HTTPClientError):
                await asyncio.sleep(0.1)
        raise AssertionError("jupyter server did not start")

    async def ws(self, ws_path: str, after: int = 0) -> tornado.websocket.WebSocketClientConnection:
        req = tornado.httpclient.HTTPRequest(
            f"ws://127.0.0.1:{self.port}{BASE}{ws_path}?source=kernel&after={after}&x_events=all",
            headers={"Authorization": f"token {TOKEN}"},
        )
        return await tornado.websocket.websocket_connect(req)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self.http.close()
        self.output.close()


async def _read_until(ws, etype: str, seen: list[dict]) -> dict:
    while True:
        msg = await asyncio.wait_for(ws.read_message(), 60)
        assert msg is not None, "socket closed"
        event = json.loads(msg)
        if event["type"] != "x_hub.ready":
            seen.append(event)
        if event["type"] == etype:
            return event


async def _turn(ws, text: str, seen: list[dict]) -> dict:
    await ws.write_message(
        json.dumps(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": text}],
                },
            }
        )
    )
    await ws.write_message(
        json.dumps({"type": "response.create", "response": {"modalities": ["text"]}})
    )
    return await _read_until(ws, "response.done", seen)


@pytest.mark.timeout(300)
async def test_a_session_survives_a_killed_server_and_resumes(tmp_path):
    log_dir = tmp_path / "logs"
    first = JupyterProcess(tmp_path, log_dir)
    try:
        await first.ready()
        created = await first.request(
            "POST", "realtime/sessions", {"provider": "local", "name": "survivor"}
        )
        ws = await first.ws(created["ws_path"])
        seen: list[dict] = []
        await _read_until(ws, "x_hub.ready", seen)
        audio = base64.b64encode(b"\x10\x00" * 4800).decode()
        await ws.write_message(json.dumps({"type": "input_audio_buffer.append", "audio": audio}))
        await _turn(ws, "Remember the number forty two", seen)
        before = await first.request("GET", f"realtime/sessions/{created['id']}")
        log_before = await first.request(
            "GET", f"realtime/sessions/{created['id']}/events?limit=1000&audio=inline"
        )
    finally:
        first.kill()  # SIGKILL: no shutdown hook runs

    second = JupyterProcess(tmp_path, log_dir)
    try:
        await second.ready()
        listed = (await second.request("GET", "realtime/sessions"))["sessions"]
        assert [(s["id"], s["name"], s["status"]) for s in listed] == [
            (created["id"], "survivor", "closed")
        ]
        after = await second.request("GET", f"realtime/sessions/{created['id']}")
        assert (
            after["state"]["items"] == before["state"]["items"]
        )  # the conversation, rebuilt from the log
        assert after["n_events"] == before["n_events"]
        log_after = await second.request(
            "GET", f"realtime/sessions/{created['id']}/events?limit=1000&audio=inline"
        )
        assert log_after["events"] == log_before["events"]  # nothing lost, audio included
        assert log_after["events"][-1]["seq"] == before["n_events"]
        assert max(e["x_seq"] for e in seen) <= before["n_events"]

        resumed = await second.request("POST", f"realtime/sessions/{created['id']}/resume", {})
        assert resumed["status"] == "open"
        ws = await second.ws(created["ws_path"])
        replay: list[dict] = []
        await _read_until(ws, "x_hub.ready", replay)
        assert [e for e in replay if e["x_seq"] <= seen[-1]["x_seq"]] == [e for e in seen]
        done = await _turn(ws, "What did I say?", replay)
        assert done["response"]["status"] == "completed"
        state = (await second.request("GET", f"realtime/sessions/{created['id']}"))["state"]
        texts = [i["text"] for i in state["items"]]
        assert texts[:2] == [
            "Remember the number forty two",
            "You said: Remember the number forty two.",
        ]
        assert texts[-1] == "You said: What did I say."
        events = (
            await second.request(
                "GET",
                f"realtime/sessions/{created['id']}/events?after={before['n_events']}&limit=1000",
            )
        )["events"]
        assert events[0]["seq"] == before["n_events"] + 1  # the same log goes on
        assert any(
            e["type"] == "conversation.item.create" and e.get("quiet") for e in events
        )  # the restore
        ws.close()
    finally:
        second.kill()


def _logged_seqs(log_dir: Path, sid: str) -> list[int]:
    lines = (log_dir / sid / "events.jsonl").read_bytes().splitlines()
    return [json.loads(line)["seq"] for line in lines]


@pytest.mark.timeout(300)
async def test_after_a_crash_no_x_seq_is_reused_and_the_kernel_session_carries_on(tmp_path):
    from realtime_widget import Session

    log_dir = tmp_path / "logs"
    # The log is written to the OS only every 600 s (or when something reads it): the
    # events of the turn below reach the client and die with the process.
    slow_flush = ("--RealtimeWidgetApp.log_flush_interval=600",)
    first = JupyterProcess(tmp_path, log_dir, args=slow_flush)
    session = None
    try:
        await first.ready()
        session = await asyncio.to_thread(
            Session,
            "local",
            server=first.url(""),
            token=TOKEN,
            mode="hub",
            session={"modalities": ["text"]},
        )
        reply = await asyncio.to_thread(session.say, "Remember the number forty two")
        assert reply.text == "You said: Remember the number forty two."
        # the turn's last event comes after response.done: wait for it, so that the events
        # recorded below are only those after the restart
        await asyncio.to_thread(session.wait_for, "rate_limits.updated", timeout=30)
        seen = session.last_seq
        received: list[dict] = []
        session.on("*", received.append)
    finally:
        first.kill()
    logged = _logged_seqs(log_dir, session.id)
    assert max(logged, default=0) < seen  # the crash did lose events the client had seen

    second = JupyterProcess(tmp_path, log_dir, port=first.port)  # where the Session looks for it
    try:
        await second.ready()
        # the kernel Session reattaches by itself: it resumes the interrupted session
        answer = await asyncio.to_thread(session.say, "What did I say?")
        assert answer.text == "You said: What did I say."
        assert session.last_seq > seen and not session.closed
        events = (await second.request("GET", f"realtime/sessions/{session.id}/events?limit=1000"))[
            "events"
        ]
        seqs = [e["seq"] for e in events]
        assert seqs == sorted(set(seqs))
        gap = next(e for e in events if e["type"] == "x_hub.seq_gap")
        assert (
            gap["quiet"]
            and gap["event"]["first_seq"] == max(logged, default=0) + 1
            and gap["event"]["last_seq"] >= seen
        )
        after_gap = [e for e in events if e["seq"] > gap["seq"]]
        assert after_gap and all(e["seq"] > seen for e in after_gap)
        # the Session got every event the hub sent after the restart: none was taken for
        # one it had seen before the crash
        sent = [e["seq"] for e in after_gap if e["dir"] == "server" and not e.get("quiet")]
        assert [e["x_seq"] for e in received] == sent
        assert [
            e["seq"] for e in events if e["seq"] < gap["seq"]
        ] == logged  # what was written stays
        listed = await second.request("GET", f"realtime/sessions/{session.id}")
        assert listed["status"] == "open" and not listed["interrupted"]
        # closed on purpose, a session is not resumed by a reattaching client
        await asyncio.to_thread(session.close)
        assert (await second.request("GET", f"realtime/sessions/{session.id}"))[
            "status"
        ] == "closed"
    finally:
        if session is not None and not session.closed:
            session.close(end=False)
        second.kill()
