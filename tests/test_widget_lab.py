"""RealtimeWidget in JupyterLab 4, in a real headless chromium with a fake microphone
(speech made with espeak-ng at test time), against the local engine through the
Jupyter server's hub. One server and one browser for the module; each test opens its
own notebook (its own kernel and hub session).

What is asserted is what a user sees (the transcript pane, the notes, the buttons) plus
the widget's playback counters (samples the playback worklet really played) and what
the kernel's ``Session`` received. No wall-clock thresholds.
"""

from __future__ import annotations

import re

import pytest
from browser_jupyter import (
    Notebook,
    assert_heard,
    jupyter_and_browser,
    missing_requirements,
    played_ms,
    screenshot,
    stats,
    utterance,
    wait_until,
)

pytestmark = [pytest.mark.timeout(240)]

_why = missing_requirements()
if _why:
    pytest.skip(_why, allow_module_level=True)

CONNECT = "Connect to the realtime session"
MIC = "Microphone on or off"


@pytest.fixture(scope="module")
def env():
    with jupyter_and_browser("lab") as (server, browser):
        yield server, browser


@pytest.fixture
def page(env):
    server, browser = env
    page = browser.new_page()
    yield page
    page.context.close()
    server.shutdown_kernels()


def words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def connect(nb: Notebook, root) -> None:
    root.get_by_role("button", name=CONNECT).click()
    wait_until(nb.page, lambda s: s["live"], "the widget to attach to the hub session")
    root.get_by_role("button", name="Disconnect from the realtime session").wait_for()


def assistant_item_playing(s) -> str | None:
    for item_id, it in (s.get("itemsPlayback") or {}).items():
        if it["played"] > 0 and not it["stopped"]:
            return item_id
    return None


def test_spoken_sentence_is_transcribed_and_the_reply_is_played(env, page):
    server, browser = env
    nb = Notebook(
        server,
        page,
        "voice",
        [
            "w = RealtimeWidget()\nw",
            "report(w, 'conversation.item.input_audio_transcription.completed', 'response.done')",
        ],
    )
    nb.run(1)
    root = nb.widget(1)
    expect_status = root.get_by_role("status").first
    assert "Not connected" in root.inner_text()
    browser.set_mic(utterance("The quick brown fox jumps over the lazy dog."))
    connect(nb, root)
    root.get_by_role("button", name=MIC).click()
    root.locator('button.rtw-mic[aria-pressed="true"]').wait_for()  # the microphone opened

    user = root.locator(".rtw-msg.rtw-user").first
    user.filter(has_text=re.compile("brown fox", re.I)).wait_for()
    user_text = user.locator(".rtw-text-body").inner_text()
    assert_heard(user_text, "The quick brown fox jumps over the lazy dog.", "quick", "brown", "fox")
    assistant = root.locator(".rtw-msg.rtw-assistant").first
    assistant.filter(has_text=re.compile("You said", re.I)).wait_for()

    # the reply is played: the playback worklet consumed its samples
    s = wait_until(
        page,
        lambda s: any(it["played"] > 0 for it in s["itemsPlayback"].values()),
        "the reply to be played",
    )
    item_id = next(i for i, it in s["itemsPlayback"].items() if it["played"] > 0)
    assert root.locator(f'.rtw-msg[data-item-id="{item_id}"]').inner_text().find("You said") >= 0
    s = wait_until(
        page,
        lambda s: s["itemsPlayback"][item_id]["played"] == s["itemsPlayback"][item_id]["received"],
        "the whole reply to be played",
    )
    assert s["underruns"] == 0
    assert (
        s["appendsSent"] > 0 and s["transport"] == "hub" and s["worker"]
    )  # audio via the I/O worker
    assert expect_status.inner_text()
    screenshot(page, "widget-jupyterlab-voice-turn")

    # the kernel's Session saw the same conversation
    rep = nb.report(2)
    assert rep["mode"] == "hub"
    kernel_tx = rep["events"]["conversation.item.input_audio_transcription.completed"]
    browser_tx = next(
        e
        for e in stats(page)["log"]
        if e["type"] == "conversation.item.input_audio_transcription.completed"
    )
    assert kernel_tx["item_id"] == browser_tx["item_id"]
    assert kernel_tx["transcript"].strip() == user_text.strip()
    assert any(i["id"] == item_id and "You said" in (i["text"] or "") for i in rep["items"])
    assert rep["traits"]["connected"] is True and rep["traits"]["mic_available"] is True
    assert rep["traits"]["events_received"] > 0


