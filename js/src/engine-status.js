// @ts-check
// Where the Jupyter server's local speech engine is (GET <base>realtime/status), so the
// widget can say "Starting the local speech engine" while a first local session waits for
// its models. null where the page cannot reach the hub.

/**
 * @param {{ found: boolean, token?: string, baseUrl: string }} cfg  the page's Jupyter config (hub.js pageConfig)
 * @returns {Promise<{ state: string, seconds?: number } | null>}
 */
export async function localEngineState(cfg) {
  if (!cfg.found) return null;
  /** @type {Record<string, string>} */
  const headers = cfg.token ? { Authorization: `token ${cfg.token}` } : {};
  try {
    const r = await fetch(`${cfg.baseUrl}realtime/status`, { headers, credentials: "same-origin", cache: "no-store" });
    if (!r.ok) return null;
    const body = await r.json();
    const local = (body.providers || {}).local || {};
    return local.engine || null;
  } catch (e) {
    return null;
  }
}
