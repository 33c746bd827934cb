// @ts-check
// The connection: which way to the session (the I/O worker's socket, the page's, or the kernel's comm), attaching, reattaching, and sending.
// Methods of WidgetView (view.js), in a module of their own; `this` is the view.
import { makeIoWorker } from "./audio.js";
import { localEngineState } from "./engine-status.js";
import { eventId } from "./event-ids.js";
import { CommConnection, HubConnection, WorkerConnection, sessionSocketUrl } from "./hub.js";
import { pushCapped } from "./view-stats.js";
import { registry } from "./views-registry.js";

/** @typedef {import("./view-types.js").Mixin} Mixin */

export const connectionMethods = /** @satisfies {Mixin} */ ({
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
    } catch (/** @type {any} */ e) {
      this.showError(`Audio playback is unavailable: ${e.message || e}`);
    }
  },

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
  },

  maybeAttach() {
    if (this.conn || this.destroyed || !this.model.get("session_id")) return;
    if (!this.wantAttach && !this.model.get("autoattach")) return;
    const useHub = this.model.get("hub_mode") && this.cfg.found && this.model.get("ws_path");
    this.attach(useHub ? "hub" : "comm");
  },

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
    /** @type {import("./hub.js").OnEvent} */
    const onEvent = (ev, at) => this.onServerEvent(ev, at);
    /** @type {import("./hub.js").OnState} */
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
  },

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
  },

  dropWorker() {
    if (!this.worker) return;
    if (this.conn instanceof WorkerConnection && this.conn.worker === this.worker) this.conn.close();
    this.worker = null;
    this.audio.setWorker(null);
  },

  postFormats() {
    if (this.worker) this.worker.postMessage({ type: "formats", input: this.inputFormat, output: this.outputFormat });
  },

  updateGate() {
    if (this.worker) this.worker.postMessage({ type: "gate", open: this.listening() });
  },

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
  },

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
  },

  send(event) {
    event.event_id = event.event_id || eventId(this.id, ++this.stats.eventsSent);
    if (!this.conn || !this.conn.send(event)) return null;
    if (event.type === "response.create") this.numbers.responseRequested(Date.now());
    return event.event_id;
  },

  onCustom(msg) {
    if (!msg) return;
    if (msg.type === "error") {
      this.connectPending = false;
      this.showError(msg.message);
    }
  },
});
