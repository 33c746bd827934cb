"""The widget's audio path as the browser sees it: real JupyterLab 4, real kernel, the
local engine through the Jupyter server's hub, Debian's headless chromium with a fake
microphone fed espeak-ng speech (the same harness as ``tests/test_widget_*.py``).

Measures (all from the widget's own counters, ``globalThis.__realtime_widget``):
  1. capture latency: first sample of a microphone frame entering the capture worklet
     -> its ``input_audio_buffer.append`` written to the WebSocket, per frame length
     (goal: <= one frame + 5 ms); and the part after the frame is complete;
  2. playback latency: ``response.audio.delta`` received -> its first sample rendered by
     the playback worklet (first delta of each reply, and every delta that found the
     buffer empty); "audible" adds the context's base + output latency;
  3. Stop -> silence: Stop clicked -> the playback worklet renders silence (goal <= 50 ms
     audible);
  4. underruns in a ~60 s reply (goal: none);
  5. the first minute (issue 15): Connect clicked -> ``session.created`` in the browser, on a
     fresh server whose first local session loads the speech models (cold), on the same
     server again (warm), and on a fresh server that preloaded them at start (preloaded).
  6. voice-to-voice as heard (issue 14): the last speech sample entering the fake
     microphone -> the reply's first sample rendered by the playback worklet, for server
     VAD (defaults) and semantic_vad (auto), spoken turns interleaved. The microphone side
     is a probe added by this benchmark, not the widget: an init script wraps
     ``getUserMedia`` and feeds the same stream to its own AudioWorklet, which stamps
     (``Date.now()``) every render quantum holding speech; the reply side is the widget's
     live-numbers record (``numbers.turns``: first sample rendered + the context's output
     latency, which is subtracted again).

Clocks: the worklets have no ``performance.now()``; both sides use ``Date.now()`` (1 ms
resolution, same clock on both threads). Chrome renders audio in bursts of a few render
quanta ahead of the device, so "rendered" can precede "audible" by the output latency,
which is reported separately.

    python benchmarks/bench_widget.py                  # ~3 minutes
    python benchmarks/bench_widget.py --frames 20,40 --turns 3 --stops 5 --long-s 60
    python benchmarks/bench_widget.py --sections cold --rounds 3      # only 5., ~3 minutes
    python benchmarks/bench_widget.py --sections v2v --v2v-turns 6    # only 6., ~4 minutes
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from browser_jupyter import (  # noqa: E402
    BrowserSession,
    Notebook,
    jupyter_and_browser,
    jupyter_server,
    missing_requirements,
    stats,
    utterance,
    wait_until,
)

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Please turn off the lights in the kitchen before you leave.",
    "Can you tell me how to get to the train station?",
]
LONG_SENTENCE = (
    "The library opens at nine in the morning and closes at six in the evening, except on Sundays."
)


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    k = (len(xs) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def summary(xs: list[float]) -> str:
    if not xs:
        return "no samples"
    return f"n={len(xs)}, p50 {pct(xs, 50):.1f} ms, p95 {pct(xs, 95):.1f} ms, max {max(xs):.1f} ms"


def widget_page(server, browser, name: str, cell: str):
    page = browser.new_page()
    nb = Notebook(server, page, name, [cell])
    nb.run(1)
    root = nb.widget(1)
    root.get_by_role("button", name="Connect to the realtime session").click()
    wait_until(page, lambda s: s["live"], "the widget to attach")
    return page, root


def bench_capture(server, browser, frame_ms: int, seconds: float) -> dict:
    page, root = widget_page(
        server, browser, f"capture{frame_ms}", f"w = RealtimeWidget(frame_ms={frame_ms})\nw"
    )
    texts = (SENTENCES * 10)[: max(1, int(seconds / 3))]
    mic = utterance(*texts, gap_s=0.6)
    dur = browser.set_mic(mic)
    root.get_by_role("button", name="Microphone on or off").click()
    s = wait_until(
        page, lambda s: s["audioSentMs"] >= dur * 1000, "the speech to be sent", timeout_s=dur + 120
    )
    page.context.close()
    server.shutdown_kernels()
    return {
        "frame_ms": frame_ms,
        "latency": s["captureLatencyMs"],
        "overhead": s["captureOverheadMs"],
        "rate": s["sampleRate"],
    }


def text_turn(page, root, text: str, timeout_s: float = 300) -> dict:
    before = set(stats(page)["itemsPlayback"])
    box = root.get_by_role("textbox", name="Message to the assistant")
    box.fill(text)
    box.press("Enter")
    return wait_until(
        page,
        lambda s: any(
            i not in before and it["ended"] and it["played"] == it["received"]
            for i, it in s["itemsPlayback"].items()
        ),
        "the reply to be played to its end",
        timeout_s=timeout_s,
    )


def bench_playback(server, browser, turns: int) -> dict:
    page, root = widget_page(server, browser, "playback", "w = RealtimeWidget()\nw")
    for n in range(turns):
        s = text_turn(page, root, SENTENCES[n % len(SENTENCES)])
    out = {
        "first": s["firstAudioLatencyMs"],
        "fresh": s["playbackLatencyMs"],
        "output_latency_ms": s["outputLatencyMs"],
        "underruns": s["underruns"],
    }
    page.context.close()
    server.shutdown_kernels()
    return out


def bench_stop(server, browser, stops: int) -> dict:
    page, root = widget_page(server, browser, "stop", "w = RealtimeWidget()\nw")
    stop = root.get_by_role("button", name="Stop the assistant (Escape)")
    box = root.get_by_role("textbox", name="Message to the assistant")
    for _ in range(stops):
        before = set(stats(page)["itemsPlayback"])
        box.fill(" ".join([LONG_SENTENCE] * 2))
        box.press("Enter")
        wait_until(
            page,
            lambda s, before=before: any(
                i not in before and it["played"] > 24000 * 0.5
                for i, it in s["itemsPlayback"].items()
            ),
            "the reply to play",
        )
        n = len(stats(page)["stops"])
        stop.click()
        wait_until(
            page,
            lambda s, n=n: len(s["stops"]) > n and s["truncated"] and len(s["truncated"]) > n,
            "the stop and the truncation",
        )
        wait_until(
            page,
            lambda s: (
                not any(e["type"] == "response.created" for e in s["log"][-1:])
                and s["queuedMs"] == 0
            ),
            "silence",
        )
        page.wait_for_timeout(300)
    s = stats(page)
    ok = all(t["audio_end_ms"] * t["rate"] / 1000 <= t["played"] for t in s["truncatesSent"])
    out = {
        "stop_ms": [x["stopToSilenceMs"] for x in s["stops"] if x["reason"] == "stop"],
        "output_latency_ms": s["outputLatencyMs"],
        "truncate_within_played": ok,
    }
    page.context.close()
    server.shutdown_kernels()
    return out


def bench_long_reply(server, browser, long_s: float) -> dict:
    page, root = widget_page(server, browser, "long", "w = RealtimeWidget()\nw")
    # ~3.2 words per second of Piper speech (the reply repeats the text after "You said:")
    words_needed = int(long_s * 3.2)
    reps = max(1, round(words_needed / len(LONG_SENTENCE.split())))
    t0 = time.monotonic()
    s = text_turn(page, root, " ".join([LONG_SENTENCE] * reps), timeout_s=long_s * 4 + 120)
    wall = time.monotonic() - t0
    item = max(s["itemsPlayback"].values(), key=lambda it: it["received"])
    out = {
        "reply_s": item["received"] / item["rate"],
        "underruns": s["underruns"],
        "starved_ms": s["starvedMs"],
        "wall_s": wall,
    }
    page.context.close()
    server.shutdown_kernels()
    return out


MIC_PROBE_JS = """
(() => {
  // Bench-only: stamps when speech from the (fake) microphone reaches an AudioWorklet.
  const probe = (globalThis.__rtwBenchMic = { lastLoudAt: 0, loudQuanta: 0, error: null });
  const code = `registerProcessor("rtw-bench-mic-probe", class extends AudioWorkletProcessor {
    process(inputs) {
      const ch = inputs[0] && inputs[0][0];
      if (ch) {
        let peak = 0;
        for (let i = 0; i < ch.length; i++) peak = Math.max(peak, Math.abs(ch[i]));
        if (peak > 0.01) this.port.postMessage(Date.now());
      }
      return true;
    }
  });`;
  const md = navigator.mediaDevices;
  const open = md.getUserMedia.bind(md);
  md.getUserMedia = async (constraints) => {
    const stream = await open(constraints);
    try {
      const ctx = new AudioContext();
      const url = URL.createObjectURL(new Blob([code], { type: "application/javascript" }));
      await ctx.audioWorklet.addModule(url);
      const node = new AudioWorkletNode(ctx, "rtw-bench-mic-probe");
      node.port.onmessage = (e) => { probe.lastLoudAt = e.data; probe.loudQuanta++; };
      const mute = ctx.createGain();
      mute.gain.value = 0;
      ctx.createMediaStreamSource(stream).connect(node).connect(mute).connect(ctx.destination);
      await ctx.resume();
    } catch (e) { probe.error = String(e); }
    return stream;
  };
})();
"""


def _probe(page) -> dict:
    return page.evaluate(
        """() => {
        const reg = globalThis.__realtime_widget;
        const v = reg.views[reg.views.length - 1];
        return {mic: globalThis.__rtwBenchMic, outputLatencyMs: v.stats.outputLatencyMs,
                turns: Array.from(v.numbers.turns.values()), sessionId: v.model.get("session_id")};
    }"""
    )


HUB_STEPS = ("input_audio_buffer.speech_stopped", "response.created", "response.audio.delta")


def hub_times(server, session_id: str, after_ms: float) -> dict[str, float]:
    """Wall time (ms, the browser's clock too: one machine) at which the hub logged the
    first event of each of HUB_STEPS after ``after_ms``."""
    out: dict[str, float] = {}
    after = 0
    while True:
        page = server.api(
            "GET",
            f"realtime/sessions/{session_id}/events?after={after}&limit=1000"
            f"&type={','.join(HUB_STEPS)}",
        )
        for rec in page["events"]:
            t = rec["t"] * 1000
            if t >= after_ms and rec["type"] not in out:
                out[rec["type"]] = t
        if not page["has_more"]:
            return out
        after = page["next_after"]


def bench_voice_to_voice(server, browser, turns: int) -> dict:
    """Spoken turns through the widget, server VAD and semantic_vad interleaved (one page
    each, the same utterances); per turn: last speech sample at the microphone -> the
    ``speech_stopped`` reached the page, and -> the reply's first sample rendered."""
    settings = {
        "server_vad": "RealtimeWidget(turn_detection='server_vad')",
        "semantic_vad auto": "RealtimeWidget(turn_detection='semantic_vad', eagerness='auto')",
    }
    pages = {}
    for name, ctor in settings.items():
        page = browser.new_page(init_script=MIC_PROBE_JS)
        nb = Notebook(server, page, f"v2v-{name.split()[0]}", [f"w = {ctor}\nw"])
        nb.run(1)
        root = nb.widget(1)
        root.get_by_role("button", name="Connect to the realtime session").click()
        wait_until(page, lambda s: s["live"], "the widget to attach")
        pages[name] = (page, root)
    out: dict = {name: [] for name in settings}
    for n in range(turns):
        mic = utterance(SENTENCES[n % len(SENTENCES)], lead_s=0.8, tail_s=3.0)
        for name, (page, root) in pages.items():
            browser.set_mic(mic)
            seen = len(_probe(page)["turns"])
            before = set(stats(page)["itemsPlayback"])
            page.evaluate("() => { globalThis.__rtwBenchMic.lastLoudAt = 0; }")
            button = root.get_by_role("button", name="Microphone on or off")
            button.click()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                p = _probe(page)
                new = [t for t in p["turns"][seen:] if t.get("firstAudioAt")]
                if new:
                    break
                page.wait_for_timeout(50)
            else:
                raise RuntimeError(f"{name}: no spoken reply ({p})")
            if p["mic"]["error"]:
                raise RuntimeError(f"microphone probe: {p['mic']['error']}")
            turn, last = new[0], p["mic"]["lastLoudAt"]
            rendered = turn["firstAudioAt"] - p["outputLatencyMs"]
            hub = hub_times(server, p["sessionId"], last - 2000)
            out[name].append(
                {
                    "kind": turn["kind"],
                    "stopped_ms": turn["at"] - last,
                    "rendered_ms": rendered - last,
                    "audible_ms": turn["firstAudioAt"] - last,
                    # the same turn as the hub logged it (speech_stopped, response.created,
                    # first audio delta), from the last speech sample
                    **{f"hub_{k.split('.')[-1]}_ms": t - last for k, t in hub.items()},
                }
            )
            wait_until(
                page,
                lambda s, before=before: all(
                    it["ended"] for i, it in s["itemsPlayback"].items() if i not in before
                ),
                "the reply to finish playing",
                timeout_s=120,
            )
            button.click()  # off: the next turn opens the microphone (and its file) anew
            page.wait_for_timeout(300)
    for page, _ in pages.values():
        page.context.close()
    server.shutdown_kernels()
    return out


def connect_times(server, browser, name: str, think_s: float) -> dict:
    """Connect clicked ``think_s`` after the widget showed -> the kernel made the session /
    session.created arrived / the session is live, on the browser's clock (ms)."""
    page = browser.new_page()
    nb = Notebook(server, page, name, ["w = RealtimeWidget()\nw"])
    nb.run(1)
    root = nb.widget(1)
    page.wait_for_timeout(think_s * 1000)
    root.get_by_role("button", name="Connect to the realtime session").click()
    c = wait_until(
        page,
        lambda s: s["connect"]["sessionCreatedAt"] and s["connect"]["liveAt"],
        "session.created",
    )["connect"]
    page.context.close()
    server.shutdown_kernels()
    return {k: c[f"{k}At"] - c["clickAt"] for k in ("sessionId", "sessionCreated", "live")}


def engine_state(server) -> str:
    return server.api("GET", "realtime/status")["providers"]["local"]["engine"]["state"]


def bench_cold_start(browser, rounds: int, think_s: float = 2.0) -> dict:
    """Each round: a fresh server without preloading (first Connect: cold, second: warm), and a
    fresh server that preloads the speech models at start (Connect once they are loaded)."""
    out: dict = {"cold": [], "warm": [], "preloaded": [], "preloaded_at_once": [], "preload_s": []}
    for r in range(rounds):
        with jupyter_server(
            f"bench-cold{r}", hub_options={"preload_local_engine": False}
        ) as server:
            assert engine_state(server) == "not_loaded"
            out["cold"].append(connect_times(server, browser, f"cold{r}", think_s))
            out["warm"].append(connect_times(server, browser, f"warm{r}", think_s))
        with jupyter_server(
            f"bench-preload{r}", hub_options={"preload_local_engine": True}
        ) as server:
            deadline = time.monotonic() + 300
            while engine_state(server) != "ready" and time.monotonic() < deadline:
                time.sleep(0.2)
            out["preload_s"].append(
                server.api("GET", "realtime/status")["providers"]["local"]["engine"]["seconds"]
            )
            out["preloaded"].append(connect_times(server, browser, f"preloaded{r}", think_s))
            out["preloaded_at_once"].append(connect_times(server, browser, f"atonce{r}", 0.0))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--frames", default="20,40,100", help="microphone frame lengths to measure (ms)"
    )
    parser.add_argument(
        "--capture-s", type=float, default=12.0, help="seconds of speech per frame length"
    )
    parser.add_argument("--turns", type=int, default=3, help="text turns for the playback latency")
    parser.add_argument("--stops", type=int, default=5, help="Stop clicks")
    parser.add_argument("--long-s", type=float, default=60.0, help="length of the long reply (s)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="fresh servers per case of the first-minute measurement",
    )
    parser.add_argument(
        "--think-s",
        type=float,
        default=2.0,
        help="seconds between the widget showing and Connect clicked",
    )
    parser.add_argument(
        "--sections",
        default="capture,playback,stop,long,cold,v2v",
        help="which measurements to run",
    )
    parser.add_argument(
        "--v2v-turns", type=int, default=6, help="spoken turns per setting for voice-to-voice"
    )
    parser.add_argument("--json", help="also write the raw numbers to this file")
    args = parser.parse_args()
    why = missing_requirements()
    if why:
        sys.exit(f"cannot run: {why}")
    results: dict = {}
    sections = set(args.sections.split(","))
    if "cold" in sections:
        sections.discard("cold")
        import tempfile

        browser = BrowserSession(Path(tempfile.mkdtemp(prefix="rtw-bench-cold-")))
        try:
            r = results["cold_start"] = bench_cold_start(browser, args.rounds, args.think_s)
        finally:
            browser.close()
        med = lambda rows, k: pct([x[k] for x in rows], 50)  # noqa: E731
        print(
            f"5. Connect clicked {args.think_s:g} s after the widget showed -> session.created in "
            f"the browser (median of {args.rounds} fresh servers each; 'kernel': the kernel had "
            "made the session):"
        )
        for case in ("cold", "warm", "preloaded", "preloaded_at_once"):
            print(
                f"   {case:17s}: {med(r[case], 'sessionCreated'):7.0f} ms "
                f"(kernel {med(r[case], 'sessionId'):7.0f} ms, live {med(r[case], 'live'):7.0f} ms)"
                f"  all: {[round(x['sessionCreated']) for x in r[case]]}"
            )
        print("   (preloaded_at_once: Connect clicked as soon as the widget showed)")
        print(
            "   cold / preloaded: "
            f"{med(r['cold'], 'sessionCreated') / med(r['preloaded'], 'sessionCreated'):.1f}x; "
            f"the server loaded the models in {pct(r['preload_s'], 50):.1f} s (median) "
            "after it started"
        )
    if not sections:
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1))
        return
    with jupyter_and_browser("bench") as (server, browser):
        if "capture" in sections:
            print("1. capture latency (first sample of a frame -> append sent):")
        results["capture"] = []
        for frame in [int(f) for f in args.frames.split(",") if f and "capture" in sections]:
            r = bench_capture(server, browser, frame, args.capture_s)
            results["capture"].append(r)
            print(f"   {frame:3d} ms frames (device {r['rate']} Hz): {summary(r['latency'])}")
            print(
                f"       frame complete -> sent: {summary(r['overhead'])}  (goal: latency <= "
                f"{frame + 5} ms)"
            )
        if "playback" in sections:
            r = results["playback"] = bench_playback(server, browser, args.turns)
            print(
                "2. playback latency (audio delta received -> first sample rendered by the "
                "worklet):"
            )
            print(f"   first delta of each reply: {summary(r['first'])}")
            print(f"   every delta at an empty buffer: {summary(r['fresh'])}")
            print(
                "   + base/output latency reported by the AudioContext: "
                f"{r['output_latency_ms']:.1f} ms"
            )
        if "stop" in sections:
            r = results["stop"] = bench_stop(server, browser, args.stops)
            print("3. Stop clicked -> playback worklet silent:")
            print(
                f"   {summary(r['stop_ms'])}; audible adds {r['output_latency_ms']:.1f} ms; "
                f"truncate <= played: {r['truncate_within_played']}"
            )
        if "long" in sections:
            r = results["long"] = bench_long_reply(server, browser, args.long_s)
            print(
                f"4. a {r['reply_s']:.1f} s reply: {r['underruns']} underruns "
                f"({r['starved_ms']:.1f} ms starved), played in {r['wall_s']:.1f} s"
            )
        if "v2v" in sections:
            r = results["voice_to_voice"] = bench_voice_to_voice(server, browser, args.v2v_turns)
            print(
                "6. voice-to-voice as heard: last speech sample into the microphone -> the reply's"
                " first sample rendered by the playback worklet (-> speech_stopped at the page):"
            )
            for name, rows in r.items():
                print(
                    f"   {name:18s}: {summary([x['rendered_ms'] for x in rows])}"
                    f"  (speech_stopped at the page: p50 "
                    f"{pct([x['stopped_ms'] for x in rows], 50):.0f} ms; audible adds "
                    f"{pct([x['audible_ms'] - x['rendered_ms'] for x in rows], 50):.0f} ms)"
                )
            print("   where the time goes, p50 from the last speech sample (ms):")
            for name, rows in r.items():
                cols = ["hub_speech_stopped_ms", "hub_created_ms", "hub_delta_ms", "rendered_ms"]
                print(
                    f"   {name:18s}: "
                    + ", ".join(
                        f"{c[:-3]} {pct([x[c] for x in rows if c in x], 50):.0f}" for c in cols
                    )
                )
            names = list(r)
            if len(names) == 2:
                a, b = (pct([x["rendered_ms"] for x in r[n]], 50) for n in names)
                print(f"   {names[1]} / {names[0]}: {b / a:.2f}x (p50)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
