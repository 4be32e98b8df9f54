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

/** The version picker shared by the dataset pages: changing it moves to `?version=`. */
export function versionPicker(versions, current, onChange, label = "Version") {
  const id = `version-${Math.random().toString(36).slice(2, 8)}`;
  const select = h(
    "select",
    { id, onchange: (event) => onChange(event.target.value) },
    versions.map((v) => h("option", { value: String(v.version), selected: String(v.version) === String(current) }, `v${v.version} — ${v.row_count} rows`)),
  );
  return h("span", { class: "field-inline" }, h("label", { for: id }, label), " ", select);
}
