"""Wire fuzzing at scale (issue 11): the CI test's frames and checks (``tests/fuzz_wire.py``),
100,000 frames per target by default, against servers in their own processes:

* ``engine-preview`` / ``engine-ga``: ``realtime-widget serve --no-speech`` (the OpenAI
  route with ``OpenAI-Beta: realtime=v1``, and the Azure GA route);
* ``hub``: ``jupyter server`` with the extension, one session on the local engine.

Reported per target: frames, invalid frames, errors, responses created / ended, the
problems found (internal errors, responses without ``response.done``, invalid frames not
answered, spec violations, a failed turn afterwards), the server's errors logged
(tracebacks in its stderr), wall time and the server process's RSS before, at the end
of the run and after the connection closed.

    python benchmarks/fuzz_wire.py                          # 100k frames per target
    python benchmarks/fuzz_wire.py --frames 20000 --targets engine-preview,hub --seed 7
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import tornado.httpclient
import tornado.websocket

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests"), str(HERE)]

from bench_hub import TOKEN, free_port, spawn_jupyter, wait_http  # noqa: E402
from fuzz_wire import FrameMaker, fuzz_connection, rss_bytes  # noqa: E402

TARGETS = {  # name -> (path on the engine, headers, dialect)
    "engine-preview": ("/v1/realtime?model=local", {"OpenAI-Beta": "realtime=v1"}, "preview"),
    "engine-ga": ("/openai/v1/realtime?model=local", {}, "ga"),
    "hub": (None, {}, "preview"),
}


def spawn_engine_logged(port: int, log_path: Path) -> subprocess.Popen:
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "realtime_widget", "serve", "--no-speech", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=log,
        text=True,
    )
    for _ in range(300):
        if "listening" in log_path.read_text():
            return proc
        time.sleep(0.1)
    raise RuntimeError("engine did not start")


async def run_target(name: str, args, tmp: Path) -> dict:
    path, headers, dialect = TARGETS[name]
    port = free_port()
    log_path = tmp / f"{name}.log"
    if path is not None:
        proc = spawn_engine_logged(port, log_path)
        url = f"ws://127.0.0.1:{port}{path}"
    else:
        proc = spawn_jupyter(port, tmp / name, 1, ["log_flush_interval=0.2"])
        await wait_http(f"http://127.0.0.1:{port}/realtime/status", proc)
        r = await tornado.httpclient.AsyncHTTPClient().fetch(
            f"http://127.0.0.1:{port}/realtime/sessions",
            method="POST",
            headers={"Authorization": f"token {TOKEN}"},
            body=json.dumps({"provider": "local"}),
        )
        url = f"ws://127.0.0.1:{port}/" + json.loads(r.body)["ws_path"] + "?source=other"
        headers = {"Authorization": f"token {TOKEN}"}
        log_path = tmp / name / "jupyter.log"

    async def connect():
        request = tornado.httpclient.HTTPRequest(url, headers=headers)
        return await tornado.websocket.websocket_connect(request, max_message_size=64 * 2**20)

    seed = args.seed + list(TARGETS).index(name)
    frames = FrameMaker(seed, dialect=dialect, target="hub" if path is None else "engine").frames(
        args.frames
    )
    rss_before = rss_bytes(proc.pid)
    started = time.perf_counter()
    try:
        report = await fuzz_connection(connect, frames, target=name, seed=seed, dialect=dialect)
        wall = time.perf_counter() - started
        rss_end = rss_bytes(proc.pid)  # the connection is closed by now; let the session wind down
        await asyncio.sleep(2.0)
        rss_after = rss_bytes(proc.pid)
    finally:
        proc.terminate()
        proc.wait(10)
    logged = [
        line
        for line in log_path.read_text(errors="replace").splitlines()
        if "Traceback" in line or " ERROR " in line or "[E " in line
    ]
    return {
        "target": name,
        "seed": seed,
        "frames": report.frames,
        "kinds": report.kinds,
        "invalid": report.invalid,
        "errors": len(report.errors),
        "created": len(report.created),
        "done": len(report.done),
        "problems": report.problems(),
        "logged_errors": len(logged),
        "first_logged": logged[:3],
        "wall_s": round(wall, 1),
        "rss_before_mb": round(rss_before / 2**20),
        "rss_end_mb": round(rss_end / 2**20),
        "rss_after_close_mb": round(rss_after / 2**20),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=int(os.environ.get("REALTIME_FUZZ_SEED", "11")))
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.targets.split(","):
            result = await run_target(name, args, Path(tmp))
            results.append(result)
            print(json.dumps(result), flush=True)
    print(
        f"\n{'target':<15} {'frames':>7} {'invalid':>7} {'errors':>7} {'resp':>6} {'hung':>5} "
        f"{'problems':>8} {'logged':>6} {'wall s':>7} {'RSS MB before/end/closed':>25}"
    )
    for r in results:
        print(
            f"{r['target']:<15} {r['frames']:7d} {r['invalid']:7d} {r['errors']:7d} "
            f"{r['created']:6d} {r['created'] - r['done']:5d} "
            f"{len(r['problems']):8d} {r['logged_errors']:6d} {r['wall_s']:7.1f} "
            f"{r['rss_before_mb']:>9}/{r['rss_end_mb']}/{r['rss_after_close_mb']}"
        )
    for r in results:
        for p in r["problems"]:
            print("PROBLEM", p)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    if any(r["problems"] or r["logged_errors"] for r in results):
        sys.exit(1)


if __name__ == "__main__":
    asyncio.run(main())
