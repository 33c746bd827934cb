// @ts-check
// What the model remembers of an interrupted answer: the server cuts the transcript in
// proportion to the audio played (conversation.item.truncated's audio_end_ms over the
// item's audio), rounded down to a whole word. Same rule as the Python side
// (realtime_widget.conversation.items.cut_transcript), so the pane matches
// Session.transcript() and what the model is told on the next turn.

/** Samples carried by a base64 audio delta (PCM16: 2 bytes a sample, G.711: 1).
 * @param {string | undefined} b64
 * @param {string} format
 * @returns {number} */
export function deltaSamples(b64, format) {
  if (!b64) return 0;
  const len = b64.length;
  const pad = b64.endsWith("==") ? 2 : b64.endsWith("=") ? 1 : 0;
  const bytes = Math.floor((len * 3) / 4) - pad;
  return format === "g711_ulaw" || format === "g711_alaw" ? bytes : bytes >> 1;
}

/** The heard part of `text` when `fraction` of its audio was played (a prefix of text).
 * @param {string} text
 * @param {number} fraction
 * @returns {string} */
export function cutTranscript(text, fraction) {
  if (fraction >= 1) return text;
  if (fraction <= 0 || !text) return "";
  const chars = Array.from(text); // code points, as Python's len()
  const keep = Math.floor(chars.length * fraction);
  let head = chars.slice(0, keep).join("");
  if (keep < chars.length && !/\s/.test(chars[keep])) head = head.replace(/\S*$/, ""); // a word cut in the middle was not heard
  return head.replace(/\s+$/, "");
}
