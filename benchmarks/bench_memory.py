"""Memory of the local engine and of the hub with the local engine: RSS before, at peak
and after every session closed (issue 11, defect 6).

Each configuration starts a fresh server process (``realtime-widget serve``, or
``jupyter server`` with the extension and ``provider="local"`` sessions, speech on) and
runs N sessions at once over real WebSockets, each doing what grew memory before the caps:

* a 1 MiB text item, then 2 text responses to it (each reply is echoed back: capped);
* 30 s of espeak-ng speech appended and committed (input audio held by the conversation);
* an audio response (speech synthesis of the transcript); then the socket closes (the
  hub's sessions are also closed with DELETE).

RSS is read from /proc every 100 ms (peak), and 3 s after the last socket closed.
Configurations (``--configs``): ``engine`` (defaults: caps, malloc_trim after a close,
the ORT CPU arena on), ``engine-notrim`` (REALTIME_WIDGET_MALLOC_TRIM=0),
``engine-noarena`` (REALTIME_WIDGET_ORT_ARENA=0), ``hub``, ``hub-notrim``.

    python benchmarks/bench_memory.py        # 8 sessions, 2 rounds, every configuration
    python benchmarks/bench_memory.py --sessions 4 --rounds 1 --configs engine,hub
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import websocket_connect

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))
from bench_engine import rss_mib  # noqa: E402
from bench_hub import TOKEN, free_port, spawn_jupyter, wait_http  # noqa: E402
from speech_fixtures import ESPEAK_SENTENCES, speak  # noqa: E402

WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel")


class Peak:
    """Polls a process's RSS in a thread; ``peak`` is the largest seen."""

    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.peak = max(self.peak, rss_mib(self.pid))

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak


class Conn:
    def __init__(self, ws):
        self.ws, self.queue = ws, asyncio.Queue()
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        while True:
            msg = await self.ws.read_message()
            if msg is None:
                return
            await self.queue.put(json.loads(msg))

    def send(self, event: dict) -> None:
        self.ws.write_message(json.dumps(event))

    async def wait_for(self, kind: str, timeout: float = 300) -> dict:
        while True:
            event = await asyncio.wait_for(self.queue.get(), timeout)
            if event.get("type") == kind:
                return event

    def close(self) -> None:
        self._reader.cancel()
        self.ws.close()


async def one_session(url: str, headers: dict, speech: bytes, big_text: str) -> None:
    conn = Conn(
        await websocket_connect(HTTPRequest(url, headers=headers), max_message_size=256 << 20)
    )
    await conn.wait_for("session.created")
    conn.send({"type": "session.update", "session": {"turn_detection": None}})
    await conn.wait_for("session.updated")
    conn.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": big_text}],
            },
        }
    )
    await conn.wait_for("conversation.item.created")
    for _ in range(2):
        conn.send({"type": "response.create", "response": {"modalities": ["text"]}})
        await conn.wait_for("response.done")
    for offset in range(0, len(speech), 48000):  # 1 s appends
        conn.send(
            {
                "type": "input_audio_buffer.append",
                "audio": base64.b64encode(speech[offset : offset + 48000]).decode(),
            }
        )
    conn.send({"type": "input_audio_buffer.commit"})
    await conn.wait_for("input_audio_buffer.committed")
    conn.send({"type": "response.create"})
    await conn.wait_for("response.done")
    conn.close()


def spawn_engine(port: int, env: dict) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "realtime_widget", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    for line in proc.stderr:
        if "listening" in line:
            threading.Thread(target=proc.stderr.read, daemon=True).start()  # keep draining
            return proc
    raise RuntimeError("engine did not start")