def test_barge_in_by_voice_truncates_at_the_audio_played(env, page):
    server, browser = env
    nb = Notebook(
        server,
        page,
        "bargein",
        [
            "w = RealtimeWidget()\nw",
            "report(w, 'conversation.item.truncated', 'input_audio_buffer.speech_started')",
        ],
    )
    nb.run(1)
    root = nb.widget(1)
    browser.set_mic(
        utterance(
            "Please turn off the lights in the kitchen before you leave, and lock the back door."
        )
    )
    connect(nb, root)
    mic = root.get_by_role("button", name=MIC)
    mic.click()
    s = wait_until(
        page, lambda s: assistant_item_playing(s) is not None, "the reply to start playing"
    )
    item_id = assistant_item_playing(s)

    # the user speaks again while the reply plays: the microphone reopens on new speech
    browser.set_mic(utterance("Stop, I have a question.", lead_s=0.1))
    mic.click()
    mic.click()
    # (the playback counters are posted every 50 ms: wait for those taken after the stop)
    s = wait_until(
        page,
        lambda s: s["truncated"] and s["itemsPlayback"][item_id]["stopped"],
        "conversation.item.truncated",
    )
    truncated = s["truncated"][0]
    assert truncated["item_id"] == item_id
    sent = s["truncatesSent"][0]
    assert sent["reason"] == "speech"
    it = s["itemsPlayback"][item_id]
    assert it["stopped"] is True
    # never beyond what was played, and what was played never beyond what was received
    assert 0 < truncated["audio_end_ms"] <= played_ms(s, item_id)
    assert it["played"] <= it["received"]
    assert truncated["audio_end_ms"] == sent["audio_end_ms"]
    root.locator(f'.rtw-msg[data-item-id="{item_id}"] .rtw-cut').wait_for()
    assert "interrupted" in root.locator(f'.rtw-msg[data-item-id="{item_id}"]').inner_text()
    # the interrupted audio stays stopped
    assert stats(page)["itemsPlayback"][item_id]["played"] == it["played"]
    screenshot(page, "widget-jupyterlab-barge-in")

    rep = nb.report(2)
    kernel_tr = rep["events"]["conversation.item.truncated"]
    assert (
        kernel_tr["item_id"] == item_id and kernel_tr["audio_end_ms"] == truncated["audio_end_ms"]
    )
    assert any(i["id"] == item_id and i["truncated"] for i in rep["items"])


