"""The widget's pure JS logic (run by node) against the Python side: the heard part of an
interrupted answer is cut exactly as the conversation cuts it (what the model remembers),
and the audio kept while connecting is bounded and stays in order."""

from __future__ import annotations

import json
import random

import pytest
from test_widget_bundle import _run_node

from realtime_widget.conversation.records import cut_transcript

pytestmark = pytest.mark.timeout(120)


def test_heard_text_is_cut_as_the_conversation_cuts_it():
    rng = random.Random(15)
    words = [
        "You",
        "said:",
        "the",
        "museum",
        "opens",
        "at",
        "ten,",
        "café",
        "naïve",
        "🙂",
        "tours",
        "every",
        "half-hour.",
        "",
        " ",
    ]
    cases = []
    for _ in range(400):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(0, 25)))
        if rng.random() < 0.2:
            text += "  \n"
        cases.append([text, rng.choice([0.0, 1.0, 1.5, -0.2, rng.random(), rng.random()])])
    script = f"""
    import {{ cutTranscript }} from "./src/heard-text.js";
    const cases = {json.dumps(cases)};
    console.log(JSON.stringify(cases.map(([t, f]) => cutTranscript(t, f))));
    """
    got = _run_node(script)
    want = [cut_transcript(t, f) for t, f in cases]
    assert got == want


def test_audio_kept_while_connecting_is_bounded_and_in_order():
    script = """
    import { CaptureQueue } from "./src/capture-queue.js";
    import { deltaSamples } from "./src/heard-text.js";
    const q = new CaptureQueue(15000);
    // 20 s of 40 ms frames at 24 kHz, each frame filled with its number; then an 8 kHz frame
    for (let i = 0; i < 500; i++) q.push(new Int16Array(960).fill(i), 24000);
    const kept = q.ms, dropped = q.droppedMs;
    q.push(new Int16Array(320).fill(-1), 8000);
    const d = q.drain(24000);
    const values = [];
    for (const c of d.chunks) for (let k = 0; k < c.length; k += 960) values.push(c[k]);
    const b64 = (n) => Buffer.from(new Uint8Array(n)).toString("base64");
    const samples = [
      deltaSamples(b64(4800), "pcm16"), deltaSamples(b64(4801), "g711_ulaw"),
      deltaSamples(b64(2), "pcm16"), deltaSamples("", "pcm16"),
    ];
    console.log(JSON.stringify({ kept, dropped, sent: d.ms, droppedAfter: d.droppedMs, values,
      sizes: d.chunks.map((c) => c.length), empty: q.empty, samples }));
    """
    out = _run_node(script)
    assert out["kept"] == pytest.approx(15000) and out["dropped"] == pytest.approx(5000)
    # the first 15 s are kept (what the user said first), in order, nothing repeated
    assert out["values"] == list(range(0, 375))
    assert max(out["sizes"]) <= 12000  # appends of at most 0.5 s
    assert out["sent"] == pytest.approx(15000)
    assert out["droppedAfter"] == pytest.approx(5040)  # the 8 kHz frame came when it was full
    assert out["empty"] and out["samples"] == [2400, 4801, 1, 0]
