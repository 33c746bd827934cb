// realtime-widget front end. Built from js/ by js/build.mjs: do not edit.

// worklet:src/worklets/capture.js
var capture_default = '(() => {\n  // src/worklets/resampler.js\n  var PHASES = 128;\n  var Resampler = class {\n    /**\n     * @param {number} inRate\n     * @param {number} outRate\n     */\n    constructor(inRate, outRate, halfTaps = 16) {\n      this.inRate = inRate;\n      this.outRate = outRate;\n      this.bypass = inRate === outRate;\n      this.step = inRate / outRate;\n      const scale = Math.min(1, outRate / inRate);\n      const cutoff = 0.94 * scale;\n      this.half = Math.ceil(halfTaps / scale);\n      const width = 2 * this.half;\n      this.table = new Float32Array((PHASES + 1) * width);\n      for (let p = 0; p <= PHASES; p++) {\n        const frac = p / PHASES;\n        let sum = 0;\n        for (let j = 0; j < width; j++) {\n          const x = j - this.half + 1 - frac;\n          const w = x / this.half;\n          const win = Math.abs(w) >= 1 ? 0 : 0.42 + 0.5 * Math.cos(Math.PI * w) + 0.08 * Math.cos(2 * Math.PI * w);\n          const arg = Math.PI * cutoff * x;\n          const sinc = x === 0 ? 1 : Math.sin(arg) / arg;\n          const v = sinc * win;\n          this.table[p * width + j] = v;\n          sum += v;\n        }\n        for (let j = 0; j < width; j++) this.table[p * width + j] /= sum;\n      }\n      this.width = width;\n      this.buf = new Float32Array(4096);\n      this.len = this.half - 1;\n      this.pos = this.half - 1;\n      this.out = new Float32Array(1024);\n    }\n    /**\n     * Resample `input`; returns a view valid until the next call.\n     * @param {Float32Array} input\n     * @returns {Float32Array}\n     */\n    process(input) {\n      if (this.bypass) return input;\n      if (this.len + input.length > this.buf.length) {\n        const bigger = new Float32Array(Math.max(this.buf.length * 2, this.len + input.length));\n        bigger.set(this.buf.subarray(0, this.len));\n        this.buf = bigger;\n      }\n      this.buf.set(input, this.len);\n      this.len += input.length;\n      const maxOut = Math.ceil((this.len - this.pos) / this.step) + 2;\n      if (this.out.length < maxOut) this.out = new Float32Array(maxOut * 2);\n      const { buf, table, width, half, step } = this;\n      let n = 0;\n      let pos = this.pos;\n      while (true) {\n        const base = Math.floor(pos);\n        if (base + half >= this.len) break;\n        const frac = (pos - base) * PHASES;\n        const p = Math.floor(frac);\n        const t = frac - p;\n        const row0 = p * width;\n        const row1 = row0 + width;\n        const start = base - half + 1;\n        let acc = 0;\n        for (let j = 0; j < width; j++) {\n          const c = table[row0 + j] + (table[row1 + j] - table[row0 + j]) * t;\n          acc += buf[start + j] * c;\n        }\n        this.out[n++] = acc;\n        pos += step;\n      }\n      const keepFrom = Math.max(0, Math.floor(pos) - half + 1);\n      if (keepFrom > 0) {\n        buf.copyWithin(0, keepFrom, this.len);\n        this.len -= keepFrom;\n        pos -= keepFrom;\n      }\n      this.pos = pos;\n      return this.out.subarray(0, n);\n    }\n    /** The remaining output once the input has ended (pads with zeros). */\n    flush() {\n      if (this.bypass) return new Float32Array(0);\n      return this.process(new Float32Array(this.half + 1)).slice();\n    }\n  };\n\n  // src/worklets/capture.js\n  var CaptureProcessor = class extends AudioWorkletProcessor {\n    /** @param {AudioWorkletNodeOptions} options  processorOptions: {targetRate, frameSamples} */\n    constructor(options) {\n      super();\n      const o = options.processorOptions || {};\n      this.targetRate = o.targetRate || 24e3;\n      this.frameSamples = o.frameSamples || Math.round(this.targetRate * 0.04);\n      this.rs = new Resampler(sampleRate, this.targetRate);\n      this.frame = new Int16Array(this.frameSamples);\n      this.n = 0;\n      this.sumSq = 0;\n      this.peak = 0;\n      this.t0 = 0;\n      this.seq = 0;\n      this.alive = true;\n      this.sink = this.port;\n      this.port.onmessage = (e) => {\n        const m = e.data;\n        if (m.type === "flush") this.emit(true, m.id);\n        else if (m.type === "sink") this.sink = m.port;\n        else if (m.type === "stop") {\n          this.alive = false;\n          if (this.sink !== this.port) this.sink.close();\n        }\n      };\n    }\n    /**\n     * @param {boolean} flushed  the last frame of a flush\n     * @param {number} [id]  the flush it ends\n     */\n    emit(flushed, id) {\n      const n = this.n;\n      const pcm = this.frame.slice(0, n);\n      const rms = n ? Math.sqrt(this.sumSq / n) : 0;\n      const frame = { type: "frame", pcm: pcm.buffer, samples: n, rms, peak: this.peak, t0: this.t0 || Date.now(), t1: Date.now(), seq: this.seq++, flushed, id };\n      this.sink.postMessage(frame, [pcm.buffer]);\n      if (this.sink !== this.port) this.port.postMessage({ type: "level", rms, peak: frame.peak, samples: n, flushed, id });\n      this.n = 0;\n      this.sumSq = 0;\n      this.peak = 0;\n      this.t0 = 0;\n    }\n    /** @param {Float32Array[][]} inputs */\n    process(inputs) {\n      const channel = inputs[0] && inputs[0][0];\n      if (!channel) return this.alive;\n      const out = this.rs.process(channel);\n      for (let i = 0; i < out.length; i++) {\n        if (this.n === 0) this.t0 = Date.now();\n        let s = out[i];\n        if (s > 1) s = 1;\n        else if (s < -1) s = -1;\n        const a = s < 0 ? -s : s;\n        if (a > this.peak) this.peak = a;\n        this.sumSq += s * s;\n        this.frame[this.n++] = s < 0 ? Math.round(s * 32768) : Math.round(s * 32767);\n        if (this.n === this.frameSamples) this.emit(false);\n      }\n      return this.alive;\n    }\n  };\n  registerProcessor("rtw-capture", CaptureProcessor);\n})();\n';

