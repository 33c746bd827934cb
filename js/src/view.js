// One rendered view of a RealtimeWidget: the UI, the connection to the hub session, the
// microphone and the playback, barge-in, push-to-talk and the text box.
import { AudioEngine, makeIoWorker, micErrorText, micSupport } from "./audio.js";
import { decodeAudio, encodeAudio, formatRate, normalizeFormat } from "./codec.js";
import { CaptureQueue } from "./capture-queue.js";
import { localEngineState } from "./engine-status.js";
import { cutTranscript, deltaSamples } from "./heard-text.js";
import { CommConnection, HubConnection, WorkerConnection, pageConfig, sessionSocketUrl } from "./hub.js";
import { LiveNumbers } from "./stats-line.js";

const MAX_LOG = 3000;
const MAX_SAMPLES = 20000;
let eventCounter = 0;

function registry() {
  if (!globalThis.__realtime_widget) globalThis.__realtime_widget = { views: [] };
  return globalThis.__realtime_widget;
}

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) if (c != null) el.append(c);
  return el;
}

function pushCapped(arr, v) {
  if (arr.length < MAX_SAMPLES) arr.push(v);
}

function newStats() {
  return {
    eventsReceived: 0,
    eventsSent: 0,
    appendsSent: 0,
    audioSentMs: 0,
    framesCaptured: 0,
    captureLatencyMs: [], // first sample of a frame -> append written to the socket
    captureOverheadMs: [], // last sample of a frame -> append written to the socket
    playbackLatencyMs: [], // audio delta received at an empty buffer -> its first sample rendered by the worklet
    firstAudioLatencyMs: [], // first delta of an item received -> rendered (both: + outputLatencyMs = audible)
    audioDeltasReceived: 0,
    audioReceivedSamples: 0,
    playedSamples: 0, // device-rate samples the playback worklet played
    itemsPlayback: {}, // item_id -> {played, received, rate, ended, stopped, index}
    underruns: 0,
    starvedMs: 0,
    stops: [], // {reason, clickAt, silentAt, stopToSilenceMs, items}
    truncatesSent: [], // {item_id, content_index, audio_end_ms, played, received}
    truncated: [], // conversation.item.truncated events received
    cancelsSent: 0,
    outputLatencyMs: 0,
    sampleRate: 0,
    micSettings: null,
    connect: { clickAt: 0, sessionIdAt: 0, openAt: 0, sessionCreatedAt: 0, liveAt: 0, clicks: 0, requests: 0 }, // Date.now() of each step
    queueSent: [], // {ms, droppedMs, appends}: audio kept while connecting, sent once live
    micStarts: 0, // getUserMedia streams opened
  };
}

export class WidgetView {
  constructor(model, el) {
    this.model = model;
    this.el = el;
    this.id = ++eventCounter;
    this.cfg = pageConfig();
    this.conn = null;
    this.live = false;
    this.session = {};
    this.inputFormat = normalizeFormat(model.get("input_format") || "pcm16"); // the session's, once it says
    this.outputFormat = "pcm16";
    this.items = new Map(); // item_id -> {el, textEl, role, type, text}
    this.calls = new Map(); // call_id -> card elements
    this.activeResponse = null;
    this.ownCancels = new Set();
    this.stoppedItems = new Set();
    this.stoppedResponses = new Set();
    this.worker = null;
    this.audioChunk = 0;
    this.firstChunkOfItem = new Set();
    this.pttHeld = false;
    this.pttSamples = 0;
    this.userSpeaking = false;
    this.inLevel = 0;
    this.outLevel = 0;
    this.pendingStop = null;
    this.log = [];
    this.stats = newStats();
    this.queue = new CaptureQueue(); // microphone audio from before the session was live (no I/O worker yet)
    this.queueInfo = { ms: 0, droppedMs: 0 }; // the I/O worker's queue
    this.numbers = new LiveNumbers();
    this.itemSamples = new Map(); // item_id -> samples of its audio received (played or not)
    this.lastSeqSeen = 0;
    this.connectPending = false; // Connect clicked, the session not live yet
    this.engine = null; // the local speech engine's state while connecting
    this.micChain = Promise.resolve(); // microphone on/off, one after the other
    this.destroyed = false;
    this.audio = new AudioEngine({ onFrame: (m) => this.onFrame(m), onPlayback: (m) => this.onPlayback(m) });
    this.audio.setPrebuffer(model.get("prebuffer_ms") ?? 60);
    this.build();
    this.listeners = [];
    const on = (name, fn) => {
      model.on(name, fn);
      this.listeners.push([name, fn]);
    };
    on("change:session_id", () => {
      if (this.connectPending && !this.stats.connect.sessionIdAt) this.stats.connect.sessionIdAt = Date.now(); // the kernel made it
      this.maybeAttach();
    });
    on("change:starting", () => this.renderState());
    on("change:last_error", () => {
      if (this.model.get("last_error")) this.connectPending = false;
      this.renderState();
    });
    on("change:show_stats", () => this.renderStats());
    on("change:prices", () => this.renderStats());
    this.appliedMode = model.get("mode") || "hands-free"; // the session was created in this mode
    on("change:mode", () => {
      // set from Python (w.mode = ...) or by another view: apply it to the session
      const mode = this.model.get("mode") || "hands-free";
      if (mode !== this.appliedMode) this.applyMode(mode);
      this.renderMode();
    });
    on("msg:custom", (msg) => this.onCustom(msg));
    this.levelTimer = setInterval(() => this.syncLevels(), 250);
    const why = micSupport();
    if (why) this.setMicUnavailable(why);
    registry().views.push(this);
    this.renderMode();
    this.renderState();
    if (model.get("session_id") && model.get("autoattach")) this.maybeAttach();
  }

