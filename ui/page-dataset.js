// Dataset: its name and description, the versions timeline (who, when, rows, quality score),
// the 20-row preview, the schema, the quality report and the downloads of one version.
// The time from the API's answers to the rendered page is measured as "dataset-render".

import { h, replace, count, when, num, cell, dtypeBadge, notice } from "./dom.js";
import { api, datasetPath, download } from "./api.js";
import { link, loading, failure, heading, datasetTabs, versionSelect } from "./layout.js";
import { newestVersions } from "./versions.js";

const FORMATS = [
  ["csv", "CSV", "csv"],
  ["xlsx", "Excel (XLSX)", "xlsx"],
  ["parquet", "Parquet", "parquet"],
  ["jsonl", "JSON Lines", "jsonl"],
  ["original", "As uploaded", "bin"],
];

function scoreClass(score) {
  if (score >= 90) return "good";
  if (score >= 70) return "fair";
  return "poor";
}

function timeline(id, versions, current) {
  const items = [...versions].reverse().map((v) =>
    h(
      "li",
      { class: String(v.version) === String(current) ? "current" : null, dataset: { version: String(v.version) } },
      h("a", { href: link(["datasets", id], { version: v.version }), "aria-current": String(v.version) === String(current) ? "true" : null }, `v${v.version}`),
      h("span", { class: "who" }, ` by ${v.created_by_name}`),
      h("span", { class: "when" }, `, ${when(v.created_at)}`),
      h("span", { class: "rows" }, ` · ${count(v.row_count)} rows × ${count(v.column_count)} columns`),
      h("span", { class: "score" }, ""),
      v.description ? h("div", { class: "muted small" }, v.description) : null,
    ),
  );
  return h("ol", { class: "timeline", "aria-label": "Versions, newest first" }, items);
}

/** Fills in each timeline entry's quality score, one request per version, after the page shows. */
async function fillScores(ctx, id, list) {
  const entries = [...list.querySelectorAll("li[data-version]")].slice(0, 20);
  await Promise.all(
    entries.map(async (li) => {
      try {
        const report = await api(datasetPath(id, "/quality"), { query: { version: li.dataset.version } });
        if (!ctx.current()) return;
        const score = report.quality.overall_score;
        replace(li.querySelector(".score"), " · quality ", h("span", { class: `score-pill ${scoreClass(score)}` }, `${num(score, 3)}/100`));
      } catch {
        // The score stays blank; the version's own page shows the error.
      }
    }),
  );
}

function previewTable(columns, preview, error) {
  if (error) return notice(`The preview could not be read: ${error}`, "error");
  if (preview.length === 0) return h("p", { class: "muted" }, "This version has no rows.");
  const names = columns.map((c) => c.name);
  return h(
    "div",
    { class: "table-scroll", tabindex: "0", role: "region", "aria-label": "Preview rows" },
    h(
      "table",
      { class: "data preview" },
      h("caption", { class: "visually-hidden" }, `The first ${preview.length} rows`),
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, h("span", { class: "col-name" }, c.name), " ", dtypeBadge(c.dtype))))),
      h("tbody", {}, preview.map((row) => h("tr", {}, names.map((name) => {
        const value = row[name];
        return h("td", { class: value === null || value === undefined ? "missing" : typeof value === "number" ? "num" : null }, cell(value));
      })))),
    ),
  );
}

function schemaList(columns) {
  return h(
    "table",
    { class: "schema" },
    h("caption", { class: "visually-hidden" }, "Schema"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "#"), h("th", { scope: "col" }, "Column"), h("th", { scope: "col" }, "Type"))),
    h("tbody", {}, columns.map((c, i) => h("tr", {}, h("td", { class: "num" }, String(i + 1)), h("td", {}, c.name), h("td", {}, dtypeBadge(c.dtype))))),
  );
}

function qualityReport(report) {
  const score = report.quality.overall_score;
  const checks = report.quality.checks.map((check) =>
    h(
      "li",
      { class: check.passed ? "passed" : "failed" },
      h("span", { class: "mark", "aria-hidden": "true" }, check.passed ? "✓" : "✗"),
      h("strong", {}, check.name.replaceAll("_", " ")),
      h("span", { class: "visually-hidden" }, check.passed ? " (passed)" : " (failed)"),
      ": ",
      check.details,
    ),
  );
  const contract = report.contract
    ? h(
        "div",
        { class: "contract" },
        h("h3", {}, report.contract.passed ? "Contract: passed" : "Contract: broken"),
        report.contract.violations.length
          ? h(
              "ul",
              {},
              report.contract.violations.map((v) =>
                h("li", {}, `${v.column ?? "dataset"}: ${v.check} — ${count(v.failing_count)} failing (${num(v.failing_fraction * 100, 3)}%)`),
              ),
            )
          : null,
      )
    : null;
  return h(
    "div",
    { class: "quality" },
    h(
      "p",
      { class: "score-line" },
      h("span", { class: `score-big ${scoreClass(score)}` }, num(score, 3)),
      h("span", {}, " / 100 quality score"),
      " ",
      h("meter", { min: "0", max: "100", low: "70", high: "90", optimum: "100", value: String(score), "aria-label": "Quality score" }),
    ),
    h("ul", { class: "checks" }, checks),
    contract,
  );
}

