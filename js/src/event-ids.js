// @ts-check
// Client event ids of the widget: unique per page (a view's number, or "io" for the I/O
// worker), sortable by time, and counted so that the hub's log shows the order they were sent.

/**
 * @param {string | number} scope  the view's number, or "io"
 * @param {number} n  this scope's running count of events sent
 * @returns {string}
 */
export function eventId(scope, n) {
  return `event_widget_${scope}_${Date.now().toString(36)}_${n}`;
}
