"""The widget's first minute, in JupyterLab 4 with a real headless chromium, a fake
microphone fed espeak-ng speech, the real kernel and the local engine through the hub
(issue 15):

* speech said while the session starts (the local engine still loading its models on a
  fresh server) is kept and answered; the status line says so while it waits;
* the server extension preloads the speech engine at start without blocking the server;
* an interrupted answer shows the heard part and strikes through the rest, exactly as
  the kernel's conversation (what the model remembers) cut it; the live numbers line
  gives the same tokens as ``Session.usage``;
* quick clicks leave one session and one microphone stream; closing the tab while the
  session connects leaves no session open beyond its idle timeout.

Screenshots of each state land in test-artifacts/. No wall-clock thresholds: timeouts
only stop a hung test.
"""

from __future__ import annotations

import re
import time
import urllib.request

import pytest
from browser_jupyter import (
    ARTIFACTS,
    Notebook,
    assert_heard,
    jupyter_and_browser,
    jupyter_server,
    missing_requirements,
    played_ms,
    screenshot,
    stats,
    utterance,
    wait_until,
)

pytestmark = [pytest.mark.timeout(300)]

_why = missing_requirements()
if _why:
    pytest.skip(_why, allow_module_level=True)

CONNECT = "Connect to the realtime session"
MIC = "Microphone on or off"
COLD = {
    "preload_local_engine": False
}  # a fresh server whose first local session loads the speech models
# every getUserMedia stream the page opens, to count the live ones
TRACK_STREAMS = """
window.__streams = [];
const gum = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
navigator.mediaDevices.getUserMedia = async (c) => {
  const s = await gum(c);
  window.__streams.push(s);
  return s;
};
"""


def status_text(root) -> str:
    return root.locator(".rtw-status").inner_text()


def view_state(page, expr: str):
    return page.evaluate(
        "() => { const v = globalThis.__realtime_widget.views.at(-1); "
        f"return JSON.parse(JSON.stringify({expr})); }}"
    )


def live_sessions(server) -> dict[str, str]:
    return {s["id"]: s["status"] for s in server.api("GET", "realtime/sessions")["sessions"]}


@pytest.fixture(scope="module")
def env():
    with jupyter_and_browser("first-minute") as (server, browser):
        yield server, browser


@pytest.fixture
def page(env):
    server, browser = env
    page = browser.new_page(init_script=TRACK_STREAMS)
    yield page
    page.context.close()
    server.shutdown_kernels()


def test_speech_said_while_the_engine_starts_is_kept_and_answered(env):
    sentence = "Please book a table by the window for tonight and tell the chef about my allergy."
    browser = env[1]
    with jupyter_server("first-minute-cold", hub_options=COLD) as server:
        assert (
            server.api("GET", "realtime/status")["providers"]["local"]["engine"]["state"]
            == "not_loaded"
        )
        page = browser.new_page()
        nb = Notebook(
            server,
            page,
            "coldstart",
            [
                "w = RealtimeWidget()\nw",
                "report(w, 'conversation.item.input_audio_transcription.completed', "
                "'response.done')",
            ],
        )
        nb.run(1)
        root = nb.widget(1)
        browser.set_mic(utterance(sentence, lead_s=0.3, tail_s=1.5))
        root.get_by_role("button", name=CONNECT).click()
        # the status line says what the widget waits for, and for how long
        status = root.locator(".rtw-status", has_text="Starting the local speech engine")
        status.wait_for()
        screenshot(page, "widget-first-minute-starting")
        # the user does not wait: the microphone goes on within the first second, they speak
        root.get_by_role("button", name=MIC).click()
        root.locator('button.rtw-mic[aria-pressed="true"]').wait_for()
        root.locator(
            ".rtw-status",
            has_text=re.compile(
                r"Starting the local speech engine… \d+\.\d s · Listening \([1-9]\d*\.\d s kept\)"
            ),
        ).wait_for()
        screenshot(page, "widget-first-minute-listening-while-starting")
        assert not view_state(
            page, "v.live"
        )  # (the session was not live while the speech was said)

        s = wait_until(
            page,
            lambda s: any(
                e["type"] == "conversation.item.input_audio_transcription.completed"
                for e in s["log"]
            ),
            "the transcription",
        )
        tx = next(
            e
            for e in s["log"]
            if e["type"] == "conversation.item.input_audio_transcription.completed"
        )
        # the user's turn as the engine got it, for a person to listen to
        sid = view_state(page, "v.model.get('session_id')")
        wav = urllib.request.urlopen(
            urllib.request.Request(
                f"{server.url}realtime/sessions/{sid}/items/{tx['item_id']}/audio",
                headers={"Authorization": f"token {server.token}"},
            ),
            timeout=30,
        ).read()
        (ARTIFACTS / "widget-first-minute-speech-kept-while-starting.wav").write_bytes(wav)
        # an early and the last word: the start was not lost, and the sentence is whole
        # ("window" alone was misheard under load: "might not win go")
        assert_heard(tx["transcript"], sentence, "table", "allergy")
        user = root.locator(f'.rtw-msg.rtw-user[data-item-id="{tx["item_id"]}"]')
        user.filter(has_text=re.compile("allergy", re.I)).wait_for()
        root.locator(".rtw-msg.rtw-assistant", has_text="You said").first.wait_for()
        s = wait_until(
            page,
            lambda s: any(it["played"] > 0 for it in s["itemsPlayback"].values()),
            "the answer to be played",
        )
        # the kept audio went first, in one piece, once the session was live; nothing was left
        # out unless the start took longer than the 15 s kept (on a busy machine it may)
        kept = s["queueSent"]
        assert len(kept) == 1 and kept[0]["ms"] > 0 and kept[0]["appends"] > 0, kept
        assert kept[0]["droppedMs"] == 0 or kept[0]["ms"] > 15000 - 100, kept
        assert s["connect"]["clickAt"] < s["connect"]["sessionCreatedAt"] <= s["connect"]["liveAt"]
        assert "Starting" not in status_text(root)
        rep = nb.report(2)
        assert (
            rep["events"]["conversation.item.input_audio_transcription.completed"]["transcript"]
            == tx["transcript"]
        )
        assert rep["events"]["response.done"]["response"]["status"] == "completed"
        assert (
            server.api("GET", "realtime/status")["providers"]["local"]["engine"]["state"] == "ready"
        )
        page.context.close()


