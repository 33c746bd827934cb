// @ts-check
// The microphone: on and off, levels, and its audio to the session when the page sends it (no I/O worker).
// Methods of WidgetView (view.js), in a module of their own; `this` is the view.
import { micErrorText, micSupport } from "./audio.js";
import { formatRate } from "./codec.js";
import { sendKeptAudio, sendMicAudio } from "./mic-sender.js";
import { pushCapped } from "./view-stats.js";

/** @typedef {import("./view-types.js").Mixin} Mixin */

export const micMethods = /** @satisfies {Mixin} */ ({
  /** On or off, in click order: quick clicks never open two streams or leave the wrong state. */
  toggleMic() {
    this.micChain = this.micChain.then(async () => {
      if (this.destroyed) return;
      if (this.audio.micOn) this.stopMic();
      else await this.startMic();
    });
    return this.micChain;
  },

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
  },

  stopMic() {
    this.audio.stopMic();
    this.updateGate();
    this.inLevel = 0;
    this.inMeterFill.style.width = "0%";
    this.inMeter.setAttribute("aria-valuenow", "0");
    this.syncStatus();
  },

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
    if (!sendMicAudio((ev) => this.send(ev), new Int16Array(m.pcm), this.inputFormat, this.stats)) return;
    const now = Date.now();
    if (ptt) this.pttSamples += m.samples;
    if (!m.flushed) {
      pushCapped(this.stats.captureLatencyMs, now - m.t0);
      pushCapped(this.stats.captureOverheadMs, now - m.t1);
    }
  },

  /** Send what the microphone kept while the session was not live, in order (no I/O worker). */
  sendQueued() {
    if (this.queue.empty) return;
    this.stats.queueSent.push(sendKeptAudio((ev) => this.send(ev), this.queue, this.inputFormat, this.stats));
  },
});
