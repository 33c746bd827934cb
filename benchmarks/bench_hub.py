"""What the session hub costs: a client talking to a realtime server directly, through a
bare pass-through relay, and through the hub (a real ``jupyter server`` with the
extension, logging every event to disk), side by side in one run.

Three processes per configuration, all on this machine:

* the upstream: a small realtime server (``--upstream echo``, default) that answers each
  ``input_audio_buffer.append`` at once with a ``response.audio.delta`` carrying the same
  20 ms of audio (after announcing a response and its item, so the hub's conversation
  state really accumulates audio); it costs the same in every configuration, so what
  differs is the relay. ``--upstream engine`` uses ``realtime-widget serve --no-speech``
  instead (audio in only; latency is then measured on a text turn per second);
* the relay under test: none (``direct``), ``bare`` (a minimal Tornado WebSocket relay that
  forwards text frames unchanged: the baseline), or ``hub`` (``jupyter server`` +
  realtime_widget, ``provider="url"``, event log on);
* the load: N sessions, each streaming 20 ms PCM16 frames paced in real time, both ways.

Reported per configuration: round-trip per frame p50 / p99 (the hub's and the bare relay's
*added* latency is their round trip minus the direct one at the same percentile), the
relay's CPU seconds (from /proc) per audio-second relayed (one audio-second = one second of
audio in each direction), and events relayed per CPU-second (events per second per core).

    python benchmarks/bench_hub.py                      # 50 sessions x 10 s per configuration
    python benchmarks/bench_hub.py --sessions 10 --seconds 5
    # interleaved rounds, medians (for noisy machines)
    python benchmarks/bench_hub.py --configs bare,hub --repeat 5
    # the same hub from two source trees (e.g. two commits' worktrees), interleaved per round
    python benchmarks/bench_hub.py --configs hub --tree before=../old --tree after=. --repeat 5

With ``--tree LABEL=PATH`` (repeatable) every configuration that imports realtime_widget
(``hub``, ``lean``) runs once per tree per round, as ``hub@LABEL``, its server started with
``PYTHONPATH=PATH`` and its working directory in PATH (``python -c`` and ``-m`` put the
working directory first on ``sys.path``, ahead of ``PYTHONPATH``); the script checks at
start-up which ``realtime_widget`` each tree's subprocess imports, and prints the ratio of
the last tree's medians to the first's with a bootstrap interval.
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
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import websocket_connect

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-token"


def _server_script(body: str, handler: str, route: str) -> str:
    """A one-file Tornado server: ``body`` (imports and a WebSocket handler class) served at
    ``route`` on 127.0.0.1:<argv[1]>; it prints "ready" once it listens."""
    return textwrap.dedent(body) + textwrap.dedent(
        f'''
        async def main():
            app = tornado.web.Application(
                [(r"{route}", {handler})], websocket_max_message_size=64 << 20
            )
            app.listen(int(sys.argv[1]), "127.0.0.1")
            print("ready", flush=True)
            await asyncio.Event().wait()

        asyncio.run(main())
        '''
    )


ECHO_SERVER = _server_script(
    """
    import asyncio, json, sys
    import tornado.web, tornado.websocket

    ITEM = {"id": "item_bench", "object": "realtime.item", "type": "message",
            "role": "assistant", "status": "in_progress", "content": []}
    HEAD = [
        {"type": "session.created", "session": {
            "id": "sess_bench", "object": "realtime.session", "model": "echo",
            "modalities": ["text", "audio"], "input_audio_format": "pcm16",
            "output_audio_format": "pcm16", "turn_detection": None}},
        {"type": "response.created", "response": {
            "id": "resp_bench", "object": "realtime.response", "status": "in_progress",
            "output": []}},
        {"type": "response.output_item.added", "response_id": "resp_bench", "output_index": 0,
         "item": ITEM},
        {"type": "conversation.item.created", "previous_item_id": None, "item": ITEM},
        {"type": "response.content_part.added", "response_id": "resp_bench",
         "item_id": "item_bench", "output_index": 0, "content_index": 0,
         "part": {"type": "audio", "transcript": ""}},
    ]

    class Echo(tornado.websocket.WebSocketHandler):
        def check_origin(self, origin):
            return True

        def open(self):
            self.set_nodelay(True)
            for n, ev in enumerate(HEAD):
                self.write_message(json.dumps({**ev, "event_id": f"event_head_{n}"}))

        def on_message(self, message):
            ev = json.loads(message)
            if ev.get("type") == "input_audio_buffer.append":
                self.write_message(json.dumps({
                    "type": "response.audio.delta", "event_id": "e" + str(ev.get("x_n")),
                    "response_id": "resp_bench", "item_id": "item_bench", "output_index": 0,
                    "content_index": 0, "delta": ev["audio"], "x_t0": ev.get("x_t0"),
                }))
    """,
    "Echo",
    "/v1/realtime",
)

# What both pass-through relays share; they differ only in how frames move.
_RELAY_BASE = """
import asyncio, sys
import tornado.httpclient, tornado.web, tornado.websocket