def test_the_server_preloads_the_speech_engine_without_blocking(env):
    browser = env[1]
    with jupyter_server("first-minute-preload") as server:
        # loading runs in a worker thread: the server answers (here, with the state) while it loads
        seen = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            engine = server.api("GET", "realtime/status")["providers"]["local"]["engine"]
            server.api("GET", "api/status")
            seen.append(engine["state"])
            if engine["state"] == "ready":
                break
            time.sleep(0.1)
        assert seen[0] == "loading" and seen[-1] == "ready", seen
        assert "not_loaded" not in seen
        page = browser.new_page()
        nb = Notebook(server, page, "warm", ["w = RealtimeWidget()\nw"])
        nb.run(1)
        root = nb.widget(1)
        root.get_by_role("button", name=CONNECT).click()
        wait_until(page, lambda s: s["live"], "the widget to attach")
        engine = view_state(page, "v.engine")
        assert (
            engine is None or engine["state"] == "ready"
        )  # never "starting the local speech engine" here
        page.context.close()


def test_an_interrupted_answer_shows_what_was_heard_and_the_live_numbers(env, page):
    server, browser = env
    prices = "{'input_text': 4.0, 'input_audio': 32.0, 'output_text': 16.0, 'output_audio': 64.0}"
    nb = Notebook(
        server,
        page,
        "interrupted",
        [
            f"w = RealtimeWidget(prices={prices})\nw",
            "report(w, 'conversation.item.truncated')",
            f"u = w.session.usage({prices}, total=True)\nlat = w.session.latency()\n"
            "print('NUMBERS' + json.dumps({'tokens': int(u['total_tokens'].iloc[0]), 'cost': "
            "float(u['cost'].iloc[0]), "
            "'responses': lat[['response_id', 'trigger']].to_dict('records')}))",
            "r = w.session.say('Thank you.')\nprint('WHOLE' + r.item_ids[-1])",
        ],
    )
    nb.run(1)
    root = nb.widget(1)
    root.get_by_role("button", name=CONNECT).click()
    wait_until(page, lambda s: s["live"], "the widget to attach")
    box = root.get_by_role("textbox", name="Message to the assistant")
    box.fill(
        "The museum on the hill opens at ten in the morning, and the guided tours start every "
        "half hour until four."
    )
    box.press("Enter")
    s = wait_until(
        page,
        lambda s: any(it["played"] > 24000 * 1.2 for it in s["itemsPlayback"].values()),
        "the answer to play for a while",
    )
    item_id = next(i for i, it in s["itemsPlayback"].items() if it["played"] > 0)
    root.get_by_role("button", name="Stop the assistant (Escape)").click()
    s = wait_until(
        page,
        lambda s: (
            any(t["item_id"] == item_id for t in s["truncated"])
            and s["itemsPlayback"][item_id]["stopped"]
        ),
        "the truncation",
    )
    truncated = next(t for t in s["truncated"] if t["item_id"] == item_id)
    assert 0 < truncated["audio_end_ms"] <= played_ms(s, item_id)

    msg = root.locator(f'.rtw-msg[data-item-id="{item_id}"]')
    unheard = msg.locator(".rtw-unheard")
    unheard.wait_for()
    heard = msg.locator(".rtw-heard").inner_text()
    rest = unheard.inner_text()
    assert heard.startswith("You said") and rest.strip()
    assert unheard.evaluate("e => getComputedStyle(e).textDecorationLine") == "line-through"
    assert "interrupted at" in msg.locator(".rtw-cut").inner_text()
    # the heard part is what the model now remembers: the kernel's conversation cut it the same way
    rep = nb.report(2)
    kernel_item = next(i for i in rep["items"] if i["id"] == item_id)
    assert kernel_item["truncated"] and kernel_item["audio_end_ms"] == truncated["audio_end_ms"]
    assert heard == kernel_item["text"], (heard, kernel_item["text"])
    # ... and the whole answer was longer than that
    assert len(heard) < len(heard + rest)

    # the live numbers: the turn's latency to the first audio played, the tokens and their cost so
    # far
    line = root.get_by_role("status", name="Live numbers")
    line.filter(has_text="tokens").wait_for()
    screenshot(page, "widget-first-minute-interrupted-answer")
    nb.run(3)
    out = nb.wait_output(3, "NUMBERS")
    numbers = __import__("json").loads(
        next(x for x in out.splitlines() if x.startswith("NUMBERS"))[len("NUMBERS") :]
    )
    text = line.inner_text()
    assert f"{numbers['tokens']:,} tokens" in text, (text, numbers)
    cost = numbers["cost"]
    assert (f"${cost:.4f}" if cost < 0.01 else f"${cost:.2f}") in text, (text, numbers)
    last = view_state(page, "v.numbers.last")
    assert re.search(rf"last turn {last['ms'] / 1000:.2f} s to first audio", text), (text, last)
    assert {"response_id": last["response_id"], "trigger": "client"} in numbers["responses"]
    # optional: the line goes away
    page.evaluate(
        "() => { const v = globalThis.__realtime_widget.views.at(-1); v.model.set('show_stats', "
        "false); }"
    )
    line.wait_for(state="hidden")

    nb.run(4)
    out = nb.wait_output(4, "WHOLE")
    whole_id = next(x for x in out.splitlines() if x.startswith("WHOLE"))[len("WHOLE") :]
    whole = root.locator(f'.rtw-msg[data-item-id="{whole_id}"]')
    whole.wait_for()
    # a truncation where the answer's audio ends (a server sends one when a client truncates
    # after the last sample played): all of it was heard. The engine refuses a millisecond
    # past the audio's end, and 24 kHz audio rarely ends on a whole millisecond, so the
    # event is handed to the view as the hub would deliver it.
    page.evaluate(
        """(id) => { const v = globalThis.__realtime_widget.views.at(-1);
        v.onServerEvent({ type: "conversation.item.truncated", item_id: id, content_index: 0,
          audio_end_ms: v.itemSamples.get(id) * 1000 / 24000 }); }""",
        whole_id,
    )
    whole.locator(".rtw-cut").wait_for()
    body = whole.locator(".rtw-text-body")
    assert body.locator(".rtw-unheard").count() == 0  # nothing struck through
    assert body.inner_text() == body.locator(".rtw-heard").inner_text()  # and nothing else
    assert "null" not in body.inner_text().lower(), body.inner_text()
    screenshot(page, "widget-first-minute-answer-truncated-at-its-end")


