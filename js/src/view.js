// @ts-check
// One rendered view of a RealtimeWidget. The class holds the view's state, reads the
// server's events and tears down; its other jobs are methods in modules of their own:
// view-render.js (the UI), view-connection.js (the way to the session, reattach, send),
// view-transcript.js, view-turns.js (playback, barge-in, push-to-talk, text, mode),
// view-mic.js (the microphone), view-stats.js (the measured numbers).
import { AudioEngine, micSupport } from "./audio.js";
import { normalizeFormat } from "./codec.js";
import { CaptureQueue } from "./capture-queue.js";
import { deltaSamples } from "./heard-text.js";
import { pageConfig } from "./hub.js";
import { LiveNumbers } from "./stats-line.js";
import { connectionMethods } from "./view-connection.js";
import { micMethods } from "./view-mic.js";
import { renderMethods } from "./view-render.js";
import { newStats } from "./view-stats.js";
import { transcriptMethods } from "./view-transcript.js";
import { turnsMethods } from "./view-turns.js";
import { registry } from "./views-registry.js";

/** @typedef {import("./hub.js").AnyModel} AnyModel */
/** @typedef {import("./messages.js").ServerEvent} ServerEvent */
/** @typedef {import("./view-types.js").Json} Json */
/** @typedef {import("./view-types.js").View} View */

const MAX_LOG = 3000;
let eventCounter = 0;

export class WidgetView {
  /**
   * @param {AnyModel} model
   * @param {HTMLElement} el
   */
  constructor(model, el) {
    const view = /** @type {View} */ (/** @type {unknown} */ (this)); // with the mixins' methods and fields (view-types.d.ts)
    this.model = model;
    this.el = el;
    this.id = ++eventCounter;
    this.cfg = pageConfig();
    /** @type {import("./view-types.js").Connection | null} */
    this.conn = null;
    this.live = false;
    /** @type {Json} */
    this.session = {};
    this.inputFormat = normalizeFormat(model.get("input_format") || "pcm16"); // the session's, once it says
    this.outputFormat = "pcm16";
    /** @type {Map<string, import("./view-types.js").TranscriptEntry>} by item_id */
    this.items = new Map();
    /** @type {Map<string, import("./view-types.js").CallCard>} by call_id */
    this.calls = new Map();
    /** @type {string | null} */
    this.activeResponse = null;
    this.ownCancels = new Set();
    this.stoppedItems = new Set();
    this.stoppedResponses = new Set();
    /** @type {Worker | null} */
    this.worker = null;
    this.audioChunk = 0;
    this.firstChunkOfItem = new Set();
    this.pttHeld = false;
    this.pttSamples = 0;
    this.userSpeaking = false;
    this.inLevel = 0;
    this.outLevel = 0;
    /** @type {import("./view-types.js").PendingStop | null} */
    this.pendingStop = null;
    /** @type {Json[]} */
    this.log = [];
    this.stats = newStats();
    this.queue = new CaptureQueue(); // microphone audio from before the session was live (no I/O worker yet)
    this.queueInfo = { ms: 0, droppedMs: 0 }; // the I/O worker's queue
    this.numbers = new LiveNumbers();
    this.itemSamples = new Map(); // item_id -> samples of its audio received (played or not)
    this.lastSeqSeen = 0;
    this.connectPending = false; // Connect clicked, the session not live yet
    /** @type {{ state: string, seconds?: number } | null} */
    this.engine = null; // the local speech engine's state while connecting
    /** @type {string | undefined} the connection's state ("open", "reattaching", "ended", ...) */
    this.connState = undefined;
    this.micChain = Promise.resolve(); // microphone on/off, one after the other
    this.destroyed = false;
    this.audio = new AudioEngine({ onFrame: (m) => view.onFrame(m), onPlayback: (m) => view.onPlayback(m) });
    this.audio.setPrebuffer(model.get("prebuffer_ms") ?? 60);
    view.build();
    /** @type {[string, (...args: any[]) => void][]} */
    this.listeners = [];
    /** @param {string} name @param {(...args: any[]) => void} fn */
    const on = (name, fn) => {
      model.on(name, fn);
      this.listeners.push([name, fn]);
    };
    on("change:session_id", () => {
      if (this.connectPending && !this.stats.connect.sessionIdAt) this.stats.connect.sessionIdAt = Date.now(); // the kernel made it
      view.maybeAttach();
    });
    on("change:starting", () => view.renderState());
    on("change:last_error", () => {
      if (this.model.get("last_error")) this.connectPending = false;
      view.renderState();
    });
    on("change:show_stats", () => view.renderStats());
    on("change:prices", () => view.renderStats());
    this.appliedMode = model.get("mode") || "hands-free"; // the session was created in this mode
    on("change:mode", () => {
      // set from Python (w.mode = ...) or by another view: apply it to the session
      const mode = this.model.get("mode") || "hands-free";
      if (mode !== this.appliedMode) view.applyMode(mode);
      view.renderMode();
    });
    on("msg:custom", (/** @type {Json} */ msg) => view.onCustom(msg));
    this.levelTimer = setInterval(() => view.syncLevels(), 250);
    const why = micSupport();
    if (why) view.setMicUnavailable(why);
    registry().views.push(this);
    view.renderMode();
    view.renderState();
    if (model.get("session_id") && model.get("autoattach")) view.maybeAttach();
  }

  /**
   * @this {View}
   * @param {ServerEvent & Json} ev
   * @param {number} [arrivedAt]
   */
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
      case "response.created": {
        /** @type {string} */
        const id = (ev.response || {}).id || "response";
        this.activeResponse = id;
        this.numbers.responseCreated(id, this.live);
        this.syncStatus();
        break;
      }
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

  /** @this {View} @param {Json} s */
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

  /** @this {View} @param {Json} err */
  onError(err) {
    if (err.event_id && this.ownCancels.has(err.event_id) && err.code === "response_cancel_not_active") {
      this.ownCancels.delete(err.event_id); // our barge-in raced the server's own cancel
      return;
    }
    const message = err.message || err.code || "error";
    this.setTraits({ last_error: message });
    this.showError(message);
  }

  /** @this {View} */
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

Object.assign(WidgetView.prototype, renderMethods, connectionMethods, transcriptMethods, turnsMethods, micMethods);
