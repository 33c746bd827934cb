// @ts-check
// The audio graph: one AudioContext at the device's own rate (never a 24 kHz context fed
// by a 48 kHz microphone: Firefox refuses it), the capture worklet (resamples to the
// session rate) and the playback worklet (jitter buffer that counts what it played).
import captureSource from "worklet:./worklets/capture.js";
import playbackSource from "worklet:./worklets/playback.js";
import ioWorkerSource from "worklet:./io-worker.js";

/** @typedef {import("./messages.js").CaptureFrame} CaptureFrame */
/** @typedef {import("./messages.js").LevelMessage} LevelMessage */
/** @typedef {import("./messages.js").PlaybackReport} PlaybackReport */

/** The I/O worker (see io-worker.js), or null where workers cannot be made. */
export function makeIoWorker() {
  /** @type {string | null} */
  let blobUrl = null;
  try {
    blobUrl = moduleUrl(ioWorkerSource);
    return new Worker(blobUrl, { name: "realtime-widget-io" });
  } catch (e) {
    return null;
  } finally {
    const made = blobUrl;
    if (made) setTimeout(() => URL.revokeObjectURL(made), 10000);
  }
}

/** @param {string} source  a bundled module's code */
function moduleUrl(source) {
  return URL.createObjectURL(new Blob([source], { type: "application/javascript" }));
}

export function micSupport() {
  if (typeof window !== "undefined" && window.isSecureContext === false)
    return "The microphone needs a secure page (https or localhost); this page is not one.";
  if (!navigator.mediaDevices || typeof navigator.mediaDevices.getUserMedia !== "function")
    return "This environment does not give the page a microphone (getUserMedia is not available here).";
  return null;
}

/** @param {any} err  whatever getUserMedia rejected with (a DOMException, usually) */
export function micErrorText(err) {
  const name = (err && err.name) || "";
  if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError")
    return "Microphone access was denied (by you, the browser or the app hosting this notebook).";
  if (name === "NotFoundError" || name === "DevicesNotFoundError" || name === "OverconstrainedError") return "No microphone was found.";
  if (name === "NotReadableError") return "The microphone is in use by another application or could not be opened.";
  return `The microphone could not be opened (${name || "error"}: ${(err && err.message) || err}).`;
}

export class AudioEngine {
  /** @param {{ onFrame: (m: CaptureFrame | LevelMessage) => void, onPlayback: (m: PlaybackReport) => void }} handlers */
  constructor({ onFrame, onPlayback }) {
    this.onFrame = onFrame;
    this.onPlayback = onPlayback;
    /** @type {AudioContext | null} */
    this.ctx = null;
    /** @type {AudioWorkletNode | null} */
    this.playNode = null;
    /** @type {MediaStream | null} */
    this.stream = null;
    /** @type {MediaStreamAudioSourceNode | null} */
    this.source = null;
    /** @type {AudioWorkletNode | null} */
    this.capNode = null;
    /** @type {Promise<void> | null} the worklets loaded and the playback node made */
    this.ready = null;
    /** @type {Map<number, () => void>} */
    this.flushWaiters = new Map();
    this.flushId = 0;
    this.prebufferMs = 60;
    /** @type {Worker | null} the I/O worker, wired straight to both worklets */
    this.worker = null;
    /** @type {AudioWorkletNode | null} the playback node the worker feeds */
    this.linked = null;
  }

  /** @param {Worker | null} worker */
  setWorker(worker) {
    this.worker = worker;
    this.linked = null;
    this.linkPlayback();
  }

  linkPlayback() {
    if (!this.worker || !this.playNode || this.linked === this.playNode) return;
    const ch = new MessageChannel();
    this.playNode.port.postMessage({ type: "port", port: ch.port1 }, [ch.port1]);
    this.worker.postMessage({ type: "playPort", port: ch.port2 }, [ch.port2]);
    this.linked = this.playNode;
  }

  get sampleRate() {
    return this.ctx ? this.ctx.sampleRate : 0;
  }

  /** Create (or resume) the context and the playback node. Call from a user gesture. */
  ensure() {
    if (!this.ctx) {
      // Safari before 14.1 named it webkitAudioContext
      const AC = window.AudioContext || /** @type {any} */ (window).webkitAudioContext;
      if (!AC) throw new Error("Web Audio is not available in this browser");
      this.ctx = new AC({ latencyHint: "interactive" });
      if (!this.ctx.audioWorklet) throw new Error("AudioWorklet is not available (it needs a secure page)");
      const ctx = this.ctx;
      this.ready = (async () => {
        const cap = moduleUrl(captureSource);
        const play = moduleUrl(playbackSource);
        try {
          await ctx.audioWorklet.addModule(cap);
          await ctx.audioWorklet.addModule(play);
        } finally {
          URL.revokeObjectURL(cap);
          URL.revokeObjectURL(play);
        }
        this.playNode = new AudioWorkletNode(ctx, "rtw-playback", {
          numberOfInputs: 0,
          numberOfOutputs: 1,
          outputChannelCount: [1],
          processorOptions: { prebufferMs: this.prebufferMs },
        });
        this.playNode.port.onmessage = (e) => this.onPlayback(e.data);
        this.playNode.connect(ctx.destination);
        this.linkPlayback();
      })();
    }
    if (this.ctx.state === "suspended") this.ctx.resume().catch(() => {});
    return this.ready;
  }

