// Line charts drawn as SVG, for the console's history of rates and lag.
//
//   HeraldCharts.line(container, {times: [ms...], series: [{name, values: [n|null...]}],
//                                 unit: "records/s"})
//
// Draws into container (replacing its content): axes, a few grid lines, one polyline per
// series (a gap where a value is null), and a legend. Colours come from a fixed palette by
// series index, so a topic keeps its colour between refreshes.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const PALETTE = ["#2f6fdf", "#d69e2e", "#38a169", "#c53030", "#805ad5", "#319795", "#dd6b20",
                   "#718096", "#b83280", "#2c5282"];

  function el(name, attrs, parent) {
    const e = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (parent) parent.appendChild(e);
    return e;
  }

  // A round step for about `n` ticks up to max.
  function niceStep(max, n) {
    const raw = max / n;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of [1, 2, 2.5, 5, 10]) if (raw <= m * mag) return m * mag;
    return 10 * mag;
  }

  function fmt(v) {
    if (v >= 1e6) return (v / 1e6).toFixed(1) + "M";
    if (v >= 1e3) return (v / 1e3).toFixed(1) + "k";
    return String(Math.round(v * 100) / 100);
  }

  // Hours and minutes, with seconds when the chart spans less than ten minutes.
  function clock(ms, span) {
    return new Date(ms).toISOString().slice(11, span < 600000 ? 19 : 16);
  }

  function line(container, opts) {
    container.textContent = "";
    const times = opts.times || [];
    const series = opts.series || [];
    // As wide as the container (draw after inserting it), in CSS pixels, so text is not scaled.
    const W = Math.max(480, Math.round(container.clientWidth || 900)), H = 220;
    const L = 48, R = 12, T = 12, B = 26;
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img",
                            "aria-label": opts.label || "chart" }, container);
    let max = 0;
    for (const s of series) for (const v of s.values) if (v !== null && v > max) max = v;
    if (max <= 0) max = 1;
    const step = niceStep(max, 4);
    const top = Math.ceil(max / step) * step;
    const t0 = times.length ? times[0] : 0;
    const t1 = times.length > 1 ? times[times.length - 1] : t0 + 1;
    const x = (t) => L + ((t - t0) / (t1 - t0 || 1)) * (W - L - R);
    const y = (v) => T + (1 - v / top) * (H - T - B);
    for (let v = 0; v <= top + 1e-9; v += step) {
      el("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }, svg);
      const t = el("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, svg);
      t.textContent = fmt(v);
    }
    el("line", { x1: L, x2: L, y1: T, y2: H - B, class: "axis" }, svg);
    el("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, class: "axis" }, svg);
    if (times.length) {
      const ticks = Math.min(6, times.length);
      for (let i = 0; i < ticks; i++) {
        const t = t0 + ((t1 - t0) * i) / Math.max(1, ticks - 1);
        const anchor = i === 0 ? "start" : i === ticks - 1 ? "end" : "middle";
        const lbl = el("text", { x: x(t), y: H - 8, "text-anchor": anchor }, svg);
        lbl.textContent = clock(t, t1 - t0);
      }
    }
    series.forEach((s, i) => {
      const color = PALETTE[(s.index ?? i) % PALETTE.length];
      let pts = [];
      const flush = () => {
        if (pts.length === 1) {
          el("circle", { cx: pts[0][0], cy: pts[0][1], r: 2.5, fill: color }, svg);
        } else if (pts.length > 1) {
          el("polyline", { points: pts.map((p) => p.join(",")).join(" "), class: "series",
                           stroke: color, "data-series": s.name }, svg);
        }
        pts = [];
      };
      s.values.forEach((v, k) => {
        if (v === null || v === undefined) flush();
        else pts.push([x(times[k]).toFixed(1), y(v).toFixed(1)]);
      });
      flush();
    });
    const legend = document.createElement("div");
    legend.className = "legend";
    series.forEach((s, i) => {
      const span = document.createElement("span");
      span.style.setProperty("--c", PALETTE[(s.index ?? i) % PALETTE.length]);
      span.textContent = s.name;
      legend.appendChild(span);
    });
    container.appendChild(legend);
    if (!times.length) {
      const p = document.createElement("div");
      p.className = "empty";
      p.textContent = "No samples yet.";
      container.appendChild(p);
    }
  }

  window.HeraldCharts = { line, palette: PALETTE };
})();
