"""The DataFrame layer over a large session log: 1,000,000 logged events.

Goal (issue 6): ``events()`` over 1,000,000 logged events in <= 2 s and <= 1 GB RSS;
opening a stored session of that size.

The log is written once (cached in ``--dir``) by the hub's own ``EventLog`` on a fake
clock: spoken turns of 30 ``input_audio_buffer.append`` (client) + VAD events + a
response with 30 transcript deltas and 30 audio deltas + the ``*.done`` events,
``response.done`` with usage and ``rate_limits.updated`` (~104 events per turn, the mix
of a voice session). Audio payloads are 96 bytes (the record size does not depend on
it: audio is stored apart from the JSONL).

Each measurement runs in a fresh Python process (so caches, imports and peak RSS are its
own) and reports wall time, CPU time (user+sys, all threads) and peak RSS:

1. ``import`` of ``realtime_widget.frames`` + pandas + pyarrow (paid once per kernel);
2. ``open_session(path)``: reads and parses the whole log (the fast reader), cold (the
   table cache off); then warm: a closed session reopened, its parsed table read back
   from the cache (Arrow IPC, memory-mapped) that the first open wrote;
3. ``.events()``: the pandas DataFrame of every event;
4. ``latency()`` and ``usage()`` on top (they read the ``response.done`` records);
5. the per-record Python path (the fallback when the fast reader refuses a chunk), for
   comparison, on a 100,000-event slice.

    python benchmarks/bench_frames.py          # 1,000,000 events, ~1-2 minutes the first time
    python benchmarks/bench_frames.py --events 200000 --repeat 3
    python benchmarks/bench_frames.py --events 200000 --repeat 7 \
        --tree before=/path/to/old/checkout --tree after=.   # two source trees, interleaved

With ``--tree LABEL=PATH`` (repeatable) the cold measurement runs once per tree per round,
the trees interleaved, each child with ``PYTHONPATH=PATH`` and its working directory in
PATH; the ``realtime_widget`` each tree imports is checked and printed first. The log is
then written by the *first* tree's own ``EventLog`` (``tests/frames_synth.py`` of that
tree, in a subprocess), and every tree must read it to the same number of rows. The log
format did not change in the architecture refactor: the trees before and after it write
byte-identical logs and each reads the other's. Printed: medians per tree and the ratio
of the last tree's to the first's per measurement (wall, CPU, peak RSS), with the
bootstrap interval of ``bench_hub.ratio_interval`` from 5 rounds on.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from bench_hub import parse_trees, ratio_interval, tree_env  # noqa: E402

CHILD = r"""
import json, resource, sys, time
path, what = sys.argv[1], sys.argv[2]
wall0, cpu0 = time.perf_counter(), time.process_time()
import pandas, pyarrow  # noqa: F401
from realtime_widget.frames import open_session
from realtime_widget.frames import reader
marks = {"import": (time.perf_counter() - wall0, time.process_time() - cpu0)}

def mark(name, w, c):
    marks[name] = (time.perf_counter() - w, time.process_time() - c)

if what == "slow":
    def refuse(buf):
        raise reader._Refused("benchmark: the per-record path")
    reader._fast_chunk = refuse
w, c = time.perf_counter(), time.process_time()
f = open_session(path)
mark("open", w, c)
w, c = time.perf_counter(), time.process_time()
df = f.events()
mark("events", w, c)
rows = len(df)
if what == "all":
    w, c = time.perf_counter(), time.process_time()
    lat = f.latency()
    mark("latency", w, c)
    w, c = time.perf_counter(), time.process_time()
    u = f.usage(total=True)
    mark("usage", w, c)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
import realtime_widget
print(json.dumps({"rows": rows, "marks": marks, "peak_rss_mb": rss,
                  "package": realtime_widget.__file__,
                  "slow_chunks": f._table.slow_chunks,
                  "frame_mb": float(df.memory_usage(deep=True).sum()) / 1e6}))
