// @ts-check
// Microphone audio captured while the session is not live yet (the widget starts, the
// local engine loads its models, the socket reattaches): kept in order, bounded, and
// handed over as appends once the session is live, so nothing said then is lost.
// Used by the main thread (before the I/O worker exists) and by the I/O worker.

// Beyond this nothing more is kept (and what is not kept is counted): the start of what
// the user said matters more than the silence that follows while a slow start goes on.
export const QUEUE_MAX_MS = 15000;
const CHUNK_MS = 500; // queued frames leave in appends of up to this length

export class CaptureQueue {
  constructor(maxMs = QUEUE_MAX_MS) {
    this.maxMs = maxMs;
    /** @type {{ pcm: Int16Array, rate: number }[]} */
    this.frames = [];
    this.samplesMs = 0;
    this.droppedMs = 0;
  }

  get ms() {
    return this.samplesMs;
  }

  get empty() {
    return this.frames.length === 0;
  }

  /**
   * @param {Int16Array} pcm
   * @param {number} rate
   */
  push(pcm, rate) {
    if (!pcm.length) return;
    const ms = (pcm.length * 1000) / rate;
    if (this.samplesMs + ms > this.maxMs) {
      this.droppedMs += ms;
      return;
    }
    this.frames.push({ pcm, rate });
    this.samplesMs += ms;
  }

  /** Take everything: the frames at `rate` joined into chunks of at most CHUNK_MS (frames at
   * another rate, from before the session said which format it takes, are dropped and counted).
   * @param {number} rate
   * @returns {{ chunks: Int16Array[], ms: number, droppedMs: number }} */
  drain(rate) {
    /** @type {Int16Array[]} */
    const chunks = [];
    const limit = Math.round((rate * CHUNK_MS) / 1000);
    /** @type {Int16Array[]} */
    let parts = [];
    let n = 0;
    const flush = () => {
      if (!n) return;
      const out = new Int16Array(n);
      let off = 0;
      for (const p of parts) {
        out.set(p, off);
        off += p.length;
      }
      chunks.push(out);
      parts = [];
      n = 0;
    };
    let dropped = 0;
    for (const f of this.frames) {
      if (f.rate !== rate) {
        dropped += (f.pcm.length * 1000) / f.rate;
        continue;
      }
      if (n + f.pcm.length > limit) flush();
      parts.push(f.pcm);
      n += f.pcm.length;
    }
    flush();
    const result = { chunks, ms: this.samplesMs - dropped, droppedMs: this.droppedMs + dropped };
    this.clear();
    return result;
  }

  /** Hand the frames to another queue (the main thread's to the I/O worker's). */
  takeFrames() {
    const frames = this.frames;
    const droppedMs = this.droppedMs;
    this.clear();
    return { frames, droppedMs };
  }

  clear() {
    this.frames = [];
    this.samplesMs = 0;
    this.droppedMs = 0;
  }
}
