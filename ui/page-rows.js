// Rows: a page of a version's rows from /rows — paging, sorting by a click on a column's
// header, a text filter (q) and a SQL condition (where). The state lives in the URL.

import { h, replace, count, cell, dtypeBadge } from "./dom.js";
import { api, datasetPath } from "./api.js";
import { link, loading, failure, heading, datasetTabs } from "./layout.js";

const PAGE = 50;

/** A column name as a SQL identifier: double-quoted, inner quotes doubled. */
export function quoteIdentifier(name) {
  return `"${name.replaceAll('"', '""')}"`;
}

export async function render(ctx) {
  const [id] = ctx.params;
  const q = ctx.query;
  const state = {
    version: q.get("version") ?? "",
    q: q.get("q") ?? "",
    where: q.get("where") ?? "",
    sort: q.get("sort") ?? "",
    dir: q.get("dir") === "desc" ? "desc" : "asc",
    offset: Math.max(0, Number.parseInt(q.get("offset") ?? "0", 10) || 0),
  };
  const hrefOf = (change) => link(["datasets", id, "rows"], { ...state, dir: state.sort ? state.dir : "", ...change });
  const tabs = () => datasetTabs(id, "rows", state.version);
  replace(ctx.main, heading("Rows"), tabs(), loading("the rows"));
  const search = h("input", { id: "rows-q", type: "search", name: "q", value: state.q });
  const where = h("input", { id: "rows-where", name: "where", value: state.where, placeholder: "amount > 100 AND country = 'DE'", class: "mono" });
  const filters = h(
    "form",
    {
      class: "controls",
      role: "search",
      onsubmit: (event) => {
        event.preventDefault();
        ctx.go(hrefOf({ q: search.value.trim(), where: where.value.trim(), offset: 0 }));
      },
    },
    h("label", { for: "rows-q" }, "Find text"),
    search,
    h("label", { for: "rows-where" }, "Where (SQL)"),
    where,
    h("button", { type: "submit" }, "Filter"),
  );
  let page;
  let detail;
  try {
    [page, detail] = await Promise.all([
      api(datasetPath(id, "/rows"), {
        query: {
          version: state.version || "latest",
          offset: state.offset,
          limit: PAGE,
          q: state.q,
          where: state.where,
          order_by: state.sort ? `${quoteIdentifier(state.sort)} ${state.dir.toUpperCase()}` : "",
        },
      }),
      api(datasetPath(id), { query: { version: state.version || "latest" } }),
    ]);
  } catch (error) {
    if (ctx.current()) replace(ctx.main, heading("Rows"), tabs(), filters, failure(error, "the rows"));
    return;
  }
  if (!ctx.current()) return;
  const name = detail.dataset.name;
  ctx.title(`${name} · rows`);
  const header = page.columns.map((c) => {
    const sorted = state.sort === c.name;
    const next = sorted && state.dir === "asc" ? "desc" : "asc";
    return h(
      "th",
      { scope: "col", "aria-sort": sorted ? (state.dir === "asc" ? "ascending" : "descending") : null },
      h(
        "a",
        { href: hrefOf({ sort: c.name, dir: next, offset: 0 }), class: "sort", title: `Sort by ${c.name}, ${next === "asc" ? "ascending" : "descending"}` },
        h("span", { class: "col-name" }, c.name),
        sorted ? h("span", { "aria-hidden": "true" }, state.dir === "asc" ? " ▲" : " ▼") : null,
      ),
      " ",
      dtypeBadge(c.dtype),
    );
  });
  const table =
    page.rows.length === 0
      ? h("p", { class: "muted" }, state.q || state.where ? "No row matches the filter." : "This version has no rows.")
      : h(
          "div",
          { class: "table-scroll", tabindex: "0", role: "region", "aria-label": "Rows" },
          h(
            "table",
            { class: "data rows" },
            h("caption", { class: "visually-hidden" }, `Rows ${page.offset + 1} to ${page.offset + page.rows.length} of ${page.total}`),
            h("thead", {}, h("tr", {}, h("th", { scope: "col", class: "num" }, "#"), header)),
            h(
              "tbody",
              {},
              page.rows.map((row, i) =>
                h(
                  "tr",
                  {},
                  h("td", { class: "num muted" }, count(page.offset + i + 1)),
                  page.columns.map((c) => {
                    const value = row[c.name];
                    return h("td", { class: value === null || value === undefined ? "missing" : typeof value === "number" ? "num" : null }, cell(value));
                  }),
                ),
              ),
            ),
          ),
        );
  const last = page.offset + page.rows.length;
  const pager = h(
    "nav",
    { class: "pager", "aria-label": "Pages of rows" },
    h("span", {}, `${count(page.total === 0 ? 0 : page.offset + 1)}–${count(last)} of ${count(page.total)} rows`),
    page.offset > 0 ? h("a", { href: hrefOf({ offset: Math.max(0, page.offset - PAGE) }) }, "Previous") : null,
    last < page.total ? h("a", { href: hrefOf({ offset: page.offset + PAGE }) }, "Next") : null,
  );
  replace(ctx.main, heading(`${name}: rows`, `Version ${page.version}`), tabs(), filters, table, pager);
}