async def run_config(name: str, args, speech: bytes, big_text: str) -> dict:
    env = dict(os.environ)
    if name.endswith("-notrim"):
        env["REALTIME_WIDGET_MALLOC_TRIM"] = "0"
    if name.endswith("-noarena"):
        env["REALTIME_WIDGET_ORT_ARENA"] = "0"
    port = free_port()
    tmp = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    headers: dict[str, str] = {}
    if name.startswith("engine"):
        proc = spawn_engine(port, env)
    else:
        saved = dict(os.environ)
        os.environ.update(env)
        try:
            proc = spawn_jupyter(port, tmp / "jupyter", args.sessions, [], local_speech=True)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        await wait_http(f"http://127.0.0.1:{port}/realtime/status", proc)
        headers = {"Authorization": f"token {TOKEN}"}
    try:
        result = {"config": name, "rounds": []}
        if name.startswith(
            "hub"
        ):  # load the speech models once before measuring (the engine loads them at start)
            await hub_round(port, headers, 1, speech[: 48000 * 2], "hello")
        await asyncio.sleep(1.0)
        result["before"] = rss_mib(proc.pid)
        for _ in range(args.rounds):
            peak = Peak(proc.pid)
            t0 = time.perf_counter()
            if name.startswith("engine"):
                url = f"ws://127.0.0.1:{port}/v1/realtime?model=bench"
                await asyncio.gather(
                    *(
                        one_session(url, {"OpenAI-Beta": "realtime=v1"}, speech, big_text)
                        for _ in range(args.sessions)
                    )
                )
            else:
                await hub_round(port, headers, args.sessions, speech, big_text)
            seconds = time.perf_counter() - t0
            await asyncio.sleep(3.0)
            result["rounds"].append(
                {"peak": peak.stop(), "after": rss_mib(proc.pid), "seconds": seconds}
            )
        return result
    finally:
        proc.terminate()
        proc.wait(20)


async def hub_round(port: int, headers: dict, n: int, speech: bytes, big_text: str) -> None:
    client = AsyncHTTPClient()
    urls, ids = [], []
    for i in range(n):
        r = await client.fetch(
            f"http://127.0.0.1:{port}/realtime/sessions",
            method="POST",
            headers=headers,
            body=json.dumps({"provider": "local", "name": f"bench {i}"}),
            request_timeout=120,
        )
        body = json.loads(r.body)
        ids.append(body["id"])
        urls.append(f"ws://127.0.0.1:{port}/{body['ws_path']}?source=kernel")
    await asyncio.gather(*(one_session(u, headers, speech, big_text) for u in urls))
    for sid in ids:
        await client.fetch(
            f"http://127.0.0.1:{port}/realtime/sessions/{sid}", method="DELETE", headers=headers
        )


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--speech-seconds", type=float, default=30.0)
    parser.add_argument("--item-bytes", type=int, default=1 << 20)
    parser.add_argument("--configs", default="engine,engine-notrim,engine-noarena,hub,hub-notrim")
    args = parser.parse_args()
    one = np.concatenate([speak(s) for s in ESPEAK_SENTENCES])
    reps = int(np.ceil(args.speech_seconds * 24000 / len(one)))
    speech = np.tile(one, reps)[: int(args.speech_seconds * 24000)].astype("<i2").tobytes()
    big_text = " ".join(WORDS[i % len(WORDS)] for i in range(args.item_bytes // 5))[
        : args.item_bytes
    ]
    print(
        f"{args.sessions} sessions x {args.rounds} rounds; per session a {len(big_text) >> 10} "
        "KiB item + 2 text replies, "
        f"{args.speech_seconds:.0f} s of speech committed, one audio reply"
    )
    print(
        f"{'config':16s} {'before':>8s} "
        + " ".join(
            f"{'peak' + str(i + 1):>8s} {'after' + str(i + 1):>8s}" for i in range(args.rounds)
        )
        + "   (MiB RSS)"
    )
    for name in args.configs.split(","):
        r = await run_config(name, args, speech, big_text)
        cells = " ".join(f"{x['peak']:8.0f} {x['after']:8.0f}" for x in r["rounds"])
        secs = ", ".join(f"{x['seconds']:.0f}" for x in r["rounds"])
        print(f"{name:16s} {r['before']:8.0f} {cells}   (rounds took {secs} s)", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
