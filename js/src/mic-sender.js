// @ts-check
// Microphone audio onto the wire: one input_audio_buffer.append per chunk, counted. The
// page (no I/O worker) and the I/O worker both send through here.
import { encodeAudio, formatRate } from "./codec.js";

/** @typedef {import("./messages.js").ClientEvent} ClientEvent */
/** @typedef {{ appendsSent: number, audioSentMs: number }} SendCounts */

/**
 * Send one chunk of PCM16 at the session's input format's rate.
 * @param {(event: ClientEvent) => unknown} send  returns something falsy when the socket refused it
 * @param {Int16Array} pcm
 * @param {string} format  the session's input audio format
 * @param {SendCounts} counts
 * @returns {boolean} whether it was sent
 */
export function sendMicAudio(send, pcm, format, counts) {
  if (!send({ type: "input_audio_buffer.append", audio: encodeAudio(pcm, format) })) return false;
  counts.appendsSent++;
  counts.audioSentMs += (pcm.length * 1000) / formatRate(format);
  return true;
}

/**
 * Send, in order, the audio a CaptureQueue kept while the session was not live; stops at
 * the first chunk the socket refuses.
 * @param {(event: ClientEvent) => unknown} send
 * @param {import("./capture-queue.js").CaptureQueue} queue
 * @param {string} format
 * @param {SendCounts} counts
 * @returns {{ ms: number, droppedMs: number, appends: number }}
 */
export function sendKeptAudio(send, queue, format, counts) {
  const { chunks, ms, droppedMs } = queue.drain(formatRate(format));
  let appends = 0;
  for (const pcm of chunks) {
    if (!sendMicAudio(send, pcm, format, counts)) break;
    appends++;
  }
  return { ms, droppedMs, appends };
}