def upstream_request():  # one per connection: connecting adds its own headers to the request
    return tornado.httpclient.HTTPRequest(sys.argv[2], headers={"OpenAI-Beta": "realtime=v1"})

class RelayBase(tornado.websocket.WebSocketHandler):
    up = None

    def check_origin(self, origin):
        return True

    def on_close(self):
        if self.up is not None:
            self.up.close()
"""

# The baseline: Tornado used the plain way.
BARE_RELAY = _server_script(
    _RELAY_BASE
    + """
class Relay(RelayBase):
    async def open(self):
        self.set_nodelay(True)
        self.up = await tornado.websocket.websocket_connect(upstream_request())
        self.up.protocol.set_nodelay(True)
        asyncio.ensure_future(self.pump())

    async def pump(self):
        while True:
            msg = await self.up.read_message()
            if msg is None:
                self.close()
                return
            self.write_message(msg)

    async def on_message(self, message):
        await self.up.write_message(message)
""",
    "Relay",
    "/relay",
)

# The same pass-through with the hub's transport shortcuts (a synchronous on_message, the
# upstream read by callback, frames written without Tornado's per-message Task): what the
# hub's own work costs on top of its transport.
LEAN_RELAY = _server_script(
    _RELAY_BASE
    + """
try:
    from realtime_widget.wsframes import write_text
except ImportError:  # a tree from before the refactor (2735d30)
    from realtime_widget.server.wsframes import write_text

class Relay(RelayBase):
    async def open(self):
        self.set_nodelay(True)
        self.up = await tornado.websocket.websocket_connect(
            upstream_request(), on_message_callback=self.from_upstream
        )
        self.up.protocol.set_nodelay(True)

    def from_upstream(self, msg):
        if msg is None:
            self.close()
        elif self.ws_connection is not None:
            write_text(self.ws_connection, msg)

    def on_message(self, message):
        write_text(self.up.protocol, message)
""",
    "Relay",
    "/relay",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int, part: str = "both") -> float:
    """utime + stime (or one of them: part="user" / "system") of a process, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    user, system = int(fields[11]) / ticks, int(fields[12]) / ticks
    return {"both": user + system, "user": user, "system": system}[part]


# Configurations whose server imports realtime_widget: --tree runs them once per tree.
TREE_CONFIGS = ("hub", "lean")


def tree_env(tree: Path | None) -> tuple[dict[str, str], str | None]:
    """Environment and working directory of a subprocess that must import ``realtime_widget``
    from ``tree`` (None: whatever this process would import). The working directory matters:
    ``python -c`` / ``python -m`` put it on ``sys.path`` ahead of ``PYTHONPATH``, so a
    benchmark started inside another checkout would otherwise import that checkout."""
    env = dict(os.environ)
    if tree is None:
        return env, None
    env["PYTHONPATH"] = os.pathsep.join([str(tree), *filter(None, [env.get("PYTHONPATH")])])
    return env, str(tree)


