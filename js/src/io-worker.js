// @ts-check
// The I/O worker: owns the WebSocket to the hub session, so the audio path never waits
// for the page's main thread (JupyterLab can block it for hundreds of milliseconds).
//
//   capture worklet --frames--> worker --input_audio_buffer.append--> hub
//   hub --response.audio.delta--> worker --PCM16--> playback worklet
//   hub --every other event (audio stripped)--> main thread (transcript, barge-in, UI)
//
// Messages from the main thread:
//   {type: "open", url}            connect (and reattach with after=<last x_seq> on drops)
//   {type: "send", event}          a client event
//   {type: "capPort", port}        frames of a (new) capture worklet
//   {type: "playPort", port}       the playback worklet's input
//   {type: "formats", input, output}
//   {type: "gate", open}           send captured frames as appends (hands-free / push-to-talk held)
//   {type: "flushThen", id, events, minSamples}  push-to-talk released: send frames up to the
//                                  worklet's flushed frame `id`, close the gate, then send
//                                  `events` if at least minSamples were sent, else a clear
//   {type: "stopped", items, responses}   never play these any more
//   {type: "queued", frames, droppedMs}   microphone audio the page kept before this worker existed
//   {type: "close"}
// Messages to the main thread: {type: "state", state, code, reason}, {type: "events", list},
//   {type: "stats", ...}, {type: "flushed", id, sent, samples},
//   {type: "queue", ms, droppedMs}   audio kept while the session is not live yet (see capture-queue.js)
//   {type: "queueSent", ms, droppedMs, appends}   that audio was sent, in order, once it was live
/** @typedef {import("./messages.js").ClientEvent} ClientEvent */
/** @typedef {import("./messages.js").ServerEvent} ServerEvent */
/** @typedef {import("./messages.js").CaptureFrame} CaptureFrame */
/** @typedef {import("./messages.js").WorkerCommand} WorkerCommand */
import { CaptureQueue } from "./capture-queue.js";
import { decodeAudio, formatRate, normalizeFormat } from "./codec.js";
import { eventId } from "./event-ids.js";
import { deltaSamples } from "./heard-text.js";
import { sendKeptAudio, sendMicAudio } from "./mic-sender.js";

/** @type {string | null} */
let url = null;
/** @type {WebSocket | null} */
let ws = null;
let lastSeq = 0;
let closing = false;
let everOpened = false;
let retries = 0;
/** @type {ReturnType<typeof setTimeout> | undefined} */
let timer = undefined;
let live = false;
/** @type {MessagePort | null} */
let capPort = null;
/** @type {MessagePort | null} */
let playPort = null;
let inFmt = "pcm16";
let outFmt = "pcm16";
let gate = false;
/** @type {{ id: number, events: ClientEvent[], minSamples: number } | null} */
let pending = null;
let gateSamples = 0;
let eventSeq = 0;
let chunk = 0;
const firstSeen = new Set();
const stoppedItems = new Set();
const stoppedResponses = new Set();
/** @type {[ServerEvent, number][]} */
let outbox = [];
let stats = fresh();
const queue = new CaptureQueue();

/** @returns {{ appendsSent: number, audioSentMs: number, captureLatencyMs: number[], captureOverheadMs: number[], audioDeltasReceived: number, audioReceivedSamples: number }} */
function fresh() {
  return { appendsSent: 0, audioSentMs: 0, captureLatencyMs: [], captureOverheadMs: [], audioDeltasReceived: 0, audioReceivedSamples: 0 };
}

/** @param {string} s @param {CloseEvent} [e] */
function state(s, e) {
  self.postMessage({ type: "state", state: s, code: e && e.code, reason: e && e.reason });
}

function open() {
  if (url === null) return;
  closing = false;
  const sep = url.includes("?") ? "&" : "?";
  const sock = new WebSocket(`${url}${sep}after=${lastSeq}`);
  ws = sock;
  live = false;
  state(everOpened ? "reattaching" : "connecting");
  sock.onopen = () => {
    everOpened = true;
    retries = 0;
    state("open");
  };
  sock.onmessage = (m) => onServer(m.data, Date.now());
  sock.onclose = (e) => {
    if (sock !== ws) return;
    ws = null;
    live = false;
    if (closing) return state("closed", e);
    if (e.code === 1000 && (e.reason || "").startsWith("session ")) return state("ended", e);
    if (!everOpened) return state("failed", e);
    if (retries++ >= 10) return state("lost", e);
    state("reattaching", e);
    timer = setTimeout(open, Math.min(250 * 2 ** retries, 8000));
  };
}

/** @param {ClientEvent} event @returns {boolean} */
function send(event) {
  if (!ws || ws.readyState !== WebSocket.OPEN) return false;
  if (!event.event_id) event.event_id = eventId("io", ++eventSeq);
  ws.send(JSON.stringify(event));
  return true;
}