// worklet:src/worklets/playback.js
var playback_default = '(() => {\n  // src/worklets/resampler.js\n  var PHASES = 128;\n  var Resampler = class {\n    /**\n     * @param {number} inRate\n     * @param {number} outRate\n     */\n    constructor(inRate, outRate, halfTaps = 16) {\n      this.inRate = inRate;\n      this.outRate = outRate;\n      this.bypass = inRate === outRate;\n      this.step = inRate / outRate;\n      const scale = Math.min(1, outRate / inRate);\n      const cutoff = 0.94 * scale;\n      this.half = Math.ceil(halfTaps / scale);\n      const width = 2 * this.half;\n      this.table = new Float32Array((PHASES + 1) * width);\n      for (let p = 0; p <= PHASES; p++) {\n        const frac = p / PHASES;\n        let sum = 0;\n        for (let j = 0; j < width; j++) {\n          const x = j - this.half + 1 - frac;\n          const w = x / this.half;\n          const win = Math.abs(w) >= 1 ? 0 : 0.42 + 0.5 * Math.cos(Math.PI * w) + 0.08 * Math.cos(2 * Math.PI * w);\n          const arg = Math.PI * cutoff * x;\n          const sinc = x === 0 ? 1 : Math.sin(arg) / arg;\n          const v = sinc * win;\n          this.table[p * width + j] = v;\n          sum += v;\n        }\n        for (let j = 0; j < width; j++) this.table[p * width + j] /= sum;\n      }\n      this.width = width;\n      this.buf = new Float32Array(4096);\n      this.len = this.half - 1;\n      this.pos = this.half - 1;\n      this.out = new Float32Array(1024);\n    }\n    /**\n     * Resample `input`; returns a view valid until the next call.\n     * @param {Float32Array} input\n     * @returns {Float32Array}\n     */\n    process(input) {\n      if (this.bypass) return input;\n      if (this.len + input.length > this.buf.length) {\n        const bigger = new Float32Array(Math.max(this.buf.length * 2, this.len + input.length));\n        bigger.set(this.buf.subarray(0, this.len));\n        this.buf = bigger;\n      }\n      this.buf.set(input, this.len);\n      this.len += input.length;\n      const maxOut = Math.ceil((this.len - this.pos) / this.step) + 2;\n      if (this.out.length < maxOut) this.out = new Float32Array(maxOut * 2);\n      const { buf, table, width, half, step } = this;\n      let n = 0;\n      let pos = this.pos;\n      while (true) {\n        const base = Math.floor(pos);\n        if (base + half >= this.len) break;\n        const frac = (pos - base) * PHASES;\n        const p = Math.floor(frac);\n        const t = frac - p;\n        const row0 = p * width;\n        const row1 = row0 + width;\n        const start = base - half + 1;\n        let acc = 0;\n        for (let j = 0; j < width; j++) {\n          const c = table[row0 + j] + (table[row1 + j] - table[row0 + j]) * t;\n          acc += buf[start + j] * c;\n        }\n        this.out[n++] = acc;\n        pos += step;\n      }\n      const keepFrom = Math.max(0, Math.floor(pos) - half + 1);\n      if (keepFrom > 0) {\n        buf.copyWithin(0, keepFrom, this.len);\n        this.len -= keepFrom;\n        pos -= keepFrom;\n      }\n      this.pos = pos;\n      return this.out.subarray(0, n);\n    }\n    /** The remaining output once the input has ended (pads with zeros). */\n    flush() {\n      if (this.bypass) return new Float32Array(0);\n      return this.process(new Float32Array(this.half + 1)).slice();\n    }\n  };\n\n  // src/worklets/playback.js\n  var PlaybackProcessor = class extends AudioWorkletProcessor {\n    /** @param {AudioWorkletNodeOptions} options  processorOptions: {prebufferMs} */\n    constructor(options) {\n      super();\n      const o = options.processorOptions || {};\n      this.prebuffer = Math.round((o.prebufferMs ?? 60) / 1e3 * sampleRate);\n      this.items = /* @__PURE__ */ new Map();\n      this.queue = [];\n      this.queued = 0;\n      this.playing = false;\n      this.waitingSince = 0;\n      this.underruns = 0;\n      this.starvedSamples = 0;\n      this.playedTotal = 0;\n      this.stopRequested = false;\n      this.statsEvery = Math.round(sampleRate * 0.05);\n      this.sinceStats = 0;\n      this.level = 0;\n      this.dirty = true;\n      this.current = null;\n      this.port.onmessage = (e) => this.onMessage(e.data);\n    }\n    /** @param {PlaybackCommand} m */\n    onMessage(m) {\n      if (m.type === "push") {\n        let it = this.items.get(m.item);\n        if (!it) {\n          it = { index: m.index || 0, rate: m.rate, rs: new Resampler(m.rate, sampleRate), received: 0, produced: 0, played: 0, ended: false, stopped: false };\n          this.items.set(m.item, it);\n        }\n        if (it.stopped || it.ended) return;\n        const pcm = new Int16Array(m.pcm);\n        const f = new Float32Array(pcm.length);\n        for (let i = 0; i < pcm.length; i++) f[i] = pcm[i] / 32768;\n        it.received += pcm.length;\n        const fresh = this.queued === 0;\n        const out = it.rs.process(f).slice();\n        this.enqueue(m.item, it, out, m.chunk, m.recv, fresh, !!m.first);\n      } else if (m.type === "end") {\n        const it = this.items.get(m.item);\n        if (!it || it.stopped || it.ended) return;\n        this.enqueue(m.item, it, it.rs.flush(), -1, 0);\n        it.ended = true;\n      } else if (m.type === "stop") {\n        this.stopRequested = true;\n      } else if (m.type === "config") {\n        if (m.prebufferMs != null) this.prebuffer = Math.round(m.prebufferMs / 1e3 * sampleRate);\n      } else if (m.type === "port") {\n        m.port.onmessage = (e) => this.onMessage(e.data);\n      } else if (m.type === "forget") {\n        for (const [id, it] of this.items) if ((it.ended || it.stopped) && !this.queue.some((s) => s.item === id)) this.items.delete(id);\n      }\n      this.dirty = true;\n    }\n    /**\n     * @param {string} item\n     * @param {PlaybackItem} it\n     * @param {Float32Array} data  at the device rate\n     * @param {number} chunk\n     * @param {number} recv\n     */\n    enqueue(item, it, data, chunk, recv, fresh = false, first = false) {\n      if (data.length === 0) return;\n      it.produced += data.length;\n      this.queue.push({ item, data, off: 0, chunk, recv, fresh, first });\n      this.queued += data.length;\n    }\n    /** @param {PlaybackItem} it */\n    playedOf(it) {\n      return Math.min(it.received, Math.floor(it.played * it.rate / sampleRate));\n    }\n    doStop() {\n      const items = [];\n      for (const [id, it] of this.items) {\n        if (it.stopped) continue;\n        const pending = this.queue.some((s) => s.item === id);\n        if (pending || !it.ended) {\n          items.push({ item: id, index: it.index, played: this.playedOf(it), received: it.received, rate: it.rate, ended: it.ended });\n          it.stopped = true;\n        }\n      }\n      this.queue = [];\n      this.queued = 0;\n      this.playing = false;\n      this.current = null;\n      this.port.postMessage({ type: "stopped", items, silentAt: Date.now() });\n    }\n    /**\n     * @param {Float32Array[][]} inputs\n     * @param {Float32Array[][]} outputs\n     */\n    process(inputs, outputs) {\n      const out = outputs[0][0];\n      const frames = out.length;\n      if (this.stopRequested) {\n        this.stopRequested = false;\n        this.doStop();\n      }\n      let i = 0;\n      let sumSq = 0;\n      if (!this.playing && this.queued > 0) {\n        const head = this.items.get(this.queue[0].item);\n        if (this.queued >= this.prebuffer || head && head.ended || this.waitingSince >= this.prebuffer) {\n          this.playing = true;\n          this.waitingSince = 0;\n        } else {\n          this.waitingSince += frames;\n        }\n      }\n      if (this.playing) {\n        while (i < frames && this.queue.length) {\n          const seg = this.queue[0];\n          const it = (\n            /** @type {PlaybackItem} */\n            this.items.get(seg.item)\n          );\n          if (seg.off === 0 && seg.chunk >= 0) {\n            this.port.postMessage({ type: "chunk", chunk: seg.chunk, item: seg.item, recv: seg.recv, start: Date.now(), offsetMs: 1e3 * i / sampleRate, fresh: seg.fresh, first: seg.first });\n          }\n          const n = Math.min(frames - i, seg.data.length - seg.off);\n          for (let k = 0; k < n; k++) {\n            const s = seg.data[seg.off + k];\n            out[i + k] = s;\n            sumSq += s * s;\n          }\n          seg.off += n;\n          i += n;\n          it.played += n;\n          this.playedTotal += n;\n          this.queued -= n;\n          this.current = seg.item;\n          if (seg.off >= seg.data.length) this.queue.shift();\n        }\n        if (i < frames) {\n          const it = this.current && this.items.get(this.current);\n          if (it && !it.ended && !it.stopped) {\n            this.underruns++;\n            this.starvedSamples += frames - i;\n          }\n          this.playing = false;\n          this.dirty = true;\n        }\n      }\n      for (; i < frames; i++) out[i] = 0;\n      for (let c = 1; c < outputs[0].length; c++) outputs[0][c].set(out);\n      const rms = Math.sqrt(sumSq / frames);\n      this.level = Math.max(rms, this.level * 0.9);\n      this.sinceStats += frames;\n      if (this.sinceStats >= this.statsEvery && (this.dirty || this.playing || this.level > 1e-4)) {\n        this.sinceStats = 0;\n        this.dirty = false;\n        const items = {};\n        for (const [id, it] of this.items) items[id] = { played: this.playedOf(it), received: it.received, rate: it.rate, ended: it.ended, stopped: it.stopped, index: it.index };\n        this.port.postMessage({\n          type: "stats",\n          items,\n          playedTotal: this.playedTotal,\n          queuedMs: this.queued / sampleRate * 1e3,\n          playing: this.playing,\n          underruns: this.underruns,\n          starvedMs: this.starvedSamples / sampleRate * 1e3,\n          level: this.level,\n          rate: sampleRate\n        });\n      }\n      return true;\n    }\n  };\n  registerProcessor("rtw-playback", PlaybackProcessor);\n})();\n';