function downloads(id, version, name) {
  const message = h("div", { "aria-live": "polite" });
  const base = name.replace(/[^\w.-]+/g, "_").slice(0, 80) || "dataset";
  return h(
    "div",
    { class: "downloads" },
    h(
      "div",
      { class: "button-row" },
      FORMATS.map(([format, label, extension]) =>
        h(
          "button",
          {
            type: "button",
            dataset: { format },
            onclick: async (event) => {
              const button = event.currentTarget;
              button.disabled = true;
              replace(message, notice(`Preparing the ${label} file…`));
              try {
                await download(datasetPath(id, "/download"), { format, version }, `${base}-v${version}.${extension}`);
                replace(message);
              } catch (error) {
                replace(message, notice(error.message, "error"));
              } finally {
                button.disabled = false;
              }
            },
          },
          `Download ${label}`,
        ),
      ),
    ),
    message,
  );
}

export async function render(ctx) {
  const [id] = ctx.params;
  const requested = ctx.query.get("version") ?? "latest";
  replace(ctx.main, loading("the dataset"));
  let detail;
  let versions;
  let quality;
  let columns;
  let aliases;
  try {
    [detail, versions, quality, columns, aliases] = await Promise.all([
      api(datasetPath(id), { query: { version: requested } }),
      newestVersions(id, 100),
      api(datasetPath(id, "/quality"), { query: { version: requested } }),
      api(datasetPath(id, "/columns"), { query: { version: requested } }),
      api(datasetPath(id, "/aliases")),
    ]);
  } catch (error) {
    if (ctx.current()) replace(ctx.main, heading("Dataset"), failure(error, "the dataset"));
    return;
  }
  if (!ctx.current()) return;
  performance.clearMarks("dataset-api");
  performance.mark("dataset-api");
  const d = detail.dataset;
  ctx.title(d.name);
  const isLatest = versions.items.length === 0 || d.version === versions.items[versions.items.length - 1].version;
  const aliasNames = aliases.items.filter((a) => a.version === d.version).map((a) => a.alias);
  const timelineList = timeline(id, versions.items, d.version);
  replace(
    ctx.main,
    heading(d.name, d.description ?? null),
    datasetTabs(id, "overview", ctx.query.get("version")),
    h(
      "section",
      { class: "summary card", "aria-label": "Summary" },
      h(
        "dl",
        { class: "facts" },
        h("div", {}, h("dt", {}, "Version"), h("dd", {}, `v${d.version}${isLatest ? " (latest)" : ""}`, aliasNames.map((a) => h("span", { class: "badge alias" }, a)))),
        h("div", {}, h("dt", {}, "Rows"), h("dd", {}, count(d.rows))),
        h("div", {}, h("dt", {}, "Columns"), h("dd", {}, count(d.columns))),
        h("div", {}, h("dt", {}, "Stored"), h("dd", {}, when(d.created_at))),
        h("div", {}, h("dt", {}, "Content hash"), h("dd", { class: "mono", title: d.content_hash }, d.content_hash.slice(0, 16))),
      ),
      h(
        "form",
        {
          class: "controls",
          onsubmit: (event) => {
            event.preventDefault();
            ctx.go(link(["datasets", id], { version: new FormData(event.currentTarget).get("version") }));
          },
        },
        versionSelect(versions.items, d.version, "version", "Version"),
        h("button", { type: "submit" }, "Show"),
      ),
    ),
    h("section", { "aria-labelledby": "h-download" }, h("h2", { id: "h-download" }, "Download"), downloads(id, d.version, d.name)),
    h(
      "div",
      { class: "two-columns" },
      h("section", { "aria-labelledby": "h-quality" }, h("h2", { id: "h-quality" }, "Quality"), qualityReport(quality)),
      h(
        "section",
        { "aria-labelledby": "h-versions" },
        h("h2", { id: "h-versions" }, `Versions (${count(versions.total)})`),
        timelineList,
      ),
    ),
    h("section", { "aria-labelledby": "h-preview" }, h("h2", { id: "h-preview" }, "Preview"), previewTable(columns.columns, detail.preview, detail.preview_error)),
    h("section", { "aria-labelledby": "h-schema" }, h("h2", { id: "h-schema" }, `Schema (${count(columns.columns.length)} columns)`), schemaList(columns.columns)),
  );
  // The page counts as rendered once the browser has laid it out and painted a frame.
  requestAnimationFrame(() =>
    setTimeout(() => {
      performance.clearMarks("dataset-rendered");
      performance.mark("dataset-rendered");
      performance.clearMeasures("dataset-render");
      performance.measure("dataset-render", "dataset-api", "dataset-rendered");
    }, 0),
  );
  fillScores(ctx, id, timelineList);
}
