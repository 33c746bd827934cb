// @ts-check
// The view's measured numbers (what the benchmarks and tests read from the page): their
// shape, and capped sample lists.

const MAX_SAMPLES = 20000;

/**
 * Append a sample unless the list is full (a long session must not grow without bound).
 * @param {number[]} arr
 * @param {number} v
 */
export function pushCapped(arr, v) {
  if (arr.length < MAX_SAMPLES) arr.push(v);
}

export function newStats() {
  return {
    eventsReceived: 0,
    eventsSent: 0,
    appendsSent: 0,
    audioSentMs: 0,
    framesCaptured: 0,
    captureLatencyMs: /** @type {number[]} */ ([]), // first sample of a frame -> append written to the socket
    captureOverheadMs: /** @type {number[]} */ ([]), // last sample of a frame -> append written to the socket
    playbackLatencyMs: /** @type {number[]} */ ([]), // audio delta received at an empty buffer -> its first sample rendered by the worklet
    firstAudioLatencyMs: /** @type {number[]} */ ([]), // first delta of an item received -> rendered (both: + outputLatencyMs = audible)
    audioDeltasReceived: 0,
    audioReceivedSamples: 0,
    playedSamples: 0, // device-rate samples the playback worklet played
    itemsPlayback: /** @type {object} */ ({}), // item_id -> {played, received, rate, ended, stopped, index}
    underruns: 0,
    starvedMs: 0,
    stops: /** @type {{ reason: string, clickAt: number, silentAt: number, stopToSilenceMs: number, items: object[] }[]} */ ([]),
    truncatesSent: /** @type {{ item_id: string, content_index: number, audio_end_ms: number, played: number, received: number, rate: number, reason: string }[]} */ ([]),
    truncated: /** @type {object[]} */ ([]), // conversation.item.truncated events received
    cancelsSent: 0,
    outputLatencyMs: 0,
    sampleRate: 0,
    micSettings: /** @type {MediaTrackSettings | null} */ (null),
    connect: { clickAt: 0, sessionIdAt: 0, openAt: 0, sessionCreatedAt: 0, liveAt: 0, clicks: 0, requests: 0 }, // Date.now() of each step
    queueSent: /** @type {{ ms: number, droppedMs: number, appends: number }[]} */ ([]), // audio kept while connecting, sent once live
    micStarts: 0, // getUserMedia streams opened
  };
}