// worklet:src/io-worker.js
var io_worker_default = '(() => {\n  // src/capture-queue.js\n  var QUEUE_MAX_MS = 15e3;\n  var CHUNK_MS = 500;\n  var CaptureQueue = class {\n    constructor(maxMs = QUEUE_MAX_MS) {\n      this.maxMs = maxMs;\n      this.frames = [];\n      this.samplesMs = 0;\n      this.droppedMs = 0;\n    }\n    get ms() {\n      return this.samplesMs;\n    }\n    get empty() {\n      return this.frames.length === 0;\n    }\n    /**\n     * @param {Int16Array} pcm\n     * @param {number} rate\n     */\n    push(pcm, rate) {\n      if (!pcm.length) return;\n      const ms = pcm.length * 1e3 / rate;\n      if (this.samplesMs + ms > this.maxMs) {\n        this.droppedMs += ms;\n        return;\n      }\n      this.frames.push({ pcm, rate });\n      this.samplesMs += ms;\n    }\n    /** Take everything: the frames at `rate` joined into chunks of at most CHUNK_MS (frames at\n     * another rate, from before the session said which format it takes, are dropped and counted).\n     * @param {number} rate\n     * @returns {{ chunks: Int16Array[], ms: number, droppedMs: number }} */\n    drain(rate) {\n      const chunks = [];\n      const limit = Math.round(rate * CHUNK_MS / 1e3);\n      let parts = [];\n      let n = 0;\n      const flush = () => {\n        if (!n) return;\n        const out = new Int16Array(n);\n        let off = 0;\n        for (const p of parts) {\n          out.set(p, off);\n          off += p.length;\n        }\n        chunks.push(out);\n        parts = [];\n        n = 0;\n      };\n      let dropped = 0;\n      for (const f of this.frames) {\n        if (f.rate !== rate) {\n          dropped += f.pcm.length * 1e3 / f.rate;\n          continue;\n        }\n        if (n + f.pcm.length > limit) flush();\n        parts.push(f.pcm);\n        n += f.pcm.length;\n      }\n      flush();\n      const result = { chunks, ms: this.samplesMs - dropped, droppedMs: this.droppedMs + dropped };\n      this.clear();\n      return result;\n    }\n    /** Hand the frames to another queue (the main thread\'s to the I/O worker\'s). */\n    takeFrames() {\n      const frames = this.frames;\n      const droppedMs = this.droppedMs;\n      this.clear();\n      return { frames, droppedMs };\n    }\n    clear() {\n      this.frames = [];\n      this.samplesMs = 0;\n      this.droppedMs = 0;\n    }\n  };\n\n  // src/codec.js\n  function bytesToBase64(bytes) {\n    let s = "";\n    const CH = 32768;\n    for (let i = 0; i < bytes.length; i += CH) s += String.fromCharCode.apply(\n      null,\n      /** @type {any} */\n      bytes.subarray(i, i + CH)\n    );\n    return btoa(s);\n  }\n  function base64ToBytes(b64) {\n    const s = atob(b64);\n    const out = new Uint8Array(s.length);\n    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);\n    return out;\n  }\n  function pcm16ToBytes(pcm) {\n    return new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength);\n  }\n  function bytesToPcm16(bytes) {\n    const n = bytes.length >> 1;\n    if (bytes.byteOffset % 2 === 0) return new Int16Array(bytes.buffer, bytes.byteOffset, n).slice();\n    return new Int16Array(bytes.slice(0, 2 * n).buffer);\n  }\n  var SEG_UEND = [63, 127, 255, 511, 1023, 2047, 4095, 8191];\n  var SEG_AEND = [31, 63, 127, 255, 511, 1023, 2047, 4095];\n  function segment(v, table) {\n    for (let i = 0; i < 8; i++) if (v <= table[i]) return i;\n    return 8;\n  }\n  function ulawEncodeSample(sample) {\n    let v = sample >> 2;\n    let mask = 255;\n    if (v < 0) {\n      v = -v;\n      mask = 127;\n    }\n    if (v > 8159) v = 8159;\n    v += 132 >> 2;\n    const seg = segment(v, SEG_UEND);\n    if (seg >= 8) return 127 ^ mask;\n    return (seg << 4 | v >> seg + 1 & 15) ^ mask;\n  }\n  function alawEncodeSample(sample) {\n    let v = sample >> 3;\n    let mask = 213;\n    if (v < 0) {\n      mask = 85;\n      v = -v - 1;\n    }\n    const seg = segment(v, SEG_AEND);\n    if (seg >= 8) return 127 ^ mask;\n    let a = seg << 4;\n    a |= seg < 2 ? v >> 1 & 15 : v >> seg & 15;\n    return a ^ mask;\n  }\n  function ulawDecodeSample(u) {\n    u = ~u & 255;\n    const sign = u & 128;\n    const exp = u >> 4 & 7;\n    const mant = u & 15;\n    let s = ((mant << 3) + 132 << exp) - 132;\n    return sign ? -s : s;\n  }\n  function alawDecodeSample(a) {\n    a ^= 85;\n    const sign = a & 128;\n    const exp = a >> 4 & 7;\n    let s = (a & 15) << 4;\n    if (exp === 0) s += 8;\n    else s = s + 264 << exp - 1;\n    return sign ? s : -s;\n  }\n  function encodeAudio(pcm, format) {\n    if (format === "g711_ulaw" || format === "g711_alaw") {\n      const enc = format === "g711_ulaw" ? ulawEncodeSample : alawEncodeSample;\n      const out = new Uint8Array(pcm.length);\n      for (let i = 0; i < pcm.length; i++) out[i] = enc(pcm[i]);\n      return bytesToBase64(out);\n    }\n    return bytesToBase64(pcm16ToBytes(pcm));\n  }\n  function decodeAudio(b64, format) {\n    const bytes = base64ToBytes(b64);\n    if (format === "g711_ulaw" || format === "g711_alaw") {\n      const dec = format === "g711_ulaw" ? ulawDecodeSample : alawDecodeSample;\n      const out = new Int16Array(bytes.length);\n      for (let i = 0; i < bytes.length; i++) out[i] = dec(bytes[i]);\n      return out;\n    }\n    return bytesToPcm16(bytes);\n  }\n  function formatRate(format) {\n    return format === "g711_ulaw" || format === "g711_alaw" ? 8e3 : 24e3;\n  }\n  function normalizeFormat(f) {\n    if (!f) return "pcm16";\n    if (typeof f === "object") f = f.type === "audio/pcmu" ? "g711_ulaw" : f.type === "audio/pcma" ? "g711_alaw" : "pcm16";\n    return String(f).replace("-", "_");\n  }\n\n  // src/event-ids.js\n  function eventId(scope, n) {\n    return `event_widget_${scope}_${Date.now().toString(36)}_${n}`;\n  }\n\n  // src/heard-text.js\n  function deltaSamples(b64, format) {\n    if (!b64) return 0;\n    const len = b64.length;\n    const pad = b64.endsWith("==") ? 2 : b64.endsWith("=") ? 1 : 0;\n    const bytes = Math.floor(len * 3 / 4) - pad;\n    return format === "g711_ulaw" || format === "g711_alaw" ? bytes : bytes >> 1;\n  }\n\n  // src/mic-sender.js\n  function sendMicAudio(send2, pcm, format, counts) {\n    if (!send2({ type: "input_audio_buffer.append", audio: encodeAudio(pcm, format) })) return false;\n    counts.appendsSent++;\n    counts.audioSentMs += pcm.length * 1e3 / formatRate(format);\n    return true;\n  }\n  function sendKeptAudio(send2, queue2, format, counts) {\n    const { chunks, ms, droppedMs } = queue2.drain(formatRate(format));\n    let appends = 0;\n    for (const pcm of chunks) {\n      if (!sendMicAudio(send2, pcm, format, counts)) break;\n      appends++;\n    }\n    return { ms, droppedMs, appends };\n  }\n\n  // src/io-worker.js\n  var url = null;\n  var ws = null;\n  var lastSeq = 0;\n  var closing = false;\n  var everOpened = false;\n  var retries = 0;\n  var timer = void 0;\n  var live = false;\n  var capPort = null;\n  var playPort = null;\n  var inFmt = "pcm16";\n  var outFmt = "pcm16";\n  var gate = false;\n  var pending = null;\n  var gateSamples = 0;\n  var eventSeq = 0;\n  var chunk = 0;\n  var firstSeen = /* @__PURE__ */ new Set();\n  var stoppedItems = /* @__PURE__ */ new Set();\n  var stoppedResponses = /* @__PURE__ */ new Set();\n  var outbox = [];\n  var stats = fresh();\n  var queue = new CaptureQueue();\n  function fresh() {\n    return { appendsSent: 0, audioSentMs: 0, captureLatencyMs: [], captureOverheadMs: [], audioDeltasReceived: 0, audioReceivedSamples: 0 };\n  }\n  function state(s, e) {\n    self.postMessage({ type: "state", state: s, code: e && e.code, reason: e && e.reason });\n  }\n  function open() {\n    if (url === null) return;\n    closing = false;\n    const sep = url.includes("?") ? "&" : "?";\n    const sock = new WebSocket(`${url}${sep}after=${lastSeq}`);\n    ws = sock;\n    live = false;\n    state(everOpened ? "reattaching" : "connecting");\n    sock.onopen = () => {\n      everOpened = true;\n      retries = 0;\n      state("open");\n    };\n    sock.onmessage = (m) => onServer(m.data, Date.now());\n    sock.onclose = (e) => {\n      if (sock !== ws) return;\n      ws = null;\n      live = false;\n      if (closing) return state("closed", e);\n      if (e.code === 1e3 && (e.reason || "").startsWith("session ")) return state("ended", e);\n      if (!everOpened) return state("failed", e);\n      if (retries++ >= 10) return state("lost", e);\n      state("reattaching", e);\n      timer = setTimeout(open, Math.min(250 * 2 ** retries, 8e3));\n    };\n  }\n  function send(event) {\n    if (!ws || ws.readyState !== WebSocket.OPEN) return false;\n    if (!event.event_id) event.event_id = eventId("io", ++eventSeq);\n    ws.send(JSON.stringify(event));\n    return true;\n  }\n  function onServer(data, at) {\n    let ev;\n    try {\n      ev = JSON.parse(data);\n    } catch (e) {\n      return;\n    }\n    if (typeof ev.x_seq === "number") {\n      if (ev.x_seq <= lastSeq) return;\n      lastSeq = ev.x_seq;\n    }\n    if (ev.type === "session.created" || ev.type === "session.updated") {\n      const sess = ev.session || {};\n      if (sess.input_audio_format) inFmt = normalizeFormat(sess.input_audio_format);\n      if (sess.output_audio_format) outFmt = normalizeFormat(sess.output_audio_format);\n    }\n    if (ev.type === "x_hub.ready") {\n      live = true;\n      sendQueued();\n    }\n    if (ev.type === "response.audio.delta") {\n      const out = { type: ev.type, item_id: ev.item_id, response_id: ev.response_id, content_index: ev.content_index, x_seq: ev.x_seq, samples: deltaSamples(ev.delta, outFmt) };\n      if (live && ev.delta && playPort && !stoppedItems.has(ev.item_id) && !stoppedResponses.has(ev.response_id)) {\n        const pcm = decodeAudio(ev.delta, outFmt);\n        stats.audioDeltasReceived++;\n        stats.audioReceivedSamples += pcm.length;\n        out.chunk = ++chunk;\n        if (!firstSeen.has(ev.item_id)) {\n          firstSeen.add(ev.item_id);\n          out.first = true;\n        }\n        playPort.postMessage({ type: "push", item: ev.item_id, index: ev.content_index || 0, rate: formatRate(outFmt), pcm: pcm.buffer, chunk: out.chunk, recv: at, first: !!out.first }, [pcm.buffer]);\n      }\n      ev = out;\n    } else if (ev.type === "response.audio.done" && live && playPort) {\n      playPort.postMessage({ type: "end", item: ev.item_id });\n    }\n    outbox.push([ev, at]);\n    if (outbox.length === 1) queueMicrotask(flushOutbox);\n  }\n  function flushOutbox() {\n    const list = outbox;\n    outbox = [];\n    if (list.length) self.postMessage({ type: "events", list });\n  }\n  function sendQueued() {\n    if (queue.empty) return;\n    self.postMessage({ type: "queueSent", ...sendKeptAudio(send, queue, inFmt, stats) });\n  }\n  function onFrame(e) {\n    const m = e.data;\n    if (!m || m.type !== "frame") return;\n    const mine = pending && m.flushed && m.id === pending.id;\n    if (m.samples && gate && !live && !mine) {\n      queue.push(new Int16Array(m.pcm), formatRate(inFmt));\n      self.postMessage({ type: "queue", ms: queue.ms, droppedMs: queue.droppedMs });\n      return;\n    }\n    if (m.samples && (gate || mine) && live) {\n      if (sendMicAudio(send, new Int16Array(m.pcm), inFmt, stats)) {\n        const now = Date.now();\n        gateSamples += m.samples;\n        if (!m.flushed) {\n          stats.captureLatencyMs.push(now - m.t0);\n          stats.captureOverheadMs.push(now - m.t1);\n        }\n      }\n    }\n    if (mine && pending) {\n      const p = pending;\n      pending = null;\n      gate = false;\n      const ok = gateSamples >= p.minSamples;\n      if (ok) for (const ev of p.events) send(ev);\n      else send({ type: "input_audio_buffer.clear" });\n      self.postMessage({ type: "flushed", id: p.id, sent: ok, samples: gateSamples });\n    }\n  }\n  setInterval(() => {\n    if (stats.appendsSent || stats.audioDeltasReceived) {\n      self.postMessage({ type: "stats", ...stats });\n      stats = fresh();\n    }\n  }, 100);\n  self.onmessage = (e) => {\n    const m = e.data;\n    switch (m.type) {\n      case "open":\n        url = m.url;\n        open();\n        break;\n      case "send":\n        if (!send(m.event)) self.postMessage({ type: "unsent", event_id: m.event.event_id });\n        break;\n      case "frame":\n        onFrame({ data: m.frame });\n        break;\n      case "queued":\n        for (const f of m.frames || []) queue.push(f.pcm, f.rate);\n        queue.droppedMs += m.droppedMs || 0;\n        if (live) sendQueued();\n        break;\n      case "capPort":\n        if (capPort) capPort.close();\n        capPort = m.port;\n        capPort.onmessage = onFrame;\n        break;\n      case "playPort":\n        playPort = m.port;\n        break;\n      case "formats":\n        inFmt = m.input || inFmt;\n        outFmt = m.output || outFmt;\n        break;\n      case "gate":\n        gate = !!m.open;\n        if (gate) gateSamples = 0;\n        break;\n      case "flushThen":\n        pending = { id: m.id, events: m.events || [], minSamples: m.minSamples || 0 };\n        break;\n      case "stopped":\n        for (const id of m.items || []) stoppedItems.add(id);\n        for (const id of m.responses || []) stoppedResponses.add(id);\n        break;\n      case "close":\n        closing = true;\n        clearTimeout(timer);\n        if (ws) ws.close(1e3, "widget closed");\n        ws = null;\n        if (capPort) capPort.close();\n        if (playPort) playPort.close();\n        self.close();\n        break;\n      default:\n        break;\n    }\n  };\n})();\n';