def test_quick_clicks_leave_one_session_one_microphone_and_no_repeated_audio(env, page):
    server, browser = env
    sentence = "The green bicycle is parked by the station."
    nb = Notebook(server, page, "clicks", ["w = RealtimeWidget()\nw", "report(w, 'response.done')"])
    nb.run(1)
    root = nb.widget(1)
    browser.set_mic(utterance(sentence, lead_s=1.0, tail_s=1.5))
    before = set(live_sessions(server))
    connect = root.get_by_role("button", name=CONNECT)
    mic = root.get_by_role("button", name=MIC)
    # five clicks on Connect, five on the microphone (on, off, on, off, on) and Stop, all at once
    # during connect
    connect.evaluate("b => { for (let i = 0; i < 5; i++) b.click(); }")
    mic.evaluate("b => { for (let i = 0; i < 5; i++) b.click(); }")
    root.get_by_role("button", name="Stop the assistant (Escape)").evaluate(
        "b => { for (let i = 0; i < 5; i++) b.click(); }"
    )
    wait_until(page, lambda s: s["live"], "the widget to attach")
    root.locator(".rtw-msg.rtw-assistant", has_text="You said").first.wait_for()
    rep = nb.report(2)
    new = {sid: st for sid, st in live_sessions(server).items() if sid not in before}
    assert list(new) == [rep["session_id"]], new  # one session
    s = stats(page)
    assert s["connect"]["clicks"] >= 1 and s["connect"]["requests"] == 1
    assert view_state(page, "v.audio.micOn") is True
    live_tracks = page.evaluate(
        "() => window.__streams.filter(s => s.getTracks().some(t => t.readyState === "
        "'live')).length"
    )
    assert (
        live_tracks == 1 and s["micStarts"] == 3
    )  # on, off, on, off, on: three streams opened, two closed
    # the sentence reached the engine once: one user turn, one answer, no repeated words
    wait_until(
        page, lambda s: any(e["type"] == "response.done" for e in s["log"]), "the answer to finish"
    )
    page.wait_for_timeout(1500)  # (a repeated copy of the audio would make a second turn by now)
    s = stats(page)
    turns = [
        e for e in s["log"] if e["type"] == "conversation.item.input_audio_transcription.completed"
    ]
    assert len(turns) == 1, turns
    assert_heard(turns[0]["transcript"], sentence, "bicycle", "station")
    assert len(re.findall(r"bicycle", turns[0]["transcript"], re.I)) == 1
    assert sum(1 for e in s["log"] if e["type"] == "response.created") == 1
    screenshot(page, "widget-first-minute-quick-clicks")

    # Disconnect / Connect clicked four times at once while connected: attached again, once
    button = root.locator("button.rtw-connect")
    button.evaluate("b => { for (let i = 0; i < 4; i++) b.click(); }")
    wait_until(page, lambda s: s["live"], "the widget to attach again")
    root.get_by_role("button", name="Disconnect from the realtime session").wait_for()
    sid = rep["session_id"]
    for _ in range(100):
        if server.api("GET", f"realtime/sessions/{sid}")["n_clients"] == 2:
            break
        page.wait_for_timeout(100)
    assert (
        server.api("GET", f"realtime/sessions/{sid}")["n_clients"] == 2
    )  # the kernel and one widget
    assert (
        page.evaluate(
            "() => window.__streams.filter(s => s.getTracks().some(t => t.readyState === "
            "'live')).length"
        )
        == 0
    )  # Disconnect released the microphone
    box = root.get_by_role("textbox", name="Message to the assistant")
    box.fill("One more thing.")
    box.press("Enter")
    root.locator(".rtw-msg.rtw-assistant", has_text="One more thing").first.wait_for()
    assert root.locator(".rtw-msg.rtw-user", has_text="One more thing").count() == 1