def test_text_box_tool_card_and_stop_button(env, page):
    server, browser = env
    setup = (
        "def get_weather(city: str) -> str:\n"
        "    '''The weather in a city.'''\n"
        "    return f'Sunny and 21 degrees in {city}'\n"
        "w = RealtimeWidget(tools=[get_weather])\nw"
    )
    nb = Notebook(
        server,
        page,
        "text",
        [
            setup,
            "report(w, 'conversation.item.truncated')",
            "w.session.send({'type': 'response.cancel'})",
        ],
    )
    nb.run(1)
    root = nb.widget(1)
    connect(nb, root)
    box = root.get_by_role("textbox", name="Message to the assistant")

    # a tool call: its card shows the name, the arguments and the kernel's result
    box.fill("What is the weather in Paris?")
    box.press("Enter")
    card = root.locator(".rtw-call").first
    card.filter(has_text="Sunny and 21 degrees").wait_for()
    assert (
        "get_weather" in card.inner_text()
        and "Paris" in card.locator(".rtw-call-args").inner_text()
    )
    root.locator(".rtw-msg.rtw-assistant", has_text="get_weather says").first.wait_for()
    assert root.locator(".rtw-msg.rtw-user", has_text="What is the weather in Paris?").count() == 1

    # a long reply, stopped while it plays (once the tool's answer was played to its end)
    def done(s):
        return s["itemsPlayback"] and all(
            it["ended"] and it["played"] == it["received"] for it in s["itemsPlayback"].values()
        )

    before = set(wait_until(page, done, "the answer to be played")["itemsPlayback"])
    long_text = " ".join(
        ["The library opens at nine in the morning and closes at six in the evening."] * 4
    )
    box.fill(long_text)
    box.press("Enter")
    s = wait_until(
        page,
        lambda s: any(i not in before and it["played"] > 0 for i, it in s["itemsPlayback"].items()),
        "the long reply to play",
    )
    item_id = next(
        i for i, it in s["itemsPlayback"].items() if i not in before and it["played"] > 0
    )
    root.get_by_role("button", name="Stop the assistant (Escape)").click()
    # (the playback counters are posted every 50 ms: wait for those taken after the stop)
    s = wait_until(
        page,
        lambda s: (
            any(t["item_id"] == item_id for t in s["truncated"])
            and s["itemsPlayback"][item_id]["stopped"]
        ),
        "conversation.item.truncated",
    )
    truncated = next(t for t in s["truncated"] if t["item_id"] == item_id)
    assert 0 < truncated["audio_end_ms"] <= played_ms(s, item_id)
    it = s["itemsPlayback"][item_id]
    assert it["stopped"] and it["played"] < it["received"]
    assert any(x["reason"] == "stop" and x["items"][0]["item"] == item_id for x in s["stops"])
    # silence: nothing more of that item is played, and the queue is empty
    wait_until(page, lambda s: s["queuedMs"] == 0, "an empty playback queue")
    assert stats(page)["itemsPlayback"][item_id]["played"] == it["played"]
    rep = nb.report(2)
    assert any(
        i["id"] == item_id and i["truncated"] and i["audio_end_ms"] == truncated["audio_end_ms"]
        for i in rep["items"]
    ), (truncated, rep)

    # an error caused by the kernel's client reaches the widget: the banner shows the server's
    # message
    nb.run(3)
    banner = root.get_by_role("alert")
    banner.filter(has_text="no active response").wait_for()
    root.get_by_role("button", name="Dismiss the error").click()
    banner.wait_for(state="hidden")


