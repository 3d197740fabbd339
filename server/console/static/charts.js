// charts.js: time charts with the vendored uPlot.
"use strict";

const PALETTE = ["#2f6fde", "#e07a1f", "#16a34a", "#c026d3", "#dc2626", "#0891b2", "#7c3aed", "#65a30d", "#db2777", "#475569"];

// lineChart draws one line per series into el (emptied first):
// times are Unix seconds; series is [{label, values}], values as long as
// times (null for a gap). It records the sum of the last values in
// el.dataset.last, which tests and people can read.
function lineChart(el, title, times, series, opts) {
  opts = opts || {};
  el.replaceChildren();
  const total = series.reduce((a, s) => a + (s.values.length ? (s.values[s.values.length - 1] || 0) : 0), 0);
  el.dataset.last = String(total);
  el.dataset.series = String(series.length);
  el.append(h("h2", {}, title));
  if (!series.length || !times.length) {
    el.append(h("div", { class: "empty" }, "No data yet."));
    return null;
  }
  const pad = parseFloat(getComputedStyle(el).paddingLeft) + parseFloat(getComputedStyle(el).paddingRight);
  const width = Math.max(320, (el.clientWidth || 560) - pad - 2);
  const u = {
    width, height: opts.height || 220,
    scales: { x: { time: true }, y: opts.percent ? { range: [0, 100] } : { range: (_u, min, max) => [0, Math.max(1, max * 1.1)] } },
    axes: [{}, { size: 60, values: (_u, vals) => vals.map((v) => opts.format ? opts.format(v) : (opts.percent ? v + " %" : v)) }],
    series: [{}].concat(series.map((s, i) => ({
      label: s.label, stroke: s.color || PALETTE[i % PALETTE.length], width: 2,
      fill: opts.fill ? (s.color || PALETTE[i % PALETTE.length]) + "22" : undefined,
      value: (_u, v) => v === null || v === undefined ? "–" : (opts.format ? opts.format(v) : (opts.percent ? v.toFixed(1) + " %" : v)),
    }))),
    legend: { live: true },
  };
  if (opts.stepped && uPlot.paths && uPlot.paths.stepped) {
    const stepped = uPlot.paths.stepped({ align: 1 });
    u.series.slice(1).forEach((s) => { s.paths = stepped; });
  }
  return new uPlot(u, [times].concat(series.map((s) => s.values)), el);
}