def check_tree(tree: Path) -> str:
    """The ``realtime_widget`` a subprocess started by ``tree_env(tree)`` imports; raises if it
    is not the one in ``tree``."""
    env, cwd = tree_env(tree)
    out = subprocess.run(
        [sys.executable, "-c", "import realtime_widget; print(realtime_widget.__file__)"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not Path(out).resolve().is_relative_to(tree.resolve()):
        raise SystemExit(f"PYTHONPATH={tree} imports {out}, not that tree's realtime_widget")
    return out


def parse_trees(specs: list[str]) -> dict[str, Path]:
    """``LABEL=PATH`` options, in order; each tree's import is checked and printed."""
    trees = {k: Path(v).resolve() for k, v in (t.split("=", 1) for t in specs)}
    for label, tree in trees.items():
        print(f"tree {label}: realtime_widget from {check_tree(tree)}", flush=True)
    return trees


def spawn_script(code: str, *args: str, tree: Path | None = None) -> subprocess.Popen:
    env, cwd = tree_env(tree)
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=cwd,
    )
    line = proc.stdout.readline()
    if "ready" not in line:
        raise RuntimeError(f"helper did not start: {line}{proc.stdout.read()}")
    return proc


def spawn_engine(port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "realtime_widget", "serve", "--no-speech", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    for line in proc.stderr:
        if "listening" in line:
            return proc
    raise RuntimeError("engine did not start")


def spawn_jupyter(
    port: int,
    tmp: Path,
    sessions: int,
    options: list[str],
    *,
    local_speech: bool = False,
    tree: Path | None = None,
) -> subprocess.Popen:
    env, cwd = tree_env(tree)  # this source tree's realtime_widget, before the installed one
    for name, sub in (
        ("HOME", "home"),
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
    ):
        (tmp / sub).mkdir(parents=True, exist_ok=True)
        env[name] = str(tmp / sub)
    log = open(tmp / "jupyter.log", "wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            *(
                ["-m", "cProfile", "-o", os.environ["BENCH_PROFILE"]]
                if os.environ.get("BENCH_PROFILE")
                else []
            ),
            "-m",
            "jupyter_server",
            "--no-browser",
            "--allow-root",
            f"--ServerApp.port={port}",
            "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={TOKEN}",
            f"--ServerApp.root_dir={tmp}",
            "--ServerApp.jpserver_extensions=realtime_widget=True",
            "--ServerApp.log_level=WARN",
            f"--RealtimeWidgetApp.log_dir={tmp / 'logs'}",
            f"--RealtimeWidgetApp.local_speech={local_speech}",
            f"--RealtimeWidgetApp.max_sessions_per_user={sessions + 10}",
            *(f"--RealtimeWidgetApp.{o}" for o in options),
        ],
        env=env,
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return proc


async def wait_http(url: str, proc: subprocess.Popen) -> None:
    client = AsyncHTTPClient()
    for _ in range(300):
        if proc.poll() is not None:
            raise RuntimeError("jupyter server exited")
        try:
            await client.fetch(url, headers={"Authorization": f"token {TOKEN}"})
            return
        except Exception:
            await asyncio.sleep(0.1)
    raise RuntimeError("jupyter server did not start")


class Load:
    """N clients streaming paced 20 ms frames; round trips in milliseconds."""

    def __init__(
        self,
        urls: list[str],
        headers: dict[str, str],
        frame_ms: int,
        seconds: float,
        warmup: float,
        text_turns: bool,
    ):
        self.urls, self.headers = urls, headers
        self.frame_ms, self.seconds, self.warmup = frame_ms, seconds, warmup
        self.text_turns = text_turns
        samples = (np.sin(np.arange(24 * frame_ms) / 7.0) * 3000).astype("<i2").tobytes()
        self.audio = base64.b64encode(samples).decode()
        self.rtts: list[float] = []
        self.received = 0
        self.sent = 0

    async def one(
        self, url: str, offset: float, t_start: float, t_measure: float, t_end: float
    ) -> None:
        ws = await websocket_connect(
            HTTPRequest(url, headers=self.headers), max_message_size=64 << 20
        )
        ws.protocol.set_nodelay(True)
        pending: dict[str, float] = {}

        async def reader():
            while True:
                msg = await ws.read_message()
                if msg is None:
                    return
                now = time.perf_counter()
                ev = json.loads(msg)
                if ev.get("type") == "response.audio.delta" and ev.get("x_t0") is not None:
                    self.received += 1
                    if ev["x_t0"] >= t_measure:
                        self.rtts.append((now - ev["x_t0"]) * 1000)
                elif ev.get("type") == "response.text.delta" and ev.get("response_id") in pending:
                    t0 = pending.pop(ev["response_id"])
                    if t0 >= t_measure:
                        self.rtts.append((now - t0) * 1000)
                elif (
                    ev.get("type") == "response.created"
                    and self.text_turns
                    and "last_create" in pending
                ):
                    pending[ev["response"]["id"]] = pending.pop("last_create")

        task = asyncio.ensure_future(reader())
        n = 0
        loop = asyncio.get_running_loop()
        next_t = t_start + offset
        while next_t < t_end:
            await asyncio.sleep(max(0.0, next_t - time.perf_counter()))
            now = time.perf_counter()
            await ws.write_message(
                json.dumps(
                    {
                        "type": "input_audio_buffer.append",
                        "audio": self.audio,
                        "x_t0": now,
                        "x_n": n,
                    }
                )
            )
            self.sent += 1
            if self.text_turns and n % (1000 // self.frame_ms) == 0:
                pending["last_create"] = time.perf_counter()
                await ws.write_message(
                    json.dumps(
                        {
                            "type": "conversation.item.create",
                            "item": {
                                "type": "message",
                                "role": "user",
                                "content": [{"type": "input_text", "text": "ping"}],
                            },
                        }
                    )
                )
                await ws.write_message(
                    json.dumps({"type": "response.create", "response": {"modalities": ["text"]}})
                )
            n += 1
            next_t += self.frame_ms / 1000
        await asyncio.sleep(0.5)
        ws.close()
        task.cancel()
        del loop

    async def run(self) -> None:
        t_start = time.perf_counter() + 0.5
        t_measure = t_start + self.warmup
        t_end = t_measure + self.seconds
        n = len(self.urls)
        await asyncio.gather(
            *(
                self.one(u, i * self.frame_ms / 1000 / n, t_start, t_measure, t_end)
                for i, u in enumerate(self.urls)
            )
        )


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


async def run_config(name: str, args, upstream_url: str, tmp: Path) -> dict:
    relay_proc = None
    headers: dict[str, str] = {}
    if name == "direct":
        urls = [upstream_url] * args.sessions
        headers = {"OpenAI-Beta": "realtime=v1"}  # the preview dialect (the engine's default is GA)
    elif name.split("@")[0] in ("bare", "lean"):
        port = free_port()
        relay_proc = spawn_script(
            BARE_RELAY if name.split("@")[0] == "bare" else LEAN_RELAY,
            str(port),
            upstream_url,
            tree=args.trees[name.split("@", 1)[1]] if "@" in name else None,
        )
        urls = [f"ws://127.0.0.1:{port}/relay"] * args.sessions
    else:
        port = free_port()
        tree = args.trees[name.split("@", 1)[1]] if "@" in name else None
        relay_proc = spawn_jupyter(port, tmp / "jupyter", args.sessions, args.hub_option, tree=tree)
        await wait_http(f"http://127.0.0.1:{port}/realtime/status", relay_proc)
        client = AsyncHTTPClient()
        urls = []
        for i in range(args.sessions):
            r = await client.fetch(
                f"http://127.0.0.1:{port}/realtime/sessions",
                method="POST",
                headers={"Authorization": f"token {TOKEN}"},
                body=json.dumps({"provider": "url", "url": upstream_url, "name": f"bench {i}"}),
            )
            urls.append(
                f"ws://127.0.0.1:{port}/"
                + json.loads(r.body)["ws_path"]
                + "?source=kernel&x_events=all"
            )
        headers = {"Authorization": f"token {TOKEN}"}
    load = Load(urls, headers, args.frame_ms, args.seconds, args.warmup, args.upstream == "engine")
    measure_start = [0.0]

    async def cpu_window() -> tuple[float, float]:
        await asyncio.sleep(0.5 + args.warmup)
        c0 = cpu_seconds(relay_proc.pid) if relay_proc else 0.0
        s0 = cpu_seconds(relay_proc.pid, "system") if relay_proc else 0.0
        u0 = cpu_seconds(args.upstream_pid)
        measure_start[0] = time.perf_counter()
        await asyncio.sleep(args.seconds)
        if relay_proc is None:
            return 0.0, 0.0, cpu_seconds(args.upstream_pid) - u0
        return (
            cpu_seconds(relay_proc.pid) - c0,
            cpu_seconds(relay_proc.pid, "system") - s0,
            cpu_seconds(args.upstream_pid) - u0,
        )

    (relay_cpu, relay_sys, upstream_cpu), _ = await asyncio.gather(cpu_window(), load.run())
    if relay_proc is not None:
        relay_proc.terminate()
        relay_proc.wait(10)
    audio_seconds = args.sessions * args.seconds  # audio seconds per direction in the window
    # relayed frames: both directions with the echo upstream; audio in only with the engine
    events = (
        (2 if args.upstream == "echo" else 1) * args.sessions * args.seconds * 1000 / args.frame_ms
    )
    return {
        "config": name,
        "rtt_p50_ms": pct(load.rtts, 50),
        "rtt_p99_ms": pct(load.rtts, 99),
        "samples": len(load.rtts),
        "relay_cpu_s": relay_cpu,
        # the kernel's share (system calls: sends, receives, log writes)
        "relay_system_s": relay_sys,
        "upstream_cpu_s": upstream_cpu,
        "relay_cpu_ms_per_audio_s": 1000 * relay_cpu / audio_seconds if relay_proc else 0.0,
        "relay_events_per_cpu_s": events / relay_cpu if relay_cpu else float("nan"),
        "lost": load.sent - load.received if args.upstream == "echo" else None,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="measured seconds per configuration"
    )
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--frame-ms", type=int, default=20)
    parser.add_argument("--upstream", choices=("echo", "engine"), default="echo")
    parser.add_argument("--configs", default="direct,bare,hub")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds of all configurations, interleaved (medians are reported)",
    )
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument(
        "--hub-option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a RealtimeWidgetApp option for the hub, e.g. log_flush_interval=0.2 (repeatable)",
    )
    parser.add_argument(
        "--tree",
        action="append",
        default=[],
        metavar="LABEL=PATH",
        help="a source tree (repeatable): each of the hub and lean configs runs once per tree "
        "per round as hub@LABEL, importing realtime_widget from PATH (compare commits in one "
        "run; the ratio is the last tree's over the first's)",
    )
    args = parser.parse_args()
    args.trees = parse_trees(args.tree)
    args.configs = ",".join(expand_configs(args.configs.split(","), list(args.trees)))

    port = free_port()
    if args.upstream == "echo":
        upstream = spawn_script(ECHO_SERVER, str(port))
    else:
        upstream = spawn_engine(port)
    args.upstream_pid = upstream.pid
    upstream_url = f"ws://127.0.0.1:{port}/v1/realtime"
    rounds: list[dict] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for round_ in range(args.repeat):
                for name in args.configs.split(","):
                    result = await run_config(
                        name, args, upstream_url, Path(tmp) / f"{name}{round_}"
                    )
                    result["round"] = round_
                    rounds.append(result)
                    await asyncio.sleep(0.5)
    finally:
        upstream.terminate()
        upstream.wait(10)

    results = [
        median_result(name, [r for r in rounds if r["config"] == name])
        for name in args.configs.split(",")
    ]
    direct = next((r for r in results if r["config"] == "direct"), None)
    bare = next((r for r in results if r["config"] == "bare"), None)
    width = max(8, *(len(r["config"]) for r in results))
    print(
        f"\n{args.sessions} sessions, {args.frame_ms} ms frames both ways, {args.seconds:.0f} s "
        f"measured, upstream: {args.upstream}, "
        f"{os.cpu_count()} cores, load average before: {LOAD_BEFORE}"
        + (f", medians of {args.repeat} interleaved rounds" if args.repeat > 1 else "")
        + "\n"
    )
    print(
        f"{'config':<{width}} {'rtt p50':>8} {'rtt p99':>8} {'+p50':>7} {'+p99':>7} "
        f"{'relay CPU':>10} {'(system)':>9} {'ms CPU/audio-s':>15} {'events/CPU-s':>13}  lost"
    )
    for r in results:
        add50 = r["rtt_p50_ms"] - direct["rtt_p50_ms"] if direct else float("nan")
        add99 = r["rtt_p99_ms"] - direct["rtt_p99_ms"] if direct else float("nan")
        print(
            f"{r['config']:<{width}} {r['rtt_p50_ms']:8.2f} {r['rtt_p99_ms']:8.2f} {add50:7.2f} "
            f"{add99:7.2f} {r['relay_cpu_s']:9.2f}s {r['relay_system_s']:8.2f}s "
            f"{r['relay_cpu_ms_per_audio_s']:15.2f} {r['relay_events_per_cpu_s']:13.0f}  "
            f"{r['lost']}"
        )
    hub = next((r for r in results if r["config"] == "hub"), None)
    if hub and bare and bare["relay_cpu_s"]:
        # per round (bare and hub ran back to back), and below as the ratio of the medians
        pairs = paired(rounds, "bare", "hub")
        bare_cpu = [b["relay_cpu_s"] for b, _ in pairs]
        hub_cpu = [h["relay_cpu_s"] for _, h in pairs]
        ratios = [h / b for b, h in zip(bare_cpu, hub_cpu, strict=True)]
        print(
            f"\nhub CPU / bare relay CPU: {float(np.median(ratios)):.2f}x (goal <= 1.2x)"
            + (f"; per round: {', '.join(f'{x:.2f}' for x in ratios)}" if len(ratios) > 1 else "")
        )
        if len(ratios) >= 5:
            low, high = ratio_interval(hub_cpu, bare_cpu)
            print(
                f"  ratio of the medians: {float(np.median(hub_cpu) / np.median(bare_cpu)):.2f}x, "
                f"95% bootstrap interval {low:.2f}-{high:.2f}x; "
                f"{sum(x <= 1.2 for x in ratios)} of {len(ratios)} rounds <= 1.2x; "
                "round-to-round correlation of hub and bare CPU: "
                f"{float(np.corrcoef(hub_cpu, bare_cpu)[0, 1]):+.2f}"
            )
    if hub and any(r["config"] == "lean" for r in results):
        ratios = [h["relay_cpu_s"] / b["relay_cpu_s"] for b, h in paired(rounds, "lean", "hub")]
        print(
            f"hub CPU / lean relay CPU (same transport as the hub): {float(np.median(ratios)):.2f}x"
            + (f"; per round: {', '.join(f'{x:.2f}' for x in ratios)}" if len(ratios) > 1 else "")
        )
    if hub and direct:
        added = [h["rtt_p99_ms"] - d["rtt_p99_ms"] for d, h in paired(rounds, "direct", "hub")]
        print(
            f"hub added latency p99: {float(np.median(added)):.2f} ms (goal <= 2 ms)"
            + (f"; per round: {', '.join(f'{x:.2f}' for x in added)}" if len(added) > 1 else "")
        )
    tree_ratios(rounds, [r["config"] for r in results])
    if args.json:
        Path(args.json).write_text(json.dumps({"rounds": rounds, "medians": results}, indent=1))


def expand_configs(configs: list[str], labels: list[str]) -> list[str]:
    """With source trees, each config that imports realtime_widget runs once per tree
    (``hub`` -> ``hub@before``, ``hub@after``), the trees next to each other in every round;
    configs already naming a tree, and those that import nothing of ours, are kept."""
    out: list[str] = []
    for name in configs:
        if labels and name in TREE_CONFIGS:
            out += [f"{name}@{label}" for label in labels]
        else:
            out.append(name)
    return out


def tree_ratios(rounds: list[dict], configs: list[str]) -> None:
    """For each config run from two or more trees: the ratio of the last tree's median to the
    first's, per field, with the bootstrap interval of ``ratio_interval`` from 5 rounds on."""
    by_base: dict[str, list[str]] = {}
    for name in configs:
        if "@" in name:
            by_base.setdefault(name.split("@", 1)[0], []).append(name)
    for names in by_base.values():
        if len(names) < 2:
            continue
        first, last = names[0], names[-1]
        print(f"\n{last} / {first}, ratio of the medians over the rounds:")
        for field in ("relay_cpu_ms_per_audio_s", "relay_system_s", "rtt_p50_ms", "rtt_p99_ms"):
            num = [r[field] for r in rounds if r["config"] == last]
            den = [r[field] for r in rounds if r["config"] == first]
            line = f"  {field:<26} {float(np.median(num) / np.median(den)):.3f}x"
            if len(num) >= 5:
                low, high = ratio_interval(num, den)
                line += f"  (95% bootstrap interval {low:.3f}-{high:.3f}x)"
            per_round = [n / d for n, d in zip(num, den, strict=True)]
            line += "; per round: " + ", ".join(f"{x:.2f}" for x in per_round)
            print(line)


def ratio_interval(
    numerator: list[float], denominator: list[float], level: float = 0.95, resamples: int = 10_000
) -> tuple[float, float]:
    """Percentile-bootstrap interval of median(numerator) / median(denominator), the two
    resampled independently: on this shared machine one configuration's CPU does not
    track the other's from round to round (the correlation is printed), so the noise of
    the two is independent and pairing the rounds would only add it up."""
    rng = np.random.default_rng(0)
    num, den = np.asarray(numerator), np.asarray(denominator)
    ratios = np.median(rng.choice(num, size=(resamples, len(num))), axis=1) / np.median(
        rng.choice(den, size=(resamples, len(den))), axis=1
    )
    tail = (1 - level) / 2 * 100
    return float(np.percentile(ratios, tail)), float(np.percentile(ratios, 100 - tail))


def median_result(name: str, runs: list[dict]) -> dict:
    """Per-field median over the rounds of one configuration."""
    out: dict = {"config": name}
    for key in runs[0]:
        if key in ("config", "round"):
            continue
        values = [r[key] for r in runs if r[key] is not None]
        out[key] = float(np.median(values)) if values else None
    return out


def paired(rounds: list[dict], a: str, b: str) -> list[tuple[dict, dict]]:
    by_round: dict[int, dict[str, dict]] = {}
    for r in rounds:
        by_round.setdefault(r["round"], {})[r["config"]] = r
    return [(v[a], v[b]) for v in by_round.values() if a in v and b in v]


LOAD_BEFORE = "%.2f" % os.getloadavg()[0]


if __name__ == "__main__":
    asyncio.run(main())
