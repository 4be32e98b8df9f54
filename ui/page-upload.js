// Upload: a new dataset (into a project) or a new version of one, sent with the browser's
// upload progress shown, and the server's answer — quality, contract, errors — told in words.

import { h, replace, count, num, bytes, notice } from "./dom.js";
import { api, datasetPath, upload } from "./api.js";
import { link, loading, failure, heading, datasetTabs } from "./layout.js";

const ACCEPT = ".csv,.tsv,.txt,.gz,.zst,.bz2,.xz,.jsonl,.ndjson,.json,.parquet,.arrow,.feather,.ipc,.xlsx,.xlsm,.xlsb,.ods";

function field(id, label, control, help) {
  return h("div", { class: "field" }, h("label", { for: id }, label), control, help ? h("p", { class: "muted small", id: `${id}-help` }, help) : null);
}

function failedChecks(quality) {
  const failed = quality.issues.filter((check) => !check.passed);
  if (failed.length === 0) return h("p", {}, "Every quality check passed.");
  return [h("p", {}, `${failed.length} quality ${failed.length === 1 ? "check needs" : "checks need"} a look:`), h("ul", {}, failed.map((c) => h("li", {}, h("strong", {}, c.name.replaceAll("_", " ")), `: ${c.details}`)))];
}

function violations(list) {
  return h(
    "ul",
    {},
    list.map((v) =>
      h(
        "li",
        {},
        `${v.column ?? "dataset"} — ${v.check}: ${count(v.failing_count)} failing (${num(v.failing_fraction * 100, 3)}%)`,
        v.examples && v.examples.length ? h("span", { class: "muted" }, `, e.g. row ${v.examples[0].row}: ${String(v.examples[0].value)}`) : null,
      ),
    ),
  );
}

function answerOf(result, datasetId) {
  const target = link(["datasets", datasetId]);
  const score = result.quality.overall_score;
  if (result.unchanged) {
    return h("div", { class: "notice notice-info", role: "status" }, h("p", {}, `Nothing stored: the file's table equals the latest version (v${result.version}).`), h("p", {}, h("a", { href: target }, "Open the dataset")));
  }
  const what = result.version === undefined ? "Stored as a new dataset (version 0)" : `Stored as version ${result.version}`;
  const shape = result.row_count !== undefined ? ` with ${count(result.row_count)} rows and ${count(result.column_count)} columns` : "";
  return h(
    "div",
    { class: "notice notice-success", role: "status" },
    h("p", {}, h("strong", {}, `${what}${shape}.`), ` Quality score ${num(score, 3)} out of 100.`),
    failedChecks(result.quality),
    result.contract && !result.contract.passed ? [h("p", {}, "It breaks the dataset's contract (warn mode):"), violations(result.contract.violations)] : null,
    h("p", {}, h("a", { href: target, class: "button primary" }, "Open the dataset")),
  );
}

function errorOf(error) {
  const parts = [h("p", {}, h("strong", {}, "Not stored. "), error.message)];
  const list = error.body?.error?.violations;
  if (Array.isArray(list) && list.length) parts.push(violations(list));
  return h("div", { class: "notice notice-error", role: "alert" }, parts);
}

