"""Latency and capacity of the local realtime engine, measured as a client sees it.

Runs ``realtime-widget serve`` in its own process (default speech stack, default brain)
and talks to it over a real WebSocket, streaming espeak-ng speech paced in real time
in 20 ms frames, as a microphone would.

Measures:
  1. spoken turns: ``speech_stopped`` -> first ``response.audio.delta`` (p50/p95);
  2. text turns: ``response.create`` -> first ``response.text.delta`` (p50/p95);
  3. capacity: N sessions speaking at once; latency per N;
  4. memory: server RSS with 0 and N idle sessions -> MiB per extra session.

    python benchmarks/bench_engine.py            # all, ~3 minutes
    python benchmarks/bench_engine.py --turns 20 --sessions 1,2,4,8
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from speech_fixtures import speak  # noqa: E402

SENTENCES = [
    "What is the weather like in Paris today?",
    "Please tell me a short story about a cat.",
    "How far away is the moon from the earth?",
    "Can you recommend a good book to read?",
    "What time does the train to London leave?",
    "I would like to order a large pizza.",
    "Turn off the lights in the kitchen please.",
    "Who won the football match last night?",
    "Remind me to call my mother tomorrow.",
    "How do I make a cup of green tea?",
]
FRAME_MS = 20
FRAME_BYTES = 24000 * 2 * FRAME_MS // 1000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Client:
    def __init__(self, ws):
        self.ws = ws
        self.queue: asyncio.Queue = asyncio.Queue()
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def connect(cls, port: int) -> "Client":
        req = HTTPRequest(
            f"ws://127.0.0.1:{port}/v1/realtime?model=bench", headers={"OpenAI-Beta": "realtime=v1"}
        )
        client = cls(await websocket_connect(req, max_message_size=64 << 20))
        await client.wait_for("session.created")
        return client

    async def _read(self):
        while True:
            msg = await self.ws.read_message()
            if msg is None:
                return
            await self.queue.put((time.perf_counter(), json.loads(msg)))

    def send(self, event: dict) -> None:
        self.ws.write_message(json.dumps(event))

    async def wait_for(self, kind: str, timeout: float = 60) -> tuple[float, dict]:
        while True:
            t, event = await asyncio.wait_for(self.queue.get(), timeout)
            if event["type"] == "error":
                raise RuntimeError(event["error"])
            if event["type"] == kind:
                return t, event

    def close(self):
        self._reader.cancel()
        self.ws.close()


async def spoken_turn(client: Client, pcm: bytes) -> dict:
    """Stream silence + speech + silence in real time; time the reply."""
    silence = bytes(24000 * 2 // 2)  # 0.5 s
    audio = silence + pcm + silence * 3
    start = time.perf_counter()
    for i, offset in enumerate(range(0, len(audio), FRAME_BYTES)):
        due = start + i * FRAME_MS / 1000
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        client.send(
            {
                "type": "input_audio_buffer.append",
                "audio": base64.b64encode(audio[offset : offset + FRAME_BYTES]).decode(),
            }
        )
    t_stopped, _ = await client.wait_for("input_audio_buffer.speech_stopped")
    t_first, _ = await client.wait_for("response.audio.delta")
    await client.wait_for("response.done")
    return {"stopped_to_audio_ms": (t_first - t_stopped) * 1000}


async def text_turn(client: Client, text: str) -> float:
    client.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": text}],
            },
        }
    )
    await client.wait_for("conversation.item.created")
    t0 = time.perf_counter()
    client.send({"type": "response.create", "response": {"modalities": ["text"]}})
    t1, _ = await client.wait_for("response.text.delta")
    await client.wait_for("response.done")
    return (t1 - t0) * 1000


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


async def run(args) -> None:
    port = free_port()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "realtime_widget", "serve", "--port", str(port)],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        for line in proc.stderr:
            if "listening" in line:
                break
        clips = [speak(s).astype("<i2").tobytes() for s in SENTENCES]
        print(f"server pid {proc.pid}, rss after warm-up {rss_mib(proc.pid):.0f} MiB")

        client = await Client.connect(port)
        turns = []
        for i in range(args.turns):
            turns.append((await spoken_turn(client, clips[i % len(clips)]))["stopped_to_audio_ms"])
        client.close()
        print(
            f"\n1. spoken turn, speech_stopped -> first audio delta, {len(turns)} turns:"
            f" p50 {pct(turns, 50):.0f} ms, p95 {pct(turns, 95):.0f} ms, min {min(turns):.0f}, "
            f"max {max(turns):.0f}"
        )

        client = await Client.connect(port)
        texts = [await text_turn(client, s) for s in SENTENCES * 2]
        client.close()
        print(
            f"2. text turn, response.create -> first text delta, {len(texts)} turns:"
            f" p50 {pct(texts, 50):.1f} ms, p95 {pct(texts, 95):.1f} ms"
        )

        print("3. concurrent sessions, each speaking one turn in real time at once:")
        for n in args.sessions:
            clients = [await Client.connect(port) for _ in range(n)]
            results = await asyncio.gather(
                *(spoken_turn(c, clips[i % len(clips)]) for i, c in enumerate(clients))
            )
            lat = [r["stopped_to_audio_ms"] for r in results]
            for c in clients:
                c.close()
            print(
                f"   {n:3d} sessions: p50 {pct(lat, 50):.0f} ms, p95 {pct(lat, 95):.0f} ms, max "
                f"{max(lat):.0f} ms"
            )

        await asyncio.sleep(0.5)
        base = rss_mib(proc.pid)
        idle = [await Client.connect(port) for _ in range(args.idle)]
        await asyncio.sleep(0.5)
        loaded = rss_mib(proc.pid)
        for c in idle:
            c.close()
        print(
            f"4. memory: {base:.0f} MiB -> {loaded:.0f} MiB with {args.idle} more idle sessions:"
            f" {(loaded - base) / args.idle * 1024:.0f} KiB per session"
        )
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--sessions", default="1,2,4,8")
    parser.add_argument("--idle", type=int, default=50)
    args = parser.parse_args()
    args.sessions = [int(n) for n in args.sessions.split(",")]
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