def test_push_to_talk_with_the_keyboard(env, page):
    server, browser = env
    # the browser's noise suppression and gain control off (echo cancellation stays on):
    # the options reach getUserMedia, and the ASR gets the speech as spoken
    cell = (
        "w = RealtimeWidget(turn_detection=None, noise_suppression=False, "
        "auto_gain_control=False)\nw"
    )
    nb = Notebook(
        server,
        page,
        "ptt",
        [cell, "report(w, 'conversation.item.input_audio_transcription.completed')"],
    )
    nb.run(1)
    root = nb.widget(1)
    assert root.get_by_role("combobox", name="Turn taking mode").input_value() == "push-to-talk"
    connect(nb, root)
    speech = utterance("My sister plays the piano every morning after breakfast.", tail_s=0.5)
    seconds = browser.set_mic(speech)
    ptt = root.get_by_role("button", name="Hold to talk (mouse or Space key)")
    ptt.focus()
    page.keyboard.down("Space")
    wait_until(
        page,
        lambda s: s["audioSentMs"] >= seconds * 1000,
        "the utterance to be sent while the key is held",
    )
    assert ptt.get_attribute("aria-pressed") == "true"
    page.keyboard.up("Space")
    user = root.locator(".rtw-msg.rtw-user").first
    s = wait_until(
        page,
        lambda s: any(
            e["type"] == "conversation.item.input_audio_transcription.completed" for e in s["log"]
        ),
        "the transcription",
    )
    tx = next(
        e for e in s["log"] if e["type"] == "conversation.item.input_audio_transcription.completed"
    )
    assert_heard(
        tx["transcript"],
        "My sister plays the piano every morning after breakfast.",
        "sister",
        "breakfast",
    )
    user.filter(has_text=re.compile("breakfast", re.I)).wait_for()
    assert user.locator(".rtw-text-body").inner_text().strip() == tx["transcript"].strip()
    root.locator(".rtw-msg.rtw-assistant", has_text="You said").first.wait_for()
    wait_until(
        page,
        lambda s: any(it["played"] > 0 for it in s["itemsPlayback"].values()),
        "the reply to be played",
    )
    s = stats(page)
    assert not any(
        e["type"] == "input_audio_buffer.speech_started" for e in s["log"]
    )  # no server VAD
    mic = s["micSettings"]
    assert (
        mic["echoCancellation"] is True
        and mic["noiseSuppression"] is False
        and mic["autoGainControl"] is False
    )
    assert ptt.get_attribute("aria-pressed") == "false"
    rep = nb.report(2)
    assert (
        rep["events"]["conversation.item.input_audio_transcription.completed"]["transcript"]
        == tx["transcript"]
    )
    assert rep["traits"]["mode"] == "push-to-talk"

    # removing the view (the cell runs again) releases the microphone, the audio graph and the
    # socket
    page.evaluate(
        "() => { const v = globalThis.__realtime_widget.views.at(-1); window.__old = {view: v, "
        "stream: v.audio.stream}; }"
    )
    assert (
        server.api("GET", f"realtime/sessions/{rep['session_id']}")["n_clients"] == 2
    )  # the kernel and the widget
    nb.run(1)
    page.wait_for_function(
        "() => window.__old.view.destroyed && "
        "!globalThis.__realtime_widget.views.includes(window.__old.view)"
    )
    released = page.evaluate(
        "() => ({tracks: window.__old.stream.getTracks().map(t => t.readyState), ctx: "
        "window.__old.view.audio.ctx, conn: window.__old.view.conn})"
    )
    assert released == {"tracks": ["ended"], "ctx": None, "conn": None}
    for _ in range(100):
        if server.api("GET", f"realtime/sessions/{rep['session_id']}")["n_clients"] == 1:
            break
        page.wait_for_timeout(100)
    assert (
        server.api("GET", f"realtime/sessions/{rep['session_id']}")["n_clients"] == 1
    )  # only the kernel now


def test_without_a_microphone_the_widget_says_so_and_still_offers_text(env):
    """Like VS Code (getUserMedia unavailable) and with the kernel running the session
    itself (no hub reachable): events are relayed through the widget's comm."""
    server, browser = env
    page = browser.new_page(
        init_script=(
            "Object.defineProperty(Navigator.prototype, 'mediaDevices', "
            "{get() { return undefined; }, configurable: true});"
        )
    )
    try:
        cells = [
            "import os\nos.environ['REALTIME_WIDGET_MODE'] = 'direct'\nw = RealtimeWidget()\nw",
            "report(w)",
        ]
        nb = Notebook(server, page, "nomic", cells)
        nb.run(1)
        root = nb.widget(1)
        note = root.locator(".rtw-mic-note")
        note.wait_for()
        assert "Microphone unavailable" in note.inner_text() and "type" in note.inner_text()
        assert root.get_by_role("button", name=MIC).is_disabled()
        connect(nb, root)
        assert stats(page)["transport"] == "comm"
        box = root.get_by_role("textbox", name="Message to the assistant")
        box.fill("Hello from a notebook without a microphone.")
        box.press("Enter")
        root.locator(".rtw-msg.rtw-assistant", has_text="You said").first.wait_for()
        wait_until(
            page,
            lambda s: any(it["played"] > 0 for it in s["itemsPlayback"].values()),
            "the reply to be played",
        )
        screenshot(page, "widget-jupyterlab-no-microphone")
        rep = nb.report(2)
        assert rep["mode"] == "direct"
        assert (
            rep["traits"]["mic_available"] is False
            and "getUserMedia" in rep["traits"]["mic_message"]
        )
        assert any(
            i["role"] == "user" and "without a microphone" in (i["text"] or "")
            for i in rep["items"]
        )
    finally:
        page.context.close()
        server.shutdown_kernels()