  /** @param {number} ms */
  setPrebuffer(ms) {
    this.prebufferMs = ms;
    if (this.playNode) this.playNode.port.postMessage({ type: "config", prebufferMs: ms });
  }

  /**
   * One delta of an item's audio to the playback worklet (its buffer is transferred).
   * @param {string} item
   * @param {number} index
   * @param {number} rate
   * @param {Int16Array} pcm
   * @param {number} chunk
   * @param {number} recv
   */
  play(item, index, rate, pcm, chunk, recv, first = false) {
    if (!this.playNode) return false;
    this.playNode.port.postMessage({ type: "push", item, index, rate, pcm: pcm.buffer, chunk, recv, first }, [pcm.buffer]);
    return true;
  }

  /** @param {string} item */
  endItem(item) {
    if (this.playNode) this.playNode.port.postMessage({ type: "end", item });
  }

  stopPlayback() {
    if (this.playNode) this.playNode.port.postMessage({ type: "stop" });
  }

  forgetItems() {
    if (this.playNode) this.playNode.port.postMessage({ type: "forget" });
  }

  get micOn() {
    return !!this.stream;
  }

  /** @param {{ echoCancellation?: boolean, noiseSuppression?: boolean, autoGainControl?: boolean, targetRate?: number, frameMs?: number }} options */
  async startMic({ echoCancellation = true, noiseSuppression = true, autoGainControl = true, targetRate = 24000, frameMs = 40 }) {
    await this.ensure();
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation, noiseSuppression, autoGainControl, channelCount: 1 },
      video: false,
    });
    if (this.stream) this.stopMic();
    this.stream = stream;
    // null only when close() ran while getUserMedia waited: a TypeError here, as before the checker
    const ctx = this.ctx;
    if (!ctx) throw new TypeError("the audio context was closed");
    const source = ctx.createMediaStreamSource(stream);
    this.source = source;
    const capNode = new AudioWorkletNode(ctx, "rtw-capture", {
      numberOfInputs: 1,
      numberOfOutputs: 0,
      channelCount: 1,
      channelCountMode: "explicit",
      processorOptions: { targetRate, frameSamples: Math.round((targetRate * frameMs) / 1000) },
    });
    this.capNode = capNode;
    if (this.worker) {
      const ch = new MessageChannel();
      capNode.port.postMessage({ type: "sink", port: ch.port1 }, [ch.port1]);
      this.worker.postMessage({ type: "capPort", port: ch.port2 }, [ch.port2]);
    }
    capNode.port.onmessage = (/** @type {MessageEvent<CaptureFrame | LevelMessage>} */ e) => {
      const m = e.data;
      if (m.type !== "frame" && m.type !== "level") return;
      this.onFrame(m);
      const waiter = m.flushed && m.id != null ? this.flushWaiters.get(m.id) : undefined;
      if (waiter && m.id != null) {
        waiter();
        this.flushWaiters.delete(m.id);
      }
    };
    source.connect(capNode);
    const track = stream.getAudioTracks()[0];
    return track ? track.getSettings() : {};
  }

  /** Ask the capture worklet for its partial frame; resolves once it was handled. */
  flushMic(id = ++this.flushId) {
    const capNode = this.capNode;
    if (!capNode) return Promise.resolve();
    return new Promise((/** @type {(value?: void) => void} */ resolve) => {
      const timer = setTimeout(() => {
        this.flushWaiters.delete(id);
        resolve();
      }, 500);
      this.flushWaiters.set(id, () => {
        clearTimeout(timer);
        resolve();
      });
      capNode.port.postMessage({ type: "flush", id });
    });
  }

  stopMic() {
    if (this.capNode) {
      this.capNode.port.postMessage({ type: "stop" });
      this.capNode.port.onmessage = null;
      try {
        if (this.source) this.source.disconnect();
      } catch (e) {}
    }
    if (this.stream) for (const t of this.stream.getTracks()) t.stop();
    for (const resolve of this.flushWaiters.values()) resolve();
    this.flushWaiters.clear();
    this.stream = null;
    this.source = null;
    this.capNode = null;
  }

  outputLatencyMs() {
    if (!this.ctx) return 0;
    return 1000 * ((this.ctx.outputLatency || 0) + (this.ctx.baseLatency || 0));
  }

  async close() {
    this.stopMic();
    if (this.playNode) {
      this.playNode.port.onmessage = null;
      try {
        this.playNode.disconnect();
      } catch (e) {}
      this.playNode = null;
    }
    if (this.ctx) {
      const ctx = this.ctx;
      this.ctx = null;
      try {
        await ctx.close();
      } catch (e) {}
    }
  }
}