"""


def make_log(directory: Path, n_events: int) -> Path:
    from frames_synth import write_synthetic_log

    path = directory / f"rts_bench{n_events}"
    if (path / "events.jsonl").exists() and (path / "meta.json").exists():
        return path
    t0 = time.perf_counter()
    log = write_synthetic_log(
        path, n_events=n_events, appends_per_turn=30, deltas_per_turn=30, audio_bytes=96
    )
    print(
        f"wrote {log.n_events:,} events ({(path / 'events.jsonl').stat().st_size / 1e6:.0f} MB) "
        f"in {time.perf_counter() - t0:.1f} s -> {path}"
    )
    return path


def make_log_with(tree: Path, directory: Path, n_events: int) -> Path:
    """The log written by ``tree``'s own ``EventLog`` (its ``tests/frames_synth.py``), in a
    subprocess that imports that tree; cached per tree commit."""
    commit = subprocess.run(
        ["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    path = directory / f"rts_bench{n_events}-{commit or tree.name}"
    if (path / "events.jsonl").exists() and (path / "meta.json").exists():
        return path
    env, cwd = tree_env(tree)
    env["PYTHONPATH"] = os.pathsep.join([env["PYTHONPATH"], str(tree / "tests")])
    code = (
        "import sys; from pathlib import Path; from frames_synth import write_synthetic_log; "
        "write_synthetic_log(Path(sys.argv[1]), n_events=int(sys.argv[2]), "
        "appends_per_turn=30, deltas_per_turn=30, audio_bytes=96)"
    )
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", code, str(path), str(n_events)], env=env, cwd=cwd, check=True
    )
    print(
        f"wrote {n_events:,} events ({(path / 'events.jsonl').stat().st_size / 1e6:.0f} MB) "
        f"with {tree} in {time.perf_counter() - t0:.1f} s -> {path}"
    )
    return path


def child(path: Path, what: str, cache: str = "off", root: Path = ROOT) -> dict:
    """One measurement in a fresh process that imports ``realtime_widget`` from ``root``."""
    env, cwd = tree_env(root)
    env["REALTIME_WIDGET_FRAMES_CACHE"] = cache
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), what],
        check=True,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def slice_log(path: Path, n: int) -> Path:
    """The first ``n`` records of a log, as a stored session of its own."""
    target = path.parent / f"{path.name}-first{n}"
    if not (target / "events.jsonl").exists():
        target.mkdir(exist_ok=True)
        with open(path / "events.jsonl", "rb") as src, open(target / "events.jsonl", "wb") as dst:
            for i, line in enumerate(src):
                if i >= n:
                    break
                dst.write(line)
        (target / "meta.json").write_text((path / "meta.json").read_text())
    return target


def compare_trees(path: Path, trees: dict[str, Path], repeat: int) -> None:
    """The cold measurement once per tree per round, the trees interleaved (machine noise
    hits them alike); medians per tree and the ratio of the last tree's to the first's."""
    runs: dict[str, list[dict]] = {label: [] for label in trees}
    for round_ in range(repeat):
        for label, root in trees.items():
            runs[label].append(child(path, "all", root=root))
            r = runs[label][-1]
            if not Path(r["package"]).is_relative_to(root):
                raise SystemExit(f"{label}: imported {r['package']}, not {root}")
            print(
                f"  round {round_ + 1} {label}: open {r['marks']['open'][0]:.3f} s, "
                f"{r['rows']:,} rows, slow chunks {r['slow_chunks']}",
                flush=True,
            )
    rows = {label: {r["rows"] for r in runs[label]} for label in trees}
    if len({n for v in rows.values() for n in v}) != 1:
        raise SystemExit(f"the trees read different row counts: {rows}")
    first, last = list(trees)[0], list(trees)[-1]

    median = statistics.median

    def ratio(num: list[float], den: list[float]) -> str:
        text = f"{median(num) / median(den):.3f}x"
        if len(num) >= 5:
            low, high = ratio_interval(num, den)
            text += f" ({low:.2f}-{high:.2f})"
        return text

    print(
        f"\n{repeat} interleaved rounds, cold, medians: wall s / CPU s per tree; "
        f"ratios {last}/{first} of the medians"
        + (" (95% bootstrap interval)" if repeat >= 5 else "")
    )
    steps = {
        name: {
            label: [(r["marks"][name][0], r["marks"][name][1]) for r in runs[label]]
            for label in trees
        }
        for name in ("import", "open", "events", "latency", "usage")
    }
    steps["open+events"] = {
        label: [
            (
                r["marks"]["open"][0] + r["marks"]["events"][0],
                r["marks"]["open"][1] + r["marks"]["events"][1],
            )
            for r in runs[label]
        ]
        for label in trees
    }
    for name, per_tree in steps.items():
        cells = [
            f"{label} {median([w for w, _ in v]):6.3f} / {median([c for _, c in v]):6.3f}"
            for label, v in per_tree.items()
        ]
        wall = ratio([w for w, _ in per_tree[last]], [w for w, _ in per_tree[first]])
        cpu = ratio([c for _, c in per_tree[last]], [c for _, c in per_tree[first]])
        print(f"  {name:12} " + "   ".join(cells) + f"   wall {wall}  CPU {cpu}")
    rss = {label: [r["peak_rss_mb"] for r in runs[label]] for label in trees}
    print(
        "  peak RSS MB  "
        + "   ".join(f"{k} {median(v):.0f}" for k, v in rss.items())
        + f"   {ratio(rss[last], rss[first])}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs of each measurement (the best and the median are shown)",
    )
    ap.add_argument(
        "--dir", type=Path, default=Path(tempfile.gettempdir()) / "realtime-widget-bench-frames"
    )
    ap.add_argument(
        "--tree",
        action="append",
        default=[],
        metavar="LABEL=PATH",
        help="compare source trees (two or more): each imports realtime_widget from PATH",
    )
    args = ap.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    trees = parse_trees(args.tree)
    if trees:  # the first tree writes the log (the old one, when comparing before / after)
        path = make_log_with(next(iter(trees.values())), args.dir, args.events)
    else:
        path = make_log(args.dir, args.events)
    size_mb = (path / "events.jsonl").stat().st_size / 1e6
    print(
        f"log: {args.events:,} events, {size_mb:.0f} MB of JSONL; {os.cpu_count()} CPUs; load "
        f"average {os.getloadavg()[0]:.1f}"
    )

    if trees:
        compare_trees(path, trees, args.repeat)
        return
    runs = [child(path, "all") for _ in range(args.repeat)]
    rows = runs[0]["rows"]
    print(
        f"\ncold (the log is parsed), {rows:,} rows, {args.repeat} runs (fresh process each): "
        "wall s / CPU s (best, median)"
    )
    for name in ("import", "open", "events", "latency", "usage"):
        walls = sorted(r["marks"][name][0] for r in runs)
        cpus = sorted(r["marks"][name][1] for r in runs)
        print(
            f"  {name:8} wall {walls[0]:6.2f} / {walls[len(walls) // 2]:6.2f}   cpu "
            f"{cpus[0]:6.2f} / {cpus[len(cpus) // 2]:6.2f}"
        )
    totals = sorted(r["marks"]["open"][0] + r["marks"]["events"][0] for r in runs)
    print(
        f"  open + events(): wall best {totals[0]:.2f} s, median {totals[len(totals) // 2]:.2f} s "
        "(goal <= 2 s)"
    )
    print(
        f"  peak RSS (whole process, all steps): {max(r['peak_rss_mb'] for r in runs):.0f} MB "
        "(goal <= 1024 MB); "
        f"events frame {runs[0]['frame_mb']:.0f} MB; slow chunks {runs[0]['slow_chunks']}"
    )

    with tempfile.TemporaryDirectory() as cache:
        child(path, "events", cache)  # the first open of a closed session writes the cache
        warm = [child(path, "all", cache) for _ in range(args.repeat)]
    print(
        "\nwarm (a closed session reopened: the parsed table is memory-mapped from the cache), "
        f"{args.repeat} runs"
    )
    for name in ("open", "events"):
        walls = sorted(r["marks"][name][0] for r in warm)
        print(f"  {name:8} wall {walls[0]:6.2f} / {walls[len(walls) // 2]:6.2f}")
    totals = sorted(r["marks"]["open"][0] + r["marks"]["events"][0] for r in warm)
    print(
        f"  open + events(): wall best {totals[0]:.2f} s, median {totals[len(totals) // 2]:.2f} s; "
        f"peak RSS {max(r['peak_rss_mb'] for r in warm):.0f} MB"
    )

    n = min(100_000, args.events)
    small = slice_log(path, n)
    fast = child(small, "events")
    slow = child(small, "slow")
    f_t = fast["marks"]["open"][0] + fast["marks"]["events"][0]
    s_t = slow["marks"]["open"][0] + slow["marks"]["events"][0]
    print(
        f"\nper-record fallback vs fast reader, first {n:,} events: {s_t:.2f} s vs {f_t:.2f} s "
        f"({s_t / max(f_t, 1e-9):.1f}x); slow chunks {slow['slow_chunks']}"
    )


if __name__ == "__main__":
    main()