  // ------------------------------------------------------------------ UI

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
        onpointerdown: (e) => {
          e.preventDefault();
          try {
            this.pttBtn.setPointerCapture(e.pointerId);
          } catch (err) {}
          this.pttStart();
        },
        onpointerup: () => this.pttEnd(),
        onpointercancel: () => this.pttEnd(),
        onkeydown: (e) => {
          if ((e.key === " " || e.key === "Enter") && !e.repeat) {
            e.preventDefault();
            this.pttStart();
          }
        },
        onkeyup: (e) => {
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
      onkeydown: (e) => {
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
  }

  renderMode() {
    const mode = this.model.get("mode") || "hands-free";
    this.modeSel.value = mode;
    this.pttBtn.hidden = mode !== "push-to-talk";
  }

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
  }

  /** While the session starts: what it waits for, for how long, and that the microphone is heard. */
  startingText() {
    const since = this.stats.connect.clickAt;
    const secs = since ? ` ${((Date.now() - since) / 1000).toFixed(1)} s` : "";
    const loading = this.engine && (this.engine.state === "loading" || this.engine.state === "not_loaded");
    let text = loading ? `Starting the local speech engine…${secs}` : `Connecting…${secs}`;
    if (this.listening()) text += ` · Listening${this.keptText()}`;
    return text;
  }

  keptText() {
    const { ms, droppedMs } = this.worker ? this.queueInfo : { ms: this.queue.ms, droppedMs: this.queue.droppedMs };
    if (!(ms > 0)) return "";
    return droppedMs > 0 ? ` (first ${(ms / 1000).toFixed(1)} s kept, ${(droppedMs / 1000).toFixed(1)} s after them not)` : ` (${(ms / 1000).toFixed(1)} s kept)`;
  }

  renderStats() {
    const text = this.model.get("show_stats") === false ? "" : this.numbers.text(this.model.get("prices"));
    this.statsEl.textContent = text;
    this.statsEl.hidden = !text;
  }

  setMicUnavailable(text) {
    this.micUnavailable = text;
    this.micNote.hidden = false;
    this.micNote.textContent = `Microphone unavailable: ${text} You can still type messages below and hear the replies.`;
    this.setTraits({ mic_available: false, mic_message: text });
    this.renderState();
  }

  showError(message) {
    this.shownError = message;
    this.errorText.textContent = message;
    this.errorEl.hidden = false;
  }

