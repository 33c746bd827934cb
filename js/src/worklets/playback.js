// @ts-check
// Playback worklet: a jitter buffer of the assistant's audio, per item, at the device
// rate. It counts the samples it actually played (in the item's own rate, never more
// than it received), so a barge-in truncates at what the user heard.
//
// Messages in:  {type: "push", item, index, rate, pcm (Int16 buffer), chunk, recv, first}
//               {type: "end", item}   the item's audio is complete (no underrun after it)
//               {type: "stop"}        flush everything now; answered by "stopped"
//               {type: "config", prebufferMs}
//               {type: "port", port}   a MessagePort of the I/O worker, which pushes (and ends)
//                                      items itself, so audio never waits for the main thread
// Messages out: {type: "stats", ...} every ~50 ms while something happens
//               {type: "chunk", chunk, item, recv, start, fresh}  a chunk's first sample was rendered
//                 (fresh: it arrived at an empty buffer)
//               {type: "stopped", items: [{item, index, played, received, rate, ended}], silentAt}
import { Resampler } from "./resampler.js";

/** @typedef {import("../messages.js").PlaybackCommand} PlaybackCommand */
/**
 * @typedef {object} PlaybackItem  one assistant item's audio
 * @property {number} index  its content index
 * @property {number} rate  its own sample rate
 * @property {Resampler} rs  its rate -> the device rate
 * @property {number} received  samples received, at its own rate
 * @property {number} produced  device-rate samples queued
 * @property {number} played  device-rate samples played
 * @property {boolean} ended
 * @property {boolean} stopped
 */
/**
 * @typedef {object} Segment  a queued piece of one item's audio, at the device rate
 * @property {string} item
 * @property {Float32Array} data
 * @property {number} off  samples of it already played
 * @property {number} chunk  the delta it came from (-1: the resampler's tail)
 * @property {number} recv  Date.now() when that delta arrived
 * @property {boolean} fresh  it arrived at an empty buffer
 * @property {boolean} first  the item's first chunk
 */

class PlaybackProcessor extends AudioWorkletProcessor {
  /** @param {AudioWorkletNodeOptions} options  processorOptions: {prebufferMs} */
  constructor(options) {
    super();
    const o = options.processorOptions || {};
    this.prebuffer = Math.round(((o.prebufferMs ?? 60) / 1000) * sampleRate);
    /** @type {Map<string, PlaybackItem>} */
    this.items = new Map();
    /** @type {Segment[]} */
    this.queue = [];
    this.queued = 0; // samples in the queue
    this.playing = false; // false: (pre)buffering
    this.waitingSince = 0; // samples rendered while buffering with something queued
    this.underruns = 0;
    this.starvedSamples = 0;
    this.playedTotal = 0; // device-rate samples of audio played, all items
    this.stopRequested = false;
    this.statsEvery = Math.round(sampleRate * 0.05);
    this.sinceStats = 0;
    this.level = 0;
    this.dirty = true;
    /** @type {string | null} the item whose audio was played last */
    this.current = null;
    this.port.onmessage = (e) => this.onMessage(e.data);
  }

  /** @param {PlaybackCommand} m */
  onMessage(m) {
    if (m.type === "push") {
      let it = this.items.get(m.item);
      if (!it) {
        it = { index: m.index || 0, rate: m.rate, rs: new Resampler(m.rate, sampleRate), received: 0, produced: 0, played: 0, ended: false, stopped: false };
        this.items.set(m.item, it);
      }
      if (it.stopped || it.ended) return;
      const pcm = new Int16Array(m.pcm);
      const f = new Float32Array(pcm.length);
      for (let i = 0; i < pcm.length; i++) f[i] = pcm[i] / 32768;
      it.received += pcm.length;
      const fresh = this.queued === 0;
      const out = it.rs.process(f).slice();
      this.enqueue(m.item, it, out, m.chunk, m.recv, fresh, !!m.first);
    } else if (m.type === "end") {
      const it = this.items.get(m.item);
      if (!it || it.stopped || it.ended) return;
      this.enqueue(m.item, it, it.rs.flush(), -1, 0);
      it.ended = true;
    } else if (m.type === "stop") {
      this.stopRequested = true;
    } else if (m.type === "config") {
      if (m.prebufferMs != null) this.prebuffer = Math.round((m.prebufferMs / 1000) * sampleRate);
    } else if (m.type === "port") {
      m.port.onmessage = (/** @type {MessageEvent<PlaybackCommand>} */ e) => this.onMessage(e.data);
    } else if (m.type === "forget") {
      for (const [id, it] of this.items) if ((it.ended || it.stopped) && !this.queue.some((s) => s.item === id)) this.items.delete(id);
    }
    this.dirty = true;
  }

