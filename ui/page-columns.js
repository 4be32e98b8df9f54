// Columns: every column's statistics from /analyze with a chart — a histogram for numbers and
// datetimes, the most frequent values for text, category and bool — and the correlation
// heatmap.

import { h, replace, count, num, percent, dtypeBadge, notice } from "./dom.js";
import { api, datasetPath } from "./api.js";
import { loading, failure, heading, datasetTabs } from "./layout.js";
import { histogram, topValues, heatmap } from "./charts.js";

function statRows(stats) {
  const rows = [
    ["Distinct", count(stats.unique)],
    ["Missing", `${count(stats.missing)} (${percent(stats.missing_percent, 2)})`],
  ];
  if (stats.min !== undefined && stats.min !== null) rows.push(["Min", num(stats.min, 6)]);
  if (stats.max !== undefined && stats.max !== null) rows.push(["Max", num(stats.max, 6)]);
  if (stats.mean !== undefined && stats.mean !== null) rows.push(["Mean", num(stats.mean, 6)]);
  if (stats.std !== undefined && stats.std !== null) rows.push(["Std. dev.", num(stats.std, 6)]);
  if (stats.percentiles) {
    rows.push(["25th / 50th / 75th pct.", `${num(stats.percentiles.p25, 5)} / ${num(stats.percentiles.p50, 5)} / ${num(stats.percentiles.p75, 5)}`]);
  }
  if (stats.skewness !== undefined && stats.skewness !== null) rows.push(["Skewness", num(stats.skewness, 4)]);
  if (stats.kurtosis !== undefined && stats.kurtosis !== null) rows.push(["Kurtosis", num(stats.kurtosis, 4)]);
  if (stats.outlier_count !== undefined && stats.outlier_count !== null) rows.push(["Outliers (1.5 × IQR)", count(stats.outlier_count)]);
  if (stats.infinite_count) rows.push(["Infinite", count(stats.infinite_count)]);
  return rows;
}

function columnCard(name, stats, rowCount) {
  const hasHistogram = stats.histogram && stats.histogram.counts && stats.histogram.counts.length > 0;
  const chart = hasHistogram
    ? histogram(name, stats.histogram.counts, stats.histogram.bin_edges)
    : stats.top_values && Object.keys(stats.top_values).length
      ? topValues(name, stats.top_values, rowCount)
      : h("p", { class: "muted" }, "No chart: the column has no values.");
  const missingShare = rowCount ? stats.missing / rowCount : 0;
  return h(
    "article",
    { class: "card column-card", dataset: { column: name, kind: hasHistogram ? "histogram" : "top-values" } },
    h("h2", {}, h("span", { class: "col-name" }, name), " ", dtypeBadge(stats.type)),
    h(
      "div",
      { class: "missing-bar", "aria-hidden": "true" },
      h("span", { class: "missing-fill", dataset: { share: String(missingShare) } }),
    ),
    h(
      "p",
      { class: "small muted" },
      `${percent(missingShare)} missing`,
      stats.outlier_count !== undefined && stats.outlier_count !== null ? ` · ${count(stats.outlier_count)} outliers` : "",
    ),
    h("div", { class: "column-body" }, chart, h("table", { class: "stats" }, h("caption", { class: "visually-hidden" }, `Statistics of ${name}`), h("tbody", {}, statRows(stats).map(([label, value]) => h("tr", {}, h("th", { scope: "row" }, label), h("td", {}, value)))))),
  );
}

export async function render(ctx) {
  const [id] = ctx.params;
  const version = ctx.query.get("version") ?? "latest";
  replace(ctx.main, heading("Columns"), datasetTabs(id, "columns", ctx.query.get("version")), loading("the statistics (every row is read the first time)"));
  let analysis;
  let detail;
  try {
    [analysis, detail] = await Promise.all([
      api(datasetPath(id, "/analyze"), { query: { version } }),
      api(datasetPath(id), { query: { version } }),
    ]);
  } catch (error) {
    if (ctx.current()) replace(ctx.main, heading("Columns"), datasetTabs(id, "columns", ctx.query.get("version")), failure(error, "the statistics"));
    return;
  }
  if (!ctx.current()) return;
  const d = detail.dataset;
  ctx.title(`${d.name} · columns`);
  const stats = analysis.statistics;
  const cards = Object.entries(stats.columns).map(([name, s]) => columnCard(name, s, stats.row_count));
  replace(
    ctx.main,
    heading(`${d.name}: columns`, `Version ${d.version} · ${count(stats.row_count)} rows · ${count(stats.duplicate_rows)} duplicate rows`),
    datasetTabs(id, "columns", ctx.query.get("version")),
    analysis.error ? notice(analysis.error, "error") : null,
    h("div", { class: "column-grid" }, cards),
    h("section", { class: "card", "aria-labelledby": "h-correlations" }, h("h2", { id: "h-correlations" }, "Correlations"), heatmap(stats.correlations)),
  );
  // Missing-share bars are sized through the CSSOM (the CSP forbids style attributes).
  for (const fill of ctx.main.querySelectorAll(".missing-fill")) {
    fill.style.width = `${Math.min(100, Number(fill.dataset.share) * 100)}%`;
  }
}
