// Compare: two versions side by side — schema changes with their compatibility, the dataset's
// drift verdict, the per-column drift table sorted by shift, and for a chosen column the two
// distributions overlaid.

import { h, replace, count, num, percent, dtypeBadge, notice } from "./dom.js";
import { api, datasetPath } from "./api.js";
import { link, loading, failure, heading, datasetTabs, versionSelect } from "./layout.js";
import { newestVersions } from "./versions.js";
import { overlay, categoryShift } from "./charts.js";

const ALL_TESTS = "ks,chi2,ztest,psi,jensenshannon,wasserstein";

/** The column's shift, for sorting: PSI when there is one, else the deciding test's distance. */
function shiftOf(diff) {
  if (typeof diff.psi === "number") return diff.psi;
  if (diff.drift && diff.drift.p_value === null && typeof diff.drift.statistic === "number") return diff.drift.statistic;
  return -1;
}

function schemaChanges(changes) {
  if (changes.length === 0) return h("p", { class: "muted" }, "Same columns with the same types.");
  return h(
    "table",
    { class: "schema-changes" },
    h("caption", { class: "visually-hidden" }, "Schema changes"),
    h("thead", {}, h("tr", {}, ["Column", "Change", "From", "To", "Compatibility"].map((n) => h("th", { scope: "col" }, n)))),
    h(
      "tbody",
      {},
      changes.map((c) =>
        h(
          "tr",
          {},
          h("td", {}, c.column),
          h("td", {}, c.change.replace("_", " ")),
          h("td", {}, c.from ? dtypeBadge(c.from) : "—"),
          h("td", {}, c.to ? dtypeBadge(c.to) : "—"),
          h("td", {}, h("span", { class: `badge compat-${c.compatibility}` }, c.compatibility)),
        ),
      ),
    ),
  );
}

function driftTable(diffs, testNames, selected, onSelect) {
  const entries = Object.entries(diffs).sort((a, b) => shiftOf(b[1]) - shiftOf(a[1]) || a[0].localeCompare(b[0]));
  const headers = ["Column", "Type", "Test", "Statistic", "p-value", "Threshold", "Drift", "PSI", "Mean shift", ...testNames];
  return h(
    "div",
    { class: "table-scroll", tabindex: "0", role: "region", "aria-label": "Drift table, scrollable" },
    h(
      "table",
      { class: "drift" },
      h("caption", { class: "visually-hidden" }, "Drift by column, the largest shift first"),
      h("thead", {}, h("tr", {}, headers.map((n) => h("th", { scope: "col" }, n)))),
      h(
        "tbody",
        {},
        entries.map(([name, d]) => {
          const drift = d.drift;
          const tests = testNames.map((t) => {
            const r = d.tests?.[t];
            if (!r) return h("td", {}, "—");
            return h("td", { class: "num" }, num(r.statistic, 4), r.p_value !== null && r.p_value !== undefined ? h("span", { class: "muted small" }, ` p=${num(r.p_value, 3)}`) : null);
          });
          return h(
            "tr",
            { class: name === selected ? "selected" : null, dataset: { column: name } },
            h("th", { scope: "row" }, h("button", { type: "button", class: "link", "aria-pressed": name === selected ? "true" : "false", onclick: () => onSelect(name) }, name)),
            h("td", {}, dtypeBadge(d.type)),
            h("td", {}, drift ? drift.test : "—"),
            h("td", { class: "num" }, drift ? num(drift.statistic, 4) : "—"),
            h("td", { class: "num" }, drift ? num(drift.p_value, 3) : "—"),
            h("td", { class: "num" }, drift ? num(drift.threshold, 3) : "—"),
            h("td", {}, drift ? h("span", { class: `badge ${drift.drift_detected ? "drifted" : "stable"}` }, drift.drift_detected ? "drifted" : "no drift") : "—"),
            h("td", { class: "num" }, num(d.psi, 3), d.shift_level ? h("span", { class: "muted small" }, ` ${d.shift_level}`) : null),
            h("td", { class: "num" }, d.mean_shift_pct === null || d.mean_shift_pct === undefined ? "—" : `${num(d.mean_shift_pct, 3)}%`),
            tests,
          );
        }),
      ),
    ),
  );
}

