// The versions of a dataset, newest last (as the API orders them), read page by page up to
// the newest `max`.

import { api, datasetPath } from "./api.js";

/** The newest `max` versions (at most 100 a page), oldest first, and the total count. */
export async function newestVersions(id, max = 100) {
  const first = await api(datasetPath(id, "/versions"), { query: { limit: 100, offset: 0 } });
  if (first.total <= first.items.length || max <= first.items.length) {
    return { items: first.items.slice(-max), total: first.total };
  }
  const offset = Math.max(0, first.total - Math.min(max, 100));
  const last = await api(datasetPath(id, "/versions"), { query: { limit: 100, offset } });
  return { items: last.items, total: last.total };
}