// src/audio.js
function makeIoWorker() {
  let blobUrl = null;
  try {
    blobUrl = moduleUrl(io_worker_default);
    return new Worker(blobUrl, { name: "realtime-widget-io" });
  } catch (e) {
    return null;
  } finally {
    const made = blobUrl;
    if (made) setTimeout(() => URL.revokeObjectURL(made), 1e4);
  }
}
function moduleUrl(source) {
  return URL.createObjectURL(new Blob([source], { type: "application/javascript" }));
}
function micSupport() {
  if (typeof window !== "undefined" && window.isSecureContext === false)
    return "The microphone needs a secure page (https or localhost); this page is not one.";
  if (!navigator.mediaDevices || typeof navigator.mediaDevices.getUserMedia !== "function")
    return "This environment does not give the page a microphone (getUserMedia is not available here).";
  return null;
}
function micErrorText(err) {
  const name = err && err.name || "";
  if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError")
    return "Microphone access was denied (by you, the browser or the app hosting this notebook).";
  if (name === "NotFoundError" || name === "DevicesNotFoundError" || name === "OverconstrainedError") return "No microphone was found.";
  if (name === "NotReadableError") return "The microphone is in use by another application or could not be opened.";
  return `The microphone could not be opened (${name || "error"}: ${err && err.message || err}).`;
}
var AudioEngine = class {
  /** @param {{ onFrame: (m: CaptureFrame | LevelMessage) => void, onPlayback: (m: PlaybackReport) => void }} handlers */
  constructor({ onFrame, onPlayback }) {
    this.onFrame = onFrame;
    this.onPlayback = onPlayback;
    this.ctx = null;
    this.playNode = null;
    this.stream = null;
    this.source = null;
    this.capNode = null;
    this.ready = null;
    this.flushWaiters = /* @__PURE__ */ new Map();
    this.flushId = 0;
    this.prebufferMs = 60;
    this.worker = null;
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
      const AC = window.AudioContext || /** @type {any} */
      window.webkitAudioContext;
      if (!AC) throw new Error("Web Audio is not available in this browser");
      this.ctx = new AC({ latencyHint: "interactive" });
      if (!this.ctx.audioWorklet) throw new Error("AudioWorklet is not available (it needs a secure page)");
      const ctx = this.ctx;
      this.ready = (async () => {
        const cap = moduleUrl(capture_default);
        const play = moduleUrl(playback_default);
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
          processorOptions: { prebufferMs: this.prebufferMs }
        });
        this.playNode.port.onmessage = (e) => this.onPlayback(e.data);
        this.playNode.connect(ctx.destination);
        this.linkPlayback();
      })();
    }
    if (this.ctx.state === "suspended") this.ctx.resume().catch(() => {
    });
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
  async startMic({ echoCancellation = true, noiseSuppression = true, autoGainControl = true, targetRate = 24e3, frameMs = 40 }) {
    await this.ensure();
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation, noiseSuppression, autoGainControl, channelCount: 1 },
      video: false
    });
    if (this.stream) this.stopMic();
    this.stream = stream;
    const ctx = this.ctx;
    if (!ctx) throw new TypeError("the audio context was closed");
    const source = ctx.createMediaStreamSource(stream);
    this.source = source;
    const capNode = new AudioWorkletNode(ctx, "rtw-capture", {
      numberOfInputs: 1,
      numberOfOutputs: 0,
      channelCount: 1,
      channelCountMode: "explicit",
      processorOptions: { targetRate, frameSamples: Math.round(targetRate * frameMs / 1e3) }
    });
    this.capNode = capNode;
    if (this.worker) {
      const ch = new MessageChannel();
      capNode.port.postMessage({ type: "sink", port: ch.port1 }, [ch.port1]);
      this.worker.postMessage({ type: "capPort", port: ch.port2 }, [ch.port2]);
    }
    capNode.port.onmessage = (e) => {
      const m = e.data;
      if (m.type !== "frame" && m.type !== "level") return;
      this.onFrame(m);
      const waiter = m.flushed && m.id != null ? this.flushWaiters.get(m.id) : void 0;
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
    return new Promise((resolve) => {
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
      } catch (e) {
      }
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
    return 1e3 * ((this.ctx.outputLatency || 0) + (this.ctx.baseLatency || 0));
  }
  async close() {
    this.stopMic();
    if (this.playNode) {
      this.playNode.port.onmessage = null;
      try {
        this.playNode.disconnect();
      } catch (e) {
      }
      this.playNode = null;
    }
    if (this.ctx) {
      const ctx = this.ctx;
      this.ctx = null;
      try {
        await ctx.close();
      } catch (e) {
      }
    }
  }
};

// src/codec.js
function bytesToBase64(bytes) {
  let s = "";
  const CH = 32768;
  for (let i = 0; i < bytes.length; i += CH) s += String.fromCharCode.apply(
    null,
    /** @type {any} */
    bytes.subarray(i, i + CH)
  );
  return btoa(s);
}
function base64ToBytes(b64) {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
function pcm16ToBytes(pcm) {
  return new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength);
}
function bytesToPcm16(bytes) {
  const n = bytes.length >> 1;
  if (bytes.byteOffset % 2 === 0) return new Int16Array(bytes.buffer, bytes.byteOffset, n).slice();
  return new Int16Array(bytes.slice(0, 2 * n).buffer);
}
var SEG_UEND = [63, 127, 255, 511, 1023, 2047, 4095, 8191];
var SEG_AEND = [31, 63, 127, 255, 511, 1023, 2047, 4095];
function segment(v, table) {
  for (let i = 0; i < 8; i++) if (v <= table[i]) return i;
  return 8;
}
function ulawEncodeSample(sample) {
  let v = sample >> 2;
  let mask = 255;
  if (v < 0) {
    v = -v;
    mask = 127;
  }
  if (v > 8159) v = 8159;
  v += 132 >> 2;
  const seg = segment(v, SEG_UEND);
  if (seg >= 8) return 127 ^ mask;
  return (seg << 4 | v >> seg + 1 & 15) ^ mask;
}
function alawEncodeSample(sample) {
  let v = sample >> 3;
  let mask = 213;
  if (v < 0) {
    mask = 85;
    v = -v - 1;
  }
  const seg = segment(v, SEG_AEND);
  if (seg >= 8) return 127 ^ mask;
  let a = seg << 4;
  a |= seg < 2 ? v >> 1 & 15 : v >> seg & 15;
  return a ^ mask;
}
function ulawDecodeSample(u) {
  u = ~u & 255;
  const sign = u & 128;
  const exp = u >> 4 & 7;
  const mant = u & 15;
  let s = ((mant << 3) + 132 << exp) - 132;
  return sign ? -s : s;
}
function alawDecodeSample(a) {
  a ^= 85;
  const sign = a & 128;
  const exp = a >> 4 & 7;
  let s = (a & 15) << 4;
  if (exp === 0) s += 8;
  else s = s + 264 << exp - 1;
  return sign ? s : -s;
}
function encodeAudio(pcm, format) {
  if (format === "g711_ulaw" || format === "g711_alaw") {
    const enc = format === "g711_ulaw" ? ulawEncodeSample : alawEncodeSample;
    const out = new Uint8Array(pcm.length);
    for (let i = 0; i < pcm.length; i++) out[i] = enc(pcm[i]);
    return bytesToBase64(out);
  }
  return bytesToBase64(pcm16ToBytes(pcm));
}
function decodeAudio(b64, format) {
  const bytes = base64ToBytes(b64);
  if (format === "g711_ulaw" || format === "g711_alaw") {
    const dec = format === "g711_ulaw" ? ulawDecodeSample : alawDecodeSample;
    const out = new Int16Array(bytes.length);
    for (let i = 0; i < bytes.length; i++) out[i] = dec(bytes[i]);
    return out;
  }
  return bytesToPcm16(bytes);
}
function formatRate(format) {
  return format === "g711_ulaw" || format === "g711_alaw" ? 8e3 : 24e3;
}
function normalizeFormat(f) {
  if (!f) return "pcm16";
  if (typeof f === "object") f = f.type === "audio/pcmu" ? "g711_ulaw" : f.type === "audio/pcma" ? "g711_alaw" : "pcm16";
  return String(f).replace("-", "_");
}

