// @ts-check
// Base64 and G.711 helpers for the wire format (PCM16 little endian, or G.711 at 8 kHz).

/** @param {Uint8Array} bytes @returns {string} */
export function bytesToBase64(bytes) {
  let s = "";
  const CH = 0x8000;
  for (let i = 0; i < bytes.length; i += CH) s += String.fromCharCode.apply(null, /** @type {any} */ (bytes.subarray(i, i + CH)));
  return btoa(s);
}

/** @param {string} b64 @returns {Uint8Array} */
export function base64ToBytes(b64) {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** @param {Int16Array} pcm @returns {Uint8Array} */
export function pcm16ToBytes(pcm) {
  // Int16Array -> little-endian bytes (every browser engine is little endian)
  return new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength);
}

/** @param {Uint8Array} bytes @returns {Int16Array} */
export function bytesToPcm16(bytes) {
  const n = bytes.length >> 1;
  if (bytes.byteOffset % 2 === 0) return new Int16Array(bytes.buffer, bytes.byteOffset, n).slice();
  return new Int16Array(bytes.slice(0, 2 * n).buffer);
}

// ITU-T G.711, bit-exact with Python's audioop (and realtime_widget.audio)
const SEG_UEND = [0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff, 0x1fff];
const SEG_AEND = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff];

/** @param {number} v @param {number[]} table */
function segment(v, table) {
  for (let i = 0; i < 8; i++) if (v <= table[i]) return i;
  return 8;
}

/** @param {number} sample @returns {number} */
export function ulawEncodeSample(sample) {
  let v = sample >> 2; // 14-bit
  let mask = 0xff;
  if (v < 0) {
    v = -v;
    mask = 0x7f;
  }
  if (v > 8159) v = 8159;
  v += 0x84 >> 2;
  const seg = segment(v, SEG_UEND);
  if (seg >= 8) return 0x7f ^ mask;
  return ((seg << 4) | ((v >> (seg + 1)) & 0xf)) ^ mask;
}

/** @param {number} sample @returns {number} */
export function alawEncodeSample(sample) {
  let v = sample >> 3; // 13-bit
  let mask = 0xd5;
  if (v < 0) {
    mask = 0x55;
    v = -v - 1;
  }
  const seg = segment(v, SEG_AEND);
  if (seg >= 8) return 0x7f ^ mask;
  let a = seg << 4;
  a |= seg < 2 ? (v >> 1) & 0xf : (v >> seg) & 0xf;
  return a ^ mask;
}

/** @param {number} u @returns {number} */
export function ulawDecodeSample(u) {
  u = ~u & 0xff;
  const sign = u & 0x80;
  const exp = (u >> 4) & 0x07;
  const mant = u & 0x0f;
  let s = (((mant << 3) + 0x84) << exp) - 0x84;
  return sign ? -s : s;
}

/** @param {number} a @returns {number} */
export function alawDecodeSample(a) {
  a ^= 0x55;
  const sign = a & 0x80;
  const exp = (a >> 4) & 0x07;
  let s = (a & 0x0f) << 4;
  if (exp === 0) s += 8;
  else s = (s + 0x108) << (exp - 1);
  return sign ? s : -s;
}

/** @param {Int16Array} pcm @param {string} format @returns {string} base64 */
export function encodeAudio(pcm, format) {
  if (format === "g711_ulaw" || format === "g711_alaw") {
    const enc = format === "g711_ulaw" ? ulawEncodeSample : alawEncodeSample;
    const out = new Uint8Array(pcm.length);
    for (let i = 0; i < pcm.length; i++) out[i] = enc(pcm[i]);
    return bytesToBase64(out);
  }
  return bytesToBase64(pcm16ToBytes(pcm));
}

/** @param {string} b64 @param {string} format @returns {Int16Array} */
export function decodeAudio(b64, format) {
  const bytes = base64ToBytes(b64);
  if (format === "g711_ulaw" || format === "g711_alaw") {
    const dec = format === "g711_ulaw" ? ulawDecodeSample : alawDecodeSample;
    const out = new Int16Array(bytes.length);
    for (let i = 0; i < bytes.length; i++) out[i] = dec(bytes[i]);
    return out;
  }
  return bytesToPcm16(bytes);
}

/** @param {string} format @returns {number} */
export function formatRate(format) {
  return format === "g711_ulaw" || format === "g711_alaw" ? 8000 : 24000;
}

/** A session's audio format, preview name or GA object, as the preview name.
 * @param {string | { type?: string } | null | undefined} f @returns {string} */
export function normalizeFormat(f) {
  if (!f) return "pcm16";
  if (typeof f === "object") f = f.type === "audio/pcmu" ? "g711_ulaw" : f.type === "audio/pcma" ? "g711_alaw" : "pcm16";
  return String(f).replace("-", "_");
}