  /**
   * @param {string} item
   * @param {PlaybackItem} it
   * @param {Float32Array} data  at the device rate
   * @param {number} chunk
   * @param {number} recv
   */
  enqueue(item, it, data, chunk, recv, fresh = false, first = false) {
    if (data.length === 0) return;
    it.produced += data.length;
    this.queue.push({ item, data, off: 0, chunk, recv, fresh, first });
    this.queued += data.length;
  }

  /** @param {PlaybackItem} it */
  playedOf(it) {
    // device-rate samples played -> samples of the item's own rate, never beyond received
    return Math.min(it.received, Math.floor((it.played * it.rate) / sampleRate));
  }

  doStop() {
    const items = [];
    for (const [id, it] of this.items) {
      if (it.stopped) continue;
      const pending = this.queue.some((s) => s.item === id);
      if (pending || !it.ended) {
        items.push({ item: id, index: it.index, played: this.playedOf(it), received: it.received, rate: it.rate, ended: it.ended });
        it.stopped = true;
      }
    }
    this.queue = [];
    this.queued = 0;
    this.playing = false;
    this.current = null;
    this.port.postMessage({ type: "stopped", items, silentAt: Date.now() });
  }

  /**
   * @param {Float32Array[][]} inputs
   * @param {Float32Array[][]} outputs
   */
  process(inputs, outputs) {
    const out = outputs[0][0];
    const frames = out.length;
    if (this.stopRequested) {
      this.stopRequested = false;
      this.doStop();
    }
    let i = 0;
    let sumSq = 0;
    if (!this.playing && this.queued > 0) {
      // start when enough is buffered, when the head item is complete, or after waiting as long as the prebuffer
      const head = this.items.get(this.queue[0].item);
      if (this.queued >= this.prebuffer || (head && head.ended) || this.waitingSince >= this.prebuffer) {
        this.playing = true;
        this.waitingSince = 0;
      } else {
        this.waitingSince += frames;
      }
    }
    if (this.playing) {
      while (i < frames && this.queue.length) {
        const seg = this.queue[0];
        // always there: items are made before their audio is queued, and "forget" keeps items with queued audio
        const it = /** @type {PlaybackItem} */ (this.items.get(seg.item));
        if (seg.off === 0 && seg.chunk >= 0) {
          this.port.postMessage({ type: "chunk", chunk: seg.chunk, item: seg.item, recv: seg.recv, start: Date.now(), offsetMs: (1000 * i) / sampleRate, fresh: seg.fresh, first: seg.first });
        }
        const n = Math.min(frames - i, seg.data.length - seg.off);
        for (let k = 0; k < n; k++) {
          const s = seg.data[seg.off + k];
          out[i + k] = s;
          sumSq += s * s;
        }
        seg.off += n;
        i += n;
        it.played += n;
        this.playedTotal += n;
        this.queued -= n;
        this.current = seg.item;
        if (seg.off >= seg.data.length) this.queue.shift();
      }
      if (i < frames) {
        // ran dry: an underrun if the item being played is not complete yet
        const it = this.current && this.items.get(this.current);
        if (it && !it.ended && !it.stopped) {
          this.underruns++;
          this.starvedSamples += frames - i;
        }
        this.playing = false;
        this.dirty = true;
      }
    }
    for (; i < frames; i++) out[i] = 0;
    for (let c = 1; c < outputs[0].length; c++) outputs[0][c].set(out);
    const rms = Math.sqrt(sumSq / frames);
    this.level = Math.max(rms, this.level * 0.9);
    this.sinceStats += frames;
    if (this.sinceStats >= this.statsEvery && (this.dirty || this.playing || this.level > 1e-4)) {
      this.sinceStats = 0;
      this.dirty = false;
      /** @type {Record<string, object>} */
      const items = {};
      for (const [id, it] of this.items) items[id] = { played: this.playedOf(it), received: it.received, rate: it.rate, ended: it.ended, stopped: it.stopped, index: it.index };
      this.port.postMessage({
        type: "stats",
        items,
        playedTotal: this.playedTotal,
        queuedMs: (this.queued / sampleRate) * 1000,
        playing: this.playing,
        underruns: this.underruns,
        starvedMs: (this.starvedSamples / sampleRate) * 1000,
        level: this.level,
        rate: sampleRate,
      });
    }
    return true;
  }
}

registerProcessor("rtw-playback", PlaybackProcessor);
