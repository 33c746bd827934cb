// @ts-check
// Finding the Jupyter server from the page, and one WebSocket to a hub session.

/** @typedef {import("./messages.js").ClientEvent} ClientEvent */
/** @typedef {import("./messages.js").ServerEvent} ServerEvent */
/** @typedef {import("./messages.js").WorkerReport} WorkerReport */
/** @typedef {import("./messages.js").WorkerCommand} WorkerCommand */
/**
 * The part of anywidget's model the view uses (anywidget's AnyModel, without the package).
 * @typedef {object} AnyModel
 * @property {(name: string) => any} get  a trait's value (its type is the trait's)
 * @property {(name: string, value: unknown) => void} set
 * @property {() => void} save_changes
 * @property {(content: object, callbacks?: object, buffers?: ArrayBuffer[]) => void} send
 * @property {(event: string, handler: (...args: any[]) => void) => void} on  a handler's arguments depend on the event ("msg:custom", "change:<trait>", ...)
 * @property {(event: string, handler?: (...args: any[]) => void) => void} off
 */
/** @typedef {{ found: boolean, baseUrl: string, token: string, wsUrl: string }} PageConfig */
/** @typedef {(state: string, detail?: { code?: number, reason?: string }) => void} OnState */
/** @typedef {(event: ServerEvent, at?: number) => void} OnEvent */

/**
 * Where the Jupyter server is, from the page's own config (JupyterLab, Notebook 7, ...).
 * @returns {PageConfig}
 */
export function pageConfig(doc = document, loc = location) {
  /** @type {{ baseUrl?: string, token?: string, wsUrl?: string }} */
  let cfg = {};
  const el = doc.getElementById("jupyter-config-data");
  if (el) {
    try {
      cfg = JSON.parse(el.textContent || "{}");
    } catch (e) {
      cfg = {};
    }
  }
  const data = (doc.body && doc.body.dataset) || {};
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

/**
 * @param {PageConfig} cfg
 * @param {string} wsPath  the session's ``ws_path``
 * @param {number | null} [after]  catch up from this x_seq
 */
export function sessionSocketUrl(cfg, wsPath, after) {
  const q = new URLSearchParams({ source: "widget", x_events: "all" }); // x_hub.* events too (strict clients get only the spec's)
  if (after != null) q.set("after", String(after));
  if (cfg.token) q.set("token", cfg.token); // as Jupyter's own front end does; the login cookie is sent too
  return cfg.wsUrl + wsPath.replace(/^\//, "") + "?" + q.toString();
}

/**
 * One client attached to a hub session: replays, then live events; reattaches with
 * `after=<last x_seq>` when the socket drops (never when the session ended).
 */
export class HubConnection {
  /** @param {{ url: (after: number) => string, onEvent: OnEvent, onState: OnState }} options */
  constructor({ url, onEvent, onState }) {
    this.makeUrl = url;
    this.onEvent = onEvent;
    this.onState = onState;
    /** @type {WebSocket | null} */
    this.ws = null;
    this.lastSeq = 0;
    this.closing = false;
    this.everOpened = false;
    this.retries = 0;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.timer = undefined;
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
        if (ev.x_seq <= this.lastSeq) return; // seen before a reattach
        this.lastSeq = ev.x_seq;
      }
      this.onEvent(ev);
    };
    ws.onclose = (e) => {
      if (ws !== this.ws) return;
      this.ws = null;
      if (this.closing) return this.onState("closed", e);
      if (e.code === 1000 && (e.reason || "").startsWith("session ")) return this.onState("ended", e);
      if (!this.everOpened) return this.onState("failed", e);
      if (this.retries++ >= 10) return this.onState("lost", e);
      this.onState("reattaching", e);
      this.timer = setTimeout(() => this.open(), Math.min(250 * 2 ** this.retries, 8000));
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
    if (this.ws) this.ws.close(1000, "widget closed");
    this.ws = null;
  }
}

/** The same interface over the I/O worker, which holds the socket (see io-worker.js). */
export class WorkerConnection {
  /** @param {{ worker: Worker, url: string, onEvent: OnEvent, onState: OnState, onMessage: (m: WorkerReport) => void }} options */
  constructor({ worker, url, onEvent, onState, onMessage }) {
    this.worker = worker;
    this.url = url;
    this.onEvent = onEvent;
    this.onState = onState;
    this.open_ = false;
    this.worker.onmessage = (/** @type {MessageEvent<WorkerReport>} */ e) => {
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
}

/** The same interface over the widget's comm (where the browser cannot reach the hub). */
export class CommConnection {
  /** @param {{ model: AnyModel, onEvent: OnEvent, onState: OnState }} options */
  constructor({ model, onEvent, onState }) {
    this.model = model;
    this.onEvent = onEvent;
    this.onState = onState;
    this.lastSeq = 0;
    this.open_ = false;
    this.handler = (/** @type {{ type?: string, events?: ServerEvent[] } | null} */ msg) => {
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
}
