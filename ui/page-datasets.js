// Datasets: the projects the key can see, and the datasets list with search, sort and paging
// exactly as GET /api/datasets offers them. The list's state lives in the URL.

import { h, replace, count, when, notice } from "./dom.js";
import { api } from "./api.js";
import { link, loading, failure, heading } from "./layout.js";

const PAGE = 25;
const SORTS = [
  ["created_at", "Created"],
  ["name", "Name"],
  ["rows", "Rows"],
  ["columns", "Columns"],
  ["project_name", "Project"],
];

function stateOf(query) {
  return {
    project: query.get("project") ?? "",
    search: query.get("search") ?? "",
    sort: SORTS.some(([key]) => key === query.get("sort")) ? query.get("sort") : "created_at",
    dir: query.get("dir") === "asc" ? "asc" : "desc",
    offset: Math.max(0, Number.parseInt(query.get("offset") ?? "0", 10) || 0),
  };
}

function hrefOf(state) {
  return link([], {
    project: state.project,
    search: state.search,
    sort: state.sort === "created_at" ? "" : state.sort,
    dir: state.dir === "desc" ? "" : state.dir,
    offset: state.offset || "",
  });
}

function newProjectForm(ctx) {
  const input = h("input", { id: "new-project", name: "name", required: true, maxlength: "200" });
  const message = h("div", { "aria-live": "polite" });
  return h(
    "details",
    { class: "new-project" },
    h("summary", {}, "New project"),
    h(
      "form",
      {
        onsubmit: async (event) => {
          event.preventDefault();
          try {
            const project = await api("/api/projects", { method: "POST", json: { name: input.value.trim() } });
            ctx.go(link([], { project: project.id }));
          } catch (error) {
            replace(message, notice(error.message, "error"));
          }
        },
      },
      h("label", { for: "new-project" }, "Project name"),
      " ",
      input,
      " ",
      h("button", { type: "submit" }, "Create"),
      message,
    ),
  );
}

export async function render(ctx) {
  ctx.title("Datasets");
  const state = stateOf(ctx.query);
  replace(ctx.main, heading("Datasets"), loading("the datasets"));
  let projects;
  let page;
  try {
    [projects, page] = await Promise.all([
      api("/api/projects"),
      api("/api/datasets", {
        query: {
          project_id: state.project,
          search: state.search,
          sort_field: state.sort,
          sort_direction: state.dir,
          limit: PAGE,
          offset: state.offset,
        },
      }),
    ]);
  } catch (error) {
    if (ctx.current()) replace(ctx.main, heading("Datasets"), failure(error, "the datasets"));
    return;
  }
  if (!ctx.current()) return;

  const projectNav = h(
    "nav",
    { class: "projects", "aria-label": "Projects" },
    h("h2", {}, "Projects"),
    projects.items.length === 0
      ? h("p", { class: "muted" }, "You are not a member of any project yet: create one below, or ask a project's owner to add you.")
      : h(
          "ul",
          { class: "chips" },
          h("li", {}, h("a", { href: hrefOf({ ...state, project: "", offset: 0 }), "aria-current": state.project === "" ? "page" : null }, "All projects")),
          projects.items.map((p) =>
            h("li", {}, h("a", { href: hrefOf({ ...state, project: p.id, offset: 0 }), "aria-current": state.project === p.id ? "page" : null }, p.name)),
          ),
        ),
    newProjectForm(ctx),
  );

  const search = h("input", { id: "search", type: "search", name: "search", value: state.search, placeholder: "name or description" });
  const sort = h(
    "select",
    { id: "sort", name: "sort" },
    SORTS.map(([key, label]) => h("option", { value: key, selected: key === state.sort }, label)),
  );
  const dir = h(
    "select",
    { id: "dir", name: "dir" },
    h("option", { value: "desc", selected: state.dir === "desc" }, "Descending"),
    h("option", { value: "asc", selected: state.dir === "asc" }, "Ascending"),
  );
  const apply = () => ctx.go(hrefOf({ ...state, search: search.value.trim(), sort: sort.value, dir: dir.value, offset: 0 }));
  const controls = h(
    "form",
    {
      class: "controls",
      role: "search",
      onsubmit: (event) => {
        event.preventDefault();
        apply();
      },
    },
    h("label", { for: "search" }, "Search"),
    search,
    h("label", { for: "sort" }, "Sort by"),
    sort,
    h("label", { for: "dir" }, "Order"),
    dir,
    h("button", { type: "submit" }, "Show"),
  );

  let list;
  if (page.items.length === 0) {
    const hint = state.search
      ? `No dataset matches “${state.search}”. Try another search.`
      : "No datasets here yet. Upload a CSV, Parquet, JSON Lines, Arrow or spreadsheet file to start.";
    list = h("div", { class: "empty" }, h("p", {}, hint), h("p", {}, h("a", { href: "#/upload", class: "button primary" }, "Upload a dataset")));
  } else {
    list = h(
      "table",
      { class: "datasets" },
      h("caption", { class: "visually-hidden" }, "Datasets"),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["Name", "Project", "Rows", "Columns", "Created"].map((name) => h("th", { scope: "col", class: ["Rows", "Columns"].includes(name) ? "num" : null }, name)),
        ),
      ),
      h(
        "tbody",
        {},
        page.items.map((d) =>
          h(
            "tr",
            {},
            h("td", {}, h("a", { href: link(["datasets", d.id]) }, d.name), d.description ? h("div", { class: "muted small" }, d.description) : null),
            h("td", {}, d.project_name),
            h("td", { class: "num" }, count(d.rows)),
            h("td", { class: "num" }, count(d.columns)),
            h("td", {}, when(d.created_at)),
          ),
        ),
      ),
    );
  }
  const first = page.total === 0 ? 0 : page.offset + 1;
  const last = page.offset + page.items.length;
  const pager = h(
    "nav",
    { class: "pager", "aria-label": "Pages of datasets" },
    h("span", {}, `${count(first)}–${count(last)} of ${count(page.total)}`),
    page.offset > 0 ? h("a", { href: hrefOf({ ...state, offset: Math.max(0, page.offset - PAGE) }) }, "Previous") : null,
    last < page.total ? h("a", { href: hrefOf({ ...state, offset: page.offset + PAGE }) }, "Next") : null,
  );
  replace(
    ctx.main,
    heading("Datasets"),
    h("div", { class: "with-sidebar" }, projectNav, h("section", { "aria-label": "Dataset list" }, controls, list, pager)),
  );
}
