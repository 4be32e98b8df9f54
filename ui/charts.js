// Charts drawn as SVG from the API's numbers, each with a text alternative: an aria-label
// summing it up and a table of the same numbers behind a "Show as a table" toggle.
// Labels are SVG <text> nodes (text, never markup).

import { h, s, num, count, percent } from "./dom.js";

const WIDTH = 360;
const HEIGHT = 150;
const PAD = { top: 8, right: 8, bottom: 30, left: 8 };

/** An edge of a histogram bin as text (numbers shortened, timestamps as dates). */
export function edgeText(edge) {
  if (typeof edge === "number") return num(edge, 4);
  const text = String(edge);
  return text.length > 19 ? text.slice(0, 19) : text;
}

function tableToggle(caption, headers, rows) {
  return h(
    "details",
    { class: "chart-table" },
    h("summary", {}, "Show as a table"),
    h(
      "table",
      {},
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, headers.map((name) => h("th", { scope: "col" }, name)))),
      h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((value) => h("td", {}, value))))),
    ),
  );
}

/**
 * A histogram: one bar per bin, heights proportional to the counts (the tallest bin fills the
 * plot). `counts[i]` counts the values in [edges[i], edges[i+1]).
 */
export function histogram(label, counts, edges) {
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const max = Math.max(1, ...counts);
  const barW = plotW / Math.max(1, counts.length);
  const bars = counts.map((n, i) => {
    const height = (n / max) * plotH;
    const range = `${edgeText(edges[i])} to ${edgeText(edges[i + 1])}`;
    return s(
      "rect",
      {
        class: "bar",
        x: (PAD.left + i * barW + 1).toFixed(2),
        y: (PAD.top + plotH - height).toFixed(2),
        width: Math.max(1, barW - 2).toFixed(2),
        height: height.toFixed(2),
        "data-count": n,
      },
      s("title", {}, `${range}: ${count(n)}`),
    );
  });
  const total = counts.reduce((a, b) => a + b, 0);
  const svg = s(
    "svg",
    {
      class: "chart histogram",
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      role: "img",
      "aria-label": `Histogram of ${label}: ${counts.length} bins from ${edgeText(edges[0])} to ${edgeText(edges[edges.length - 1])}, ${count(total)} values, the largest bin holds ${count(max)}.`,
    },
    s("line", { class: "axis", x1: PAD.left, y1: PAD.top + plotH, x2: WIDTH - PAD.right, y2: PAD.top + plotH }),
    bars,
    s("text", { class: "tick", x: PAD.left, y: HEIGHT - 12 }, edgeText(edges[0])),
    s("text", { class: "tick", x: WIDTH - PAD.right, y: HEIGHT - 12, "text-anchor": "end" }, edgeText(edges[edges.length - 1])),
  );
  const rows = counts.map((n, i) => [`${edgeText(edges[i])} – ${edgeText(edges[i + 1])}`, count(n)]);
  return h("figure", { class: "chart-figure" }, svg, tableToggle(`Histogram of ${label}`, ["Bin", "Count"], rows));
}

/** Horizontal bars of the most frequent values (`top`: value → count), largest first. */
export function topValues(label, top, rowCount) {
  const entries = Object.entries(top ?? {}).sort((a, b) => b[1] - a[1]).slice(0, 10);
  if (entries.length === 0) return h("p", { class: "muted" }, "No values to chart.");
  const rowH = 18;
  const labelW = 130;
  const height = entries.length * rowH + 4;
  const max = Math.max(1, ...entries.map(([, n]) => n));
  const plotW = WIDTH - labelW - 60;
  const bars = entries.map(([value, n], i) => {
    const y = 2 + i * rowH;
    const shown = value.length > 18 ? `${value.slice(0, 17)}…` : value;
    return s(
      "g",
      {},
      s("text", { class: "label", x: labelW - 6, y: y + 12, "text-anchor": "end" }, shown),
      s(
        "rect",
        { class: "bar", x: labelW, y: y + 2, width: Math.max(1, (n / max) * plotW).toFixed(2), height: rowH - 5, "data-count": n },
        s("title", {}, `${value}: ${count(n)}`),
      ),
      s("text", { class: "tick", x: labelW + (n / max) * plotW + 4, y: y + 12 }, count(n)),
    );
  });
  const svg = s(
    "svg",
    {
      class: "chart top-values",
      viewBox: `0 0 ${WIDTH} ${height}`,
      role: "img",
      "aria-label": `Most frequent values of ${label}: ${entries.map(([v, n]) => `${v} (${count(n)})`).join(", ")}.`,
    },
    bars,
  );
  const rows = entries.map(([value, n]) => [value, count(n), rowCount ? percent(n / rowCount) : "—"]);
  return h("figure", { class: "chart-figure" }, svg, tableToggle(`Most frequent values of ${label}`, ["Value", "Count", "Share of rows"], rows));
}

