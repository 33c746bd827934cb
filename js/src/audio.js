// The audio graph: one AudioContext at the device's own rate (never a 24 kHz context fed
// by a 48 kHz microphone: Firefox refuses it), the capture worklet (resamples to the
// session rate) and the playback worklet (jitter buffer that counts what it played).
import captureSource from "worklet:./worklets/capture.js";
import playbackSource from "worklet:./worklets/playback.js";
import ioWorkerSource from "worklet:./io-worker.js";

/** The I/O worker (see io-worker.js), or null where workers cannot be made. */
export function makeIoWorker() {
  let blobUrl = null;
  try {
    blobUrl = moduleUrl(ioWorkerSource);
    return new Worker(blobUrl, { name: "realtime-widget-io" });
  } catch (e) {
    return null;
  } finally {
    if (blobUrl) setTimeout(() => URL.revokeObjectURL(blobUrl), 10000);
  }
}

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

export function micErrorText(err) {
  const name = (err && err.name) || "";
  if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError")
    return "Microphone access was denied (by you, the browser or the app hosting this notebook).";
  if (name === "NotFoundError" || name === "DevicesNotFoundError" || name === "OverconstrainedError") return "No microphone was found.";
  if (name === "NotReadableError") return "The microphone is in use by another application or could not be opened.";
  return `The microphone could not be opened (${name || "error"}: ${(err && err.message) || err}).`;
}

export class AudioEngine {
  constructor({ onFrame, onPlayback }) {
    this.onFrame = onFrame; // (frameMessage) => void
    this.onPlayback = onPlayback; // (workletMessage) => void
    this.ctx = null;
    this.playNode = null;
    this.stream = null;
    this.source = null;
    this.capNode = null;
    this.ready = null;
    this.flushWaiters = new Map();
    this.flushId = 0;
    this.prebufferMs = 60;
    this.worker = null; // the I/O worker, wired straight to both worklets
    this.linked = null; // the playback node the worker feeds
  }

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
      const AC = window.AudioContext || window.webkitAudioContext;
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

  setPrebuffer(ms) {
    this.prebufferMs = ms;
    if (this.playNode) this.playNode.port.postMessage({ type: "config", prebufferMs: ms });
  }

  play(item, index, rate, pcm, chunk, recv, first = false) {
    if (!this.playNode) return false;
    this.playNode.port.postMessage({ type: "push", item, index, rate, pcm: pcm.buffer, chunk, recv, first }, [pcm.buffer]);
    return true;
  }

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

  async startMic({ echoCancellation = true, noiseSuppression = true, autoGainControl = true, targetRate = 24000, frameMs = 40 }) {
    await this.ensure();
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation, noiseSuppression, autoGainControl, channelCount: 1 },
      video: false,
    });
    if (this.stream) this.stopMic();
    this.stream = stream;
    this.source = this.ctx.createMediaStreamSource(stream);
    this.capNode = new AudioWorkletNode(this.ctx, "rtw-capture", {
      numberOfInputs: 1,
      numberOfOutputs: 0,
      channelCount: 1,
      channelCountMode: "explicit",
      processorOptions: { targetRate, frameSamples: Math.round((targetRate * frameMs) / 1000) },
    });
    if (this.worker) {
      const ch = new MessageChannel();
      this.capNode.port.postMessage({ type: "sink", port: ch.port1 }, [ch.port1]);
      this.worker.postMessage({ type: "capPort", port: ch.port2 }, [ch.port2]);
    }
    this.capNode.port.onmessage = (e) => {
      const m = e.data;
      if (m.type !== "frame" && m.type !== "level") return;
      this.onFrame(m);
      if (m.flushed && this.flushWaiters.has(m.id)) {
        this.flushWaiters.get(m.id)();
        this.flushWaiters.delete(m.id);
      }
    };
    this.source.connect(this.capNode);
    const track = stream.getAudioTracks()[0];
    return track ? track.getSettings() : {};
  }

  /** Ask the capture worklet for its partial frame; resolves once it was handled. */
  flushMic(id = ++this.flushId) {
    if (!this.capNode) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.flushWaiters.delete(id);
        resolve();
      }, 500);
      this.flushWaiters.set(id, () => {
        clearTimeout(timer);
        resolve();
      });
      this.capNode.port.postMessage({ type: "flush", id });
    });
  }

  stopMic() {
    if (this.capNode) {
      this.capNode.port.postMessage({ type: "stop" });
      this.capNode.port.onmessage = null;
      try {
        this.source.disconnect();
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