export async function render(ctx) {
  const [datasetId] = ctx.params;
  const forVersion = Boolean(datasetId);
  const title = forVersion ? "Upload a new version" : "Upload a dataset";
  const tabs = forVersion ? datasetTabs(datasetId, "upload") : null;
  replace(ctx.main, heading(title), tabs, loading(forVersion ? "the dataset" : "your projects"));
  let projects = null;
  let dataset = null;
  try {
    if (forVersion) dataset = (await api(datasetPath(datasetId))).dataset;
    else projects = await api("/api/projects");
  } catch (error) {
    if (ctx.current()) replace(ctx.main, heading(title), tabs, failure(error, forVersion ? "the dataset" : "your projects"));
    return;
  }
  if (!ctx.current()) return;
  ctx.title(forVersion ? `${dataset.name} · new version` : title);
  if (!forVersion && projects.items.length === 0) {
    replace(ctx.main, heading(title), h("div", { class: "empty" }, h("p", {}, "A dataset belongs to a project, and you have none yet."), h("p", {}, h("a", { href: "#/" }, "Create a project on the datasets page"), " or ask an owner to add you to one.")));
    return;
  }
  const wanted = ctx.query.get("project");
  const controls = [];
  if (!forVersion) {
    controls.push(
      field(
        "project",
        "Project",
        h("select", { id: "project", name: "project_id", required: true }, projects.items.map((p) => h("option", { value: p.id, selected: p.id === wanted }, p.name))),
      ),
      field("name", "Name", h("input", { id: "name", name: "name", required: true, maxlength: "200", autocomplete: "off" })),
    );
  }
  controls.push(
    forVersion
      ? field("description", "What changed in this version", h("textarea", { id: "description", name: "description", rows: "2", maxlength: "10000", required: true }))
      : field("description", "Description (optional)", h("textarea", { id: "description", name: "description", rows: "2", maxlength: "10000" })),
    field(
      "file",
      "File",
      h("input", { id: "file", name: "file", type: "file", required: true, accept: ACCEPT, "aria-describedby": "file-help" }),
      "CSV, JSON Lines or JSON, Parquet, Arrow IPC / Feather, Excel (.xlsx, .xlsm, .xlsb) or OpenDocument (.ods); gzip, zstd, bzip2 or xz compressed too. The server decides the format from the content.",
    ),
  );
  if (forVersion) {
    controls.push(
      h(
        "div",
        { class: "field field-check" },
        h("input", { id: "skip", name: "skip_if_unchanged", type: "checkbox" }),
        " ",
        h("label", { for: "skip" }, "Store nothing if the table equals the latest version"),
      ),
    );
  }
  const progress = h("progress", { id: "upload-progress", max: "100", value: "0", "aria-labelledby": "upload-progress-label" });
  const progressLabel = h("span", { id: "upload-progress-label" }, "Upload progress");
  const progressText = h("p", { class: "small", "aria-live": "polite" });
  const progressBox = h("div", { class: "progress-box", hidden: true }, progressLabel, " ", progress, progressText);
  const answer = h("div", { id: "upload-answer" });
  const submit = h("button", { type: "submit", class: "primary" }, forVersion ? "Upload the version" : "Upload the dataset");
  const form = h(
    "form",
    {
      class: "card upload",
      onsubmit: async (event) => {
        event.preventDefault();
        // The fields first and the file last, as the API reads them.
        const filled = new FormData(event.currentTarget);
        const data = new FormData();
        for (const name of ["project_id", "name", "description"]) {
          if (filled.get(name)) data.set(name, filled.get(name));
        }
        if (forVersion && filled.get("skip_if_unchanged")) data.set("skip_if_unchanged", "true");
        const file = filled.get("file");
        data.set("file", file);
        submit.disabled = true;
        replace(answer);
        progressBox.hidden = false;
        progress.value = 0;
        replace(progressText, `Sending ${file?.name ?? "the file"} (${bytes(file?.size ?? 0)})…`);
        try {
          const path = forVersion ? datasetPath(datasetId, "/versions") : "/api/datasets/upload";
          const result = await upload(path, data, {
            onProgress: (loaded, total) => {
              progress.value = total ? Math.round((loaded / total) * 100) : 0;
              replace(progressText, `Sent ${bytes(loaded)} of ${bytes(total)}.`);
            },
            onSent: () => {
              progress.value = 100;
              replace(progressText, "Sent. The server is reading, typing and checking the file…");
            },
          });
          if (!ctx.current()) return;
          progress.value = 100;
          replace(progressText, "Done.");
          replace(answer, answerOf(result, forVersion ? datasetId : result.dataset_id));
          if (!forVersion) event.target.reset?.();
        } catch (error) {
          if (!ctx.current()) return;
          replace(progressText, "Stopped.");
          replace(answer, errorOf(error));
        } finally {
          submit.disabled = false;
        }
      },
    },
    controls,
    submit,
    progressBox,
  );
  replace(ctx.main, heading(forVersion ? `${dataset.name}: new version` : title), tabs, form, answer);
}
