// @ts-check
// The widget's live numbers: the last turn's latency (end of the user's speech, or the
// widget's own response.create, -> the reply's first audio as played), the tokens used so
// far and their cost when prices are given. The same definitions as Session.latency() and
// Session.usage(prices) (realtime_widget/frames/core.py), counted from the same events.

const PER = 1_000_000;

/** @typedef {Record<string, any>} Usage  a response.done's usage, as the server sent it (unchecked JSON) */
/** @typedef {Record<string, number>} Prices  USD per 1M tokens by kind (input_text, cached_audio, ...) */
/** @typedef {ReturnType<typeof usageKinds>} UsageKinds */
/** @typedef {{ kind: "speech" | "client", at: number }} Trigger */

/** @param {unknown} v */
function num(v) {
  return typeof v === "number" && isFinite(v) ? v : 0;
}

/** Tokens of one response.done's usage by kind (cached split as in frames.usage).
 * @param {Usage | null | undefined} u */
export function usageKinds(u) {
  const ind = (u && u.input_token_details) || {};
  const outd = (u && u.output_token_details) || {};
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
    cText = both ? (cached * inText) / both : 0;
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
    outAudio: num(outd.audio_tokens),
  };
}

/** USD of one response's usage with a price table (USD per 1M tokens, cached_* filled in).
 * @param {UsageKinds} k
 * @param {Prices} price */
export function usageCost(k, price) {
  const p = (/** @type {string} */ key, /** @type {string} */ fallback = key) => num(price[key] != null ? price[key] : price[fallback]);
  return (
    ((k.inText - k.cText) * p("input_text") +
      k.cText * p("cached_text", "input_text") +
      (k.inAudio - k.cAudio) * p("input_audio") +
      k.cAudio * p("cached_audio", "input_audio") +
      k.outText * p("output_text") +
      k.outAudio * p("output_audio")) /
    PER
  );
}

export class LiveNumbers {
  constructor() {
    /** @type {Trigger | null} waits for the next response.created */
    this.trigger = null;
    /** @type {Map<string, Trigger & { firstAudioAt: number | null }>} by response_id */
    this.turns = new Map();
    /** @type {Map<string, string>} item_id -> response_id */
    this.itemResponse = new Map();
    /** @type {Map<string, number>} item_id -> first audio played, before its response was known */
    this.playedFirst = new Map();
    /** @type {{ response_id: string, kind: string, ms: number } | null} */
    this.last = null;
    this.tokens = { total: 0, input: 0, output: 0, responses: 0 };
    this.cost = 0;
    /** @type {Set<string>} responses whose usage is counted */
    this.counted = new Set();
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
    if (this.last) parts.push(`last turn ${(this.last.ms / 1000).toFixed(2)} s to first audio`);
    if (this.tokens.responses) parts.push(`${this.tokens.total.toLocaleString("en-US")} tokens (${this.tokens.input.toLocaleString("en-US")} in, ${this.tokens.output.toLocaleString("en-US")} out)`);
    if (this.tokens.responses && prices && Object.keys(prices).length) parts.push(`$${this.cost < 0.01 ? this.cost.toFixed(4) : this.cost.toFixed(2)}`);
    return parts.join(" · ");
  }
}
