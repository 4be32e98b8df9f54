// Lineage: the dataset, the experiments that used it, their models and those models'
// deployments, as a left-to-right graph with the same facts as nested lists beside it.

import { h, s, replace, when } from "./dom.js";
import { api, datasetPath } from "./api.js";
import { loading, failure, heading, datasetTabs } from "./layout.js";

const BOX_W = 170;
const BOX_H = 44;
const GAP_Y = 14;
const COL_X = [10, 230, 450, 670];

function shorten(text, max = 22) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function box(x, y, title, subtitle, kind) {
  return s(
    "g",
    { class: `node ${kind}` },
    s("rect", { x, y, width: BOX_W, height: BOX_H, rx: 6 }),
    s("text", { class: "node-title", x: x + 8, y: y + 18 }, shorten(title)),
    s("text", { class: "node-sub", x: x + 8, y: y + 34 }, shorten(subtitle, 26)),
    s("title", {}, `${title} — ${subtitle}`),
  );
}

function graph(name, lineage) {
  const { experiments, models, deployments } = lineage;
  const rows = Math.max(1, experiments.length, models.length, deployments.length);
  const height = rows * (BOX_H + GAP_Y) + 30;
  const yOf = (i) => 24 + i * (BOX_H + GAP_Y);
  const position = new Map();
  const nodes = [s("text", { class: "column-title", x: COL_X[0], y: 14 }, "Dataset")];
  ["Experiments", "Models", "Deployments"].forEach((t, i) => nodes.push(s("text", { class: "column-title", x: COL_X[i + 1], y: 14 }, t)));
  const datasetY = yOf(0);
  nodes.push(box(COL_X[0], datasetY, name, "this dataset", "dataset"));
  experiments.forEach((e, i) => {
    position.set(e.id, yOf(i));
    const used = e.dataset_alias ? `alias ${e.dataset_alias}` : e.dataset_version_id ? "a pinned version" : "the latest version";
    nodes.push(box(COL_X[1], yOf(i), e.name, `${e.status} · ${used}`, "experiment"));
  });
  models.forEach((m, i) => {
    position.set(m.id, yOf(i));
    nodes.push(box(COL_X[2], yOf(i), m.name, m.algorithm, "model"));
  });
  deployments.forEach((d, i) => {
    position.set(d.id, yOf(i));
    nodes.push(box(COL_X[3], yOf(i), d.name, `${d.stage}${d.is_active ? " · active" : ""}`, "deployment"));
  });
  const edge = (x1, y1, x2, y2) =>
    s("path", { class: "edge", d: `M${x1},${y1 + BOX_H / 2} C${(x1 + x2) / 2},${y1 + BOX_H / 2} ${(x1 + x2) / 2},${y2 + BOX_H / 2} ${x2},${y2 + BOX_H / 2}` });
  const edges = [];
  experiments.forEach((e) => edges.push(edge(COL_X[0] + BOX_W, datasetY, COL_X[1], position.get(e.id))));
  models.forEach((m) => position.has(m.experiment_id) && edges.push(edge(COL_X[1] + BOX_W, position.get(m.experiment_id), COL_X[2], position.get(m.id))));
  deployments.forEach((d) => position.has(d.model_id) && edges.push(edge(COL_X[2] + BOX_W, position.get(d.model_id), COL_X[3], position.get(d.id))));
  return s(
    "svg",
    {
      class: "chart lineage",
      viewBox: `0 0 ${COL_X[3] + BOX_W + 10} ${height}`,
      role: "img",
      "aria-label": `Lineage of ${name}: ${experiments.length} experiments, ${models.length} models, ${deployments.length} deployments (listed below).`,
    },
    edges,
    nodes,
  );
}

function lists(lineage) {
  const { experiments, models, deployments } = lineage;
  return h(
    "ul",
    { class: "lineage-list" },
    experiments.map((e) =>
      h(
        "li",
        {},
        h("strong", {}, e.name),
        ` — experiment, ${e.status}${e.problem_type ? `, ${e.problem_type}` : ""}${e.target_column ? `, target ${e.target_column}` : ""}, ${when(e.created_at)}`,
        h(
          "ul",
          {},
          models
            .filter((m) => m.experiment_id === e.id)
            .map((m) =>
              h(
                "li",
                {},
                h("strong", {}, m.name),
                ` — model (${m.algorithm})`,
                h(
                  "ul",
                  {},
                  deployments.filter((d) => d.model_id === m.id).map((d) => h("li", {}, h("strong", {}, d.name), ` — deployment, ${d.stage}${d.is_active ? ", active" : ""}`)),
                ),
              ),
            ),
        ),
      ),
    ),
  );
}

export async function render(ctx) {
  const [id] = ctx.params;
  replace(ctx.main, heading("Lineage"), datasetTabs(id, "lineage"), loading("the lineage"));
  let lineage;
  let detail;
  try {
    [lineage, detail] = await Promise.all([api(datasetPath(id, "/lineage")), api(datasetPath(id))]);
  } catch (error) {
    if (ctx.current()) replace(ctx.main, heading("Lineage"), datasetTabs(id, "lineage"), failure(error, "the lineage"));
    return;
  }
  if (!ctx.current()) return;
  const name = detail.dataset.name;
  ctx.title(`${name} · lineage`);
  const body =
    lineage.experiments.length === 0
      ? h(
          "div",
          { class: "empty" },
          h("p", {}, "No experiment has used this dataset yet."),
          h("p", { class: "muted" }, "Record one with POST /api/experiments (with this dataset's id), then its models (POST /api/models) and deployments (POST /api/deployments): they appear here."),
        )
      : [h("div", { class: "card graph-scroll" }, graph(name, lineage)), h("h2", {}, "As a list"), lists(lineage)];
  replace(ctx.main, heading(`${name}: lineage`), datasetTabs(id, "lineage"), body);
}
