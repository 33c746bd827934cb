// @ts-check
// The messages between the view (main thread), the I/O worker and the AudioWorklets, as
// JSDoc types (the checker reads them; nothing here runs).
//
//   capture worklet --CaptureFrame--> I/O worker (or the page, without a worker)
//   view --WorkerCommand--> I/O worker --WorkerReport--> view
//   view or I/O worker --PlaybackCommand--> playback worklet --PlaybackReport--> view

/** @typedef {{ type: string, event_id?: string, [field: string]: unknown }} ClientEvent
 *  A client event of the preview dialect (JSON-serialisable). */
/** @typedef {{ type: string, x_seq?: number, [field: string]: unknown }} ServerEvent
 *  A server event as the hub sends it (``x_seq`` added). */

/**
 * @typedef {object} CaptureFrame  one frame of microphone audio, resampled to the session's rate
 * @property {"frame"} type
 * @property {ArrayBuffer} pcm  PCM16 samples (transferred)
 * @property {number} samples
 * @property {number} rms
 * @property {number} peak
 * @property {number} t0  Date.now() of the frame's first sample
 * @property {number} t1  Date.now() of its last sample
 * @property {number} seq  the frame's number, from 0
 * @property {boolean} [flushed]  the last frame of a flush (push-to-talk released)
 * @property {number} [id]  the flush it ends
 */
/** @typedef {{ type: "level", rms: number, peak: number, samples: number, flushed?: boolean, id?: number }} LevelMessage
 *  What the page still gets from the capture worklet when the frames go to the I/O worker. */

/**
 * @typedef {{ type: "open", url: string }
 *   | { type: "send", event: ClientEvent }
 *   | { type: "frame", frame: CaptureFrame }
 *   | { type: "queued", frames: { pcm: Int16Array, rate: number }[], droppedMs: number }
 *   | { type: "capPort", port: MessagePort }
 *   | { type: "playPort", port: MessagePort }
 *   | { type: "formats", input: string, output: string }
 *   | { type: "gate", open: boolean }
 *   | { type: "flushThen", id: number, events: ClientEvent[], minSamples: number }
 *   | { type: "stopped", items?: string[], responses?: string[] }
 *   | { type: "close" }} WorkerCommand
 */

/**
 * @typedef {{ type: "state", state: string, code?: number, reason?: string }
 *   | { type: "events", list: [ServerEvent, number][] }
 *   | { type: "stats", appendsSent: number, audioSentMs: number, captureLatencyMs: number[],
 *       captureOverheadMs: number[], audioDeltasReceived: number, audioReceivedSamples: number }
 *   | { type: "flushed", id: number, sent: boolean, samples: number }
 *   | { type: "queue", ms: number, droppedMs: number }
 *   | { type: "queueSent", ms: number, droppedMs: number, appends: number }
 *   | { type: "unsent", event_id?: string }} WorkerReport
 */

/**
 * @typedef {{ type: "push", item: string, index: number, rate: number, pcm: ArrayBuffer,
 *       chunk: number, recv: number, first: boolean }
 *   | { type: "end", item: string }
 *   | { type: "stop" } | { type: "forget" } | { type: "config", prebufferMs: number }
 *   | { type: "port", port: MessagePort }} PlaybackCommand
 */

/**
 * @typedef {{ type: "stats", level: number, playedTotal: number, items: object, underruns: number,
 *       starvedMs: number, rate: number, queuedMs: number }
 *   | { type: "chunk", chunk: number, item: string, recv: number, start: number, offsetMs: number,
 *       fresh: boolean, first: boolean }
 *   | { type: "stopped", silentAt: number,
 *       items: { item: string, index: number, played: number, received: number, rate: number }[] }} PlaybackReport
 */

export {};