/** @param {string} data @param {number} at */
function onServer(data, at) {
  let ev;
  try {
    ev = JSON.parse(data);
  } catch (e) {
    return;
  }
  if (typeof ev.x_seq === "number") {
    if (ev.x_seq <= lastSeq) return;
    lastSeq = ev.x_seq;
  }
  if (ev.type === "session.created" || ev.type === "session.updated") {
    // the format of the audio kept while connecting is decided before the page hears of it
    const sess = ev.session || {};
    if (sess.input_audio_format) inFmt = normalizeFormat(sess.input_audio_format);
    if (sess.output_audio_format) outFmt = normalizeFormat(sess.output_audio_format);
  }
  if (ev.type === "x_hub.ready") {
    live = true;
    sendQueued();
  }
  if (ev.type === "response.audio.delta") {
    // samples: the item's audio length counts also when it is not played (interrupted answers)
    /** @type {ServerEvent & { samples: number, chunk?: number, first?: boolean }} */
    const out = { type: ev.type, item_id: ev.item_id, response_id: ev.response_id, content_index: ev.content_index, x_seq: ev.x_seq, samples: deltaSamples(ev.delta, outFmt) };
    if (live && ev.delta && playPort && !stoppedItems.has(ev.item_id) && !stoppedResponses.has(ev.response_id)) {
      const pcm = decodeAudio(ev.delta, outFmt);
      stats.audioDeltasReceived++;
      stats.audioReceivedSamples += pcm.length;
      out.chunk = ++chunk;
      if (!firstSeen.has(ev.item_id)) {
        firstSeen.add(ev.item_id);
        out.first = true;
      }
      playPort.postMessage({ type: "push", item: ev.item_id, index: ev.content_index || 0, rate: formatRate(outFmt), pcm: pcm.buffer, chunk: out.chunk, recv: at, first: !!out.first }, [pcm.buffer]);
    }
    ev = out;
  } else if (ev.type === "response.audio.done" && live && playPort) {
    playPort.postMessage({ type: "end", item: ev.item_id });
  }
  outbox.push([ev, at]);
  if (outbox.length === 1) queueMicrotask(flushOutbox);
}

function flushOutbox() {
  const list = outbox;
  outbox = [];
  if (list.length) self.postMessage({ type: "events", list });
}

function sendQueued() {
  if (queue.empty) return;
  self.postMessage({ type: "queueSent", ...sendKeptAudio(send, queue, inFmt, stats) });
}

/** @param {{ data: CaptureFrame }} e */
function onFrame(e) {
  const m = e.data;
  if (!m || m.type !== "frame") return;
  const mine = pending && m.flushed && m.id === pending.id;
  if (m.samples && gate && !live && !mine) {
    queue.push(new Int16Array(m.pcm), formatRate(inFmt));
    self.postMessage({ type: "queue", ms: queue.ms, droppedMs: queue.droppedMs });
    return;
  }
  if (m.samples && (gate || mine) && live) {
    if (sendMicAudio(send, new Int16Array(m.pcm), inFmt, stats)) {
      const now = Date.now();
      gateSamples += m.samples;
      if (!m.flushed) {
        stats.captureLatencyMs.push(now - m.t0);
        stats.captureOverheadMs.push(now - m.t1);
      }
    }
  }
  if (mine && pending) {
    const p = pending;
    pending = null;
    gate = false;
    const ok = gateSamples >= p.minSamples;
    if (ok) for (const ev of p.events) send(ev);
    else send({ type: "input_audio_buffer.clear" });
    self.postMessage({ type: "flushed", id: p.id, sent: ok, samples: gateSamples });
  }
}

setInterval(() => {
  if (stats.appendsSent || stats.audioDeltasReceived) {
    self.postMessage({ type: "stats", ...stats });
    stats = fresh();
  }
}, 100);

/** @param {MessageEvent<WorkerCommand>} e */
self.onmessage = (e) => {
  const m = e.data;
  switch (m.type) {
    case "open":
      url = m.url;
      open();
      break;
    case "send":
      if (!send(m.event)) self.postMessage({ type: "unsent", event_id: m.event.event_id });
      break;
    case "frame":
      onFrame({ data: m.frame });
      break;
    case "queued":
      for (const f of m.frames || []) queue.push(f.pcm, f.rate);
      queue.droppedMs += m.droppedMs || 0;
      if (live) sendQueued();
      break;
    case "capPort":
      if (capPort) capPort.close();
      capPort = m.port;
      capPort.onmessage = onFrame;
      break;
    case "playPort":
      playPort = m.port;
      break;
    case "formats":
      inFmt = m.input || inFmt;
      outFmt = m.output || outFmt;
      break;
    case "gate":
      gate = !!m.open;
      if (gate) gateSamples = 0;
      break;
    case "flushThen":
      pending = { id: m.id, events: m.events || [], minSamples: m.minSamples || 0 };
      break;
    case "stopped":
      for (const id of m.items || []) stoppedItems.add(id);
      for (const id of m.responses || []) stoppedResponses.add(id);
      break;
    case "close":
      closing = true;
      clearTimeout(timer);
      if (ws) ws.close(1000, "widget closed");
      ws = null;
      if (capPort) capPort.close();
      if (playPort) playPort.close();
      self.close();
      break;
    default:
      break;
  }
};
