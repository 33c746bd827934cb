// @ts-check
// anywidget entry point of RealtimeWidget (see realtime_widget/widget/).
import { WidgetView } from "./view.js";

export default {
  /** @param {{ model: import("./hub.js").AnyModel, el: HTMLElement }} context */
  render({ model, el }) {
    const view = /** @type {import("./view-types.js").View} */ (new WidgetView(model, el));
    // called when the view is removed: releases the microphone, the worklets and the socket
    return () => view.destroy();
  },
};
