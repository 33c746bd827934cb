// The view's shape for the type checker. WidgetView (view.js) holds the state; its other
// methods live in five mixin modules (view-render, -connection, -transcript, -turns, -mic)
// that Object.assign puts on its prototype. A mixin's `this` is the whole view, so the
// mixins' methods and the fields they set are declared here, once, by hand: inferring
// them from the mixins themselves would make the view's type depend on itself.
import type { CommConnection, HubConnection, WorkerConnection } from "./hub.js";
import type { CaptureFrame, LevelMessage, PlaybackReport, ServerEvent, WorkerReport } from "./messages.js";
import type { WidgetView } from "./view.js";

/** Unchecked JSON from the server (an item, a session, an error). */
export type Json = Record<string, any>;

/** One transcript entry (an item's message). */
export interface TranscriptEntry {
  el: HTMLElement;
  textEl: HTMLElement;
  role: string;
  type: string;
  text: string;
  /** The part played before a barge-in; null while the answer is whole. */
  heard: string | null;
}

/** A tool call's card in the transcript. */
export interface CallCard {
  el: HTMLElement;
  title: HTMLElement;
  args: HTMLElement;
  result: HTMLElement;
  itemId: string | null;
}

export type Connection = HubConnection | WorkerConnection | CommConnection;

/** What a barge-in waits for: the playback worklet's "stopped" report. */
export interface PendingStop {
  reason: string;
  clickAt: number;
  local: boolean;
}

/** Fields the mixins set (build() makes the elements). */
export interface ViewFields {
  connectBtn: HTMLButtonElement;
  micBtn: HTMLButtonElement;
  modeSel: HTMLSelectElement;
  pttBtn: HTMLButtonElement;
  stopBtn: HTMLButtonElement;
  sendBtn: HTMLButtonElement;
  textInput: HTMLInputElement;
  inMeter: HTMLElement;
  inMeterFill: HTMLElement;
  outMeter: HTMLElement;
  outMeterFill: HTMLElement;
  statusEl: HTMLElement;
  counterEl: HTMLElement;
  statsEl: HTMLElement;
  micNote: HTMLElement;
  errorEl: HTMLElement;
  errorText: HTMLElement;
  transcript: HTMLElement;
  /** The way to the session: "hub" (a WebSocket) or "comm" (relayed by the kernel). */
  transport: "hub" | "comm";
  wantAttach: boolean;
  attachedSession: string | undefined;
  micUnavailable: string | undefined;
  shownError: string | null;
  pttFlushing: boolean;
}

/** The mixins' methods. */
export interface ViewMethods {
  // view-render.js
  build(): void;
  renderMode(): void;
  renderState(): void;
  startingText(): string;
  keptText(): string;
  renderStats(): void;
  setMicUnavailable(text: string): void;
  showError(message: string): void;
  clearError(): void;
  setTraits(traits: Record<string, unknown>): void;
  syncLevels(): void;
  listening(): boolean;
  syncStatus(): void;
  // view-connection.js
  toggleConnect(): Promise<void>;
  watchEngine(): Promise<void>;
  maybeAttach(): void;
  attach(kind: "hub" | "comm"): void;
  onConnState(state: string, detail?: { code?: number; reason?: string }): void;
  dropWorker(): void;
  postFormats(): void;
  updateGate(): void;
  onWorkerMessage(m: WorkerReport): void;
  disconnect(): void;
  send(event: { type: string; event_id?: string; [field: string]: unknown }): string | null;
  onCustom(msg: Json | null | undefined): void;
  // view-transcript.js
  itemEntry(id: string, role: string, type: string): TranscriptEntry | null;
  onItem(item: Json, previousId?: string, done?: boolean): void;
  appendText(id: string, delta: string): void;
  setText(id: string, text: string, options?: { role?: string; failed?: boolean; final?: boolean }): void;
  markTruncated(id: string, endMs: number): void;
  renderText(it: TranscriptEntry): void;
  callByItem(itemId: string): CallCard | null;
  callCard(callId: string, name: string | null, itemId: string | null): CallCard;
  scroll(): void;
  // view-turns.js
  onAudioDelta(ev: ServerEvent & Json, at: number): void;
  onPlayback(m: PlaybackReport): void;
  bargeIn(reason: string, options?: { local?: boolean }): void;
  onStopped(m: Extract<PlaybackReport, { type: "stopped" }>): void;
  pttStart(): Promise<void>;
  pttEnd(): Promise<void>;
  sendText(): void;
  setMode(mode: string): void;
  applyMode(mode: string): void;
  // view-mic.js
  toggleMic(): Promise<void>;
  startMic(): Promise<boolean>;
  stopMic(): void;
  onFrame(m: CaptureFrame | LevelMessage): void;
  sendQueued(): void;
}

/** The whole view, as every method sees `this`. */
export type View = WidgetView & ViewFields & ViewMethods;

/** A mixin module's methods: some of the view's, with the whole view as `this`. */
export type Mixin = Partial<ViewMethods> & ThisType<View>;
