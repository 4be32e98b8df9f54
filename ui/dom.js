// Building the page from data without ever parsing data as HTML: every string given to h()
// or s() as a child becomes a text node, and attributes are set one by one. No module of the
// UI hands a string to the HTML parser (a unit test of src/adapters/http/ui.rs checks for the
// APIs that would).

const SVG_NS = "http://www.w3.org/2000/svg";

/** Appends children: strings and numbers as text nodes, nodes as they are, arrays flattened. */
export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/**
 * An HTML element. `props`: `on<event>` adds a listener, `class` sets the class, `dataset`
 * sets data-* values, `true` sets an empty attribute, `false`/`null`/`undefined` skips it,
 * anything else is set as an attribute (text, never markup).
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) {
      if (typeof value !== "function") throw new TypeError(`${key} must be a function`);
      el.addEventListener(key.slice(2), value);
    } else if (key === "style") throw new TypeError("style attributes are refused by the policy: use classes or the CSSOM");
    else if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "value") el.value = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  return append(el, children);
}

/** An SVG element (attributes as for h(), without listeners). */
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    el.setAttribute(key, String(value));
  }
  return append(el, children);
}

/** Replaces the content of `parent`. */
export function replace(parent, ...children) {
  parent.replaceChildren();
  return append(parent, children);
}

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

/** 1234567 → "1,234,567". */
export function count(n) {
  return n === null || n === undefined ? "—" : integer.format(n);
}

/** A number with at most `digits` significant digits, "—" for null. */
export function num(n, digits = 4) {
  if (n === null || n === undefined) return "—";
  if (typeof n !== "number") return String(n);
  if (!Number.isFinite(n)) return String(n);
  if (Number.isInteger(n) && Math.abs(n) < 1e15) return integer.format(n);
  const abs = Math.abs(n);
  if (abs !== 0 && (abs < 1e-4 || abs >= 1e9)) return n.toExponential(digits - 1);
  return Number(n.toPrecision(digits)).toString();
}

/** 0.1234 → "12.3%". */
export function percent(fraction, digits = 1) {
  if (fraction === null || fraction === undefined) return "—";
  return `${(fraction * 100).toFixed(digits)}%`;
}

/** An ISO timestamp in the reader's locale, to the minute. */
export function when(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** 1536 → "1.5 KB". */
export function bytes(n) {
  if (n === null || n === undefined) return "—";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** A cell value of the API's JSON as text: null as an empty marker, objects as JSON. */
export function cell(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** The dtype badge of a column. */
export function dtypeBadge(dtype) {
  const known = ["int64", "float64", "bool", "datetime64", "object", "category"];
  const kind = known.includes(dtype) ? dtype : "other";
  return h("span", { class: `badge dtype-${kind}` }, dtype);
}

/** A message in the page's words (role=status), or an error (role=alert). */
export function notice(text, kind = "info") {
  return h("p", { class: `notice notice-${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}
