// The UI's entry point: the frame (header, navigation, sign-out), the hash router that picks a
// page, and the sign-in gate. Every page module exports `render(ctx)`.

import { h, replace } from "./dom.js";
import { session } from "./api.js";
import * as signin from "./page-signin.js";
import * as datasets from "./page-datasets.js";
import * as dataset from "./page-dataset.js";
import * as columns from "./page-columns.js";
import * as rows from "./page-rows.js";
import * as compare from "./page-compare.js";
import * as lineage from "./page-lineage.js";
import * as upload from "./page-upload.js";

const ROUTES = [
  [/^$/, datasets],
  [/^upload$/, upload],
  [/^datasets\/([^/]+)$/, dataset],
  [/^datasets\/([^/]+)\/columns$/, columns],
  [/^datasets\/([^/]+)\/rows$/, rows],
  [/^datasets\/([^/]+)\/compare$/, compare],
  [/^datasets\/([^/]+)\/lineage$/, lineage],
  [/^datasets\/([^/]+)\/upload$/, upload],
];

const main = document.getElementById("main");
const signOutButton = document.getElementById("sign-out");
const siteNav = document.getElementById("site-nav");
let generation = 0;

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, query = ""] = raw.split("?", 2);
  return { path: path.replace(/\/$/, ""), query: new URLSearchParams(query) };
}

function notFound(ctx) {
  ctx.title("Not found");
  replace(ctx.main, h("h1", { tabindex: "-1" }, "Page not found"), h("p", {}, h("a", { href: "#/" }, "Back to the datasets")));
}

async function route() {
  generation += 1;
  const mine = generation;
  const signedIn = Boolean(session.key);
  signOutButton.hidden = !signedIn;
  siteNav.hidden = !signedIn;
  const { path, query } = parseHash();
  const ctx = {
    main,
    query,
    params: [],
    current: () => mine === generation,
    title: (text) => {
      document.title = `${text} · datasets-api`;
    },
    go: (hash) => {
      if (location.hash === hash) route();
      else location.hash = hash;
    },
  };
  let page = notFound;
  if (!signedIn) {
    page = signin.render;
  } else {
    for (const [pattern, module] of ROUTES) {
      const match = pattern.exec(path);
      if (match) {
        try {
          ctx.params = match.slice(1).map(decodeURIComponent);
          page = module.render;
        } catch {
          page = notFound;
        }
        break;
      }
    }
  }
  const section = path === "" ? "datasets" : path === "upload" ? "upload" : null;
  for (const a of siteNav.querySelectorAll("a")) {
    if (a.dataset.route && a.dataset.route === section) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  try {
    await page(ctx);
  } catch (error) {
    if (!ctx.current()) return;
    replace(main, h("p", { class: "notice notice-error", role: "alert" }, error?.message ?? String(error)));
  }
  if (ctx.current() && !main.contains(document.activeElement)) main.querySelector("h1")?.focus({ preventScroll: true });
}

// The skip link moves focus without touching the hash (which is the router's).
document.querySelector(".skip-link")?.addEventListener("click", (event) => {
  event.preventDefault();
  main.focus();
});
signOutButton.addEventListener("click", () => {
  session.signOut();
  location.hash = "#/";
  route();
});
window.addEventListener("hashchange", route);
window.addEventListener("datasets-api:signed-out", () => {
  if (generation > 0) route();
});
route();
