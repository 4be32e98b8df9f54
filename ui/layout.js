// Pieces shared by the pages: links between routes, the dataset's tab bar, loading and error
// states.

import { h, notice } from "./dom.js";

/** The hash link of a UI route, each segment encoded. */
export function link(segments, query = {}) {
  const path = segments.map((part) => encodeURIComponent(part)).join("/");
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
  }
  const text = params.toString();
  return `#/${path}${text ? `?${text}` : ""}`;
}

/** The tab bar of a dataset's pages. */
export function datasetTabs(id, active, version) {
  const query = version !== null && version !== undefined && version !== "" ? { version } : {};
  const tabs = [
    ["overview", "Overview", link(["datasets", id], query)],
    ["columns", "Columns", link(["datasets", id, "columns"], query)],
    ["rows", "Rows", link(["datasets", id, "rows"], query)],
    ["compare", "Compare", link(["datasets", id, "compare"])],
    ["lineage", "Lineage", link(["datasets", id, "lineage"])],
    ["upload", "New version", link(["datasets", id, "upload"])],
  ];
  return h(
    "nav",
    { class: "tabs", "aria-label": "Dataset pages" },
    h(
      "ul",
      {},
      tabs.map(([key, label, href]) =>
        h("li", {}, h("a", { href, class: key === active ? "active" : null, "aria-current": key === active ? "page" : null }, label)),
      ),
    ),
  );
}

/** "Loading …" while the API answers. */
export function loading(what) {
  return h("p", { class: "loading", role: "status" }, `Loading ${what}…`);
}

/** The API's message for a failed call (the signed-out case is handled by the router). */
export function failure(error, what) {
  const message = error?.message ?? String(error);
  const prefix = what ? `Could not load ${what}: ` : "";
  return notice(`${prefix}${message}`, "error");
}

/** A page heading, focused after navigation so that screen readers announce the page. */
export function heading(text, sub) {
  return h("header", { class: "page-header" }, h("h1", { tabindex: "-1" }, text), sub ? h("p", { class: "muted" }, sub) : null);
}

/**
 * A labelled select of versions (`name` is its form field), `current` selected — added as an
 * option of its own when it is not among `versions` (an older version than those listed).
 * It applies nothing by itself: the form around it has a button (a select that navigated on
 * each change would move keyboard users one option per page load).
 */
export function versionSelect(versions, current, name, label) {
  const id = `pick-${name}`;
  const listed = versions.some((v) => String(v.version) === String(current));
  const options = versions.map((v) => h("option", { value: String(v.version), selected: String(v.version) === String(current) }, `v${v.version} — ${v.row_count.toLocaleString("en-US")} rows`));
  if (!listed && current !== null && current !== undefined) options.unshift(h("option", { value: String(current), selected: true }, `v${current}`));
  return h("span", { class: "field-inline" }, h("label", { for: id }, label), " ", h("select", { id, name }, options));
}
