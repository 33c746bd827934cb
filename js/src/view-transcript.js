// @ts-check
// The transcript: one entry per item, live text, interrupted answers, tool-call cards.
// Methods of WidgetView (view.js), in a module of their own; `this` is the view.
import { formatRate } from "./codec.js";
import { h } from "./dom.js";
import { cutTranscript } from "./heard-text.js";

/** @typedef {import("./view-types.js").Json} Json */
/** @typedef {import("./view-types.js").Mixin} Mixin */
/** @typedef {import("./view-types.js").TranscriptEntry} TranscriptEntry */

export const transcriptMethods = /** @satisfies {Mixin} */ ({
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
    const it = /** @type {TranscriptEntry} */ (this.itemEntry(item.id, item.role, item.type)); // a message: calls returned above
    if (!existed && previousId) {
      const prev = this.items.get(previousId) || this.callByItem(previousId);
      if (prev && prev.el.nextSibling !== it.el) prev.el.after(it.el);
    }
    const text = (item.content || []).map((/** @type {Json} */ c) => c.text || c.transcript || "").join(" ").trim();
    if (text) this.setText(item.id, text, { final: done || item.role === "user" });
    else if (!it.text && item.role === "user" && (item.content || []).some((/** @type {Json} */ c) => c.type === "input_audio")) {
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
      const totalMs = (samples * 1000) / formatRate(this.outputFormat);
      // no audio seen: the proportion is unknown and the server keeps the whole transcript too
      it.heard = totalMs > 0 ? cutTranscript(it.text, endMs / totalMs) : it.text;
      it.el.dataset.audioEndMs = String(endMs);
      this.renderText(it);
    }
    if (!it.el.querySelector(".rtw-cut")) it.el.append(h("span", { class: "rtw-cut", text: ` interrupted at ${(endMs / 1000).toFixed(1)} s` }));
  },

  renderText(it) {
    if (it.heard == null) {
      it.textEl.textContent = it.text;
      return;
    }
    const rest = it.text.startsWith(it.heard) ? it.text.slice(it.heard.length) : "";
    const heard = h("span", { class: "rtw-heard" }, it.heard);
    // (replaceChildren writes a null argument as the text "null")
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
  },
});
