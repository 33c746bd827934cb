// @ts-check
// Rendering: the controls, the status line, the live numbers and the error box; the widget's traits.
// Methods of WidgetView (view.js), in a module of their own; `this` is the view.
import { h } from "./dom.js";

/** @typedef {import("./view-types.js").Mixin} Mixin */

export const renderMethods = /** @satisfies {Mixin} */ ({
  build() {
    const el = this.el;
    el.classList.add("rtw-root");
    this.connectBtn = h("button", { class: "rtw-btn rtw-connect", type: "button", "aria-label": "Connect to the realtime session", onclick: () => this.toggleConnect() }, "Connect");
    this.micBtn = h("button", { class: "rtw-btn rtw-mic", type: "button", "aria-pressed": "false", "aria-label": "Microphone on or off", onclick: () => this.toggleMic() }, "Mic off");
    this.inMeterFill = h("div", { class: "rtw-meter-fill" });
    this.inMeter = h("div", { class: "rtw-meter rtw-in-meter", role: "meter", "aria-label": "Microphone input level", "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": "0" }, this.inMeterFill);
    this.modeSel = h(
      "select",
      { class: "rtw-mode", "aria-label": "Turn taking mode", onchange: () => this.setMode(this.modeSel.value) },
      h("option", { value: "hands-free" }, "Hands-free"),
      h("option", { value: "push-to-talk" }, "Push-to-talk"),
    );
    this.pttBtn = h(
      "button",
      {
        class: "rtw-btn rtw-ptt",
        type: "button",
        "aria-label": "Hold to talk (mouse or Space key)",
        "aria-pressed": "false",
        onpointerdown: (/** @type {PointerEvent} */ e) => {
          e.preventDefault();
          try {
            this.pttBtn.setPointerCapture(e.pointerId);
          } catch (err) {}
          this.pttStart();
        },
        onpointerup: () => this.pttEnd(),
        onpointercancel: () => this.pttEnd(),
        onkeydown: (/** @type {KeyboardEvent} */ e) => {
          if ((e.key === " " || e.key === "Enter") && !e.repeat) {
            e.preventDefault();
            this.pttStart();
          }
        },
        onkeyup: (/** @type {KeyboardEvent} */ e) => {
          if (e.key === " " || e.key === "Enter") {
            e.preventDefault();
            this.pttEnd();
          }
        },
      },
      "Hold to talk",
    );
    this.stopBtn = h("button", { class: "rtw-btn rtw-stop", type: "button", "aria-label": "Stop the assistant (Escape)", onclick: () => this.bargeIn("stop") }, "Stop");
    this.outMeterFill = h("div", { class: "rtw-meter-fill" });
    this.outMeter = h("div", { class: "rtw-meter rtw-out-meter", role: "meter", "aria-label": "Assistant output level", "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": "0" }, this.outMeterFill);
    this.statusEl = h("span", { class: "rtw-status", role: "status", "aria-live": "polite" }, "Not connected");
    this.counterEl = h("span", { class: "rtw-counter", "aria-label": "Events received", title: "Server events received" }, "0 events");
    this.statsEl = h("div", {
      class: "rtw-stats",
      role: "status",
      "aria-label": "Live numbers",
      title: "Last turn: end of your speech (or your message) to the reply's first audio as played. Tokens: all responses so far. The same numbers as Session.latency() and Session.usage().",
      hidden: true,
    });
    this.micNote = h("div", { class: "rtw-note rtw-mic-note", role: "status", hidden: true });
    this.errorText = h("span", { class: "rtw-error-text" });
    this.errorEl = h(
      "div",
      { class: "rtw-error", role: "alert", hidden: true },
      this.errorText,
      h("button", { class: "rtw-btn rtw-dismiss", type: "button", "aria-label": "Dismiss the error", onclick: () => this.clearError() }, "×"),
    );
    this.transcript = h("div", { class: "rtw-transcript", role: "log", "aria-live": "polite", "aria-label": "Conversation transcript", tabindex: "0" });
    this.textInput = h("input", {
      class: "rtw-text",
      type: "text",
      placeholder: "Type a message and press Enter",
      "aria-label": "Message to the assistant",
      onkeydown: (/** @type {KeyboardEvent} */ e) => {
        if (e.key === "Enter" && !e.shiftKey) {
          e.preventDefault();
          this.sendText();
        }
      },
    });
    this.sendBtn = h("button", { class: "rtw-btn rtw-send", type: "button", "aria-label": "Send the message", onclick: () => this.sendText() }, "Send");
    const bar = h(
      "div",
      { class: "rtw-bar", role: "toolbar", "aria-label": "Realtime session controls" },
      this.connectBtn,
      this.micBtn,
      this.inMeter,
      this.modeSel,
      this.pttBtn,
      this.stopBtn,
      h("span", { class: "rtw-out-label", "aria-hidden": "true" }, "Out"),
      this.outMeter,
      this.statusEl,
      this.counterEl,
    );
    const form = h("div", { class: "rtw-form" }, this.textInput, this.sendBtn);
    el.append(bar, this.statsEl, this.micNote, this.errorEl, this.transcript, form);
    el.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        e.preventDefault();
        this.bargeIn("stop");
      }
    });
  },

  renderMode() {
    const mode = this.model.get("mode") || "hands-free";
    this.modeSel.value = mode;
    this.pttBtn.hidden = mode !== "push-to-talk";
  },

  renderState() {
    const connected = !!(this.conn && this.conn.isOpen && this.live);
    const starting = this.model.get("starting") || this.connectPending || (this.conn && !connected);
    this.connectBtn.textContent = connected ? "Disconnect" : starting ? "Connecting…" : "Connect";
    this.connectBtn.setAttribute("aria-label", connected ? "Disconnect from the realtime session" : "Connect to the realtime session");
    this.connectBtn.disabled = !!starting && !connected;
    const micOn = this.audio.micOn;
    this.micBtn.textContent = micOn ? "Mic on" : "Mic off";
    this.micBtn.setAttribute("aria-pressed", micOn ? "true" : "false");
    this.micBtn.disabled = !!this.micUnavailable;
    this.pttBtn.disabled = !!this.micUnavailable;
    const err = this.model.get("last_error");
    if (err && err !== this.shownError) this.showError(err);
    let status = "Not connected";
    if (starting && !connected) status = this.startingText();
    if (!starting && !connected && this.listening()) status = `Not connected · Listening${this.keptText()}, sent once you connect`;
    if (connected) {
      if (this.userSpeaking) status = "You are speaking";
      else if (this.activeResponse || this.outLevel > 0.01) status = "Assistant speaking";
      else if (this.listening()) status = "Listening";
      else status = "Connected";
    }
    if (this.connState === "reattaching") status = "Reconnecting…";
    if (this.connState === "ended") status = "Session ended";
    this.statusEl.textContent = status;
    this.counterEl.textContent = `${this.stats.eventsReceived} events`;
  },

  /** While the session starts: what it waits for, for how long, and that the microphone is heard. */
  startingText() {
    const since = this.stats.connect.clickAt;
    const secs = since ? ` ${((Date.now() - since) / 1000).toFixed(1)} s` : "";
    const loading = this.engine && (this.engine.state === "loading" || this.engine.state === "not_loaded");
    let text = loading ? `Starting the local speech engine…${secs}` : `Connecting…${secs}`;
    if (this.listening()) text += ` · Listening${this.keptText()}`;
    return text;
  },

  keptText() {
    const { ms, droppedMs } = this.worker ? this.queueInfo : { ms: this.queue.ms, droppedMs: this.queue.droppedMs };
    if (!(ms > 0)) return "";
    return droppedMs > 0 ? ` (first ${(ms / 1000).toFixed(1)} s kept, ${(droppedMs / 1000).toFixed(1)} s after them not)` : ` (${(ms / 1000).toFixed(1)} s kept)`;
  },

  renderStats() {
    const text = this.model.get("show_stats") === false ? "" : this.numbers.text(this.model.get("prices"));
    this.statsEl.textContent = text;
    this.statsEl.hidden = !text;
  },

  setMicUnavailable(text) {
    this.micUnavailable = text;
    this.micNote.hidden = false;
    this.micNote.textContent = `Microphone unavailable: ${text} You can still type messages below and hear the replies.`;
    this.setTraits({ mic_available: false, mic_message: text });
    this.renderState();
  },

  showError(message) {
    this.shownError = message;
    this.errorText.textContent = message;
    this.errorEl.hidden = false;
  },

  clearError() {
    this.errorEl.hidden = true;
    this.shownError = null;
    this.setTraits({ last_error: "" });
  },

  setTraits(obj) {
    if (this.destroyed) return;
    let changed = false;
    for (const [k, v] of Object.entries(obj)) {
      if (this.model.get(k) !== v) {
        this.model.set(k, v);
        changed = true;
      }
    }
    if (changed) {
      try {
        this.model.save_changes();
      } catch (e) {}
    }
  },

  syncLevels() {
    const q = (/** @type {number} */ x) => Math.round(x * 20) / 20;
    this.setTraits({ input_level: q(this.audio.micOn ? this.inLevel : 0), output_level: q(this.outLevel), events_received: this.stats.eventsReceived });
    this.renderState();
  },

  listening() {
    if (!this.audio.micOn) return false;
    return (this.model.get("mode") || "hands-free") === "push-to-talk" ? this.pttHeld : true;
  },

  syncStatus() {
    this.setTraits({
      connected: !!(this.conn && this.conn.isOpen && this.live),
      listening: this.listening(),
      user_speaking: this.userSpeaking,
      response_active: !!this.activeResponse,
    });
    this.renderState();
  },
});