/** A colour from blue (-1) through white (0) to red (+1). */
function correlationColour(r) {
  if (r === null || r === undefined || Number.isNaN(r)) return "#e6e6e6";
  const t = Math.max(-1, Math.min(1, r));
  const mix = (a, b, f) => Math.round(a + (b - a) * f);
  const [from, to] = t < 0 ? [[255, 255, 255], [33, 102, 172]] : [[255, 255, 255], [178, 24, 43]];
  const f = Math.abs(t);
  return `rgb(${mix(from[0], to[0], f)},${mix(from[1], to[1], f)},${mix(from[2], to[2], f)})`;
}

/** The correlation matrix (`matrix[a][b]`, Pearson's r) as a heatmap. */
export function heatmap(matrix) {
  const names = Object.keys(matrix ?? {});
  if (names.length === 0) return h("p", { class: "muted" }, "No numeric column pairs to correlate.");
  const cellSize = names.length > 30 ? 8 : 22;
  const labelW = names.length > 30 ? 0 : 110;
  const size = labelW + names.length * cellSize;
  const width = size + labelW / 2;
  const cells = [];
  names.forEach((row, i) => {
    names.forEach((col, j) => {
      const r = matrix[row]?.[col];
      cells.push(
        s(
          "rect",
          { class: "cell", x: labelW + j * cellSize, y: labelW + i * cellSize, width: cellSize, height: cellSize, fill: correlationColour(r) },
          s("title", {}, `${row} × ${col}: ${r === null || r === undefined ? "not defined" : num(r, 3)}`),
        ),
      );
    });
  });
  const labels = labelW
    ? names.flatMap((name, i) => {
        const shown = name.length > 14 ? `${name.slice(0, 13)}…` : name;
        return [
          s("text", { class: "label", x: labelW - 4, y: labelW + i * cellSize + cellSize * 0.7, "text-anchor": "end" }, shown),
          s(
            "text",
            { class: "label", transform: `translate(${labelW + i * cellSize + cellSize * 0.7},${labelW - 4}) rotate(-60)` },
            shown,
          ),
        ];
      })
    : [];
  const svg = s(
    "svg",
    {
      class: "chart heatmap",
      viewBox: `0 0 ${width} ${size}`,
      width,
      height: size,
      role: "img",
      "aria-label": `Correlation heatmap of ${names.length} numeric columns: red is positive, blue negative.`,
    },
    cells,
    labels,
  );
  const rows = names.map((row) => [row, ...names.map((col) => num(matrix[row]?.[col], 3))]);
  const legend = h("p", { class: "heatmap-legend" }, "−1", h("span", { class: "ramp", "aria-hidden": "true" }), "+1", h("span", { class: "muted" }, " (grey: not defined)"));
  return h("figure", { class: "chart-figure" }, svg, legend, tableToggle("Correlations (Pearson's r)", ["", ...names], rows));
}

/**
 * Two histograms of one column on one axis: each bar drawn over its own bin's range, heights
 * as shares of each version's values (so versions of different sizes compare).
 */