  clearError() {
    this.errorEl.hidden = true;
    this.shownError = null;
    this.setTraits({ last_error: "" });
  }

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
  }

  syncLevels() {
    const q = (x) => Math.round(x * 20) / 20;
    this.setTraits({ input_level: q(this.audio.micOn ? this.inLevel : 0), output_level: q(this.outLevel), events_received: this.stats.eventsReceived });
    this.renderState();
  }

  listening() {
    if (!this.audio.micOn) return false;
    return (this.model.get("mode") || "hands-free") === "push-to-talk" ? this.pttHeld : true;
  }

  syncStatus() {
    this.setTraits({
      connected: !!(this.conn && this.conn.isOpen && this.live),
      listening: this.listening(),
      user_speaking: this.userSpeaking,
      response_active: !!this.activeResponse,
    });
    this.renderState();
  }

  // ------------------------------------------------------------------ connection

  async toggleConnect() {
    this.stats.connect.clicks++;
    if (this.conn) return this.disconnect();
    if (this.connectPending) return; // one session, however often it is clicked
    this.connectPending = true;
    this.stats.connect = { ...this.stats.connect, clickAt: Date.now(), sessionIdAt: 0, openAt: 0, sessionCreatedAt: 0, liveAt: 0 };
    this.renderState();
    const ready = this.audio.ensure(); // the click is the user gesture audio needs
    this.wantAttach = true;
    if (this.model.get("session_id") && this.connState !== "ended") this.maybeAttach();
    else {
      // no session yet, or it ended (e.g. idle after its tab was closed): the kernel makes one
      this.stats.connect.requests++;
      this.model.send({ type: "connect" });
      this.watchEngine();
    }
    this.renderState();
    try {
      await ready;
    } catch (e) {
      this.showError(`Audio playback is unavailable: ${e.message || e}`);
    }
  }

  /** While a local session starts, ask the server how far its speech engine is. */
  async watchEngine() {
    if ((this.model.get("provider") || "local") !== "local") return;
    while (this.connectPending && !this.live && !this.destroyed) {
      const state = await localEngineState(this.cfg);
      if (!state) return;
      this.engine = state;
      this.renderState();
      await new Promise((r) => setTimeout(r, 400));
    }
  }

  maybeAttach() {
    if (this.conn || this.destroyed || !this.model.get("session_id")) return;
    if (!this.wantAttach && !this.model.get("autoattach")) return;
    const useHub = this.model.get("hub_mode") && this.cfg.found && this.model.get("ws_path");
    this.attach(useHub ? "hub" : "comm");
  }

  attach(kind) {
    // one view of a widget holds the session at a time (else every view would play the audio)
    for (const other of registry().views) {
      if (other !== this && other.model === this.model && other.conn) {
        other.disconnect();
        other.statusEl.textContent = "Connected in another view of this widget";
      }
    }
    this.live = false;
    this.transport = kind;
    if (this.model.get("session_id") !== this.attachedSession) {
      this.attachedSession = this.model.get("session_id"); // a new session numbers its events from 1 again
      this.lastSeqSeen = 0;
    }
    const onEvent = (ev, at) => this.onServerEvent(ev, at);
    const onState = (state, e) => this.onConnState(state, e);
    if (kind === "hub") {
      const wsPath = this.model.get("ws_path");
      const worker = makeIoWorker();
      if (worker) {
        // the socket lives in the I/O worker, wired straight to the worklets
        this.worker = worker;
        this.conn = new WorkerConnection({ worker, url: sessionSocketUrl(this.cfg, wsPath, null), onEvent, onState, onMessage: (m) => this.onWorkerMessage(m) });
        this.audio.setWorker(worker);
        this.postFormats();
        const kept = this.queue.takeFrames(); // said before the worker existed: it sends them, in order, once live
        if (kept.frames.length || kept.droppedMs) worker.postMessage({ type: "queued", ...kept });
        this.updateGate();
      } else {
        this.conn = new HubConnection({ url: (after) => sessionSocketUrl(this.cfg, wsPath, after), onEvent, onState });
      }
    } else {
      this.conn = new CommConnection({ model: this.model, onEvent, onState });
    }
    this.conn.open();
    this.renderState();
  }

  onConnState(state, e) {
    this.connState = state;
    if (state === "open" && this.connectPending && !this.stats.connect.openAt) this.stats.connect.openAt = Date.now();
    if (state === "failed" && this.transport === "hub") {
      // the browser cannot reach the hub (another server, a proxy, no cookie): relay through the kernel
      this.dropWorker();
      this.conn = null;
      this.attach("comm");
      return;
    }
    if (state === "reattaching") this.live = false;
    if (state === "ended" || state === "lost") {
      this.live = false;
      this.conn = null;
      if (state === "lost") this.showError("The connection to the Jupyter server was lost.");
    }
    this.syncStatus();
  }

  dropWorker() {
    if (!this.worker) return;
    if (this.conn && this.conn.worker === this.worker) this.conn.close();
    this.worker = null;
    this.audio.setWorker(null);
  }

  postFormats() {
    if (this.worker) this.worker.postMessage({ type: "formats", input: this.inputFormat, output: this.outputFormat });
  }

  updateGate() {
    if (this.worker) this.worker.postMessage({ type: "gate", open: this.listening() });
  }

  onWorkerMessage(m) {
    if (m.type === "stats") {
      const st = this.stats;
      st.appendsSent += m.appendsSent;
      st.audioSentMs += m.audioSentMs;
      st.audioDeltasReceived += m.audioDeltasReceived;
      st.audioReceivedSamples += m.audioReceivedSamples;
      for (const v of m.captureLatencyMs) pushCapped(st.captureLatencyMs, v);
      for (const v of m.captureOverheadMs) pushCapped(st.captureOverheadMs, v);
    } else if (m.type === "flushed") {
      if (!m.sent) this.statusEl.textContent = "Hold the button while you speak";
      else this.numbers.responseRequested(Date.now()); // the worker sent commit + response.create
    } else if (m.type === "queue") {
      this.queueInfo = { ms: m.ms, droppedMs: m.droppedMs };
    } else if (m.type === "queueSent") {
      this.queueInfo = { ms: 0, droppedMs: 0 };
      this.stats.queueSent.push({ ms: m.ms, droppedMs: m.droppedMs, appends: m.appends });
    }
  }

  disconnect() {
    this.wantAttach = false;
    this.connectPending = false;
    this.queue.clear();
    if (this.audio.micOn) this.stopMic();
    this.bargeIn("disconnect", { local: true });
    if (this.conn) this.conn.close();
    this.dropWorker();
    this.conn = null;
    this.live = false;
    this.connState = "closed";
    this.syncStatus();
  }

  send(event) {
    event.event_id = event.event_id || `event_widget_${this.id}_${Date.now().toString(36)}_${++this.stats.eventsSent}`;
    if (!this.conn || !this.conn.send(event)) return null;
    if (event.type === "response.create") this.numbers.responseRequested(Date.now());
    return event.event_id;
  }

  onCustom(msg) {
    if (!msg) return;
    if (msg.type === "error") {
      this.connectPending = false;
      this.showError(msg.message);
    }
  }

  // ------------------------------------------------------------------ server events

  onServerEvent(ev, arrivedAt) {
    const at = arrivedAt || Date.now();
    const type = ev.type;
    if (type === "x_hub.ready") {
      this.live = true;
      this.connectPending = false;
      if (!this.stats.connect.liveAt) this.stats.connect.liveAt = at;
      if (!this.worker) this.sendQueued(); // (the I/O worker sent its own already)
      // the mode may have changed before the session existed: make the session follow it
      const want = this.model.get("mode") || "hands-free";
      if (this.session && "turn_detection" in this.session && (want === "push-to-talk") !== (this.session.turn_detection == null)) this.applyMode(want);
      this.syncStatus();
      return;
    }
    this.stats.eventsReceived++;
    // a view that attaches again is sent the whole session again: count audio once
    const seen = typeof ev.x_seq === "number" && ev.x_seq <= this.lastSeqSeen;
    if (typeof ev.x_seq === "number" && !seen) this.lastSeqSeen = ev.x_seq;
    const entry = type === "response.audio.delta" ? { type, item_id: ev.item_id, x_seq: ev.x_seq, live: this.live } : { ...ev, live: this.live };
    if (this.log.length >= MAX_LOG) this.log.shift();
    this.log.push(entry);
    switch (type) {
      case "session.created":
      case "session.updated":
        if (type === "session.created" && this.stats.connect.clickAt && !this.stats.connect.sessionCreatedAt) this.stats.connect.sessionCreatedAt = at;
        this.onSession(ev.session || {});
        break;
      case "input_audio_buffer.speech_started":
        this.userSpeaking = true;
        if (this.live) this.bargeIn("speech");
        this.syncStatus();
        break;
      case "input_audio_buffer.speech_stopped":
        if (this.live) this.numbers.speechStopped(at);
        this.userSpeaking = false;
        this.syncStatus();
        break;
      case "conversation.item.created":
        this.onItem(ev.item || {}, ev.previous_item_id);
        break;
      case "conversation.item.input_audio_transcription.completed":
        this.setText(ev.item_id, ev.transcript || "", { final: true, role: "user" });
        break;
      case "conversation.item.input_audio_transcription.failed":
        this.setText(ev.item_id, "(transcription failed)", { final: true, role: "user", failed: true });
        break;
      case "conversation.item.truncated":
        this.stats.truncated.push({ item_id: ev.item_id, content_index: ev.content_index, audio_end_ms: ev.audio_end_ms, live: this.live });
        this.markTruncated(ev.item_id, ev.audio_end_ms);
        break;
      case "conversation.item.deleted": {
        const it = this.items.get(ev.item_id);
        if (it) it.el.remove();
        this.items.delete(ev.item_id);
        break;
      }
      case "response.created":
        this.activeResponse = (ev.response || {}).id || "response";
        this.numbers.responseCreated(this.activeResponse, this.live);
        this.syncStatus();
        break;
      case "response.done": {
        const r = ev.response || {};
        if (!this.activeResponse || this.activeResponse === r.id) this.activeResponse = null;
        if (r.status === "failed") {
          const err = (r.status_details || {}).error || {};
          this.showError(`The response failed: ${err.message || err.code || "unknown error"}`);
        }
        this.numbers.responseDone(r, this.model.get("prices"));
        this.renderStats();
        this.syncStatus();
        break;
      }
      case "response.output_item.added":
      case "response.output_item.done":
        if (this.numbers.audioItem((ev.item || {}).id, ev.response_id)) this.renderStats();
        this.onItem(ev.item || {}, undefined, type === "response.output_item.done");
        break;
      case "response.text.delta":
      case "response.audio_transcript.delta":
        this.appendText(ev.item_id, ev.delta || "");
        break;
      case "response.text.done":
        this.setText(ev.item_id, ev.text || "", { final: true, role: "assistant" });
        break;
      case "response.audio_transcript.done":
        this.setText(ev.item_id, ev.transcript || "", { final: true, role: "assistant" });
        break;
      case "response.audio.delta": {
        const n = seen ? 0 : ev.samples != null ? ev.samples : deltaSamples(ev.delta, this.outputFormat);
        this.itemSamples.set(ev.item_id, (this.itemSamples.get(ev.item_id) || 0) + n);
        if (this.numbers.audioItem(ev.item_id, ev.response_id)) this.renderStats();
        this.onAudioDelta(ev, at);
        break;
      }
      case "response.audio.done":
        if (this.live) this.audio.endItem(ev.item_id);
        break;
      case "response.function_call_arguments.delta": {
        const card = this.callCard(ev.call_id, null, ev.item_id);
        card.args.textContent += ev.delta || "";
        break;
      }
      case "response.function_call_arguments.done": {
        const card = this.callCard(ev.call_id, ev.name, ev.item_id);
        card.args.textContent = ev.arguments || "";
        break;
      }
      case "error":
        this.onError(ev.error || {});
        break;
      case "x_hub.status":
        if (ev.status === "reconnecting") this.statusEl.textContent = "The service reconnects…";
        if (ev.status === "closed" || ev.status === "failed") {
          this.connState = "ended";
          if (ev.status === "failed") this.showError(ev.reason || "The session failed.");
        }
        break;
      default:
        break;
    }
    if (this.stats.eventsReceived % 10 === 0) this.renderState();
  }

  onSession(s) {
    this.session = s;
    const inFmt = normalizeFormat(s.input_audio_format);
    const outFmt = normalizeFormat(s.output_audio_format);
    const restart = this.audio.micOn && inFmt !== this.inputFormat;
    this.inputFormat = inFmt;
    this.outputFormat = outFmt;
    this.postFormats();
    if (restart) {
      this.stopMic();
      this.startMic();
    }
  }

  onError(err) {
    if (err.event_id && this.ownCancels.has(err.event_id) && err.code === "response_cancel_not_active") {
      this.ownCancels.delete(err.event_id); // our barge-in raced the server's own cancel
      return;
    }
    const message = err.message || err.code || "error";
    this.setTraits({ last_error: message });
    this.showError(message);
  }

  // ------------------------------------------------------------------ transcript

  itemEntry(id, role, type) {
    let it = this.items.get(id);
    if (it) return it;
    if (type === "function_call" || type === "function_call_output") return null;
    const label = role === "user" ? "You" : role === "assistant" ? "Assistant" : role || "System";
    const textEl = h("span", { class: "rtw-text-body" });
    const el = h("div", { class: `rtw-msg rtw-${role || "system"}`, "data-item-id": id, "data-role": role || "" }, h("span", { class: "rtw-role" }, label), textEl);
    it = { el, textEl, role, type, text: "", heard: null };
    this.items.set(id, it);
    this.transcript.append(el);
    return it;
  }

  onItem(item, previousId, done = false) {
    if (!item.id) return;
    if (item.type === "function_call") {
      const card = this.callCard(item.call_id, item.name, item.id);
      if (item.arguments) card.args.textContent = item.arguments;
      return;
    }
    if (item.type === "function_call_output") {
      const card = this.callCard(item.call_id, null, null);
      card.result.textContent = typeof item.output === "string" ? item.output : JSON.stringify(item.output);
      card.result.hidden = false;
      card.el.classList.add("rtw-call-done");
      return;
    }
    const existed = this.items.has(item.id);
    const it = this.itemEntry(item.id, item.role, item.type);
    if (!existed && previousId) {
      const prev = this.items.get(previousId) || this.callByItem(previousId);
      if (prev && prev.el.nextSibling !== it.el) prev.el.after(it.el);
    }
    const text = (item.content || []).map((c) => c.text || c.transcript || "").join(" ").trim();
    if (text) this.setText(item.id, text, { final: done || item.role === "user" });
    else if (!it.text && item.role === "user" && (item.content || []).some((c) => c.type === "input_audio")) {
      it.textEl.textContent = "…";
      it.el.classList.add("rtw-pending");
    }
  }

  appendText(id, delta) {
    const it = this.itemEntry(id, "assistant", "message");
    if (!it) return;
    it.text += delta;
    this.renderText(it);
    this.scroll();
  }

  setText(id, text, { role = "assistant", failed = false } = {}) {
    const it = this.itemEntry(id, role, "message");
    if (!it) return;
    it.text = text;
    this.renderText(it);
    it.el.classList.remove("rtw-pending");
    if (failed) it.el.classList.add("rtw-failed");
    this.scroll();
  }

  /** An interrupted answer: the heard part as usual, the rest struck through, as the model now remembers it. */
  markTruncated(id, endMs) {
    const it = this.items.get(id);
    if (!it) return;
    it.el.classList.add("rtw-truncated");
    if (it.heard == null) {
      const samples = this.itemSamples.get(id) || 0;
      const totalMs = (samples * 1000) / formatRate(this.outputFormat);
      // no audio seen: the proportion is unknown and the server keeps the whole transcript too
      it.heard = totalMs > 0 ? cutTranscript(it.text, endMs / totalMs) : it.text;
      it.el.dataset.audioEndMs = String(endMs);
      this.renderText(it);
    }
    if (!it.el.querySelector(".rtw-cut")) it.el.append(h("span", { class: "rtw-cut", text: ` interrupted at ${(endMs / 1000).toFixed(1)} s` }));
  }

  renderText(it) {
    if (it.heard == null) {
      it.textEl.textContent = it.text;
      return;
    }
    const rest = it.text.startsWith(it.heard) ? it.text.slice(it.heard.length) : "";
    it.textEl.replaceChildren(
      h("span", { class: "rtw-heard" }, it.heard),
      rest ? h("s", { class: "rtw-unheard", title: "Not played before the interruption: the model does not remember this part" }, rest) : null,
    );
  }

  callByItem(itemId) {
    for (const c of this.calls.values()) if (c.itemId === itemId) return c;
    return null;
  }

  callCard(callId, name, itemId) {
    let card = this.calls.get(callId);
    if (!card) {
      const title = h("span", { class: "rtw-call-name" }, name || "function");
      const args = h("pre", { class: "rtw-call-args", "aria-label": "Arguments" });
      const result = h("pre", { class: "rtw-call-result", "aria-label": "Result", hidden: true });
      const el = h("div", { class: "rtw-call", "data-call-id": callId || "", role: "group", "aria-label": `Function call ${name || ""}` }, h("span", { class: "rtw-role" }, "Tool"), title, args, result);
      card = { el, title, args, result, itemId };
      this.calls.set(callId, card);
      this.transcript.append(el);
    }
    if (name) {
      card.title.textContent = name;
      card.el.setAttribute("aria-label", `Function call ${name}`);
    }
    if (itemId) card.itemId = itemId;
    this.scroll();
    return card;
  }

  scroll() {
    const t = this.transcript;
    t.scrollTop = t.scrollHeight;
  }

  // ------------------------------------------------------------------ playback

  onAudioDelta(ev, at) {
    if (this.worker) return; // the I/O worker decoded it and fed the playback worklet already
    if (!this.live || !ev.delta) return;
    if (this.stoppedItems.has(ev.item_id) || this.stoppedResponses.has(ev.response_id)) return; // stopped: never play the rest
    const pcm = decodeAudio(ev.delta, this.outputFormat);
    this.stats.audioDeltasReceived++;
    this.stats.audioReceivedSamples += pcm.length;
    const chunk = ++this.audioChunk;
    const first = !this.firstChunkOfItem.has(ev.item_id);
    this.firstChunkOfItem.add(ev.item_id);
    if (!this.audio.play(ev.item_id, ev.content_index || 0, formatRate(this.outputFormat), pcm, chunk, at, first)) {
      // no audio context yet (nothing was clicked): create it now, the delta is dropped
      try {
        this.audio.ensure();
      } catch (e) {}
    }
  }

  onPlayback(m) {
    if (m.type === "stats") {
      this.outLevel = Math.min(1, m.level * 4);
      this.outMeterFill.style.width = `${Math.round(this.outLevel * 100)}%`;
      this.outMeter.setAttribute("aria-valuenow", String(Math.round(this.outLevel * 100)));
      Object.assign(this.stats, { playedSamples: m.playedTotal, itemsPlayback: m.items, underruns: m.underruns, starvedMs: m.starvedMs, sampleRate: m.rate, queuedMs: m.queuedMs });
      this.stats.outputLatencyMs = this.audio.outputLatencyMs();
    } else if (m.type === "chunk") {
      const lat = m.start - m.recv + m.offsetMs; // rendered by the worklet; audible adds outputLatencyMs
      if (m.fresh) pushCapped(this.stats.playbackLatencyMs, lat);
      if (m.first) pushCapped(this.stats.firstAudioLatencyMs, lat);
      if (m.first && this.numbers.firstAudio(m.item, m.start + m.offsetMs + this.audio.outputLatencyMs())) this.renderStats();
    } else if (m.type === "stopped") {
      this.onStopped(m);
    }
  }

  /**
   * Barge-in: stop playback at once, cancel the active response, and truncate what was
   * cut to what was actually played (never beyond what was received).
   */
  bargeIn(reason, { local = false } = {}) {
    const clickAt = Date.now();
    if (this.activeResponse) {
      // whatever audio of this response still arrives is never played
      this.stoppedResponses.add(this.activeResponse);
      if (this.worker) this.worker.postMessage({ type: "stopped", responses: [this.activeResponse] });
    }
    if (this.activeResponse && !local) {
      const id = this.send({ type: "response.cancel", response_id: this.activeResponse });
      if (id) {
        this.ownCancels.add(id);
        this.stats.cancelsSent++;
      }
    }
    if (!this.audio.playNode) return;
    this.pendingStop = { reason, clickAt, local };
    this.audio.stopPlayback();
  }

  onStopped(m) {
    const stop = this.pendingStop || { reason: "stop", clickAt: m.silentAt, local: false };
    this.pendingStop = null;
    // stopToSilenceMs: until the worklet renders silence; audible adds outputLatencyMs
    const record = { reason: stop.reason, clickAt: stop.clickAt, silentAt: m.silentAt, stopToSilenceMs: m.silentAt - stop.clickAt, items: m.items };
    if (m.items.length) this.stats.stops.push(record);
    if (this.worker && m.items.length) this.worker.postMessage({ type: "stopped", items: m.items.map((it) => it.item) });
    for (const it of m.items) {
      this.stoppedItems.add(it.item);
      const played = Math.min(it.played, it.received);
      const audioEndMs = Math.floor((played * 1000) / it.rate);
      if (stop.local) continue;
      const ev = { type: "conversation.item.truncate", item_id: it.item, content_index: it.index || 0, audio_end_ms: audioEndMs };
      if (this.send(ev)) this.stats.truncatesSent.push({ item_id: it.item, content_index: it.index || 0, audio_end_ms: audioEndMs, played, received: it.received, rate: it.rate, reason: stop.reason });
    }
    this.outLevel = 0;
    this.syncStatus();
  }

  // ------------------------------------------------------------------ microphone

  /** On or off, in click order: quick clicks never open two streams or leave the wrong state. */
  toggleMic() {
    this.micChain = this.micChain.then(async () => {
      if (this.destroyed) return;
      if (this.audio.micOn) this.stopMic();
      else await this.startMic();
    });
    return this.micChain;
  }

  async startMic() {
    if (this.micUnavailable) return false;
    const why = micSupport();
    if (why) {
      this.setMicUnavailable(why);
      return false;
    }
    try {
      const settings = await this.audio.startMic({
        echoCancellation: this.model.get("echo_cancellation") !== false,
        noiseSuppression: this.model.get("noise_suppression") !== false,
        autoGainControl: this.model.get("auto_gain_control") !== false,
        targetRate: formatRate(this.inputFormat),
        frameMs: Math.max(20, Math.min(100, this.model.get("frame_ms") || 40)),
      });
      this.stats.micSettings = settings;
      this.stats.micStarts++;
      this.stats.sampleRate = this.audio.sampleRate;
      this.setTraits({ mic_available: true, mic_message: "" });
      this.updateGate();
    } catch (e) {
      this.setMicUnavailable(micErrorText(e));
      return false;
    }
    this.syncStatus();
    return true;
  }

  stopMic() {
    this.audio.stopMic();
    this.updateGate();
    this.inLevel = 0;
    this.inMeterFill.style.width = "0%";
    this.inMeter.setAttribute("aria-valuenow", "0");
    this.syncStatus();
  }

  onFrame(m) {
    this.stats.framesCaptured++;
    if (m.type === "frame" && this.worker) {
      // a frame that reached the page before the worklet got the worker's port: pass it on
      this.worker.postMessage({ type: "frame", frame: m }, [m.pcm]);
      return;
    }
    const db = m.rms > 0 ? 20 * Math.log10(m.rms) : -100;
    this.inLevel = Math.max(0, Math.min(1, (db + 60) / 60));
    this.inMeterFill.style.width = `${Math.round(this.inLevel * 100)}%`;
    this.inMeter.setAttribute("aria-valuenow", String(Math.round(this.inLevel * 100)));
    if (m.type === "level") return; // the I/O worker sends the audio
    if (m.samples && !this.live && !m.flushed && (this.model.get("mode") || "hands-free") === "hands-free") {
      this.queue.push(new Int16Array(m.pcm), formatRate(this.inputFormat)); // sent once the session is live
      return;
    }
    if (!m.samples || !this.live || !this.conn) return;
    const ptt = (this.model.get("mode") || "hands-free") === "push-to-talk";
    if (ptt && !this.pttHeld && !m.flushed) return;
    if (ptt && m.flushed && !this.pttFlushing) return;
    const pcm = new Int16Array(m.pcm);
    const ok = this.send({ type: "input_audio_buffer.append", audio: encodeAudio(pcm, this.inputFormat) });
    if (!ok) return;
    const now = Date.now();
    this.stats.appendsSent++;
    const ms = (m.samples * 1000) / formatRate(this.inputFormat);
    this.stats.audioSentMs += ms;
    if (ptt) this.pttSamples += m.samples;
    if (!m.flushed) {
      pushCapped(this.stats.captureLatencyMs, now - m.t0);
      pushCapped(this.stats.captureOverheadMs, now - m.t1);
    }
  }

  /** Send what the microphone kept while the session was not live, in order (no I/O worker). */
  sendQueued() {
    if (this.queue.empty) return;
    const rate = formatRate(this.inputFormat);
    const { chunks, ms, droppedMs } = this.queue.drain(rate);
    let appends = 0;
    for (const pcm of chunks) {
      if (!this.send({ type: "input_audio_buffer.append", audio: encodeAudio(pcm, this.inputFormat) })) break;
      appends++;
      this.stats.appendsSent++;
      this.stats.audioSentMs += (pcm.length * 1000) / rate;
    }
    this.stats.queueSent.push({ ms, droppedMs, appends });
  }

  // ------------------------------------------------------------------ push-to-talk, text, mode

  async pttStart() {
    if (this.pttHeld || !this.conn) return;
    this.pttHeld = true;
    this.pttSamples = 0;
    this.pttBtn.setAttribute("aria-pressed", "true");
    this.pttBtn.classList.add("rtw-active");
    this.bargeIn("push-to-talk");
    this.send({ type: "input_audio_buffer.clear" });
    this.updateGate();
    if (!this.audio.micOn) await this.startMic();
    this.syncStatus();
  }

  async pttEnd() {
    if (!this.pttHeld) return;
    if (this.worker) {
      // the worker sends the frames up to the flushed one, then commit + response.create
      if (this.audio.micOn) {
        const id = ++this.audio.flushId;
        const events = [{ type: "input_audio_buffer.commit" }, { type: "response.create", response: {} }];
        for (const ev of events) ev.event_id = `event_widget_${this.id}_${Date.now().toString(36)}_${++this.stats.eventsSent}`;
        this.worker.postMessage({ type: "flushThen", id, events, minSamples: Math.round(formatRate(this.inputFormat) * 0.1) });
        await this.audio.flushMic(id);
      } else {
        this.worker.postMessage({ type: "gate", open: false });
        this.send({ type: "input_audio_buffer.clear" });
      }
      this.pttHeld = false;
      this.pttBtn.setAttribute("aria-pressed", "false");
      this.pttBtn.classList.remove("rtw-active");
      this.syncStatus();
      return;
    }
    this.pttFlushing = true;
    await this.audio.flushMic();
    this.pttFlushing = false;
    this.pttHeld = false;
    this.pttBtn.setAttribute("aria-pressed", "false");
    this.pttBtn.classList.remove("rtw-active");
    const ms = (this.pttSamples * 1000) / formatRate(this.inputFormat);
    if (ms >= 100) {
      this.send({ type: "input_audio_buffer.commit" });
      this.send({ type: "response.create", response: {} });
    } else {
      this.send({ type: "input_audio_buffer.clear" });
      this.statusEl.textContent = "Hold the button while you speak";
    }
    this.syncStatus();
  }

  sendText() {
    const text = this.textInput.value.trim();
    if (!text) return;
    if (!this.conn) {
      this.showError("Connect first (the Connect button), then send your message.");
      return;
    }
    try {
      this.audio.ensure();
    } catch (e) {}
    this.bargeIn("text");
    this.send({ type: "conversation.item.create", item: { type: "message", role: "user", content: [{ type: "input_text", text }] } });
    this.send({ type: "response.create", response: {} });
    this.textInput.value = "";
  }

  setMode(mode) {
    this.applyMode(mode);
    this.model.set("mode", mode);
    this.model.save_changes();
    this.renderMode();
  }

  applyMode(mode) {
    this.appliedMode = mode;
    const vad = this.model.get("vad") || { type: "server_vad" };
    this.send({ type: "session.update", session: { turn_detection: mode === "push-to-talk" ? null : vad } });
    if (mode === "push-to-talk") this.send({ type: "input_audio_buffer.clear" });
    this.updateGate();
    this.syncStatus();
  }

  // ------------------------------------------------------------------ teardown

  destroy() {
    this.destroyed = true;
    clearInterval(this.levelTimer);
    for (const [name, fn] of this.listeners) this.model.off(name, fn);
    if (this.conn) this.conn.close();
    this.dropWorker();
    this.conn = null;
    this.audio.close();
    const reg = registry();
    reg.views = reg.views.filter((v) => v !== this);
  }
}