def test_closing_the_tab_while_connecting_leaves_no_session_open(env):
    """The kernel goes on creating the session after the tab is gone; the hub closes it
    once it has had no widget attached and no event for its idle timeout."""
    browser = env[1]
    with jupyter_server("first-minute-tab-closed", hub_options=COLD) as server:
        page = browser.new_page()
        nb = Notebook(server, page, "tabclosed", ["w = RealtimeWidget(idle_timeout=3)\nw"])
        nb.run(1)
        root = nb.widget(1)
        root.get_by_role("button", name=CONNECT).click()
        sid = None
        deadline = time.monotonic() + 60
        while sid is None and time.monotonic() < deadline:
            sid = next((k for k, st in live_sessions(server).items() if st == "connecting"), None)
            time.sleep(0.05)
        assert sid is not None, "no session was connecting"
        page.context.close()  # the tab goes while the engine still loads
        statuses = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            summary = server.api("GET", f"realtime/sessions/{sid}")
            statuses.append(summary["status"])
            if summary["status"] == "closed":
                break
            time.sleep(0.2)
        assert statuses[-1] == "closed" and "open" in statuses, (
            statuses
        )  # it opened, then the hub closed it
        assert summary["n_clients"] == 0
        events = server.api("GET", f"realtime/sessions/{sid}/events?type=x_hub.status")["events"]
        assert any("idle for 3 s" in (e["event"].get("reason") or "") for e in events), events
