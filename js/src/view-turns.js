// @ts-check
// Turn handling: playback, barge-in (stop, cancel, truncate to what was heard), push-to-talk, typed messages and the turn-taking mode.
// Methods of WidgetView (view.js), in a module of their own; `this` is the view.
import { decodeAudio, formatRate } from "./codec.js";
import { eventId } from "./event-ids.js";
import { pushCapped } from "./view-stats.js";

/** @typedef {import("./view-types.js").Mixin} Mixin */

export const turnsMethods = /** @satisfies {Mixin} */ ({
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
  },

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
  },

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
  },

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
  },

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
  },

  async pttEnd() {
    if (!this.pttHeld) return;
    if (this.worker) {
      // the worker sends the frames up to the flushed one, then commit + response.create
      if (this.audio.micOn) {
        const id = ++this.audio.flushId;
        /** @type {import("./messages.js").ClientEvent[]} */
        const events = [{ type: "input_audio_buffer.commit" }, { type: "response.create", response: {} }];
        for (const ev of events) ev.event_id = eventId(this.id, ++this.stats.eventsSent);
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
  },

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
  },

  setMode(mode) {
    this.applyMode(mode);
    this.model.set("mode", mode);
    this.model.save_changes();
    this.renderMode();
  },

  applyMode(mode) {
    this.appliedMode = mode;
    const vad = this.model.get("vad") || { type: "server_vad" };
    this.send({ type: "session.update", session: { turn_detection: mode === "push-to-talk" ? null : vad } });
    if (mode === "push-to-talk") this.send({ type: "input_audio_buffer.clear" });
    this.updateGate();
    this.syncStatus();
  },
});