export function overlay(label, first, second, names = ["v1", "v2"]) {
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const numeric = (edge) => (typeof edge === "number" ? edge : Date.parse(edge));
  const all = [...first.bin_edges, ...second.bin_edges].map(numeric).filter(Number.isFinite);
  const lo = Math.min(...all);
  const hi = Math.max(...all);
  const span = hi > lo ? hi - lo : 1;
  const share = (hist) => {
    const total = hist.counts.reduce((a, b) => a + b, 0) || 1;
    return hist.counts.map((n) => n / total);
  };
  const shares = [share(first), share(second)];
  const max = Math.max(1e-12, ...shares.flat());
  const layer = (hist, values, index) =>
    hist.counts.map((n, i) => {
      const x0 = PAD.left + ((numeric(hist.bin_edges[i]) - lo) / span) * plotW;
      const x1 = PAD.left + ((numeric(hist.bin_edges[i + 1]) - lo) / span) * plotW;
      const height = (values[i] / max) * plotH;
      return s(
        "rect",
        {
          class: `bar series-${index}`,
          x: x0.toFixed(2),
          y: (PAD.top + plotH - height).toFixed(2),
          width: Math.max(1, x1 - x0 - 1).toFixed(2),
          height: height.toFixed(2),
          "data-count": n,
        },
        s("title", {}, `${names[index]}: ${edgeText(hist.bin_edges[i])} to ${edgeText(hist.bin_edges[i + 1])}: ${count(n)} (${percent(values[i])})`),
      );
    });
  const svg = s(
    "svg",
    {
      class: "chart overlay",
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      role: "img",
      "aria-label": `Histograms of ${label} in ${names[0]} and ${names[1]}, overlaid, as shares of each version's values.`,
    },
    s("line", { class: "axis", x1: PAD.left, y1: PAD.top + plotH, x2: WIDTH - PAD.right, y2: PAD.top + plotH }),
    layer(first, shares[0], 0),
    layer(second, shares[1], 1),
    s("text", { class: "tick", x: PAD.left, y: HEIGHT - 12 }, edgeText(numeric(first.bin_edges[0]) <= numeric(second.bin_edges[0]) ? first.bin_edges[0] : second.bin_edges[0])),
    s("text", { class: "tick", x: WIDTH - PAD.right, y: HEIGHT - 12, "text-anchor": "end" }, edgeText(numeric(first.bin_edges.at(-1)) >= numeric(second.bin_edges.at(-1)) ? first.bin_edges.at(-1) : second.bin_edges.at(-1))),
  );
  const legend = h(
    "p",
    { class: "legend" },
    h("span", { class: "swatch series-0", "aria-hidden": "true" }),
    ` ${names[0]} `,
    h("span", { class: "swatch series-1", "aria-hidden": "true" }),
    ` ${names[1]}`,
  );
  const rows = [first, second].flatMap((hist, index) =>
    hist.counts.map((n, i) => [names[index], `${edgeText(hist.bin_edges[i])} – ${edgeText(hist.bin_edges[i + 1])}`, count(n), percent(shares[index][i])]),
  );
  return h("figure", { class: "chart-figure" }, svg, legend, tableToggle(`Histograms of ${label}`, ["Version", "Bin", "Count", "Share"], rows));
}

/** Grouped bars of category frequencies in two versions (`changes`: value, v1_freq, v2_freq). */
export function categoryShift(label, changes, names = ["v1", "v2"]) {
  if (!changes || changes.length === 0) return h("p", { class: "muted" }, "No category frequencies changed.");
  const entries = changes.slice(0, 10);
  const rowH = 26;
  const labelW = 130;
  const plotW = WIDTH - labelW - 10;
  const max = Math.max(1e-12, ...entries.flatMap((c) => [c.v1_freq, c.v2_freq]));
  const groups = entries.map((c, i) => {
    const y = 2 + i * rowH;
    const shown = c.value.length > 18 ? `${c.value.slice(0, 17)}…` : c.value;
    return s(
      "g",
      {},
      s("text", { class: "label", x: labelW - 6, y: y + 14, "text-anchor": "end" }, shown),
      [c.v1_freq, c.v2_freq].map((f, k) =>
        s(
          "rect",
          { class: `bar series-${k}`, x: labelW, y: y + 2 + k * 11, width: Math.max(1, (f / max) * plotW).toFixed(2), height: 10 },
          s("title", {}, `${c.value} in ${names[k]}: ${percent(f)}`),
        ),
      ),
    );
  });
  const svg = s(
    "svg",
    { class: "chart categories", viewBox: `0 0 ${WIDTH} ${entries.length * rowH + 4}`, role: "img", "aria-label": `Share of the most changed values of ${label} in ${names[0]} and ${names[1]}.` },
    groups,
  );
  const rows = entries.map((c) => [c.value, percent(c.v1_freq), percent(c.v2_freq)]);
  const legend = h(
    "p",
    { class: "legend" },
    h("span", { class: "swatch series-0", "aria-hidden": "true" }),
    ` ${names[0]} `,
    h("span", { class: "swatch series-1", "aria-hidden": "true" }),
    ` ${names[1]}`,
  );
  return h("figure", { class: "chart-figure" }, svg, legend, tableToggle(`Value shares of ${label}`, ["Value", names[0], names[1]], rows));
}