// src/capture-queue.js
var QUEUE_MAX_MS = 15e3;
var CHUNK_MS = 500;
var CaptureQueue = class {
  constructor(maxMs = QUEUE_MAX_MS) {
    this.maxMs = maxMs;
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
    const ms = pcm.length * 1e3 / rate;
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
    const chunks = [];
    const limit = Math.round(rate * CHUNK_MS / 1e3);
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
        dropped += f.pcm.length * 1e3 / f.rate;
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
};

// src/heard-text.js
function deltaSamples(b64, format) {
  if (!b64) return 0;
  const len = b64.length;
  const pad = b64.endsWith("==") ? 2 : b64.endsWith("=") ? 1 : 0;
  const bytes = Math.floor(len * 3 / 4) - pad;
  return format === "g711_ulaw" || format === "g711_alaw" ? bytes : bytes >> 1;
}
function cutTranscript(text, fraction) {
  if (fraction >= 1) return text;
  if (fraction <= 0 || !text) return "";
  const chars = Array.from(text);
  const keep = Math.floor(chars.length * fraction);
  let head = chars.slice(0, keep).join("");
  if (keep < chars.length && !/\s/.test(chars[keep])) head = head.replace(/\S*$/, "");
  return head.replace(/\s+$/, "");
}

// src/hub.js
function pageConfig(doc = document, loc = location) {
  let cfg = {};
  const el = doc.getElementById("jupyter-config-data");
  if (el) {
    try {
      cfg = JSON.parse(el.textContent || "{}");
    } catch (e) {
      cfg = {};
    }
  }
  const data = doc.body && doc.body.dataset || {};
  let baseUrl = cfg.baseUrl || data.baseUrl || null;
  const found = baseUrl != null;
  baseUrl = baseUrl || "/";
  if (!baseUrl.endsWith("/")) baseUrl += "/";
  const token = cfg.token || "";
  let wsUrl = cfg.wsUrl || "";
  if (!wsUrl) wsUrl = (loc.protocol === "https:" ? "wss://" : "ws://") + loc.host + baseUrl;
  if (!wsUrl.endsWith("/")) wsUrl += "/";
  return { found, baseUrl, token, wsUrl };
}
function sessionSocketUrl(cfg, wsPath, after) {
  const q = new URLSearchParams({ source: "widget", x_events: "all" });
  if (after != null) q.set("after", String(after));
  if (cfg.token) q.set("token", cfg.token);
  return cfg.wsUrl + wsPath.replace(/^\//, "") + "?" + q.toString();
}
var HubConnection = class {
  /** @param {{ url: (after: number) => string, onEvent: OnEvent, onState: OnState }} options */
  constructor({ url, onEvent, onState }) {
    this.makeUrl = url;
    this.onEvent = onEvent;
    this.onState = onState;
    this.ws = null;
    this.lastSeq = 0;
    this.closing = false;
    this.everOpened = false;
    this.retries = 0;
    this.timer = void 0;
  }
  open() {
    this.closing = false;
    const ws = new WebSocket(this.makeUrl(this.lastSeq));
    this.ws = ws;
    this.onState(this.everOpened ? "reattaching" : "connecting");
    ws.onopen = () => {
      this.everOpened = true;
      this.retries = 0;
      this.onState("open");
    };
    ws.onmessage = (m) => {
      let ev;
      try {
        ev = JSON.parse(m.data);
      } catch (e) {
        return;
      }
      if (typeof ev.x_seq === "number") {
        if (ev.x_seq <= this.lastSeq) return;
        this.lastSeq = ev.x_seq;
      }
      this.onEvent(ev);
    };
    ws.onclose = (e) => {
      if (ws !== this.ws) return;
      this.ws = null;
      if (this.closing) return this.onState("closed", e);
      if (e.code === 1e3 && (e.reason || "").startsWith("session ")) return this.onState("ended", e);
      if (!this.everOpened) return this.onState("failed", e);
      if (this.retries++ >= 10) return this.onState("lost", e);
      this.onState("reattaching", e);
      this.timer = setTimeout(() => this.open(), Math.min(250 * 2 ** this.retries, 8e3));
    };
  }
  get isOpen() {
    return !!this.ws && this.ws.readyState === WebSocket.OPEN;
  }
  /** @param {ClientEvent} event */
  send(event) {
    if (!this.ws || !this.isOpen) return false;
    this.ws.send(JSON.stringify(event));
    return true;
  }
  close() {
    this.closing = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1e3, "widget closed");
    this.ws = null;
  }
};
var WorkerConnection = class {
  /** @param {{ worker: Worker, url: string, onEvent: OnEvent, onState: OnState, onMessage: (m: WorkerReport) => void }} options */
  constructor({ worker, url, onEvent, onState, onMessage }) {
    this.worker = worker;
    this.url = url;
    this.onEvent = onEvent;
    this.onState = onState;
    this.open_ = false;
    this.worker.onmessage = (e) => {
      const m = e.data;
      if (m.type === "events") for (const [ev, at] of m.list) this.onEvent(ev, at);
      else if (m.type === "state") {
        this.open_ = m.state === "open";
        this.onState(m.state, { code: m.code, reason: m.reason });
      } else onMessage(m);
    };
  }
  open() {
    this.worker.postMessage({ type: "open", url: this.url });
  }
  get isOpen() {
    return this.open_;
  }
  /** @param {ClientEvent} event */
  send(event) {
    if (!this.open_) return false;
    this.worker.postMessage({ type: "send", event });
    return true;
  }
  /** @param {WorkerCommand} message */
  post(message) {
    this.worker.postMessage(message);
  }
  close() {
    this.open_ = false;
    this.worker.postMessage({ type: "close" });
  }
};
var CommConnection = class {
  /** @param {{ model: AnyModel, onEvent: OnEvent, onState: OnState }} options */
  constructor({ model, onEvent, onState }) {
    this.model = model;
    this.onEvent = onEvent;
    this.onState = onState;
    this.lastSeq = 0;
    this.open_ = false;
    this.handler = (msg) => {
      if (!msg || msg.type !== "relay") return;
      for (const ev of msg.events || []) {
        if (typeof ev.x_seq === "number") {
          if (ev.x_seq <= this.lastSeq) continue;
          this.lastSeq = ev.x_seq;
        }
        this.onEvent(ev);
      }
    };
  }
  open() {
    this.model.on("msg:custom", this.handler);
    this.open_ = true;
    this.onState("open");
    this.model.send({ type: "relay_attach", after: this.lastSeq });
  }
  get isOpen() {
    return this.open_;
  }
  /** @param {ClientEvent} event */
  send(event) {
    if (!this.open_) return false;
    this.model.send({ type: "client_event", event });
    return true;
  }
  close() {
    if (!this.open_) return;
    this.open_ = false;
    this.model.off("msg:custom", this.handler);
    this.model.send({ type: "relay_detach" });
    this.onState("closed");
  }
};

// src/stats-line.js
var PER = 1e6;
function num(v) {
  return typeof v === "number" && isFinite(v) ? v : 0;
}
function usageKinds(u) {
  const ind = u && u.input_token_details || {};
  const outd = u && u.output_token_details || {};
  const cdet = ind.cached_tokens_details || null;
  const cached = num(ind.cached_tokens);
  const inText = num(ind.text_tokens);
  const inAudio = num(ind.audio_tokens);
  let cText;
  let cAudio;
  if (cdet && Object.keys(cdet).length) {
    cText = num(cdet.text_tokens);
    cAudio = num(cdet.audio_tokens);
  } else {
    const both = inText + inAudio;
    cText = both ? cached * inText / both : 0;
    cAudio = cached - cText;
  }
  return {
    input: num(u && u.input_tokens),
    output: num(u && u.output_tokens),
    total: num(u && u.total_tokens),
    inText,
    inAudio,
    cText,
    cAudio,
    outText: num(outd.text_tokens),
    outAudio: num(outd.audio_tokens)
  };
}
function usageCost(k, price) {
  const p = (key, fallback = key) => num(price[key] != null ? price[key] : price[fallback]);
  return ((k.inText - k.cText) * p("input_text") + k.cText * p("cached_text", "input_text") + (k.inAudio - k.cAudio) * p("input_audio") + k.cAudio * p("cached_audio", "input_audio") + k.outText * p("output_text") + k.outAudio * p("output_audio")) / PER;
}
var LiveNumbers = class {
  constructor() {
    this.trigger = null;
    this.turns = /* @__PURE__ */ new Map();
    this.itemResponse = /* @__PURE__ */ new Map();
    this.playedFirst = /* @__PURE__ */ new Map();
    this.last = null;
    this.tokens = { total: 0, input: 0, output: 0, responses: 0 };
    this.cost = 0;
    this.counted = /* @__PURE__ */ new Set();
  }
  /** @param {number} at */
  speechStopped(at) {
    this.trigger = { kind: "speech", at };
  }
  /** @param {number} at */
  responseRequested(at) {
    this.trigger = { kind: "client", at };
  }
  /**
   * @param {string} id
   * @param {boolean} live  not a replayed (caught-up) event
   */
  responseCreated(id, live) {
    if (this.trigger && live) this.turns.set(id, { ...this.trigger, firstAudioAt: null });
    this.trigger = null;
  }
  /** Returns true when this settles a first audio seen before its item's events (the line changed).
   * @param {string | undefined} itemId
   * @param {string | undefined} responseId */
  audioItem(itemId, responseId) {
    if (!itemId || !responseId || this.itemResponse.has(itemId)) return false;
    this.itemResponse.set(itemId, responseId);
    const at = this.playedFirst.get(itemId);
    this.playedFirst.delete(itemId);
    return at != null && this.firstAudio(itemId, at);
  }
  /** The first sample of an item's audio was rendered at `at` (+ the output latency: audible).
   * The playback worklet may say so before the page has read the item's events (the I/O
   * worker feeds it directly): then it waits for audioItem().
   * @param {string} itemId
   * @param {number} at */
  firstAudio(itemId, at) {
    const rid = this.itemResponse.get(itemId);
    if (!rid) {
      this.playedFirst.set(itemId, at);
      return false;
    }
    const turn = this.turns.get(rid);
    if (!turn || turn.firstAudioAt != null) return false;
    turn.firstAudioAt = at;
    this.last = { response_id: rid, kind: turn.kind, ms: Math.max(0, at - turn.at) };
    return true;
  }
  /**
   * @param {{ id: string, usage?: Usage } | null | undefined} resp
   * @param {Prices | null | undefined} prices
   */
  responseDone(resp, prices) {
    if (!resp || !resp.usage || this.counted.has(resp.id)) return;
    this.counted.add(resp.id);
    const k = usageKinds(resp.usage);
    this.tokens.total += k.total;
    this.tokens.input += k.input;
    this.tokens.output += k.output;
    this.tokens.responses += 1;
    if (prices && Object.keys(prices).length) this.cost += usageCost(k, prices);
  }
  /** The line's text (empty: nothing to show yet).
   * @param {Prices | null | undefined} prices */
  text(prices) {
    const parts = [];
    if (this.last) parts.push(`last turn ${(this.last.ms / 1e3).toFixed(2)} s to first audio`);
    if (this.tokens.responses) parts.push(`${this.tokens.total.toLocaleString("en-US")} tokens (${this.tokens.input.toLocaleString("en-US")} in, ${this.tokens.output.toLocaleString("en-US")} out)`);
    if (this.tokens.responses && prices && Object.keys(prices).length) parts.push(`$${this.cost < 0.01 ? this.cost.toFixed(4) : this.cost.toFixed(2)}`);
    return parts.join(" · ");
  }
};

// src/engine-status.js
async function localEngineState(cfg) {
  if (!cfg.found) return null;
  const headers = cfg.token ? { Authorization: `token ${cfg.token}` } : {};
  try {
    const r = await fetch(`${cfg.baseUrl}realtime/status`, { headers, credentials: "same-origin", cache: "no-store" });
    if (!r.ok) return null;
    const body = await r.json();
    const local = (body.providers || {}).local || {};
    return local.engine || null;
  } catch (e) {
    return null;
  }
}

// src/event-ids.js
function eventId(scope, n) {
  return `event_widget_${scope}_${Date.now().toString(36)}_${n}`;
}

// src/view-stats.js
var MAX_SAMPLES = 2e4;
function pushCapped(arr, v) {
  if (arr.length < MAX_SAMPLES) arr.push(v);
}
function newStats() {
  return {
    eventsReceived: 0,
    eventsSent: 0,
    appendsSent: 0,
    audioSentMs: 0,
    framesCaptured: 0,
    captureLatencyMs: (
      /** @type {number[]} */
      []
    ),
    // first sample of a frame -> append written to the socket
    captureOverheadMs: (
      /** @type {number[]} */
      []
    ),
    // last sample of a frame -> append written to the socket
    playbackLatencyMs: (
      /** @type {number[]} */
      []
    ),
    // audio delta received at an empty buffer -> its first sample rendered by the worklet
    firstAudioLatencyMs: (
      /** @type {number[]} */
      []
    ),
    // first delta of an item received -> rendered (both: + outputLatencyMs = audible)
    audioDeltasReceived: 0,
    audioReceivedSamples: 0,
    playedSamples: 0,
    // device-rate samples the playback worklet played
    itemsPlayback: (
      /** @type {object} */
      {}
    ),
    // item_id -> {played, received, rate, ended, stopped, index}
    underruns: 0,
    starvedMs: 0,
    stops: (
      /** @type {{ reason: string, clickAt: number, silentAt: number, stopToSilenceMs: number, items: object[] }[]} */
      []
    ),
    truncatesSent: (
      /** @type {{ item_id: string, content_index: number, audio_end_ms: number, played: number, received: number, rate: number, reason: string }[]} */
      []
    ),
    truncated: (
      /** @type {object[]} */
      []
    ),
    // conversation.item.truncated events received
    cancelsSent: 0,
    outputLatencyMs: 0,
    sampleRate: 0,
    micSettings: (
      /** @type {MediaTrackSettings | null} */
      null
    ),
    connect: { clickAt: 0, sessionIdAt: 0, openAt: 0, sessionCreatedAt: 0, liveAt: 0, clicks: 0, requests: 0 },
    // Date.now() of each step
    queueSent: (
      /** @type {{ ms: number, droppedMs: number, appends: number }[]} */
      []
    ),
    // audio kept while connecting, sent once live
    micStarts: 0
    // getUserMedia streams opened
  };
}

// src/views-registry.js
function registry() {
  const page = (
    /** @type {{ __realtime_widget?: { views: any[] } }} */
    globalThis
  );
  if (!page.__realtime_widget) page.__realtime_widget = { views: [] };
  return page.__realtime_widget;
}

// src/view-connection.js
var connectionMethods = (
  /** @satisfies {Mixin} */
  {
    async toggleConnect() {
      this.stats.connect.clicks++;
      if (this.conn) return this.disconnect();
      if (this.connectPending) return;
      this.connectPending = true;
      this.stats.connect = { ...this.stats.connect, clickAt: Date.now(), sessionIdAt: 0, openAt: 0, sessionCreatedAt: 0, liveAt: 0 };
      this.renderState();
      const ready = this.audio.ensure();
      this.wantAttach = true;
      if (this.model.get("session_id") && this.connState !== "ended") this.maybeAttach();
      else {
        this.stats.connect.requests++;
        this.model.send({ type: "connect" });
        this.watchEngine();
      }
      this.renderState();
      try {
        await ready;
      } catch (e) {
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
      for (const other of registry().views) {
        if (other !== this && other.model === this.model && other.conn) {
          other.disconnect();
          other.statusEl.textContent = "Connected in another view of this widget";
        }
      }
      this.live = false;
      this.transport = kind;
      if (this.model.get("session_id") !== this.attachedSession) {
        this.attachedSession = this.model.get("session_id");
        this.lastSeqSeen = 0;
      }
      const onEvent = (ev, at) => this.onServerEvent(ev, at);
      const onState = (state, e) => this.onConnState(state, e);
      if (kind === "hub") {
        const wsPath = this.model.get("ws_path");
        const worker = makeIoWorker();
        if (worker) {
          this.worker = worker;
          this.conn = new WorkerConnection({ worker, url: sessionSocketUrl(this.cfg, wsPath, null), onEvent, onState, onMessage: (m) => this.onWorkerMessage(m) });
          this.audio.setWorker(worker);
          this.postFormats();
          const kept = this.queue.takeFrames();
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
        else this.numbers.responseRequested(Date.now());
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
    }
  }
);

// src/mic-sender.js
function sendMicAudio(send, pcm, format, counts) {
  if (!send({ type: "input_audio_buffer.append", audio: encodeAudio(pcm, format) })) return false;
  counts.appendsSent++;
  counts.audioSentMs += pcm.length * 1e3 / formatRate(format);
  return true;
}
function sendKeptAudio(send, queue, format, counts) {
  const { chunks, ms, droppedMs } = queue.drain(formatRate(format));
  let appends = 0;
  for (const pcm of chunks) {
    if (!sendMicAudio(send, pcm, format, counts)) break;
    appends++;
  }
  return { ms, droppedMs, appends };
}

// src/view-mic.js
var micMethods = (
  /** @satisfies {Mixin} */
  {
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
          frameMs: Math.max(20, Math.min(100, this.model.get("frame_ms") || 40))
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
        this.worker.postMessage({ type: "frame", frame: m }, [m.pcm]);
        return;
      }
      const db = m.rms > 0 ? 20 * Math.log10(m.rms) : -100;
      this.inLevel = Math.max(0, Math.min(1, (db + 60) / 60));
      this.inMeterFill.style.width = `${Math.round(this.inLevel * 100)}%`;
      this.inMeter.setAttribute("aria-valuenow", String(Math.round(this.inLevel * 100)));
      if (m.type === "level") return;
      if (m.samples && !this.live && !m.flushed && (this.model.get("mode") || "hands-free") === "hands-free") {
        this.queue.push(new Int16Array(m.pcm), formatRate(this.inputFormat));
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
    }
  }
);

// src/dom.js
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) if (c != null) el.append(c);
  return el;
}

// src/view-render.js
var renderMethods = (
  /** @satisfies {Mixin} */
  {
    build() {
      const el = this.el;
      el.classList.add("rtw-root");
      this.connectBtn = h("button", { class: "rtw-btn rtw-connect", type: "button", "aria-label": "Connect to the realtime session", onclick: () => this.toggleConnect() }, "Connect");
      this.micBtn = h("button", { class: "rtw-btn rtw-mic", type: "button", "aria-pressed": "false", "aria-label": "Microphone on or off", onclick: () => this.toggleMic() }, "Mic off");
      this.inMeterFill = h("div", { class: "rtw-meter-fill" });
      this.inMeter = h("div", { class: "rtw-meter rtw-in-meter", role: "meter", "aria-label": "Microphone input level", "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": "0" }, this.inMeterFill);
      this.modeSel = h(
        "select",
        { class: "rtw-mode", "aria-label": "Turn taking mode", onchange: () => this.setMode(this.modeSel.value) },
        h("option", { value: "hands-free" }, "Hands-free"),
        h("option", { value: "push-to-talk" }, "Push-to-talk")
      );
      this.pttBtn = h(
        "button",
        {
          class: "rtw-btn rtw-ptt",
          type: "button",
          "aria-label": "Hold to talk (mouse or Space key)",
          "aria-pressed": "false",
          onpointerdown: (e) => {
            e.preventDefault();
            try {
              this.pttBtn.setPointerCapture(e.pointerId);
            } catch (err) {
            }
            this.pttStart();
          },
          onpointerup: () => this.pttEnd(),
          onpointercancel: () => this.pttEnd(),
          onkeydown: (e) => {
            if ((e.key === " " || e.key === "Enter") && !e.repeat) {
              e.preventDefault();
              this.pttStart();
            }
          },
          onkeyup: (e) => {
            if (e.key === " " || e.key === "Enter") {
              e.preventDefault();
              this.pttEnd();
            }
          }
        },
        "Hold to talk"
      );
      this.stopBtn = h("button", { class: "rtw-btn rtw-stop", type: "button", "aria-label": "Stop the assistant (Escape)", onclick: () => this.bargeIn("stop") }, "Stop");
      this.outMeterFill = h("div", { class: "rtw-meter-fill" });
      this.outMeter = h("div", { class: "rtw-meter rtw-out-meter", role: "meter", "aria-label": "Assistant output level", "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": "0" }, this.outMeterFill);
      this.statusEl = h("span", { class: "rtw-status", role: "status", "aria-live": "polite" }, "Not connected");
      this.counterEl = h("span", { class: "rtw-counter", "aria-label": "Events received", title: "Server events received" }, "0 events");
      this.statsEl = h("div", {
        class: "rtw-stats",
        role: "status",
        "aria-label": "Live numbers",
        title: "Last turn: end of your speech (or your message) to the reply's first audio as played. Tokens: all responses so far. The same numbers as Session.latency() and Session.usage().",
        hidden: true
      });
      this.micNote = h("div", { class: "rtw-note rtw-mic-note", role: "status", hidden: true });
      this.errorText = h("span", { class: "rtw-error-text" });
      this.errorEl = h(
        "div",
        { class: "rtw-error", role: "alert", hidden: true },
        this.errorText,
        h("button", { class: "rtw-btn rtw-dismiss", type: "button", "aria-label": "Dismiss the error", onclick: () => this.clearError() }, "×")
      );
      this.transcript = h("div", { class: "rtw-transcript", role: "log", "aria-live": "polite", "aria-label": "Conversation transcript", tabindex: "0" });
      this.textInput = h("input", {
        class: "rtw-text",
        type: "text",
        placeholder: "Type a message and press Enter",
        "aria-label": "Message to the assistant",
        onkeydown: (e) => {
          if (e.key === "Enter" && !e.shiftKey) {
            e.preventDefault();
            this.sendText();
          }
        }
      });
      this.sendBtn = h("button", { class: "rtw-btn rtw-send", type: "button", "aria-label": "Send the message", onclick: () => this.sendText() }, "Send");
      const bar = h(
        "div",
        { class: "rtw-bar", role: "toolbar", "aria-label": "Realtime session controls" },
        this.connectBtn,
        this.micBtn,
        this.inMeter,
        this.modeSel,
        this.pttBtn,
        this.stopBtn,
        h("span", { class: "rtw-out-label", "aria-hidden": "true" }, "Out"),
        this.outMeter,
        this.statusEl,
        this.counterEl
      );
      const form = h("div", { class: "rtw-form" }, this.textInput, this.sendBtn);
      el.append(bar, this.statsEl, this.micNote, this.errorEl, this.transcript, form);
      el.addEventListener("keydown", (e) => {
        if (e.key === "Escape") {
          e.preventDefault();
          this.bargeIn("stop");
        }
      });
    },
    renderMode() {
      const mode = this.model.get("mode") || "hands-free";
      this.modeSel.value = mode;
      this.pttBtn.hidden = mode !== "push-to-talk";
    },
    renderState() {
      const connected = !!(this.conn && this.conn.isOpen && this.live);
      const starting = this.model.get("starting") || this.connectPending || this.conn && !connected;
      this.connectBtn.textContent = connected ? "Disconnect" : starting ? "Connecting…" : "Connect";
      this.connectBtn.setAttribute("aria-label", connected ? "Disconnect from the realtime session" : "Connect to the realtime session");
      this.connectBtn.disabled = !!starting && !connected;
      const micOn = this.audio.micOn;
      this.micBtn.textContent = micOn ? "Mic on" : "Mic off";
      this.micBtn.setAttribute("aria-pressed", micOn ? "true" : "false");
      this.micBtn.disabled = !!this.micUnavailable;
      this.pttBtn.disabled = !!this.micUnavailable;
      const err = this.model.get("last_error");
      if (err && err !== this.shownError) this.showError(err);
      let status = "Not connected";
      if (starting && !connected) status = this.startingText();
      if (!starting && !connected && this.listening()) status = `Not connected · Listening${this.keptText()}, sent once you connect`;
      if (connected) {
        if (this.userSpeaking) status = "You are speaking";
        else if (this.activeResponse || this.outLevel > 0.01) status = "Assistant speaking";
        else if (this.listening()) status = "Listening";
        else status = "Connected";
      }
      if (this.connState === "reattaching") status = "Reconnecting…";
      if (this.connState === "ended") status = "Session ended";
      this.statusEl.textContent = status;
      this.counterEl.textContent = `${this.stats.eventsReceived} events`;
    },
    /** While the session starts: what it waits for, for how long, and that the microphone is heard. */
    startingText() {
      const since = this.stats.connect.clickAt;
      const secs = since ? ` ${((Date.now() - since) / 1e3).toFixed(1)} s` : "";
      const loading = this.engine && (this.engine.state === "loading" || this.engine.state === "not_loaded");
      let text = loading ? `Starting the local speech engine…${secs}` : `Connecting…${secs}`;
      if (this.listening()) text += ` · Listening${this.keptText()}`;
      return text;
    },
    keptText() {
      const { ms, droppedMs } = this.worker ? this.queueInfo : { ms: this.queue.ms, droppedMs: this.queue.droppedMs };
      if (!(ms > 0)) return "";
      return droppedMs > 0 ? ` (first ${(ms / 1e3).toFixed(1)} s kept, ${(droppedMs / 1e3).toFixed(1)} s after them not)` : ` (${(ms / 1e3).toFixed(1)} s kept)`;
    },
    renderStats() {
      const text = this.model.get("show_stats") === false ? "" : this.numbers.text(this.model.get("prices"));
      this.statsEl.textContent = text;
      this.statsEl.hidden = !text;
    },
    setMicUnavailable(text) {
      this.micUnavailable = text;
      this.micNote.hidden = false;
      this.micNote.textContent = `Microphone unavailable: ${text} You can still type messages below and hear the replies.`;
      this.setTraits({ mic_available: false, mic_message: text });
      this.renderState();
    },
    showError(message) {
      this.shownError = message;
      this.errorText.textContent = message;
      this.errorEl.hidden = false;
    },
    clearError() {
      this.errorEl.hidden = true;
      this.shownError = null;
      this.setTraits({ last_error: "" });
    },
    setTraits(obj) {
      if (this.destroyed) return;
      let changed = false;
      for (const [k, v] of Object.entries(obj)) {
        if (this.model.get(k) !== v) {
          this.model.set(k, v);
          changed = true;
        }
      }
      if (changed) {
        try {
          this.model.save_changes();
        } catch (e) {
        }
      }
    },
    syncLevels() {
      const q = (x) => Math.round(x * 20) / 20;
      this.setTraits({ input_level: q(this.audio.micOn ? this.inLevel : 0), output_level: q(this.outLevel), events_received: this.stats.eventsReceived });
      this.renderState();
    },
    listening() {
      if (!this.audio.micOn) return false;
      return (this.model.get("mode") || "hands-free") === "push-to-talk" ? this.pttHeld : true;
    },
    syncStatus() {
      this.setTraits({
        connected: !!(this.conn && this.conn.isOpen && this.live),
        listening: this.listening(),
        user_speaking: this.userSpeaking,
        response_active: !!this.activeResponse
      });
      this.renderState();
    }
  }
);

// src/view-transcript.js
var transcriptMethods = (
  /** @satisfies {Mixin} */
  {
    itemEntry(id, role, type) {
      let it = this.items.get(id);
      if (it) return it;
      if (type === "function_call" || type === "function_call_output") return null;
      const label = role === "user" ? "You" : role === "assistant" ? "Assistant" : role || "System";
      const textEl = h("span", { class: "rtw-text-body" });
      const el = h("div", { class: `rtw-msg rtw-${role || "system"}`, "data-item-id": id, "data-role": role || "" }, h("span", { class: "rtw-role" }, label), textEl);
      it = { el, textEl, role, type, text: "", heard: null };
      this.items.set(id, it);
      this.transcript.append(el);
      return it;
    },
    onItem(item, previousId, done = false) {
      if (!item.id) return;
      if (item.type === "function_call") {
        const card = this.callCard(item.call_id, item.name, item.id);
        if (item.arguments) card.args.textContent = item.arguments;
        return;
      }
      if (item.type === "function_call_output") {
        const card = this.callCard(item.call_id, null, null);
        card.result.textContent = typeof item.output === "string" ? item.output : JSON.stringify(item.output);
        card.result.hidden = false;
        card.el.classList.add("rtw-call-done");
        return;
      }
      const existed = this.items.has(item.id);
      const it = (
        /** @type {TranscriptEntry} */
        this.itemEntry(item.id, item.role, item.type)
      );
      if (!existed && previousId) {
        const prev = this.items.get(previousId) || this.callByItem(previousId);
        if (prev && prev.el.nextSibling !== it.el) prev.el.after(it.el);
      }
      const text = (item.content || []).map((c) => c.text || c.transcript || "").join(" ").trim();
      if (text) this.setText(item.id, text, { final: done || item.role === "user" });
      else if (!it.text && item.role === "user" && (item.content || []).some((c) => c.type === "input_audio")) {
        it.textEl.textContent = "…";
        it.el.classList.add("rtw-pending");
      }
    },
    appendText(id, delta) {
      const it = this.itemEntry(id, "assistant", "message");
      if (!it) return;
      it.text += delta;
      this.renderText(it);
      this.scroll();
    },
    setText(id, text, { role = "assistant", failed = false } = {}) {
      const it = this.itemEntry(id, role, "message");
      if (!it) return;
      it.text = text;
      this.renderText(it);
      it.el.classList.remove("rtw-pending");
      if (failed) it.el.classList.add("rtw-failed");
      this.scroll();
    },
    /** An interrupted answer: the heard part as usual, the rest struck through, as the model now remembers it. */
    markTruncated(id, endMs) {
      const it = this.items.get(id);
      if (!it) return;
      it.el.classList.add("rtw-truncated");
      if (it.heard == null) {
        const samples = this.itemSamples.get(id) || 0;
        const totalMs = samples * 1e3 / formatRate(this.outputFormat);
        it.heard = totalMs > 0 ? cutTranscript(it.text, endMs / totalMs) : it.text;
        it.el.dataset.audioEndMs = String(endMs);
        this.renderText(it);
      }
      if (!it.el.querySelector(".rtw-cut")) it.el.append(h("span", { class: "rtw-cut", text: ` interrupted at ${(endMs / 1e3).toFixed(1)} s` }));
    },
    renderText(it) {
      if (it.heard == null) {
        it.textEl.textContent = it.text;
        return;
      }
      const rest = it.text.startsWith(it.heard) ? it.text.slice(it.heard.length) : "";
      const heard = h("span", { class: "rtw-heard" }, it.heard);
      if (!rest) it.textEl.replaceChildren(heard);
      else it.textEl.replaceChildren(heard, h("s", { class: "rtw-unheard", title: "Not played before the interruption: the model does not remember this part" }, rest));
    },
    callByItem(itemId) {
      for (const c of this.calls.values()) if (c.itemId === itemId) return c;
      return null;
    },
    callCard(callId, name, itemId) {
      let card = this.calls.get(callId);
      if (!card) {
        const title = h("span", { class: "rtw-call-name" }, name || "function");
        const args = h("pre", { class: "rtw-call-args", "aria-label": "Arguments" });
        const result = h("pre", { class: "rtw-call-result", "aria-label": "Result", hidden: true });
        const el = h("div", { class: "rtw-call", "data-call-id": callId || "", role: "group", "aria-label": `Function call ${name || ""}` }, h("span", { class: "rtw-role" }, "Tool"), title, args, result);
        card = { el, title, args, result, itemId };
        this.calls.set(callId, card);
        this.transcript.append(el);
      }
      if (name) {
        card.title.textContent = name;
        card.el.setAttribute("aria-label", `Function call ${name}`);
      }
      if (itemId) card.itemId = itemId;
      this.scroll();
      return card;
    },
    scroll() {
      const t = this.transcript;
      t.scrollTop = t.scrollHeight;
    }
  }
);

// src/view-turns.js
var turnsMethods = (
  /** @satisfies {Mixin} */
  {
    onAudioDelta(ev, at) {
      if (this.worker) return;
      if (!this.live || !ev.delta) return;
      if (this.stoppedItems.has(ev.item_id) || this.stoppedResponses.has(ev.response_id)) return;
      const pcm = decodeAudio(ev.delta, this.outputFormat);
      this.stats.audioDeltasReceived++;
      this.stats.audioReceivedSamples += pcm.length;
      const chunk = ++this.audioChunk;
      const first = !this.firstChunkOfItem.has(ev.item_id);
      this.firstChunkOfItem.add(ev.item_id);
      if (!this.audio.play(ev.item_id, ev.content_index || 0, formatRate(this.outputFormat), pcm, chunk, at, first)) {
        try {
          this.audio.ensure();
        } catch (e) {
        }
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
        const lat = m.start - m.recv + m.offsetMs;
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
      const record = { reason: stop.reason, clickAt: stop.clickAt, silentAt: m.silentAt, stopToSilenceMs: m.silentAt - stop.clickAt, items: m.items };
      if (m.items.length) this.stats.stops.push(record);
      if (this.worker && m.items.length) this.worker.postMessage({ type: "stopped", items: m.items.map((it) => it.item) });
      for (const it of m.items) {
        this.stoppedItems.add(it.item);
        const played = Math.min(it.played, it.received);
        const audioEndMs = Math.floor(played * 1e3 / it.rate);
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
        if (this.audio.micOn) {
          const id = ++this.audio.flushId;
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
      const ms = this.pttSamples * 1e3 / formatRate(this.inputFormat);
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
      } catch (e) {
      }
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
    }
  }
);

// src/view.js
var MAX_LOG = 3e3;
var eventCounter = 0;
var WidgetView = class {
  /**
   * @param {AnyModel} model
   * @param {HTMLElement} el
   */
  constructor(model, el) {
    const view = (
      /** @type {View} */
      /** @type {unknown} */
      this
    );
    this.model = model;
    this.el = el;
    this.id = ++eventCounter;
    this.cfg = pageConfig();
    this.conn = null;
    this.live = false;
    this.session = {};
    this.inputFormat = normalizeFormat(model.get("input_format") || "pcm16");
    this.outputFormat = "pcm16";
    this.items = /* @__PURE__ */ new Map();
    this.calls = /* @__PURE__ */ new Map();
    this.activeResponse = null;
    this.ownCancels = /* @__PURE__ */ new Set();
    this.stoppedItems = /* @__PURE__ */ new Set();
    this.stoppedResponses = /* @__PURE__ */ new Set();
    this.worker = null;
    this.audioChunk = 0;
    this.firstChunkOfItem = /* @__PURE__ */ new Set();
    this.pttHeld = false;
    this.pttSamples = 0;
    this.userSpeaking = false;
    this.inLevel = 0;
    this.outLevel = 0;
    this.pendingStop = null;
    this.log = [];
    this.stats = newStats();
    this.queue = new CaptureQueue();
    this.queueInfo = { ms: 0, droppedMs: 0 };
    this.numbers = new LiveNumbers();
    this.itemSamples = /* @__PURE__ */ new Map();
    this.lastSeqSeen = 0;
    this.connectPending = false;
    this.engine = null;
    this.connState = void 0;
    this.micChain = Promise.resolve();
    this.destroyed = false;
    this.audio = new AudioEngine({ onFrame: (m) => view.onFrame(m), onPlayback: (m) => view.onPlayback(m) });
    this.audio.setPrebuffer(model.get("prebuffer_ms") ?? 60);
    view.build();
    this.listeners = [];
    const on = (name, fn) => {
      model.on(name, fn);
      this.listeners.push([name, fn]);
    };
    on("change:session_id", () => {
      if (this.connectPending && !this.stats.connect.sessionIdAt) this.stats.connect.sessionIdAt = Date.now();
      view.maybeAttach();
    });
    on("change:starting", () => view.renderState());
    on("change:last_error", () => {
      if (this.model.get("last_error")) this.connectPending = false;
      view.renderState();
    });
    on("change:show_stats", () => view.renderStats());
    on("change:prices", () => view.renderStats());
    this.appliedMode = model.get("mode") || "hands-free";
    on("change:mode", () => {
      const mode = this.model.get("mode") || "hands-free";
      if (mode !== this.appliedMode) view.applyMode(mode);
      view.renderMode();
    });
    on("msg:custom", (msg) => view.onCustom(msg));
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
      if (!this.worker) this.sendQueued();
      const want = this.model.get("mode") || "hands-free";
      if (this.session && "turn_detection" in this.session && want === "push-to-talk" !== (this.session.turn_detection == null)) this.applyMode(want);
      this.syncStatus();
      return;
    }
    this.stats.eventsReceived++;
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
        this.onItem(ev.item || {}, void 0, type === "response.output_item.done");
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
      this.ownCancels.delete(err.event_id);
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
};
Object.assign(WidgetView.prototype, renderMethods, connectionMethods, transcriptMethods, turnsMethods, micMethods);

// src/index.js
var src_default = {
  /** @param {{ model: import("./hub.js").AnyModel, el: HTMLElement }} context */
  render({ model, el }) {
    const view = (
      /** @type {import("./view-types.js").View} */
      new WidgetView(model, el)
    );
    return () => view.destroy();
  }
};
export {
  src_default as default
};
