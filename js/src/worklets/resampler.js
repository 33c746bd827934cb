// @ts-check
// Streaming band-limited resampler (windowed sinc, Blackman window, polyphase table with
// linear interpolation between phases). Used inside the AudioWorklets: the capture
// worklet resamples the device rate to the session rate (24 kHz, or 8 kHz for G.711),
// the playback worklet the session rate to the device rate. Never a naive decimation:
// the cutoff sits below the lower Nyquist frequency, so 48 kHz -> 24 kHz does not alias.

const PHASES = 128;

export class Resampler {
  /**
   * @param {number} inRate
   * @param {number} outRate
   */
  constructor(inRate, outRate, halfTaps = 16) {
    this.inRate = inRate;
    this.outRate = outRate;
    this.bypass = inRate === outRate;
    this.step = inRate / outRate; // input samples per output sample
    const scale = Math.min(1, outRate / inRate); // cutoff relative to the input Nyquist
    const cutoff = 0.94 * scale;
    this.half = Math.ceil(halfTaps / scale); // kernel half width, in input samples
    const width = 2 * this.half;
    // table[p * width + j]: tap j (input offset j - half + 1) at fractional phase p / PHASES
    this.table = new Float32Array((PHASES + 1) * width);
    for (let p = 0; p <= PHASES; p++) {
      const frac = p / PHASES;
      let sum = 0;
      for (let j = 0; j < width; j++) {
        const x = j - this.half + 1 - frac; // distance from the output position
        const w = x / this.half; // in [-1, 1]
        const win = Math.abs(w) >= 1 ? 0 : 0.42 + 0.5 * Math.cos(Math.PI * w) + 0.08 * Math.cos(2 * Math.PI * w);
        const arg = Math.PI * cutoff * x;
        const sinc = x === 0 ? 1 : Math.sin(arg) / arg;
        const v = sinc * win;
        this.table[p * width + j] = v;
        sum += v;
      }
      for (let j = 0; j < width; j++) this.table[p * width + j] /= sum; // unity gain at DC
    }
    this.width = width;
    // history: input samples not consumed yet, starting with half - 1 zeros of left context
    this.buf = new Float32Array(4096);
    this.len = this.half - 1;
    this.pos = this.half - 1; // position (in buf) of the next output sample
    this.out = new Float32Array(1024);
  }

  /**
   * Resample `input`; returns a view valid until the next call.
   * @param {Float32Array} input
   * @returns {Float32Array}
   */
  process(input) {
    if (this.bypass) return input;
    if (this.len + input.length > this.buf.length) {
      const bigger = new Float32Array(Math.max(this.buf.length * 2, this.len + input.length));
      bigger.set(this.buf.subarray(0, this.len));
      this.buf = bigger;
    }
    this.buf.set(input, this.len);
    this.len += input.length;
    const maxOut = Math.ceil((this.len - this.pos) / this.step) + 2;
    if (this.out.length < maxOut) this.out = new Float32Array(maxOut * 2);
    const { buf, table, width, half, step } = this;
    let n = 0;
    let pos = this.pos;
    while (true) {
      const base = Math.floor(pos);
      if (base + half >= this.len) break; // needs buf[base + half]
      const frac = (pos - base) * PHASES;
      const p = Math.floor(frac);
      const t = frac - p;
      const row0 = p * width;
      const row1 = row0 + width;
      const start = base - half + 1;
      let acc = 0;
      for (let j = 0; j < width; j++) {
        const c = table[row0 + j] + (table[row1 + j] - table[row0 + j]) * t;
        acc += buf[start + j] * c;
      }
      this.out[n++] = acc;
      pos += step;
    }
    // drop the samples no future output needs
    const keepFrom = Math.max(0, Math.floor(pos) - half + 1);
    if (keepFrom > 0) {
      buf.copyWithin(0, keepFrom, this.len);
      this.len -= keepFrom;
      pos -= keepFrom;
    }
    this.pos = pos;
    return this.out.subarray(0, n);
  }

  /** The remaining output once the input has ended (pads with zeros). */
  flush() {
    if (this.bypass) return new Float32Array(0);
    return this.process(new Float32Array(this.half + 1)).slice();
  }
}
