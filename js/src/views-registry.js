// @ts-check
// Every live view on the page (tests and benchmarks read their numbers here; a view that
// attaches detaches the other views of the same widget).

/** @returns {{ views: any[] }} */
export function registry() {
  const page = /** @type {{ __realtime_widget?: { views: any[] } }} */ (globalThis);
  if (!page.__realtime_widget) page.__realtime_widget = { views: [] };
  return page.__realtime_widget;
}
