// @ts-check
// Microphone capture worklet: runs at the AudioContext's (device) rate, resamples to the
// session's input rate, and posts PCM16 frames of `frameSamples` samples (20-100 ms) to
// its sink: the I/O worker (a MessagePort it is given) or, without one, the main thread.
// Each frame carries Date.now() at its first and last sample (the worklet has no
// performance.now()), and its level, for the meter and the capture-latency benchmark.
import { Resampler } from "./resampler.js";

/** @typedef {import("../messages.js").CaptureFrame} CaptureFrame */
/** @typedef {{ type: "flush", id: number } | { type: "sink", port: MessagePort } | { type: "stop" }} CaptureCommand */

class CaptureProcessor extends AudioWorkletProcessor {
  /** @param {AudioWorkletNodeOptions} options  processorOptions: {targetRate, frameSamples} */
  constructor(options) {
    super();
    const o = options.processorOptions || {};
    this.targetRate = o.targetRate || 24000;
    this.frameSamples = o.frameSamples || Math.round(this.targetRate * 0.04);
    this.rs = new Resampler(sampleRate, this.targetRate);
    this.frame = new Int16Array(this.frameSamples);
    this.n = 0;
    this.sumSq = 0;
    this.peak = 0;
    this.t0 = 0;
    this.seq = 0;
    this.alive = true;
    /** @type {MessagePort} where frames go: the I/O worker's port, or the page */
    this.sink = this.port;
    this.port.onmessage = (e) => {
      /** @type {CaptureCommand} */
      const m = e.data;
      if (m.type === "flush") this.emit(true, m.id);
      else if (m.type === "sink") this.sink = m.port;
      else if (m.type === "stop") {
        this.alive = false;
        if (this.sink !== this.port) this.sink.close();
      }
    };
  }

  /**
   * @param {boolean} flushed  the last frame of a flush
   * @param {number} [id]  the flush it ends
   */
  emit(flushed, id) {
    const n = this.n;
    const pcm = this.frame.slice(0, n);
    const rms = n ? Math.sqrt(this.sumSq / n) : 0;
    /** @type {CaptureFrame} */
    const frame = { type: "frame", pcm: pcm.buffer, samples: n, rms, peak: this.peak, t0: this.t0 || Date.now(), t1: Date.now(), seq: this.seq++, flushed, id };
    this.sink.postMessage(frame, [pcm.buffer]);
    if (this.sink !== this.port) this.port.postMessage({ type: "level", rms, peak: frame.peak, samples: n, flushed, id });
    this.n = 0;
    this.sumSq = 0;
    this.peak = 0;
    this.t0 = 0;
  }

  /** @param {Float32Array[][]} inputs */
  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return this.alive;
    const out = this.rs.process(channel);
    for (let i = 0; i < out.length; i++) {
      if (this.n === 0) this.t0 = Date.now();
      let s = out[i];
      if (s > 1) s = 1;
      else if (s < -1) s = -1;
      const a = s < 0 ? -s : s;
      if (a > this.peak) this.peak = a;
      this.sumSq += s * s;
      this.frame[this.n++] = s < 0 ? Math.round(s * 32768) : Math.round(s * 32767);
      if (this.n === this.frameSamples) this.emit(false);
    }
    return this.alive;
  }
}

registerProcessor("rtw-capture", CaptureProcessor);