export async function render(ctx) {
  const [id] = ctx.params;
  const tabs = () => datasetTabs(id, "compare");
  replace(ctx.main, heading("Compare versions"), tabs(), loading("the versions"));
  let versions;
  let detail;
  try {
    [versions, detail] = await Promise.all([newestVersions(id, 100), api(datasetPath(id))]);
  } catch (error) {
    if (ctx.current()) replace(ctx.main, heading("Compare versions"), tabs(), failure(error, "the versions"));
    return;
  }
  if (!ctx.current()) return;
  const name = detail.dataset.name;
  ctx.title(`${name} · compare`);
  const items = versions.items;
  if (items.length < 2) {
    replace(
      ctx.main,
      heading(`${name}: compare versions`),
      tabs(),
      h("div", { class: "empty" }, h("p", {}, "This dataset has one version: upload a second to compare them."), h("p", {}, h("a", { class: "button primary", href: link(["datasets", id, "upload"]) }, "Upload a new version"))),
    );
    return;
  }
  const v1 = ctx.query.get("v1") ?? String(items[items.length - 2].version);
  const v2 = ctx.query.get("v2") ?? String(items[items.length - 1].version);
  const allTests = ctx.query.get("tests") === "all";
  const selected = ctx.query.get("column");
  const state = { v1, v2, tests: allTests ? "all" : "", column: selected ?? "" };
  const pickersFor = (from, to) =>
    h(
      "form",
      {
        class: "controls",
        onsubmit: (event) => {
          event.preventDefault();
          const form = new FormData(event.currentTarget);
          ctx.go(link(["datasets", id, "compare"], { v1: form.get("v1"), v2: form.get("v2"), tests: form.get("tests") ? "all" : "" }));
        },
      },
      versionSelect(items, from, "v1", "From (reference)"),
      versionSelect(items, to, "v2", "To (current)"),
      h("span", { class: "field-inline" }, h("input", { type: "checkbox", id: "all-tests", name: "tests", checked: allTests }), " ", h("label", { for: "all-tests" }, "Run every drift test")),
      h("button", { type: "submit", class: "primary" }, "Compare"),
    );
  let pickers = pickersFor(v1, v2);
  replace(ctx.main, heading(`${name}: compare versions`), tabs(), pickers, loading("the comparison (every value of both versions is read)"));
  let result;
  try {
    result = await api(datasetPath(id, "/compare"), { query: { v1, v2, tests: allTests ? ALL_TESTS : "" } });
  } catch (error) {
    if (ctx.current()) replace(ctx.main, heading(`${name}: compare versions`), tabs(), pickers, failure(error, "the comparison"));
    return;
  }
  if (!ctx.current()) return;
  const sum = result.summary;
  // `latest` or an alias in the address: the pickers show the numbers they named.
  pickers = pickersFor(sum.v1, sum.v2);
  state.v1 = String(sum.v1);
  state.v2 = String(sum.v2);
  const verdict = h(
    "section",
    { class: `card verdict ${sum.dataset_drift ? "drifted" : "stable"}`, "aria-labelledby": "h-verdict" },
    h("h2", { id: "h-verdict" }, sum.dataset_drift ? "Dataset drift detected" : "No dataset drift"),
    h(
      "p",
      {},
      `${count(sum.drifted_columns.length)} of ${count(sum.compared_columns)} compared columns drifted (${percent(sum.drift_share)}). `,
      `Rows: ${count(sum.v1_rows)} → ${count(sum.v2_rows)} (${sum.rows_diff >= 0 ? "+" : ""}${count(sum.rows_diff)}). `,
      `Columns: ${count(sum.v1_columns)} → ${count(sum.v2_columns)}.`,
    ),
    sum.drifted_columns.length ? h("p", {}, "Drifted: ", sum.drifted_columns.join(", ")) : null,
  );
  const detailBox = h("section", { class: "card", "aria-labelledby": "h-column", "aria-live": "polite", id: "column-detail" });
  const testNames = allTests ? ALL_TESTS.split(",") : [];
  const showColumn = async (column) => {
    state.column = column;
    history.replaceState(null, "", link(["datasets", id, "compare"], state));
    for (const row of ctx.main.querySelectorAll("table.drift tbody tr")) {
      const on = row.dataset.column === column;
      row.classList.toggle("selected", on);
      row.querySelector("button")?.setAttribute("aria-pressed", on ? "true" : "false");
    }
    const diff = result.column_diffs[column];
    replace(detailBox, h("h2", { id: "h-column" }, `Column ${column}`), loading("both distributions"));
    try {
      if (diff && diff.type === "categorical") {
        replace(detailBox, h("h2", { id: "h-column" }, `Column ${column}`), categoryShift(column, diff.top_changes ?? [], [`v${sum.v1}`, `v${sum.v2}`]));
        return;
      }
      const [a, b] = await Promise.all([
        api(datasetPath(id, "/analyze"), { query: { version: v1 } }),
        api(datasetPath(id, "/analyze"), { query: { version: v2 } }),
      ]);
      if (!ctx.current() || state.column !== column) return;
      const ha = a.statistics.columns[column]?.histogram;
      const hb = b.statistics.columns[column]?.histogram;
      if (ha && hb && ha.counts.length && hb.counts.length) {
        replace(detailBox, h("h2", { id: "h-column" }, `Column ${column}`), overlay(column, ha, hb, [`v${sum.v1}`, `v${sum.v2}`]));
      } else {
        replace(detailBox, h("h2", { id: "h-column" }, `Column ${column}`), notice("This column has no histogram in one of the versions (no numeric values)."));
      }
    } catch (error) {
      if (ctx.current() && state.column === column) replace(detailBox, h("h2", { id: "h-column" }, `Column ${column}`), failure(error, "the distributions"));
    }
  };
  const diffs = result.column_diffs;
  const names = Object.keys(diffs);
  const initial = selected && diffs[selected] ? selected : names.sort((x, y) => shiftOf(diffs[y]) - shiftOf(diffs[x]))[0];
  replace(
    ctx.main,
    heading(`${name}: compare versions`, `v${sum.v1} → v${sum.v2}`),
    tabs(),
    pickers,
    verdict,
    h("section", { "aria-labelledby": "h-schema-changes" }, h("h2", { id: "h-schema-changes" }, "Schema changes"), schemaChanges(sum.schema_changes)),
    h(
      "section",
      { "aria-labelledby": "h-drift" },
      h("h2", { id: "h-drift" }, "Drift by column"),
      h("p", { class: "muted small" }, "Largest shift first (PSI, else the deciding distance). Choose a column to see both distributions."),
      names.length ? driftTable(diffs, testNames, initial, showColumn) : h("p", { class: "muted" }, "No column is in both versions."),
    ),
    names.length ? detailBox : null,
  );
  if (initial) showColumn(initial);
}
